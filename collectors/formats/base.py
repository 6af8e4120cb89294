"""The interface of a log file format: numbered lines in, records out.

A format turns the lines of one file (bytes, numbered from 1) into outcomes,
each covering one or more lines:

* :class:`Parsed`: one record, a dict keyed by canonical (ECS) names where the
  format knows them (``@timestamp``, ``log.level``, ``message``...) plus any
  other parsed fields, which end up in ``attributes``;
* :class:`Rejected`: input that is not a record of this format, with a reason;
* :class:`Skipped`: lines read but deliberately not records (blank lines, a
  CSV header), with a reason.

A record may span several lines (a Java stack trace, CRI partial lines): its
outcome names the first and last line and how many lines it holds, and
carries the exact bytes of all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, ClassVar

from collectors.records import RecordError
from forensics.errors import ConfigError
from forensics.window import Window

#: One line of input: its number (from 1) and its exact bytes, line ending included.
NumberedLine = tuple[int, bytes]


@dataclass(frozen=True, slots=True)
class Parsed:
    """One record read from ``lines`` lines, ``first`` to ``last``."""

    first: int
    last: int
    lines: int
    raw: bytes
    #: The record's lines as text, without the final line ending (the row's ``raw``).
    text: str
    record: Any


@dataclass(frozen=True, slots=True)
class Rejected:
    """Lines that could not become a record, with the reason."""

    first: int
    last: int
    lines: int
    raw: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """Lines read and deliberately not turned into a record, with the reason."""

    first: int
    last: int
    lines: int
    raw: bytes
    reason: str


Outcome = Parsed | Rejected | Skipped


@dataclass(frozen=True)
class FormatContext:
    """What a format may need to know about the source it reads for."""

    where: str
    window: Window
    #: The user's ``fields`` mapping (canonical column -> field path); formats do not
    #: rename their own fields onto a column the user mapped elsewhere.
    fields: Mapping[str, str] = field(default_factory=dict)
    default_tz: tzinfo | None = None
    timezone_name: str | None = None


def strip_eol(data: bytes) -> bytes:
    """The bytes of a line without its line ending."""
    return data.rstrip(b"\r\n")


def decode(data: bytes) -> str:
    """Decode UTF-8, raising :class:`RecordError` with the offending byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"invalid UTF-8 at byte {exc.start}") from None


def promote(
    record: dict[str, Any], aliases: Mapping[str, tuple[str, ...]], ctx: FormatContext
) -> None:
    """Rename the first present alias of each canonical column to the column name.

    Skipped for columns the user mapped to another field path in ``fields``, and
    when the record already has the canonical key.
    """
    for column, names in aliases.items():
        if column in record or ctx.fields.get(column, column) != column:
            continue
        for name in names:
            if name in record:
                record[column] = record.pop(name)
                break


class LogFormat(ABC):
    """Base class of every file format. Subclasses set :attr:`name`."""

    #: The ``format`` value that selects this parser.
    name: ClassVar[str]
    #: Source keys this format accepts besides the files collector's own.
    option_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Mapping[str, Any], ctx: FormatContext) -> None:
        unknown = set(options) - self.option_keys
        if unknown:
            raise ConfigError(
                f"{ctx.where}: format {self.name!r} does not take {sorted(unknown)}"
                + (f"; it takes {', '.join(sorted(self.option_keys))}" if self.option_keys else "")
            )
        self.options = dict(options)
        self.ctx = ctx

    def describe(self) -> dict[str, Any]:
        """The format options, as recorded in the manifest's query."""
        return dict(self.options)

    def notes(self) -> list[str]:
        """Assumptions this format makes, recorded in the manifest's notes."""
        return []

    @abstractmethod
    def parse_text(self, text: str) -> Any:
        """Parse one record from its text; raise :class:`RecordError` when it is not one."""

    def parse(self, lines: Iterable[NumberedLine]) -> Iterator[Outcome]:
        """Turn the numbered lines of one file into outcomes (one line, one record here)."""
        for number, data in lines:
            body = strip_eol(data)
            if not body.strip():
                yield Skipped(number, number, 1, data, "blank_line")
                continue
            try:
                text = decode(body)
                record = self.parse_text(text)
            except RecordError as exc:
                yield Rejected(number, number, 1, data, str(exc))
                continue
            yield Parsed(number, number, 1, data, text, record)
