"""Source plug-ins: one module per source, all behind :class:`collectors.base.Collector`.

``REGISTRY`` lists ``module:Class`` for every source; :func:`collector_types` maps the
``type`` value of ``forensics.toml`` to its class. A new source is one module with one
``Collector`` subclass and one line here.
"""

from __future__ import annotations

import importlib

from collectors.base import Collector, RejectSink, SourceReport
from forensics.window import Window

REGISTRY: tuple[str, ...] = (
    "collectors.files:FilesCollector",
    "collectors.elasticsearch:ElasticsearchCollector",
    "collectors.cloudwatch_logs:CloudWatchLogsCollector",
    "collectors.cloudwatch_metrics:CloudWatchMetricsCollector",
    "collectors.cloudtrail:CloudTrailCollector",
    "collectors.aws_config:AwsConfigCollector",
    "collectors.postgres:PostgresCollector",
    "collectors.prometheus:PrometheusCollector",
    "collectors.git:GitCollector",
    "collectors.deploy_events:DeployEventsCollector",
)


def collector_types() -> dict[str, type[Collector]]:
    """Return the collector class for every known source ``type``."""
    found: dict[str, type[Collector]] = {}
    for entry in REGISTRY:
        module, _, name = entry.partition(":")
        cls = getattr(importlib.import_module(module), name)
        found[cls.type] = cls
    return found


__all__ = ["REGISTRY", "Collector", "RejectSink", "SourceReport", "Window", "collector_types"]
