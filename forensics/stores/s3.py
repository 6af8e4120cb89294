"""An S3 (or S3-compatible) store with Object Lock.

Every object is uploaded with a SHA-256 checksum the server verifies, as a
conditional create (``If-None-Match: *``) after a check that the key is free,
so existing evidence is never replaced. Where the bucket has Object Lock,
every object gets a retention (COMPLIANCE or GOVERNANCE, configurable days).
Credentials come only from the standard AWS chain (environment, profile,
instance role); they are never recorded or printed.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, cast

import boto3
import pyarrow.fs as pafs
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from forensics.bundle.manifest import CUSTODY_DIR
from forensics.errors import BundleNotFoundError, ImmutableObjectError, StoreError
from forensics.ids import validate_key
from forensics.stores.base import ObjectInfo, Retention, Store
from forensics.timeutil import utcnow

LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
#: Network tuning from the environment: (variable, default); botocore *standard* retries
#: back off exponentially with jitter between attempts.
CONNECT_TIMEOUT_ENV = ("FORENSICS_S3_CONNECT_TIMEOUT", 10.0)
READ_TIMEOUT_ENV = ("FORENSICS_S3_READ_TIMEOUT", 60.0)
MAX_ATTEMPTS_ENV = ("FORENSICS_S3_MAX_ATTEMPTS", 6)


def _env_number(variable: str, default: float, *, integer: bool = False) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise StoreError(f"{variable} must be a positive {'integer' if integer else 'number'}")
    return value


class S3Store(Store):
    """Bundles under ``s3://bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        lock_mode: str = "COMPLIANCE",
        retention_days: int = 365,
        require_lock: bool = False,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        if lock_mode not in LOCK_MODES:
            raise StoreError(f"lock mode must be one of {', '.join(LOCK_MODES)}")
        if retention_days < 1:
            raise StoreError("retention days must be at least 1")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        self.lock_mode = lock_mode
        self.retention_days = retention_days
        self.require_lock = require_lock
        self.connect_timeout = connect_timeout or _env_number(*CONNECT_TIMEOUT_ENV)
        self.read_timeout = read_timeout or _env_number(*READ_TIMEOUT_ENV)
        self.max_attempts = int(max_attempts or _env_number(*MAX_ATTEMPTS_ENV, integer=True))
        self._session = boto3.session.Session(region_name=region)
        self.region = self._session.region_name or "us-east-1"
        self.client = self._session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=self.region,
            config=BotoConfig(
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            ),
        )
        self._lock_enabled: bool | None = None

    # -- helpers --------------------------------------------------------------------

    def _key(self, key: str) -> str:
        clean = validate_key(key).strip("/")  # relative, no traversal, no control characters
        return f"{self.prefix}/{clean}" if self.prefix else clean

    def _relative(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def location(self, key: str = "") -> str:
        """``s3://bucket/prefix/key``."""
        return f"s3://{self.bucket}/{self._key(key)}".rstrip("/")

    def _fail(self, action: str, exc: Exception, key: str = "") -> StoreError:
        where = self.location(key)
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StoreError(
                f"no AWS credentials to {action} {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an instance role applies"
            )
        if isinstance(exc, EndpointConnectionError):
            return StoreError(
                f"cannot reach the S3 endpoint {self.endpoint_url or 'of AWS'} "
                f"to {action} {where}; "
                "check --s3-endpoint / AWS_ENDPOINT_URL and the network"
            )
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
            return StoreError(
                f"the S3 endpoint {self.endpoint_url or 'of AWS'} did not answer to {action} "
                f"{where} ({type(exc).__name__} after {self.max_attempts} attempts, "
                f"timeouts {self.connect_timeout:g}s connect / {self.read_timeout:g}s read)"
            )
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"NoSuchBucket"} or (status == 404 and not key):
                return BundleNotFoundError(
                    f"bucket {self.bucket!r} does not exist (at {self.endpoint_url or 'AWS'}); "
                    "create it with Object Lock enabled, or fix the store URI"
                )
            if code in {"NoSuchKey", "404", "NotFound"}:
                return BundleNotFoundError(f"{where} does not exist")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status == 412:
                return ImmutableObjectError(
                    f"refusing to overwrite existing evidence {where}; objects are never replaced"
                )
            if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                return StoreError(
                    f"access denied to {action} {where} ({code}); check the AWS credentials "
                    "and the bucket policy"
                )
            message = exc.response.get("Error", {}).get("Message", "")
            return StoreError(f"cannot {action} {where}: {code} {message}".strip())
        return StoreError(f"cannot {action} {where}: {type(exc).__name__}")

    # -- store interface ----------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """Check the bucket exists and find its Object Lock configuration."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("use bucket", exc) from None
        try:
            lock = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in {
                "ObjectLockConfigurationNotFoundError",
                "NoSuchObjectLockConfiguration",
            }:
                raise self._fail("read the Object Lock configuration of", exc) from None
            enabled = False
        except BotoCoreError as exc:
            raise self._fail("read the Object Lock configuration of", exc) from None
        self._lock_enabled = enabled
        if self.require_lock and not enabled:
            raise StoreError(
                f"bucket {self.bucket!r} has no Object Lock and --require-lock was given; "
                "use a bucket created with Object Lock enabled"
            )
        facts: dict[str, Any] = {"type": "s3", "uri": self.uri, "object_lock": enabled}
        if enabled:
            facts.update(lock_mode=self.lock_mode, retention_days=self.retention_days)
        return facts

    def _lock_args(self) -> dict[str, Any]:
        if self._lock_enabled is None:
            self.check()
        if not self._lock_enabled:
            return {}
        return {
            "ObjectLockMode": self.lock_mode,
            "ObjectLockRetainUntilDate": utcnow() + timedelta(days=self.retention_days),
        }

    def _put(self, key: str, body: IO[bytes] | bytes, sha256: str) -> None:
        if self.exists(key):
            raise ImmutableObjectError(
                f"refusing to overwrite existing evidence {self.location(key)}; "
                "objects are never replaced"
            )
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode("ascii"),
                IfNoneMatch="*",
                **self._lock_args(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("upload", exc, key) from None

    def put_file(self, key: str, path: Path, *, sha256: str) -> None:
        """Upload a staged file with its SHA-256 checksum."""
        with path.open("rb") as body:
            self._put(key, body, sha256)

    def put_bytes(self, key: str, data: bytes, *, sha256: str) -> None:
        """Upload a small object with its SHA-256 checksum."""
        self._put(key, data, sha256)

    def open(self, key: str) -> IO[bytes]:
        """Stream an object."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read", exc, key) from None
        return cast(IO[bytes], body)

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._fail("look up", exc, key) from None
        except BotoCoreError as exc:
            raise self._fail("look up", exc, key) from None

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``."""
        full = self._key(prefix).rstrip("/") + "/"
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(self._relative(item["Key"]), int(item["Size"]))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", exc, prefix) from None

    def children(self, prefix: str) -> list[str]:
        """Immediate "folders" under ``prefix``."""
        full = self._key(prefix).rstrip("/") + "/" if (self.prefix or prefix.strip("/")) else ""
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    names.append(common["Prefix"][len(full) :].rstrip("/"))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", exc, prefix) from None
        return sorted(names)

    def _delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", exc, key) from None

    def append_custody(self, bundle: str, line: bytes) -> None:
        """Objects cannot be appended to: each event is its own numbered object."""
        from forensics.hashing import sha256_bytes

        existing = [o.key for o in self.list_objects(f"{bundle}/{CUSTODY_DIR}")]
        key = f"{bundle}/{CUSTODY_DIR}{len(existing) + 1:06d}.json"
        self._put(key, line, sha256_bytes(line))

    def read_custody(self, bundle: str) -> list[bytes]:
        """Custody events in sequence order."""
        keys = sorted(o.key for o in self.list_objects(f"{bundle}/{CUSTODY_DIR}"))
        return [self.read_bytes(key) for key in keys]

    def is_custody_key(self, bundle: str, key: str) -> bool:
        """Keys under ``custody/``."""
        return key.startswith(f"{bundle}/{CUSTODY_DIR}")

    def seal(self, bundle: str) -> None:
        """Nothing to do: Object Lock retention was set on upload."""

    def object_sha256(self, key: str) -> str:
        """The SHA-256 checksum S3 stored with the object, else a streamed hash."""
        try:
            head = self.client.head_object(
                Bucket=self.bucket, Key=self._key(key), ChecksumMode="ENABLED"
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("look up", exc, key) from None
        checksum = head.get("ChecksumSHA256")
        if checksum and "-" not in checksum:  # multipart checksums are of parts, not the object
            return base64.b64decode(checksum).hex()
        return super().object_sha256(key)

    def retention(self, key: str) -> Retention | None:
        """Object Lock mode and retain-until date of an object."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("look up", exc, key) from None
        until = head.get("ObjectLockRetainUntilDate")
        return Retention(
            mode=head.get("ObjectLockMode"),
            until=until.isoformat() if until else None,
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """pyarrow's own S3 filesystem with the same endpoint and credentials."""
        credentials = self._session.get_credentials()
        kwargs: dict[str, Any] = {"region": self.region}
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            kwargs.update(
                access_key=frozen.access_key,
                secret_key=frozen.secret_key,
                session_token=frozen.token,
            )
        if self.endpoint_url:
            scheme, _, rest = self.endpoint_url.partition("://")
            kwargs.update(endpoint_override=rest.rstrip("/"), scheme=scheme or "https")
        return pafs.S3FileSystem(**kwargs), f"{self.bucket}/{self.prefix}".rstrip("/")
