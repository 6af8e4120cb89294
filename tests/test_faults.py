"""Faults with real services and real processes (issue 5, faults part).

* A 3-node Elasticsearch cluster (``scripts/services/elasticsearch-cluster.sh``) loses a node,
  killed with SIGKILL, while ``preserve`` pages through a point in time: the source either
  completes with exactly the source's document ids, or fails clearly with nothing kept for it.
* The S3 endpoint (a moto server process of this test) is frozen with SIGSTOP during the upload:
  bounded retries, one clear line naming the ``--resume`` command, staged files kept; after
  SIGCONT, ``--resume`` (with the source data gone) seals a bundle identical to a reference run.
* The staging disk (a 2 MB tmpfs) fills up: one clear line, nothing sealed, staging cleaned.
* Sources answer 429/503 or hang (a small HTTP proxy process in front of the real Prometheus and
  Elasticsearch): bounded retries with backoff and jitter, then a clear failure of that source.

Figures of each run are printed (``-s``) and recorded in docs/reliability.md (Faults).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from elasticsearch import Elasticsearch, helpers

from forensics.bundle.manifest import MANIFEST
from forensics.listing import list_bundles
from forensics.stores import LocalStore
from forensics.stores.s3 import S3Store
from forensics.verify import verify_bundle
from tests.conftest import ROOT, free_port, service_unavailable, start_service, wait_http
from tests.helpers import log_records, write_jsonl

WINDOW_ARGS = ["--since", "2026-11-20T09:00:00Z", "--until", "2026-11-20T11:00:00Z"]
CLUSTER_DOCS = int(os.environ.get("FORENSICS_FAULT_ES_DOCS", "50000"))
CLUSTER_SCRIPT = ROOT / "scripts" / "services" / "elasticsearch-cluster.sh"


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the CLI of this working tree as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "forensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def popen_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the CLI as a real process (stdout and stderr piped, text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "forensics.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def one_line(stderr: str, *fragments: str) -> str:
    """The single non-empty stderr line, with every fragment in it and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- 1. an Elasticsearch node dies in the middle of an export ----------------------------------


@pytest.fixture(scope="module")
def es_cluster() -> Iterator[list[str]]:
    """Three real Elasticsearch nodes (ports 9211-9213); stopped after the module."""
    urls = start_service("elasticsearch-cluster").split(",")
    try:
        yield urls
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop"], capture_output=True, check=False)


def _search_stats(client: Elasticsearch) -> dict[str, tuple[int, int]]:
    """Per node name: (open search contexts, queries run so far)."""
    stats = client.nodes.stats(metric="indices", index_metric="search")
    return {
        node["name"]: (
            int(node["indices"]["search"]["open_contexts"]),
            int(node["indices"]["search"]["query_total"]),
        )
        for node in stats["nodes"].values()
    }


def _export(
    base: Path, name: str, hosts: list[str], index: str
) -> tuple[subprocess.Popen[str], Path]:
    base.mkdir(parents=True, exist_ok=True)
    (base / "forensics.toml").write_text(
        f'[[source]]\nname = "{name}"\ntype = "elasticsearch"\n'
        f"hosts = {json.dumps(hosts)}\nindex = {json.dumps(index)}\n"
        "page_size = 200\nslices = 1\nrequest_timeout = 10\nmax_retries = 3\n"
        "retry_backoff = 0.2\n"
    )
    store = base / "store"
    process = popen_cli(
        "preserve",
        "--incident",
        "INC-ES",
        "--config",
        "forensics.toml",
        "--store",
        str(store),
        "--json",
        *WINDOW_ARGS,
        cwd=base,
    )
    return process, store


def _check_export(
    process: subprocess.Popen[str], store: Path, name: str, expected: set[str]
) -> str:
    """Complete and reconciled with exactly ``expected`` ids, or failed with nothing kept."""
    out, err = process.communicate(timeout=600)
    result = json.loads(out)
    local = LocalStore(store)
    verified = verify_bundle(local, "INC-ES", result["bundle_id"], record=False)
    assert verified.intact, verified.problems
    manifest = json.loads((store / "INC-ES" / result["bundle_id"] / MANIFEST).read_text())
    (entry,) = manifest["sources"]
    files = [f for f in manifest["files"] if f["source"] == name]
    if process.returncode == 0:
        assert entry["status"] == "ok" and entry["reconciled"], entry
        refs: list[str] = []
        for item in files:
            if item["dataset"] != "rejects":
                table = pq.read_table(store / "INC-ES" / result["bundle_id"] / item["path"])
                refs.extend(table.column("source_ref").to_pylist())
        assert len(refs) == len(set(refs)), "duplicate documents in the bundle"
        assert {ref.split("/", 1)[1] for ref in refs} == expected
        assert entry["reported_count"] == entry["rows_written"] == len(expected)
        return "complete"
    assert process.returncode == 1
    line = one_line(err, name, "failed")
    assert entry["status"] == "failed" and entry["error"], entry
    assert files == [], "a failed source keeps no partial data"
    assert entry["rows_written"] == 0
    print(f"failure line: {line}")
    return "failed clearly"


def test_es_node_killed_mid_export(es_cluster: list[str], tmp_path: Path) -> None:
    client = Elasticsearch(es_cluster, request_timeout=30, max_retries=3, retry_on_timeout=True)
    index = f"faults-{uuid.uuid4().hex[:8]}"
    client.indices.create(
        index=index,
        settings={
            "number_of_shards": 3,
            "number_of_replicas": 1,
            "unassigned.node_left.delayed_timeout": "0s",  # re-replicate at once
        },
    )
    records = log_records(CLUSTER_DOCS, step_s=7200 / CLUSTER_DOCS)
    expected = {f"doc-{i}" for i in range(CLUSTER_DOCS)}
    helpers.bulk(
        client,
        ({"_index": index, "_id": f"doc-{i}", "_source": r} for i, r in enumerate(records)),
        chunk_size=5000,
    )
    client.indices.refresh(index=index)
    client.cluster.health(index=index, wait_for_status="green", timeout="60s")

    process, store = _export(tmp_path / "run1", "es-cluster", es_cluster, index)
    # Wait until the point in time is open and 20 pages were read, then kill a node that holds
    # one of its shard contexts (SIGKILL of the JVM, like a crash).
    deadline = time.monotonic() + 120
    victim, base_queries = None, None
    while time.monotonic() < deadline and process.poll() is None:
        stats = _search_stats(client)
        holding = sorted(n for n, (contexts, _) in stats.items() if contexts > 0)
        queries = sum(q for _, q in stats.values())
        if holding and base_queries is None:
            base_queries = queries
        if holding and base_queries is not None and queries - base_queries >= 3 * 20:
            victim = holding[-1]
            break
        time.sleep(0.02)
    assert victim is not None, "the export ended before a node could be killed; use more docs"
    subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "kill-node", victim.rsplit("-", 1)[1]],
        check=True,
        capture_output=True,
    )
    survivors = [u for u in es_cluster if not u.endswith(f":{9210 + int(victim[-1])}")]
    first = _check_export(process, store, "es-cluster", expected)

    # The cluster heals (replicas re-allocated on the two survivors): a new export is complete.
    healed = Elasticsearch(survivors, request_timeout=30)
    healed.cluster.health(index=index, wait_for_status="green", timeout="120s")
    process, store = _export(tmp_path / "run2", "es-healed", survivors, index)
    second = _check_export(process, store, "es-healed", expected)
    assert second == "complete"
    print(
        f"ES node {victim} killed mid-export of {CLUSTER_DOCS} docs: {first}; after heal: {second}"
    )


# -- 2. the S3 endpoint freezes during the upload -----------------------------------------------


@pytest.fixture
def own_moto(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A dedicated moto S3 server process (this test freezes it)."""
    port = free_port()
    log = tmp_path / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        if not wait_http(endpoint, 30):
            service_unavailable(f"moto server did not start: {log.read_text()[-2000:]}")
        yield endpoint, process, log
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


def test_s3_frozen_during_upload_then_resume(
    own_moto: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    endpoint, moto, moto_log = own_moto
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"evidence-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    sources = 24
    config = ""
    for part in range(sources):
        write_jsonl(tmp_path / "logs" / f"s{part}.jsonl", log_records(1000, step_s=7.0))
        config += f'[[source]]\nname = "s{part}"\ntype = "files"\npaths = ["logs/s{part}.jsonl"]\n'
    (tmp_path / "forensics.toml").write_text(config)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "FORENSICS_S3_CONNECT_TIMEOUT": "1",
        "FORENSICS_S3_READ_TIMEOUT": "1",
        "FORENSICS_S3_MAX_ATTEMPTS": "3",
    }

    def preserve(prefix: str, staging: Path) -> subprocess.Popen[str]:
        return popen_cli(
            "preserve",
            "--incident",
            "INC-S3",
            "--config",
            "forensics.toml",
            "--store",
            f"s3://{bucket}/{prefix}",
            "--staging",
            str(staging),
            "--json",
            *WINDOW_ARGS,
            cwd=tmp_path,
            env=env,
        )

    reference = preserve("reference", tmp_path / "staging-ref")
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    ref_digest = json.loads(out)["digest"]

    staging = tmp_path / "staging"
    process = preserve("frozen", staging)
    seen = moto_log.stat().st_size
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(staging.glob("INC-S3/*/staged.json")):
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)
    while time.monotonic() < deadline:  # the first data object stored: freeze the endpoint
        with moto_log.open("rb") as log:
            log.seek(seen)
            if b"PUT /" + bucket.encode() + b"/frozen/" in log.read():
                break
        assert process.poll() is None, "the upload ended before the endpoint could be frozen"
        time.sleep(0.002)
    moto.send_signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        out, err = process.communicate(timeout=120)
        waited = time.monotonic() - frozen_at
    finally:
        moto.send_signal(signal.SIGCONT)
    (staged,) = staging.glob("INC-S3/*/staged.json")
    bundle_id = staged.parent.name
    assert process.returncode == 1
    line = one_line(err, "did not answer", f"--resume {bundle_id}", str(staged.parent))
    # Retried (3 attempts of 1 s read timeout each, with backoff) before giving up.
    assert waited >= 2.5, waited
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"frozen/INC-S3/{bundle_id}/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert keys and not any(k.endswith(MANIFEST) for k in keys), keys
    staged_files = len(json.loads(staged.read_text())["files"])

    # Resume later, with the source data gone: nothing is collected again.
    shutil.rmtree(tmp_path / "logs")
    done = run_cli(
        "preserve",
        "--incident",
        "INC-S3",
        "--resume",
        bundle_id,
        "--store",
        f"s3://{bucket}/frozen",
        "--staging",
        str(staging),
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["digest"] == ref_digest
    store = S3Store(bucket, "frozen", endpoint_url=endpoint)
    verified = verify_bundle(store, "INC-S3", bundle_id, record=False)
    assert verified.intact, verified.problems
    assert verified.digest == ref_digest
    assert not staged.parent.exists()
    print(
        f"S3 frozen after {len(keys)} of {staged_files} objects; failed after {waited:.1f}s: "
        f"{line[:160]}...; resumed to digest {ref_digest[:16]} (= reference)"
    )


# -- 3. the staging disk fills up -------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root; CI runs as root and must not skip)."""
    target = tmp_path / "tiny"
    target.mkdir()
    if os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        service_unavailable(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_staging_disk_full(small_tmpfs: Path, tmp_path: Path) -> None:
    # Incompressible messages: the Parquet file is larger than the 2 MB disk.
    records = log_records(40_000, step_s=0.15)
    for record in records:
        record["message"] = uuid.uuid4().hex + uuid.uuid4().hex
    write_jsonl(tmp_path / "logs" / "big.jsonl", records)
    (tmp_path / "forensics.toml").write_text(
        '[[source]]\nname = "big"\ntype = "files"\npaths = ["logs/big.jsonl"]\n'
    )
    store = tmp_path / "store"
    done = run_cli(
        "preserve",
        "--incident",
        "INC-FULL",
        "--config",
        "forensics.toml",
        "--store",
        str(store),
        "--staging",
        str(small_tmpfs),
        *WINDOW_ARGS,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    line = one_line(done.stderr, str(small_tmpfs), "is full", "nothing was sealed", "--staging")
    bundles = list_bundles(LocalStore(store)) if store.exists() else []
    assert not bundles, bundles  # nothing sealed, nothing half-stored
    assert list(small_tmpfs.rglob("*")) in ([], [small_tmpfs / "INC-FULL"]), "staging cleaned"
    assert shutil.disk_usage(small_tmpfs).used < 64 * 1024
    print(f"disk full: {line}")


# -- 4. sources answer 429/503 or hang ------------------------------------------------------

PROXY = r'''
"""A fault-injecting HTTP proxy: requests first..first+count-1 get the fault, the rest pass."""
import json, sys, threading, time, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

upstream, mode, first, count, port, log = sys.argv[1:7]
first, count, port = int(first), int(count), int(port)
lock = threading.Lock()
seen = [0]
DROP = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.path == "/__ready":  # the test's start-up probe: not counted
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with lock:
            seen[0] += 1
            n = seen[0]
        fault = first <= n < first + count
        with open(log, "a") as out:
            record = {"n": n, "t": time.time(), "fault": fault, "path": self.path}
            out.write(json.dumps(record) + "\n")
        if fault and mode == "hang":
            time.sleep(600)
            return
        if fault and mode not in ("partial", "drop"):
            status = int(mode)
            payload = json.dumps({"status": status, "error": {"type": "injected",
                                  "reason": f"injected {status}"}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in DROP}
        request = urllib.request.Request(upstream + self.path, data=body, method=self.command,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, answer, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            status, answer, data = exc.code, exc.headers, exc.read()
        if fault and mode in ("partial", "drop"):  # tamper with a real answer
            page = json.loads(data)
            if mode == "partial":
                page["_shards"]["failed"] = 1
                page["_shards"]["failures"] = [{"reason": {"type": "injected_shard_failure"}}]
            page["hits"]["hits"] = page["hits"]["hits"][1:]  # a document silently lost
            data = json.dumps(page).encode()
        self.send_response(status)
        for key, value in answer.items():
            if key.lower() not in DROP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


class Proxy:
    """A running fault proxy process and the requests it saw."""

    def __init__(self, tmp_path: Path, upstream: str, mode: str, first: int, count: int) -> None:
        script = tmp_path / "fault_proxy.py"
        script.write_text(PROXY)
        self.log = tmp_path / f"proxy-{uuid.uuid4().hex[:6]}.jsonl"
        self.log.touch()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        arguments = [upstream, mode, *map(str, (first, count, port, self.log))]
        self.process = subprocess.Popen([sys.executable, str(script), *arguments])
        if not wait_http(self.url + "/__ready", 15):
            self.stop()
            raise AssertionError("the fault proxy did not start")

    def requests(self) -> list[dict[str, Any]]:
        """Every request seen, in order."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        """End the proxy process."""
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[list[Proxy]]:
    """Proxies started by a test, stopped after it."""
    started: list[Proxy] = []
    yield started
    for proxy in started:
        proxy.stop()


def _gaps(requests: list[dict[str, Any]]) -> list[float]:
    return [b["t"] - a["t"] for a, b in itertools.pairwise(requests)]


def _prom_preserve(tmp_path: Path, url: str, **options: Any) -> subprocess.CompletedProcess[str]:
    settings = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "prom"\ntype = "prometheus"\nurl = "{url}"\n'
        'queries = [{name = "up", expr = "up"}]\n' + settings
    )
    return run_cli(
        "preserve",
        "--incident",
        "INC-P",
        *WINDOW_ARGS,
        "--store",
        str(tmp_path / "store"),
        "--json",
        cwd=tmp_path,
    )


def _first_source(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(done.stdout)["sources"][0])


def test_prometheus_429_then_ok_is_retried_with_backoff(
    prometheus_url: str, tmp_path: Path, proxies: list[Proxy]
) -> None:
    direct = _prom_preserve(tmp_path / "direct", prometheus_url)
    assert direct.returncode == 0, direct.stderr
    proxy = Proxy(tmp_path, prometheus_url, "429", first=1, count=2)
    proxies.append(proxy)
    done = _prom_preserve(tmp_path / "proxied", proxy.url, max_retries=3, retry_backoff=0.2)
    assert done.returncode == 0, done.stderr
    assert _first_source(done)["written"] == _first_source(direct)["written"] > 0
    seen = proxy.requests()
    assert [r["fault"] for r in seen[:3]] == [True, True, False]
    first_gap, second_gap = _gaps(seen[:3])
    assert first_gap >= 0.2 * 0.5 and second_gap >= 0.4 * 0.5, (first_gap, second_gap)
    print(f"prometheus 429 x2: retried, gaps {first_gap:.2f}s {second_gap:.2f}s, same rows")


def test_prometheus_503_forever_fails_after_bounded_retries(
    prometheus_url: str, tmp_path: Path, proxies: list[Proxy]
) -> None:
    proxy = Proxy(tmp_path, prometheus_url, "503", first=1, count=10**6)
    proxies.append(proxy)
    done = _prom_preserve(tmp_path, proxy.url, max_retries=2, retry_backoff=0.1)
    assert done.returncode == 1
    line = one_line(done.stderr, "prom", "HTTP 503", "gave up after 3 attempts")
    assert len(proxy.requests()) == 3
    assert _first_source(done)["status"] == "failed"
    print(f"prometheus 503 forever: {line}")


def test_prometheus_hanging_times_out_then_fails(
    prometheus_url: str, tmp_path: Path, proxies: list[Proxy]
) -> None:
    proxy = Proxy(tmp_path, prometheus_url, "hang", first=1, count=10**6)
    proxies.append(proxy)
    began = time.monotonic()
    done = _prom_preserve(tmp_path, proxy.url, max_retries=1, retry_backoff=0.1, request_timeout=1)
    took = time.monotonic() - began
    assert done.returncode == 1
    line = one_line(done.stderr, "prom", "did not answer", "within 1s", "gave up after 2 attempts")
    assert len(proxy.requests()) == 2
    assert took < 30
    print(f"prometheus hanging: {line}")


@pytest.fixture
def es_index(es_url: str) -> Iterator[tuple[str, set[str]]]:
    """A small index on the shared node (deleted afterwards)."""
    client = Elasticsearch(es_url, request_timeout=30)
    index = f"faults-retry-{uuid.uuid4().hex[:8]}"
    records = log_records(500, step_s=10)
    helpers.bulk(
        client,
        ({"_index": index, "_id": f"doc-{i}", "_source": r} for i, r in enumerate(records)),
        refresh=True,
    )
    yield index, {f"doc-{i}" for i in range(500)}
    client.options(ignore_status=404).indices.delete(index=index)


def _es_preserve(
    tmp_path: Path, url: str, index: str, **options: Any
) -> subprocess.CompletedProcess[str]:
    settings = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "es"\ntype = "elasticsearch"\nhosts = ["{url}"]\n'
        f'index = "{index}"\npage_size = 100\nslices = 1\n' + settings
    )
    return run_cli(
        "preserve",
        "--incident",
        "INC-E",
        *WINDOW_ARGS,
        "--store",
        str(tmp_path / "store"),
        "--json",
        cwd=tmp_path,
    )


def test_es_429_mid_export_is_retried_with_backoff(
    es_url: str, es_index: tuple[str, set[str]], tmp_path: Path, proxies: list[Proxy]
) -> None:
    index, ids = es_index
    # requests: resolve, open PIT, count, then pages: pages 1-2 answer 429 first
    proxy = Proxy(tmp_path, es_url, "429", first=5, count=2)
    proxies.append(proxy)
    done = _es_preserve(tmp_path, proxy.url, index, max_retries=3, retry_backoff=0.2)
    assert done.returncode == 0, done.stderr
    source = _first_source(done)
    assert source["written"] == source["reported"] == len(ids) and source["reconciled"]
    seen = proxy.requests()
    faults = [i for i, r in enumerate(seen) if r["fault"]]
    assert len(faults) == 2
    gaps = _gaps(seen[faults[0] : faults[-1] + 2])
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps
    print(f"elasticsearch 429 x2 mid-export: retried, gaps {gaps[0]:.2f}s {gaps[1]:.2f}s")


def test_es_503_forever_fails_after_bounded_retries(
    es_url: str, es_index: tuple[str, set[str]], tmp_path: Path, proxies: list[Proxy]
) -> None:
    index, _ = es_index
    proxy = Proxy(tmp_path, es_url, "503", first=1, count=10**6)
    proxies.append(proxy)
    done = _es_preserve(tmp_path, proxy.url, index, max_retries=2, retry_backoff=0.1)
    assert done.returncode == 1
    line = one_line(done.stderr, "es", "HTTP 503", "gave up after 3 attempts")
    assert len(proxy.requests()) == 3
    print(f"elasticsearch 503 forever: {line}")


def test_es_hanging_times_out_then_fails(
    es_url: str, es_index: tuple[str, set[str]], tmp_path: Path, proxies: list[Proxy]
) -> None:
    index, _ = es_index
    proxy = Proxy(tmp_path, es_url, "hang", first=1, count=10**6)
    proxies.append(proxy)
    done = _es_preserve(
        tmp_path, proxy.url, index, max_retries=1, retry_backoff=0.1, request_timeout=1
    )
    assert done.returncode == 1
    line = one_line(done.stderr, "es", "ConnectionTimeout", "gave up after 2 attempts")
    assert len(proxy.requests()) == 2
    print(f"elasticsearch hanging: {line}")


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("partial", "returned a partial answer (1 of"),
        ("drop", "read 499 documents from the point in time but Elasticsearch counted 500"),
    ],
)
def test_es_short_page_fails_the_source(
    es_url: str,
    es_index: tuple[str, set[str]],
    tmp_path: Path,
    proxies: list[Proxy],
    mode: str,
    fragment: str,
) -> None:
    """A page with failed shards, or silently short, fails the source: nothing half-kept."""
    index, _ = es_index
    proxy = Proxy(tmp_path, es_url, mode, first=5, count=1)  # the second page
    proxies.append(proxy)
    done = _es_preserve(tmp_path, proxy.url, index, max_retries=1, retry_backoff=0.1)
    assert done.returncode == 1
    line = one_line(done.stderr, "es", fragment)
    source = _first_source(done)
    assert source["status"] == "failed" and source["written"] == 0
    print(f"elasticsearch {mode} page: {line}")
