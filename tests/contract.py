"""The shared collector contract: every source plug-in must pass it.

A source adds one module under ``tests/contract_cases/`` with a function decorated by
:func:`contract_case`. The function receives the pytest request (to get service fixtures) and a
temporary folder, prepares known data in the real source, and returns a :class:`ContractCase`.
``tests/test_collector_contract.py`` runs every case through :func:`run_contract`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from collectors import collector_types
from forensics.bundle.schema import SCHEMAS
from forensics.config import SourceConfig
from forensics.window import Window


@dataclass
class ContractCase:
    """A source configured against known data, and what collecting it must give."""

    source: SourceConfig
    window: Window
    #: Rows that must be written (in the window, parseable).
    expected_rows: int
    #: Records that must be rejected (kept raw with a reason).
    expected_rejects: int = 0
    #: Secret values placed in the environment for this source; they must appear nowhere.
    secrets: list[str] = field(default_factory=list)
    #: Optional extra check on each written row (as a dict).
    check_row: Callable[[dict[str, Any]], None] | None = None
    #: Whether ``source_ref`` must be unique per row (true for record-per-row sources).
    unique_refs: bool = True


CaseFactory = Callable[[pytest.FixtureRequest, Path], ContractCase]
CASES: dict[str, CaseFactory] = {}


def contract_case(name: str) -> Callable[[CaseFactory], CaseFactory]:
    """Register a contract case under ``name``, which starts with the collector type."""

    def register(factory: CaseFactory) -> CaseFactory:
        if name in CASES:
            raise ValueError(f"contract case {name!r} registered twice")
        CASES[name] = factory
        return factory

    return register


class Rejects:
    """A reject sink that keeps everything in memory."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, bytes]] = []

    def reject(self, source_ref: str, error: str, raw: bytes) -> None:
        self.items.append((source_ref, error, raw))


def run_contract(case: ContractCase) -> pa.Table:
    """Collect the case and assert every clause of the contract; return the rows."""
    source = case.source
    collector = collector_types()[source.type](source, window=case.window)
    assert collector.schema.equals(SCHEMAS[source.kind]), "schema must be the declared one"

    rejects = Rejects()
    with collector:
        opened = collector.open()
        assert isinstance(opened.query, dict) and opened.query, "open() must record the query"
        batches = list(collector.batches(rejects))
    collector.close()  # safe to call twice
    report = collector.report

    assert all(b.schema.equals(collector.schema) for b in batches), "batches must match schema"
    table = pa.Table.from_batches(batches, schema=collector.schema)
    accounted = table.num_rows + len(rejects.items) + sum(report.skipped.values())
    assert report.reported_count == accounted, (
        f"nothing lost: reported {report.reported_count} != written {table.num_rows} + "
        f"rejected {len(rejects.items)} + skipped {report.skipped}"
    )
    assert table.num_rows == case.expected_rows
    assert len(rejects.items) == case.expected_rejects
    assert all(ref and error and isinstance(raw, bytes) for ref, error, raw in rejects.items)

    refs = table.column("source_ref").to_pylist()
    assert all(refs), "every row says where it came from"
    if case.unique_refs:
        assert len(set(refs)) == len(refs), "source_ref must identify one record"
    assert set(table.column("source").to_pylist()) <= {source.name}
    if "@timestamp" in table.column_names:
        assert table.schema.field("@timestamp").type == pa.timestamp("us", tz="UTC")
        stamps = table.column("@timestamp").to_pylist()
        assert all(case.window.since <= t < case.window.until for t in stamps), "rows in window"

    recorded = json.dumps(report.query, default=str) + json.dumps(report.notes)
    for secret in case.secrets:
        assert secret not in recorded, "the recorded query must never carry a secret"
        for row in table.slice(0, 1000).to_pylist():
            assert secret not in json.dumps(row, default=str)
    if case.check_row:
        for row in table.to_pylist():
            case.check_row(row)
    return table
