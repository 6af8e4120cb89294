"""Plain text logs with multi-line records: ``plain``, ``java`` and ``python``.

A record starts at a line matching the start ``pattern`` (a regex with named groups
``timestamp``, ``level``, ``logger`` or ``service``, ``message``, optionally ``thread``,
``trace_id``, ``span_id`` and any other name, kept in ``attributes``). Every following line
that does not start a record belongs to it: Java stack traces (``\\tat ...``,
``Caused by: ...``, ``... 12 more``), Python tracebacks (``Traceback (most recent call
last):`` to the final ``ValueError: ...`` line) and wrapped text. Blank lines inside a record
are kept in it; blank lines between records are counted as ``blank_line``. Lines before the
first record start are rejected (``no record start before this line``).

Presets name tested patterns: ``spring`` (Spring Boot, logback and log4j
``2024-05-07 10:55:53,434 INFO [main] c.e.App : text``), ``kafka`` (log4j
``[2024-05-07 10:55:53,434] INFO text (logger)``), ``python`` (logging's
``2024-05-07 10:55:53,434 - name - LEVEL - text`` and ``... LEVEL name: text``) and ``iso``
(an ISO-8601 time, an optional level, text). ``java`` uses ``spring`` and ``kafka`` by
default, ``python`` the ``python`` presets, ``plain`` the ``iso`` one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

from collectors.formats.base import (
    FormatContext,
    LogFormat,
    NumberedLine,
    Outcome,
    Parsed,
    Rejected,
    Skipped,
    decode,
    strip_eol,
)
from collectors.records import RecordError
from forensics.errors import ConfigError

_TS: Final = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
_LEVEL: Final = (
    r"TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL|SEVERE|FINE|FINER|FINEST"
)

PRESETS: Final[dict[str, tuple[str, ...]]] = {
    "spring": (
        rf"^(?P<timestamp>{_TS})\s+(?P<level>{_LEVEL})\s+(?:(?P<pid>\d+)\s+---\s+)?"
        r"(?:\[\s*+(?P<thread>(?:[^\]\s]++|\s++(?=[^\]\s]))*+)\s*+\]\s+)?"
        r"(?:(?P<logger>[\w.$#]+)\s*(?::|-)\s+)?"
        r"(?P<message>.*)$",
    ),
    "kafka": (
        rf"^\[(?P<timestamp>{_TS})\]\s+(?P<level>{_LEVEL})\s+(?P<message>.*?)"
        r"(?:(?<!\s)\s+\((?P<logger>[\w.$]+)\))?$",
    ),
    "python": (
        rf"^(?P<timestamp>{_TS})\s+-\s+(?P<logger>\S+)\s+-\s+(?P<level>{_LEVEL})\s+-\s+"
        r"(?P<message>.*)$",
        rf"^(?P<timestamp>{_TS})\s+(?P<level>{_LEVEL})\s+(?:(?P<logger>[\w.]+):\s+)?"
        r"(?P<message>.*)$",
    ),
    "iso": (rf"^(?P<timestamp>{_TS})\s+(?:(?P<level>{_LEVEL})\s+)?(?P<message>.*)$",),
}

#: Lines that always continue an open record, whatever the start pattern says.
CONTINUATION: Final = re.compile(
    r"^(?:\s+at |\s*Caused by: |\s*Suppressed: |\s*\.\.\. \d+ (?:more|common frames omitted)"
    r"|Traceback \(most recent call last\):|\s+File \"|During handling of the above exception"
    r"|The above exception was the direct cause)"
)

#: Named group -> record key.
GROUPS: Final = {
    "timestamp": "@timestamp",
    "level": "log.level",
    "logger": "log.logger",
    "service": "service.name",
    "message": "message",
    "thread": "process.thread.name",
    "pid": "process.pid",
    "trace_id": "trace.id",
    "span_id": "span.id",
    "host": "host.name",
}


def _patterns(value: Any, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{where}: {key} must be a string or a list of strings")


class PlainTextFormat(LogFormat):
    """Text lines starting with a recognisable header; other lines continue the record."""

    name: ClassVar[str] = "plain"
    option_keys: ClassVar[frozenset[str]] = frozenset({"pattern", "preset"})
    default_presets: ClassVar[tuple[str, ...]] = ("iso",)

    def __init__(self, options: Mapping[str, Any], ctx: FormatContext) -> None:
        super().__init__(options, ctx)
        sources: list[str] = []
        if "pattern" in self.options:
            sources += _patterns(self.options["pattern"], "pattern", ctx.where)
        presets = (
            _patterns(self.options["preset"], "preset", ctx.where)
            if "preset" in self.options
            else ([] if sources else list(self.default_presets))
        )
        for preset in presets:
            if preset not in PRESETS:
                raise ConfigError(
                    f"{ctx.where}: unknown preset {preset!r}; use {', '.join(PRESETS)}"
                )
            sources += PRESETS[preset]
        self.patterns: list[re.Pattern[str]] = []
        for source in sources:
            try:
                compiled = re.compile(source)
            except re.error as exc:
                raise ConfigError(
                    f"{ctx.where}: pattern {source!r} is not a regex: {exc}"
                ) from None
            if "message" not in compiled.groupindex:
                raise ConfigError(f"{ctx.where}: pattern {source!r} needs a (?P<message>...) group")
            self.patterns.append(compiled)

    def describe(self) -> dict[str, Any]:
        """The patterns in use (presets expanded)."""
        return {**self.options, "patterns": [p.pattern for p in self.patterns]}

    def _start(self, text: str) -> re.Match[str] | None:
        for pattern in self.patterns:
            match = pattern.match(text)
            if match:
                return match
        return None

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one record: its first line by the pattern, the rest appended to the message."""
        first, newline, rest = text.partition("\n")
        match = self._start(first.rstrip("\r"))
        if match is None:
            raise RecordError("line does not match the record start pattern")
        record: dict[str, Any] = {}
        for group, value in match.groupdict().items():
            if value is not None:
                record[GROUPS.get(group, group)] = value
        if newline:
            record["message"] = record.get("message", "") + "\n" + rest
            record["log.lines"] = text.count("\n") + 1
        return record

    def parse(self, lines: Iterable[NumberedLine]) -> Iterator[Outcome]:
        """Group lines into records at each start line."""
        record: list[NumberedLine] = []
        blanks: list[NumberedLine] = []
        orphans: list[NumberedLine] = []
        for number, data in lines:
            body = strip_eol(data)
            if not body.strip():
                blanks.append((number, data))
                continue
            try:
                text: str | None = decode(body)
            except RecordError:
                # Cannot start a record: it continues the open one (rejected whole, raw kept)
                # or is an orphan, so line ranges never overlap.
                text = None
            if (
                text is not None
                and self._start(text) is not None
                and not (record and CONTINUATION.match(text))
            ):
                if orphans:
                    yield self._orphans(orphans)
                    orphans = []
                if record:
                    yield self._record(record)
                for n, d in blanks:
                    yield Skipped(n, n, 1, d, "blank_line")
                record, blanks = [(number, data)], []
            elif record:
                record += [*blanks, (number, data)]
                blanks = []
            else:
                if orphans:  # blank lines between orphans belong to their (one) reject
                    orphans += blanks
                else:
                    for n, d in blanks:
                        yield Skipped(n, n, 1, d, "blank_line")
                blanks = []
                orphans.append((number, data))
        if orphans:
            yield self._orphans(orphans)
        if record:
            yield self._record(record)
        for n, d in blanks:
            yield Skipped(n, n, 1, d, "blank_line")

    @staticmethod
    def _orphans(lines: list[NumberedLine]) -> Outcome:
        raw = b"".join(d for _, d in lines)
        return Rejected(
            lines[0][0], lines[-1][0], len(lines), raw, "no record start before this line"
        )

    def _record(self, lines: list[NumberedLine]) -> Outcome:
        raw = b"".join(d for _, d in lines)
        first, last = lines[0][0], lines[-1][0]
        try:
            text = decode(strip_eol(raw))
            record = self.parse_text(text.replace("\r\n", "\n"))
        except RecordError as exc:
            return Rejected(first, last, len(lines), raw, str(exc))
        return Parsed(first, last, len(lines), raw, text, record)


class JavaFormat(PlainTextFormat):
    """Java logs (Spring Boot, logback, log4j, Kafka) with stack traces joined."""

    name: ClassVar[str] = "java"
    default_presets: ClassVar[tuple[str, ...]] = ("spring", "kafka")


class PythonFormat(PlainTextFormat):
    """Python ``logging`` output with tracebacks joined."""

    name: ClassVar[str] = "python"
    default_presets: ClassVar[tuple[str, ...]] = ("python",)
