"""The staged bundle: everything collected, waiting on local disk to be stored and sealed.

``staged.json`` in the staging folder records what the seal needs (sources, files, window,
the custody events rendered so far), written atomically after each step that must survive
a crash. A run that dies after collection can then be finished with
``forensics preserve --resume BUNDLE_ID`` without collecting again, and the sealed bundle is
the same as an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forensics.bundle.manifest import FileEntry, SourceEntry
from forensics.bundle.writer import StagedFile
from forensics.errors import BundleNotFoundError, IntegrityError

STAGED = "staged.json"
STAGING_FORMAT = "incident-forensics-staging"


@dataclass
class StagedBundle:
    """A collected, not yet sealed bundle."""

    incident_id: str
    bundle_id: str
    window: dict[str, str]
    lookback_seconds: int
    changes_since: str
    created: str
    store_facts: dict[str, Any]
    sources: list[SourceEntry]
    staged: list[StagedFile]
    #: Data files with their hashes, once hashed (before the first upload).
    files: list[FileEntry] = field(default_factory=list)
    #: Custody event lines rendered so far, in order (UTF-8 text, newline included).
    custody: list[str] = field(default_factory=list)
    #: Fingerprint of the --sign-key the run was started with (never the key or its path).
    sign_key_fingerprint: str | None = None

    @property
    def bundle(self) -> str:
        """The bundle's key prefix in a store."""
        return f"{self.incident_id}/{self.bundle_id}"

    def save(self, folder: Path) -> None:
        """Write ``staged.json`` atomically (temp file, fsync, rename)."""
        body = {"format": STAGING_FORMAT, **asdict(self)}
        temporary = folder / f".{STAGED}.tmp"
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(body, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(folder / STAGED)

    @classmethod
    def load(cls, folder: Path) -> StagedBundle:
        """Read ``staged.json`` from a staging folder."""
        path = folder / STAGED
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleNotFoundError(
                f"nothing staged at {folder}: collection did not finish there, so there is "
                "nothing to resume; run preserve again"
            ) from None
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"{path} is unreadable: {exc}") from None
        if raw.pop("format", None) != STAGING_FORMAT:
            raise IntegrityError(f"{path} is not a staged bundle")
        raw["sources"] = [SourceEntry(**s) for s in raw["sources"]]
        raw["staged"] = [StagedFile(**s) for s in raw["staged"]]
        raw["files"] = [FileEntry(**f) for f in raw["files"]]
        return cls(**raw)
