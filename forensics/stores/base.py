"""The evidence store interface, shared by the local-directory and S3 stores.

Keys are ``/``-separated paths relative to the store root; a bundle lives
under ``<incident-id>/<bundle-id>/``. Stores never overwrite: every put is a
create that fails with :class:`ImmutableObjectError` when the key exists. Data
in a sealed bundle (one with ``manifest.json``) cannot be deleted through a
store. The custody log is the one thing that grows after sealing; it is
append-only and hash-chained (see :mod:`forensics.bundle.custody`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow.fs as pafs

from forensics.bundle.manifest import MANIFEST
from forensics.errors import ImmutableObjectError
from forensics.hashing import sha256_stream


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its key relative to the store root and its size."""

    key: str
    size: int


@dataclass(frozen=True)
class Retention:
    """Object Lock state of one stored object (S3), or read-only state (local)."""

    mode: str | None
    until: str | None
    legal_hold: bool = False


class Store(ABC):
    """Where bundles are kept. Subclasses implement the storage primitives."""

    #: The URI of the store root (``./evidence`` or ``s3://bucket/prefix``).
    uri: str

    # -- primitives -------------------------------------------------------------------

    @abstractmethod
    def location(self, key: str = "") -> str:
        """The URI of a key (or of the root)."""

    @abstractmethod
    def check(self) -> dict[str, Any]:
        """Check the store can be written; return facts to record (e.g. lock mode)."""

    @abstractmethod
    def put_file(self, key: str, path: Path, *, sha256: str) -> None:
        """Create ``key`` from a local file; refuse when it exists."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, sha256: str) -> None:
        """Create ``key`` with ``data``; refuse when it exists."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """Open a stored object for reading (raises BundleNotFoundError)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    @abstractmethod
    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` (recursive)."""

    @abstractmethod
    def children(self, prefix: str) -> list[str]:
        """Names of the immediate sub-folders of ``prefix``."""

    @abstractmethod
    def _delete(self, key: str) -> None:
        """Remove ``key`` (only called for keys outside sealed bundles)."""

    @abstractmethod
    def append_custody(self, bundle: str, line: bytes) -> None:
        """Append one custody event to the bundle's log."""

    @abstractmethod
    def read_custody(self, bundle: str) -> list[bytes]:
        """The bundle's custody events, in order."""

    @abstractmethod
    def is_custody_key(self, bundle: str, key: str) -> bool:
        """Whether ``key`` belongs to the bundle's custody log."""

    @abstractmethod
    def seal(self, bundle: str) -> None:
        """Make a sealed bundle's data read-only where the store can."""

    @abstractmethod
    def retention(self, key: str) -> Retention | None:
        """Retention of an object (None when the store has no such notion)."""

    @abstractmethod
    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the root path in it, for Parquet scans."""

    # -- shared behaviour ---------------------------------------------------------------

    def object_sha256(self, key: str) -> str:
        """SHA-256 of a stored object (stores with server-side checksums override this)."""
        with self.open(key) as stream:
            return sha256_stream(stream)[0]

    def read_bytes(self, key: str) -> bytes:
        """Read a whole (small) object."""
        with self.open(key) as stream:
            return stream.read()

    def delete(self, key: str) -> None:
        """Delete an object, refusing anything inside a sealed bundle."""
        parts = key.strip("/").split("/")
        if len(parts) >= 3:
            bundle = "/".join(parts[:2])
            if self.exists(f"{bundle}/{MANIFEST}"):
                raise ImmutableObjectError(
                    f"refusing to delete {self.location(key)}: it belongs to sealed bundle "
                    f"{self.location(bundle)}; sealed evidence is never modified"
                )
        self._delete(key)
