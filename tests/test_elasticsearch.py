"""100,000 documents from a real Elasticsearch node into an Object Lock bucket, and back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch, helpers

from forensics.cli import main
from forensics.stores import open_store
from tests.helpers import WINDOW

DOCS = 100_000
OUTSIDE = 500


@pytest.fixture
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=120)
    yield client
    client.close()


def _doc(i: int, *, outside: bool = False) -> dict:
    base = WINDOW.until + timedelta(minutes=5) if outside else WINDOW.since
    step = 7_200_000_000 // DOCS  # microseconds: spread over the two-hour window
    moment = base + timedelta(microseconds=i * step)
    return {
        "@timestamp": moment.isoformat().replace("+00:00", "Z"),
        "log": {"level": ["info", "warn", "error"][i % 3]},
        "message": f"GET /api/orders/{i} 200 {i % 997}ms",
        "service": {"name": f"svc-{i % 5}"},
        "host": {"name": f"pod-{i % 11}"},
        "trace": {"id": uuid.UUID(int=i).hex},
        "http": {"response": {"status_code": 200 + (i % 4)}},
        "seq": i,
    }


@pytest.fixture
def big_index(es: Elasticsearch) -> Iterator[tuple[str, dict[str, dict]]]:
    index = f"logs-big-{uuid.uuid4().hex[:8]}"
    es.indices.create(
        index=index,
        settings={"number_of_shards": 3, "number_of_replicas": 0, "refresh_interval": "-1"},
        mappings={"properties": {"@timestamp": {"type": "date"}, "seq": {"type": "long"}}},
    )
    docs = {f"d{i:06d}": _doc(i) for i in range(DOCS)}
    actions = [{"_index": index, "_id": k, "_source": v} for k, v in docs.items()]
    actions += [
        {"_index": index, "_id": f"late{i}", "_source": _doc(i, outside=True)}
        for i in range(OUTSIDE)
    ]
    for ok, item in helpers.streaming_bulk(es, actions, chunk_size=5000, raise_on_error=True):
        assert ok, item
    es.indices.refresh(index=index)
    yield index, docs
    es.indices.delete(index=index, ignore_unavailable=True)


def test_100k_documents_preserved_to_object_lock_and_read_back(
    es_url: str,
    big_index: tuple[str, dict[str, dict]],
    s3_endpoint: str,
    lock_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, docs = big_index
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "es-logs"\ntype = "elasticsearch"\nhosts = ["{es_url}"]\n'
        f'index = "logs-big-*"\nslices = 2\n'
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    runner = CliRunner()
    done = runner.invoke(
        main,
        [
            "preserve",
            "--incident",
            "INC-100K",
            "--config",
            str(tmp_path / "forensics.toml"),
            "--since",
            WINDOW.since.isoformat(),
            "--until",
            WINDOW.until.isoformat(),
            "--store",
            f"s3://{lock_bucket}/evidence",
            "--require-lock",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    (source,) = summary["sources"]
    assert source["reported"] == DOCS == source["written"] + source["rejected"]
    assert source["reconciled"] and source["rejected"] == 0

    checked = runner.invoke(main, ["verify", summary["bundle_uri"]])
    assert checked.exit_code == 0, checked.output
    assert "Object Lock COMPLIANCE" in checked.output

    store = open_store(f"s3://{lock_bucket}/evidence", endpoint_url=s3_endpoint)
    filesystem, root = store.arrow_filesystem()
    table = pq.read_table(
        f"{root}/INC-100K/{summary['bundle_id']}/logs",
        filesystem=filesystem,
        columns=["source_ref", "raw", "@timestamp", "service.name", "log.level"],
    )
    refs = table.column("source_ref").to_pylist()
    assert len(refs) == len(set(refs)) == DOCS
    assert {r.split("/", 1)[1] for r in refs} == set(docs)
    assert all(r.startswith(f"{index}/") for r in refs)
    for ref, raw in zip(refs, table.column("raw").to_pylist(), strict=True):
        assert json.loads(raw) == docs[ref.split("/", 1)[1]]
    stamps = table.column("@timestamp").to_pylist()
    assert stamps == sorted(stamps)  # rows sorted by time within each file (one file here)


def test_credentials_never_reach_evidence_or_output(
    es: Elasticsearch, es_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    index = f"logs-secret-{uuid.uuid4().hex[:8]}"
    es.index(index=index, document=_doc(1), refresh=True)
    monkeypatch.setenv("CANARY_KEY", canary)
    monkeypatch.setenv("CANARY_PASSWORD", canary)
    host = es_url.replace("http://", f"http://elastic:{canary}@")
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "with-key"\ntype = "elasticsearch"\nhosts = ["{host}"]\n'
        f'index = "{index}"\napi_key_env = "CANARY_KEY"\n'
        f'[[source]]\nname = "with-password"\ntype = "elasticsearch"\nhosts = ["{es_url}"]\n'
        f'index = "{index}"\nusername = "elastic"\npassword_env = "CANARY_PASSWORD"\n'
    )
    runner = CliRunner()
    args = [
        "preserve",
        "--incident",
        "INC-7",
        "--config",
        str(tmp_path / "forensics.toml"),
        "--since",
        WINDOW.since.isoformat(),
        "--until",
        WINDOW.until.isoformat(),
        "--store",
        str(tmp_path / "evidence"),
    ]
    for extra in ([], ["--json"]):
        done = runner.invoke(main, args + extra)
        assert done.exit_code == 0, done.output
        assert canary not in done.output
    for path in (tmp_path / "evidence").rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
    manifest = next((tmp_path / "evidence").rglob("manifest.json")).read_text()
    assert "127.0.0.1" in manifest and "elastic:" not in manifest


def test_index_pattern_matching_nothing_is_one_clear_error(es_url: str, tmp_path: Path) -> None:
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "es"\ntype = "elasticsearch"\nhosts = ["{es_url}"]\n'
        'index = "no-such-index-*"\n'
    )
    done = CliRunner().invoke(
        main,
        [
            "preserve",
            "--incident",
            "INC-8",
            "--config",
            str(tmp_path / "forensics.toml"),
            "--window",
            "1h",
            "--store",
            str(tmp_path / "evidence"),
        ],
    )
    assert done.exit_code == 1
    assert "matches no index" in done.output
    assert "Traceback" not in done.output
