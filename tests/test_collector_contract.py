"""The contract every collector must pass, run against each backend with the same records.

A new source adds one backend fixture here; the assertions stay the same.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from collectors import collector_types
from collectors.base import Collector, Window
from forensics.bundle.schema import SCHEMAS
from forensics.config import SourceConfig, parse_config
from tests.helpers import WINDOW, log_records, write_jsonl

CANARY = "canary-secret-4f1d2c9e"
IN_WINDOW = 240
OUTSIDE = 12

Backend = Callable[[Path, list[dict]], SourceConfig]


def _records() -> list[dict]:
    inside = log_records(IN_WINDOW, step_s=29)
    before = log_records(OUTSIDE // 2, start=WINDOW.since - timedelta(hours=1))
    after = log_records(OUTSIDE // 2, start=WINDOW.until)
    return before + inside + after


def _files_backend(suffix: str) -> Backend:
    def make(base: Path, records: list[dict]) -> SourceConfig:
        write_jsonl(base / "logs" / f"part1.jsonl{suffix}", records[: len(records) // 2])
        write_jsonl(base / "logs" / f"part2.jsonl{suffix}", records[len(records) // 2 :])
        config = parse_config(
            {"source": [{"name": "contract", "type": "files", "paths": ["logs/*"]}]}, base_dir=base
        )
        return config.sources[0]

    return make


@pytest.fixture(params=["files-jsonl", "files-gzip", "elasticsearch", "elasticsearch-sliced"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "files-jsonl":
        yield _files_backend("")
    elif request.param == "files-gzip":
        yield _files_backend(".gz")
    else:
        from elasticsearch import Elasticsearch, helpers

        url = request.getfixturevalue("es_url")
        client = Elasticsearch(url)
        index = f"contract-{uuid.uuid4().hex[:8]}"
        sliced = request.param.endswith("sliced")

        def make(base: Path, records: list[dict]) -> SourceConfig:
            client.indices.create(
                index=index, settings={"number_of_shards": 2, "number_of_replicas": 0}
            )
            helpers.bulk(client, ({"_index": index, "_source": r} for r in records), refresh=True)
            os.environ["CONTRACT_ES_KEY"] = CANARY
            options = {
                "hosts": [url],
                "index": index,
                "api_key_env": "CONTRACT_ES_KEY",
                "page_size": 50,
            }
            if sliced:
                options["slices"] = 3
            config = parse_config(
                {"source": [{"name": "contract", "type": "elasticsearch", **options}]},
                base_dir=base,
            )
            return config.sources[0]

        yield make
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()


class Rejects:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, bytes]] = []

    def reject(self, source_ref: str, error: str, raw: bytes) -> None:
        self.items.append((source_ref, error, raw))


def _run(collector: Collector) -> tuple[list[pa.RecordBatch], Rejects]:
    rejects = Rejects()
    with collector:
        collector.open()
        batches = list(collector.batches(rejects))
    return batches, rejects


def test_collector_contract(backend: Backend, tmp_path: Path) -> None:
    records = _records()
    source = backend(tmp_path, records)
    collector = collector_types()[source.type](source, window=WINDOW)

    assert collector.schema.equals(SCHEMAS[source.kind])
    batches, rejects = _run(collector)
    report = collector.report

    # Declared schema, every batch.
    assert batches and all(b.schema.equals(collector.schema) for b in batches)
    table = pa.Table.from_batches(batches)
    # Nothing lost: reported = written + rejected + skipped.
    assert report.reported_count == table.num_rows + len(rejects.items) + sum(
        report.skipped.values()
    )
    assert table.num_rows == IN_WINDOW
    # Every row says where it came from, once.
    refs = table.column("source_ref").to_pylist()
    assert all(refs) and len(set(refs)) == len(refs)
    assert set(table.column("source").to_pylist()) == {source.name}
    # Timestamps are UTC and inside the window.
    assert table.schema.field("@timestamp").type == pa.timestamp("us", tz="UTC")
    stamps = table.column("@timestamp").to_pylist()
    assert all(WINDOW.since <= t < WINDOW.until for t in stamps)
    # The original record is kept losslessly.
    by_stamp = {r["@timestamp"]: r for r in records}
    for row in table.slice(0, 20).to_pylist():
        original = json.loads(row["raw"])
        assert original == by_stamp[original["@timestamp"]]
        assert row["message"] == original["message"]
    # The recorded query never carries a secret.
    assert CANARY not in json.dumps(report.query)
    # close() is safe to call again.
    collector.close()


def test_window_is_half_open(backend: Backend, tmp_path: Path) -> None:
    records = log_records(3, start=WINDOW.until - timedelta(seconds=1))  # until-1s, until, until+1s
    source = backend(tmp_path, records)
    collector = collector_types()[source.type](source, window=Window(WINDOW.since, WINDOW.until))
    batches, _ = _run(collector)
    assert sum(b.num_rows for b in batches) == 1
