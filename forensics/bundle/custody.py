"""The chain-of-custody log of a bundle.

Each event is one JSON line: ``seq``, ``event`` (collected, stored, sealed,
verified, exported), ``time`` (UTC), ``operator``, ``host``, ``tool_version``,
``details`` and ``prev``, the SHA-256 of the previous line. The chain makes the
log append-only in effect: editing, removing or reordering a line breaks it,
and the manifest records the hash of the last event before sealing.
"""

from __future__ import annotations

import json
from typing import Any

from forensics.hashing import sha256_bytes
from forensics.identity import host, operator, tool_version
from forensics.timeutil import isoformat, utcnow

EVENTS = ("collected", "stored", "sealed", "verified", "exported")


def custody_line(
    event: str,
    *,
    seq: int,
    prev: str | None,
    details: dict[str, Any] | None = None,
    time: str | None = None,
    who: str | None = None,
    version: str | None = None,
) -> bytes:
    """Serialise one custody event as a canonical JSON line (with newline).

    ``time``, ``who`` (user@host) and ``version`` default to now, this operator
    and this tool; the seal passes the manifest's values so that verification
    can rebuild the sealed event byte for byte.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown custody event {event!r}")
    who = who or operator()
    record = {
        "seq": seq,
        "event": event,
        "time": time or isoformat(utcnow()),
        "operator": who,
        "host": who.rpartition("@")[2] or host(),
        "tool_version": version or tool_version(),
        "details": details or {},
        "prev": prev,
    }
    return (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def sealed_line(
    *,
    seq: int,
    custody_head: str,
    digest: str,
    manifest_sha256: str,
    sealed: str,
    who: str,
    version: str,
) -> bytes:
    """The ``sealed`` event, fully determined by the manifest and its hash."""
    return custody_line(
        "sealed",
        seq=seq,
        prev=custody_head,
        details={"digest": digest, "manifest_sha256": manifest_sha256},
        time=sealed,
        who=who,
        version=version,
    )


def line_hash(line: bytes) -> str:
    """The hash a following event names as ``prev``."""
    return sha256_bytes(line.rstrip(b"\n"))


def check_chain(lines: list[bytes]) -> tuple[list[str], list[str]]:
    """Check the chain; return (problems, hash of each line in order)."""
    problems: list[str] = []
    hashes: list[str] = []
    prev: str | None = None
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            problems.append(f"custody event {number} is not valid JSON")
            record = {}
        if record.get("seq") != number:
            problems.append(f"custody event {number} has seq {record.get('seq')!r} (out of order)")
        if record.get("prev") != prev:
            problems.append(f"custody event {number} does not chain to the event before it")
        prev = line_hash(line)
        hashes.append(prev)
    return problems, hashes
