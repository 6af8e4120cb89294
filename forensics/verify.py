"""Verification of a sealed bundle: every byte, the digest and the custody chain.

A bundle is intact only when the manifest parses, names this bundle, lists
exactly the files present (none missing, none added), every file has the
recorded size and SHA-256, the digest recomputes, the custody chain is
unbroken and contains the head recorded at sealing, and, on an Object Lock
store, every object still has a retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from forensics.bundle.custody import check_chain, custody_line, line_hash, sealed_line
from forensics.bundle.manifest import MANIFEST, Manifest
from forensics.errors import BundleNotFoundError, IntegrityError, StoreError
from forensics.hashing import sha256_bytes, sha256_stream
from forensics.stores.base import Store


@dataclass
class VerifyResult:
    """The outcome of verifying one bundle."""

    bundle_uri: str
    intact: bool
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    digest: str | None = None
    retention: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "bundle_uri": self.bundle_uri,
            "intact": self.intact,
            "problems": self.problems,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "digest": self.digest,
            "retention": self.retention,
            "notes": self.notes,
        }


def verify_bundle(
    store: Store, incident: str, bundle_id: str, *, record: bool = True
) -> VerifyResult:
    """Check a bundle against its manifest; optionally record a ``verified`` custody event."""
    bundle = f"{incident}/{bundle_id}"
    result = VerifyResult(bundle_uri=store.location(bundle), intact=False)
    present = {info.key: info.size for info in store.list_objects(bundle)}
    if not present:
        raise BundleNotFoundError(f"no bundle at {store.location(bundle)}")
    if f"{bundle}/{MANIFEST}" not in present:
        result.problems.append(
            f"{MANIFEST}: missing (the bundle was never sealed, or it was removed)"
        )
        return result
    try:
        manifest_bytes = store.read_bytes(f"{bundle}/{MANIFEST}")
        manifest = Manifest.from_json(manifest_bytes)
    except IntegrityError as exc:
        result.problems.append(f"{MANIFEST}: {exc}")
        return result
    result.digest = manifest.digest
    if (manifest.incident_id, manifest.bundle_id) != (incident, bundle_id):
        result.problems.append(
            f"{MANIFEST}: names bundle {manifest.incident_id}/{manifest.bundle_id}, not {bundle}"
        )
    _check_files(store, bundle, manifest, present, result)
    if manifest.compute_digest() != manifest.digest:
        result.problems.append(f"{MANIFEST}: digest does not match the listed files")
    _check_custody(store, bundle, manifest, sha256_bytes(manifest_bytes), result)
    result.intact = not result.problems
    if record:
        lines = store.read_custody(bundle)
        prev = line_hash(lines[-1]) if lines else None
        event = custody_line(
            "verified",
            seq=len(lines) + 1,
            prev=prev,
            details={"intact": result.intact, "problems": len(result.problems)},
        )
        try:
            store.append_custody(bundle, event)
        except StoreError as exc:  # read-only access still verifies; it just cannot record
            result.notes.append(f"the verified event was not recorded: {exc}")
    return result


def _check_files(
    store: Store, bundle: str, manifest: Manifest, present: dict[str, int], result: VerifyResult
) -> None:
    listed = {f"{bundle}/{f.path}": f for f in manifest.files}
    check_retention = bool(manifest.store.get("object_lock"))
    for key, entry in sorted(listed.items()):
        if key not in present:
            result.problems.append(f"{entry.path}: missing")
            continue
        with store.open(key) as stream:
            sha, size = sha256_stream(stream)
        result.files_checked += 1
        result.bytes_checked += size
        if size != entry.bytes:
            result.problems.append(f"{entry.path}: modified (size {size}, sealed {entry.bytes})")
        elif sha != entry.sha256:
            result.problems.append(f"{entry.path}: modified (SHA-256 differs from the manifest)")
        if check_retention:
            retention = store.retention(key)
            mode = retention.mode if retention else None
            result.retention.append(
                {"path": entry.path, "mode": mode, "until": retention.until if retention else None}
            )
            if not mode:
                result.problems.append(f"{entry.path}: no Object Lock retention")
    for key in sorted(present):
        if key in listed or key == f"{bundle}/{MANIFEST}" or store.is_custody_key(bundle, key):
            continue
        result.problems.append(f"{key[len(bundle) + 1 :]}: extra file not in the manifest")


def _check_custody(
    store: Store, bundle: str, manifest: Manifest, manifest_sha256: str, result: VerifyResult
) -> None:
    lines = store.read_custody(bundle)
    if not lines:
        result.problems.append("custody log: missing")
        return
    problems, hashes = check_chain(lines)
    result.problems.extend(f"custody log: {p}" for p in problems)
    if manifest.custody_head not in hashes:
        result.problems.append(
            f"{MANIFEST} or custody log: the custody_head recorded at sealing is not in the log"
        )
        return
    # The event after the recorded head is the seal. It names the manifest's own hash
    # and is fully determined by the manifest, so it is rebuilt and compared byte for byte.
    position = hashes.index(manifest.custody_head) + 1
    if position >= len(lines):
        result.problems.append("custody log: the sealed event is missing")
        return
    recorded = _event(lines[position])
    if recorded.get("details", {}).get("manifest_sha256") != manifest_sha256:
        result.problems.append(
            f"{MANIFEST} or the sealed custody event changed after sealing "
            "(the manifest's hash differs from the one sealed)"
        )
        return
    expected = sealed_line(
        seq=position + 1,
        custody_head=manifest.custody_head,
        digest=manifest.digest,
        manifest_sha256=manifest_sha256,
        sealed=manifest.sealed,
        who=manifest.operator,
        version=manifest.tool.get("version", ""),
    )
    if lines[position].rstrip(b"\n") != expected.rstrip(b"\n"):
        result.problems.append("custody log: the sealed event was altered")


def _event(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
