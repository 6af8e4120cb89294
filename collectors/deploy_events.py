"""Deployment history exported from CI/CD and Kubernetes, as ``changes`` rows.

Formats (option ``format``):

* ``jsonl``: one JSON object per line (CI/CD exports), mapped with ``fields``
  like the files collector (canonical names by default).
* ``csv``: a header line then one record per row, mapped the same way.
* ``k8s_events``: ``kubectl get events -o json`` (a ``List`` of ``Event``; the
  ``events.k8s.io/v1`` shape and concatenated objects from ``--watch`` too),
  classified into scaling / deploy / other.
* ``k8s_replicasets``: ``kubectl get replicasets -o json``: every ReplicaSet
  revision of a Deployment becomes a ``deploy`` row with the images it
  introduced and the images of the revision before.

Every record read becomes a row, a reject (bad CSV row, bad JSON, no time) or a
counted skip (outside the window, blank line); reported = records read.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Final

import pyarrow as pa

from collectors.base import Collector, RejectSink, SourceReport
from collectors.formats.jsonl import json_error
from collectors.paths import display_path, resolve_files
from collectors.records import (
    BatchBuilder,
    RecordError,
    RecordMapper,
    check_text,
    load_timezone,
    parse_timestamp,
)
from forensics.bundle.schema import CHANGE_KINDS
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat
from forensics.window import Window

FORMATS: Final = ("jsonl", "csv", "k8s_events", "k8s_replicasets")
_OPTIONS: Final = {
    "paths",
    "exclude",
    "format",
    "fields",
    "timezone",
    "default_kind",
    "delimiter",
    "batch_rows",
}

#: Event reasons and the change kind they stand for.
SCALING_REASONS: Final = frozenset(
    {"ScalingReplicaSet", "SuccessfulRescale", "ScaledObjectReady", "KEDAScaleTargetActivated"}
)
DEPLOY_REASONS: Final = frozenset(
    {"DeploymentRollback", "RolloutUpdated", "RolloutCompleted", "Updated"}
)
_UPDATED_IMAGE: Final = re.compile(r"\bupdated? image\b", re.IGNORECASE)
_PULLED: Final = re.compile(r'Successfully pulled image "([^"]+)"')
_PRESENT: Final = re.compile(r'Container image "([^"]+)" already present')
_SCALED: Final = re.compile(r"Scaled (up|down) replica set (\S+) (?:from \d+ )?to (\d+)")
_SAFE: Final = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_OF_RS: Final = re.compile(rf"^(.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_RS_OF_DEPLOY: Final = re.compile(rf"^(.+)-{_SAFE}{{6,10}}$")
_POD_OF_SET: Final = re.compile(rf"^(.+)-(?:\d+|{_SAFE}{{5}})$")
REVISION: Final = "deployment.kubernetes.io/revision"
CHANGE_CAUSE: Final = "kubernetes.io/change-cause"


def workload_of(kind: str | None, name: str | None) -> str | None:
    """Best-effort workload name of a Kubernetes object (``web-5d9c7b8f6-x2x9q`` -> ``web``)."""
    if not name:
        return None
    if kind == "Pod":
        for pattern in (_POD_OF_RS, _POD_OF_SET):
            found = pattern.match(name)
            if found:
                return found.group(1)
        return name
    if kind == "ReplicaSet":
        found = _RS_OF_DEPLOY.match(name)
        return found.group(1) if found else name
    return name


def _get(record: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _utf8(text: str) -> bytes:
    """The bytes of re-serialised JSON, lone surrogates (from ``\\ud800`` escapes) included."""
    return text.encode("utf-8", "surrogatepass")


def json_documents(text: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(offset, object)`` for each JSON value of ``text`` (one or concatenated)."""
    decoder = json.JSONDecoder()
    index = 0
    length = len(text)
    while True:
        while index < length and text[index].isspace():
            index += 1
        if index >= length:
            return
        value, end = decoder.raw_decode(text, index)
        yield index, value
        index = end


class DeployEventsCollector(Collector):
    """CI/CD deployment exports and Kubernetes events / ReplicaSet history."""

    type: ClassVar[str] = "deploy_events"
    kinds: ClassVar[tuple[str, ...]] = ("changes",)
    default_kind: ClassVar[str] = "changes"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        where = config.where()
        self.check_options(set(_OPTIONS))
        paths = self.option("paths", required=True)
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"{where}: paths must be a list of glob patterns")
        self.patterns: list[str] = paths
        self.excludes: list[str] = list(self.option("exclude", []))
        self.format: str = self.option("format", "jsonl")
        if self.format not in FORMATS:
            raise ConfigError(
                f"{where}: format {self.format!r} is not supported; use {', '.join(FORMATS)}"
            )
        fields = self.option("fields", {})
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: fields must be a table of column = path")
        if fields and self.format.startswith("k8s_"):
            raise ConfigError(f"{where}: fields only applies to the jsonl and csv formats")
        self.timezone_name: str | None = self.option("timezone")
        self.mapper = RecordMapper(
            "changes",
            source=self.name,
            fields=fields,
            default_tz=load_timezone(self.timezone_name, where),
            where=where,
        )
        self.fallback_kind: str = self.option("default_kind", "deploy")
        if self.fallback_kind not in CHANGE_KINDS:
            raise ConfigError(
                f"{where}: default_kind {self.fallback_kind!r} is not one of {CHANGE_KINDS}"
            )
        delimiter = self.option("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigError(f"{where}: delimiter must be one character")
        self.delimiter = delimiter
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.files: list[Path] = []

    # -- files --------------------------------------------------------------------------

    def _display(self, path: Path) -> str:
        return display_path(self.config.base_dir, path)

    def open(self) -> SourceReport:
        """Resolve the globs; a pattern that matches no file is an error."""
        self.files = resolve_files(
            self.config.base_dir,
            self.patterns,
            self.excludes,
            where=self.config.where(),
            hint="; export the events there first",
        )
        query: dict[str, Any] = {
            "paths": self.patterns,
            "exclude": self.excludes,
            "format": self.format,
            "window": {
                "since": isoformat(self.window.since),
                "until": isoformat(self.window.until),
            },
            "files": [],
        }
        if self.format in {"jsonl", "csv"}:
            query["fields"] = self.mapper.mapping
            query["default_kind"] = self.fallback_kind
            query["timezone_for_naive_timestamps"] = self.timezone_name
        self.report = SourceReport(query=query, reported_count=0, counted_by="reader")
        if self.timezone_name:
            self.report.notes.append(f"timestamps without a zone were read as {self.timezone_name}")
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Read every file and yield ``changes`` rows."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        reader = {
            "jsonl": self._read_jsonl,
            "csv": self._read_csv,
            "k8s_events": self._read_events,
            "k8s_replicasets": self._read_replicasets,
        }[self.format]
        for path in self.files:
            data = self._load(path)
            for moment, values in reader(data, self._display(path), rejects):
                if moment not in self.window:
                    self.report.skip("outside_window")
                    continue
                batch = builder.add(values)
                if batch is not None:
                    yield batch
        yield from builder.drain()

    def _load(self, path: Path) -> bytes:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(
                f"{self.config.where()}: cannot read {self._display(path)}: {exc.strerror}"
            ) from None
        entry: dict[str, Any] = {
            "path": self._display(path),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        self.report.query["files"].append(entry)
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise SourceError(
                    f"{self.config.where()}: {self._display(path)} is not valid gzip: {exc}"
                ) from None
        return data

    def _count(self) -> None:
        self.report.reported_count = (self.report.reported_count or 0) + 1

    # -- CI/CD exports ------------------------------------------------------------------

    def _mapped(
        self, record: Any, ref: str, raw: str, rejects: RejectSink
    ) -> tuple[datetime, list[Any]] | None:
        if isinstance(record, dict):
            record = {k: v for k, v in record.items() if v not in ("", None)}
            kind_path = self.mapper.mapping["change.kind"]
            if _path_missing(record, kind_path):
                record[kind_path] = self.fallback_kind
        try:
            return self.mapper.row(record, source_ref=ref, raw=raw)
        except RecordError as exc:
            rejects.reject(ref, str(exc), raw.encode())
            return None

    def _read_jsonl(
        self, data: bytes, shown: str, rejects: RejectSink
    ) -> Iterator[tuple[datetime, list[Any]]]:
        for number, line in enumerate(data.splitlines(), start=1):
            self._count()
            ref = f"{shown}:{number}"
            if not line.strip():
                self.report.skip("blank_line")
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.reject(ref, f"invalid UTF-8 at byte {exc.start}", line)
                continue
            try:
                record = json.loads(text)
            except (ValueError, RecursionError) as exc:
                rejects.reject(ref, f"invalid JSON: {json_error(exc)}", line)
                continue
            mapped = self._mapped(record, ref, text, rejects)
            if mapped:
                yield mapped

    def _read_csv(
        self, data: bytes, shown: str, rejects: RejectSink
    ) -> Iterator[tuple[datetime, list[Any]]]:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self._count()
            rejects.reject(shown, f"invalid UTF-8 at byte {exc.start}; export as UTF-8", data)
            return
        lines = io.StringIO(text, newline="").readlines()
        consumed: list[str] = []

        def feed() -> Iterator[str]:
            for line in lines:
                consumed.append(line)
                yield line

        fed = feed()
        reader = csv.reader(fed, delimiter=self.delimiter, strict=True)
        header: list[str] | None = None
        start = 1
        while True:
            consumed.clear()
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if header is None:  # no header: the rest of the file is kept as this reject
                    for _ in fed:
                        pass
                raw = "".join(consumed)
                self._count()
                rejects.reject(f"{shown}:{start}", f"bad CSV row: {exc}", raw.encode())
                if header is None:
                    return
                continue
            raw = "".join(consumed)
            if header is None:
                if not cells or not any(c.strip() for c in cells):
                    continue
                header = [c.strip() for c in cells]
                continue
            self._count()
            ref = f"{shown}:{start}"
            if not cells or not any(c.strip() for c in cells):
                self.report.skip("blank_line")
                continue
            if len(cells) != len(header):
                rejects.reject(
                    ref,
                    f"bad CSV row: {len(cells)} fields where the header has {len(header)}",
                    raw.encode(),
                )
                continue
            record = dict(zip(header, cells, strict=True))
            mapped = self._mapped(record, ref, raw.rstrip("\r\n"), rejects)
            if mapped:
                yield mapped

    # -- Kubernetes -----------------------------------------------------------------------

    def _objects(
        self, data: bytes, shown: str, rejects: RejectSink, expected: str
    ) -> Iterator[tuple[str, Any]]:
        """Yield ``(source_ref, item)`` of a ``kubectl -o json`` List (or concatenated objects)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._count()
            rejects.reject(shown, f"invalid UTF-8 at byte {exc.start}", data)
            return
        decoder = json.JSONDecoder()
        index = 0
        while True:
            while index < len(text) and text[index].isspace():
                index += 1
            if index >= len(text):
                return
            try:
                document, end = decoder.raw_decode(text, index)
                _dumps(document)  # rows keep items as JSON: refuse what cannot be re-serialised
            except (ValueError, RecursionError) as exc:
                # The document that does not parse and everything after it: one reject.
                self._count()
                rejects.reject(
                    f"{shown}@{index}", f"invalid JSON: {json_error(exc)}", text[index:].encode()
                )
                return
            offset, index = index, end
            if isinstance(document, dict) and isinstance(document.get("items"), list):
                for number, item in enumerate(document["items"]):
                    self._count()
                    yield f"{shown}#items[{number}]", item
            elif isinstance(document, dict) and document.get("kind") == expected:
                self._count()
                yield f"{shown}@{offset}", document
            else:
                self._count()
                rejects.reject(
                    f"{shown}@{offset}",
                    f"not a {expected} nor a List of them",
                    text[offset:end].encode(),
                )

    def _read_events(
        self, data: bytes, shown: str, rejects: RejectSink
    ) -> Iterator[tuple[datetime, list[Any]]]:
        items = list(self._objects(data, shown, rejects, "Event"))
        fresh_pulls: set[tuple[Any, Any]] = set()
        for _, item in items:
            if isinstance(item, dict) and _PULLED.search(str(_event_message(item) or "")):
                with contextlib.suppress(TypeError):  # unhashable names: not a valid Event
                    fresh_pulls.add((_event_object(item)[0], _event_object(item)[2]))
        for ref, item in items:
            raw = _dumps(item)
            if not isinstance(item, dict) or item.get("kind", "Event") != "Event":
                rejects.reject(ref, "item is not an Event", _utf8(raw))
                continue
            try:
                moment, values = self._event_row(item, ref, raw, fresh_pulls)
                check_text(values)
            except RecordError as exc:
                rejects.reject(ref, str(exc), _utf8(raw))
                continue
            except (AttributeError, TypeError, ValueError, OverflowError) as exc:
                rejects.reject(ref, f"not a well-formed Event ({exc})"[:300], _utf8(raw))
                continue
            yield moment, values

    def _event_row(
        self, item: dict[str, Any], ref: str, raw: str, fresh_pulls: set[tuple[Any, Any]]
    ) -> tuple[datetime, list[Any]]:
        stamp = (
            item.get("lastTimestamp")
            or item.get("deprecatedLastTimestamp")
            or _get(item, "series", "lastObservedTime")
            or item.get("eventTime")
            or item.get("firstTimestamp")
            or item.get("deprecatedFirstTimestamp")
        )
        if not stamp:
            raise RecordError("event has no lastTimestamp, eventTime or firstTimestamp")
        moment = parse_timestamp(stamp)
        namespace, kind, name, obj = _event_object(item)
        reason = item.get("reason") or ""
        message = _event_message(item) or ""
        details: dict[str, Any] = {
            "namespace": namespace,
            "object": obj,
            "reason": reason,
            "message": message,
            "type": item.get("type"),
            "count": item.get("count") or _get(item, "series", "count"),
            "first_timestamp": item.get("firstTimestamp") or item.get("deprecatedFirstTimestamp"),
            "last_timestamp": item.get("lastTimestamp") or item.get("deprecatedLastTimestamp"),
            "event_time": item.get("eventTime"),
            "reporting_component": item.get("reportingComponent")
            or item.get("reportingController")
            or _get(item, "source", "component"),
            "host": _get(item, "source", "host") or item.get("reportingInstance"),
        }
        change_kind = "other"
        pulled = _PULLED.search(message)
        present = _PRESENT.search(message)
        scaled = _SCALED.search(message)
        if pulled or present:
            details["image"] = (pulled or present).group(1)  # type: ignore[union-attr]
        if reason in SCALING_REASONS:
            change_kind = "scaling"
            if scaled:
                details["scale"] = {
                    "direction": scaled.group(1),
                    "replicaset": scaled.group(2),
                    "replicas": int(scaled.group(3)),
                }
        elif (
            reason in DEPLOY_REASONS
            or _UPDATED_IMAGE.search(message)
            or (reason == "Pulled" and pulled)
            or (reason in {"Created", "Started"} and (namespace, name) in fresh_pulls)
        ):
            change_kind = "deploy"
        if reason in {"Created", "Started"} and change_kind == "deploy":
            details["after_fresh_pull"] = True
        actor = details["reporting_component"]
        summary = f"{kind or '?'}/{name or '?'} {reason}: {message}".strip()
        meta = item.get("metadata") or {}
        change_id = meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"
        values = [
            moment,
            change_kind,
            change_id,
            workload_of(kind, name),
            actor,
            summary[:1000],
            _dumps(details),
            self.name,
            ref,
            raw,
        ]
        return moment, values

    def _read_replicasets(
        self, data: bytes, shown: str, rejects: RejectSink
    ) -> Iterator[tuple[datetime, list[Any]]]:
        good: list[tuple[str, dict[str, Any], datetime]] = []
        for ref, item in self._objects(data, shown, rejects, "ReplicaSet"):
            raw = _dumps(item)
            if not isinstance(item, dict) or item.get("kind", "ReplicaSet") != "ReplicaSet":
                rejects.reject(ref, "item is not a ReplicaSet", _utf8(raw))
                continue
            created = _get(item, "metadata", "creationTimestamp")
            if not created:
                rejects.reject(ref, "ReplicaSet has no metadata.creationTimestamp", _utf8(raw))
                continue
            try:
                moment = parse_timestamp(created)
                _revision(item)
                hash(_owner_key(item))
                _images(item)
            except (RecordError, ValueError, OverflowError) as exc:
                rejects.reject(ref, str(exc), _utf8(raw))
                continue
            except (AttributeError, TypeError) as exc:
                rejects.reject(ref, f"not a well-formed ReplicaSet ({exc})"[:300], _utf8(raw))
                continue
            good.append((ref, item, moment))
        history: dict[tuple[Any, Any], list[tuple[int, dict[str, Any]]]] = {}
        for _, item, _ in good:
            revision = _revision(item)
            if revision is not None:
                history.setdefault(_owner_key(item), []).append((revision, item))
        for entries in history.values():
            entries.sort(key=lambda pair: pair[0])
        for ref, item, moment in good:
            values = self._replicaset_row(item, ref, moment, history)
            try:
                check_text(values)
            except RecordError as exc:
                rejects.reject(ref, str(exc), _utf8(_dumps(item)))
                continue
            yield moment, values

    def _replicaset_row(
        self,
        item: dict[str, Any],
        ref: str,
        moment: datetime,
        history: dict[tuple[Any, Any], list[tuple[int, dict[str, Any]]]],
    ) -> list[Any]:
        meta = item.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        namespace, owner = _owner_key(item)
        revision = _revision(item)
        images = _images(item)
        previous: dict[str, Any] | None = None
        previous_revision: int | None = None
        for number, other in history.get((namespace, owner), []):
            if revision is not None and number < revision:
                previous, previous_revision = other, number
        from_images = _images(previous) if previous else None
        details: dict[str, Any] = {
            "namespace": namespace,
            "deployment": owner,
            "replicaset": meta.get("name"),
            "revision": revision,
            "images": images,
            "from_revision": previous_revision,
            "from_images": from_images,
            "from_replicaset": _get(previous, "metadata", "name") if previous else None,
            "change_cause": annotations.get(CHANGE_CAUSE),
            "revision_history": annotations.get("deployment.kubernetes.io/revision-history"),
            "replicas": _get(item, "spec", "replicas"),
            "ready_replicas": _get(item, "status", "readyReplicas"),
        }
        if details["revision_history"]:
            details["note"] = (
                "rolled back to a ReplicaSet created earlier: @timestamp is its creation time, "
                "not the time of the rollback"
            )
        changed = [
            f"{c}={img}"
            for c, img in images.items()
            if from_images is None or from_images.get(c) != img
        ]
        summary = f"{owner or meta.get('name')} revision {revision}: " + (
            ", ".join(changed) if changed else "no image change"
        )
        uid = meta.get("uid") or f"{namespace}/{meta.get('name')}"
        return [
            moment,
            "deploy",
            uid,
            owner or meta.get("name"),
            annotations.get(CHANGE_CAUSE),
            summary,
            _dumps(details),
            self.name,
            ref,
            _dumps(item),
        ]


def _path_missing(record: dict[str, Any], path: str) -> bool:
    if path in record:
        return False
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        child = record.get(".".join(parts[:cut]))
        if isinstance(child, dict) and not _path_missing(child, ".".join(parts[cut:])):
            return False
    return True


def _event_object(item: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
    obj = _get(item, "involvedObject") or _get(item, "regarding") or {}
    if not isinstance(obj, dict):
        obj = {}
    namespace = obj.get("namespace") or _get(item, "metadata", "namespace")
    kept = {k: obj.get(k) for k in ("kind", "name", "namespace", "uid", "fieldPath") if obj.get(k)}
    return namespace, obj.get("kind"), obj.get("name"), kept


def _event_message(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    return item.get("message") or item.get("note")


def _revision(item: dict[str, Any]) -> int | None:
    text = (_get(item, "metadata", "annotations") or {}).get(REVISION)
    if text in (None, ""):
        return None
    try:
        return int(text)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"annotation {REVISION} is not a number ({str(text)[:20]!r})") from None


def _owner_key(item: dict[str, Any]) -> tuple[Any, Any]:
    meta = item.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    owner = next(
        (o.get("name") for o in owners if isinstance(o, dict) and o.get("kind") == "Deployment"),
        None,
    )
    return meta.get("namespace"), owner or workload_of("ReplicaSet", meta.get("name"))


def _images(item: dict[str, Any] | None) -> dict[str, str]:
    containers = _get(item, "spec", "template", "spec", "containers") or []
    init = _get(item, "spec", "template", "spec", "initContainers") or []
    return {
        str(c.get("name")): str(c.get("image"))
        for c in [*init, *containers]
        if isinstance(c, dict) and c.get("image")
    }
