"""Optional Ed25519 signing of the manifest.

A hash-sealed bundle proves that nothing changed *since the seal*, as long as nobody rewrote
the manifest and the custody log together. A signature closes that gap: whoever holds the
private key signs the exact bytes of ``manifest.json`` at sealing, and ``forensics verify
--public-key`` refuses a manifest that was re-sealed with recomputed hashes but without the key.

The signature is its own object, ``manifest.sig``, written after the manifest and before the
``sealed`` custody event::

    {"algorithm": "Ed25519", "format": "incident-forensics-signature",
     "key_fingerprint": "sha256:<hex of the raw public key>",
     "manifest_sha256": "<hex>", "signature": "<base64>"}

(keys sorted, compact, one line). Ed25519 signatures are deterministic, so signing the same
manifest with the same key gives the same bytes: sealing stays idempotent under ``--resume``.
The ``sealed`` event then records ``{algorithm, key_fingerprint, sha256}`` of that object, so
removing, replacing or adding a signature after sealing is detected even without the key.

The private key is read once, kept in memory, and never written, printed or named in an error
(its path included): messages say "the --sign-key file".
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from forensics.bundle.custody import custody_line, sealed_line
from forensics.errors import ConfigError, IntegrityError
from forensics.hashing import sha256_bytes

SIGNATURE = "manifest.sig"
SIGNATURE_FORMAT = "incident-forensics-signature"
ALGORITHM = "Ed25519"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"sha256:{sha256_bytes(raw)}"


@dataclass(frozen=True)
class Signer:
    """A loaded private key. Its ``repr`` never shows the key."""

    key: Ed25519PrivateKey = field(repr=False)
    fingerprint: str

    def sign(self, manifest: bytes) -> bytes:
        """The ``manifest.sig`` object for these exact manifest bytes (deterministic)."""
        body = {
            "algorithm": ALGORITHM,
            "format": SIGNATURE_FORMAT,
            "key_fingerprint": self.fingerprint,
            "manifest_sha256": sha256_bytes(manifest),
            "signature": base64.b64encode(self.key.sign(manifest)).decode("ascii"),
        }
        return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True)
class PublicKey:
    """A loaded public key to check signatures with."""

    key: Ed25519PublicKey
    fingerprint: str


def load_signer(path: str | Path) -> Signer:
    """Read an unencrypted PEM (PKCS#8) Ed25519 private key; errors never name the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the --sign-key file ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            "the --sign-key file is not an unencrypted PEM private key; "
            "make one with: forensics keygen PATH"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("the --sign-key file holds a key that is not Ed25519")
    return Signer(key=key, fingerprint=fingerprint(key.public_key()))


def load_public_key(path: str | Path) -> PublicKey:
    """Read a PEM (SubjectPublicKeyInfo) Ed25519 public key."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the public key {str(path)!r}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{str(path)!r} is not a PEM public key (give the .pub file made by forensics keygen)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{str(path)!r} holds a public key that is not Ed25519")
    return PublicKey(key=key, fingerprint=fingerprint(key))


def generate_keypair(path: str | Path) -> tuple[Path, str]:
    """Write a new private key to ``path`` (mode 0600) and its public key to ``path.pub``.

    Refuses to replace either file. Returns the public key path and the fingerprint.
    """
    private_path = Path(path)
    public_path = private_path.with_name(private_path.name + ".pub")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public_path.exists():
        raise ConfigError("a .pub file already exists there; key files are never replaced")
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("that key file already exists; key files are never replaced") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot create the key file ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, private_pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    public_path.write_bytes(public_pem)
    return public_path, fingerprint(key.public_key())


def parse_signature(body: bytes) -> dict[str, str]:
    """Parse a ``manifest.sig`` object, raising :class:`IntegrityError` when malformed."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise IntegrityError(f"{SIGNATURE}: not valid JSON") from None
    keys = {"algorithm", "format", "key_fingerprint", "manifest_sha256", "signature"}
    if (
        not isinstance(value, dict)
        or value.get("format") != SIGNATURE_FORMAT
        or set(value) != keys
        or not all(isinstance(value[k], str) for k in keys)
    ):
        raise IntegrityError(f"{SIGNATURE}: not a signature object of this tool")
    if value["algorithm"] != ALGORITHM:
        raise IntegrityError(f"{SIGNATURE}: unsupported algorithm {value['algorithm']!r}")
    return value


def signature_details(body: bytes) -> dict[str, str]:
    """What the ``sealed`` custody event records about a ``manifest.sig`` object."""
    parsed = parse_signature(body)
    return {
        "algorithm": parsed["algorithm"],
        "key_fingerprint": parsed["key_fingerprint"],
        "sha256": sha256_bytes(body),
    }


def check_signature(body: bytes, manifest: bytes, public_key: PublicKey) -> list[str]:
    """Problems with ``manifest.sig`` against the manifest bytes and a trusted public key."""
    try:
        parsed = parse_signature(body)
    except IntegrityError as exc:
        return [str(exc)]
    if parsed["key_fingerprint"] != public_key.fingerprint:
        return [
            f"{SIGNATURE}: signed by key {parsed['key_fingerprint']}, "
            f"not by the given public key {public_key.fingerprint}"
        ]
    try:
        signature = base64.b64decode(parsed["signature"], validate=True)
        public_key.key.verify(signature, manifest)
    except (ValueError, InvalidSignature):
        return [
            f"{SIGNATURE}: the signature does not match manifest.json "
            "(the manifest was changed or re-sealed after signing)"
        ]
    return []


def sealed_event(
    *,
    seq: int,
    custody_head: str,
    digest: str,
    manifest_sha256: str,
    sealed: str,
    who: str,
    version: str,
    signature: dict[str, Any] | None = None,
) -> bytes:
    """The ``sealed`` custody event; with a signature its facts join the details.

    Without a signature this is exactly :func:`forensics.bundle.custody.sealed_line`, so
    unsigned bundles are unchanged.
    """
    if signature is None:
        return sealed_line(
            seq=seq,
            custody_head=custody_head,
            digest=digest,
            manifest_sha256=manifest_sha256,
            sealed=sealed,
            who=who,
            version=version,
        )
    return custody_line(
        "sealed",
        seq=seq,
        prev=custody_head,
        details={"digest": digest, "manifest_sha256": manifest_sha256, "signature": signature},
        time=sealed,
        who=who,
        version=version,
    )
