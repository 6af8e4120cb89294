"""Bundle.open and the dataset readers: local and S3, filters and columns in the scan."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from forensics import Bundle
from forensics.bundle.manifest import MANIFEST, FileEntry, Manifest, SourceEntry
from forensics.bundle.schema import LOGS_SCHEMA, METRICS_SCHEMA, STATE_SCHEMA
from forensics.bundle.writer import DatasetWriter
from forensics.errors import BundleNotFoundError, ConfigError, IntegrityError
from forensics.hashing import sha256_file
from forensics.stores import open_store
from tests.helpers import small_bundle


@pytest.fixture
def local_bundle(tmp_path: Path) -> str:
    result = small_bundle(open_store(str(tmp_path / "evidence")), tmp_path / "input")
    return result.bundle_uri


def test_open_reads_manifest_only_and_exposes_digest(local_bundle: str) -> None:
    bundle = Bundle.open(local_bundle)
    assert bundle.manifest.incident_id == "INC-1"
    assert len(bundle.digest) == 64
    assert bundle.digest == bundle.manifest.compute_digest()
    assert bundle.rows("logs") == 300


def test_logs_filters_and_columns_are_pushed_into_the_scan(local_bundle: str) -> None:
    bundle = Bundle.open(local_bundle)
    everything = bundle.logs()
    assert list(everything.columns) == LOGS_SCHEMA.names
    assert len(everything) == 300
    assert str(everything["@timestamp"].dtype) == "datetime64[us, UTC]"

    errors = bundle.logs(
        columns=["@timestamp", "message", "source_ref"],
        since="2026-11-20T09:00:10Z",
        until=datetime(2026, 11, 20, 9, 2, tzinfo=UTC),
        where=[("log.level", "in", ["error", "fatal"])],
    )
    assert list(errors.columns) == ["@timestamp", "message", "source_ref"]
    expected = everything[
        (everything["log.level"] == "error")
        & (everything["@timestamp"] >= pd.Timestamp("2026-11-20T09:00:10Z"))
        & (everything["@timestamp"] < pd.Timestamp("2026-11-20T09:02:00Z"))
    ]
    assert sorted(errors["source_ref"]) == sorted(expected["source_ref"])
    assert 0 < len(errors) < 300

    as_expression = bundle.logs(columns=["message"], where=pc.field("service.name") == "svc-1")
    assert len(as_expression) == (everything["service.name"] == "svc-1").sum()
    either = bundle.logs(
        columns=["service.name"],
        where=[[("service.name", "=", "svc-0")], [("service.name", "=", "svc-2")]],
    )
    assert set(either["service.name"]) == {"svc-0", "svc-2"}
    assert (
        bundle.count("logs", where=[("log.level", "=", "error")])
        == (everything["log.level"] == "error").sum()
    )


def test_scan_streams_record_batches(local_bundle: str) -> None:
    bundle = Bundle.open(local_bundle)
    batches = list(bundle.scan("logs", columns=["@timestamp"], batch_size=64))
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert sum(b.num_rows for b in batches) == 300
    assert all(b.schema.names == ["@timestamp"] for b in batches)


def test_empty_datasets_have_canonical_columns(local_bundle: str) -> None:
    bundle = Bundle.open(local_bundle)
    metrics = bundle.metrics()
    assert metrics.empty and list(metrics.columns) == METRICS_SCHEMA.names
    changes = bundle.changes(columns=["@timestamp", "change.id"], since="2026-11-20T09:00:00Z")
    assert changes.empty and list(changes.columns) == ["@timestamp", "change.id"]
    rejects = bundle.rejects()
    assert len(rejects) == 1 and rejects["raw"].iloc[0] == b"{not json\n"


def test_bad_columns_and_filters_are_config_errors(local_bundle: str) -> None:
    bundle = Bundle.open(local_bundle)
    with pytest.raises(ConfigError, match="no column"):
        bundle.logs(columns=["nope"])
    with pytest.raises(ConfigError, match="invalid filter"):
        bundle.logs(where="log.level = error")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="time zone"):
        bundle.logs(since="2026-11-20T09:00:00")


def test_html_summary(local_bundle: str) -> None:
    html = Bundle.open(local_bundle)._repr_html_()
    for text in ("INC-1", "app-logs", "logs: 300", "digest", "2026-11-20T09:00:00Z"):
        assert text in html


def test_unsealed_and_missing_bundles_are_refused(tmp_path: Path, local_bundle: str) -> None:
    copy = tmp_path / "copy" / "INC-1" / Path(local_bundle).name
    shutil.copytree(local_bundle, copy)
    (copy / MANIFEST).chmod(0o644)
    copy.chmod(0o755)
    (copy / MANIFEST).unlink()
    with pytest.raises(IntegrityError, match=r"incomplete.*forensics verify"):
        Bundle.open(str(copy))
    with pytest.raises(BundleNotFoundError):
        Bundle.open(str(tmp_path / "copy" / "INC-1" / "20261120T110512Z-1a2b3c4d"))


def test_manifest_with_wrong_digest_is_refused(tmp_path: Path, local_bundle: str) -> None:
    copy = tmp_path / "copy" / "INC-1" / Path(local_bundle).name
    shutil.copytree(local_bundle, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["files"][0]["sha256"] = "0" * 64
    (copy / MANIFEST).chmod(0o644)
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="digest"):
        Bundle.open(str(copy))


def _sealed_state_bundle(root: Path) -> str:
    """A bundle with a state dataset, written with the bundle writer and a manifest."""
    bundle_dir = root / "INC-7" / "20261120T110512Z-0000beef"
    writer = DatasetWriter(bundle_dir, "state", "pg", STATE_SCHEMA)
    moment = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    rows = [
        ("lock_waits", "4242", {"pid": 4242, "waiting_for": "relation orders", "seconds": 31}),
        ("lock_waits", "4243", {"pid": 4243, "waiting_for": "tuple", "source": "x"}),
        ("connections", "all", {"used": 97, "max_connections": 100}),
    ]
    writer.write(
        pa.RecordBatch.from_pylist(
            [
                {
                    "@timestamp": moment,
                    "snapshot": name,
                    "entity": entity,
                    "values": json.dumps(values, sort_keys=True),
                    "source": "pg",
                    "source_ref": f"{name}/{entity}",
                }
                for name, entity, values in rows
            ],
            schema=STATE_SCHEMA,
        )
    )
    files = []
    for staged in writer.close():
        sha, size = sha256_file(bundle_dir / staged.path)
        files.append(FileEntry(staged.path, "state", "pg", staged.rows, size, sha))
    manifest = Manifest(
        incident_id="INC-7",
        bundle_id="20261120T110512Z-0000beef",
        window={"since": "2026-11-20T09:00:00Z", "until": "2026-11-20T11:00:00Z"},
        lookback_seconds=0,
        created="2026-11-20T11:05:12Z",
        sealed="2026-11-20T11:05:13Z",
        tool={"name": "incident-forensics", "version": "test"},
        operator="test@host",
        sources=[SourceEntry("pg", "postgres", "state", "ok", {}, {}, 3, "source", 3, 0, {}, True)],
        files=files,
        custody_head=None,
    )
    manifest.digest = manifest.compute_digest()
    (bundle_dir / MANIFEST).write_bytes(manifest.to_json())
    return str(bundle_dir)


def test_state_expands_values_into_columns(tmp_path: Path) -> None:
    bundle = Bundle.open(_sealed_state_bundle(tmp_path))
    assert bundle.snapshots() == ["connections", "lock_waits"]
    waits = bundle.state("lock_waits")
    assert len(waits) == 2
    assert {"pid", "waiting_for", "seconds", "values.source", "snapshot", "entity"} <= set(
        waits.columns
    )
    assert waits["source"].tolist() == ["pg", "pg"]  # canonical column kept
    assert sorted(waits["pid"].tolist()) == [4242, 4243]
    assert bundle.state("pg_stat_activity").empty


def test_open_s3_bundle_with_pyarrow_filesystem(
    tmp_path: Path, s3_endpoint: str, lock_bucket: str
) -> None:
    store = open_store(f"s3://{lock_bucket}/prod", endpoint_url=s3_endpoint)
    result = small_bundle(store, tmp_path / "input", incident="INC-S3")
    bundle = Bundle.open(result.bundle_uri, s3_endpoint=s3_endpoint)
    assert bundle.uri.startswith("s3://")
    assert bundle.digest == result.manifest.digest
    errors = bundle.logs(columns=["message", "log.level"], where=[("log.level", "=", "error")])
    assert len(errors) == 43 and set(errors["log.level"]) == {"error"}
    assert sum(b.num_rows for b in bundle.scan("logs", columns=["@timestamp"])) == 300
