"""The bundled sample incident: preserved, verified, and every line accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from click.testing import CliRunner

from forensics.cli import main


def test_preserve_and_verify_sample_incident(sample_incident: Path, tmp_path: Path) -> None:
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
            str(tmp_path / "evidence"),
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    sources = {s["name"]: s for s in summary["sources"]}
    assert all(s["status"] == "ok" and s["reconciled"] for s in sources.values())

    logs = ("app-logs", "inventory-logs")
    lines = sum(v for k, v in truth["line_counts"].items() if k.startswith("logs/"))
    assert sum(sources[n]["reported"] for n in logs) == lines
    assert sum(sources[n]["written"] + sources[n]["rejected"] for n in logs) == lines
    assert sum(sources[n]["rejected"] for n in logs) == len(truth["malformed_lines"])
    # Change history reaches back 24 hours before the window.
    assert sources["deploys"]["written"] == truth["changes"]["total"]
    assert sources["service-metrics"]["written"] == truth["line_counts"]["metrics.jsonl"]

    bundle = Path(summary["bundle_uri"])
    rejects = pq.read_table(bundle / "rejects").to_pylist()
    refs = {r["source_ref"] for r in rejects}
    assert refs == {f"data/{m['file']}:{m['line']}" for m in truth["malformed_lines"]}
    assert all(r["raw"] and r["error"] for r in rejects)

    first = truth["new_error"]["first"]
    table = pq.read_table(bundle / "logs", filters=[("error.type", "=", first["error.type"])])
    earliest = table.sort_by("@timestamp").slice(0, 1).to_pylist()[0]
    assert earliest["message"] == first["message"]
    assert earliest["source_ref"] == f"data/{first['file']}:{first['line']}"
    assert earliest["service.name"] == "checkout"
    assert pc.all(pc.greater_equal(table["@timestamp"].cast("int64"), 0)).as_py()

    checked = runner.invoke(main, ["verify", summary["bundle_uri"]])
    assert checked.exit_code == 0, checked.output
    assert "intact" in checked.output
