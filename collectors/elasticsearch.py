"""Elasticsearch: a consistent export of one index pattern for the window.

The export runs inside a point in time (PIT), so documents indexed or deleted
while it runs neither appear nor vanish, and pages with ``search_after`` on
``_shard_doc`` so no document is read twice. Large exports are sliced and
read in parallel. The count reported by Elasticsearch for the same query in
the same PIT is recorded and reconciled with rows written and rejected.

User query text only ever reaches Elasticsearch as structured query DSL (the
``query`` table of the source); nothing is built by string concatenation.
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    NotFoundError,
)

from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder, RecordError, RecordMapper, load_timezone
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.window import Window

_OPTIONS = {
    "hosts",
    "index",
    "timestamp_field",
    "query",
    "fields",
    "page_size",
    "slices",
    "keep_alive",
    "api_key_env",
    "username",
    "password_env",
    "ca_certs",
    "verify_certs",
    "request_timeout",
    "timezone",
    "batch_rows",
    "max_retries",
    "retry_backoff",
}
#: HTTP statuses retried with backoff (overload, or a node restarting behind a proxy).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Longest single wait between two attempts, in seconds.
MAX_BACKOFF_S = 30.0
#: Above this many documents an ``slices = "auto"`` export is read in parallel.
AUTO_SLICE_THRESHOLD = 200_000


def redact_url(url: str) -> str:
    """Drop any user:password part of a host URL before it is recorded."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


class ElasticsearchCollector(Collector):
    """Exports documents of an index pattern whose timestamp falls in the window."""

    type: ClassVar[str] = "elasticsearch"
    kinds: ClassVar[tuple[str, ...]] = ("logs", "metrics", "changes")

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(_OPTIONS)
        hosts = self.option("hosts", ["http://127.0.0.1:9200"])
        self.hosts: list[str] = [hosts] if isinstance(hosts, str) else list(hosts)
        self.index: str = self.option("index", required=True)
        self.timestamp_field: str = self.option("timestamp_field", "@timestamp")
        extra = self.option("query")
        if extra is not None and not isinstance(extra, dict):
            raise ConfigError(f"{config.where()}: query must be a table of Elasticsearch query DSL")
        self.extra_query: dict[str, Any] | None = extra
        self.page_size = int(self.option("page_size", 5000))
        if not 1 <= self.page_size <= 10_000:
            raise ConfigError(f"{config.where()}: page_size must be between 1 and 10000")
        slices = self.option("slices", "auto")
        if slices != "auto" and (not isinstance(slices, int) or slices < 1):
            raise ConfigError(f"{config.where()}: slices must be 'auto' or a positive integer")
        self.slices_option: int | str = slices
        self.keep_alive: str = self.option("keep_alive", "5m")
        fields = dict(self.option("fields", {}))
        fields.setdefault("@timestamp", self.timestamp_field)
        self.timezone_name: str | None = self.option("timezone")
        self.mapper = RecordMapper(
            self.kind,
            source=self.name,
            fields=fields,
            default_tz=load_timezone(self.timezone_name, config.where()),
            where=config.where(),
        )
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.max_retries = int(self.option("max_retries", 3))
        self.retry_backoff = float(self.option("retry_backoff", 0.5))
        if self.max_retries < 0 or self.retry_backoff < 0:
            raise ConfigError(
                f"{config.where()}: max_retries and retry_backoff must not be negative"
            )
        self.client: Elasticsearch | None = None
        self.pit_id: str | None = None
        self.slices = 1
        self._lock = threading.Lock()
        #: Hits read from the point in time (rows + rejects), checked against the count.
        self.hits_read = 0

    # -- connection -----------------------------------------------------------------

    def _client(self) -> Elasticsearch:
        kwargs: dict[str, Any] = {
            "request_timeout": float(self.option("request_timeout", 30)),
            # retries (429, 502-504, timeouts, lost connections) are done by _call, with
            # exponential backoff and jitter; a failed node is marked dead by the client, so the
            # next attempt goes to another host
            "max_retries": 0,
            "retry_on_timeout": True,
        }
        api_key_env = self.option("api_key_env")
        if api_key_env:
            kwargs["api_key"] = self.secret(api_key_env)
        username = self.option("username")
        if username:
            kwargs["basic_auth"] = (
                username,
                self.secret(self.option("password_env", required=True)),
            )
        if self.option("ca_certs"):
            kwargs["ca_certs"] = str(self.config.base_dir / self.option("ca_certs"))
        if self.option("verify_certs") is not None:
            kwargs["verify_certs"] = bool(self.option("verify_certs"))
        return Elasticsearch(self.hosts, **kwargs)

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        """Run one request with bounded retries (backoff + jitter); errors become one line."""
        attempt = 0
        while True:
            try:
                return self._call_once(what, action)
            except _Retriable as retriable:
                if attempt >= self.max_retries:
                    raise SourceError(
                        f"{retriable.message} (gave up after {attempt + 1} attempts)"
                    ) from None
                base = min(MAX_BACKOFF_S, self.retry_backoff * 2**attempt)
                time.sleep(base * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not secrecy
                attempt += 1

    def _call_once(self, what: str, action: Callable[[], Any]) -> Any:
        shown = ", ".join(redact_url(h) for h in self.hosts)
        try:
            return action()
        except AuthenticationException:
            raise SourceError(
                f"{self.config.where()}: authentication failed at {shown}; "
                "check the credentials named by api_key_env / password_env"
            ) from None
        except AuthorizationException:
            raise SourceError(
                f"{self.config.where()}: not allowed to {what} on {self.index!r} at {shown}; "
                "the credentials need read and view_index_metadata privileges"
            ) from None
        except NotFoundError as exc:
            if "search_context_missing" in str(exc.message):
                raise SourceError(
                    f"{self.config.where()}: {what} failed: the point in time lost shard "
                    f"copies ({exc.message}: a node left the cluster or the PIT expired), so the "
                    "export would be incomplete; run preserve again once the cluster is green"
                ) from None
            raise SourceError(
                f"{self.config.where()}: {what} failed: not found ({exc.message}) at {shown}"
            ) from None
        except ApiError as exc:
            message = (
                f"{self.config.where()}: {what} failed with HTTP {exc.meta.status}: {exc.message}"
            )
            if exc.meta.status in RETRY_STATUSES:
                raise _Retriable(message) from None
            raise SourceError(message) from None
        except (ConnectionTimeout, TransportConnectionError) as exc:
            raise _Retriable(
                f"{self.config.where()}: cannot reach Elasticsearch at {shown} to {what} "
                f"({type(exc).__name__}, request_timeout {self.option('request_timeout', 30)}s); "
                "check that it is running and the hosts setting"
            ) from None
        except TransportError as exc:
            raise SourceError(
                f"{self.config.where()}: cannot reach Elasticsearch at {shown} to {what} "
                f"({type(exc).__name__}); check that it is running and the hosts setting"
            ) from None

    # -- protocol -------------------------------------------------------------------

    def _query(self) -> dict[str, Any]:
        window = {
            "gte": self.window.since.isoformat(),
            "lt": self.window.until.isoformat(),
            "format": "strict_date_optional_time",
        }
        clauses: list[dict[str, Any]] = [{"range": {self.timestamp_field: window}}]
        if self.extra_query:
            clauses.append(self.extra_query)
        return {"bool": {"filter": clauses}}

    def open(self) -> SourceReport:
        """Open a point in time on the index pattern and count the window in it."""
        self.client = self._client()
        client = self.client
        resolved = self._call(
            "resolve the index", lambda: client.indices.resolve_index(name=self.index)
        )
        names = sorted(
            [i["name"] for i in resolved.get("indices", [])]
            + [d["name"] for d in resolved.get("data_streams", [])]
            + [a["name"] for a in resolved.get("aliases", [])]
        )
        if not names:
            raise SourceError(
                f"{self.config.where()}: index pattern {self.index!r} matches no index; "
                "check the index setting"
            )
        opened = self._call(
            "open a point in time",
            lambda: client.open_point_in_time(index=self.index, keep_alive=self.keep_alive),
        )
        self.pit_id = opened["id"]
        query = self._query()
        counted = self._call(
            "count documents",
            lambda: client.search(
                pit={"id": self.pit_id, "keep_alive": self.keep_alive},
                size=0,
                track_total_hits=True,
                allow_partial_search_results=False,
                query=query,
            ),
        )
        self._check_shards(counted, "count documents")
        total = int(counted["hits"]["total"]["value"])
        shards = int(counted.get("_shards", {}).get("total", 1))
        if self.slices_option == "auto":
            self.slices = min(4, max(2, shards)) if total >= AUTO_SLICE_THRESHOLD else 1
        else:
            self.slices = int(self.slices_option)
        self.report = SourceReport(
            query={
                "hosts": [redact_url(h) for h in self.hosts],
                "index": self.index,
                "resolved": names,
                "query": query,
                "sort": [{"_shard_doc": "asc"}],
                "page_size": self.page_size,
                "slices": self.slices,
                "point_in_time_keep_alive": self.keep_alive,
                "fields": self.mapper.mapping,
                "timezone_for_naive_timestamps": self.timezone_name,
            },
            reported_count=total,
            counted_by="source",
            notes=["count from track_total_hits inside the same point in time"],
        )
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Page through the point in time, in parallel slices when large."""
        if self.slices == 1:
            yield from self._slice(None, rejects)
        else:
            yield from self._parallel(rejects)
        if self.report.reported_count is not None and self.hits_read != self.report.reported_count:
            raise SourceError(
                f"{self.config.where()}: read {self.hits_read} documents from the point in time "
                f"but Elasticsearch counted {self.report.reported_count} in it; the export is "
                "incomplete, so it is not kept (run preserve again)"
            )

    def _check_shards(self, answer: dict[str, Any], what: str) -> None:
        """Fail when any shard did not answer: a partial page would silently lose documents."""
        shards = answer.get("_shards") or {}
        failed = int(shards.get("failed", 0) or 0)
        if failed or answer.get("timed_out"):
            reasons = sorted(
                {
                    str((f.get("reason") or {}).get("type", "unknown"))
                    for f in shards.get("failures") or []
                    if isinstance(f, dict)
                }
            )
            why = f"{failed} of {shards.get('total', '?')} shards failed" if failed else "timed out"
            raise SourceError(
                f"{self.config.where()}: {what} on {self.index!r} returned a partial answer "
                f"({why}{': ' + ', '.join(reasons) if reasons else ''}); a shard copy held by "
                "the point in time is gone (node lost?), so the export would miss documents; "
                "run preserve again once the cluster is green"
            )

    def _parallel(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        done = object()
        results: queue.Queue[Any] = queue.Queue(maxsize=self.slices * 2)
        stop = threading.Event()

        def run(slice_id: int) -> None:
            try:
                for batch in self._slice(slice_id, rejects):
                    while not stop.is_set():
                        try:
                            results.put(batch, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                results.put(done)
            except BaseException as exc:  # handed to the consumer thread
                results.put(exc)

        with ThreadPoolExecutor(max_workers=self.slices, thread_name_prefix="es-slice") as pool:
            for slice_id in range(self.slices):
                pool.submit(run, slice_id)
            finished = 0
            try:
                while finished < self.slices:
                    item = results.get()
                    if item is done:
                        finished += 1
                    elif isinstance(item, BaseException):
                        raise item
                    else:
                        yield item
            finally:
                stop.set()
                while not results.empty():
                    results.get_nowait()

    def _slice(self, slice_id: int | None, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        assert self.client is not None and self.pit_id is not None
        client = self.client
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        pit_id = self.pit_id
        search_after: list[Any] | None = None
        query = self._query()
        while True:
            body: dict[str, Any] = {
                "pit": {"id": pit_id, "keep_alive": self.keep_alive},
                "size": self.page_size,
                "query": query,
                "sort": [{"_shard_doc": "asc"}],
                "track_total_hits": False,
                # a lost shard copy must fail the page, never shorten it
                "allow_partial_search_results": False,
            }
            if slice_id is not None:
                body["slice"] = {"id": slice_id, "max": self.slices}
            if search_after is not None:
                body["search_after"] = search_after
            page = self._call("read a page", functools.partial(client.search, **body))
            self._check_shards(page, "reading a page")
            pit_id = page.get("pit_id", pit_id)
            hits = page["hits"]["hits"]
            if not hits:
                break
            with self._lock:
                self.hits_read += len(hits)
            for hit in hits:
                batch = self._hit(hit, builder, rejects)
                if batch is not None:
                    yield batch
            search_after = hits[-1]["sort"]
        yield from builder.drain()

    def _hit(
        self, hit: dict[str, Any], builder: BatchBuilder, rejects: RejectSink
    ) -> pa.RecordBatch | None:
        ref = f"{hit['_index']}/{hit['_id']}"
        source = hit.get("_source", {})
        raw = json.dumps(source, ensure_ascii=False, separators=(",", ":"))
        try:
            _, values = self.mapper.row(source, source_ref=ref, raw=raw)
        except RecordError as exc:
            with self._lock:
                rejects.reject(ref, str(exc), raw.encode("utf-8"))
            return None
        return builder.add(values)

    def close(self) -> None:
        """Close the point in time and the connection; errors here lose nothing."""
        if self.client is None:
            return
        if self.pit_id is not None:
            # A PIT that cannot be closed expires by itself after keep_alive.
            with contextlib.suppress(ApiError, TransportError):
                self.client.close_point_in_time(id=self.pit_id)
            self.pit_id = None
        self.client.close()
        self.client = None


class _Retriable(Exception):
    """A transient failure (overload, timeout, lost connection) worth another attempt."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
