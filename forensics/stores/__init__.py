"""Evidence stores: where sealed bundles are kept.

:func:`open_store` picks the implementation from a URI: ``s3://bucket/prefix``
for S3 (any S3-compatible endpoint), anything else is a local directory.
"""

from __future__ import annotations

import os

from forensics.errors import ConfigError
from forensics.ids import validate_bundle_id, validate_incident_id
from forensics.stores.base import ObjectInfo, Retention, Store
from forensics.stores.local import LocalStore
from forensics.stores.s3 import S3Store

DEFAULT_STORE = "./evidence"


def open_store(
    uri: str = DEFAULT_STORE,
    *,
    endpoint_url: str | None = None,
    lock_mode: str = "COMPLIANCE",
    retention_days: int = 365,
    require_lock: bool = False,
) -> Store:
    """Open the store at ``uri`` (``s3://bucket/prefix`` or a directory)."""
    if uri.startswith("s3://"):
        rest = uri[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ConfigError(f"store URI {uri!r} names no bucket: use s3://bucket/prefix")
        return S3Store(
            bucket,
            prefix,
            endpoint_url=endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL"),
            lock_mode=lock_mode,
            retention_days=retention_days,
            require_lock=require_lock,
        )
    if "://" in uri and not uri.startswith("file://"):
        raise ConfigError(f"unsupported store URI {uri!r}: use a directory or s3://bucket/prefix")
    if require_lock:
        raise ConfigError("--require-lock applies to S3 stores with Object Lock only")
    return LocalStore(uri.removeprefix("file://"))


def split_bundle_uri(uri: str) -> tuple[str, str, str]:
    """Split ``<store>/<incident>/<bundle-id>`` into its three parts, validated."""
    trimmed = uri.rstrip("/")
    head, _, bundle_id = trimmed.rpartition("/")
    store, _, incident = head.rpartition("/")
    if not bundle_id or not incident:
        raise ConfigError(
            f"{uri!r} is not a bundle URI: expected <store>/<incident-id>/<bundle-id>"
        )
    validate_incident_id(incident)
    validate_bundle_id(bundle_id)
    if store.endswith(":/") or store == "s3:":
        raise ConfigError(f"{uri!r} is not a bundle URI: the bucket is missing")
    return store or ".", incident, bundle_id


__all__ = [
    "DEFAULT_STORE",
    "LocalStore",
    "ObjectInfo",
    "Retention",
    "S3Store",
    "Store",
    "open_store",
    "split_bundle_uri",
]
