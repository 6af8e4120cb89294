"""The bundle manifest: what was collected, how, and the hash of every file.

Writing ``manifest.json`` is the seal: a bundle without one is incomplete.
See ``docs/bundle-format.md`` for the field-by-field description.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from forensics.bundle.schema import FORMAT_NAME, FORMAT_VERSION
from forensics.errors import IntegrityError
from forensics.hashing import bundle_digest

MANIFEST = "manifest.json"
CUSTODY = "custody.jsonl"
CUSTODY_DIR = "custody/"


@dataclass
class SourceEntry:
    """One source's part of the bundle, with its reconciliation."""

    name: str
    type: str
    kind: str
    status: str  # ok | failed
    window: dict[str, str]
    query: dict[str, Any]
    reported_count: int | None
    counted_by: str
    rows_written: int
    rows_rejected: int
    rows_skipped: dict[str, int] = field(default_factory=dict)
    reconciled: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    started: str = ""
    finished: str = ""

    def reconcile(self) -> bool:
        """True when reported = written + rejected + skipped."""
        if self.reported_count is None:
            return False
        accounted = self.rows_written + self.rows_rejected + sum(self.rows_skipped.values())
        return self.reported_count == accounted


@dataclass
class FileEntry:
    """One data file of the bundle."""

    path: str
    dataset: str
    source: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class Manifest:
    """The sealed description of a bundle."""

    incident_id: str
    bundle_id: str
    window: dict[str, str]
    lookback_seconds: int
    created: str
    sealed: str
    tool: dict[str, str]
    operator: str
    sources: list[SourceEntry]
    files: list[FileEntry]
    custody_head: str | None
    store: dict[str, Any] = field(default_factory=dict)
    changes_since: str = ""
    digest: str = ""
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def compute_digest(self) -> str:
        """The bundle digest over the listed files."""
        return bundle_digest({f.path: f.sha256 for f in self.files})

    def to_json(self) -> bytes:
        """Serialise as UTF-8 JSON, stable key order, trailing newline."""
        body = asdict(self)
        ordered = {
            "format": body.pop("format"),
            "format_version": body.pop("format_version"),
            **body,
        }
        return (json.dumps(ordered, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @property
    def rows(self) -> int:
        """Rows written across all sources (rejects excluded)."""
        return sum(s.rows_written for s in self.sources)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse a manifest, failing with :class:`IntegrityError` when it is malformed."""
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT_NAME:
                raise IntegrityError(f"not a bundle manifest (format {raw.get('format')!r})")
            if raw.get("format_version", 0) > FORMAT_VERSION:
                raise IntegrityError(
                    f"bundle format version {raw['format_version']} is newer than this tool "
                    f"reads ({FORMAT_VERSION}); upgrade incident-forensics"
                )
            raw["sources"] = [SourceEntry(**s) for s in raw["sources"]]
            raw["files"] = [FileEntry(**f) for f in raw["files"]]
            return cls(**raw)
        except IntegrityError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise IntegrityError(f"manifest.json is malformed: {exc}") from None
