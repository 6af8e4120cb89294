"""CSV files with a header row, one record per row (quoted fields may span lines).

Columns become record fields named by the header, mapped to canonical columns with
``fields``. ``embedded = {column = "Log", format = "docker", ...}`` parses one column as a
record of another format (its other keys are that format's options) and merges its fields
into the row; a field that collides with a CSV column, or that names a canonical column the
user mapped to a CSV column, is kept as ``<column>.<field>`` instead. ``service_from_pod``
derives ``service.name`` from a Kubernetes pod name (``ts-contacts-service-866bd68c97-xcqfx``
-> ``ts-contacts-service``): ``true`` strips the ReplicaSet and pod suffixes (or a
StatefulSet ordinal), a string is a regex whose group ``service`` (or first group) is used.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
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

#: The alphabet of Kubernetes generated name suffixes (no vowels, no 0, 1, 3).
_SAFE: Final = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_PATTERNS: Final = (
    re.compile(rf"^(?P<service>.+?)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$"),  # Deployment
    re.compile(rf"^(?P<service>.+?)-{_SAFE}{{5}}$"),  # DaemonSet / bare ReplicaSet
    re.compile(r"^(?P<service>.+?)-\d+$"),  # StatefulSet
)


def service_from_pod(pod: str, pattern: re.Pattern[str] | None = None) -> str:
    """The workload name of a Kubernetes pod (the pod name itself when nothing matches)."""
    for candidate in (pattern,) if pattern else _POD_PATTERNS:
        if candidate is None:
            continue
        match = candidate.match(pod)
        if match:
            found = match.groupdict().get("service") or (match.group(1) if match.groups() else None)
            if found:
                return found
    return pod


class CsvFormat(LogFormat):
    """Comma- (or otherwise) separated values with a header row."""

    name: ClassVar[str] = "csv"
    option_keys: ClassVar[frozenset[str]] = frozenset(
        {"delimiter", "header", "embedded", "service_from_pod", "pod_column"}
    )

    def __init__(self, options: Mapping[str, Any], ctx: FormatContext) -> None:
        super().__init__(options, ctx)
        delimiter = self.options.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigError(f"{ctx.where}: delimiter must be one character")
        self.delimiter = delimiter
        header = self.options.get("header", True)
        if not (
            isinstance(header, bool)
            or (isinstance(header, list) and header and all(isinstance(h, str) for h in header))
        ):
            raise ConfigError(f"{ctx.where}: header must be true, false or a list of names")
        self.names: list[str] | None = header if isinstance(header, list) else None
        if header is False:
            raise ConfigError(
                f"{ctx.where}: a CSV without a header row needs header = [column names]"
            )
        self.embedded_column: str | None = None
        self.embedded: LogFormat | None = None
        embedded = self.options.get("embedded")
        if embedded is not None:
            if not isinstance(embedded, dict) or not isinstance(embedded.get("column"), str):
                raise ConfigError(
                    f"{ctx.where}: embedded must be a table like "
                    '{column = "Log", format = "docker"}'
                )
            fmt = embedded.get("format")
            if fmt in (None, "csv") or not isinstance(fmt, str):
                raise ConfigError(f"{ctx.where}: embedded.format must name a line format")
            from collectors.formats import build_format  # late: the registry imports this

            self.embedded_column = embedded["column"]
            rest = {k: v for k, v in embedded.items() if k not in ("column", "format")}
            self.embedded = build_format(fmt, rest, ctx)
        pod = self.options.get("service_from_pod", False)
        self.pod_pattern: re.Pattern[str] | None = None
        if isinstance(pod, str):
            try:
                self.pod_pattern = re.compile(pod)
            except re.error as exc:
                raise ConfigError(f"{ctx.where}: service_from_pod is not a regex: {exc}") from None
        elif not isinstance(pod, bool):
            raise ConfigError(f"{ctx.where}: service_from_pod must be true or a regex")
        self.from_pod = bool(pod)
        pod_column = self.options.get("pod_column", "PodName")
        if not isinstance(pod_column, str):
            raise ConfigError(f"{ctx.where}: pod_column must be a column name")
        self.pod_column = pod_column

    def _row(self, text: str) -> list[str]:
        rows = list(
            csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True)
        )
        if len(rows) != 1:
            raise RecordError(f"not one CSV row ({len(rows)} rows)")
        return rows[0]

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one data row (the header must be known: ``header`` as a list)."""
        if self.names is None:
            raise RecordError("CSV columns are unknown (no header row read)")
        return self._record(self.names, text)

    def _record(self, names: list[str], text: str) -> dict[str, Any]:
        try:
            values = self._row(text)
        except csv.Error as exc:
            raise RecordError(f"invalid CSV: {exc}") from None
        if len(values) != len(names):
            raise RecordError(f"row has {len(values)} fields, the header has {len(names)}")
        record: dict[str, Any] = {n: v for n, v in zip(names, values, strict=True) if v != ""}
        if self.from_pod and isinstance(record.get(self.pod_column), str):
            record["service.name"] = service_from_pod(record[self.pod_column], self.pod_pattern)
        if self.embedded is not None and self.embedded_column in record:
            self._merge(record, self.embedded_column, self.embedded)
        return record

    def _merge(self, record: dict[str, Any], column: str, fmt: LogFormat) -> None:
        try:
            inner = fmt.parse_text(record[column])
        except RecordError as exc:
            record[f"{column}.error"] = str(exc)
            return
        if not isinstance(inner, dict):
            record[f"{column}.error"] = f"embedded record is a {type(inner).__name__}"
            return
        del record[column]
        redirected = {c for c, path in self.ctx.fields.items() if path != c}
        for key, value in inner.items():
            if isinstance(value, datetime):
                value = value.isoformat()
            if key in record or key in redirected:
                record[f"{column}.{key}"] = value
            else:
                record[key] = value

    def parse(self, lines: Iterable[NumberedLine]) -> Iterator[Outcome]:
        """Group lines into rows (balanced quotes), the first row being the header."""
        names = self.names
        pending: list[NumberedLine] = []
        quotes = 0
        for number, data in lines:
            if not pending and not strip_eol(data).strip():
                yield Skipped(number, number, 1, data, "blank_line")
                continue
            pending.append((number, data))
            quotes += data.count(b'"')
            if quotes % 2:
                continue
            outcome = self._outcome(pending, names)
            if names is None and isinstance(outcome, Parsed):
                names = outcome.record
                outcome = Skipped(outcome.first, outcome.last, outcome.lines, outcome.raw, "header")
            yield outcome
            pending, quotes = [], 0
        if pending:
            raw = b"".join(d for _, d in pending)
            yield Rejected(
                pending[0][0], pending[-1][0], len(pending), raw, "unterminated quoted CSV field"
            )

    def _outcome(self, lines: list[NumberedLine], names: list[str] | None) -> Outcome:
        raw = b"".join(d for _, d in lines)
        first, last = lines[0][0], lines[-1][0]
        try:
            text = decode(strip_eol(raw))
            if names is None:
                header = self._row(text)
                if len(set(header)) != len(header) or not all(header):
                    raise RecordError("CSV header has empty or repeated column names")
                return Parsed(first, last, len(lines), raw, text, header)
            record = self._record(names, text)
        except (RecordError, csv.Error) as exc:
            reason = str(exc) if isinstance(exc, RecordError) else f"invalid CSV: {exc}"
            return Rejected(first, last, len(lines), raw, reason)
        return Parsed(first, last, len(lines), raw, text, record)
