"""Log files on disk, optionally gzip-compressed, selected by globs.

``format`` selects the parser (``collectors/formats/``): JSON lines by default,
or logfmt, nginx/apache access logs, syslog, journald JSON, CRI and Docker
container logs, plain/Java/Python text with multi-line records, CSV.

The count reported for a file source is the number of lines read, and every
line is accounted for: a record (one or more lines) becomes one row, one
reject (with file, line range, raw bytes and reason) or one counted skip
(``outside_window``); blank lines and CSV headers are counted skips; and each
line beyond the first of a multi-line record is counted as a
``joined_into_record`` skip. So lines read == rows + rejects + skips. The
manifest records, per input file, its SHA-256, size and line count, so the
preserved rows can be traced back to the exact bytes they came from.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from collectors.base import Collector, RejectSink, SourceReport
from collectors.formats import FORMATS, FormatContext, LogFormat, format_class
from collectors.formats.base import NumberedLine, Parsed, Rejected
from collectors.paths import display_path, resolve_files
from collectors.records import BatchBuilder, RecordError, RecordMapper, load_timezone
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat
from forensics.window import Window

SCHEMA_KINDS = ("logs", "metrics", "changes")
COMMON_OPTIONS = frozenset(
    {"paths", "exclude", "format", "fields", "defaults", "timezone", "batch_rows"}
)
#: Skip reason of the lines after the first of a multi-line record.
JOINED = "joined_into_record"


class _HashingReader(io.RawIOBase):
    """Passes bytes through while hashing and counting them."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.bytes += n
        return n or 0


class FilesCollector(Collector):
    """Log files in any supported format (``.gz`` decompressed transparently)."""

    type: ClassVar[str] = "files"
    kinds: ClassVar[tuple[str, ...]] = SCHEMA_KINDS
    formats: ClassVar[tuple[str, ...]] = tuple(FORMATS)

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.format = self.option("format", "jsonl")
        parser_class = format_class(self.format, config.where())
        self.check_options(set(COMMON_OPTIONS | parser_class.option_keys))
        paths = self.option("paths", required=True)
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"{config.where()}: paths must be a list of glob patterns")
        self.patterns: list[str] = paths
        self.excludes: list[str] = list(self.option("exclude", []))
        fields = self.option("fields", {})
        if not isinstance(fields, dict):
            raise ConfigError(f"{config.where()}: fields must be a table of column = path")
        self.timezone_name: str | None = self.option("timezone")
        default_tz = load_timezone(self.timezone_name, config.where())
        self.mapper = RecordMapper(
            self.kind,
            source=self.name,
            fields=fields,
            defaults=self.option("defaults", {}),
            default_tz=default_tz,
            where=config.where(),
        )
        self.parser: LogFormat = parser_class(
            {k: v for k, v in config.options.items() if k in parser_class.option_keys},
            FormatContext(
                where=config.where(),
                window=window,
                fields=dict(fields),
                default_tz=default_tz,
                timezone_name=self.timezone_name,
            ),
        )
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.files: list[Path] = []

    def _display(self, path: Path) -> str:
        return display_path(self.config.base_dir, path)

    def open(self) -> SourceReport:
        """Resolve the globs; a pattern that matches no file is an error."""
        self.files = resolve_files(
            self.config.base_dir, self.patterns, self.excludes, where=self.config.where()
        )
        self.report = SourceReport(
            query={
                "paths": self.patterns,
                "exclude": self.excludes,
                "format": self.format,
                **({"format_options": self.parser.describe()} if self.parser.describe() else {}),
                "fields": self.mapper.mapping,
                "timezone_for_naive_timestamps": self.timezone_name,
                "window": {
                    "since": isoformat(self.window.since),
                    "until": isoformat(self.window.until),
                },
                "files": [],
            },
            reported_count=0,
            counted_by="reader",
        )
        if self.timezone_name:
            self.report.notes.append(f"timestamps without a zone were read as {self.timezone_name}")
        self.report.notes.extend(self.parser.notes())
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Read every file line by line and yield canonical rows."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        for path in self.files:
            yield from self._read_file(path, builder, rejects)
        yield from builder.drain()

    def _read_file(
        self, path: Path, builder: BatchBuilder, rejects: RejectSink
    ) -> Iterator[pa.RecordBatch]:
        shown = self._display(path)
        try:
            raw_file = path.open("rb")
        except OSError as exc:
            raise SourceError(
                f"{self.config.where()}: cannot open {shown}: {exc.strerror}"
            ) from None
        hasher = _HashingReader(raw_file)
        stream: io.BufferedIOBase
        reader = _LineReader()
        with raw_file:
            buffered = io.BufferedReader(hasher, buffer_size=1 << 20)
            stream = (
                gzip.GzipFile(fileobj=buffered, mode="rb") if path.suffix == ".gz" else buffered
            )
            for outcome in self.parser.parse(reader.lines(stream)):
                if outcome.lines > 1:
                    self.report.skip(JOINED, outcome.lines - 1)
                ref = (
                    f"{shown}:{outcome.first}"
                    if outcome.first == outcome.last
                    else f"{shown}:{outcome.first}-{outcome.last}"
                )
                if isinstance(outcome, Parsed):
                    batch = self._row(outcome, ref, builder, rejects)
                    if batch is not None:
                        yield batch
                elif isinstance(outcome, Rejected):
                    rejects.reject(ref, outcome.reason, outcome.raw)
                else:
                    self.report.skip(outcome.reason)
            if reader.error is not None:
                # A truncated or corrupt archive: keep what was read, record the rest as one reject.
                rejects.reject(
                    f"{shown}:{reader.count + 1}", f"unreadable from here on: {reader.error}", b""
                )
                self.report.reported_count = (self.report.reported_count or 0) + 1
            # Read to the end so the file hash covers every byte.
            while buffered.read(1 << 20):
                pass
        lines = reader.count
        self.report.reported_count = (self.report.reported_count or 0) + lines
        self.report.query["files"].append(
            {
                "path": shown,
                "bytes": hasher.bytes,
                "sha256": hasher.sha256.hexdigest(),
                "lines": lines,
            }
        )

    def _row(
        self, outcome: Parsed, ref: str, builder: BatchBuilder, rejects: RejectSink
    ) -> pa.RecordBatch | None:
        try:
            moment, values = self.mapper.row(outcome.record, source_ref=ref, raw=outcome.text)
        except RecordError as exc:
            rejects.reject(ref, str(exc), outcome.raw)
            return None
        if moment not in self.window:
            self.report.skip("outside_window")
            return None
        return builder.add(values)


class _LineReader:
    """Numbers the lines of a stream; a read error ends the lines and is kept in ``error``."""

    def __init__(self) -> None:
        self.count = 0
        self.error: Exception | None = None

    def lines(self, stream: Iterable[bytes]) -> Iterator[NumberedLine]:
        """Yield ``(number, bytes)`` for every line, stopping quietly at a read error."""
        try:
            for line in stream:
                self.count += 1
                yield self.count, line
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            self.error = exc
