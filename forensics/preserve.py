"""The preservation run: collectors -> bundle writer -> store -> seal.

Each stage is usable alone (:mod:`collectors`, :mod:`forensics.bundle.writer`,
:mod:`forensics.stores`); this module only sequences them:

1. build every collector first, so a bad configuration fails before anything
   is collected;
2. collect each source into a local staging folder (Parquet + rejects);
3. hash every staged file, upload it as a create-only object;
4. write the custody events, then ``manifest.json`` (the seal), then the
   ``sealed`` custody event, and make the bundle read-only where possible.

A source that fails does not lose what other sources preserved: its partial
rows are discarded, the bundle is sealed with that source marked ``failed``
and its error recorded, and the caller learns which sources failed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from forensics.bundle.custody import custody_line, line_hash
from forensics.bundle.manifest import MANIFEST, Manifest, SourceEntry
from forensics.bundle.writer import (
    DEFAULT_MAX_ROWS_PER_FILE,
    DatasetWriter,
    RejectWriter,
    StagedFile,
    is_disk_full,
    staging_full,
)
from forensics.config import Config
from forensics.errors import ConfigError, ForensicsError, SourceError, StagingFullError
from forensics.identity import TOOL_NAME
from forensics.ids import new_bundle_id, validate_bundle_id, validate_incident_id
from forensics.seal import store_and_seal
from forensics.signing import Signer
from forensics.staging import StagedBundle
from forensics.stores.base import Store
from forensics.stores.local import LocalStore
from forensics.timeutil import isoformat, utcnow
from forensics.window import Window

if TYPE_CHECKING:
    from collectors.base import Collector

DEFAULT_LOOKBACK = timedelta(hours=24)


class ProgressListener(Protocol):
    """Receives progress of a preservation run (the CLI draws it)."""

    def source_started(self, name: str, total: int | None) -> None:
        """A source was opened; ``total`` is its reported count when known."""

    def rows(self, name: str, count: int) -> None:
        """``count`` more rows of ``name`` were written to staging."""

    def source_finished(self, name: str, entry: SourceEntry) -> None:
        """A source is done (or failed)."""

    def stage(self, message: str, total: int | None = None) -> None:
        """A new stage began (uploading, sealing)."""

    def advance(self, count: int = 1) -> None:
        """Progress within the current stage."""


class _Quiet:
    def source_started(self, name: str, total: int | None) -> None: ...
    def rows(self, name: str, count: int) -> None: ...
    def source_finished(self, name: str, entry: SourceEntry) -> None: ...
    def stage(self, message: str, total: int | None = None) -> None: ...
    def advance(self, count: int = 1) -> None: ...


@dataclass
class PreserveResult:
    """What a preservation run produced."""

    bundle_uri: str
    incident_id: str
    bundle_id: str
    manifest: Manifest
    failed: list[str] = field(default_factory=list)


def default_staging(store: Store) -> Path:
    """Where files wait before upload: beside a local store, else the user cache."""
    if configured := os.environ.get("FORENSICS_STAGING"):
        return Path(configured)
    if isinstance(store, LocalStore):
        return store.root / ".staging"
    return Path.home() / ".cache" / TOOL_NAME / "staging"


def source_window(kind: str, window: Window, lookback: timedelta) -> Window:
    """Change history looks back further than the incident window."""
    if kind == "changes":
        return Window(window.since - lookback, window.until)
    return window


def build_collectors(config: Config, window: Window, lookback: timedelta) -> list[Collector]:
    """Instantiate every configured collector (validates all options up front)."""
    from collectors import collector_types  # plug-ins import the library, not the reverse

    types = collector_types()
    return [
        types[source.type](source, window=source_window(source.kind, window, lookback))
        for source in config.sources
    ]


def preserve(
    config: Config,
    store: Store,
    *,
    incident: str,
    window: Window,
    lookback: timedelta = DEFAULT_LOOKBACK,
    staging: Path | None = None,
    progress: ProgressListener | None = None,
    max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
    signer: Signer | None = None,
) -> PreserveResult:
    """Collect every configured source for ``window`` into a new sealed bundle.

    With ``signer`` the manifest is signed (``manifest.sig``, see :mod:`forensics.signing`).
    """
    validate_incident_id(incident)
    listener: ProgressListener = progress or _Quiet()
    collectors = build_collectors(config, window, lookback)
    store_facts = store.check()
    created = utcnow()
    bundle_id = new_bundle_id(created)
    stage_root = (staging or default_staging(store)) / incident / bundle_id
    stage_root.mkdir(parents=True, exist_ok=False)
    try:
        entries: list[SourceEntry] = []
        staged_files: list[StagedFile] = []
        for collector in collectors:
            entry, files = _collect(collector, stage_root, listener, max_rows_per_file)
            entries.append(entry)
            staged_files.extend(files)
        staged = StagedBundle(
            incident_id=incident,
            bundle_id=bundle_id,
            window={"since": isoformat(window.since), "until": isoformat(window.until)},
            lookback_seconds=int(lookback.total_seconds()),
            changes_since=isoformat(window.since - lookback),
            created=isoformat(created),
            store_facts=store_facts,
            sources=entries,
            staged=staged_files,
            custody=_collected_events(entries),
            sign_key_fingerprint=signer.fingerprint if signer else None,
        )
        staged.save(stage_root)
    except BaseException as exc:
        # Collection did not finish: there is nothing complete to resume.
        shutil.rmtree(stage_root, ignore_errors=True)
        if is_disk_full(exc):
            raise staging_full(stage_root.parent.parent, resumable=False) from None
        raise
    return _finish(store, staged, stage_root, listener, signer)


def resume(
    store: Store,
    *,
    incident: str,
    bundle_id: str,
    staging: Path | None = None,
    progress: ProgressListener | None = None,
    signer: Signer | None = None,
) -> PreserveResult:
    """Finish storing and sealing a bundle whose collection completed, without collecting again."""
    validate_incident_id(incident)
    validate_bundle_id(bundle_id)
    stage_root = (staging or default_staging(store)) / incident / bundle_id
    if not stage_root.exists() and store.exists(f"{incident}/{bundle_id}/{MANIFEST}"):
        raise ConfigError(
            f"{store.location(f'{incident}/{bundle_id}')} is already sealed; nothing to resume"
        )
    staged = StagedBundle.load(stage_root)
    store.check()
    return _finish(store, staged, stage_root, progress or _Quiet(), signer)


def _collected_events(entries: list[SourceEntry]) -> list[str]:
    lines: list[str] = []
    prev: str | None = None
    for seq, entry in enumerate(entries, start=1):
        line = custody_line(
            "collected",
            seq=seq,
            prev=prev,
            details={
                "source": entry.name,
                "status": entry.status,
                "reported_count": entry.reported_count,
                "rows_written": entry.rows_written,
                "rows_rejected": entry.rows_rejected,
            },
        )
        lines.append(line.decode())
        prev = line_hash(line)
    return lines


def _finish(
    store: Store,
    staged: StagedBundle,
    stage_root: Path,
    listener: ProgressListener,
    signer: Signer | None = None,
) -> PreserveResult:
    resume_hint = (
        f"the collected evidence is kept at {stage_root}; finish it with: forensics preserve "
        f"--resume {staged.bundle_id} --incident {staged.incident_id} --store {store.uri}"
        + (" --sign-key <the same key>" if staged.sign_key_fingerprint else "")
    )
    try:
        manifest = store_and_seal(store, staged, stage_root, listener, signer)
    except ForensicsError as exc:
        raise type(exc)(f"{exc}; {resume_hint}") from None
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise StagingFullError(
            f"{staging_full(stage_root.parent.parent, resumable=True)}; {resume_hint}"
        ) from None
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted before the seal; {resume_hint}") from None
    shutil.rmtree(stage_root, ignore_errors=True)
    failed = [e.name for e in staged.sources if e.status != "ok"]
    return PreserveResult(
        store.location(staged.bundle), staged.incident_id, staged.bundle_id, manifest, failed
    )


def _collect(
    collector: Collector, stage_root: Path, listener: ProgressListener, max_rows_per_file: int
) -> tuple[SourceEntry, list[StagedFile]]:
    started = utcnow()
    data = DatasetWriter(
        stage_root,
        collector.kind,
        collector.name,
        collector.schema,
        max_rows_per_file=max_rows_per_file,
    )
    rejects = RejectWriter(stage_root, collector.name)
    entry = SourceEntry(
        name=collector.name,
        type=collector.type,
        kind=collector.kind,
        status="ok",
        window={
            "since": isoformat(collector.window.since),
            "until": isoformat(collector.window.until),
        },
        query={},
        reported_count=None,
        counted_by="source",
        rows_written=0,
        rows_rejected=0,
        started=isoformat(started),
    )
    try:
        with collector:
            report = collector.open()
            entry.query = report.query
            listener.source_started(collector.name, report.reported_count)
            for batch in collector.batches(rejects):
                data.write(batch)
                listener.rows(collector.name, batch.num_rows)
            files = data.close() + rejects.close()
    except SourceError as exc:
        entry.status = "failed"
        entry.error = str(exc)
        entry.notes.append(
            f"partial data discarded: {data.rows} rows and {rejects.count} rejects "
            "read before the failure"
        )
        entry.finished = isoformat(utcnow())
        for folder in ("rejects", collector.kind):
            shutil.rmtree(stage_root / folder / collector.name, ignore_errors=True)
        listener.source_finished(collector.name, entry)
        return entry, []
    report = collector.report
    entry.query = report.query
    entry.reported_count = report.reported_count
    entry.counted_by = report.counted_by
    entry.rows_written = data.rows
    entry.rows_rejected = rejects.count
    entry.rows_skipped = dict(report.skipped)
    entry.notes = list(report.notes)
    entry.reconciled = entry.reconcile()
    entry.finished = isoformat(utcnow())
    listener.source_finished(collector.name, entry)
    return entry, files


def failure_summary(result: PreserveResult) -> str:
    """One line naming the sources that failed and why."""
    errors = [s.error or "failed" for s in result.manifest.sources if s.status != "ok"]
    return "; ".join(errors)


__all__ = [
    "DEFAULT_LOOKBACK",
    "ForensicsError",
    "PreserveResult",
    "ProgressListener",
    "build_collectors",
    "preserve",
]
