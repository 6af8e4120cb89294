"""The one interface every source implements.

A collector is configured from one ``[[source]]`` table and a time window. It
is used as a context manager:

1. :meth:`Collector.open` connects, fixes a consistent snapshot where the
   source can (an Elasticsearch point in time) and returns a
   :class:`SourceReport`: the exact query (never credentials) and the count the
   source itself reports for it, when it can tell before reading.
2. :meth:`Collector.batches` yields :class:`pyarrow.RecordBatch` objects in the
   collector's declared :attr:`Collector.schema`. Input that cannot be turned
   into a row is handed to the ``rejects`` sink with its raw bytes and reason.
   Records read but deliberately left out (outside the window) are counted in
   :attr:`SourceReport.skipped`.
3. :meth:`Collector.close` releases the snapshot and connections.

After reading, ``report.reported_count`` must equal rows written + rows
rejected + rows skipped; the manifest records all four.
"""

from __future__ import annotations

import builtins
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

import pyarrow as pa

from forensics.bundle.schema import SCHEMAS
from forensics.config import SourceConfig
from forensics.errors import ConfigError
from forensics.window import Window


@dataclass
class SourceReport:
    """What a source says about the query it answered."""

    query: dict[str, Any]
    reported_count: int | None = None
    #: ``"source"`` when the source itself counted, ``"reader"`` when the count
    #: is of records read (files have no count of their own).
    counted_by: str = "source"
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, count: int = 1) -> None:
        """Count records read but deliberately not written, by reason."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count


class RejectSink(Protocol):
    """Receives input that could not become a row, kept raw with its reason."""

    def reject(self, source_ref: str, error: str, raw: bytes) -> None:
        """Keep one unparseable record."""


class Collector(ABC):
    """Base class of every source plug-in. Subclasses set :attr:`type`."""

    #: The ``type`` value that selects this collector in ``forensics.toml``.
    type: ClassVar[str]
    #: Kinds this collector can produce and the default when ``kind`` is omitted.
    kinds: ClassVar[tuple[str, ...]] = ("logs",)
    default_kind: ClassVar[str] = "logs"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        if config.kind not in self.kinds:
            raise ConfigError(
                f"{config.where()}: kind {config.kind!r} is not supported; "
                f"use one of {', '.join(self.kinds)}"
            )
        self.config = config
        self.window = window
        self.report = SourceReport(query={})

    @property
    def name(self) -> str:
        """The configured source name."""
        return self.config.name

    @property
    def kind(self) -> str:
        """The dataset this collector writes: logs, metrics, changes or state."""
        return self.config.kind

    @property
    def schema(self) -> pa.Schema:
        """The declared Arrow schema of every batch this collector yields."""
        return SCHEMAS[self.kind]

    @abstractmethod
    def open(self) -> SourceReport:
        """Connect, fix a snapshot where possible and report the query and count."""

    @abstractmethod
    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Yield the records of the window as batches of :attr:`schema`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release snapshots and connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def option(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        """Read one option of this source, failing clearly when a required one is missing."""
        if key in self.config.options:
            return self.config.options[key]
        if required:
            raise ConfigError(f"{self.config.where()}: missing required key {key!r}")
        return default

    def secret(self, variable: str, what: str = "") -> str:
        """The value of the environment variable a ``*_env`` option names (never recorded)."""
        value = os.environ.get(variable)
        if not value:
            label = f" ({what})" if what else ""
            raise ConfigError(
                f"{self.config.where()}: environment variable {variable}{label} is not set; "
                "export it before running preserve"
            )
        return value

    def check_options(self, allowed: set[str]) -> None:
        """Refuse keys this collector does not know (catches typos early)."""
        unknown = set(self.config.options) - allowed
        if unknown:
            raise ConfigError(
                f"{self.config.where()}: unknown key(s) {sorted(unknown)}; "
                f"known: {', '.join(sorted(allowed))}"
            )
