"""Real telemetry: the Nezha TrainTicket fault case, preserved and analysed against its
fault-free baseline.

The data is read in place from ``../shared/data/nezha_trainticket`` (never copied). Ground
truth: fault injected at 2023-01-29 08:43:04 UTC (``inject_time``; ``inject_timestamp`` is
8 h off) into ts-contacts-service, whose first ERROR is at 08:43:17.122Z. The onset must fall
between the two (inclusive) and name ts-contacts-service.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from click.testing import CliRunner

from forensics.cli import main
from tests.conftest import require_shared

ROOT = Path(__file__).resolve().parent.parent
NEZHA = ROOT.parent / "shared" / "data" / "nezha_trainticket"
CONFIG = ROOT / "examples" / "nezha" / "forensics.toml"
BASELINE_CONFIG = ROOT / "examples" / "nezha" / "baseline.toml"
INJECTED = pd.Timestamp("2023-01-29T08:43:04Z")
ROOT_CAUSE_FIRST_ERROR = pd.Timestamp("2023-01-29T08:43:17.122Z")


@pytest.fixture(autouse=True)
def _nezha_data() -> None:
    require_shared(NEZHA)


def _preserve(config: Path, incident: str, since: str, until: str, store: Path) -> str:
    done = CliRunner().invoke(
        main,
        [
            "preserve",
            "--incident",
            incident,
            "--config",
            str(config),
            "--since",
            since,
            "--until",
            until,
            "--store",
            str(store),
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert all(s["status"] == "ok" and s["reconciled"] for s in summary["sources"])
    return str(summary["bundle_uri"])


def test_nezha_onset_is_the_root_cause_service(tmp_path: Path) -> None:
    fault = json.loads((NEZHA / "2023-01-29-fault_list_shared_case.json").read_text())["08"][0]
    assert pd.Timestamp(fault["inject_time"], tz="UTC") == INJECTED  # the data clock, not +8 h
    store = tmp_path / "evidence"
    bundle = _preserve(CONFIG, "NEZHA-0129", "2023-01-29T08:42:00Z", "2023-01-29T08:46:00Z", store)
    baseline = _preserve(
        BASELINE_CONFIG,
        "NEZHA-0129-BASELINE",
        "2023-01-29T08:48:00Z",
        "2023-01-29T08:52:00Z",
        store,
    )
    out = tmp_path / "analysis"
    done = CliRunner().invoke(
        main, ["analyze", bundle, "--baseline-bundle", baseline, "--out", str(out), "--json"]
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    schema = json.loads((ROOT / "docs" / "analysis-schema.json").read_text())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    first = data["first_error"]
    onset = pd.Timestamp(first["timestamp"])
    print(f"\nNezha onset {onset.isoformat()} in {first['service']}: {first['message'][:100]}")
    assert INJECTED <= onset <= ROOT_CAUSE_FIRST_ERROR
    assert first["service"] == "ts-contacts-service"
    assert first["reason"] == "new"
    assert data["periods"]["mode"] == "baseline-bundle"
    assert data["baseline_bundle"]["uri"] == baseline
    # The food-service error before the injection is a regular (it is in the baseline).
    food = [s for s in data["signatures"] if "ts-food-service" in s["services"]]
    assert food and all(s["status"] == "steady" and s["present_in_baseline"] for s in food)
