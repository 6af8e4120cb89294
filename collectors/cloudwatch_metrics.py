"""CloudWatch metrics: datapoints of configured metrics for the window and a baseline.

Each ``[[source.metrics]]`` entry names a namespace, a metric, its dimensions, a
statistic and a period. One paginated ``GetMetricData`` request covers the
window plus a baseline before it (by default as long as the window, so the
incident can be compared with "normal"; ``baseline = false`` turns it off).
Each datapoint becomes one metrics row: ``metric`` is
``<Namespace>/<MetricName>:<Stat>`` and ``labels`` holds the dimensions plus
``namespace``, ``stat``, ``period`` and ``phase`` (``window`` or ``baseline``).
The reported count is the number of datapoints CloudWatch returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import pyarrow as pa

from collectors.aws_common import COMMON_OPTIONS, AwsAccess
from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder, RecordError, parse_timestamp
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat, parse_duration
from forensics.window import Window

_OPTIONS = COMMON_OPTIONS | {"metrics", "baseline", "batch_rows"}
_METRIC_KEYS: Final = {"namespace", "metric", "dimensions", "stat", "period", "unit"}
_RESERVED_LABELS: Final = ("namespace", "stat", "period", "phase")
#: GetMetricData takes at most 500 queries per request.
MAX_QUERIES: Final = 500


@dataclass(frozen=True)
class MetricSpec:
    """One configured metric query."""

    id: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    stat: str
    period: int
    unit: str | None

    @property
    def name(self) -> str:
        """The canonical metric name ``<Namespace>/<MetricName>:<Stat>``."""
        return f"{self.namespace}/{self.metric}:{self.stat}"

    def query(self) -> dict[str, Any]:
        """This metric as one ``MetricDataQuery``."""
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": self.namespace,
                "MetricName": self.metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions.items()],
            },
            "Period": self.period,
            "Stat": self.stat,
        }
        if self.unit:
            stat["Unit"] = self.unit
        return {"Id": self.id, "MetricStat": stat, "ReturnData": True}

    def ref(self, moment: datetime) -> str:
        """Where one datapoint came from: metric, period, dimensions and timestamp."""
        dims = ",".join(f"{k}={v}" for k, v in self.dimensions.items())
        return f"{self.name}/{self.period}s{{{dims}}}@{isoformat(moment)}"


class CloudWatchMetricsCollector(Collector):
    """Datapoints of configured CloudWatch metrics for the window and a baseline."""

    type: ClassVar[str] = "cloudwatch_metrics"
    kinds: ClassVar[tuple[str, ...]] = ("metrics",)
    default_kind: ClassVar[str] = "metrics"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(set(_OPTIONS))
        self.aws = AwsAccess(self)
        raw = self.option("metrics", required=True)
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{config.where()}: metrics must be a non-empty list of tables")
        self.metrics = [self._spec(i, entry) for i, entry in enumerate(raw)]
        self.baseline = self._baseline(self.option("baseline", True))
        self.start = window.since - self.baseline
        self.batch_rows = int(self.option("batch_rows", 8192))

    def _spec(self, index: int, entry: Any) -> MetricSpec:
        where = f"{self.config.where()}: metrics[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(entry) - _METRIC_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; "
                f"known: {', '.join(sorted(_METRIC_KEYS))}"
            )
        namespace, metric = entry.get("namespace"), entry.get("metric")
        if not isinstance(namespace, str) or not namespace:
            raise ConfigError(f'{where}: namespace is required (e.g. "AWS/ApplicationELB")')
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f'{where}: metric is required (e.g. "TargetResponseTime")')
        dimensions = entry.get("dimensions", {})
        if not isinstance(dimensions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in dimensions.items()
        ):
            raise ConfigError(f'{where}: dimensions must be a table of name = "value"')
        clash = set(dimensions) & set(_RESERVED_LABELS)
        if clash:
            raise ConfigError(f"{where}: dimension name(s) {sorted(clash)} clash with labels")
        stat = entry.get("stat", "Average")
        period = entry.get("period", 60)
        if not isinstance(stat, str) or not stat:
            raise ConfigError(f"{where}: stat must be a statistic such as Average or p99")
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ConfigError(f"{where}: period must be a positive number of seconds")
        if period >= 60 and period % 60:
            raise ConfigError(f"{where}: period must be 1, 5, 10, 30 or a multiple of 60")
        unit = entry.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise ConfigError(f"{where}: unit must be a CloudWatch unit name")
        return MetricSpec(f"m{index}", namespace, metric, dict(dimensions), stat, period, unit)

    def _baseline(self, value: Any) -> timedelta:
        length = self.window.until - self.window.since
        if value is True or value == "same":
            return length
        if value is False or value in ("none", "0"):
            return timedelta(0)
        if isinstance(value, str):
            return parse_duration(value)
        raise ConfigError(
            f'{self.config.where()}: baseline must be a duration such as "2h", '
            '"same" (the window\'s length, default) or false'
        )

    def open(self) -> SourceReport:
        """Record the exact GetMetricData queries; CloudWatch counts nothing in advance."""
        self.aws.client("cloudwatch")
        self.report = SourceReport(
            query={
                "service": "cloudwatch",
                "api": "GetMetricData",
                **self.aws.describe(),
                "StartTime": isoformat(self.start),
                "EndTime": isoformat(self.window.until),
                "baseline_seconds": int(self.baseline.total_seconds()),
                "ScanBy": "TimestampAscending",
                "MetricDataQueries": [m.query() for m in self.metrics],
            },
            reported_count=0,
            counted_by="reader",
            notes=[
                "the reported count is the number of datapoints GetMetricData returned "
                "(CloudWatch has no count API)"
            ],
        )
        if self.baseline:
            self.report.notes.append(
                f"rows before {isoformat(self.window.since)} are the baseline "
                '(labels phase = "baseline")'
            )
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Page through GetMetricData and yield one row per datapoint."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        by_id = {m.id: m for m in self.metrics}
        for first in range(0, len(self.metrics), MAX_QUERIES):
            chunk = self.metrics[first : first + MAX_QUERIES]
            for page in self.aws.pages(
                "cloudwatch",
                "get_metric_data",
                "read metric data",
                MetricDataQueries=[m.query() for m in chunk],
                StartTime=self.start,
                EndTime=self.window.until,
                ScanBy="TimestampAscending",
            ):
                for message in page.get("Messages", []):
                    self.report.notes.append(f"CloudWatch: {message.get('Value', message)}")
                for result in page.get("MetricDataResults", []):
                    spec = by_id[result["Id"]]
                    self._status(spec, result)
                    for stamp, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    ):
                        self.report.reported_count = (self.report.reported_count or 0) + 1
                        batch = self._point(spec, stamp, value, builder, rejects)
                        if batch is not None:
                            yield batch
        yield from builder.drain()

    def _status(self, spec: MetricSpec, result: dict[str, Any]) -> None:
        status = result.get("StatusCode", "Complete")
        if status == "Forbidden":
            raise SourceError(
                f"{self.config.where()}: access denied to metric {spec.name} (Forbidden); "
                "grant cloudwatch:GetMetricData for it"
            )
        if status == "InternalError":
            self.report.notes.append(f"{spec.name}: CloudWatch reported InternalError")
        for message in result.get("Messages", []):
            self.report.notes.append(f"{spec.name}: {message.get('Value', message)}")

    def _point(
        self,
        spec: MetricSpec,
        stamp: Any,
        value: Any,
        builder: BatchBuilder,
        rejects: RejectSink,
    ) -> pa.RecordBatch | None:
        raw = json.dumps(
            {"Id": spec.id, "metric": spec.name, "Timestamp": str(stamp), "Value": value},
            default=str,
        )
        try:
            moment = parse_timestamp(stamp)
            number = float(value)
        except (RecordError, TypeError, ValueError) as exc:
            rejects.reject(f"{spec.name}@{stamp}", f"unreadable datapoint: {exc}", raw.encode())
            return None
        if not self.start <= moment < self.window.until:
            self.report.skip("outside_window")
            return None
        phase = "window" if moment >= self.window.since else "baseline"
        labels = {
            **spec.dimensions,
            "namespace": spec.namespace,
            "stat": spec.stat,
            "period": spec.period,
            "phase": phase,
        }
        return builder.add(
            [
                moment.astimezone(UTC),
                spec.name,
                json.dumps(labels, sort_keys=True, ensure_ascii=False),
                number,
                self.name,
                spec.ref(moment),
            ]
        )
