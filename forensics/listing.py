"""Listing the bundles of a store (``forensics ls``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forensics.bundle.manifest import MANIFEST, Manifest
from forensics.errors import IntegrityError
from forensics.stores.base import Store


@dataclass(frozen=True)
class BundleSummary:
    """One bundle as listed: sealed ones carry their manifest facts."""

    incident_id: str
    bundle_id: str
    uri: str
    sealed: bool
    window: dict[str, str] | None = None
    sources: tuple[str, ...] = ()
    rows: int | None = None
    failed_sources: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "incident_id": self.incident_id,
            "bundle_id": self.bundle_id,
            "uri": self.uri,
            "status": "sealed" if self.sealed else "incomplete",
            "window": self.window,
            "sources": list(self.sources),
            "failed_sources": list(self.failed_sources),
            "rows": self.rows,
            "note": self.note,
        }


def list_bundles(store: Store, *, incident: str | None = None) -> list[BundleSummary]:
    """Every bundle of the store (or of one incident), oldest first per incident."""
    incidents = [incident] if incident else store.children("")
    found: list[BundleSummary] = []
    for inc in incidents:
        for bundle_id in store.children(inc):
            bundle = f"{inc}/{bundle_id}"
            uri = store.location(bundle)
            if not store.exists(f"{bundle}/{MANIFEST}"):
                found.append(BundleSummary(inc, bundle_id, uri, sealed=False, note="no manifest"))
                continue
            try:
                manifest = Manifest.from_json(store.read_bytes(f"{bundle}/{MANIFEST}"))
            except IntegrityError as exc:
                found.append(BundleSummary(inc, bundle_id, uri, sealed=False, note=str(exc)))
                continue
            found.append(
                BundleSummary(
                    inc,
                    bundle_id,
                    uri,
                    sealed=True,
                    window=manifest.window,
                    sources=tuple(s.name for s in manifest.sources),
                    rows=manifest.rows,
                    failed_sources=tuple(s.name for s in manifest.sources if s.status != "ok"),
                )
            )
    return found
