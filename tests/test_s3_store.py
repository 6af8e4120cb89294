"""S3-specific guarantees, against the real moto server over HTTP."""

from __future__ import annotations

import base64
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
    outcome = verify_bundle(store, "INC-1", result.bundle_id)
    assert outcome.intact, outcome.problems
    assert len(outcome.retention) == len(result.manifest.files)
    assert {r["mode"] for r in outcome.retention} == {"COMPLIANCE"}

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
