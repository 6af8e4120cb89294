"""CloudWatch Logs: the events of some log groups for the window, via ``FilterLogEvents``.

Log groups are named (``log_groups``) and/or found by prefix (``log_group_prefix``);
``log_stream_prefix`` and ``filter_pattern`` narrow the read inside each group.
Each event becomes one log row: a message that is a JSON object is mapped like
any JSON record (``fields``), falling back to the event's own timestamp when the
object has none; any other message is kept as plain text. ``raw`` is the event as
CloudWatch returned it.

CloudWatch Logs has no count API, so the reported count is the number of events
``FilterLogEvents`` returned across all pages (``counted_by = "reader"``).
Interleaved pagination can return an event twice: repeats of an ``eventId`` in
the same group are counted as skipped ``duplicate_event``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa

from collectors.aws_common import COMMON_OPTIONS, AwsAccess, string_list
from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import (
    BatchBuilder,
    RecordError,
    RecordMapper,
    load_timezone,
    parse_timestamp,
)
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat
from forensics.window import Window

_OPTIONS = COMMON_OPTIONS | {
    "log_groups",
    "log_group_prefix",
    "log_stream_prefix",
    "filter_pattern",
    "fields",
    "timezone",
    "page_size",
    "batch_rows",
}


def _epoch_ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def has_value(record: dict[str, Any], path: str) -> bool:
    """Whether a dotted ``path`` holds a non-null value (flattened or nested), without taking it."""
    if path in record:
        return record[path] is not None
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        child = record.get(".".join(parts[:cut]))
        if isinstance(child, dict) and has_value(child, ".".join(parts[cut:])):
            return True
    return False


class CloudWatchLogsCollector(Collector):
    """Events of CloudWatch Logs groups whose timestamp falls in the window."""

    type: ClassVar[str] = "cloudwatch_logs"
    kinds: ClassVar[tuple[str, ...]] = ("logs",)

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(set(_OPTIONS))
        where = config.where()
        self.aws = AwsAccess(self)
        self.group_names = string_list(self, "log_groups")
        self.group_prefix: str | None = self.option("log_group_prefix")
        if not self.group_names and not self.group_prefix:
            raise ConfigError(f"{where}: set log_groups and/or log_group_prefix")
        self.stream_prefix: str | None = self.option("log_stream_prefix")
        self.filter_pattern: str | None = self.option("filter_pattern")
        for key in ("log_group_prefix", "log_stream_prefix", "filter_pattern"):
            value = self.option(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be a string")
        self.page_size = int(self.option("page_size", 10_000))
        if not 1 <= self.page_size <= 10_000:
            raise ConfigError(f"{where}: page_size must be between 1 and 10000")
        fields = self.option("fields", {})
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: fields must be a table of column = path")
        self.timezone_name: str | None = self.option("timezone")
        self.mapper = RecordMapper(
            "logs",
            source=self.name,
            fields=fields,
            default_tz=load_timezone(self.timezone_name, where),
            where=where,
        )
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.groups: list[str] = []
        self.start_ms = _epoch_ms(window.since)
        # FilterLogEvents' endTime is inclusive; the window is half-open.
        self.end_ms = _epoch_ms(window.until) - 1

    def _resolve_groups(self) -> list[str]:
        found: list[str] = []
        for name in self.group_names:
            exists = False
            for page in self.aws.pages(
                "logs",
                "describe_log_groups",
                f"find log group {name!r}",
                logGroupNamePrefix=name,
            ):
                if any(g.get("logGroupName") == name for g in page.get("logGroups", [])):
                    exists = True
                    break
            if not exists:
                raise SourceError(
                    f"{self.config.where()}: log group {name!r} does not exist in "
                    f"{self.aws.resolved_region()}; check log_groups and region"
                )
            found.append(name)
        if self.group_prefix:
            matched = [
                group["logGroupName"]
                for page in self.aws.pages(
                    "logs",
                    "describe_log_groups",
                    f"list log groups starting with {self.group_prefix!r}",
                    logGroupNamePrefix=self.group_prefix,
                )
                for group in page.get("logGroups", [])
            ]
            if not matched:
                raise SourceError(
                    f"{self.config.where()}: no log group starts with {self.group_prefix!r} in "
                    f"{self.aws.resolved_region()}; check log_group_prefix and region"
                )
            found.extend(g for g in matched if g not in found)
        return found

    def open(self) -> SourceReport:
        """Resolve the log groups (each must exist) and record the exact query."""
        self.groups = self._resolve_groups()
        self.report = SourceReport(
            query={
                "service": "logs",
                "api": "FilterLogEvents",
                **self.aws.describe(),
                "log_groups": self.groups,
                "log_group_prefix": self.group_prefix,
                "log_stream_prefix": self.stream_prefix,
                "filter_pattern": self.filter_pattern,
                "startTime": self.start_ms,
                "endTime": self.end_ms,
                "window": {
                    "since": isoformat(self.window.since),
                    "until": isoformat(self.window.until),
                },
                "fields": self.mapper.mapping,
                "timezone_for_naive_timestamps": self.timezone_name,
            },
            reported_count=0,
            counted_by="reader",
            notes=[
                "CloudWatch Logs has no count API: the reported count is the number of events "
                "FilterLogEvents returned across all pages (duplicates included, then skipped)"
            ],
        )
        if self.timezone_name:
            self.report.notes.append(
                f"timestamps without a zone inside JSON messages were read as {self.timezone_name}"
            )
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Page through FilterLogEvents for every group and yield log rows."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        for group in self.groups:
            seen: set[str] = set()
            params: dict[str, Any] = {
                "logGroupName": group,
                "startTime": self.start_ms,
                "endTime": self.end_ms,
                "PaginationConfig": {"PageSize": self.page_size},
            }
            if self.stream_prefix:
                params["logStreamNamePrefix"] = self.stream_prefix
            if self.filter_pattern:
                params["filterPattern"] = self.filter_pattern
            for page in self.aws.pages(
                "logs", "filter_log_events", f"read log group {group!r}", **params
            ):
                events = page.get("events", [])
                self.report.reported_count = (self.report.reported_count or 0) + len(events)
                for event in events:
                    event_id = str(event.get("eventId", ""))
                    if event_id and event_id in seen:
                        self.report.skip("duplicate_event")
                        continue
                    seen.add(event_id)
                    stream = str(event.get("logStreamName", ""))
                    if self.stream_prefix and not stream.startswith(self.stream_prefix):
                        # Servers that ignore logStreamNamePrefix (moto) must not widen the read.
                        self.report.skip("stream_not_selected")
                        continue
                    batch = self._event(group, event, builder, rejects)
                    if batch is not None:
                        yield batch
        yield from builder.drain()

    def _event(
        self, group: str, event: dict[str, Any], builder: BatchBuilder, rejects: RejectSink
    ) -> pa.RecordBatch | None:
        stream = str(event.get("logStreamName", ""))
        ref = f"{group}/{stream}/{event.get('eventId', '')}"
        raw = json.dumps(event, sort_keys=True, ensure_ascii=False, default=str)
        try:
            values = self._row(group, event, ref, raw)
        except RecordError as exc:
            rejects.reject(ref, str(exc), raw.encode("utf-8"))
            return None
        if values[0] not in self.window:
            self.report.skip("outside_window")
            return None
        return builder.add(values)

    def _row(self, group: str, event: dict[str, Any], ref: str, raw: str) -> list[Any]:
        stamp = event.get("timestamp")
        if stamp is None:
            raise RecordError("event has no timestamp")
        message = event.get("message")
        text = message if isinstance(message, str) else ""
        context = {
            "logGroupName": group,
            "logStreamName": event.get("logStreamName"),
            "ingestionTime": event.get("ingestionTime"),
        }
        record = _json_object(text)
        if record is not None:
            path = self.mapper.mapping["@timestamp"]
            if not has_value(record, path):
                record[path] = stamp
            for key, value in context.items():
                record.setdefault(key, value)
            _, values = self.mapper.row(record, source_ref=ref, raw=raw)
            return values
        moment = parse_timestamp(stamp)
        attributes = json.dumps(context, sort_keys=True, ensure_ascii=False)
        return [
            moment,
            None,
            None,
            None,
            text,
            None,
            None,
            None,
            self.name,
            ref,
            attributes,
            raw,
        ]


def _json_object(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
