"""S3-specific guarantees, against the real moto server over HTTP."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from forensics.errors import StoreError
from forensics.stores import S3Store, open_store
from forensics.verify import verify_bundle
from tests.helpers import small_bundle


def test_every_object_carries_its_sha256_checksum(
    s3_endpoint: str, lock_bucket: str, s3_client, tmp_path: Path
) -> None:
    # S3 rejects a body that does not match the checksum; moto stores it without checking,
    # so this test holds that every object was sent with the manifest's hash.
    store = S3Store(lock_bucket, endpoint_url=s3_endpoint)
    result = small_bundle(store, tmp_path)
    for entry in result.manifest.files:
        head = s3_client.head_object(
            Bucket=lock_bucket, Key=f"INC-1/{result.bundle_id}/{entry.path}", ChecksumMode="ENABLED"
        )
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == entry.sha256


def test_object_lock_retention_on_every_object(
    s3_endpoint: str, lock_bucket: str, s3_client, tmp_path: Path
) -> None:
    store = S3Store(lock_bucket, "prod", endpoint_url=s3_endpoint, lock_mode="COMPLIANCE")
    result = small_bundle(store, tmp_path)
    assert result.manifest.store["object_lock"] is True
    # Every object is reported: data files, the manifest and each custody event object.
    objects = {o.key.split("/", 2)[2] for o in store.list_objects(f"INC-1/{result.bundle_id}")}
    outcome = verify_bundle(store, "INC-1", result.bundle_id)
    assert outcome.intact, outcome.problems
    assert {r["path"] for r in outcome.retention} == objects
    assert {f.path for f in result.manifest.files} | {"manifest.json"} < objects
    assert {r["mode"] for r in outcome.retention} == {"COMPLIANCE"}
    assert all(r["until"] for r in outcome.retention)

    # The server itself refuses to delete a locked version, whatever the tool does.
    key = f"prod/INC-1/{result.bundle_id}/{result.manifest.files[0].path}"
    version = s3_client.head_object(Bucket=lock_bucket, Key=key)["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3_client.delete_object(Bucket=lock_bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_plain_bucket_allowed_unless_lock_required(
    s3_endpoint: str, plain_bucket: str, tmp_path: Path
) -> None:
    store = S3Store(plain_bucket, endpoint_url=s3_endpoint)
    result = small_bundle(store, tmp_path)
    assert result.manifest.store["object_lock"] is False
    assert verify_bundle(store, "INC-1", result.bundle_id).intact
    with pytest.raises(StoreError, match="has no Object Lock"):
        S3Store(plain_bucket, endpoint_url=s3_endpoint, require_lock=True).check()


def test_pyarrow_reads_the_bundle_from_s3(
    s3_endpoint: str, lock_bucket: str, tmp_path: Path
) -> None:
    store = open_store(f"s3://{lock_bucket}/cases", endpoint_url=s3_endpoint)
    result = small_bundle(store, tmp_path)
    filesystem, root = store.arrow_filesystem()
    table = pq.read_table(f"{root}/INC-1/{result.bundle_id}/logs", filesystem=filesystem)
    assert table.num_rows == 300


def test_object_lock_every_object_reported_and_sealed_objects_refused(
    s3_endpoint: str, lock_bucket: str, s3_client, tmp_path: Path
) -> None:
    """Signed bundle on an Object Lock bucket: data, manifest, signature and custody objects
    all carry a retention that verify reports (text and --json), and the tool refuses to
    overwrite or delete any of them."""
    from click.testing import CliRunner

    from forensics.cli import main
    from forensics.errors import ImmutableObjectError
    from forensics.preserve import preserve
    from forensics.signing import generate_keypair, load_public_key, load_signer
    from tests.helpers import WINDOW, files_config, log_records, write_jsonl

    public, _ = generate_keypair(tmp_path / "key.pem")
    write_jsonl(tmp_path / "logs" / "app.jsonl", log_records(40))
    store = S3Store(lock_bucket, "locked", endpoint_url=s3_endpoint, lock_mode="GOVERNANCE")
    result = preserve(
        files_config(tmp_path),
        store,
        incident="INC-L",
        window=WINDOW,
        signer=load_signer(tmp_path / "key.pem"),
    )
    bundle = f"INC-L/{result.bundle_id}"
    keys = sorted(o.key for o in store.list_objects(bundle))
    names = [k[len(bundle) + 1 :] for k in keys]
    assert "manifest.json" in names and "manifest.sig" in names
    assert sum(n.startswith("custody/") for n in names) == 3  # collected, stored, sealed
    for key in keys:
        with pytest.raises(ImmutableObjectError, match="refusing to overwrite"):
            store.put_bytes(key, b"x", sha256="00" * 32)
        with pytest.raises(ImmutableObjectError, match="sealed"):
            store.delete(key)

    outcome = verify_bundle(
        store, "INC-L", result.bundle_id, record=False, public_key=load_public_key(public)
    )
    assert outcome.intact, outcome.problems
    assert sorted(r["path"] for r in outcome.retention) == sorted(names)
    for item in outcome.retention:
        assert item["mode"] == "GOVERNANCE" and item["until"] > "2026", item

    uri = store.location(bundle)
    runner = CliRunner()
    text = runner.invoke(main, ["verify", uri, "--s3-endpoint", s3_endpoint, "--no-record"])
    assert text.exit_code == 0, text.output
    for name in names:
        assert any(
            "Object Lock GOVERNANCE until" in line and line.endswith(name)
            for line in text.output.splitlines()
        ), name
    as_json = runner.invoke(main, ["verify", uri, "--s3-endpoint", s3_endpoint, "--json"])
    reported = json.loads(as_json.stdout)["retention"]
    assert {r["path"] for r in reported} == set(names)
    assert all(r["until"] for r in reported)
