"""Contract cases for PostgreSQL state snapshots, against the real server.

A snapshot is taken at collection time, so the window is the hour around now. The snapshots
chosen here have a row count known in advance: the settings allow-list, one row per database
(plus the shared-objects row) in ``database_stats``, one row per connected standby in
``replication`` and no lock wait in ``lock_waits``. Every row's ``source_ref``
(``<snapshot>/<entity>``) is unique.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.postgres import SETTINGS_ALLOW_LIST
from forensics.config import parse_config
from forensics.window import Window
from tests.contract import ContractCase, contract_case


def _case(request: pytest.FixtureRequest, base: Path, snapshots: list[str]) -> ContractCase:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    dsn = request.getfixturevalue("postgres_dsn")
    server: dict[str, Any] = conninfo_to_dict(dsn)
    password = os.environ["FORENSICS_PG_PASSWORD"]
    os.environ["CONTRACT_PG_PASSWORD"] = password
    with psycopg.connect(dsn, password=password) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_database), (SELECT count(*) FROM pg_stat_replication)"
        ).fetchone()
        databases, standbys = (int(row[0]), int(row[1])) if row else (0, 0)
    expected = {
        "settings": len(SETTINGS_ALLOW_LIST),
        "database_stats": databases + 1,  # and the row of shared objects
        "replication": standbys,
        "lock_waits": 0,
    }
    source = {
        "name": "contract",
        "type": "postgres",
        "host": server["host"],
        "port": int(server["port"]),
        "dbname": server["dbname"],
        "user": server["user"],
        "password_env": "CONTRACT_PG_PASSWORD",
        "snapshots": snapshots,
    }
    config = parse_config({"source": [source]}, base_dir=base)
    now = datetime.now(UTC)

    def check(row: dict[str, Any]) -> None:
        assert row["snapshot"] in snapshots
        decoded = json.loads(row["values"])
        assert row["values"] == json.dumps(decoded, sort_keys=True, ensure_ascii=False)
        assert row["source_ref"] == f"{row['snapshot']}/{row['entity']}"

    return ContractCase(
        config.sources[0],
        Window(now - timedelta(hours=1), now + timedelta(hours=1)),
        sum(expected[s] for s in snapshots),
        secrets=[password],
        check_row=check,
        unique_refs=True,
    )


@contract_case("postgres-settings")
def postgres_settings(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    return _case(request, base, ["settings", "replication", "lock_waits"])


@contract_case("postgres-database-stats")
def postgres_database_stats(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    return _case(request, base, ["settings", "database_stats"])
