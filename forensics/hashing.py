"""SHA-256 helpers shared by sealing and verification."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

CHUNK = 1 << 20


def sha256_stream(stream: IO[bytes]) -> tuple[str, int]:
    """Hash a binary stream to its end; return hex digest and byte count."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """Hash a local file; return hex digest and byte count."""
    with path.open("rb") as stream:
        return sha256_stream(stream)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def bundle_digest(files: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """The bundle digest: SHA-256 over ``path<TAB>sha256<LF>`` lines sorted by path."""
    pairs = sorted(files.items() if isinstance(files, Mapping) else files)
    text = "".join(f"{path}\t{sha}\n" for path, sha in pairs)
    return sha256_bytes(text.encode("utf-8"))
