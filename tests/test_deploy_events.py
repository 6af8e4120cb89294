"""CI/CD and Kubernetes deployment exports, with realistic files written here."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from collectors import collector_types
from collectors.deploy_events import workload_of
from forensics.config import parse_config
from forensics.errors import ConfigError, SourceError
from tests.contract import Rejects
from tests.contract_cases.deploy_events import (
    at,
    ci_records,
    k8s_events,
    replica_set,
    replica_sets,
)
from tests.helpers import WINDOW


def collect(base: Path, **options: Any) -> tuple[list[dict[str, Any]], Rejects, Any]:
    source = {"name": "deploys", "type": "deploy_events", "kind": "changes", **options}
    config = parse_config({"source": [source]}, base_dir=base)
    collector = collector_types()["deploy_events"](config.sources[0], window=WINDOW)
    rejects = Rejects()
    with collector:
        collector.open()
        table = pa.Table.from_batches(list(collector.batches(rejects)), schema=collector.schema)
    report = collector.report
    assert report.reported_count == table.num_rows + len(rejects.items) + sum(
        report.skipped.values()
    )
    return table.to_pylist(), rejects, report


def test_jsonl_canonical_mapping(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in ci_records())))
    rows, rejects, report = collect(tmp_path, paths=["*.jsonl.gz"])
    assert not rejects.items
    assert report.reported_count == 6 and report.skipped == {"outside_window": 2}
    by_id = {r["change.id"]: r for r in rows}
    assert by_id["run-2"]["change.kind"] == "deploy"  # no kind: default_kind
    assert by_id["run-3"]["change.kind"] == "config"
    details = json.loads(by_id["run-1"]["details"])
    assert details["pipeline"] == "release" and details["details"]["environment"] == "prod"
    assert by_id["run-1"]["@timestamp"] == datetime(2026, 11, 20, 9, 5, tzinfo=UTC)
    assert report.query["files"][0]["sha256"]


def test_github_actions_runs_with_field_mapping(tmp_path: Path) -> None:
    runs = [
        {
            "id": 7001,
            "name": "deploy-prod",
            "display_title": "Deploy checkout 1.4.0",
            "head_sha": "a" * 40,
            "status": "completed",
            "conclusion": "success",
            "updated_at": "2026-11-20T09:12:00Z",
            "run_started_at": "2026-11-20T09:02:00Z",
            "actor": {"login": "alice"},
            "repository": {"name": "checkout"},
        }
    ]
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps(r) for r in runs) + "\n")
    rows, _, _ = collect(
        tmp_path,
        paths=["runs.jsonl"],
        fields={
            "@timestamp": "updated_at",
            "change.id": "id",
            "actor": "actor.login",
            "summary": "display_title",
            "service.name": "repository.name",
        },
    )
    (row,) = rows
    assert row["actor"] == "alice" and row["service.name"] == "checkout"
    assert row["change.id"] == "7001" and row["change.kind"] == "deploy"
    assert json.loads(row["details"])["conclusion"] == "success"


def test_csv_rows_and_rejects(tmp_path: Path) -> None:
    text = (
        "@timestamp;service.name;change.kind;summary\n"
        f'{at(5)};checkout;deploy;"Deploy; with ""quotes""\nand a new line"\n'
        "\n"
        f"{at(6)};cart;config\n"
        f'{at(7)};cart;deploy;"unterminated\n'
    )
    (tmp_path / "d.csv").write_text(text)
    rows, rejects, report = collect(tmp_path, paths=["d.csv"], format="csv", delimiter=";")
    assert [r["summary"] for r in rows] == ['Deploy; with "quotes"\nand a new line']
    assert rows[0]["source_ref"] == "d.csv:2"
    assert rows[0]["raw"] == f'{at(5)};checkout;deploy;"Deploy; with ""quotes""\nand a new line"'
    reasons = [error for _, error, _ in rejects.items]
    assert any("3 fields where the header has 4" in r for r in reasons)
    assert len(rejects.items) == 2
    assert report.skipped == {"blank_line": 1}
    assert rejects.items[0][0] == "d.csv:5"
    assert rejects.items[0][2] == f"{at(6)};cart;config\n".encode()


def test_kubernetes_events_classified(tmp_path: Path) -> None:
    (tmp_path / "events.json").write_text(json.dumps(k8s_events()))
    rows, rejects, report = collect(tmp_path, paths=["events.json"], format="k8s_events")
    assert report.reported_count == 14 and report.skipped == {"outside_window": 1}
    assert [e for _, e, _ in rejects.items] == [
        "event has no lastTimestamp, eventTime or firstTimestamp"
    ]
    kinds = {(json.loads(r["details"])["reason"], r["source_ref"].split("#")[1]): r for r in rows}
    by_reason: dict[str, list[str]] = {}
    for (reason, _), row in kinds.items():
        by_reason.setdefault(reason, []).append(row["change.kind"])
    assert by_reason["ScalingReplicaSet"] == ["scaling"]
    assert by_reason["SuccessfulRescale"] == ["scaling"]
    assert by_reason["Pulled"] == ["deploy", "other"]  # fresh pull vs image already present
    assert by_reason["Created"] == ["deploy"]
    assert by_reason["Started"] == ["deploy", "other"]  # new pod vs a restart of the old one
    assert by_reason["BackOff"] == ["other"] and by_reason["Unhealthy"] == ["other"]
    assert by_reason["OOMKilling"] == ["other"]
    scaled = next(r for r in rows if json.loads(r["details"])["reason"] == "ScalingReplicaSet")
    details = json.loads(scaled["details"])
    assert details["scale"] == {
        "direction": "up",
        "replicaset": "checkout-7d9f8b6c5d",
        "replicas": 1,
    }
    assert scaled["actor"] == "deployment-controller"
    assert scaled["service.name"] == "checkout"
    pulled = next(
        r for r in rows if r["change.kind"] == "deploy" and "pulled" in r["summary"].lower()
    )
    assert json.loads(pulled["details"])["image"] == "registry/checkout:1.4.0"
    assert pulled["service.name"] == "checkout"  # pod name without its hashes
    assert pulled["actor"] == "kubelet"
    assert pulled["@timestamp"] == datetime(2026, 11, 20, 9, 10, 18, tzinfo=UTC)
    assert json.loads(pulled["raw"])["involvedObject"]["kind"] == "Pod"


def test_events_v1_and_watch_stream(tmp_path: Path) -> None:
    """``events.k8s.io/v1`` objects, concatenated as ``kubectl get events -w -o json`` writes."""
    events = [
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "eventTime": "2026-11-20T09:30:00.123456Z",
            "metadata": {"name": "web.1", "namespace": "shop", "uid": "u1"},
            "note": "Updated image to registry/web:2",
            "reason": "Updated",
            "regarding": {"kind": "Deployment", "name": "web", "namespace": "shop"},
            "reportingController": "argocd",
            "type": "Normal",
        },
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "eventTime": None,
            "deprecatedLastTimestamp": "2026-11-20T09:31:00Z",
            "metadata": {"name": "web.2", "namespace": "shop", "uid": "u2"},
            "note": "0/3 nodes are available: insufficient cpu",
            "reason": "FailedScheduling",
            "regarding": {"kind": "Pod", "name": "web-0", "namespace": "shop"},
            "type": "Warning",
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "not-an-event"}},
    ]
    (tmp_path / "watch.json").write_text("\n".join(json.dumps(e, indent=2) for e in events))
    rows, rejects, _ = collect(tmp_path, paths=["watch.json"], format="k8s_events")
    assert [r["change.kind"] for r in rows] == ["deploy", "other"]
    assert rows[0]["@timestamp"] == datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=UTC)
    assert rows[0]["actor"] == "argocd"
    assert rows[1]["service.name"] == "web"
    assert len(rejects.items) == 1 and "not a Event" in rejects.items[0][1]


def test_replicaset_history(tmp_path: Path) -> None:
    (tmp_path / "rs.json").write_text(json.dumps(replica_sets()))
    rows, rejects, report = collect(tmp_path, paths=["rs.json"], format="k8s_replicasets")
    assert report.reported_count == 4 and report.skipped == {"outside_window": 1}
    assert rejects.items[0][1] == "ReplicaSet has no metadata.creationTimestamp"
    by_revision = {json.loads(r["details"])["revision"]: r for r in rows}
    second = json.loads(by_revision[2]["details"])
    assert second["images"] == {
        "checkout": "registry/checkout:1.4.0",
        "sidecar": "envoyproxy/envoy:v1.29",
    }
    assert second["from_images"]["checkout"] == "registry/checkout:1.3.9"
    assert second["from_revision"] == 1 and second["from_replicaset"] == "checkout-5c6b7d8f9b"
    assert by_revision[2]["summary"] == "checkout revision 2: checkout=registry/checkout:1.4.0"
    assert by_revision[2]["actor"] == "kubectl set image checkout=1.4.0"
    assert by_revision[2]["service.name"] == "checkout"
    assert by_revision[2]["change.kind"] == "deploy"
    assert json.loads(by_revision[3]["details"])["from_revision"] == 2


def test_single_replicaset_and_bad_revision(tmp_path: Path) -> None:
    bad = replica_set(1, "web-5c6b7d8f9b", at(5), "web:1", deployment="web")
    bad["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "one"
    (tmp_path / "one.json").write_text(
        json.dumps(replica_set(4, "web-7d9f8b6c5d", at(6), "web:2", deployment="web"))
    )
    (tmp_path / "bad.json").write_text(json.dumps(bad) + "\n{truncated")
    rows, rejects, report = collect(tmp_path, paths=["*.json"], format="k8s_replicasets")
    assert len(rows) == 1 and rows[0]["service.name"] == "web"
    assert sorted(e.split(" (")[0].split(":")[0] for _, e, _ in rejects.items) == [
        "annotation deployment.kubernetes.io/revision is not a number",
        "invalid JSON",
    ]
    assert report.reported_count == 3


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no file matches"):
        collect(tmp_path, paths=["nothing/*.json"], format="k8s_events")
    with pytest.raises(ConfigError, match="format 'yaml' is not supported"):
        collect(tmp_path, paths=["x"], format="yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        collect(tmp_path, paths=["x"], pathz=["y"])
    with pytest.raises(ConfigError, match="fields only applies"):
        collect(tmp_path, paths=["x"], format="k8s_events", fields={"actor": "a"})


def test_workload_names() -> None:
    assert workload_of("Pod", "checkout-7d9f8b6c5d-x2x9q") == "checkout"
    assert workload_of("Pod", "db-0") == "db"
    assert workload_of("ReplicaSet", "checkout-7d9f8b6c5d") == "checkout"
    assert workload_of("Deployment", "checkout-v2") == "checkout-v2"
    assert workload_of("Pod", "standalone") == "standalone"
