"""Prometheus: PromQL range queries over the incident window and a baseline before it.

Each configured query (or, when none is given, a default set covering request rate, error
ratio, latency quantiles, CPU, memory, disk, open connections and ``up``) is evaluated with
``/api/v1/query_range`` over two ranges: a *baseline* of the same length just before the window
(option ``baseline``) and the *incident* window itself. Both ranges are recorded in the
manifest query; rows carry their own timestamps, so which period a row belongs to follows from
its time. Ranges are split into sub-ranges so no response holds more than
``max_points_per_request`` points per series (Prometheus refuses more than 11,000).

Every sample Prometheus returns is counted (the reported count, summed over series) and becomes
one row: ``metric`` is the query's name, ``labels`` the series' label set as JSON with sorted
keys (``__name__`` included when Prometheus returns it) and ``value`` the sample as a float.
``NaN`` and ``±Inf`` are valid samples and are kept; only samples that do not parse are
rejected. Credentials come from environment variables only and are never recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final
from urllib.parse import urlencode, urlsplit

import pyarrow as pa

from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat, parse_duration
from forensics.window import Window

_OPTIONS: Final = {
    "url",
    "queries",
    "baseline",
    "step",
    "rate_window",
    "max_points_per_request",
    "bearer_token_env",
    "username",
    "password_env",
    "ca_certs",
    "verify_certs",
    "headers",
    "request_timeout",
    "batch_rows",
    "max_retries",
    "retry_backoff",
}
#: HTTP statuses retried with backoff and jitter (overload, a restarting server behind a proxy).
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
#: Longest single wait between two attempts (also caps a server's Retry-After), in seconds.
MAX_BACKOFF_S: Final = 30.0

#: Prometheus refuses a range query with more than 11,000 points per series.
PROMETHEUS_POINT_LIMIT: Final = 11_000
#: The default step gives at most about this many points per series over the window.
TARGET_POINTS: Final = 1_000
MIN_DEFAULT_STEP_S: Final = 15

#: Default queries (name, PromQL); ``{rate}`` is replaced by the rate window.
DEFAULT_QUERIES: Final[tuple[tuple[str, str], ...]] = (
    ("request_rate", "sum by (job, instance) (rate(http_requests_total[{rate}]))"),
    (
        "error_ratio",
        '(sum by (job) (rate(http_requests_total{{code=~"5.."}}[{rate}]))'
        " or sum by (job) (rate(http_requests_total[{rate}])) * 0)"
        " / sum by (job) (rate(http_requests_total[{rate}]))",
    ),
    *(
        (
            f"latency_p{int(q * 100)}",
            f"histogram_quantile({q}, sum by (job, le) "
            "(rate(http_request_duration_seconds_bucket[{rate}])))",
        )
        for q in (0.5, 0.9, 0.99)
    ),
    ("process_cpu_cores", "sum by (job, instance) (rate(process_cpu_seconds_total[{rate}]))"),
    (
        "node_cpu_busy_ratio",
        '1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[{rate}]))',
    ),
    ("process_resident_memory_bytes", "process_resident_memory_bytes"),
    (
        "node_memory_used_ratio",
        "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
    ),
    (
        "node_filesystem_avail_bytes",
        'node_filesystem_avail_bytes{{fstype!~"tmpfs|ramfs|squashfs|overlay"}}',
    ),
    ("process_open_fds", "process_open_fds"),
    ("node_tcp_established", "node_netstat_Tcp_CurrEstab"),
    ("up", "up"),
)

#: Header names that carry credentials; those go through bearer_token_env / password_env.
_SECRET_HEADER: Final = re.compile(
    r"^(authorization|proxy-authorization|cookie)$|token|secret|password|api[-_]?key", re.I
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PromQuery:
    """One named PromQL expression."""

    name: str
    expr: str


@dataclass(frozen=True)
class EvalRange:
    """Evaluation times ``start, start + step, ... <= last`` in epoch milliseconds."""

    period: str
    start_ms: int
    last_ms: int
    step_ms: int
    until_ms: int

    @property
    def points(self) -> int:
        """Evaluation points per series."""
        return (self.last_ms - self.start_ms) // self.step_ms + 1

    def chunks(self, max_points: int) -> Iterator[tuple[int, int]]:
        """Sub-ranges ``(start, end)`` of at most ``max_points`` points, in order."""
        for first in range(0, self.points, max_points):
            last = min(self.points - 1, first + max_points - 1)
            yield self.start_ms + first * self.step_ms, self.start_ms + last * self.step_ms

    def describe(self) -> dict[str, Any]:
        """The range as recorded in the manifest query."""
        return {
            "period": self.period,
            "since": isoformat(ms_to_datetime(self.start_ms)),
            "until": isoformat(ms_to_datetime(self.until_ms)),
            "first_evaluation": isoformat(ms_to_datetime(self.start_ms)),
            "last_evaluation": isoformat(ms_to_datetime(self.last_ms)),
            "points_per_series": self.points,
        }


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime, exactly."""
    return _EPOCH + timedelta(milliseconds=ms)


def prom_time(ms: int) -> str:
    """Epoch milliseconds as the seconds text Prometheus takes (``1795165200.250``)."""
    seconds, millis = divmod(ms, 1000)
    return f"{seconds}.{millis:03d}"


def datetime_to_ms(moment: datetime, *, up: bool) -> int:
    """Aware datetime to epoch milliseconds, rounding up or down to the millisecond."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    whole, rest = divmod(micros, 1000)
    return whole + 1 if up and rest else whole


def sample_value(value: Any) -> float:
    """A sample value as Prometheus sends it (a string such as ``"1.5"``, ``"NaN"``, ``"+Inf"``).

    Raises ``ValueError`` for anything that is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"sample value has type {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(Inf|NaN)", text):
            raise ValueError(f"sample value {value[:32]!r} is not a number")
        return float(text)
    return float(value)


def sample_time_ms(value: Any) -> int:
    """A sample timestamp (epoch seconds, a number) to epoch milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"sample timestamp {str(value)[:32]!r} is not a finite number")
    return round(value * 1000)


def labels_json(labels: Mapping[str, Any]) -> str:
    """The series' labels as JSON with sorted keys."""
    return json.dumps(dict(labels), sort_keys=True, ensure_ascii=False)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class PrometheusCollector(Collector):
    """Samples of PromQL range queries over the window and a baseline before it."""

    type: ClassVar[str] = "prometheus"
    kinds: ClassVar[tuple[str, ...]] = ("metrics",)
    default_kind: ClassVar[str] = "metrics"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(_OPTIONS)
        where = config.where()
        self.url = self._base_url(self.option("url", "http://127.0.0.1:9090"))
        window_ms = datetime_to_ms(window.until, up=True) - datetime_to_ms(window.since, up=True)
        step = self.option("step")
        self.step_ms = (
            self._duration_ms("step", step)
            if step is not None
            else max(MIN_DEFAULT_STEP_S * 1000, math.ceil(window_ms / TARGET_POINTS / 1000) * 1000)
        )
        baseline = self.option("baseline")
        if baseline is None:
            self.baseline_ms = window_ms
        elif baseline is False or baseline in (0, "0", "none", "off"):
            self.baseline_ms = 0
        else:
            self.baseline_ms = self._duration_ms("baseline", baseline)
        rate = self.option("rate_window")
        self.rate_window_s = (
            self._duration_ms("rate_window", rate) // 1000
            if rate is not None
            else max(60, 4 * math.ceil(self.step_ms / 1000))
        )
        self.queries = self._queries(self.option("queries"))
        self.max_points = self.option("max_points_per_request", 10_000)
        if (
            isinstance(self.max_points, bool)
            or not isinstance(self.max_points, int)
            or not 1 <= self.max_points <= PROMETHEUS_POINT_LIMIT
        ):
            raise ConfigError(
                f"{where}: max_points_per_request must be an integer from 1 to "
                f"{PROMETHEUS_POINT_LIMIT}"
            )
        self.timeout_s = float(self.option("request_timeout", 60))
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.max_retries = int(self.option("max_retries", 3))
        self.retry_backoff = float(self.option("retry_backoff", 0.5))
        if self.max_retries < 0 or self.retry_backoff < 0:
            raise ConfigError(
                f"{self.config.where()}: max_retries and retry_backoff must not be negative"
            )
        self.headers = self._headers(self.option("headers", {}))
        if self.option("bearer_token_env") and self.option("username"):
            raise ConfigError(f"{where}: use either bearer_token_env or username, not both")
        if self.option("username") and not self.option("password_env"):
            raise ConfigError(f"{where}: username needs password_env (the variable's name)")
        self.ranges = self._ranges()
        self._auth: str | None = None
        self._tls: ssl.SSLContext | None = None

    # -- options --------------------------------------------------------------------

    def _base_url(self, value: Any) -> str:
        where = self.config.where()
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{where}: url must be the Prometheus base URL, e.g. http://host:9090"
            )
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: url must start with http:// or https:// and name a host")
        if parts.username or parts.password:
            raise ConfigError(
                f"{where}: url must not carry credentials; use username and password_env"
            )
        return value.rstrip("/")

    def _duration_ms(self, key: str, value: Any) -> int:
        where = self.config.where()
        if isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be a duration such as 30s, 5m or 2h")
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            try:
                seconds = parse_duration(value).total_seconds()
            except ConfigError as exc:
                raise ConfigError(f"{where}: {key}: {exc}") from None
        else:
            raise ConfigError(f"{where}: {key} must be a duration such as 30s, 5m or 2h")
        ms = round(seconds * 1000)
        if ms < 1:
            raise ConfigError(f"{where}: {key} must be at least 1ms")
        return ms

    def _queries(self, value: Any) -> tuple[PromQuery, ...]:
        where = self.config.where()
        if value is None:
            rate = f"{self.rate_window_s}s"
            return tuple(PromQuery(n, e.format(rate=rate)) for n, e in DEFAULT_QUERIES)
        if not isinstance(value, list) or not value:
            raise ConfigError(
                f"{where}: queries must be a non-empty list of PromQL strings or "
                '{name = "...", expr = "..."} tables'
            )
        found: list[PromQuery] = []
        for index, item in enumerate(value, start=1):
            if isinstance(item, str) and item.strip():
                found.append(PromQuery(item.strip(), item.strip()))
                continue
            if isinstance(item, dict):
                unknown = set(item) - {"name", "expr"}
                name, expr = item.get("name"), item.get("expr")
                if (
                    not unknown
                    and isinstance(name, str)
                    and name.strip()
                    and isinstance(expr, str)
                    and expr.strip()
                ):
                    found.append(PromQuery(name.strip(), expr.strip()))
                    continue
            raise ConfigError(
                f"{where}: queries item {index} must be a PromQL string or a table with "
                "a non-empty name and expr (and nothing else)"
            )
        names = [q.name for q in found]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"{where}: query name(s) {twice} used twice; names must be unique")
        return tuple(found)

    def _headers(self, value: Any) -> dict[str, str]:
        where = self.config.where()
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{where}: headers must be a table of header name = string value")
        for name in value:
            if _SECRET_HEADER.search(name):
                raise ConfigError(
                    f"{where}: header {name!r} would carry a credential; use bearer_token_env "
                    "or username + password_env (headers are for non-secret values)"
                )
        return dict(value)

    def _ranges(self) -> tuple[EvalRange, ...]:
        since = datetime_to_ms(self.window.since, up=True)
        until = datetime_to_ms(self.window.until, up=True)
        found: list[EvalRange] = []
        for period, start, end in (
            ("baseline", since - self.baseline_ms, since),
            ("incident", since, until),
        ):
            if end <= start:
                continue
            points = -(-(end - start) // self.step_ms)
            last = start + (points - 1) * self.step_ms
            found.append(EvalRange(period, start, last, self.step_ms, end))
        return tuple(found)

    # -- connection -----------------------------------------------------------------

    def _connect(self) -> None:
        token_env = self.option("bearer_token_env")
        username = self.option("username")
        if token_env:
            self._auth = f"Bearer {self.secret(token_env)}"
        elif username:
            pair = f"{username}:{self.secret(self.option('password_env'))}".encode()
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")
        if self.url.startswith("https://"):
            ca = self.option("ca_certs")
            context = ssl.create_default_context(
                cafile=str(self.config.base_dir / ca) if ca else None
            )
            if self.option("verify_certs") is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                self.report.notes.append("TLS certificate verification was disabled")
            self._tls = context

    def _request(self, path: str, params: dict[str, str], *, query: PromQuery | None) -> Any:
        """POST one API request and return its ``data``; every failure is one clear line.

        429, 502-504, timeouts and lost connections are retried up to ``max_retries`` times,
        waiting ``retry_backoff * 2**attempt`` seconds (times a random 0.5-1.5 jitter, at most
        30 s; a ``Retry-After`` the server sends is honoured up to 30 s), then the source fails.
        """
        attempt = 0
        while True:
            try:
                return self._request_once(path, params, query=query)
            except _Retriable as retriable:
                if attempt >= self.max_retries:
                    raise SourceError(
                        f"{retriable.message} (gave up after {attempt + 1} attempts)"
                    ) from None
                wait = min(MAX_BACKOFF_S, self.retry_backoff * 2**attempt)
                wait *= random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not secrecy
                if retriable.retry_after is not None:
                    wait = max(wait, min(MAX_BACKOFF_S, retriable.retry_after))
                time.sleep(wait)
                attempt += 1

    def _request_once(self, path: str, params: dict[str, str], *, query: PromQuery | None) -> Any:
        where = self.config.where()
        headers = {
            **self.headers,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "incident-forensics",
        }
        if self._auth:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(  # noqa: S310 - scheme checked in _base_url
            self.url + path, data=urlencode(params).encode(), headers=headers, method="POST"
        )
        about = f"query {query.name!r} ({_one_line(query.expr, 120)})" if query else "request"
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout_s, context=self._tls
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            error = self._http_error(exc, about)
            if exc.code in RETRY_STATUSES:
                raise _Retriable(str(error), _retry_after(exc.headers.get("Retry-After"))) from None
            raise error from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLError):
                raise SourceError(
                    f"{where}: TLS with Prometheus at {self.url} failed "
                    f"({_one_line(str(reason), 160)}); set ca_certs to the CA that signed it"
                ) from None
            raise _Retriable(
                f"{where}: cannot reach Prometheus at {self.url} ({_one_line(str(reason), 160)}); "
                "check that it is running and the url setting"
            ) from None
        except TimeoutError:
            raise _Retriable(
                f"{where}: Prometheus at {self.url} did not answer {about} within "
                f"{self.timeout_s:g}s; raise request_timeout or use a larger step"
            ) from None
        except OSError as exc:
            raise _Retriable(
                f"{where}: connection to Prometheus at {self.url} failed "
                f"({type(exc).__name__}); check that it is running and the url setting"
            ) from None
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            detail = answer.get("error") if isinstance(answer, dict) else "not Prometheus JSON"
            raise SourceError(
                f"{where}: Prometheus at {self.url} did not answer {about} "
                f"({_one_line(str(detail), 200)}); check the url setting"
            )
        for warning in answer.get("warnings") or []:
            note = f"Prometheus warned on {about}: {_one_line(str(warning), 200)}"
            if note not in self.report.notes:
                self.report.notes.append(note)
        return answer.get("data")

    def _http_error(self, exc: urllib.error.HTTPError, about: str) -> SourceError:
        where = self.config.where()
        try:
            answer = json.loads(exc.read())
        except (ValueError, OSError):
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        kind = answer.get("errorType") if isinstance(answer, dict) else None
        if exc.code in (401, 403):
            return SourceError(
                f"{where}: Prometheus at {self.url} refused the credentials (HTTP {exc.code}); "
                "check the variables named by bearer_token_env / password_env"
            )
        if error and kind in ("bad_data", "execution") and about != "request":
            return SourceError(
                f"{where}: Prometheus rejected {about}: {_one_line(error, 200)}; "
                "fix its expr in the queries option"
            )
        if error and kind in ("timeout", "canceled"):
            return SourceError(
                f"{where}: Prometheus gave up on {about} ({_one_line(error, 160)}); "
                "use a larger step or a narrower query"
            )
        if exc.code == 404:
            return SourceError(
                f"{where}: no Prometheus API at {self.url} (HTTP 404); "
                "the url must be the server's base URL, without /api/v1"
            )
        shown = _one_line(error or str(exc.reason), 200)
        return SourceError(f"{where}: Prometheus at {self.url} answered HTTP {exc.code}: {shown}")

    # -- protocol -------------------------------------------------------------------

    def open(self) -> SourceReport:
        """Check the server answers and every expression parses; record the exact queries."""
        self.report = SourceReport(
            query={
                "url": self.url,
                "api": "/api/v1/query_range",
                "queries": [{"name": q.name, "expr": q.expr} for q in self.queries],
                "default_queries": self.option("queries") is None,
                "rate_window": f"{self.rate_window_s}s" if self.option("queries") is None else None,
                "step_seconds": self.step_ms / 1000,
                "ranges": [r.describe() for r in self.ranges],
                "max_points_per_request": self.max_points,
                "auth": "bearer"
                if self.option("bearer_token_env")
                else "basic"
                if self.option("username")
                else None,
                "headers": sorted(self.headers),
            },
            reported_count=0,
            counted_by="source",
            notes=[
                "count is the number of samples Prometheus returned, summed over the series "
                "of every query and range",
            ],
        )
        self._connect()
        at = prom_time(self.ranges[-1].start_ms)
        for query in self.queries:
            # An instant query at the window start: proves the server answers and the
            # expression is valid before anything is read.
            self._request("/api/v1/query", {"query": query.expr, "time": at}, query=query)
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Run every query over every range in chunks; one row per sample."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        for query in self.queries:
            series_seen = 0
            for span in self.ranges:
                for start, end in span.chunks(self.max_points):
                    data = self._request(
                        "/api/v1/query_range",
                        {
                            "query": query.expr,
                            "start": prom_time(start),
                            "end": prom_time(end),
                            "step": prom_time(self.step_ms),
                        },
                        query=query,
                    )
                    if not isinstance(data, dict) or data.get("resultType") != "matrix":
                        raise SourceError(
                            f"{self.config.where()}: query {query.name!r} did not return a "
                            "range vector (matrix); check its expr"
                        )
                    for series in data.get("result") or []:
                        series_seen += 1
                        yield from self._series(query, series, start, end, builder, rejects)
            if not series_seen:
                self.report.notes.append(f"query {query.name!r} returned no series")
        yield from builder.drain()

    def _series(
        self,
        query: PromQuery,
        series: Any,
        start: int,
        end: int,
        builder: BatchBuilder,
        rejects: RejectSink,
    ) -> Iterator[pa.RecordBatch]:
        metric = series.get("metric") if isinstance(series, dict) else None
        labels = labels_json(metric if isinstance(metric, dict) else {})
        fingerprint = hashlib.sha256(labels.encode()).hexdigest()[:16]
        samples = (series.get("values") or []) if isinstance(series, dict) else []
        histograms = (series.get("histograms") or []) if isinstance(series, dict) else []
        assert self.report.reported_count is not None
        self.report.reported_count += len(samples) + len(histograms)
        for sample in samples:
            ref = f"{query.name}#{fingerprint}@{self._ref_time(sample)}"
            try:
                if not isinstance(sample, list) or len(sample) != 2:
                    raise ValueError("sample is not a [timestamp, value] pair")
                stamp = sample_time_ms(sample[0])
                value = sample_value(sample[1])
            except ValueError as exc:
                rejects.reject(ref, str(exc), self._raw(query, metric, sample))
                continue
            if not start <= stamp <= end:
                self.report.skip("outside_requested_range")
                continue
            batch = builder.add([ms_to_datetime(stamp), query.name, labels, value, self.name, ref])
            if batch is not None:
                yield batch
        for sample in histograms:
            ref = f"{query.name}#{fingerprint}@{self._ref_time(sample)}"
            rejects.reject(
                ref,
                "native histogram sample; not representable as one float value",
                self._raw(query, metric, sample),
            )

    @staticmethod
    def _ref_time(sample: Any) -> str:
        try:
            return prom_time(sample_time_ms(sample[0]))
        except (ValueError, TypeError, IndexError, KeyError):
            return "?"

    @staticmethod
    def _raw(query: PromQuery, metric: Any, sample: Any) -> bytes:
        record = {"query": query.name, "metric": metric, "sample": sample}
        return json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")


class _Retriable(Exception):
    """A transient failure (overload, timeout, lost connection) worth another attempt."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After: <seconds>`` header (an HTTP date is ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
