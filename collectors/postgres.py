"""PostgreSQL: one consistent snapshot of a server's state at triage time.

The collector connects with psycopg 3, opens one ``REPEATABLE READ READ ONLY``
transaction and reads, in it, the views an incident responder looks at first:
sessions (``pg_stat_activity``), who blocks whom (``lock_waits``), connection
counts against ``max_connections`` (``connections``), transactions older than a
threshold (``long_transactions``), replication lag (``replication``), the top
statements of ``pg_stat_statements`` by total time, per-database counters
(``database_stats``) and a short allow-list of ``settings``.

Every row becomes one row of the ``state`` dataset: ``@timestamp`` is the
server's clock when the activity snapshot was taken, ``snapshot`` the view,
``entity`` the row's natural key and ``values`` the row as a JSON object. The
reported count is the number of rows the server returned for the snapshot
queries. Query text may carry secrets (``ALTER ROLE ... PASSWORD '...'``), so
string literals in it are masked unless ``redact_queries = false``.

Our own statements run under ``statement_timeout`` and ``lock_timeout`` (set
locally in the transaction), so collecting never hangs on a sick database.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final

import psycopg
import pyarrow as pa
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.window import Window

APPLICATION_NAME: Final = "incident-forensics"
#: A snapshot taken this long after the window's end is noted as not showing the incident.
LATE_SNAPSHOT: Final = timedelta(minutes=5)

#: Every snapshot, in the order it is read inside the transaction.
SNAPSHOTS: Final = (
    "settings",
    "pg_stat_activity",
    "lock_waits",
    "connections",
    "long_transactions",
    "replication",
    "database_stats",
    "pg_stat_statements",
)

#: The settings recorded by the ``settings`` snapshot.
SETTINGS_ALLOW_LIST: Final = (
    "idle_in_transaction_session_timeout",
    "lock_timeout",
    "max_connections",
    "shared_buffers",
    "statement_timeout",
    "work_mem",
)

_OPTIONS: Final = {
    "host",
    "port",
    "dbname",
    "user",
    "password_env",
    "sslmode",
    "dsn_env",
    "connect_timeout",
    "statement_timeout",
    "snapshots",
    "long_transaction_seconds",
    "top_statements",
    "redact_queries",
}
_SSLMODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

#: Columns holding SQL text, per snapshot; their string literals are masked when redacting.
QUERY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "pg_stat_activity": ("query",),
    "lock_waits": ("blocked_query", "blocking_query"),
    "long_transactions": ("query",),
    "pg_stat_statements": ("query",),
}

#: Errors of one snapshot query that are noted and skipped instead of failing the source.
_TOLERATED: Final = (
    pg_errors.QueryCanceled,
    pg_errors.LockNotAvailable,
    pg_errors.InsufficientPrivilege,
    pg_errors.ObjectNotInPrerequisiteState,
    pg_errors.FeatureNotSupported,
)

# -- redaction ---------------------------------------------------------------------------------

REDACTED: Final = "'***'"

_SQL_TOKENS: Final = re.compile(
    r"""
      (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*.*?(?:\*/|\Z))
    | (?P<identifier>"(?:[^"]|"")*(?:"|\Z))
    | (?P<escape_string>(?<![\w$])[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<dollar_empty>(?<![\w$])\$\$.*?(?:\$\$|\Z))
    | (?P<dollar_tagged>(?<![\w$])\$(?P<tag>[^\W\d]\w*)\$.*?(?:\$(?P=tag)\$|\Z))
    """,
    re.DOTALL | re.VERBOSE,
)
_LITERALS: Final = {"escape_string", "string", "dollar_empty", "dollar_tagged"}


def redact_sql(text: str) -> str:
    """Mask every string literal of SQL text (quoted, ``E''``-escaped and dollar-quoted).

    Comments and quoted identifiers are kept as they are; numbers are kept. A literal cut
    off by ``track_activity_query_size`` is masked up to the end of the text.
    """

    def mask(match: re.Match[str]) -> str:
        return REDACTED if match.lastgroup in _LITERALS else match.group(0)

    return _SQL_TOKENS.sub(mask, text)


# -- values ------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Turn one value returned by psycopg into plain JSON (intervals as seconds, times as ISO)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)  # inet, uuid, ranges, pg_lsn...


# -- SQL ---------------------------------------------------------------------------------------

_SETTINGS_SQL: Final = """\
SELECT name, setting, unit, source, context, vartype, boot_val, reset_val, pending_restart
FROM pg_settings WHERE name = ANY(%(names)s) ORDER BY name"""

# Reading pg_stat_activity loads the transaction's activity snapshot; clock_timestamp() is
# evaluated while scanning it, so the snapshot time is taken right after the snapshot.
_CLOCK_SQL: Final = """\
SELECT max(clock_timestamp()) AS taken, count(*) AS backends,
       pg_is_in_recovery() AS in_recovery, current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       pg_backend_pid() AS own_pid
FROM pg_stat_activity"""

_ACTIVITY_SQL: Final = """\
SELECT a.*,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.backend_start)::float8 AS backend_age_seconds,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.xact_start)::float8 AS xact_age_seconds,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.query_start)::float8 AS query_age_seconds,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.state_change)::float8 AS state_age_seconds
FROM pg_stat_activity AS a
ORDER BY a.pid"""

_LOCK_WAITS_SQL: Final = """\
SELECT blocked.pid AS blocked_pid,
       b.pid AS blocking_pid,
       bp.pids AS blocking_pids,
       blocked.datname AS database,
       blocked.usename AS blocked_user,
       blocked.application_name AS blocked_application,
       blocked.client_addr AS blocked_client_addr,
       blocked.wait_event_type,
       blocked.wait_event,
       l.locktype AS lock_type,
       l.mode AS lock_mode,
       CASE WHEN l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            THEN l.relation::regclass::text ELSE l.relation::text END AS relation,
       l.page AS lock_page,
       l.tuple AS lock_tuple,
       l.transactionid::text AS lock_transactionid,
       l.virtualxid AS lock_virtualxid,
       {waitstart} AS wait_start,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz
               - COALESCE({waitstart}, blocked.state_change))::float8 AS wait_seconds,
       blocked.xact_start AS blocked_xact_start,
       blocked.query_start AS blocked_query_start,
       blocked.query AS blocked_query,
       blocker.usename AS blocking_user,
       blocker.application_name AS blocking_application,
       blocker.client_addr AS blocking_client_addr,
       blocker.state AS blocking_state,
       blocker.wait_event_type AS blocking_wait_event_type,
       blocker.wait_event AS blocking_wait_event,
       blocker.xact_start AS blocking_xact_start,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - blocker.xact_start)::float8
           AS blocking_xact_age_seconds,
       blocker.query AS blocking_query
FROM (SELECT * FROM pg_stat_activity WHERE wait_event_type = 'Lock') AS blocked
CROSS JOIN LATERAL (SELECT pg_blocking_pids(blocked.pid) AS pids) AS bp
CROSS JOIN LATERAL (SELECT DISTINCT p FROM unnest(bp.pids) AS p) AS b(pid)
LEFT JOIN pg_stat_activity AS blocker ON blocker.pid = b.pid
LEFT JOIN LATERAL (
    SELECT * FROM pg_locks AS pl WHERE pl.pid = blocked.pid AND NOT pl.granted LIMIT 1
) AS l ON true
ORDER BY blocked.pid, b.pid"""

_CONNECTIONS_SQL: Final = """\
WITH counts AS (
    SELECT CASE WHEN GROUPING(state) = 0 THEN 'state'
                WHEN GROUPING(datname) = 0 THEN 'database'
                WHEN GROUPING(usename) = 0 THEN 'user'
                WHEN GROUPING(application_name) = 0 THEN 'application'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(state) = 0 THEN state
                WHEN GROUPING(datname) = 0 THEN datname::text
                WHEN GROUPING(usename) = 0 THEN usename::text
                WHEN GROUPING(application_name) = 0 THEN application_name END AS value,
           count(*) AS connections
    FROM pg_stat_activity
    WHERE backend_type = 'client backend'
    GROUP BY GROUPING SETS ((), (state), (datname), (usename), (application_name))
), limits AS (
    SELECT current_setting('max_connections')::int AS max_connections,
           current_setting('superuser_reserved_connections')::int
               AS superuser_reserved_connections
)
SELECT c.dimension, c.value, c.connections, l.max_connections,
       l.superuser_reserved_connections,
       l.max_connections - l.superuser_reserved_connections AS available_to_non_superusers,
       round(c.connections::numeric / l.max_connections, 4)::float8 AS utilisation,
       round(c.connections::numeric
             / NULLIF(l.max_connections - l.superuser_reserved_connections, 0), 4)::float8
           AS utilisation_of_non_reserved
FROM counts AS c CROSS JOIN limits AS l
ORDER BY c.dimension = 'total' DESC, c.dimension, c.connections DESC, c.value"""

_LONG_TRANSACTIONS_SQL: Final = """\
SELECT a.pid, a.datname, a.usename, a.application_name, a.client_addr, a.backend_type,
       a.state, a.wait_event_type, a.wait_event, a.backend_xid::text AS backend_xid,
       a.backend_xmin::text AS backend_xmin, a.xact_start,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.xact_start)::float8 AS xact_age_seconds,
       a.query_start,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.query_start)::float8 AS query_age_seconds,
       a.state_change,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - a.state_change)::float8 AS state_age_seconds,
       %(threshold)s::float8 AS threshold_seconds,
       a.query
FROM pg_stat_activity AS a
WHERE a.xact_start IS NOT NULL
  AND a.pid <> pg_backend_pid()
  AND a.xact_start <= %(taken)s::timestamptz - make_interval(secs => %(threshold)s)
ORDER BY a.xact_start, a.pid"""

_REPLICATION_PRIMARY_SQL: Final = """\
SELECT 'primary' AS role, r.*,
       EXTRACT(EPOCH FROM r.write_lag)::float8 AS write_lag_seconds,
       EXTRACT(EPOCH FROM r.flush_lag)::float8 AS flush_lag_seconds,
       EXTRACT(EPOCH FROM r.replay_lag)::float8 AS replay_lag_seconds,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.sent_lsn) AS sent_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.flush_lsn) AS flush_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) AS replay_lag_bytes,
       pg_current_wal_lsn()::text AS current_wal_lsn
FROM pg_stat_replication AS r
ORDER BY r.pid"""

# pg_stat_wal_receiver's conninfo is left out: it describes how to log in to the primary.
_REPLICATION_STANDBY_SQL: Final = """\
SELECT 'standby' AS role,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS replay_lag_bytes,
       pg_last_xact_replay_timestamp() AS last_xact_replay_timestamp,
       EXTRACT(EPOCH FROM %(taken)s::timestamptz - pg_last_xact_replay_timestamp())::float8
           AS replay_delay_seconds,
       pg_is_wal_replay_paused() AS replay_paused,
       (SELECT to_jsonb(w) - 'conninfo' FROM pg_stat_wal_receiver AS w) AS wal_receiver"""

_DATABASE_STATS_SQL: Final = """\
SELECT d.*,
       round(d.xact_rollback::numeric / NULLIF(d.xact_commit + d.xact_rollback, 0), 6)::float8
           AS rollback_ratio
FROM pg_stat_database AS d
ORDER BY d.datid"""

_STATEMENTS_FIND_SQL: Final = """\
SELECT n.nspname AS schema, e.extversion AS version,
       ARRAY(SELECT a.attname::text FROM pg_attribute AS a
             WHERE a.attrelid = to_regclass(format('%I.pg_stat_statements', n.nspname))
               AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'"""

_STATEMENTS_SQL: Final = """\
SELECT row_number() OVER (ORDER BY {total} DESC NULLS LAST) AS rank,
       {total} AS total_time_ms, d.datname, r.rolname, s.*
FROM {table} AS s
LEFT JOIN pg_database AS d ON d.oid = s.dbid
LEFT JOIN pg_roles AS r ON r.oid = s.userid
ORDER BY {total} DESC NULLS LAST
LIMIT %(top)s"""


@dataclass
class Snapshot:
    """The rows one snapshot query returned."""

    name: str
    rows: list[dict[str, Any]]


def _entity(snapshot: str, row: Mapping[str, Any]) -> str | None:
    """The natural key of one row of a snapshot."""

    def text(value: Any) -> str:
        return "(null)" if value is None else str(value)

    if snapshot in {"pg_stat_activity", "long_transactions"}:
        return text(row.get("pid"))
    if snapshot == "lock_waits":
        return f"{text(row.get('blocked_pid'))}:{text(row.get('blocking_pid'))}"
    if snapshot == "connections":
        dimension = row.get("dimension")
        return "total" if dimension == "total" else f"{dimension}={text(row.get('value'))}"
    if snapshot == "replication":
        return "standby" if row.get("role") == "standby" else text(row.get("pid"))
    if snapshot == "database_stats":
        return "(shared)" if row.get("datid") == 0 else text(row.get("datname"))
    if snapshot == "settings":
        return text(row.get("name"))
    if snapshot == "pg_stat_statements":
        return text(row.get("queryid"))
    return None


class PostgresCollector(Collector):
    """Takes one consistent snapshot of a PostgreSQL server's sessions, locks and counters."""

    type: ClassVar[str] = "postgres"
    kinds: ClassVar[tuple[str, ...]] = ("state",)
    default_kind: ClassVar[str] = "state"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(_OPTIONS)
        where = config.where()
        self.host: str | None = self._text_option("host")
        port = self.option("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise ConfigError(f"{where}: port must be an integer")
        self.port: int | None = port
        self.dbname: str | None = self._text_option("dbname")
        self.user: str | None = self._text_option("user")
        self.password_env: str | None = self._text_option("password_env")
        self.dsn_env: str | None = self._text_option("dsn_env")
        self.sslmode: str | None = self._text_option("sslmode")
        if self.sslmode is not None and self.sslmode not in _SSLMODES:
            raise ConfigError(f"{where}: sslmode must be one of {', '.join(_SSLMODES)}")
        self.connect_timeout = self._seconds("connect_timeout", 5)
        self.statement_timeout = self._seconds("statement_timeout", 10)
        self.long_transaction_seconds = self._seconds("long_transaction_seconds", 60, zero=True)
        top = self.option("top_statements", 20)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ConfigError(f"{where}: top_statements must be a positive integer")
        self.top_statements: int = top
        redact = self.option("redact_queries", True)
        if not isinstance(redact, bool):
            raise ConfigError(f"{where}: redact_queries must be true or false")
        self.redact_queries: bool = redact
        chosen = self.option("snapshots", list(SNAPSHOTS))
        if isinstance(chosen, str):
            chosen = [chosen]
        if not isinstance(chosen, list) or not chosen:
            raise ConfigError(f"{where}: snapshots must be a non-empty list of snapshot names")
        unknown = [s for s in chosen if s not in SNAPSHOTS]
        if unknown:
            raise ConfigError(
                f"{where}: unknown snapshot(s) {unknown}; known: {', '.join(SNAPSHOTS)}"
            )
        self.snapshots: tuple[str, ...] = tuple(s for s in SNAPSHOTS if s in chosen)
        self.connection: psycopg.Connection[Any] | None = None
        self.taken: datetime | None = None
        self.results: list[Snapshot] = []
        self._server: dict[str, Any] = {}

    # -- options ------------------------------------------------------------------------------

    def _text_option(self, key: str) -> str | None:
        value = self.option(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{self.config.where()}: {key} must be a non-empty string")
        return value

    def _seconds(self, key: str, default: float, *, zero: bool = False) -> float:
        value = self.option(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.config.where()}: {key} must be a number of seconds")
        if value < 0 or (value == 0 and not zero):
            raise ConfigError(f"{self.config.where()}: {key} must be more than 0 seconds")
        return float(value)

    # -- connection ---------------------------------------------------------------------------

    def _connection_params(self) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The DSN, keyword parameters, and what may be recorded about them (no secrets)."""
        dsn = ""
        if self.dsn_env:
            dsn = self.secret(self.dsn_env, "the PostgreSQL DSN")
        params: dict[str, Any] = {
            key: value
            for key, value in (
                ("host", self.host),
                ("port", self.port),
                ("dbname", self.dbname),
                ("user", self.user),
                ("sslmode", self.sslmode),
            )
            if value is not None
        }
        if self.password_env:
            params["password"] = self.secret(self.password_env, "the PostgreSQL password")
        try:
            merged = conninfo_to_dict(dsn, **params)
        except psycopg.ProgrammingError:
            raise ConfigError(
                f"{self.config.where()}: environment variable {self.dsn_env} does not hold a "
                "valid PostgreSQL connection string (key=value pairs or a postgresql:// URI)"
            ) from None
        params["connect_timeout"] = max(1, math.ceil(self.connect_timeout))
        params["application_name"] = APPLICATION_NAME
        shown = {
            "host": merged.get("host") or os.environ.get("PGHOST") or "localhost",
            "port": int(merged.get("port") or os.environ.get("PGPORT") or 5432),
            "dbname": merged.get("dbname"),
            "user": merged.get("user"),
            "sslmode": merged.get("sslmode"),
            "application_name": APPLICATION_NAME,
            "connect_timeout_seconds": params["connect_timeout"],
            "dsn_env": self.dsn_env,
            "password_env": self.password_env,
        }
        return dsn, params, shown

    def _connect_error(
        self, exc: psycopg.Error, shown: Mapping[str, Any], secrets: list[str]
    ) -> str:
        text = str(exc)
        lowered = text.lower()
        target = f"{shown['host']}:{shown['port']}"
        user = shown["user"] or "(default user)"
        credentials = (
            f"the password in environment variable {self.password_env}"
            if self.password_env
            else f"the DSN in environment variable {self.dsn_env}"
            if self.dsn_env
            else "password_env (no password was given)"
        )
        if (
            "password authentication failed" in lowered
            or "no password supplied" in lowered
            or "authentication failed" in lowered
        ):
            return (
                f"authentication failed for user {user!r} at PostgreSQL {target}; "
                f"check {credentials}"
            )
        if "does not exist" in lowered and "database" in lowered:
            return (
                f"database {shown['dbname']!r} does not exist at PostgreSQL {target}; "
                "check the dbname setting"
            )
        if "no pg_hba.conf entry" in lowered:
            return (
                f"PostgreSQL {target} refuses user {user!r} from this host (no pg_hba.conf "
                "entry); ask the DBA to allow it, or check sslmode"
            )
        if "connection refused" in lowered:
            reason = "connection refused"
        elif "timeout expired" in lowered:
            reason = f"no answer within {shown['connect_timeout_seconds']}s"
        elif "could not translate host name" in lowered:
            reason = "unknown host name"
        else:
            reason = next(
                (line.strip() for line in reversed(text.splitlines()) if line.strip()), "failed"
            )
            reason = reason.removeprefix("connection failed: ").replace("FATAL:  ", "")
            for secret in secrets:
                reason = reason.replace(secret, "***")
            reason = reason[:200]
        return (
            f"cannot reach PostgreSQL at {target} ({reason}); check that the server is running "
            f"and the host/port settings (user {user!r}, credentials from {credentials})"
        )

    def _connect(self) -> tuple[psycopg.Connection[Any], dict[str, Any]]:
        dsn, params, shown = self._connection_params()
        secrets = [v for v in (params.get("password"), dsn) if v]
        try:
            connection = psycopg.connect(dsn, autocommit=True, **params)
        except psycopg.Error as exc:
            raise SourceError(
                f"{self.config.where()}: {self._connect_error(exc, shown, secrets)}"
            ) from None
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        return connection, shown

    # -- protocol -----------------------------------------------------------------------------

    def open(self) -> SourceReport:
        """Connect, read every chosen snapshot in one read-only transaction, report the count."""
        connection, shown = self._connect()
        self.connection = connection
        queries: dict[str, str] = {}
        notes: list[str] = []
        try:
            self._read(connection, queries, notes)
        except SourceError:
            raise
        except psycopg.Error as exc:
            raise SourceError(
                f"{self.config.where()}: reading the snapshot from PostgreSQL at "
                f"{shown['host']}:{shown['port']} failed: {_first_line(exc)}"
            ) from None
        assert self.taken is not None
        if self.taken < self.window.since or self.taken >= self.window.until + LATE_SNAPSHOT:
            notes.append(
                f"state as of the snapshot time {self.taken.isoformat()}, well outside the "
                "incident window: PostgreSQL keeps no history of these views, so this is the "
                "state when preserve ran, not during the incident"
            )
        if self.redact_queries:
            notes.append(
                "query text redacted: string literals in pg_stat_activity, lock_waits, "
                "long_transactions and pg_stat_statements queries are masked as '***' "
                "(redact_queries = false keeps them)"
            )
        self.report = SourceReport(
            query={
                "server": shown,
                "transaction": "REPEATABLE READ, READ ONLY",
                "session": {
                    "statement_timeout_seconds": self.statement_timeout,
                    "lock_timeout_seconds": self.statement_timeout,
                    "stats_fetch_consistency": "snapshot",
                    "TimeZone": "UTC",
                },
                "snapshots": list(self.snapshots),
                "long_transaction_seconds": self.long_transaction_seconds,
                "top_statements": self.top_statements,
                "redact_queries": self.redact_queries,
                "snapshot_time": self.taken.isoformat(),
                "server_version": self._server["server_version"],
                "in_recovery": self._server["in_recovery"],
                "sql": queries,
                "parameters": {
                    "taken": self.taken.isoformat(),
                    "threshold": self.long_transaction_seconds,
                    "top": self.top_statements,
                    "names": list(SETTINGS_ALLOW_LIST),
                },
            },
            reported_count=sum(len(s.rows) for s in self.results),
            counted_by="source",
            notes=notes,
        )
        return self.report

    def _read(
        self, connection: psycopg.Connection[Any], queries: dict[str, str], notes: list[str]
    ) -> None:
        timeout_ms = str(round(self.statement_timeout * 1000))
        with connection.transaction(), connection.cursor(row_factory=dict_row) as cursor:
            if "settings" in self.snapshots:
                # Read before our own SET LOCALs, so statement_timeout and lock_timeout show the
                # server's values and not ours.
                self._run(
                    cursor,
                    "settings",
                    _SETTINGS_SQL,
                    {"names": list(SETTINGS_ALLOW_LIST)},
                    queries,
                    notes,
                )
            cursor.execute(
                "SELECT set_config('statement_timeout', %(ms)s, true),"
                " set_config('lock_timeout', %(ms)s, true),"
                " set_config('TimeZone', 'UTC', true)",
                {"ms": timeout_ms},
            )
            cursor.execute("SELECT current_setting('server_version_num')::int AS v")
            version = int(_one(cursor)["v"])
            if version >= 150000:
                cursor.execute("SELECT set_config('stats_fetch_consistency', 'snapshot', true)")
            cursor.execute(_CLOCK_SQL)
            self._server = _one(cursor)
            taken = self._server["taken"]
            self.taken = taken.astimezone(UTC)
            args = {"taken": taken, "threshold": self.long_transaction_seconds}
            waitstart = "l.waitstart" if version >= 140000 else "NULL::timestamptz"
            plain = {
                "pg_stat_activity": _ACTIVITY_SQL,
                "lock_waits": _LOCK_WAITS_SQL.replace("{waitstart}", waitstart),
                "connections": _CONNECTIONS_SQL,
                "long_transactions": _LONG_TRANSACTIONS_SQL,
                "database_stats": _DATABASE_STATS_SQL,
            }
            for name in self.snapshots:
                if name in plain:
                    self._run(cursor, name, plain[name], args, queries, notes)
                elif name == "replication":
                    self._replication(cursor, args, queries, notes)
                elif name == "pg_stat_statements":
                    self._statements(cursor, queries, notes)
            activity = next((s for s in self.results if s.name == "pg_stat_activity"), None)
            hidden = sum(
                1 for row in (activity.rows if activity else []) if row.get("query") == _HIDDEN
            )
            if hidden:
                notes.append(
                    f"{hidden} session(s) in pg_stat_activity show {_HIDDEN!r}: grant the role "
                    "pg_monitor (or pg_read_all_stats) to see every session's query"
                )

    def _run(
        self,
        cursor: psycopg.Cursor[dict[str, Any]],
        name: str,
        query: str | sql.Composed,
        args: Mapping[str, Any],
        queries: dict[str, str],
        notes: list[str],
    ) -> bool:
        """Run one snapshot query in a savepoint; keep its rows, or note why it has none."""
        text = query if isinstance(query, str) else query.as_string(cursor.connection)
        queries[name] = text
        try:
            with cursor.connection.transaction():
                used = {k: v for k, v in args.items() if f"%({k})s" in text}
                cursor.execute(text, used or None)
                count = cursor.rowcount
                rows = cursor.fetchall()
        except _TOLERATED as exc:
            reason = (
                f"timed out after {self.statement_timeout:g}s (statement_timeout)"
                if isinstance(exc, pg_errors.QueryCanceled)
                else _first_line(exc)
            )
            notes.append(f"snapshot {name} not collected: {reason}")
            return False
        if count != len(rows):  # the server's row count is the reported count
            raise SourceError(
                f"{self.config.where()}: snapshot {name}: the server reported {count} rows "
                f"but {len(rows)} were received"
            )
        self.results.append(Snapshot(name, rows))
        return True

    def _replication(
        self,
        cursor: psycopg.Cursor[dict[str, Any]],
        args: Mapping[str, Any],
        queries: dict[str, str],
        notes: list[str],
    ) -> None:
        if self._server["in_recovery"]:
            if self._run(cursor, "replication", _REPLICATION_STANDBY_SQL, args, queries, notes):
                notes.append(
                    "replication: this server is a standby; the row shows the WAL received and "
                    "replayed and the replay delay"
                )
            return
        collected = self._run(cursor, "replication", _REPLICATION_PRIMARY_SQL, args, queries, notes)
        if collected and not self.results[-1].rows:
            notes.append(
                "replication: this server is a primary with no connected standby "
                "(pg_stat_replication is empty)"
            )

    def _statements(
        self, cursor: psycopg.Cursor[dict[str, Any]], queries: dict[str, str], notes: list[str]
    ) -> None:
        cursor.execute(_STATEMENTS_FIND_SQL)
        found = cursor.fetchone()
        if found is None:
            notes.append(
                "pg_stat_statements: the extension is not installed in database "
                f"{self._server_db(cursor)!r}; add it to shared_preload_libraries and run "
                "CREATE EXTENSION pg_stat_statements to record the top statements"
            )
            return
        columns = set(found["columns"] or [])
        if {"total_exec_time", "total_plan_time"} <= columns:
            total = sql.SQL("(s.total_exec_time + s.total_plan_time)")
        elif "total_exec_time" in columns:
            total = sql.SQL("s.total_exec_time")
        elif "total_time" in columns:
            total = sql.SQL("s.total_time")
        else:
            notes.append("pg_stat_statements: no total time column found; not collected")
            return
        query = sql.SQL(_STATEMENTS_SQL).format(
            total=total,
            table=sql.Identifier(found["schema"], "pg_stat_statements"),
        )
        self._run(cursor, "pg_stat_statements", query, {"top": self.top_statements}, queries, notes)

    @staticmethod
    def _server_db(cursor: psycopg.Cursor[dict[str, Any]]) -> str:
        cursor.execute("SELECT current_database() AS db")
        return str(_one(cursor)["db"])

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Yield every snapshot row as a ``state`` row, query text redacted unless disabled."""
        assert self.taken is not None, "open() first"
        builder = BatchBuilder(self.schema)
        for snapshot in self.results:
            seen: set[str] = set()
            for number, row in enumerate(snapshot.rows, start=1):
                if self.redact_queries:
                    for column in QUERY_COLUMNS.get(snapshot.name, ()):
                        if isinstance(row.get(column), str):
                            row[column] = redact_sql(row[column])
                entity = _entity(snapshot.name, row)
                ref = f"{snapshot.name}/{entity}"
                if snapshot.name == "pg_stat_statements" or entity is None or ref in seen:
                    ref = f"{snapshot.name}#{number}"
                seen.add(ref)
                try:
                    values = json.dumps(
                        jsonable(row), sort_keys=True, ensure_ascii=False, allow_nan=False
                    )
                except (TypeError, ValueError) as exc:
                    rejects.reject(ref, f"row cannot be written as JSON: {exc}", repr(row).encode())
                    continue
                batch = builder.add([self.taken, snapshot.name, entity, values, self.name, ref])
                if batch is not None:
                    yield batch
        yield from builder.drain()

    def close(self) -> None:
        """Close the connection (the read-only transaction has already ended)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


_HIDDEN: Final = "<insufficient privilege>"


def _one(cursor: psycopg.Cursor[dict[str, Any]]) -> dict[str, Any]:
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - these queries always return one row
        raise SourceError("PostgreSQL returned no row for a query that always returns one")
    return row


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
