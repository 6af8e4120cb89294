"""Prometheus collector against a real Prometheus server with the 2026-11-20 history backfilled.

The server is started by scripts/services/prometheus.sh (fixture ``prometheus_url``); the
history comes from tests/services/prometheus/backfill.py: checkout v2.14.0 is deployed at 10:02,
its error ratio and p99 latency jump from 10:06:13 and recover after the 10:41 rollback.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from collectors.prometheus import EvalRange, PrometheusCollector, sample_value
from forensics.config import parse_config
from forensics.errors import ConfigError, SourceError
from forensics.window import Window
from tests.conftest import ROOT, free_port
from tests.contract import Rejects
from tests.helpers import WINDOW

WINDOW_ARGS = ["--since", "2026-11-20T09:00:00Z", "--until", "2026-11-20T11:00:00Z"]


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)


def collector(window: Window = WINDOW, base: Path = Path(), **options: Any) -> PrometheusCollector:
    source = {"name": "prom", "type": "prometheus", **options}
    config = parse_config({"source": [source]}, base_dir=base)
    return PrometheusCollector(config.sources[0], window=window)


def collect(c: PrometheusCollector) -> tuple[pa.Table, Rejects]:
    rejects = Rejects()
    with c:
        c.open()
        table = pa.Table.from_batches(list(c.batches(rejects)), schema=c.schema)
    written = table.num_rows + len(rejects.items) + sum(c.report.skipped.values())
    assert c.report.reported_count == written
    return table, rejects


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        # This working tree's code, whatever the editable install points at.
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- against the real server ---------------------------------------------------------


def test_default_queries_cover_baseline_and_incident_and_see_the_jump(prometheus_url: str) -> None:
    c = collector(url=prometheus_url)
    table, rejects = collect(c)
    assert not rejects.items
    df = table.to_pandas()
    assert set(df["metric"]) == {
        "request_rate",
        "error_ratio",
        "latency_p50",
        "latency_p90",
        "latency_p99",
        "process_cpu_cores",
        "node_cpu_busy_ratio",
        "process_resident_memory_bytes",
        "node_memory_used_ratio",
        "node_filesystem_avail_bytes",
        "process_open_fds",
        "node_tcp_established",
        "up",
    }
    # Baseline of the window's length before it, then the window; 15 s step.
    assert df["@timestamp"].min() == at(7, 0)
    assert df["@timestamp"].max() == at(10, 59, 45)
    ranges = c.report.query["ranges"]
    assert [r["period"] for r in ranges] == ["baseline", "incident"]
    assert (
        ranges[0]["since"] == "2026-11-20T07:00:00Z"
        and ranges[1]["until"] == "2026-11-20T11:00:00Z"
    )
    assert c.report.query["step_seconds"] == 15

    checkout = df[df["labels"].str.contains('"job": "checkout"')]

    def series(metric: str, since: datetime, until: datetime) -> Any:
        rows = checkout[checkout["metric"] == metric]
        return rows[(rows["@timestamp"] >= since) & (rows["@timestamp"] < until)]["value"]

    assert series("error_ratio", at(7, 0), at(10, 6)).max() < 0.01
    assert series("error_ratio", at(10, 15), at(10, 40)).min() > 0.1
    assert series("error_ratio", at(10, 45), at(11, 0)).max() < 0.01
    baseline_p99 = series("latency_p99", at(7, 0), at(9, 0)).median()
    assert series("latency_p99", at(10, 15), at(10, 40)).min() > 5 * baseline_p99
    assert series("latency_p99", at(10, 45), at(11, 0)).max() < 2 * baseline_p99
    # Every row names its labels as sorted JSON; source_ref identifies one sample.
    for labels in df["labels"].head(200):
        keys = list(json.loads(labels))
        assert keys == sorted(keys)
    assert df["source_ref"].is_unique


def test_custom_queries_plain_and_named(prometheus_url: str) -> None:
    c = collector(
        url=prometheus_url,
        baseline=0,
        queries=[
            'process_open_fds{job="checkout", instance="10.0.2.10:8080"}',
            {"name": "scaled", "expr": 'count(up{job="checkout"})'},
        ],
    )
    table, _ = collect(c)
    rows = table.to_pylist()
    fds = [r for r in rows if r["metric"].startswith("process_open_fds")]
    assert len(fds) == 480
    assert json.loads(fds[0]["labels"]) == {
        "__name__": "process_open_fds",
        "instance": "10.0.2.10:8080",
        "job": "checkout",
    }
    scaled = {r["@timestamp"]: r["value"] for r in rows if r["metric"] == "scaled"}
    assert scaled[at(10, 0)] == 3 and scaled[at(10, 30)] == 5
    assert json.loads(next(r for r in rows if r["metric"] == "scaled")["labels"]) == {}
    assert c.report.query["queries"][1] == {"name": "scaled", "expr": 'count(up{job="checkout"})'}
    assert c.report.query["default_queries"] is False


def test_baseline_option(prometheus_url: str) -> None:
    query = ['up{job="search", instance="10.0.4.10:8080"}']
    table, _ = collect(collector(url=prometheus_url, queries=query, baseline="30m"))
    stamps = table.column("@timestamp").to_pylist()
    assert min(stamps) == at(8, 30) and len(stamps) == 120 + 480
    c = collector(url=prometheus_url, queries=query, baseline=False)
    table, _ = collect(c)
    assert min(table.column("@timestamp").to_pylist()) == at(9, 0)
    assert [r["period"] for r in c.report.query["ranges"]] == ["incident"]


def test_step_option_and_default_step(prometheus_url: str) -> None:
    c = collector(url=prometheus_url, queries=['up{job="node"}'], baseline=0, step="5m")
    table, _ = collect(c)
    assert table.num_rows == 3 * 24
    assert c.report.query["step_seconds"] == 300
    # The default keeps a window at <= ~1,000 points per series, never below 15 s.
    day = Window(at(0, 0), at(0, 0) + timedelta(days=1))
    assert collector(day, url=prometheus_url).step_ms == 87_000
    assert collector(url=prometheus_url).step_ms == 15_000


def test_chunked_requests_give_the_same_rows(prometheus_url: str) -> None:
    query = ['node_netstat_Tcp_CurrEstab{instance="node-b:9100"}']
    whole, _ = collect(collector(url=prometheus_url, queries=query))
    chunked, _ = collect(collector(url=prometheus_url, queries=query, max_points_per_request=37))
    assert whole.num_rows == 960
    assert whole.equals(chunked)


def test_range_above_the_prometheus_point_limit_is_split(prometheus_url: str) -> None:
    # 0.5 s step over two hours: 14,400 points in one series, above Prometheus's 11,000 limit.
    c = collector(
        url=prometheus_url,
        queries=['up{job="search", instance="10.0.4.11:8080"}'],
        baseline=0,
        step="0.5s",
    )
    table, _ = collect(c)
    assert table.num_rows == 14_400
    assert table.column("source_ref").to_pandas().is_unique


def test_nan_and_infinities_are_kept_as_samples(prometheus_url: str) -> None:
    c = collector(
        url=prometheus_url,
        baseline=0,
        step="1h",
        queries=[
            {"name": "nan", "expr": "vector(0) / 0"},
            {"name": "inf", "expr": "vector(1) / 0"},
            {"name": "neg_inf", "expr": "vector(-1) / 0"},
        ],
    )
    table, rejects = collect(c)
    assert not rejects.items
    values = {r["metric"]: r["value"] for r in table.to_pylist()}
    assert math.isnan(values["nan"])
    assert values["inf"] == math.inf and values["neg_inf"] == -math.inf


def test_bad_promql_names_the_query(prometheus_url: str) -> None:
    c = collector(
        url=prometheus_url,
        queries=[{"name": "ok", "expr": "up"}, {"name": "broken", "expr": "rate(up["}],
    )
    with pytest.raises(SourceError) as caught:
        c.open()
    message = str(caught.value)
    assert "\n" not in message
    assert "'broken'" in message and "rate(up[" in message and "fix its expr" in message


def test_bad_promql_via_cli_is_one_line(prometheus_url: str, tmp_path: Path) -> None:
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "prom"\ntype = "prometheus"\nurl = "{prometheus_url}"\n'
        'queries = [{name = "broken", expr = "sum(up"}]\n'
    )
    done = run_cli("preserve", "--incident", "INC-1", *WINDOW_ARGS, "--store", "ev", cwd=tmp_path)
    assert_one_line(done, "prom", "'broken'", "fix its expr")


def test_unreachable_server_via_cli_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "prom"\ntype = "prometheus"\nurl = "http://127.0.0.1:{port}"\n'
        "request_timeout = 5\n"
    )
    done = run_cli("preserve", "--incident", "INC-1", *WINDOW_ARGS, "--store", "ev", cwd=tmp_path)
    assert_one_line(
        done, "cannot reach Prometheus", f"127.0.0.1:{port}", "check that it is running"
    )


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_secret_canary_appears_nowhere(prometheus_url: str, tmp_path: Path, auth: str) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    options = (
        'bearer_token_env = "PROM_CANARY"\n'
        if auth == "bearer"
        else 'username = "forensics"\npassword_env = "PROM_CANARY"\n'
    )
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "prom"\ntype = "prometheus"\nurl = "{prometheus_url}"\n'
        'queries = ["up{job=\\"node\\"}", {name = "broken", expr = "sum(up"}]\n'
        f'headers = {{X-Scope-OrgID = "tenant-1"}}\n{options}'
    )
    env = {"PROM_CANARY": canary}
    ok = tmp_path / "ok.toml"
    ok.write_text(
        (tmp_path / "forensics.toml")
        .read_text()
        .replace(', {name = "broken", expr = "sum(up"}', "")
    )
    done = run_cli(
        "preserve",
        "--incident",
        "INC-1",
        *WINDOW_ARGS,
        "--store",
        "ev",
        "--config",
        str(ok),
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sources"][0]["written"] == 3 * 960 and result["sources"][0]["reconciled"]
    failed = run_cli(
        "preserve", "--incident", "INC-2", *WINDOW_ARGS, "--store", "ev", cwd=tmp_path, env=env
    )
    assert_one_line(failed, "'broken'")
    for output in (done, failed):
        assert canary not in output.stdout + output.stderr
    files = [p for p in (tmp_path / "ev").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".parquet") for p in files)
    for path in files:
        assert canary.encode() not in path.read_bytes(), path


# -- options and sample parsing (no server needed) -----------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"nosuch": 1}, "unknown key"),
        ({"queries": []}, "non-empty list"),
        ({"queries": [{"name": "a", "expr": "up"}, {"name": "a", "expr": "up"}]}, "used twice"),
        ({"queries": [{"name": "a"}]}, "queries item 1"),
        ({"headers": {"Authorization": "x"}}, "bearer_token_env"),
        ({"url": "http://user:pw@host:9090"}, "must not carry credentials"),
        ({"url": "ftp://host"}, "http://"),
        ({"max_points_per_request": 20_000}, "max_points_per_request"),
        ({"step": "fast"}, "step"),
        ({"baseline": "-1h"}, "baseline"),
        ({"username": "u"}, "password_env"),
        ({"kind": "logs"}, "kind 'logs' is not supported"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        collector(**options)
    assert fragment in str(caught.value)
    assert "pw" not in str(caught.value)


def test_missing_secret_variable_is_a_config_error() -> None:
    c = collector(url="http://127.0.0.1:1", bearer_token_env="PROM_NOT_SET_ANYWHERE")
    with pytest.raises(ConfigError, match="PROM_NOT_SET_ANYWHERE is not set"):
        c.open()


def test_sample_values() -> None:
    assert sample_value("1.5") == 1.5 and sample_value("1e3") == 1000.0
    assert sample_value("+Inf") == math.inf and sample_value("-Inf") == -math.inf
    assert math.isnan(sample_value("NaN"))
    for bad in ("abc", "1_000", "", "0x10", True, None, [1]):
        with pytest.raises(ValueError):
            sample_value(bad)


def test_ranges_are_split_without_gaps_or_overlap() -> None:
    span = EvalRange("incident", 0, 99 * 15_000, 15_000, 100 * 15_000)
    chunks = list(span.chunks(30))
    assert chunks[0] == (0, 29 * 15_000) and chunks[-1] == (90 * 15_000, 99 * 15_000)
    points = [t for start, end in chunks for t in range(start, end + 1, 15_000)]
    assert points == list(range(0, 100 * 15_000, 15_000))
