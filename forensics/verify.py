"""Verification of a sealed bundle: every byte, the digest and the custody chain.

A bundle is intact only when the manifest parses, names this bundle, lists
exactly the files present (none missing, none added), every file has the
recorded size and SHA-256, the digest recomputes, the custody chain is
unbroken and contains the head recorded at sealing, and, on an Object Lock
store, every object still has a retention (data files, manifest, signature and custody
objects alike; the mode and date of each are reported). When the bundle is signed, the
``sealed`` event names the signature object, and with a trusted public key the signature over
the exact manifest bytes is checked too (:mod:`forensics.signing`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from forensics.bundle.custody import check_chain, custody_line, line_hash
from forensics.bundle.manifest import MANIFEST, Manifest
from forensics.errors import BundleNotFoundError, IntegrityError, StoreError
from forensics.hashing import sha256_bytes, sha256_stream
from forensics.ids import validate_bundle_id, validate_incident_id
from forensics.signing import (
    SIGNATURE,
    PublicKey,
    check_signature,
    sealed_event,
    signature_details,
)
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
    #: ``{algorithm, key_fingerprint, checked}`` when the bundle has a signature.
    signature: dict[str, Any] | None = None

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
            "signature": self.signature,
        }


def verify_bundle(
    store: Store,
    incident: str,
    bundle_id: str,
    *,
    record: bool = True,
    public_key: PublicKey | None = None,
) -> VerifyResult:
    """Check a bundle against its manifest; optionally record a ``verified`` custody event.

    With ``public_key`` the bundle must also carry a valid signature by that key.
    """
    validate_incident_id(incident)
    validate_bundle_id(bundle_id)
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
    signature = _check_signature(store, bundle, manifest_bytes, present, public_key, result)
    _check_custody(store, bundle, manifest, sha256_bytes(manifest_bytes), result, signature)
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
    own = {f"{bundle}/{MANIFEST}", f"{bundle}/{SIGNATURE}"}
    for key in sorted(present):
        if key in listed or key in own or store.is_custody_key(bundle, key):
            continue
        result.problems.append(f"{key[len(bundle) + 1 :]}: extra file not in the manifest")
    if check_retention:  # every object present: data, manifest, signature, custody events
        for key in sorted(present):
            path = key[len(bundle) + 1 :]
            retention = store.retention(key)
            mode = retention.mode if retention else None
            result.retention.append(
                {"path": path, "mode": mode, "until": retention.until if retention else None}
            )
            if not mode:
                result.problems.append(f"{path}: no Object Lock retention")


def _check_signature(
    store: Store,
    bundle: str,
    manifest_bytes: bytes,
    present: dict[str, int],
    public_key: PublicKey | None,
    result: VerifyResult,
) -> dict[str, str] | None:
    """Check ``manifest.sig``; return what the sealed event should record about it."""
    key = f"{bundle}/{SIGNATURE}"
    if key not in present:
        if public_key is not None:
            result.problems.append(
                f"{SIGNATURE}: missing: the bundle is not signed, so the given public key "
                f"({public_key.fingerprint}) cannot vouch for it"
            )
        return None
    body = store.read_bytes(key)
    try:
        details = signature_details(body)
    except IntegrityError as exc:
        result.problems.append(str(exc))
        return None
    result.signature = {
        "algorithm": details["algorithm"],
        "key_fingerprint": details["key_fingerprint"],
        "checked": False,
    }
    if public_key is None:
        result.notes.append(
            f"the bundle is signed by {details['key_fingerprint']}; give --public-key to check it"
        )
    else:
        problems = check_signature(body, manifest_bytes, public_key)
        result.problems.extend(problems)
        result.signature["checked"] = not problems
    return details


def _check_custody(
    store: Store,
    bundle: str,
    manifest: Manifest,
    manifest_sha256: str,
    result: VerifyResult,
    signature: dict[str, str] | None = None,
) -> None:
    lines = store.read_custody(bundle)
    if not lines:
        result.problems.append("custody log: missing")
        return
    problems, hashes = check_chain(lines)
    result.problems.extend(f"custody log: {p}" for p in problems)
    for number, line in enumerate(lines, start=1):  # a cut newline would glue the next event on
        if not line.endswith(b"\n"):
            result.problems.append(f"custody log: event {number} does not end with a newline")
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
    details = recorded.get("details")
    details = details if isinstance(details, dict) else {}
    if details.get("manifest_sha256") != manifest_sha256:
        result.problems.append(
            f"{MANIFEST} or the sealed custody event changed after sealing "
            "(the manifest's hash differs from the one sealed)"
        )
        return
    sealed_signature = details.get("signature")
    if sealed_signature and signature is None:
        signer = (
            sealed_signature.get("key_fingerprint") if isinstance(sealed_signature, dict) else "?"
        )
        result.problems.append(
            f"{SIGNATURE}: missing or unreadable, but the sealed custody event records a "
            "signature by "
            f"{signer}"
        )
        return
    if signature and not sealed_signature:
        result.problems.append(
            f"{SIGNATURE} or the sealed custody event changed after sealing "
            "(the sealed event records no signature)"
        )
        return
    if signature and sealed_signature != signature:
        result.problems.append(
            f"{SIGNATURE} or the sealed custody event changed after sealing "
            "(the signature differs from the one sealed)"
        )
        return
    expected = sealed_event(
        seq=position + 1,
        custody_head=manifest.custody_head,
        digest=manifest.digest,
        manifest_sha256=manifest_sha256,
        sealed=manifest.sealed,
        who=manifest.operator,
        version=manifest.tool.get("version", ""),
        signature=signature,
    )
    if lines[position].rstrip(b"\n") != expected.rstrip(b"\n"):
        result.problems.append("custody log: the sealed event was altered")


def _event(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
