"""PostgreSQL state snapshots against the real server started by scripts/services/postgres.sh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from collectors.postgres import PostgresCollector, redact_sql
from forensics.config import parse_config
from forensics.errors import ConfigError, SourceError
from forensics.window import Window
from tests.conftest import ROOT, free_port, start_service
from tests.contract import Rejects

PASSWORD_ENV = "FORENSICS_PG_PASSWORD"


def _now_window() -> Window:
    now = datetime.now(UTC)
    return Window(now - timedelta(hours=1), now + timedelta(hours=1))


@pytest.fixture(scope="module")
def server(postgres_dsn: str) -> dict[str, Any]:
    """host, port, dbname and user of the test server."""
    parts = conninfo_to_dict(postgres_dsn)
    return {
        "host": parts["host"],
        "port": int(parts["port"]),
        "dbname": parts["dbname"],
        "user": parts["user"],
    }


def connect(server: dict[str, Any], **extra: Any) -> psycopg.Connection[Any]:
    """A plain test connection as the test role."""
    params = {**server, "password": os.environ[PASSWORD_ENV], **extra}
    return psycopg.connect(**params)


def collect(
    server: dict[str, Any], window: Window | None = None, **options: Any
) -> tuple[PostgresCollector, list[dict[str, Any]], Rejects]:
    """Collect once; return the collector (its report), the rows and the rejects."""
    source = {"name": "pg", "type": "postgres", **server, "password_env": PASSWORD_ENV, **options}
    config = parse_config({"source": [source]}, base_dir=Path())
    collector = PostgresCollector(config.sources[0], window=window or _now_window())
    rejects = Rejects()
    with collector:
        collector.open()
        rows = [row for batch in collector.batches(rejects) for row in batch.to_pylist()]
    report = collector.report
    assert report.reported_count == len(rows) + len(rejects.items) + sum(report.skipped.values())
    return collector, rows, rejects


def values(rows: list[dict[str, Any]], snapshot: str) -> list[dict[str, Any]]:
    """The decoded ``values`` of every row of one snapshot."""
    return [json.loads(r["values"]) for r in rows if r["snapshot"] == snapshot]


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def table(server: dict[str, Any]) -> Iterator[str]:
    name = f"accounts_{uuid.uuid4().hex[:8]}"
    with connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, v text)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 'start')").format(sql.Identifier(name)))
    yield name
    with connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def test_every_snapshot_is_one_consistent_read(server: dict[str, Any]) -> None:
    collector, rows, rejects = collect(server)
    report = collector.report
    assert not rejects.items
    assert report.query["transaction"] == "REPEATABLE READ, READ ONLY"
    assert set(report.query["sql"]) == {
        "settings",
        "pg_stat_activity",
        "lock_waits",
        "connections",
        "long_transactions",
        "replication",
        "database_stats",
        "pg_stat_statements",
    }
    stamps = {r["@timestamp"] for r in rows}
    assert len(stamps) == 1, "every row carries the one snapshot time"
    assert abs(stamps.pop() - datetime.now(UTC)) < timedelta(minutes=1)
    assert all(r["source_ref"].startswith(r["snapshot"]) for r in rows)
    assert len({r["source_ref"] for r in rows}) == len(rows)
    for row in rows:
        assert row["values"] == json.dumps(
            json.loads(row["values"]), sort_keys=True, ensure_ascii=False
        )

    activity = values(rows, "pg_stat_activity")
    ours = [a for a in activity if a["application_name"] == "incident-forensics"]
    assert len(ours) == 1
    for column in ("wait_event_type", "wait_event", "query", "backend_type", "state", "xact_start"):
        assert column in ours[0]
    for computed in ("query_age_seconds", "xact_age_seconds", "state_age_seconds"):
        assert isinstance(ours[0][computed], float) and ours[0][computed] >= 0

    settings = {v["name"]: v for v in values(rows, "settings")}
    assert set(settings) == {
        "max_connections",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "work_mem",
        "shared_buffers",
    }
    # The server's value, not the statement_timeout the collector sets for its own queries.
    assert settings["statement_timeout"]["setting"] == "0"
    assert settings["max_connections"]["setting"] == "100"

    databases = {v["datname"]: v for v in values(rows, "database_stats")}
    assert server["dbname"] in databases
    for counter in ("deadlocks", "temp_files", "conflicts", "xact_commit", "xact_rollback"):
        assert isinstance(databases[server["dbname"]][counter], int)

    with connect(server) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
    if row == (0,):  # a standby left by test_standby_and_primary_replication_rows would show
        assert values(rows, "replication") == []
        assert any("no connected standby" in note for note in report.notes)


def test_lock_wait_names_the_blocker_and_both_queries(server: dict[str, Any], table: str) -> None:
    holder = connect(server, application_name="lock-holder")
    waiter = connect(server, application_name="lock-waiter")
    try:
        holder.execute(
            sql.SQL("UPDATE {} SET v = 'held-by-holder' WHERE id = 1 /* holder */").format(
                sql.Identifier(table)
            )
        )  # transaction left open: the row stays locked
        waiter.execute("SET lock_timeout = '60s'")
        holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
        blocked = threading.Thread(
            target=lambda: waiter.execute(
                sql.SQL("UPDATE {} SET v = 'waiting' WHERE id = 1 /* waiter */").format(
                    sql.Identifier(table)
                )
            )
        )
        blocked.start()
        with connect(server, autocommit=True) as probe:
            wait_for(
                lambda: (
                    probe.execute(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [waiter_pid]
                    ).fetchone()
                    == ("Lock",)
                )
            )
        time.sleep(0.3)
        _, rows, _ = collect(server, snapshots=["pg_stat_activity", "lock_waits"])
    finally:
        holder.rollback()
        blocked.join(timeout=30)
        waiter.rollback()
        holder.close()
        waiter.close()

    waits = [w for w in values(rows, "lock_waits") if w["blocked_pid"] == waiter_pid]
    assert len(waits) == 1, waits
    wait = waits[0]
    assert wait["blocking_pid"] == holder_pid
    assert holder_pid in wait["blocking_pids"]
    assert wait["lock_type"] == "transactionid" and wait["lock_mode"] == "ShareLock"
    assert wait["wait_event_type"] == "Lock"
    assert wait["wait_seconds"] >= 0.2
    assert "/* waiter */" in wait["blocked_query"] and table in wait["blocked_query"]
    assert "/* holder */" in wait["blocking_query"] and table in wait["blocking_query"]
    # literals are masked by default
    assert "held-by-holder" not in wait["blocking_query"] and "'***'" in wait["blocking_query"]
    assert wait["blocking_state"] == "idle in transaction"
    assert wait["blocked_application"] == "lock-waiter"
    assert wait["blocking_application"] == "lock-holder"
    entity = f"{waiter_pid}:{holder_pid}"
    assert any(r["entity"] == entity and r["source_ref"] == f"lock_waits/{entity}" for r in rows)
    activity = {a["pid"]: a for a in values(rows, "pg_stat_activity")}
    assert activity[waiter_pid]["wait_event_type"] == "Lock"
    assert activity[holder_pid]["state"] == "idle in transaction"


def test_connection_surge_shows_utilisation(server: dict[str, Any]) -> None:
    app = f"surge-{uuid.uuid4().hex[:6]}"
    surge = [connect(server, autocommit=True, application_name=app) for _ in range(40)]
    try:
        _, rows, _ = collect(server, snapshots=["connections"])
    finally:
        for conn in surge:
            conn.close()
    by_entity = {r["entity"]: json.loads(r["values"]) for r in rows}
    mine = by_entity[f"application={app}"]
    assert mine["connections"] == 40
    assert mine["max_connections"] == 100
    assert mine["superuser_reserved_connections"] == 3
    assert mine["utilisation"] == pytest.approx(0.40)
    assert mine["utilisation_of_non_reserved"] == pytest.approx(40 / 97, abs=1e-4)
    total = by_entity["total"]
    assert total["connections"] >= 41  # the surge and the collector itself
    assert total["utilisation"] == pytest.approx(total["connections"] / 100)
    assert by_entity[f"user={server['user']}"]["connections"] >= 41
    assert by_entity["state=idle"]["connections"] >= 40


def test_long_transactions_use_the_threshold(server: dict[str, Any]) -> None:
    with connect(server, application_name="long-xact") as conn:
        conn.execute("SELECT txid_current()")  # a transaction with an xid, left open
        pid = conn.info.backend_pid
        time.sleep(1.5)
        _, rows, _ = collect(server, snapshots=["long_transactions"], long_transaction_seconds=1)
        _, default_rows, _ = collect(server, snapshots=["long_transactions"])
        conn.rollback()
    found = [v for v in values(rows, "long_transactions") if v["pid"] == pid]
    assert len(found) == 1
    assert found[0]["xact_age_seconds"] >= 1.5
    assert found[0]["state"] == "idle in transaction"
    assert found[0]["backend_xid"] is not None
    assert found[0]["threshold_seconds"] == 1
    assert not [v for v in values(default_rows, "long_transactions") if v["pid"] == pid]


def test_pg_stat_statements_top_n_by_total_time(server: dict[str, Any]) -> None:
    with connect(server, autocommit=True) as conn:
        for _ in range(3):
            conn.execute("SELECT count(*) AS forensics_marker FROM generate_series(1, 20000)")
    collector, rows, _ = collect(server, snapshots=["pg_stat_statements"], top_statements=5)
    top = values(rows, "pg_stat_statements")
    assert 1 <= len(top) <= 5
    assert [t["rank"] for t in top] == list(range(1, len(top) + 1))
    totals = [t["total_time_ms"] for t in top]
    assert totals == sorted(totals, reverse=True)
    assert all(
        r["source_ref"] == f"pg_stat_statements#{t['rank']}" for r, t in zip(rows, top, strict=True)
    )
    assert not any("not installed" in n for n in collector.report.notes)

    _, everything, _ = collect(server, snapshots=["pg_stat_statements"], top_statements=100_000)
    marker = [
        t for t in values(everything, "pg_stat_statements") if "forensics_marker" in t["query"]
    ]
    assert marker and marker[0]["calls"] >= 3 and marker[0]["datname"] == server["dbname"]


def test_pg_stat_statements_absent_is_noted(server: dict[str, Any]) -> None:
    other = {**server, "dbname": "postgres"}  # the extension is only created in the test database
    collector, rows, _ = collect(other, snapshots=["pg_stat_statements", "settings"])
    assert values(rows, "pg_stat_statements") == []
    assert len(values(rows, "settings")) == 6
    assert any("pg_stat_statements" in n and "not installed" in n for n in collector.report.notes)
    assert "pg_stat_statements" not in collector.report.query["sql"]


def test_query_literals_are_redacted_unless_disabled(server: dict[str, Any]) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    with connect(server, autocommit=True, application_name="literal-holder") as conn:
        conn.execute(sql.SQL("SELECT {} AS x").format(sql.Literal(secret)))  # stays as last query
        pid = conn.info.backend_pid
        _, redacted, _ = collect(server, snapshots=["pg_stat_activity"])
        _, plain, _ = collect(server, snapshots=["pg_stat_activity"], redact_queries=False)
    row = next(v for v in values(redacted, "pg_stat_activity") if v["pid"] == pid)
    assert row["query"] == "SELECT '***' AS x"
    assert secret not in json.dumps(redacted, default=str)
    row = next(v for v in values(plain, "pg_stat_activity") if v["pid"] == pid)
    assert secret in row["query"]


def test_redact_sql_masks_every_literal_form() -> None:
    assert redact_sql("ALTER ROLE app PASSWORD 'hunter2'") == "ALTER ROLE app PASSWORD '***'"
    assert redact_sql("SELECT 'it''s', E'a\\'b', 1") == "SELECT '***', '***', 1"
    assert redact_sql("DO $$ secret $$; SELECT $fn$ x $fn$") == "DO '***'; SELECT '***'"
    assert redact_sql("SELECT \"we'ird\" FROM t -- it's") == "SELECT \"we'ird\" FROM t -- it's"
    assert redact_sql("SELECT $1, a$b FROM t WHERE x = 'cut off") == (
        "SELECT $1, a$b FROM t WHERE x = '***'"
    )
    assert redact_sql("/* 'c' */ SELECT 2") == "/* 'c' */ SELECT 2"


def _cli(tmp_path: Path, source: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "forensics.toml").write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics.cli",
            "preserve",
            "--incident",
            "INC-PG",
            "--window",
            "1h",
            "--config",
            str(tmp_path / "forensics.toml"),
            "--store",
            str(tmp_path / "evidence"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def _toml(server: dict[str, Any], **options: Any) -> str:
    merged = {**server, **options}
    lines = ["[[source]]", 'name = "pg"', 'type = "postgres"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in merged.items()]
    return "\n".join(lines) + "\n"


def _one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_unreachable_port_is_one_clear_line(server: dict[str, Any], tmp_path: Path) -> None:
    port = free_port()
    done = _cli(
        tmp_path,
        _toml({**server, "port": port}, password_env=PASSWORD_ENV, connect_timeout=2),
        {},
    )
    line = _one_line_error(done, f"127.0.0.1:{port}", PASSWORD_ENV, "cannot reach PostgreSQL")
    assert os.environ[PASSWORD_ENV] not in done.stdout + done.stderr
    assert "connection refused" in line


def test_bad_password_is_one_clear_line(server: dict[str, Any], tmp_path: Path) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    done = _cli(
        tmp_path, _toml(server, password_env="PG_WRONG_PASSWORD"), {"PG_WRONG_PASSWORD": wrong}
    )
    _one_line_error(
        done,
        f"127.0.0.1:{server['port']}",
        "PG_WRONG_PASSWORD",
        "authentication failed",
        repr(server["user"]),
    )
    assert wrong not in done.stdout + done.stderr
    for path in (tmp_path / "evidence").rglob("*"):
        if path.is_file():
            assert wrong.encode() not in path.read_bytes()


def test_password_canary_appears_nowhere(server: dict[str, Any], tmp_path: Path) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    role = f"canary_{uuid.uuid4().hex[:8]}"
    admin = connect(server, autocommit=True, application_name="canary-admin")
    try:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(role)))
        # The password literal is now this idle session's last query, and in pg_stat_statements.
        admin.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(canary))
        )
        config = _toml({**server, "user": role}, password_env="PG_CANARY_PASSWORD")
        done = _cli(tmp_path, config, {"PG_CANARY_PASSWORD": canary})
        assert done.returncode == 0, done.stderr
        assert canary not in done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert summary["sources"][0]["reconciled"] is True
        assert summary["sources"][0]["written"] > 0

        # The bytes of every file, and the decoded rows of every Parquet file.
        files = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
        for path in files:
            assert canary.encode() not in path.read_bytes(), path
        texts = []
        for path in files:
            if path.suffix == ".parquet":
                texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        state = "".join(texts)
        assert canary not in state
        assert "ALTER ROLE" in state and "PASSWORD '***'" in state, "the redacted query is kept"
        manifest = next((tmp_path / "evidence").rglob("manifest.json")).read_text()
        assert "PG_CANARY_PASSWORD" in manifest and canary not in manifest
    finally:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.close()


def test_dsn_from_environment(server: dict[str, Any]) -> None:
    password = os.environ[PASSWORD_ENV]
    dsn = (
        f"postgresql://{server['user']}:{password}@{server['host']}:{server['port']}/"
        f"{server['dbname']}"
    )
    os.environ["PG_TEST_DSN"] = dsn
    try:
        config = parse_config(
            {
                "source": [
                    {
                        "name": "pg",
                        "type": "postgres",
                        "dsn_env": "PG_TEST_DSN",
                        "snapshots": ["settings"],
                    }
                ]
            },
            base_dir=Path(),
        )
        collector = PostgresCollector(config.sources[0], window=_now_window())
        with collector:
            report = collector.open()
            rows = sum(b.num_rows for b in collector.batches(Rejects()))
    finally:
        del os.environ["PG_TEST_DSN"]
    assert rows == report.reported_count == 6
    recorded = json.dumps(report.query) + json.dumps(report.notes)
    assert password not in recorded and dsn not in recorded
    assert report.query["server"]["host"] == server["host"]
    assert report.query["server"]["dsn_env"] == "PG_TEST_DSN"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"snapshots": ["pg_locks_typo"]}, "unknown snapshot"),
        ({"hots": "x"}, "unknown key"),
        ({"top_statements": 0}, "top_statements"),
        ({"redact_queries": "yes"}, "redact_queries"),
        ({"sslmode": "sometimes"}, "sslmode"),
        ({"statement_timeout": -1}, "statement_timeout"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], message: str) -> None:
    config = parse_config(
        {"source": [{"name": "pg", "type": "postgres", **options}]}, base_dir=Path()
    )
    with pytest.raises(ConfigError, match=message):
        PostgresCollector(config.sources[0], window=_now_window())


def test_missing_password_variable_is_a_config_error(server: dict[str, Any]) -> None:
    config = parse_config(
        {"source": [{"name": "pg", "type": "postgres", **server, "password_env": "PG_NOT_SET_X"}]},
        base_dir=Path(),
    )
    collector = PostgresCollector(config.sources[0], window=_now_window())
    with pytest.raises(ConfigError, match="PG_NOT_SET_X"):
        collector.open()


def test_role_without_pg_monitor_is_noted(server: dict[str, Any]) -> None:
    role = f"plain_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    with connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        os.environ["PG_PLAIN_PASSWORD"] = password
        try:
            config = parse_config(
                {
                    "source": [
                        {
                            "name": "pg",
                            "type": "postgres",
                            **server,
                            "user": role,
                            "password_env": "PG_PLAIN_PASSWORD",
                            "snapshots": ["pg_stat_activity"],
                        }
                    ]
                },
                base_dir=Path(),
            )
            collector = PostgresCollector(config.sources[0], window=_now_window())
            with collector:
                report = collector.open()
                list(collector.batches(Rejects()))
        finally:
            del os.environ["PG_PLAIN_PASSWORD"]
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert any("insufficient privilege" in n and "pg_monitor" in n for n in report.notes)


def test_missing_database_is_one_clear_error(server: dict[str, Any]) -> None:
    config = parse_config(
        {
            "source": [
                {
                    "name": "pg",
                    "type": "postgres",
                    **server,
                    "dbname": "no_such_db",
                    "password_env": PASSWORD_ENV,
                }
            ]
        },
        base_dir=Path(),
    )
    collector = PostgresCollector(config.sources[0], window=_now_window())
    with pytest.raises(SourceError) as caught:
        collector.open()
    message = str(caught.value)
    assert "'no_such_db' does not exist" in message and "\n" not in message


@pytest.fixture
def standby(server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A streaming standby of the test server (pg_basebackup -R), stopped afterwards."""
    dsn = start_service("postgres", env={"PG_STANDBY": "1"})
    parts = conninfo_to_dict(dsn)
    yield {**server, "host": parts["host"], "port": int(parts["port"])}
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "services" / "postgres.sh"), "stop-standby"],
        capture_output=True,
        check=False,
    )


def test_standby_and_primary_replication_rows(
    server: dict[str, Any], standby: dict[str, Any]
) -> None:
    with connect(server) as conn:
        wait_for(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                ).fetchone()
                == (1,)
            )
        )
    primary, rows, _ = collect(server, snapshots=["replication"])
    senders = values(rows, "replication")
    assert len(senders) == 1
    sender = senders[0]
    assert sender["role"] == "primary" and sender["state"] == "streaming"
    for column in ("replay_lag_bytes", "sent_lag_bytes", "flush_lag_bytes", "current_wal_lsn"):
        assert sender[column] is not None
    assert "replay_lag_seconds" in sender and "sync_state" in sender
    assert rows[0]["entity"] == str(sender["pid"])
    assert primary.report.query["in_recovery"] is False

    replica, rows, _ = collect(standby, snapshots=["replication", "settings"])
    assert replica.report.query["in_recovery"] is True
    (row,) = values(rows, "replication")
    assert row["role"] == "standby"
    assert row["receive_lsn"] and row["replay_lsn"]
    assert isinstance(row["replay_lag_bytes"], int)
    assert row["wal_receiver"]["status"] == "streaming"
    assert "conninfo" not in row["wal_receiver"]
    assert any("standby" in n for n in replica.report.notes)
