"""Storing and sealing a staged bundle, idempotently, so an interrupted run can resume.

Each step checks what the store already holds before acting: files already stored with the
same hash are skipped, custody events already appended are not appended again, an existing
manifest is reused. Running :func:`store_and_seal` twice, or after a crash at any point,
gives the same sealed bundle as one uninterrupted run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from forensics.bundle.custody import custody_line, line_hash
from forensics.bundle.manifest import MANIFEST, FileEntry, Manifest
from forensics.errors import ConfigError, ImmutableObjectError, IntegrityError
from forensics.hashing import sha256_bytes, sha256_file
from forensics.identity import TOOL_NAME, operator, tool_version
from forensics.signing import SIGNATURE, Signer, sealed_event, signature_details
from forensics.staging import StagedBundle
from forensics.stores.base import Store
from forensics.timeutil import isoformat, utcnow


class StageListener(Protocol):
    """Progress of the storing stages."""

    def stage(self, message: str, total: int | None = None) -> None:
        """A stage began."""

    def advance(self, count: int = 1) -> None:
        """Progress within the stage."""


class _Silent:
    def stage(self, message: str, total: int | None = None) -> None: ...
    def advance(self, count: int = 1) -> None: ...


def store_and_seal(
    store: Store,
    staged: StagedBundle,
    folder: Path,
    listener: StageListener | None = None,
    signer: Signer | None = None,
) -> Manifest:
    """Upload the staged files, write custody and manifest, sign (optional), seal. Repeatable."""
    progress: StageListener = listener or _Silent()
    bundle = staged.bundle
    _check_signer(staged, signer)
    if not staged.files:
        progress.stage("hashing", total=len(staged.staged))
        for item in staged.staged:
            sha, size = sha256_file(folder / item.path)
            entry = FileEntry(item.path, item.dataset, item.source, item.rows, size, sha)
            staged.files.append(entry)
            progress.advance()
        staged.files.sort(key=lambda f: f.path)
        staged.save(folder)

    progress.stage("uploading", total=len(staged.files))
    began = time.monotonic()
    uploaded = 0
    for entry in staged.files:
        key = f"{bundle}/{entry.path}"
        if store.exists(key):
            if store.object_sha256(key) != entry.sha256:
                raise ImmutableObjectError(
                    f"{store.location(key)} already exists with other content; "
                    "refusing to seal over it"
                )
        else:
            store.put_file(key, folder / entry.path, sha256=entry.sha256)
            uploaded += entry.bytes
        progress.advance()

    progress.stage("sealing")
    if not any('"event":"stored"' in line for line in staged.custody):
        previous = line_hash(staged.custody[-1].encode()) if staged.custody else None
        stored = custody_line(
            "stored",
            seq=len(staged.custody) + 1,
            prev=previous,
            details={
                "store": store.uri,
                "files": len(staged.files),
                "bytes": sum(f.bytes for f in staged.files),
                "bytes_this_run": uploaded,
                "seconds": round(time.monotonic() - began, 3),
            },
        )
        staged.custody.append(stored.decode())
        staged.save(folder)  # before appending, so a crash replays the same line
    planned = [line.encode() for line in staged.custody]
    existing = store.read_custody(bundle)
    if existing[: len(planned)] != planned[: len(existing)]:
        raise IntegrityError(
            f"the custody log of {store.location(bundle)} differs from the staged events; "
            "it was changed by something else"
        )
    for line in planned[len(existing) :]:
        store.append_custody(bundle, line)
    custody_head = line_hash(planned[-1])

    manifest_key = f"{bundle}/{MANIFEST}"
    if store.exists(manifest_key):
        body = store.read_bytes(manifest_key)
        manifest = Manifest.from_json(body)
        if manifest.custody_head != custody_head or manifest.files != staged.files:
            raise IntegrityError(
                f"{store.location(manifest_key)} exists but does not describe the staged files"
            )
    else:
        manifest = Manifest(
            incident_id=staged.incident_id,
            bundle_id=staged.bundle_id,
            window=staged.window,
            lookback_seconds=staged.lookback_seconds,
            changes_since=staged.changes_since,
            created=staged.created,
            sealed=isoformat(utcnow()),
            tool={"name": TOOL_NAME, "version": tool_version()},
            operator=operator(),
            sources=staged.sources,
            files=staged.files,
            custody_head=custody_head,
            store=staged.store_facts,
        )
        manifest.digest = manifest.compute_digest()
        body = manifest.to_json()
        store.put_bytes(manifest_key, body, sha256=sha256_bytes(body))

    signature = _store_signature(store, bundle, body, signer) if signer else None
    seal = sealed_event(
        seq=len(planned) + 1,
        custody_head=custody_head,
        digest=manifest.digest,
        manifest_sha256=sha256_bytes(body),
        sealed=manifest.sealed,
        who=manifest.operator,
        version=manifest.tool["version"],
        signature=signature,
    )
    existing = store.read_custody(bundle)
    if len(existing) == len(planned):
        store.append_custody(bundle, seal)
    elif existing[len(planned)] != seal:
        raise IntegrityError(f"the sealed event of {store.location(bundle)} does not match")
    store.seal(bundle)
    return manifest


def _check_signer(staged: StagedBundle, signer: Signer | None) -> None:
    """A resumed run must sign with the key the run was started with, or not at all."""
    wanted = staged.sign_key_fingerprint
    given = signer.fingerprint if signer else None
    if wanted == given:
        return
    if wanted and not given:
        raise ConfigError(
            f"this bundle was started with --sign-key (key {wanted}); "
            "give the same --sign-key to finish it"
        )
    if not wanted:
        raise ConfigError("this bundle was started without --sign-key; finish it without one")
    raise ConfigError(
        f"this bundle was started with --sign-key key {wanted}, not {given}; "
        "give the same key to finish it"
    )


def _store_signature(store: Store, bundle: str, manifest: bytes, signer: Signer) -> dict[str, str]:
    """Write ``manifest.sig`` unless the same signature is already stored (idempotent)."""
    key = f"{bundle}/{SIGNATURE}"
    body = signer.sign(manifest)  # Ed25519 is deterministic: a retry makes the same bytes
    if store.exists(key):
        if store.read_bytes(key) != body:
            raise IntegrityError(
                f"{store.location(key)} exists but is not this key's signature of the manifest"
            )
    else:
        store.put_bytes(key, body, sha256=sha256_bytes(body))
    return signature_details(body)
