"""A canary secret given through the environment appears nowhere the tool writes or says.

One canary value is, at the same time, the Elasticsearch API key (real node at ``es_url``),
the AWS secret access key (moto server: the S3 store and the CloudWatch Logs collector), the
PostgreSQL password (a role created with it on the real server) and the Prometheus bearer
token. ``preserve`` runs with all of them plus an unreachable Elasticsearch source that uses
the same key (the error path), with ``--json``; then ``verify`` and ``ls``; then forced
failures (a missing bucket, only the unreachable source, ``--debug``). The canary, and its
base64 forms, must not appear in: the manifest, the custody events, the bytes of any stored
object, the decoded rows of every Parquet file, stdout/stderr of every command (text and
``--json``), any log record of the tool and its libraries captured at DEBUG (botocore,
urllib3, elastic_transport, psycopg...), or any exception message and traceback.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from forensics.cli import main
from forensics.config import load_config
from forensics.errors import ForensicsError
from forensics.preserve import preserve
from forensics.stores import open_store
from forensics.window import Window
from tests.conftest import free_port
from tests.contract_cases.cloudwatch_logs import put_events

pytestmark = [pytest.mark.s3, pytest.mark.elasticsearch]

CANARY = f"canary-{uuid.uuid4().hex}"


def _forms(secret: str) -> list[str]:
    """The canary and the encodings a leak would most likely take."""
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode(),
        base64.b64encode(b"forensics:" + raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        raw.hex(),
    ]


def assert_clean(text: str | bytes, where: str) -> None:
    """No form of the canary in ``text``."""
    data = text if isinstance(text, str) else text.decode("latin-1")
    for form in _forms(CANARY):
        assert form not in data, f"canary leaked into {where}"


@pytest.fixture
def pg_role(postgres_dsn: str) -> Iterator[dict[str, Any]]:
    """A PostgreSQL role whose password is the canary."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(postgres_dsn)
    server = {
        "host": parts["host"],
        "port": int(parts["port"]),
        "dbname": parts["dbname"],
    }
    role = f"canary_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        **server, user=parts["user"], password=os.environ["FORENSICS_PG_PASSWORD"], autocommit=True
    )
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    admin.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(role)))
    admin.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(CANARY))
    )
    try:
        yield {**server, "user": role}
    finally:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.close()


@pytest.fixture
def es_index(es_url: str) -> Iterator[tuple[str, Window]]:
    """A fresh index with a few documents in a recent window."""
    now = datetime.now(UTC).replace(microsecond=0)
    window = Window(now - timedelta(hours=2), now + timedelta(minutes=30))
    index = f"logs-canary-{uuid.uuid4().hex[:8]}"
    client = Elasticsearch(es_url, request_timeout=60)
    for i in range(20):
        moment = window.since + timedelta(minutes=5 * i)
        client.index(
            index=index,
            id=f"d{i}",
            document={"@timestamp": moment.isoformat(), "message": f"event {i}", "n": i},
        )
    client.indices.refresh(index=index)
    yield index, window
    client.indices.delete(index=index, ignore_unavailable=True)
    client.close()


def _config(
    base: Path,
    *,
    es_url: str,
    index: str,
    pg: dict[str, Any],
    prometheus_url: str,
    s3_endpoint: str,
    group: str,
) -> Path:
    dead = f"http://127.0.0.1:{free_port()}"
    text = f"""
[[source]]
name = "es-logs"
type = "elasticsearch"
hosts = ["{es_url}"]
index = "{index}"
api_key_env = "CANARY_ES_API_KEY"

[[source]]
name = "es-down"
type = "elasticsearch"
hosts = ["{dead}"]
index = "logs-*"
api_key_env = "CANARY_ES_API_KEY"
max_retries = 0
request_timeout = 3

[[source]]
name = "pg"
type = "postgres"
host = "{pg["host"]}"
port = {pg["port"]}
dbname = "{pg["dbname"]}"
user = "{pg["user"]}"
password_env = "CANARY_PG_PASSWORD"

[[source]]
name = "prom"
type = "prometheus"
url = "{prometheus_url}"
queries = ["up"]
bearer_token_env = "CANARY_PROM_TOKEN"

[[source]]
name = "cw"
type = "cloudwatch_logs"
endpoint_url = "{s3_endpoint}"
region = "us-east-1"
log_group_prefix = "{group}"
"""
    path = base / "forensics.toml"
    path.write_text(text)
    return path


def test_canary_secret_appears_nowhere(
    es_url: str,
    es_index: tuple[str, Window],
    pg_role: dict[str, Any],
    prometheus_url: str,
    s3_endpoint: str,
    lock_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    index, window = es_index
    group = f"/canary/{uuid.uuid4().hex[:8]}"
    put_events(
        boto3.client("logs", endpoint_url=s3_endpoint, region_name="us-east-1"),
        f"{group}/app",
        "web-1",
        [(window.since + timedelta(minutes=m), f"cw line {m}") for m in range(10)],
    )
    config = _config(
        tmp_path,
        es_url=es_url,
        index=index,
        pg=pg_role,
        prometheus_url=prometheus_url,
        s3_endpoint=s3_endpoint,
        group=group,
    )
    secrets = {
        "CANARY_ES_API_KEY": CANARY,
        "CANARY_PG_PASSWORD": CANARY,
        "CANARY_PROM_TOKEN": CANARY,
        "AWS_SECRET_ACCESS_KEY": CANARY,
        "AWS_ACCESS_KEY_ID": "forensics-test",
        "FORENSICS_STAGING": str(tmp_path / "staging"),
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)  # root: every library logger propagates here
    for name in ("botocore", "boto3", "urllib3", "elastic_transport", "elasticsearch", "psycopg"):
        logging.getLogger(name).setLevel(logging.DEBUG)

    store_uri = f"s3://{lock_bucket}/cases"
    since, until = window.since.isoformat(), window.until.isoformat()
    runner = CliRunner()
    outputs: list[tuple[str, Result]] = []

    def cli(label: str, *args: str) -> Result:
        result = runner.invoke(main, [*args])
        outputs.append((label, result))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            outputs_text = "".join(traceback.format_exception(exc))
            assert_clean(outputs_text, f"the exception of {label}")
        return result

    common = ["--s3-endpoint", s3_endpoint, "--store", store_uri]
    run = cli(
        "preserve --json",
        "preserve",
        "--incident",
        "INC-S",
        "--config",
        str(config),
        "--since",
        since,
        "--until",
        until,
        *common,
        "--json",
    )
    # es-down failed (the error path), so preserve exits 1 naming it; the rest is sealed.
    assert run.exit_code == 1, run.output
    summary = json.loads(run.stdout[: run.stdout.rindex("}") + 1])
    by_name = {s["name"]: s for s in summary["sources"]}
    assert by_name["es-down"]["status"] == "failed"
    assert "es-down" in run.stderr
    for name in ("es-logs", "pg", "prom", "cw"):
        assert by_name[name]["status"] == "ok", by_name[name]
        assert by_name[name]["reconciled"], by_name[name]
    assert by_name["es-logs"]["written"] == 20 and by_name["cw"]["written"] == 10
    assert by_name["pg"]["written"] > 0
    bundle_uri = summary["bundle_uri"]

    verified = cli("verify", "verify", bundle_uri, "--s3-endpoint", s3_endpoint)
    assert verified.exit_code == 0, verified.output
    cli("verify --json", "verify", bundle_uri, "--s3-endpoint", s3_endpoint, "--json")
    cli("ls", "ls", store_uri, "--s3-endpoint", s3_endpoint)
    cli("ls --json", "ls", store_uri, "--s3-endpoint", s3_endpoint, "--json")
    missing = cli(
        "preserve to a missing bucket",
        "preserve",
        "--incident",
        "INC-S",
        "--config",
        str(config),
        "--since",
        since,
        "--until",
        until,
        "--s3-endpoint",
        s3_endpoint,
        "--store",
        f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x",
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output

    # Exceptions raised to library callers, with their full tracebacks.
    only_down = tmp_path / "down.toml"
    text = config.read_text()
    only_down.write_text(text[text.index('[[source]]\nname = "es-down"') :].split("\n\n[[")[0])
    for store in (open_store(store_uri, endpoint_url=s3_endpoint), open_store("s3://nope-b/x")):
        try:
            result = preserve(
                load_config(only_down), store, incident="INC-T", window=window, lookback=timedelta()
            )
        except ForensicsError as exc:
            assert_clean("".join(traceback.format_exception(exc)), "a library exception")
        else:
            (entry,) = result.manifest.sources
            assert entry.status == "failed" and entry.error
            assert_clean(entry.error, "the recorded source error")

    # The CLI with --debug prints a traceback: it must not carry the secret either.
    bad_store = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x"
    debug = subprocess.run(
        [
            *(sys.executable, "-m", "forensics.cli", "--debug", "preserve", "--incident", "INC-D"),
            *("--config", str(only_down), "--since", since, "--until", until),
            *("--s3-endpoint", s3_endpoint, "--store", bad_store),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **secrets},
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert_clean(debug.stdout + debug.stderr, "--debug output")

    # Every command's output, text and --json.
    for label, result in outputs:
        assert_clean(result.stdout, f"stdout of {label}")
        assert_clean(result.stderr, f"stderr of {label}")
    # Every log record of the tool and its libraries, at DEBUG.
    assert caplog.records, "nothing was logged: the capture is not working"
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record of {record.name}")
        if record.exc_info:
            assert_clean("".join(traceback.format_exception(*record.exc_info)), "logged error")
    assert_clean(caplog.text, "the captured log")

    # Every stored object: bytes, and the decoded rows of every Parquet file.
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=lock_bucket)
        for item in page.get("Contents", [])
    ]
    assert any(k.endswith("manifest.json") for k in keys)
    assert any("/custody/" in k for k in keys)
    parquet_rows = 0
    for key in keys:
        body = s3.get_object(Bucket=lock_bucket, Key=key)["Body"].read()
        assert_clean(body, key)
        if key.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(body))
            parquet_rows += table.num_rows
            assert_clean(json.dumps(table.to_pylist(), default=str), f"rows of {key}")
        if key.endswith("manifest.json") and "/INC-S/" in key:
            # The variable is named (so an operator knows which to set), never its value.
            assert b"CANARY_PG_PASSWORD" in body
    assert parquet_rows >= 20 + 10
    # Nothing left behind in staging either.
    for path in (tmp_path / "staging").rglob("*"):
        if path.is_file():
            assert_clean(path.read_bytes(), str(path))
    print(f"canary checked in {len(keys)} objects, {parquet_rows} rows, {len(outputs)} commands,")
    print(f"{len(caplog.records)} log records")
