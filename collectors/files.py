"""Log files on disk: JSON lines, optionally gzip-compressed, selected by globs.

Every line read is accounted for: it becomes a row, a reject (with file,
line number, raw bytes and reason), or is skipped and counted (blank lines,
records outside the window). The manifest records, per input file, its
SHA-256, size and line count, so the preserved rows can be traced back to the
exact bytes they came from.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder, RecordError, RecordMapper, load_timezone
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat
from forensics.window import Window

SCHEMA_KINDS = ("logs", "metrics", "changes")


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
    """JSON-lines files (``.gz`` decompressed transparently)."""

    type: ClassVar[str] = "files"
    kinds: ClassVar[tuple[str, ...]] = SCHEMA_KINDS
    formats: ClassVar[tuple[str, ...]] = ("jsonl",)

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options({"paths", "exclude", "format", "fields", "timezone", "batch_rows"})
        paths = self.option("paths", required=True)
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"{config.where()}: paths must be a list of glob patterns")
        self.patterns: list[str] = paths
        self.excludes: list[str] = list(self.option("exclude", []))
        self.format = self.option("format", "jsonl")
        if self.format not in self.formats:
            raise ConfigError(
                f"{config.where()}: format {self.format!r} is not supported; use "
                + ", ".join(self.formats)
            )
        fields = self.option("fields", {})
        if not isinstance(fields, dict):
            raise ConfigError(f"{config.where()}: fields must be a table of column = path")
        self.timezone_name: str | None = self.option("timezone")
        self.mapper = RecordMapper(
            self.kind,
            source=self.name,
            fields=fields,
            default_tz=load_timezone(self.timezone_name, config.where()),
            where=config.where(),
        )
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.files: list[Path] = []

    def _resolve(self, pattern: str) -> list[Path]:
        full = Path(pattern) if Path(pattern).is_absolute() else self.config.base_dir / pattern
        matches = sorted(glob.glob(str(full), recursive=True))  # noqa: PTH207 - absolute patterns
        return [Path(p) for p in matches if Path(p).is_file()]

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.config.base_dir))
        except ValueError:
            return str(path)

    def open(self) -> SourceReport:
        """Resolve the globs; a pattern that matches no file is an error."""
        excluded = {p.resolve() for pattern in self.excludes for p in self._resolve(pattern)}
        seen: set[Path] = set()
        for pattern in self.patterns:
            matched = [p for p in self._resolve(pattern) if p.resolve() not in excluded]
            if not matched and not self._resolve(pattern):
                raise SourceError(
                    f"{self.config.where()}: no file matches {pattern!r} "
                    f"(relative to {self.config.base_dir})"
                )
            for path in matched:
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    self.files.append(path)
        self.report = SourceReport(
            query={
                "paths": self.patterns,
                "exclude": self.excludes,
                "format": self.format,
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
        lines = 0
        try:
            raw_file = path.open("rb")
        except OSError as exc:
            raise SourceError(
                f"{self.config.where()}: cannot open {shown}: {exc.strerror}"
            ) from None
        hasher = _HashingReader(raw_file)
        stream: io.BufferedIOBase
        with raw_file:
            buffered = io.BufferedReader(hasher, buffer_size=1 << 20)
            stream = (
                gzip.GzipFile(fileobj=buffered, mode="rb") if path.suffix == ".gz" else buffered
            )
            try:
                for lines, line in enumerate(stream, start=1):
                    batch = self._line(line, f"{shown}:{lines}", builder, rejects)
                    if batch is not None:
                        yield batch
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                # A truncated or corrupt archive: keep what was read, record the rest as one reject.
                rejects.reject(f"{shown}:{lines + 1}", f"unreadable from here on: {exc}", b"")
                self.report.reported_count = (self.report.reported_count or 0) + 1
            # Read to the end so the file hash covers every byte.
            while buffered.read(1 << 20):
                pass
        self.report.reported_count = (self.report.reported_count or 0) + lines
        self.report.query["files"].append(
            {
                "path": shown,
                "bytes": hasher.bytes,
                "sha256": hasher.sha256.hexdigest(),
                "lines": lines,
            }
        )

    def _line(
        self, line: bytes, ref: str, builder: BatchBuilder, rejects: RejectSink
    ) -> pa.RecordBatch | None:
        body = line.rstrip(b"\r\n")
        if not body.strip():
            self.report.skip("blank_line")
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.reject(ref, f"invalid UTF-8 at byte {exc.start}", line)
            return None
        try:
            record = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nesting too deep"
            rejects.reject(ref, f"invalid JSON: {reason}", line)
            return None
        try:
            moment, values = self.mapper.row(record, source_ref=ref, raw=text)
        except RecordError as exc:
            rejects.reject(ref, str(exc), line)
            return None
        if moment not in self.window:
            self.report.skip("outside_window")
            return None
        return builder.add(values)
