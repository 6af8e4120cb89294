"""Shared fixtures: real services (moto S3 server, Elasticsearch) and sample data.

Services are started here (moto) or by the project's scripts (Elasticsearch),
or taken from the environment when already running (``FORENSICS_TEST_S3``,
``ES_URL``). With ``CI`` set, a service that cannot start fails the run; it is
never skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Fake credentials for the local S3 server, set before any client is made.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "forensics-test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "forensics-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def service_unavailable(message: str) -> None:
    """Fail under CI, skip elsewhere: a missing service is never silently ignored in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"required service unavailable under CI: {message}", pytrace=False)
    pytest.skip(message)


def require_shared(path: Path) -> Path:
    """A path under ../shared/data: fail under CI, skip elsewhere, when it is missing."""
    if not path.exists():
        service_unavailable(f"shared data {path} is missing (CI lays shared/ beside the clone)")
    return path


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float) -> bool:
    """Poll ``url`` until it answers (any HTTP status) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto S3 server over HTTP on 127.0.0.1 (started here unless given)."""
    given = os.environ.get("FORENSICS_TEST_S3")
    if given:
        yield given
        return
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        if not wait_http(endpoint, 30):
            process.kill()
            service_unavailable(f"moto server did not start: {log.read_text()[-2000:]}")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_client(s3_endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 S3 client for the test server."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def lock_bucket(s3_client) -> str:  # type: ignore[no-untyped-def]
    """A fresh bucket with Object Lock enabled."""
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def plain_bucket(s3_client) -> str:  # type: ignore[no-untyped-def]
    """A fresh bucket without Object Lock."""
    name = f"plain-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


def start_service(name: str, env: dict[str, str] | None = None) -> str:
    """Run ``scripts/services/<name>.sh start``; its last stdout line is the address to use.

    Fails under CI, skips elsewhere, when the script cannot start the service.
    """
    script = ROOT / "scripts" / "services" / f"{name}.sh"
    done = subprocess.run(
        ["bash", str(script), "start"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        service_unavailable(
            f"scripts/services/{name}.sh start failed: {(done.stdout + done.stderr)[-3000:]}"
        )
    return lines[-1].strip()


@pytest.fixture(scope="session")
def es_url() -> str:
    """A real Elasticsearch node: ``ES_URL`` if set, else started by scripts/services."""
    given = os.environ.get("ES_URL")
    if given:
        if not wait_http(given, 60):
            service_unavailable(f"Elasticsearch at ES_URL={given} does not answer")
        return given
    port = os.environ.get("ES_PORT", "9200")
    url = f"http://127.0.0.1:{port}"
    script = ROOT / "scripts" / "services" / "elasticsearch.sh"
    done = subprocess.run(
        ["bash", str(script), "start"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ES_PORT": port},
        check=False,
    )
    if done.returncode != 0:
        service_unavailable(
            f"scripts/services/elasticsearch.sh start failed: {(done.stdout + done.stderr)[-3000:]}"
        )
    return url


@pytest.fixture(scope="session")
def sample_incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples/ sample incident, generated into a temporary folder with its config."""
    target = tmp_path_factory.mktemp("sample-incident")
    source = ROOT / "examples" / "sample-incident"
    subprocess.run(
        [sys.executable, str(source / "generate.py"), "--out", str(target / "data")],
        check=True,
        capture_output=True,
    )
    (target / "forensics.toml").write_text((source / "forensics.toml").read_text())
    (target / "ground_truth.json").write_text((target / "data" / "ground_truth.json").read_text())
    return target


@pytest.fixture(scope="session")
def sample_bundle(sample_incident: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample incident preserved once per session into a local store; its bundle URI."""
    import json

    from click.testing import CliRunner

    from forensics.cli import main

    truth = json.loads((sample_incident / "ground_truth.json").read_text())
    store = tmp_path_factory.mktemp("evidence")
    window = ["--since", truth["window"]["since"], "--until", truth["window"]["until"]]
    done = CliRunner().invoke(
        main,
        [
            "preserve",
            "--incident",
            "INC-42",
            "--config",
            str(sample_incident / "forensics.toml"),
            *window,
            "--store",
            str(store),
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    return str(json.loads(done.output)["bundle_uri"])


@pytest.fixture(scope="session")
def prometheus_url() -> str:
    """A real Prometheus server with the sample incident's history backfilled (2026-11-20)."""
    return start_service("prometheus")


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A real PostgreSQL server (scripts/services/postgres.sh); DSN without the password.

    The test role's password is in ``FORENSICS_PG_PASSWORD`` (default ``forensics-test``).
    """
    os.environ.setdefault("FORENSICS_PG_PASSWORD", "forensics-test")
    return start_service("postgres")
