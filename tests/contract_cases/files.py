"""Contract cases for JSON-lines files."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.config import parse_config
from tests.contract import ContractCase, contract_case
from tests.helpers import WINDOW, log_records, write_jsonl

IN_WINDOW = 240


def log_case_records() -> list[dict[str, Any]]:
    """Records inside and on both sides of the window (shared with other log sources)."""
    inside = log_records(IN_WINDOW, step_s=29)
    before = log_records(6, start=WINDOW.since - timedelta(hours=1))
    after = log_records(6, start=WINDOW.until)
    return before + inside + after


def raw_is_original(records: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """A row check: ``raw`` parses back to the original record, and the message matches."""
    by_stamp = {r["@timestamp"]: r for r in records}

    def check(row: dict[str, Any]) -> None:
        original = json.loads(row["raw"])
        assert original == by_stamp[original["@timestamp"]]
        assert row["message"] == original["message"]

    return check


def _files(suffix: str, base: Path) -> ContractCase:
    records = log_case_records()
    write_jsonl(base / "logs" / f"part1.jsonl{suffix}", records[:100])
    write_jsonl(
        base / "logs" / f"part2.jsonl{suffix}", records[100:], extra_lines=[b"{broken\n", b"\n"]
    )
    config = parse_config(
        {"source": [{"name": "contract", "type": "files", "paths": ["logs/*"]}]}, base_dir=base
    )
    return ContractCase(
        config.sources[0], WINDOW, IN_WINDOW, expected_rejects=1, check_row=raw_is_original(records)
    )


@contract_case("files-jsonl")
def files_jsonl(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    return _files("", base)


@contract_case("files-jsonl-gzip")
def files_gzip(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    return _files(".gz", base)


@contract_case("files-changes")
def files_changes(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    changes = [
        {
            "@timestamp": (WINDOW.since + timedelta(minutes=10 * i)).isoformat(),
            "change.kind": ["deploy", "config", "weird-kind"][i % 3],
            "change.id": f"c{i}",
            "service.name": "checkout",
            "summary": f"change {i}",
            "details": {"from": i, "to": i + 1},
            "pipeline": "ci-42",
        }
        for i in range(10)
    ]
    write_jsonl(base / "changes.jsonl", changes)
    config = parse_config(
        {"source": [{"name": "deploys", "type": "files", "kind": "changes", "paths": ["*.jsonl"]}]},
        base_dir=base,
    )

    def check(row: dict[str, Any]) -> None:
        assert row["change.kind"] in {"deploy", "config", "other"}
        assert json.loads(row["details"])["pipeline"] == "ci-42"

    return ContractCase(config.sources[0], WINDOW, 10, check_row=check)
