"""A local directory store (the default, ``./evidence``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow.fs as pafs

from forensics.bundle.manifest import CUSTODY
from forensics.errors import BundleNotFoundError, ImmutableObjectError, StoreError
from forensics.ids import validate_key
from forensics.stores.base import ObjectInfo, Retention, Store

_READ_ONLY_FILE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_READ_ONLY_DIR = _READ_ONLY_FILE | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


_TEMPORARY = ".tmp"


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(_TEMPORARY)


class LocalStore(Store):
    """Bundles as folders under a root directory; sealed files become read-only."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        clean = validate_key(key).strip("/")  # relative, no traversal, no control characters
        return self.root / clean if clean else self.root

    def location(self, key: str = "") -> str:
        """The filesystem path of a key."""
        return str(self._path(key))

    def check(self) -> dict[str, Any]:
        """Create the root if needed and check it is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {self.root}: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise StoreError(f"store directory {self.root} is not writable")
        return {"type": "local", "root": str(self.root)}

    def _create(self, key: str, write: Any) -> None:
        target = self._path(key)
        if target.exists():
            raise ImmutableObjectError(
                f"refusing to overwrite existing evidence {target}; objects are never replaced"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}{_TEMPORARY}")
        try:
            with temporary.open("wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.link(temporary, target)  # fails if target appeared meanwhile: no overwrite
        except FileExistsError:
            raise ImmutableObjectError(
                f"refusing to overwrite existing evidence {target}; objects are never replaced"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc.strerror}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def put_file(self, key: str, path: Path, *, sha256: str) -> None:
        """Copy a staged file into the store."""

        def write(out: IO[bytes]) -> None:
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        self._create(key, write)

    def put_bytes(self, key: str, data: bytes, *, sha256: str) -> None:
        """Create a small object."""
        self._create(key, lambda out: out.write(data))

    def open(self, key: str) -> IO[bytes]:
        """Open a file of the store."""
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise BundleNotFoundError(f"{self._path(key)} does not exist") from None
        except OSError as exc:
            raise StoreError(f"cannot read {self._path(key)}: {exc.strerror}") from None

    def exists(self, key: str) -> bool:
        """Whether a file exists."""
        return self._path(key).exists()

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every file under ``prefix`` (nothing hidden: a planted file must show)."""
        base = self._path(prefix)
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in sorted(files):
                full = Path(dirpath) / name
                yield ObjectInfo(full.relative_to(self.root).as_posix(), full.stat().st_size)

    def children(self, prefix: str) -> list[str]:
        """Sub-folder names of ``prefix``."""
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise BundleNotFoundError(f"{self._path(key)} does not exist") from None

    def append_custody(self, bundle: str, line: bytes) -> None:
        """Append to ``custody.jsonl`` (O_APPEND, fsynced)."""
        path = self._path(f"{bundle}/{CUSTODY}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot append to {path}: {exc.strerror}") from None
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_custody(self, bundle: str) -> list[bytes]:
        """Lines of ``custody.jsonl``."""
        path = self._path(f"{bundle}/{CUSTODY}")
        if not path.exists():
            return []
        return [line for line in path.read_bytes().splitlines(keepends=True) if line.strip()]

    def is_custody_key(self, bundle: str, key: str) -> bool:
        """``custody.jsonl`` of the bundle."""
        return key == f"{bundle}/{CUSTODY}"

    def seal(self, bundle: str) -> None:
        """Make every data file and folder of the bundle read-only (custody stays appendable)."""
        base = self._path(bundle)
        for dirpath, dirs, files in os.walk(base, topdown=False):
            for name in files:
                if _is_temporary(name):  # left by a run killed mid-copy; the resume rewrote it
                    Path(dirpath, name).unlink()
                elif name != CUSTODY:
                    Path(dirpath, name).chmod(_READ_ONLY_FILE)
            for name in dirs:
                Path(dirpath, name).chmod(_READ_ONLY_DIR)
        base.chmod(_READ_ONLY_DIR)

    def retention(self, key: str) -> Retention | None:
        """Local files report ``read-only`` when their write bits are off."""
        mode = self._path(key).stat().st_mode
        return Retention(mode=None if mode & 0o222 else "read-only", until=None)

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """The local filesystem and this root."""
        return pafs.LocalFileSystem(), str(self.root)
