"""Every collector passes the same contract (tests/contract.py), one case per source setup."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import tests.contract_cases  # noqa: F401 - registers every case
from collectors import collector_types
from forensics.window import Window
from tests.contract import CASES, Rejects, run_contract


@pytest.mark.parametrize("name", sorted(CASES))
def test_collector_contract(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    run_contract(CASES[name](request, tmp_path))


def test_every_collector_type_has_a_contract_case() -> None:
    # Case names start with the collector type: "files-jsonl", "elasticsearch-sliced".
    covered = {name.split("-")[0] for name in CASES}
    assert set(collector_types()) <= covered


@pytest.mark.parametrize("name", ["files-jsonl", "elasticsearch"])
def test_window_is_half_open(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    case = CASES[name](request, tmp_path)
    # Shrink the window to end one second after the first in-window record.
    table = run_contract(case)
    first = min(table.column("@timestamp").to_pylist())
    narrow = Window(case.window.since, first + timedelta(seconds=1))
    collector = collector_types()[case.source.type](case.source, window=narrow)
    with collector:
        collector.open()
        rows = sum(b.num_rows for b in collector.batches(Rejects()))
    assert rows == 1
