"""`forensics analyze` on the preserved sample incident: the ground truth is found."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from forensics.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "analysis-schema.json").read_text())


@pytest.fixture(scope="module")
def analysis(
    sample_bundle: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, object], Path]:
    out = tmp_path_factory.mktemp("analysis")
    done = CliRunner().invoke(main, ["analyze", sample_bundle, "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert json.loads((out / "analysis.json").read_text()) == data
    return data, out


def test_first_error_is_the_ground_truth_line(
    analysis: tuple[dict, Path], sample_incident: Path
) -> None:
    data, _ = analysis
    truth = json.loads((sample_incident / "ground_truth.json").read_text())["new_error"]["first"]
    first = data["first_error"]
    assert first["source_ref"] == f"data/{truth['file']}:{truth['line']}"
    assert first["source_ref"] == "data/logs/checkout.jsonl.gz:3711"
    assert first["service"] == "checkout"
    assert first["message"] == truth["message"]
    assert first["timestamp"].startswith("2026-11-20T10:06:13.482")
    assert first["reason"] == "new"
    assert data["onset"] == first["timestamp"]


def test_suspects_and_mitigations(analysis: tuple[dict, Path]) -> None:
    data, _ = analysis
    suspects = data["suspects"]
    assert suspects[0]["change_id"] == "deploy-checkout-8841"
    assert suspects[0]["explanation"]
    ranks = {s["change_id"]: s["rank"] for s in suspects}
    assert ranks["config-search-2290"] > 1
    onset = data["onset"]
    assert all(s["timestamp"] < onset for s in suspects)
    assert "deploy-checkout-8846" not in ranks and "hpa-checkout-20261120T102031Z" not in ranks
    mitigations = {m["change_id"]: m["reason"] for m in data["mitigations"]}
    assert mitigations["deploy-checkout-8846"] == "rollback"
    assert mitigations["hpa-checkout-20261120T102031Z"] == "scaling"


def test_metrics_signatures_and_checklist(analysis: tuple[dict, Path]) -> None:
    data, _ = analysis
    moved = {(a["metric"], a["service"]) for a in data["metric_anomalies"]}
    assert ("http_error_ratio", "checkout") in moved
    error_ratio = next(
        a
        for a in data["metric_anomalies"]
        if (a["metric"], a["service"]) == ("http_error_ratio", "checkout")
    )
    assert "2026-11-20T10:05" <= error_ratio["onset"] <= "2026-11-20T10:08"
    assert error_ratio["direction"] == "up"
    new = [s for s in data["signatures"] if s["status"] == "new"]
    assert new[0]["signature"] == data["first_error"]["signature"]
    assert new[0]["count"] == 339 and new[0]["present_in_baseline"] is False
    assert new[0]["samples"][0]["source_ref"] == "data/logs/checkout.jsonl.gz:3711"
    background = [s for s in data["signatures"] if "Connection reset" in s["template"]]
    assert background and all(s["status"] == "steady" for s in background)
    items = {i["item"]: i for i in data["checklist"]}
    assert len(items) == 10
    assert items["deploy history (last 24 h)"]["status"] == "finding"
    assert any(
        e["source_ref"] == "data/changes.jsonl:13"
        for e in items["deploy history (last 24 h)"]["evidence"]
    )
    assert items["error logs first occurrence"]["status"] == "finding"
    assert items["database (connection pool, slow queries, locks)"]["status"] == "not_collected"
    assert items["monitoring anomalies"]["status"] == "finding"


def test_output_matches_schema_and_names_the_bundle(
    analysis: tuple[dict, Path], sample_bundle: str
) -> None:
    data, _ = analysis
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)
    manifest = json.loads((Path(sample_bundle) / "manifest.json").read_text())
    assert data["bundle"]["digest"] == manifest["digest"]
    assert data["bundle"]["uri"] == sample_bundle


def test_bundle_untouched_and_out_inside_bundle_refused(
    analysis: tuple[dict, Path], sample_bundle: str
) -> None:
    runner = CliRunner()
    inside = runner.invoke(main, ["analyze", sample_bundle, "--out", f"{sample_bundle}/derived"])
    assert inside.exit_code != 0 and "inside the sealed bundle" in inside.output
    assert not (Path(sample_bundle) / "derived").exists()
    assert not Path(sample_bundle).stat().st_mode & stat.S_IWUSR
    checked = runner.invoke(main, ["verify", sample_bundle, "--no-record"])
    assert checked.exit_code == 0, checked.output


def test_readable_summary_and_default_out(
    sample_bundle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, ["analyze", sample_bundle])
    assert done.exit_code == 0, done.output
    assert "first error" in done.output and "deploy-checkout-8841" in done.output
    bundle_id = Path(sample_bundle).name
    assert (tmp_path / "analysis" / "INC-42" / bundle_id / "analysis.json").exists()


def test_unsealed_bundle_gives_one_clear_line(tmp_path: Path) -> None:
    incomplete = tmp_path / "INC-9" / "20261120T110512Z-1a2b3c4d"
    (incomplete / "logs" / "x").mkdir(parents=True)
    (incomplete / "logs" / "x" / "part-00000.parquet").write_bytes(b"PAR1")
    done = CliRunner().invoke(main, ["analyze", str(incomplete)])
    assert done.exit_code == 1
    assert "incomplete" in done.output and "forensics verify" in done.output
    assert "Traceback" not in done.output
