"""One contract for every store: create-only, no deletes when sealed, verify catches change."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.errors import ImmutableObjectError
from forensics.listing import list_bundles
from forensics.stores import LocalStore, S3Store, Store
from forensics.verify import verify_bundle
from tests.helpers import small_bundle


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "evidence")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("lock_bucket")
    return S3Store(bucket, "cases", endpoint_url=endpoint, lock_mode="GOVERNANCE", retention_days=1)


def test_sealed_bundle_verifies_and_lists(store: Store, tmp_path: Path) -> None:
    result = small_bundle(store, tmp_path / "src")
    assert result.manifest.sources[0].reconciled
    outcome = verify_bundle(store, "INC-1", result.bundle_id)
    assert outcome.intact, outcome.problems
    assert outcome.files_checked == len(result.manifest.files) == 2
    listed = list_bundles(store)
    assert [(b.incident_id, b.bundle_id, b.sealed) for b in listed] == [
        ("INC-1", result.bundle_id, True)
    ]
    assert listed[0].rows == 300


def test_overwrite_and_delete_of_sealed_objects_are_refused(store: Store, tmp_path: Path) -> None:
    result = small_bundle(store, tmp_path / "src")
    bundle = f"INC-1/{result.bundle_id}"
    data_key = f"{bundle}/{result.manifest.files[0].path}"
    with pytest.raises(ImmutableObjectError, match="refusing to overwrite"):
        store.put_bytes(data_key, b"replaced", sha256="00" * 32)
    with pytest.raises(ImmutableObjectError, match="refusing to overwrite"):
        store.put_bytes(f"{bundle}/manifest.json", b"{}", sha256="00" * 32)
    with pytest.raises(ImmutableObjectError, match="sealed"):
        store.delete(data_key)
    assert verify_bundle(store, "INC-1", result.bundle_id).intact


def test_incomplete_bundle_is_listed_as_incomplete(store: Store, tmp_path: Path) -> None:
    store.check()
    data = b"partial"
    from forensics.hashing import sha256_bytes

    store.put_bytes(
        "INC-2/20261120T110000Z-0badf00d/logs/x/part-00000.parquet", data, sha256=sha256_bytes(data)
    )
    (listed,) = list_bundles(store, incident="INC-2")
    assert not listed.sealed
    outcome = verify_bundle(store, "INC-2", "20261120T110000Z-0badf00d", record=False)
    assert not outcome.intact
    assert "manifest.json: missing" in outcome.problems[0]
