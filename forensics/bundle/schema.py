"""Canonical Arrow schemas of the bundle datasets (format version 1).

Column names follow the Elastic Common Schema where one exists. Every row
carries ``source`` (the configured source name) and ``source_ref`` (where in
that source the record came from). Nested or free-form values (``attributes``,
``labels``, ``details``) are JSON objects serialised with sorted keys, so they
are lossless and equal values compare equal as strings.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

FORMAT_NAME: Final = "incident-forensics-bundle"
FORMAT_VERSION: Final = 1

TIMESTAMP: Final = "@timestamp"
TIMESTAMP_TYPE: Final = pa.timestamp("us", tz="UTC")

LOGS_SCHEMA: Final = pa.schema(
    [
        pa.field(TIMESTAMP, TIMESTAMP_TYPE, nullable=False),
        pa.field("service.name", pa.string()),
        pa.field("host.name", pa.string()),
        pa.field("log.level", pa.string()),
        pa.field("message", pa.string()),
        pa.field("error.type", pa.string()),
        pa.field("trace.id", pa.string()),
        pa.field("event.dataset", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_ref", pa.string(), nullable=False),
        pa.field("attributes", pa.string()),
        pa.field("raw", pa.string(), nullable=False),
    ]
)

METRICS_SCHEMA: Final = pa.schema(
    [
        pa.field(TIMESTAMP, TIMESTAMP_TYPE, nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("labels", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_ref", pa.string(), nullable=False),
    ]
)

CHANGE_KINDS: Final = (
    "deploy",
    "config",
    "infra",
    "dependency",
    "feature_flag",
    "scaling",
    "certificate",
    "dns",
    "other",
)

CHANGES_SCHEMA: Final = pa.schema(
    [
        pa.field(TIMESTAMP, TIMESTAMP_TYPE, nullable=False),
        pa.field("change.kind", pa.string(), nullable=False),
        pa.field("change.id", pa.string()),
        pa.field("service.name", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("summary", pa.string()),
        pa.field("details", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_ref", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)

#: Snapshots of system state (database sessions, locks, connection counts...). One schema for
#: every snapshot: ``snapshot`` names the view (``pg_stat_activity``, ``pg_locks``...),
#: ``entity`` the row's natural key (a pid, a table), ``values`` the row as a JSON object.
STATE_SCHEMA: Final = pa.schema(
    [
        pa.field(TIMESTAMP, TIMESTAMP_TYPE, nullable=False),
        pa.field("snapshot", pa.string(), nullable=False),
        pa.field("entity", pa.string()),
        pa.field("values", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_ref", pa.string(), nullable=False),
    ]
)

REJECTS_SCHEMA: Final = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_ref", pa.string(), nullable=False),
        pa.field("error", pa.string(), nullable=False),
        pa.field("raw", pa.binary(), nullable=False),
    ]
)

SCHEMAS: Final[dict[str, pa.Schema]] = {
    "logs": LOGS_SCHEMA,
    "metrics": METRICS_SCHEMA,
    "changes": CHANGES_SCHEMA,
    "state": STATE_SCHEMA,
    "rejects": REJECTS_SCHEMA,
}

#: The kinds a source may declare.
SOURCE_KINDS: Final = ("logs", "metrics", "changes", "state")
