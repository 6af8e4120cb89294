"""Turning a source record (a JSON object) into a canonical row.

Shared by every collector that receives JSON-like records (log files,
Elasticsearch documents). A mapping names, for each canonical column, the
field path in the record; paths are dotted and match both nested objects
(``{"service": {"name": "x"}}``) and flattened keys (``{"service.name": "x"}``),
as ECS loggers produce either. Mapped values are taken out of the record and
whatever remains is kept, losslessly, as JSON in ``attributes``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from forensics.bundle.schema import CHANGE_KINDS, SCHEMAS, TIMESTAMP
from forensics.errors import ConfigError

#: Canonical column -> default field path, per dataset kind (ECS names).
DEFAULT_FIELDS: Final[dict[str, dict[str, str]]] = {
    "logs": {
        TIMESTAMP: "@timestamp",
        "service.name": "service.name",
        "host.name": "host.name",
        "log.level": "log.level",
        "message": "message",
        "error.type": "error.type",
        "trace.id": "trace.id",
        "event.dataset": "event.dataset",
    },
    "metrics": {TIMESTAMP: "@timestamp", "metric": "metric", "labels": "labels", "value": "value"},
    "changes": {
        TIMESTAMP: "@timestamp",
        "change.kind": "change.kind",
        "change.id": "change.id",
        "service.name": "service.name",
        "actor": "actor",
        "summary": "summary",
        "details": "details",
    },
}

_LEVEL_SYNONYMS: Final = {
    "warning": "warn",
    "err": "error",
    "crit": "critical",
    "emerg": "emergency",
    "information": "info",
    "informational": "info",
    "notice": "notice",
    "trace": "trace",
}

_MISSING: Final = object()
_EPOCH_TEXT: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class RecordError(ValueError):
    """A record that cannot become a row; its message is the reject reason."""


def load_timezone(name: str | None, where: str) -> tzinfo | None:
    """Resolve the ``timezone`` option used for timestamps that carry no zone."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: unknown time zone {name!r}; use an IANA name such as UTC"
        ) from None


def parse_timestamp(value: Any, default_tz: tzinfo | None = None) -> datetime:
    """Parse an ISO-8601 string, epoch number or datetime into aware UTC.

    Epoch numbers are read by magnitude: seconds, milliseconds, microseconds or
    nanoseconds. A time without a zone is only accepted when ``default_tz`` is
    given, since guessing shifts evidence by hours.
    """
    if isinstance(value, bool):
        raise RecordError(f"timestamp is a boolean ({value!r})")
    if isinstance(value, str) and _EPOCH_TEXT.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise RecordError("timestamp is an integer out of range") from None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise RecordError(f"timestamp is not a finite number ({value!r})")
        magnitude = abs(value)
        divisor = (
            1e9
            if magnitude >= 1e17
            else 1e6
            if magnitude >= 1e14
            else 1e3
            if magnitude >= 1e11
            else 1
        )
        try:
            return datetime.fromtimestamp(value / divisor, UTC)
        except (OverflowError, OSError, ValueError):
            raise RecordError(f"timestamp {value!r} is out of range") from None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RecordError(f"unrecognised timestamp {value[:64]!r}") from None
    else:
        raise RecordError(f"timestamp has type {type(value).__name__}")
    if moment.tzinfo is None:
        if default_tz is None:
            raise RecordError(
                'timestamp has no time zone; set timezone = "<IANA name>" on this source'
            )
        moment = localize(moment, default_tz)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise RecordError(f"timestamp {value!r} is out of range") from None


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """Read a wall-clock time without a zone as a time in ``tz``.

    At a DST change a repeated local time (autumn: Europe/Berlin 2026-10-25 02:30 happens
    twice) is read as its **first** occurrence (``fold=0``, the summer-time offset); a local
    time that never happened (spring: 2026-03-29 02:30) is refused with a
    :class:`RecordError`, since any instant chosen for it would be a guess.
    """
    aware = naive.replace(tzinfo=tz, fold=0)
    try:
        back = aware.astimezone(UTC).astimezone(tz)
    except (OverflowError, ValueError):
        raise RecordError(f"timestamp {naive.isoformat()[:40]!r} is out of range") from None
    if back.replace(tzinfo=None) != naive.replace(tzinfo=None, fold=0):
        raise RecordError(
            f"local time {naive.isoformat()[:40]} does not exist in {tz} (skipped at a DST change)"
        )
    return aware


def check_text(values: list[Any]) -> None:
    """Refuse text that Arrow cannot store: lone UTF-16 surrogates from ``\\ud800`` escapes."""
    for value in values:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise RecordError(
                    f"text holds a lone surrogate {value[exc.start]!r} (a \\u escape "
                    "of half a UTF-16 pair), not valid Unicode"
                ) from None


def pop_path(record: dict[str, Any], path: str) -> Any:
    """Remove and return the value at a dotted ``path``, or ``_MISSING``.

    The exact key wins over nesting, then the longest flattened prefix.
    Parents left empty are removed so ``attributes`` holds only what remains.
    """
    if path in record:
        return record.pop(path)
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        child = record.get(head)
        if isinstance(child, dict):
            found = pop_path(child, ".".join(parts[cut:]))
            if found is not _MISSING:
                if not child:
                    del record[head]
                return found
    return _MISSING


def _text(value: Any) -> str | None:
    if value is _MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _json_object(value: Any) -> str | None:
    if value is _MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def normalise_level(value: Any) -> str | None:
    """Lower-case a log level and fold common synonyms (WARNING -> warn)."""
    text = _text(value)
    if text is None:
        return None
    lowered = text.strip().lower()
    return _LEVEL_SYNONYMS.get(lowered, lowered)


class RecordMapper:
    """Maps JSON records of one source to rows of a canonical dataset."""

    def __init__(
        self,
        kind: str,
        *,
        source: str,
        fields: Mapping[str, str] | None = None,
        defaults: Mapping[str, str] | None = None,
        default_tz: tzinfo | None = None,
        where: str = "source",
    ) -> None:
        if kind not in DEFAULT_FIELDS:
            raise ConfigError(f"{where}: records of kind {kind!r} cannot be mapped")
        mapping = dict(DEFAULT_FIELDS[kind])
        for column, path in (fields or {}).items():
            if column not in mapping:
                raise ConfigError(
                    f"{where}: fields maps unknown column {column!r}; "
                    f"canonical columns are {', '.join(mapping)}"
                )
            if not isinstance(path, str) or not path:
                raise ConfigError(f"{where}: fields.{column} must be a field path string")
            mapping[column] = path
        constants = dict(defaults or {})
        for column, value in constants.items():
            if column not in mapping or column == TIMESTAMP or not isinstance(value, str):
                raise ConfigError(
                    f"{where}: defaults.{column} must name a text column and give a string"
                )
        self.defaults = constants
        self.kind = kind
        self.source = source
        self.mapping = mapping
        self.default_tz = default_tz
        self.schema: pa.Schema = SCHEMAS[kind]

    def row(self, record: Any, *, source_ref: str, raw: str) -> tuple[datetime, list[Any]]:
        """Return the row's timestamp and its values in schema order.

        ``record`` is consumed: mapped fields are removed from it. Text with lone
        surrogates and records nested too deeply to serialise raise :class:`RecordError`.
        """
        try:
            moment, values = self._row(record, source_ref=source_ref, raw=raw)
        except RecursionError:
            raise RecordError("record is nested too deeply to be kept as JSON") from None
        if "\\u" in raw or "\\U" in raw:  # only JSON/logfmt escapes can make surrogates
            check_text(values)
        return moment, values

    def _row(self, record: Any, *, source_ref: str, raw: str) -> tuple[datetime, list[Any]]:
        if not isinstance(record, dict):
            raise RecordError(f"record is a JSON {type(record).__name__}, not an object")
        taken = {column: pop_path(record, path) for column, path in self.mapping.items()}
        for column, value in self.defaults.items():
            if taken[column] is _MISSING or taken[column] is None:
                taken[column] = value
        stamp = taken[TIMESTAMP]
        if stamp is _MISSING or stamp is None:
            raise RecordError(f"no timestamp at field {self.mapping[TIMESTAMP]!r}")
        moment = parse_timestamp(stamp, self.default_tz)
        rest = _json_object(record) if record else None
        values: list[Any]
        if self.kind == "logs":
            values = [
                moment,
                _text(taken["service.name"]),
                _text(taken["host.name"]),
                normalise_level(taken["log.level"]),
                _text(taken["message"]),
                _text(taken["error.type"]),
                _text(taken["trace.id"]),
                _text(taken["event.dataset"]),
                self.source,
                source_ref,
                rest,
                raw,
            ]
        elif self.kind == "metrics":
            values = [
                moment,
                self._metric_name(taken["metric"]),
                _json_object(taken["labels"]),
                self._metric_value(taken["value"]),
                self.source,
                source_ref,
            ]
        else:
            kind = _text(taken["change.kind"])
            kind = kind.lower() if kind else "other"
            details = taken["details"]
            if rest is not None:
                extra = json.loads(rest)
                details = (
                    {"details": details, **extra} if details not in (_MISSING, None) else extra
                )
            values = [
                moment,
                kind if kind in CHANGE_KINDS else "other",
                _text(taken["change.id"]),
                _text(taken["service.name"]),
                _text(taken["actor"]),
                _text(taken["summary"]),
                _json_object(details),
                self.source,
                source_ref,
                raw,
            ]
        return moment, values

    @staticmethod
    def _metric_name(value: Any) -> str:
        text = _text(value)
        if not text:
            raise RecordError("metric record has no metric name")
        return text

    @staticmethod
    def _metric_value(value: Any) -> float:
        if isinstance(value, bool) or value is _MISSING or value is None:
            raise RecordError("metric record has no numeric value")
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            raise RecordError(f"metric value {str(value)[:32]!r} is not a number") from None


class BatchBuilder:
    """Accumulates rows (values in schema order) and emits record batches."""

    def __init__(self, schema: pa.Schema, *, batch_rows: int = 8192) -> None:
        self.schema = schema
        self.batch_rows = batch_rows
        self._columns: list[list[Any]] = [[] for _ in schema]

    def __len__(self) -> int:
        return len(self._columns[0])

    def add(self, values: list[Any]) -> pa.RecordBatch | None:
        """Append one row; return a full batch when one is ready."""
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)
        if len(self._columns[0]) >= self.batch_rows:
            return self.flush()
        return None

    def flush(self) -> pa.RecordBatch | None:
        """Return the pending rows as a batch (``None`` when there are none)."""
        if not self._columns[0]:
            return None
        arrays = [
            pa.array(col, type=f.type) for col, f in zip(self._columns, self.schema, strict=True)
        ]
        self._columns = [[] for _ in self.schema]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def drain(self) -> Iterator[pa.RecordBatch]:
        """Yield the final partial batch, if any."""
        batch = self.flush()
        if batch is not None:
            yield batch
