"""Units of the analysis: rate tests, metric anomalies, change ranking, checklist."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd

from forensics.analysis import Parameters, analyze
from forensics.analysis.anomalies import detect, service_from_labels
from forensics.analysis.changepoint import first_occurrence_p, rate_increase
from forensics.analysis.correlation import merge_duplicates, rank
from forensics.stores import open_store
from tests.helpers import small_bundle

T0 = pd.Timestamp("2026-11-20T09:00:00Z")


def test_first_occurrence_p() -> None:
    # 20 events all in the last quarter: (1/4)^20, tiny; a regular from the start: ~1.
    assert first_occurrence_p(2700.0, 20, start=0.0, end=3600.0, baseline_seconds=0.0) < 1e-11
    assert first_occurrence_p(10.0, 20, start=0.0, end=3600.0, baseline_seconds=0.0) > 0.9
    # A baseline observed elsewhere adds to the time without occurrences.
    with_base = first_occurrence_p(10.0, 20, start=0.0, end=3600.0, baseline_seconds=3600.0)
    assert with_base < 1e-5


def test_rate_increase_finds_the_jump() -> None:
    rng = np.random.default_rng(1)
    before = np.sort(rng.uniform(0, 1800, 10))
    after = np.sort(rng.uniform(1800, 3600, 200))
    point = rate_increase(np.concatenate([before, after]), start=0.0, end=3600.0)
    assert point is not None
    assert 1750 <= point.time <= 1850
    assert point.ratio > 10 and point.llr > 50
    steady = rate_increase(np.sort(rng.uniform(0, 3600, 200)), start=0.0, end=3600.0)
    assert steady is None or steady.llr < 10


def test_metric_anomaly_onset_and_direction() -> None:
    minutes = pd.date_range(T0, periods=60, freq="min")
    rng = np.random.default_rng(2)
    rows = []
    for i, moment in enumerate(minutes):
        for service, shift in (("checkout", 5.0 if i >= 40 else 0.0), ("search", 0.0)):
            rows.append(
                {
                    "@timestamp": moment,
                    "metric": "http_latency_p99_seconds",
                    "labels": json.dumps({"service": service}),
                    "value": 0.3 + rng.normal(0, 0.02) + shift,
                    "source": "m",
                    "source_ref": f"metrics.jsonl:{len(rows) + 1}",
                }
            )
    frame = pd.DataFrame(rows)
    cut = T0 + pd.Timedelta(minutes=15)
    found = detect(
        frame[frame["@timestamp"] >= cut], frame[frame["@timestamp"] < cut], Parameters()
    )
    assert [(a["service"], a["direction"]) for a in found] == [("checkout", "up")]
    assert found[0]["onset"] == "2026-11-20T09:40:00Z"
    assert found[0]["source_ref"].startswith("metrics.jsonl:")


def test_service_from_labels() -> None:
    assert service_from_labels('{"service": "checkout"}') == "checkout"
    assert (
        service_from_labels('{"PodName": "ts-contacts-service-866bd68c97-xcqfx"}')
        == "ts-contacts-service"
    )
    assert service_from_labels(None) is None


def _changes(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "@timestamp": pd.Timestamp(at),
                "change.kind": kind,
                "change.id": cid,
                "service.name": service,
                "summary": summary,
                "details": "{}",
                "source": "changes",
                "source_ref": f"changes.jsonl:{i + 1}",
            }
            for i, (at, kind, cid, service, summary) in enumerate(rows)
        ]
    )


def test_rank_orders_suspects_and_never_ranks_after_onset() -> None:
    onset = pd.Timestamp("2026-11-20T10:06:00Z")
    changes = _changes(
        [
            ("2026-11-20T09:20:00Z", "config", "cfg-search", "search", "ttl"),
            ("2026-11-20T10:02:00Z", "deploy", "deploy-checkout", "checkout", "2.14"),
            ("2026-11-20T10:05:00Z", "deploy", "deploy-other", "reviews", "1.2"),
            ("2026-11-20T10:20:00Z", "scaling", "hpa-checkout", "checkout", "3 -> 5"),
            ("2026-11-20T10:41:00Z", "deploy", "rollback-checkout", "checkout", "Rollback 2.13"),
            ("2026-11-20T10:50:00Z", "config", "cfg-unrelated", "search", "x"),
        ]
    )
    anomalies = [{"service": "checkout", "onset": "2026-11-20T10:06:00Z", "metric": "errors"}]
    suspects, mitigations = rank(
        changes,
        onset=onset,
        service="checkout",
        neighbours=set(),
        anomalies=anomalies,
        affected={"checkout"},
        params=Parameters(),
    )
    assert suspects[0]["change_id"] == "deploy-checkout"
    assert {s["change_id"] for s in suspects} == {"cfg-search", "deploy-checkout", "deploy-other"}
    assert "touches checkout" in suspects[0]["explanation"]
    assert 0 <= suspects[-1]["score"] <= suspects[0]["score"] <= 1
    reasons = {m["change_id"]: m["reason"] for m in mitigations}
    assert reasons == {"hpa-checkout": "scaling", "rollback-checkout": "rollback"}


def test_same_change_from_two_sources_is_one_suspect() -> None:
    changes = _changes(
        [
            ("2026-11-20T10:02:00Z", "deploy", "3141fcb08e87", "checkout", "merge"),
            ("2026-11-20T10:02:30Z", "deploy", "deploy-checkout-8841", "checkout", "deploy"),
        ]
    )
    changes.loc[0, "source"] = "repo"
    merged = merge_duplicates(changes, {"repo": "git", "changes": "files"})
    assert merged["change.id"].tolist() == ["deploy-checkout-8841"]
    assert merged["also_recorded_as"].iloc[0] == ["3141fcb08e87"]


def test_logs_only_bundle_checklist_says_not_collected(tmp_path: Path) -> None:
    result = small_bundle(open_store(str(tmp_path / "evidence")), tmp_path / "input")
    analysis = analyze(result.bundle_uri, out=tmp_path / "out")
    items = {i["item"]: i["status"] for i in analysis.data["checklist"]}
    for item in (
        "deploy history (last 24 h)",
        "config changes",
        "infrastructure changes (DNS, certificates, scaling)",
        "dependency updates",
        "disk, memory, CPU",
        "monitoring anomalies",
        "database (connection pool, slow queries, locks)",
    ):
        assert items[item] == "not_collected", item
    # Errors at a steady rate all along: nothing is new, so no onset and no suspects.
    assert analysis.data["first_error"] is None
    assert items["error logs first occurrence"] == "clear"
    assert analysis.data["suspects"] == []
    assert analysis.path == tmp_path / "out" / "analysis.json"


def test_analyze_s3_bundle_from_the_cli(
    tmp_path: Path, s3_endpoint: str, lock_bucket: str, sample_incident: Path
) -> None:
    from click.testing import CliRunner

    from forensics.cli import main

    truth = json.loads((sample_incident / "ground_truth.json").read_text())
    runner = CliRunner()
    done = runner.invoke(
        main,
        [
            "preserve",
            "--incident",
            "INC-42",
            "--config",
            str(sample_incident / "forensics.toml"),
            "--since",
            truth["window"]["since"],
            "--until",
            truth["window"]["until"],
            "--store",
            f"s3://{lock_bucket}/prod",
            "--s3-endpoint",
            s3_endpoint,
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    uri = json.loads(done.output)["bundle_uri"]
    analysed = runner.invoke(
        main, ["analyze", uri, "--s3-endpoint", s3_endpoint, "--out", str(tmp_path), "--json"]
    )
    assert analysed.exit_code == 0, analysed.output
    data = json.loads(analysed.output)
    assert data["bundle"]["uri"] == uri
    assert data["first_error"]["source_ref"] == "data/logs/checkout.jsonl.gz:3711"
    assert data["suspects"][0]["change_id"] == "deploy-checkout-8841"


def test_database_item_reads_state_snapshots(tmp_path: Path) -> None:
    from tests.test_bundle_reader import _sealed_state_bundle

    analysis = analyze(_sealed_state_bundle(tmp_path / "evidence"), out=tmp_path / "out")
    items = {i["item"]: i for i in analysis.data["checklist"]}
    database = items["database (connection pool, slow queries, locks)"]
    assert database["status"] == "finding"
    assert "2 lock wait(s)" in database["summary"] and "97%" in database["summary"]
    refs = {e["source_ref"] for e in database["evidence"]}
    assert {"lock_waits/4242", "lock_waits/4243", "connections/all"} <= refs
    assert all(e["dataset"] == "state" for e in database["evidence"])
    assert items["error logs first occurrence"]["status"] == "not_collected"
    assert analysis.data["first_error"] is None
    schema = json.loads(
        (Path(__file__).parent.parent / "docs" / "analysis-schema.json").read_text()
    )
    jsonschema.validate(analysis.data, schema, cls=jsonschema.Draft202012Validator)
