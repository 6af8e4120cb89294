"""Reading a sealed bundle: lazy, with filters and columns pushed into the Parquet scan.

:meth:`Bundle.open` reads only ``manifest.json``; every dataset is scanned on demand through
``pyarrow.dataset`` over the files the manifest lists (never a directory listing, so nothing
outside the seal is ever read). Filters (time range, ``where``) and column projection are
applied inside the scan, so row groups are pruned through their statistics and only the
requested columns are decoded before pandas sees anything.

Local bundles are read through the local filesystem, S3 bundles through pyarrow's own S3
filesystem (the store's :meth:`~forensics.stores.base.Store.arrow_filesystem`).

Example::

    from forensics import Bundle

    bundle = Bundle.open("./evidence/INC-42/20261120T110512Z-1a2b3c4d")
    errors = bundle.logs(
        columns=["@timestamp", "service.name", "message", "source_ref"],
        since="2026-11-20T10:00:00Z",
        where=[("log.level", "in", ["error", "fatal"])],
    )
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from forensics.bundle.manifest import MANIFEST, Manifest
from forensics.bundle.schema import SCHEMAS, TIMESTAMP, TIMESTAMP_TYPE
from forensics.errors import BundleNotFoundError, ConfigError, IntegrityError
from forensics.stores import open_store, split_bundle_uri
from forensics.stores.base import Store
from forensics.timeutil import parse_time

#: A filter: a pyarrow compute expression, or DNF tuples as in ``pyarrow.parquet``
#: (``[("log.level", "in", ["error"])]`` is an AND of terms; a list of such lists is an OR).
Where: TypeAlias = pc.Expression | Sequence[Any] | None
TimeLike: TypeAlias = datetime | pd.Timestamp | str | None


def _to_expression(where: Where) -> pc.Expression | None:
    if where is None:
        return None
    if isinstance(where, pc.Expression):
        return where
    if isinstance(where, Sequence) and not isinstance(where, str | bytes):
        if len(where) == 0:
            return None
        try:
            return pq.filters_to_expression(list(where))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid filter {where!r}: {exc}") from None
    raise ConfigError(
        f"invalid filter {where!r}: give a pyarrow.compute expression or DNF tuples "
        '[("column", "op", value), ...]'
    )


def _to_timestamp(value: TimeLike, name: str) -> pa.Scalar | None:
    if value is None:
        return None
    if isinstance(value, str):
        moment: datetime = parse_time(value)
    elif isinstance(value, pd.Timestamp):
        if value.tzinfo is None:
            raise ConfigError(f"{name}={value!r} has no time zone")
        moment = value.to_pydatetime()
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{name}={value!r} has no time zone")
        moment = value
    else:
        raise ConfigError(f"{name} must be a datetime or an ISO-8601 string, not {value!r}")
    return pa.scalar(moment, type=TIMESTAMP_TYPE)


def _and(*parts: pc.Expression | None) -> pc.Expression | None:
    result: pc.Expression | None = None
    for part in parts:
        if part is None:
            continue
        result = part if result is None else result & part
    return result


@dataclass(frozen=True)
class _Location:
    store: Store
    incident: str
    bundle_id: str

    @property
    def key(self) -> str:
        return f"{self.incident}/{self.bundle_id}"


class Bundle:
    """A sealed bundle opened for reading. Use :meth:`Bundle.open`."""

    def __init__(self, uri: str, location: _Location, manifest: Manifest) -> None:
        self.uri = uri
        self._location = location
        self.manifest = manifest
        self._fs: pafs.FileSystem | None = None
        self._root = ""

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, uri: str, *, s3_endpoint: str | None = None) -> Bundle:
        """Open the bundle at ``<store>/<incident>/<bundle-id>`` (local or ``s3://``).

        Only the manifest is read. An unsealed (incomplete) bundle or a manifest whose
        digest does not match its file list is refused; ``forensics verify`` checks every
        byte.
        """
        store_uri, incident, bundle_id = split_bundle_uri(uri)
        store = open_store(store_uri, endpoint_url=s3_endpoint)
        location = _Location(store, incident, bundle_id)
        where = store.location(location.key)
        if not store.exists(f"{location.key}/{MANIFEST}"):
            if any(True for _ in store.list_objects(location.key)):
                raise IntegrityError(
                    f"bundle {where} is incomplete: it has no {MANIFEST} (never sealed); "
                    f"run `forensics verify {where}` for details"
                )
            raise BundleNotFoundError(f"no bundle at {where}")
        manifest = Manifest.from_json(store.read_bytes(f"{location.key}/{MANIFEST}"))
        if (manifest.incident_id, manifest.bundle_id) != (incident, bundle_id):
            raise IntegrityError(
                f"{where}/{MANIFEST} names bundle {manifest.incident_id}/{manifest.bundle_id}; "
                f"run `forensics verify {where}`"
            )
        if manifest.compute_digest() != manifest.digest:
            raise IntegrityError(
                f"{where}/{MANIFEST}: the digest does not match the listed files; "
                f"run `forensics verify {where}`"
            )
        return cls(where, location, manifest)

    # -- facts ------------------------------------------------------------------------

    @property
    def digest(self) -> str:
        """The bundle digest (SHA-256 over the listed files), as sealed."""
        return self.manifest.digest

    @property
    def incident_id(self) -> str:
        """The incident this bundle belongs to."""
        return self.manifest.incident_id

    @property
    def bundle_id(self) -> str:
        """The bundle id."""
        return self.manifest.bundle_id

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The incident window ``[since, until)`` as UTC timestamps."""
        return (
            pd.Timestamp(self.manifest.window["since"]),
            pd.Timestamp(self.manifest.window["until"]),
        )

    def has(self, dataset: str) -> bool:
        """Whether a source of this dataset kind was collected (even with zero rows)."""
        if dataset == "rejects":
            return True
        return any(s.kind == dataset and s.status == "ok" for s in self.manifest.sources)

    def rows(self, dataset: str) -> int:
        """Rows of a dataset, from the manifest (no scan)."""
        return sum(f.rows for f in self.manifest.files if f.dataset == dataset)

    # -- scanning ---------------------------------------------------------------------

    def _filesystem(self) -> tuple[pafs.FileSystem, str]:
        if self._fs is None:
            self._fs, self._root = self._location.store.arrow_filesystem()
        return self._fs, self._root

    def dataset(self, name: str) -> ds.Dataset:
        """The pyarrow dataset of ``logs``, ``metrics``, ``changes``, ``state`` or ``rejects``."""
        if name not in SCHEMAS:
            raise ConfigError(f"unknown dataset {name!r}: use one of {', '.join(SCHEMAS)}")
        schema = SCHEMAS[name]
        files = [f.path for f in self.manifest.files if f.dataset == name]
        if not files:
            return ds.dataset(schema.empty_table())
        fs, root = self._filesystem()
        base = f"{root.rstrip('/')}/{self._location.key}" if root else self._location.key
        return ds.dataset(
            [f"{base}/{path}" for path in files], schema=schema, format="parquet", filesystem=fs
        )

    def _filter(
        self, name: str, since: TimeLike, until: TimeLike, where: Where
    ) -> pc.Expression | None:
        parts: list[pc.Expression | None] = [_to_expression(where)]
        low, high = _to_timestamp(since, "since"), _to_timestamp(until, "until")
        if (low is not None or high is not None) and TIMESTAMP not in SCHEMAS[name].names:
            raise ConfigError(f"{name} has no {TIMESTAMP} column: since/until do not apply")
        if low is not None:
            parts.append(pc.field(TIMESTAMP) >= low)
        if high is not None:
            parts.append(pc.field(TIMESTAMP) < high)
        return _and(*parts)

    def _columns(self, name: str, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        known = SCHEMAS[name].names
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ConfigError(
                f"{name} has no column(s) {', '.join(unknown)}; columns: {', '.join(known)}"
            )
        return list(columns)

    def table(
        self,
        name: str,
        *,
        columns: Sequence[str] | None = None,
        since: TimeLike = None,
        until: TimeLike = None,
        where: Where = None,
    ) -> pa.Table:
        """A dataset as an Arrow table, filtered and projected in the scan."""
        cols = self._columns(name, columns)
        expression = self._filter(name, since, until, where)
        return self.dataset(name).to_table(columns=cols, filter=expression)

    def scan(
        self,
        name: str,
        *,
        columns: Sequence[str] | None = None,
        filter: Where = None,
        since: TimeLike = None,
        until: TimeLike = None,
        batch_size: int = 131_072,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a dataset as record batches (bounded memory), filtered in the scan."""
        cols = self._columns(name, columns)
        expression = self._filter(name, since, until, filter)
        yield from self.dataset(name).to_batches(
            columns=cols, filter=expression, batch_size=batch_size
        )

    def count(
        self, name: str, *, since: TimeLike = None, until: TimeLike = None, where: Where = None
    ) -> int:
        """Rows of a dataset matching the filters (counted in the scan)."""
        return int(self.dataset(name).count_rows(filter=self._filter(name, since, until, where)))

    def _frame(self, name: str, **kwargs: Any) -> pd.DataFrame:
        return cast(pd.DataFrame, self.table(name, **kwargs).to_pandas())

    def logs(
        self,
        *,
        columns: Sequence[str] | None = None,
        since: TimeLike = None,
        until: TimeLike = None,
        where: Where = None,
    ) -> pd.DataFrame:
        """Log rows as a DataFrame (canonical columns; empty with those columns when none)."""
        return self._frame("logs", columns=columns, since=since, until=until, where=where)

    def metrics(
        self,
        *,
        columns: Sequence[str] | None = None,
        since: TimeLike = None,
        until: TimeLike = None,
        where: Where = None,
    ) -> pd.DataFrame:
        """Metric points as a DataFrame."""
        return self._frame("metrics", columns=columns, since=since, until=until, where=where)

    def changes(
        self,
        *,
        columns: Sequence[str] | None = None,
        since: TimeLike = None,
        until: TimeLike = None,
        where: Where = None,
    ) -> pd.DataFrame:
        """Change events (deploys, config, infrastructure...) as a DataFrame."""
        return self._frame("changes", columns=columns, since=since, until=until, where=where)

    def state(
        self,
        name: str,
        *,
        since: TimeLike = None,
        until: TimeLike = None,
        where: Where = None,
    ) -> pd.DataFrame:
        """One snapshot (``pg_stat_activity``, ``lock_waits``...) with ``values`` expanded.

        Every key of the JSON ``values`` object becomes a column; a key that collides with a
        canonical column is prefixed with ``values.``.
        """
        snapshot = pc.field("snapshot") == name
        frame = self._frame(
            "state", since=since, until=until, where=_and(snapshot, _to_expression(where))
        )
        values = frame.pop("values")
        if frame.empty:
            return frame
        expanded = pd.DataFrame.from_records(
            [json.loads(v) if v else {} for v in values], index=frame.index
        )
        expanded.columns = [
            f"values.{c}" if c in frame.columns else str(c) for c in expanded.columns
        ]
        return pd.concat([frame, expanded], axis=1)

    def snapshots(self) -> list[str]:
        """Names of the state snapshots present in the bundle."""
        if not self.rows("state"):
            return []
        table = self.table("state", columns=["snapshot"])
        return sorted(str(v) for v in pc.unique(table["snapshot"]).to_pylist() if v)

    def rejects(self, *, columns: Sequence[str] | None = None, where: Where = None) -> pd.DataFrame:
        """Input kept raw because it could not become a row (``raw`` as bytes, with reason)."""
        return self._frame("rejects", columns=columns, where=where)

    # -- display ----------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Bundle({self.uri!r}, digest={self.digest[:12]}...)"

    def _repr_html_(self) -> str:
        m = self.manifest
        esc = html.escape
        per_dataset: dict[str, int] = {}
        for f in m.files:
            per_dataset[f.dataset] = per_dataset.get(f.dataset, 0) + f.rows
        sources = "".join(
            f"<tr><td>{esc(s.name)}</td><td>{esc(s.type)}</td><td>{esc(s.kind)}</td>"
            f"<td style='text-align:right'>{s.rows_written:,}</td>"
            f"<td style='text-align:right'>{s.rows_rejected:,}</td>"
            f"<td>{esc(s.status)}{'' if s.reconciled else ' (not reconciled)'}</td></tr>"
            for s in m.sources
        )
        datasets = ", ".join(f"{esc(k)}: {v:,}" for k, v in sorted(per_dataset.items()))
        return (
            f"<div><b>Bundle</b> {esc(m.incident_id)} / {esc(m.bundle_id)}<br>"
            f"window {esc(m.window['since'])} .. {esc(m.window['until'])}"
            f" (changes since {esc(m.changes_since or '-')})<br>"
            f"digest <code>{esc(m.digest)}</code><br>"
            f"rows per dataset: {datasets or 'none'}"
            "<table><tr><th>source</th><th>type</th><th>kind</th><th>rows</th>"
            f"<th>rejects</th><th>status</th></tr>{sources}</table></div>"
        )


__all__ = ["Bundle", "Where"]
