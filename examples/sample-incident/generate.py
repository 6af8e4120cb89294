#!/usr/bin/env python3
"""Generate the deterministic sample incident used by incident-forensics' examples and tests.

The story (all times UTC, 2026-11-20):

* 09:00-11:00 is the incident window. Five services log a few lines per second in total:
  ``web-frontend`` (Node), ``checkout`` (Python), ``payments-api`` (Java) and ``search`` (Go)
  log ECS JSON as ecs-logging libraries do; ``inventory`` logs a flat, non-ECS shape
  (``ts``/``lvl``/``svc``/``node``/``msg``/``exc``/``traceId``) to exercise field mapping.
* Ordinary background noise all along: connection resets, cache misses logged as warn,
  404s, a slow query now and then, a half-hourly ``inventory`` stock-sync timeout.
* 09:20:07 an unrelated config change (search query-cache TTL 300s -> 600s): no effect.
* 10:02:00 ``checkout`` v2.14.0 is deployed (its payments client now keeps connections alive
  longer than the payments ingress does). From 10:06:13.482 on, a new error signature appears
  in ``checkout``: ``PaymentAuthorizationError: payments-api returned 502 for order <id> after
  <n>ms (retry <k>/3)``, rising in rate; orders that fail all three tries become HTTP 502s on
  ``POST /api/checkout`` in ``web-frontend`` (same trace id).
* 10:20 the HPA scales checkout 3 -> 5 (CPU from retries); 10:41:00 on-call rolls back to
  v2.13.2 and the new error stops as the last v2.14.0 pod drains (~10:42).
* Exactly three malformed lines: a line cut at a log-rotation point (web-frontend), a line with
  Latin-1 bytes that are invalid UTF-8 (payments-api) and the runtime's plain ``Killed`` when an
  inventory worker is OOM-killed (inventory).

Outputs (under ``--out``): ``logs/<service>.jsonl.gz``, ``changes.jsonl``, ``metrics.jsonl`` and
``ground_truth.json``. The same seed always gives the same bytes (gzip mtime 0, fixed names).

Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extras import write_extras

DEFAULT_SEED = 20261120
"""Seed used when ``--seed`` is not given; ground truth in the README refers to it."""

DEFAULT_OUT = Path(__file__).resolve().parent / "data"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(hour: int, minute: int, second: int = 0, millis: int = 0, *, day: int = 20) -> int:
    """Return epoch milliseconds for a UTC wall-clock time in November 2026."""
    moment = datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)
    return int((moment - _EPOCH).total_seconds()) * 1000 + millis


WINDOW_START = at(9, 0)
WINDOW_END = at(11, 0)
MINUTES = (WINDOW_END - WINDOW_START) // 60_000

CONFIG_CHANGE_AT = at(9, 20, 7)
DEPLOY_AT = at(10, 2, 0)
FIRST_NEW_ERROR_AT = at(10, 6, 13, 482)
SCALE_OUT_AT = at(10, 20, 31)
ROLLBACK_AT = at(10, 41, 0)
ROTATION_AT = at(9, 30, 0)
OOM_KILL_AT = at(9, 37, 44, 216)
LATIN1_LINE_AT = at(9, 52, 31, 907)

OLD_VERSION = "2.13.2"
NEW_VERSION = "2.14.0"
NEW_ERROR_TYPE = "PaymentAuthorizationError"
NEW_ERROR_SIGNATURE = (
    "PaymentAuthorizationError: payments-api returned 502 for order <*> after <*>ms (retry <*>/3)"
)

DEPLOY_CHANGE_ID = "deploy-checkout-8841"
SCALE_CHANGE_ID = "hpa-checkout-20261120T102031Z"
ROLLBACK_CHANGE_ID = "deploy-checkout-8846"
CONFIG_CHANGE_ID = "config-search-2290"

SERVICES = ("web-frontend", "checkout", "payments-api", "inventory", "search")
_POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --------------------------------------------------------------------------------------------
# time formatting


def iso_ms(ms: int) -> str:
    """Format epoch milliseconds as ISO-8601 UTC with milliseconds and ``Z`` (ECS style)."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def iso_s(ms: int) -> str:
    """Format epoch milliseconds as ISO-8601 UTC to the second with ``Z``."""
    return f"{_EPOCH + timedelta(milliseconds=ms):%Y-%m-%dT%H:%M:%S}Z"


def py_ts(ms: int) -> str:
    """Format epoch milliseconds as Python-logging style ``2026-11-20 09:00:01.123+00:00``."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{ms % 1000:03d}+00:00"


# --------------------------------------------------------------------------------------------
# data model


@dataclass
class Pod:
    """One process that writes logs; alive for requests in ``[ready_ms, end_ms)``."""

    name: str
    version: str
    start_ms: int | None = None
    """When the process started; ``None`` if it was already running at the window start."""
    ready_ms: int = WINDOW_START
    end_ms: int | None = None
    """When it was told to stop (SIGTERM) or killed; ``None`` if it outlives the window."""
    killed: bool = False

    def serves(self, t: int) -> bool:
        """Whether the pod takes new requests at ``t``."""
        return self.ready_ms <= t and (self.end_ms is None or t < self.end_ms)


@dataclass
class Entry:
    """One raw line destined for a log file."""

    ts: int
    seq: int
    raw: bytes
    level: str | None
    tag: str = ""


@dataclass
class LogFile:
    """All lines of one ``logs/<service>.jsonl.gz`` file, sorted on write."""

    name: str
    entries: list[Entry] = field(default_factory=list)

    def sorted_entries(self) -> list[Entry]:
        """Entries in file order: by timestamp, ties in insertion order."""
        return sorted(self.entries, key=lambda e: (e.ts, e.seq))


def _sorted_nested(value: Any) -> Any:
    """Sort the keys of nested objects, as ecs-logging serialisers do."""
    if isinstance(value, dict):
        return {k: _sorted_nested(value[k]) for k in sorted(value)}
    return value


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    """Deep-merge ``extra`` into ``into``."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def dumps(record: dict[str, Any]) -> bytes:
    """Compact JSON, UTF-8, non-ASCII kept as is."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------
# vocabulary

_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "ShopApp/7.12.0 (iOS 18.1; iPhone15,2)",
)
_CATEGORIES = (
    "winter-jackets",
    "running-shoes",
    "coffee",
    "kitchen",
    "toys",
    "laptops",
    "headphones",
    "garden",
    "bikes",
    "books",
    "board-games",
    "skincare",
)
_QUERIES = (
    "winter jacket",
    "running shoes",
    "usb-c cable",
    "espresso machine",
    "lego technic",
    "wool socks",
    "kaffeemühle",
    "noise cancelling headphones",
    "crème brûlée set",
    "schlüsselanhänger",
    "air fryer",
    "gore-tex boots",
    "mechanical keyboard",
    "yoga mat",
    "advent calendar",
    "thermos",
    "phone case",
    "standing desk",
)
_WAREHOUSES = ("FRA-2", "FRA-3", "AMS-1", "WAW-1")
_COUNTRIES = ("DE", "DE", "DE", "AT", "NL", "FR", "PL", "BE")
_CARRIERS = ("DHL", "DPD", "GLS", "UPS")
_COUPONS = ("WINTER15", "WELCOME10", "FREESHIP", "BLACKFRI25", "VIP20")
_DECLINES = ("insufficient_funds", "do_not_honor", "expired_card", "3ds_failed")


class Vocab:
    """Random but realistic variable parts (ids, IPs, SKUs, durations) from one RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.client_ips = [self._public_ip() for _ in range(420)]
        self.users = [f"u-{rng.randint(100000, 999999)}" for _ in range(1500)]
        self.order_seq = 4_810_000 + rng.randint(0, 9999)

    def _public_ip(self) -> str:
        first = self.rng.choice((31, 46, 77, 79, 80, 81, 84, 85, 88, 91, 93, 109, 178, 185, 212))
        b, c, d = self.rng.randint(1, 254), self.rng.randint(0, 255), self.rng.randint(1, 254)
        return f"{first}.{b}.{c}.{d}"

    def pod_ip(self) -> str:
        """A cluster-internal pod IP."""
        return f"10.42.{self.rng.randint(0, 15)}.{self.rng.randint(2, 254)}"

    def hex(self, chars: int) -> str:
        """``chars`` random lowercase hex digits."""
        return f"{self.rng.getrandbits(4 * chars):0{chars}x}"

    def uuid(self) -> str:
        """A random (version 4) UUID drawn from the seeded RNG."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def trace(self) -> str:
        """A W3C trace id: 32 hex digits."""
        return self.hex(32)

    def sku(self) -> str:
        """A SKU, popular ones more often (Pareto-ish)."""
        rank = min(int((self.rng.paretovariate(1.0) - 1) * 300), 8000)
        return f"SKU-{10000 + (rank * 7919) % 90000:05d}"

    def user(self) -> str:
        """A user id from a fixed population."""
        return self.rng.choice(self.users)

    def client_ip(self) -> str:
        """A public client IP from a fixed population."""
        return self.rng.choice(self.client_ips)

    def next_order(self) -> str:
        """The next order id (monotonic, with gaps from other channels)."""
        self.order_seq += self.rng.randint(1, 4)
        return f"ORD-{self.order_seq}"

    def old_order(self) -> str:
        """An order id from earlier in the day (captures, refunds)."""
        return f"ORD-{self.order_seq - self.rng.randint(50, 9000)}"

    def ms(self, median: float, sigma: float = 0.45, low: int = 1, high: int = 60_000) -> int:
        """A log-normal duration in milliseconds."""
        value = self.rng.lognormvariate(math.log(median), sigma)
        return max(low, min(high, round(value)))

    def amount(self) -> float:
        """A basket total in EUR."""
        return round(min(2500.0, self.rng.lognormvariate(math.log(64), 0.8)), 2)

    def cart(self) -> str:
        """A cart id."""
        return f"cart_{self.hex(12)}"

    def pod_suffix(self) -> str:
        """The 5-character random suffix Kubernetes appends to pod names."""
        return "".join(self.rng.choice(_POD_ALPHABET) for _ in range(5))


# --------------------------------------------------------------------------------------------
# stack traces


def py_trace_payment(order: str, millis: int, retry: int) -> str:
    """Python traceback for the new checkout error (httpx 502 re-raised)."""
    return (
        "Traceback (most recent call last):\n"
        '  File "/app/checkout/payments/client.py", line 142, in authorize\n'
        "    response.raise_for_status()\n"
        '  File "/usr/local/lib/python3.12/site-packages/httpx/_models.py", line 829, '
        "in raise_for_status\n"
        "    raise HTTPStatusError(message, request=request, response=self)\n"
        "httpx.HTTPStatusError: Server error '502 Bad Gateway' for url "
        "'http://payments-api.payments.svc.cluster.local:8080/v1/authorizations'\n"
        "\nThe above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/app/checkout/orders/service.py", line 311, in _authorize_with_retry\n'
        "    return await self._payments.authorize(order, attempt=attempt)\n"
        '  File "/app/checkout/payments/client.py", line 151, in authorize\n'
        "    raise PaymentAuthorizationError(order.id, response.status_code, elapsed_ms, "
        "attempt) from exc\n"
        "checkout.payments.errors.PaymentAuthorizationError: payments-api returned 502 for "
        f"order {order} after {millis}ms (retry {retry}/3)"
    )


def py_trace_reset(host: str) -> str:
    """Python traceback for a Redis connection reset in checkout."""
    return (
        "Traceback (most recent call last):\n"
        '  File "/usr/local/lib/python3.12/site-packages/redis/asyncio/connection.py", '
        "line 556, in read_response\n"
        "    response = await self._parser.read_response(disable_decoding=disable_decoding)\n"
        '  File "/usr/local/lib/python3.12/asyncio/streams.py", line 730, in readexactly\n'
        "    raise self._exception\n"
        "ConnectionResetError: [Errno 104] Connection reset by peer\n"
        f"redis.exceptions.ConnectionError: Error while reading from {host}:6379 : "
        "(104, 'Connection reset by peer')"
    )


def java_trace_reset(thread: str) -> str:
    """Java stack trace for a socket reset towards the fraud-scoring service."""
    del thread
    return (
        "java.net.SocketException: Connection reset by peer\n"
        "\tat java.base/sun.nio.ch.SocketDispatcher.read0(Native Method)\n"
        "\tat java.base/sun.nio.ch.SocketDispatcher.read(SocketDispatcher.java:47)\n"
        "\tat java.base/sun.nio.ch.NioSocketImpl.tryRead(NioSocketImpl.java:256)\n"
        "\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:307)\n"
        "\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)\n"
        "\tat org.apache.hc.core5.http.impl.io.SessionInputBufferImpl.fillBuffer"
        "(SessionInputBufferImpl.java:149)\n"
        "\tat com.example.payments.fraud.FraudScoringClient.score(FraudScoringClient.java:88)\n"
        "\tat com.example.payments.authorization.AuthorizationService.authorize"
        "(AuthorizationService.java:132)\n"
        "\t... 41 common frames omitted"
    )


def node_trace_reset() -> str:
    """Node stack trace for ECONNRESET while proxying."""
    return (
        "Error: read ECONNRESET\n"
        "    at TCP.onStreamRead (node:internal/stream_base_commons:217:20)\n"
        "    at TCP.callbackTrampoline (node:internal/async_hooks:130:17)"
    )


def node_trace_upstream() -> str:
    """Node stack trace for a 502 from checkout."""
    return (
        "UpstreamError: checkout responded 502 Bad Gateway\n"
        "    at CheckoutClient.placeOrder (/app/dist/server/clients/checkout.js:87:15)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
        "    at async placeOrderHandler (/app/dist/server/routes/api/checkout.js:42:19)"
    )


def go_trace_es() -> str:
    """Go call-site stack for an Elasticsearch request failure."""
    return (
        "github.com/example/search/internal/es.(*Client).Search\n"
        "\t/src/internal/es/client.go:143\n"
        "github.com/example/search/internal/api.(*Handler).Search\n"
        "\t/src/internal/api/search.go:77\n"
        "net/http.HandlerFunc.ServeHTTP\n"
        "\t/usr/local/go/src/net/http/server.go:2220"
    )


# --------------------------------------------------------------------------------------------
# the generator


def incident_pressure(t: int) -> float:
    """Share of orders on a v2.14.0 pod that hit a stale payments connection at ``t``."""
    if t < FIRST_NEW_ERROR_AT:
        return 0.0
    minutes = (t - FIRST_NEW_ERROR_AT) / 60_000
    return min(0.65, 0.15 + 0.015 * minutes)


ATTEMPT_FAIL_P = 0.8
"""Probability that one payment attempt of an affected order fails."""


class IncidentGenerator:
    """Builds every line of the sample incident in memory, then writes the files."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.v = Vocab(self.rng)
        self.files = {name: LogFile(f"logs/{name}.jsonl.gz") for name in SERVICES}
        self._seq = 0
        self.load = self._load_shape()
        self.pods = self._build_pods()
        self.facts: dict[str, Any] = {}
        self.new_error_times: list[int] = []
        self.knock_on_times: list[int] = []

    # ---- helpers ---------------------------------------------------------------------------

    def _load_shape(self) -> list[float]:
        """Per-minute traffic multiplier: morning ramp, a slow wave and a little noise."""
        shape = []
        for m in range(MINUTES):
            base = 0.85 + 0.30 * m / (MINUTES - 1) + 0.05 * math.sin(2 * math.pi * m / 37)
            shape.append(base * self.rng.lognormvariate(0, 0.06))
        return shape

    def arrivals(self, rate_per_s: float, jitter: float = 0.10) -> Iterator[int]:
        """Poisson arrival times (epoch ms) over the window with the shared load shape."""
        for m in range(MINUTES):
            rate = rate_per_s * self.load[m] * self.rng.lognormvariate(0, jitter)
            t = 0.0
            while True:
                t += self.rng.expovariate(rate)
                if t >= 60.0:
                    break
                yield WINDOW_START + m * 60_000 + int(t * 1000)

    def _pod_name(self, deployment: str, rs_hash: str) -> str:
        return f"{deployment}-{rs_hash}-{self.v.pod_suffix()}"

    def pick(self, service: str, t: int) -> Pod:
        """A pod of ``service`` that takes requests at ``t`` (the load balancer)."""
        alive = [p for p in self.pods[service] if p.serves(t)]
        if not alive:  # never expected with this topology; keep generating regardless
            alive = self.pods[service]
        return self.rng.choice(alive)

    def emit(self, service: str, ts: int, raw: bytes, level: str | None, tag: str = "") -> None:
        """Queue one raw line; lines outside the window are dropped."""
        if not WINDOW_START <= ts < WINDOW_END:
            return
        self._seq += 1
        self.files[service].entries.append(Entry(ts, self._seq, raw, level, tag))

    def ecs(
        self,
        service: str,
        pod: Pod,
        ts: int,
        level: str,
        message: str,
        logger: str,
        fields: dict[str, Any] | None = None,
        trace: str | None = None,
        tag: str = "",
    ) -> None:
        """Emit one ECS line in the shape ecs-logging libraries produce."""
        body: dict[str, Any] = {
            "ecs": {"version": "1.6.0"},
            "host": {"name": pod.name},
            "log": {"logger": logger},
            "service": {"name": service, "version": pod.version, "environment": "production"},
        }
        if trace:
            body["trace"] = {"id": trace}
        if fields:
            _merge(body, fields)
        record: dict[str, Any] = {"@timestamp": iso_ms(ts), "log.level": level, "message": message}
        record.update(_sorted_nested(body))
        self.emit(service, ts, dumps(record), level, tag)

    def flat(
        self,
        pod: Pod,
        ts: int,
        level: str,
        message: str,
        exc: str | None = None,
        trace: str | None = None,
    ) -> None:
        """Emit one line in inventory's flat Python-logging JSON shape."""
        record: dict[str, Any] = {
            "ts": py_ts(ts),
            "lvl": level.upper(),
            "svc": "inventory",
            "node": pod.name,
            "msg": message,
        }
        if exc:
            record["exc"] = exc
        if trace:
            record["traceId"] = trace
        canonical = {"WARNING": "warn"}.get(record["lvl"], level.lower())
        self.emit("inventory", ts, dumps(record), canonical)

    def http(
        self, method: str, status: int, path: str, duration_ms: int, **extra: Any
    ) -> dict[str, Any]:
        """ECS http/url/event fields for a request."""
        fields: dict[str, Any] = {
            "http": {"request": {"method": method}, "response": {"status_code": status}},
            "url": {"path": path},
            "event": {"duration": duration_ms * 1_000_000},
        }
        _merge(fields, extra)
        return fields

    # ---- topology --------------------------------------------------------------------------

    def _build_pods(self) -> dict[str, list[Pod]]:
        """Pods per service, including checkout's deploy, scale-out and rollback."""
        p = self._pod_name
        pods: dict[str, list[Pod]] = {
            "web-frontend": [Pod(p("web-frontend", "84c5d9b7f6"), "5.31.1") for _ in range(4)],
            "payments-api": [Pod(p("payments-api", "6f8d9c7b5"), "4.9.0") for _ in range(3)],
            "search": [Pod(p("search", "5c7d9f8b6"), "3.8.1") for _ in range(3)],
        }
        worker1_restart = OOM_KILL_AT + 24_871
        pods["inventory"] = [
            Pod("inventory-worker-0", "1.22.3"),
            Pod("inventory-worker-1", "1.22.3", end_ms=OOM_KILL_AT, killed=True),
            Pod(
                "inventory-worker-1",
                "1.22.3",
                start_ms=worker1_restart,
                ready_ms=worker1_restart + 6_412,
            ),
        ]
        checkout: list[Pod] = []
        old_rs, new_rs = "7f9c6d8b4", "5b8d7c6f9"
        # Rolling update 10:02: a new pod starts, becomes ready ~14 s later, an old one stops.
        for i in range(3):
            start = DEPLOY_AT + 4_000 + i * 30_000 + self.rng.randint(0, 900)
            ready = start + 13_000 + self.rng.randint(0, 2_500)
            checkout.append(Pod(p("checkout", old_rs), OLD_VERSION, end_ms=ready + 600))
            checkout.append(Pod(p("checkout", new_rs), NEW_VERSION, start, ready))
        # HPA scale-out 10:20:31: two more v2.14.0 pods.
        for i in range(2):
            start = SCALE_OUT_AT + 2_100 + i * 1_300 + self.rng.randint(0, 400)
            checkout.append(
                Pod(p("checkout", new_rs), NEW_VERSION, start, start + 14_000 + i * 900)
            )
        # Rollback 10:41:00 to v2.13.2 (same template, so the old ReplicaSet hash comes back).
        new_pods = [pod for pod in checkout if pod.version == NEW_VERSION]
        for i, old in enumerate(new_pods):
            start = ROLLBACK_AT + 5_000 + i * 17_000 + self.rng.randint(0, 900)
            ready = start + 12_500 + self.rng.randint(0, 2_000)
            old.end_ms = ready + 500
            checkout.append(Pod(p("checkout", old_rs), OLD_VERSION, start, ready))
        pods["checkout"] = checkout
        return pods

    # ---- request flows ---------------------------------------------------------------------

    def checkout_orders(self) -> None:
        """Orders placed through web-frontend -> checkout -> inventory / payments-api."""
        forced_done = False
        for start in self.arrivals(0.18):
            if not forced_done and start > FIRST_NEW_ERROR_AT - 5_000:
                self.order_flow(None)
                forced_done = True
            self.order_flow(start)

    def order_flow(self, start: int | None) -> None:
        """One checkout; ``start=None`` builds the order whose first try is the first error."""
        v = self.v
        order, user, trace = v.next_order(), v.user(), v.trace()
        items = min(12, 1 + int(self.rng.expovariate(0.7)))
        amount = v.amount()
        create_off = self.rng.randint(3, 9)
        reserve_off = create_off + v.ms(16, 0.4)
        auth_off = reserve_off + self.rng.randint(2, 7)
        forced = start is None
        first_fail_ms = v.ms(1300, 0.35, 250, 3000) if forced else 0
        if start is None:
            start = FIRST_NEW_ERROR_AT - auth_off - first_fail_ms
        web = self.pick("web-frontend", start)
        if forced:
            candidates = [
                p for p in self.pods["checkout"] if p.version == NEW_VERSION and p.serves(start)
            ]
            co = self.rng.choice(candidates)
        else:
            co = self.pick("checkout", start + 2)
        ip = v.client_ip()

        self.ecs(
            "checkout",
            co,
            start + create_off,
            "info",
            f"Creating order {order} for user {user}: {items} item(s), total {amount:.2f} EUR",
            "checkout.orders",
            self.http("POST", 201, "/v1/orders", 0) | {"user_id": user, "order_id": order},
            trace,
        )
        inv = self.pick("inventory", start + reserve_off)
        warehouse = self.rng.choice(_WAREHOUSES)
        self.flat(
            inv,
            start + reserve_off,
            "info",
            f"Reserved {items} item(s) for order {order} in {warehouse} "
            f"({reserve_off - create_off}ms)",
            trace=trace,
        )
        t = start + auth_off
        self.ecs(
            "checkout",
            co,
            t,
            "debug",
            f"Authorizing payment for order {order}: {amount:.2f} EUR via payments-api",
            "checkout.payments.client",
            {"order_id": order},
            trace,
        )
        affected = co.version == NEW_VERSION and self.rng.random() < incident_pressure(t)
        outcome = "failed"
        for attempt in range(1, 4):
            if forced and attempt == 1:
                failed, took = True, first_fail_ms
            else:
                took = v.ms(1100, 0.45, 40, 3000)
                failed = (
                    affected
                    and self.rng.random() < ATTEMPT_FAIL_P
                    and t + took > FIRST_NEW_ERROR_AT
                    and (co.end_ms is None or t + took < co.end_ms + 30_000)
                )
            if failed:
                at_ms = t + took
                detail = (
                    f"payments-api returned 502 for order {order} after {took}ms "
                    f"(retry {attempt}/3)"
                )
                self.ecs(
                    "checkout",
                    co,
                    at_ms,
                    "error",
                    f"{NEW_ERROR_TYPE}: {detail}",
                    "checkout.orders.service",
                    {
                        "error": {
                            "type": NEW_ERROR_TYPE,
                            "message": detail,
                            "stack_trace": py_trace_payment(order, took, attempt),
                        },
                        "order_id": order,
                        "user_id": user,
                        "event": {"duration": took * 1_000_000},
                        "url": {"path": "/v1/authorizations"},
                        "http": {"response": {"status_code": 502}},
                    },
                    trace,
                    tag="first_new_error" if forced and attempt == 1 else "new_error",
                )
                if WINDOW_START <= at_ms < WINDOW_END:
                    self.new_error_times.append(at_ms)
                t = at_ms + 250 * 2 ** (attempt - 1) + self.rng.randint(0, 120)
                continue
            psp = v.ms(190, 0.35, 60, 2500)
            pay = self.pick("payments-api", t + 3)
            thread = f"http-nio-8080-exec-{self.rng.randint(1, 40)}"
            if self.rng.random() < 0.02:
                reason = self.rng.choice(_DECLINES)
                self.ecs(
                    "payments-api",
                    pay,
                    t + psp,
                    "warn",
                    f"Authorization declined for order {order}: reason={reason} psp=adyen",
                    "com.example.payments.authorization.AuthorizationService",
                    self.http("POST", 402, "/v1/authorizations", psp)
                    | {"order_id": order, "process": {"thread": {"name": thread}}},
                    trace,
                )
                outcome = "declined"
            else:
                self.ecs(
                    "payments-api",
                    pay,
                    t + psp,
                    "info",
                    f"Authorization approved for order {order}: auth_id={v.uuid()} psp=adyen "
                    f"amount={amount:.2f} EUR latency={psp}ms",
                    "com.example.payments.authorization.AuthorizationService",
                    self.http("POST", 201, "/v1/authorizations", psp)
                    | {"order_id": order, "process": {"thread": {"name": thread}}},
                    trace,
                )
                outcome = "ok"
            t = t + psp + self.rng.randint(3, 12)
            break

        total = t - start
        web_fields = {
            "client": {"ip": ip},
            "user_id": user,
            "order_id": order,
            "user_agent": {"original": self.rng.choice(_USER_AGENTS)},
        }
        if outcome == "ok":
            self.ecs(
                "checkout",
                co,
                t,
                "info",
                f"Order {order} confirmed in {total}ms",
                "checkout.orders",
                self.http("POST", 201, "/v1/orders", total) | {"order_id": order},
                trace,
            )
            self.ecs(
                "web-frontend",
                web,
                t + 4,
                "info",
                f"POST /api/checkout 200 {total + 4}ms",
                "web.http",
                self.http("POST", 200, "/api/checkout", total + 4, **web_fields),
                trace,
            )
        elif outcome == "declined":
            self.ecs(
                "checkout",
                co,
                t,
                "info",
                f"Order {order} payment declined, order cancelled",
                "checkout.orders",
                self.http("POST", 402, "/v1/orders", total) | {"order_id": order},
                trace,
            )
            self.flat(
                inv, t + 9, "info", f"Released reservation for order {order}: declined", trace=trace
            )
            self.ecs(
                "web-frontend",
                web,
                t + 5,
                "warn",
                f"POST /api/checkout 402 {total + 5}ms",
                "web.http",
                self.http("POST", 402, "/api/checkout", total + 5, **web_fields),
                trace,
            )
        else:
            self.ecs(
                "checkout",
                co,
                t,
                "error",
                f"Checkout failed for order {order}: payment authorization unavailable after "
                "3 attempts, returning 502",
                "checkout.orders",
                self.http("POST", 502, "/v1/orders", total)
                | {
                    "order_id": order,
                    "user_id": user,
                    "error": {
                        "type": NEW_ERROR_TYPE,
                        "message": f"payment authorization failed for order {order}",
                    },
                },
                trace,
            )
            self.flat(
                inv,
                t + 11,
                "info",
                f"Released reservation for order {order}: payment_failed",
                trace=trace,
            )
            self.ecs(
                "web-frontend",
                web,
                t + 6,
                "error",
                f"POST /api/checkout 502 {total + 6}ms",
                "web.http",
                self.http(
                    "POST",
                    502,
                    "/api/checkout",
                    total + 6,
                    **web_fields,
                    error={
                        "type": "UpstreamError",
                        "message": "checkout responded 502 Bad Gateway",
                        "stack_trace": node_trace_upstream(),
                    },
                ),
                trace,
                tag="knock_on",
            )
            if WINDOW_START <= t + 6 < WINDOW_END:
                self.knock_on_times.append(t + 6)

    # ---- background per service ------------------------------------------------------------

    @staticmethod
    def _weighted(
        rng: random.Random, table: Sequence[tuple[float, Callable[[int], None]]]
    ) -> Callable[[int], None]:
        total = sum(w for w, _ in table)
        x = rng.random() * total
        for weight, fn in table:
            x -= weight
            if x < 0:
                return fn
        return table[-1][1]

    def web_background(self) -> None:
        """Page views and API calls that are not checkouts."""
        v, rng = self.v, self.rng

        def access(
            t: int, method: str, path: str, status: int, median: float, query: str = ""
        ) -> None:
            pod = self.pick("web-frontend", t)
            took = v.ms(median, 0.5)
            level = "info" if status < 400 else "warn" if status < 500 else "error"
            user = v.user() if rng.random() < 0.4 else None
            extra: dict[str, Any] = {
                "client": {"ip": v.client_ip()},
                "user_agent": {"original": rng.choice(_USER_AGENTS)},
            }
            if query:
                extra["url"] = {"query": query}
            if user:
                extra["user_id"] = user
            shown = f"{path}?{query}" if query else path
            self.ecs(
                "web-frontend",
                pod,
                t + took,
                level,
                f"{method} {shown} {status} {took}ms",
                "web.http",
                self.http(method, status, path, took, **extra),
                v.trace(),
            )

        def econnreset(t: int) -> None:
            pod = self.pick("web-frontend", t)
            self.ecs(
                "web-frontend",
                pod,
                t,
                "error",
                "upstream recommendations reset the connection: read ECONNRESET "
                f"(Connection reset by peer) on GET /api/recommendations from {v.pod_ip()}",
                "web.proxy",
                {
                    "error": {
                        "type": "Error",
                        "message": "read ECONNRESET",
                        "stack_trace": node_trace_reset(),
                    },
                    "url": {"path": "/api/recommendations"},
                },
                v.trace(),
            )

        def slow_render(t: int) -> None:
            pod = self.pick("web-frontend", t)
            path = f"/category/{rng.choice(_CATEGORIES)}"
            self.ecs(
                "web-frontend",
                pod,
                t,
                "warn",
                f"Slow SSR render for {path}: {v.ms(1400, 0.3)}ms (budget 800ms)",
                "web.render",
                {"url": {"path": path}},
                v.trace(),
            )

        table: list[tuple[float, Callable[[int], None]]] = [
            (8, lambda t: access(t, "GET", "/", 200, 45)),
            (30, lambda t: access(t, "GET", f"/products/{v.sku()}", 200, 60)),
            (12, lambda t: access(t, "GET", f"/category/{rng.choice(_CATEGORIES)}", 200, 80)),
            (
                14,
                lambda t: access(
                    t, "GET", "/api/search", 200, 70, "q=" + quote(rng.choice(_QUERIES))
                ),
            ),
            (10, lambda t: access(t, "GET", "/api/cart", 200, 25)),
            (7, lambda t: access(t, "POST", "/api/cart/items", 201, 40)),
            (1, lambda t: access(t, "DELETE", f"/api/cart/items/{v.sku()}", 204, 30)),
            (8, lambda t: access(t, "GET", "/api/recommendations", 200, 55, f"sku={v.sku()}")),
            (2, lambda t: access(t, "POST", "/api/session", 200, 120)),
            (3, lambda t: access(t, "GET", "/account/orders", 200, 90)),
            (0.8, lambda t: access(t, "GET", f"/products/{v.sku()}", 404, 20)),
            (0.2, lambda t: access(t, "GET", "/wp-login.php", 404, 3)),
            (0.3, lambda t: access(t, "GET", "/api/cart", 401, 4)),
            (0.3, slow_render),
            (0.12, econnreset),
        ]
        for t in self.arrivals(1.25):
            self._weighted(rng, table)(t)

    def checkout_background(self) -> None:
        """Carts, shipping quotes, pricing cache, coupons, an occasional Redis reset."""
        v, rng = self.v, self.rng

        def pod_at(t: int) -> Pod:
            return self.pick("checkout", t)

        def cart_get(t: int) -> None:
            took = v.ms(12)
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "info",
                f"GET /v1/carts/{v.cart()} 200 {took}ms",
                "checkout.http",
                self.http("GET", 200, "/v1/carts", took),
                v.trace(),
            )

        def cart_put(t: int) -> None:
            took, user = v.ms(21), v.user()
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "info",
                f"PUT /v1/carts/{v.cart()}/items 200 {took}ms (user {user})",
                "checkout.http",
                self.http("PUT", 200, "/v1/carts/items", took) | {"user_id": user},
                v.trace(),
            )

        def shipping(t: int) -> None:
            cc = rng.choice(_COUNTRIES)
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "info",
                f"Shipping quote for {cc}-{rng.randint(10000, 99999)}: "
                f"{rng.choice((0.0, 3.99, 4.95, 5.9, 9.9)):.2f} EUR via "
                f"{rng.choice(_CARRIERS)} ({v.ms(35)}ms)",
                "checkout.shipping",
                None,
                v.trace(),
            )

        def pricing_hit(t: int) -> None:
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "debug",
                "Pricing rules cache hit (version 418)",
                "checkout.pricing",
            )

        def pricing_miss(t: int) -> None:
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "warn",
                f"Pricing rules cache miss, loaded 1284 rules from postgres in {v.ms(140)}ms",
                "checkout.pricing",
            )

        def coupon(t: int) -> None:
            code = rng.choice(_COUPONS)
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "info",
                f"Applied coupon {code} to {v.cart()}: -{rng.randint(3, 40)}.00 EUR",
                "checkout.pricing",
                None,
                v.trace(),
            )

        def coupon_rejected(t: int) -> None:
            user = v.user()
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "warn",
                f"Coupon {rng.choice(_COUPONS)} rejected for user {user}: expired on 2026-11-15",
                "checkout.pricing",
                {"user_id": user},
                v.trace(),
            )

        def tax(t: int) -> None:
            cc = rng.choice(_COUNTRIES)
            rate = {"DE": 19, "AT": 20, "NL": 21, "FR": 20, "PL": 23, "BE": 21}[cc]
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "info",
                f"Tax computed for {v.cart()}: {v.amount() * rate / 100:.2f} EUR VAT "
                f"({rate}% {cc})",
                "checkout.tax",
                None,
                v.trace(),
            )

        def slow_sql(t: int) -> None:
            took = v.ms(820, 0.25)
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "warn",
                f"Slow query ({took}ms): SELECT ci.sku, ci.qty, p.price_cents FROM "  # noqa: S608
                "cart_items ci JOIN prices p ON p.sku = ci.sku WHERE ci.cart_id = $1",
                "checkout.db",
                {"event": {"duration": took * 1_000_000}},
            )

        def redis_reset(t: int) -> None:
            host = f"redis-cart-{rng.randint(0, 2)}.redis.checkout.svc.cluster.local"
            self.ecs(
                "checkout",
                pod_at(t),
                t,
                "error",
                f"Redis connection lost: [Errno 104] Connection reset by peer ({host}), "
                "reconnecting",
                "checkout.cache",
                {
                    "error": {
                        "type": "ConnectionResetError",
                        "message": "[Errno 104] Connection reset by peer",
                        "stack_trace": py_trace_reset(host),
                    }
                },
            )

        table: list[tuple[float, Callable[[int], None]]] = [
            (30, cart_get),
            (15, cart_put),
            (12, shipping),
            (15, pricing_hit),
            (2, pricing_miss),
            (4, coupon),
            (1, coupon_rejected),
            (8, tax),
            (0.4, slow_sql),
            (0.12, redis_reset),
        ]
        for t in self.arrivals(0.42):
            self._weighted(rng, table)(t)

    def payments_background(self) -> None:
        """Webhooks, captures, refunds, fraud scores, slow PSP, a socket reset now and then."""
        v, rng = self.v, self.rng
        logger = "com.example.payments"

        def thread() -> dict[str, Any]:
            return {"process": {"thread": {"name": f"http-nio-8080-exec-{rng.randint(1, 40)}"}}}

        def webhook(t: int) -> None:
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "info",
                "Webhook received from adyen: eventCode=AUTHORISATION pspReference="
                f"{rng.randint(10**15, 10**16 - 1)} success=true",
                f"{logger}.webhooks.AdyenWebhookController",
                self.http("POST", 202, "/webhooks/adyen", v.ms(6)) | thread(),
                v.trace(),
            )

        def capture(t: int) -> None:
            order = v.old_order()
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "info",
                f"Capture {v.uuid()} succeeded for order {order}: {v.amount():.2f} EUR",
                f"{logger}.capture.CaptureJob",
                {"order_id": order} | thread(),
            )

        def refund(t: int) -> None:
            order = v.old_order()
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "info",
                f"Refund {v.uuid()} processed for order {order}: {v.amount():.2f} EUR",
                f"{logger}.refund.RefundService",
                self.http("POST", 201, "/v1/refunds", v.ms(240)) | {"order_id": order} | thread(),
                v.trace(),
            )

        def fraud(t: int) -> None:
            order = v.old_order()
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "debug",
                f"Fraud score for order {order}: {rng.betavariate(1.2, 9):.3f} (threshold 0.850)",
                f"{logger}.fraud.FraudScoringClient",
                {"order_id": order} | thread(),
            )

        def slow_psp(t: int) -> None:
            took = v.ms(2100, 0.2)
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "warn",
                f"PSP adyen slow response: {took}ms for POST /v71/payments (threshold 1500ms)",
                f"{logger}.psp.AdyenClient",
                {"event": {"duration": took * 1_000_000}} | thread(),
            )

        def reset(t: int) -> None:
            th = thread()
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "error",
                "Fraud scoring call failed, falling back to rules: "
                "java.net.SocketException: Connection reset by peer",
                f"{logger}.fraud.FraudScoringClient",
                {
                    "error": {
                        "type": "java.net.SocketException",
                        "message": "Connection reset by peer",
                        "stack_trace": java_trace_reset(th["process"]["thread"]["name"]),
                    }
                }
                | th,
                v.trace(),
            )

        table: list[tuple[float, Callable[[int], None]]] = [
            (30, webhook),
            (20, capture),
            (3, refund),
            (20, fraud),
            (2, slow_psp),
            (0.15, reset),
        ]
        for t in self.arrivals(0.26):
            self._weighted(rng, table)(t)
        # Token refresh every 15 minutes.
        for k in range(8):
            t = WINDOW_START + k * 900_000 + 4_000 + rng.randint(0, 3_000)
            self.ecs(
                "payments-api",
                self.pick("payments-api", t),
                t,
                "info",
                "OAuth token for PSP adyen refreshed (expires in 3600s)",
                f"{logger}.psp.TokenManager",
            )

    def inventory_background(self) -> None:
        """Stock look-ups, slow SQL, low-stock warnings, and the stock sync with WMS."""
        v, rng = self.v, self.rng

        def lookup(t: int) -> None:
            self.flat(
                self.pick("inventory", t),
                t,
                "info",
                f"GET /v1/stock/{v.sku()} -> available={rng.randint(0, 240)} "
                f"warehouse={rng.choice(_WAREHOUSES)} ({v.ms(8)}ms)",
                trace=v.trace(),
            )

        def bulk(t: int) -> None:
            self.flat(
                self.pick("inventory", t),
                t,
                "info",
                f"POST /v1/stock/bulk-availability: {rng.randint(2, 48)} SKUs in {v.ms(24)}ms",
                trace=v.trace(),
            )

        def refresh(t: int) -> None:
            self.flat(
                self.pick("inventory", t),
                t,
                "debug",
                f"Cache refreshed for warehouse {rng.choice(_WAREHOUSES)}: "
                f"{rng.randint(900, 1500)} SKUs",
            )

        def slow_sql(t: int) -> None:
            skus = ", ".join(f"'{v.sku()}'" for _ in range(rng.randint(2, 5)))
            self.flat(
                self.pick("inventory", t),
                t,
                "warning",
                f"Slow query ({v.ms(1200, 0.3) / 1000:.2f}s): SELECT sku, qty_available, "  # noqa: S608
                f"qty_reserved FROM stock_levels WHERE warehouse_id = "
                f"'{rng.choice(_WAREHOUSES)}' AND sku = ANY(ARRAY[{skus}]) FOR UPDATE",
            )

        def low_stock(t: int) -> None:
            self.flat(
                self.pick("inventory", t),
                t,
                "warning",
                f"Low stock for {v.sku()} in {rng.choice(_WAREHOUSES)}: "
                f"{rng.randint(0, 9)} left (reorder point 10)",
            )

        def db_reset(t: int) -> None:
            self.flat(
                self.pick("inventory", t),
                t,
                "error",
                "Database connection lost: consuming input failed: server closed the "
                f"connection unexpectedly (Connection reset by peer) [{v.pod_ip()}:5432]",
                exc="psycopg.OperationalError",
            )

        table: list[tuple[float, Callable[[int], None]]] = [
            (50, lookup),
            (15, bulk),
            (5, refresh),
            (1.5, slow_sql),
            (2, low_stock),
            (0.08, db_reset),
        ]
        for t in self.arrivals(0.36):
            self._weighted(rng, table)(t)

        # Stock sync with the warehouse system every 10 minutes on worker-0; the one at
        # :10 and :40 (big batch) times out.
        leader = self.pods["inventory"][0]
        for k in range(12):
            t = WINDOW_START + k * 600_000 + rng.randint(200, 1_500)
            skus = rng.randint(1380, 1460)
            self.flat(
                leader,
                t,
                "info",
                f"Stock sync started: pulling {skus} SKUs from WMS (batch size 120)",
            )
            batches = math.ceil(skus / 120)
            if k % 3 == 1:
                failed_batch = rng.randint(5, batches)
                t_fail = t + 30_000 + (failed_batch - 1) * 2_400 + rng.randint(0, 400)
                self.flat(
                    leader,
                    t_fail,
                    "error",
                    f"Stock sync failed: WMS did not respond within 30.0s "
                    f"(batch {failed_batch}/{batches}, "
                    f"{skus - (failed_batch - 1) * 120} SKUs pending)",
                    exc="TimeoutError",
                )
                self.flat(
                    leader, t_fail + 3, "warning", "Stock sync will retry at the next schedule"
                )
            else:
                took = rng.uniform(28, 47)
                self.flat(
                    leader,
                    t + int(took * 1000),
                    "info",
                    f"Stock sync finished: {skus} SKUs, {rng.randint(5, 80)} changed, {took:.1f}s",
                )

    def search_background(self) -> None:
        """Search queries, autocomplete, cache misses (warn), an occasional ES reset."""
        v, rng = self.v, self.rng

        def ttl(t: int) -> int:
            return 600 if t > CONFIG_CHANGE_AT + 8_000 else 300

        def query(t: int) -> None:
            took = v.ms(38)
            q = rng.choice(_QUERIES)
            self.ecs(
                "search",
                self.pick("search", t),
                t,
                "info",
                f'search q="{q}" hits={rng.randint(0, 1800)} took={took}ms',
                "search.api",
                self.http("GET", 200, "/v2/search", took),
                v.trace(),
            )

        def autocomplete(t: int) -> None:
            q = rng.choice(_QUERIES)
            prefix = q[: rng.randint(2, min(6, len(q)))]
            took = v.ms(9)
            self.ecs(
                "search",
                self.pick("search", t),
                t,
                "info",
                f'autocomplete prefix="{prefix}" suggestions={rng.randint(0, 10)} took={took}ms',
                "search.api",
                self.http("GET", 200, "/v2/autocomplete", took),
                v.trace(),
            )

        def cache_miss(t: int) -> None:
            self.ecs(
                "search",
                self.pick("search", t),
                t,
                "warn",
                f"cache miss for query {v.hex(16)} (ttl={ttl(t)}s)",
                "search.cache",
            )

        def slow(t: int) -> None:
            took = v.ms(720, 0.2)
            self.ecs(
                "search",
                self.pick("search", t),
                t,
                "warn",
                f'slow query q="{rng.choice(_QUERIES)}" took={took}ms (threshold 500ms)',
                "search.api",
                {"event": {"duration": took * 1_000_000}},
                v.trace(),
            )

        def es_reset(t: int) -> None:
            src, dst = v.pod_ip(), v.pod_ip()
            msg = (
                f"read tcp {src}:{rng.randint(32768, 60999)}->{dst}:9200: read: "
                "connection reset by peer"
            )
            self.ecs(
                "search",
                self.pick("search", t),
                t,
                "error",
                f"elasticsearch request failed: {msg}",
                "search.es",
                {"error": {"type": "*net.OpError", "message": msg, "stack_trace": go_trace_es()}},
                v.trace(),
            )

        table: list[tuple[float, Callable[[int], None]]] = [
            (55, query),
            (25, autocomplete),
            (12, cache_miss),
            (1, slow),
            (0.15, es_reset),
        ]
        for t in self.arrivals(0.8):
            self._weighted(rng, table)(t)
        for pod in self.pods["search"]:
            t = CONFIG_CHANGE_AT + 2_000 + self.rng.randint(0, 6_000)
            self.ecs(
                "search",
                pod,
                t,
                "info",
                "configuration reloaded from configmap search-config (resourceVersion "
                "88123417): cache.query_ttl=600s (was 300s), feature.semantic_rerank=false",
                "search.config",
            )

    # ---- lifecycle -------------------------------------------------------------------------

    def lifecycle(self) -> None:
        """Start-up and shutdown lines for every pod that starts or stops in the window."""
        rng = self.rng
        commits = {OLD_VERSION: "9c41d07", NEW_VERSION: "3e1f9a2"}
        for pod in self.pods["checkout"]:
            if pod.start_ms is not None:
                new = pod.version == NEW_VERSION
                self.ecs(
                    "checkout",
                    pod,
                    pod.start_ms,
                    "info",
                    f"Starting checkout {pod.version} (commit {commits[pod.version]}, "
                    "python 3.12.7, uvicorn 0.32.0)",
                    "checkout.main",
                )
                client = (
                    "httpx.AsyncClient keepalive_expiry=300s max_connections=50"
                    if new
                    else "requests.Session pool_maxsize=20 keepalive=disabled"
                )
                self.ecs(
                    "checkout",
                    pod,
                    pod.start_ms + rng.randint(900, 2_500),
                    "info",
                    f"payments client configured: {client} "
                    "base_url=http://payments-api.payments.svc.cluster.local:8080",
                    "checkout.payments.client",
                )
                self.ecs(
                    "checkout",
                    pod,
                    pod.ready_ms,
                    "info",
                    "Application startup complete; listening on 0.0.0.0:8080",
                    "uvicorn.error",
                )
            if pod.end_ms is not None:
                self.ecs(
                    "checkout",
                    pod,
                    pod.end_ms,
                    "info",
                    "Received SIGTERM, draining in-flight requests",
                    "uvicorn.error",
                )
                self.ecs(
                    "checkout",
                    pod,
                    pod.end_ms + rng.randint(1_500, 4_000),
                    "info",
                    "Shutdown complete",
                    "uvicorn.error",
                )
        for pod in self.pods["inventory"]:
            if pod.start_ms is not None:
                self.flat(
                    pod,
                    pod.start_ms,
                    "info",
                    f"Starting inventory {pod.version} worker (pid 1, python 3.11.10)",
                )
                self.flat(
                    pod,
                    pod.start_ms + 3_187,
                    "info",
                    "Connected to postgres inventory-db.inventory.svc.cluster.local:5432 "
                    "(pool size 10)",
                )
                self.flat(pod, pod.ready_ms, "info", "Worker ready, serving on :8000")

    # ---- malformed lines -------------------------------------------------------------------

    def malformed(self) -> None:
        """Add the three deliberately broken lines."""
        # 1. web-frontend: a line cut short when the log file was rotated (copytruncate).
        web = self.files["web-frontend"]
        victim = min(
            (e for e in web.entries if e.ts >= ROTATION_AT and e.level == "info"),
            key=lambda e: (e.ts, e.seq),
        )
        victim.raw = victim.raw[: max(40, len(victim.raw) * 3 // 5)].rstrip(b"\\")
        victim.level = None
        victim.tag = "malformed:truncated"

        # 2. payments-api: a cardholder name written as Latin-1 bytes, invalid UTF-8.
        pod = self.pick("payments-api", LATIN1_LINE_AT)
        order = self.v.old_order()
        placeholder = "@@NAME@@"
        record = {
            "@timestamp": iso_ms(LATIN1_LINE_AT),
            "log.level": "warn",
            "message": f"Cardholder name does not match account holder for order {order}: "
            f"'{placeholder}'",
        }
        record.update(
            _sorted_nested(
                {
                    "ecs": {"version": "1.6.0"},
                    "host": {"name": pod.name},
                    "log": {"logger": "com.example.payments.authorization.HolderNameCheck"},
                    "order_id": order,
                    "service": {
                        "name": "payments-api",
                        "version": pod.version,
                        "environment": "production",
                    },
                }
            )
        )
        raw = dumps(record).replace(placeholder.encode(), "Björn Müller".encode("latin-1"))
        self.emit("payments-api", LATIN1_LINE_AT, raw, None, "malformed:invalid_utf8")

        # 3. inventory: the container runtime's "Killed" when worker-1 is OOM-killed.
        self.emit("inventory", OOM_KILL_AT, b"Killed", None, "malformed:plain_text")

    # ---- orchestration ---------------------------------------------------------------------

    def build_logs(self) -> None:
        """Generate every log line."""
        self.lifecycle()
        self.web_background()
        self.checkout_background()
        self.payments_background()
        self.inventory_background()
        self.search_background()
        self.checkout_orders()
        self.malformed()

    # ---- changes ---------------------------------------------------------------------------

    def changes(self, hpa_cpu: float) -> list[dict[str, Any]]:
        """The change log: the 24 hours before the window plus the changes inside it."""
        ci = "https://ci.example.internal/shop"

        def change(
            ts: int,
            kind: str,
            cid: str,
            service: str,
            actor: str,
            summary: str,
            details: dict[str, Any],
        ) -> dict[str, Any]:
            return {
                "@timestamp": iso_s(ts),
                "change.kind": kind,
                "change.id": cid,
                "service.name": service,
                "actor": actor,
                "summary": summary,
                "details": details,
            }

        def sha() -> str:
            return self.v.hex(40)

        new_sha = "3e1f9a2" + self.v.hex(33)
        old_sha = "9c41d07" + self.v.hex(33)
        return [
            change(
                at(9, 41, 12, day=19),
                "deploy",
                "deploy-web-frontend-2207",
                "web-frontend",
                "github-actions[bot]",
                "Deploy web-frontend 5.31.0 -> 5.31.1",
                {
                    "from_version": "5.31.0",
                    "to_version": "5.31.1",
                    "commit": sha(),
                    "pipeline_url": f"{ci}/web-frontend/-/pipelines/917702",
                    "strategy": "RollingUpdate",
                    "replicas": 4,
                    "changelog": ["Fix product gallery swipe on iOS 18", "Bump pino to 9.5.0"],
                },
            ),
            change(
                at(11, 2, 48, day=19),
                "dependency",
                "renovate-payments-api-1312",
                "payments-api",
                "renovate[bot]",
                "payments-api: bump com.fasterxml.jackson.core:jackson-databind 2.17.2 -> 2.18.1",
                {
                    "package": "com.fasterxml.jackson.core:jackson-databind",
                    "from_version": "2.17.2",
                    "to_version": "2.18.1",
                    "pull_request": "https://git.example.internal/shop/payments-api/pull/1312",
                    "commit": sha(),
                },
            ),
            change(
                at(13, 47, 3, day=19),
                "deploy",
                "deploy-search-5530",
                "search",
                "github-actions[bot]",
                "Deploy search 3.8.0 -> 3.8.1",
                {
                    "from_version": "3.8.0",
                    "to_version": "3.8.1",
                    "commit": sha(),
                    "pipeline_url": f"{ci}/search/-/pipelines/917988",
                    "changelog": ["Tune BM25 boost for brand field"],
                },
            ),
            change(
                at(15, 30, 0, day=19),
                "certificate",
                "cert-shop-wildcard-2026-11",
                "web-frontend",
                "cert-manager",
                "Renewed TLS certificate *.shop.example.com (Let's Encrypt R11)",
                {
                    "common_name": "*.shop.example.com",
                    "issuer": "Let's Encrypt R11",
                    "not_before": "2026-11-19T14:31:00Z",
                    "not_after": "2027-02-17T14:30:59Z",
                    "serial": self.v.hex(36),
                },
            ),
            change(
                at(16, 5, 40, day=19),
                "deploy",
                "deploy-payments-api-3127",
                "payments-api",
                "github-actions[bot]",
                "Deploy payments-api 4.8.3 -> 4.9.0",
                {
                    "from_version": "4.8.3",
                    "to_version": "4.9.0",
                    "commit": sha(),
                    "pipeline_url": f"{ci}/payments-api/-/pipelines/918120",
                    "changelog": ["Include jackson-databind 2.18.1", "Adyen API v71 for refunds"],
                },
            ),
            change(
                at(17, 40, 22, day=19),
                "infra",
                "infra-nodepool-general-0412",
                "",
                "terraform-cloud",
                "Node pool prod-general rolled to AMI 1.31.2-20261115",
                {
                    "cluster": "prod-eu-west-1",
                    "node_pool": "prod-general",
                    "from_ami": "amazon-eks-node-1.31-v20261101",
                    "to_ami": "amazon-eks-node-1.31-v20261115",
                    "nodes": 9,
                    "run_url": "https://tf.example.internal/runs/run-7hQ2xk",
                },
            ),
            change(
                at(19, 12, 9, day=19),
                "feature_flag",
                "flag-web-carousel-77",
                "web-frontend",
                "a.novak",
                "Feature flag new-recommendations-carousel: 25% -> 50%",
                {
                    "flag": "new-recommendations-carousel",
                    "from": "25%",
                    "to": "50%",
                    "environment": "production",
                },
            ),
            change(
                at(22, 30, 55, day=19),
                "dns",
                "dns-api-shop-ttl-0031",
                "",
                "s.ribeiro",
                "DNS: lower TTL of api.shop.example.com from 300s to 60s",
                {
                    "record": "api.shop.example.com",
                    "type": "CNAME",
                    "from_ttl": 300,
                    "to_ttl": 60,
                    "zone": "shop.example.com",
                },
            ),
            change(
                at(2, 0, 0),
                "other",
                "ops-backup-schedule-19",
                "inventory",
                "m.keller",
                "inventory-db: nightly backup moved from 03:00 to 02:00 UTC",
                {
                    "job": "inventory-db-backup",
                    "from_schedule": "0 3 * * *",
                    "to_schedule": "0 2 * * *",
                },
            ),
            change(
                at(7, 45, 31),
                "deploy",
                "deploy-inventory-1184",
                "inventory",
                "github-actions[bot]",
                "Deploy inventory 1.22.2 -> 1.22.3",
                {
                    "from_version": "1.22.2",
                    "to_version": "1.22.3",
                    "commit": sha(),
                    "pipeline_url": f"{ci}/inventory/-/pipelines/918301",
                    "changelog": ["Retry WMS sync batches once on 5xx"],
                },
            ),
            change(
                at(8, 51, 2),
                "scaling",
                "hpa-web-frontend-20261120T085102Z",
                "web-frontend",
                "horizontal-pod-autoscaler",
                "HPA scaled web-frontend from 3 to 4 replicas (cpu 74% > target 70%)",
                {
                    "from_replicas": 3,
                    "to_replicas": 4,
                    "metric": "cpu",
                    "current": "74%",
                    "target": "70%",
                },
            ),
            change(
                CONFIG_CHANGE_AT,
                "config",
                CONFIG_CHANGE_ID,
                "search",
                "l.fischer",
                "search: raise query cache TTL 300s -> 600s",
                {
                    "configmap": "search/search-config",
                    "from": {"cache.query_ttl": "300s"},
                    "to": {"cache.query_ttl": "600s"},
                    "diff": "-  query_ttl: 300s\n+  query_ttl: 600s",
                    "ticket": "SRCH-412",
                },
            ),
            change(
                DEPLOY_AT,
                "deploy",
                DEPLOY_CHANGE_ID,
                "checkout",
                "github-actions[bot]",
                f"Deploy checkout {OLD_VERSION} -> {NEW_VERSION}",
                {
                    "from_version": OLD_VERSION,
                    "to_version": NEW_VERSION,
                    "commit": new_sha,
                    "pipeline_url": f"{ci}/checkout/-/pipelines/918412",
                    "image": f"registry.example.internal/shop/checkout:{NEW_VERSION}",
                    "strategy": "RollingUpdate",
                    "replicas": 3,
                    "triggered_by": "d.osei",
                    "changelog": [
                        "Switch payments client from requests to httpx (async)",
                        "Reuse payments connections (keepalive_expiry=300s)",
                        "Add order_id to payment logs",
                    ],
                    "diff": "- PAYMENTS_CLIENT=requests\n+ PAYMENTS_CLIENT=httpx\n"
                    "+ PAYMENTS_KEEPALIVE_EXPIRY=300",
                },
            ),
            change(
                SCALE_OUT_AT,
                "scaling",
                SCALE_CHANGE_ID,
                "checkout",
                "horizontal-pod-autoscaler",
                f"HPA scaled checkout from 3 to 5 replicas (cpu {hpa_cpu:.0%} > target 70%)",
                {
                    "from_replicas": 3,
                    "to_replicas": 5,
                    "metric": "cpu",
                    "current": f"{hpa_cpu:.0%}",
                    "target": "70%",
                },
            ),
            change(
                ROLLBACK_AT,
                "deploy",
                ROLLBACK_CHANGE_ID,
                "checkout",
                "j.okafor",
                f"Rollback checkout {NEW_VERSION} -> {OLD_VERSION}",
                {
                    "from_version": NEW_VERSION,
                    "to_version": OLD_VERSION,
                    "commit": old_sha,
                    "rollback_of": DEPLOY_CHANGE_ID,
                    "pipeline_url": f"{ci}/checkout/-/pipelines/918455",
                    "image": f"registry.example.internal/shop/checkout:{OLD_VERSION}",
                    "strategy": "RollingUpdate",
                    "replicas": 5,
                    "reason": "INC-2291: checkout 502s from payments authorization",
                },
            ),
        ]

    # ---- metrics ---------------------------------------------------------------------------

    def _checkout_state(self, t: int) -> tuple[float, int]:
        """(share of serving checkout pods on v2.14.0, number of serving pods) at ``t``."""
        alive = [p for p in self.pods["checkout"] if p.serves(t)]
        new = sum(1 for p in alive if p.version == NEW_VERSION)
        return (new / len(alive) if alive else 0.0), max(1, len(alive))

    def metrics(self) -> tuple[list[dict[str, Any]], float]:
        """Per-minute series per service; returns the rows and checkout CPU before the HPA."""
        rng = self.rng
        rows: list[dict[str, Any]] = []
        mib = 1024 * 1024
        hpa_cpu = 0.0

        def noise(sigma: float = 0.05) -> float:
            return rng.lognormvariate(0, sigma)

        for m in range(MINUTES):
            t0 = WINDOW_START + m * 60_000
            mid = t0 + 30_000
            load = self.load[m]
            share, replicas = self._checkout_state(mid)
            pressure = incident_pressure(mid) * share
            failing = pressure * ATTEMPT_FAIL_P**3  # share of orders that end in a 502
            slow = 0.35 * pressure  # share of checkout requests that waited for retries
            web_slow = 0.06 * pressure
            v: dict[str, dict[str, float]] = {}

            co_p99 = 0.38 * noise(0.08)
            if slow > 0.01:
                co_p99 = 2.2 + 2.6 * min(1.0, slow / 0.22) + rng.uniform(-0.15, 0.15)
            web_p99 = 0.62 * noise(0.08)
            if web_slow > 0.01:
                web_p99 = 1.9 + 2.0 * min(1.0, web_slow / 0.04) + rng.uniform(-0.12, 0.12)
            if DEPLOY_AT <= t0 < DEPLOY_AT + 120_000:  # cold caches during the rollout
                co_p99 *= 1.35
            co_cpu = 0.36 * load * (1 + 2.6 * pressure) * 3 / replicas * noise(0.04)
            if t0 <= SCALE_OUT_AT < t0 + 60_000 or t0 + 60_000 <= SCALE_OUT_AT < t0 + 120_000:
                hpa_cpu = max(hpa_cpu, co_cpu)
            co_mem = (612 if share > 0.5 else 538) * mib + 40 * mib * pressure

            v["web-frontend"] = {
                "rps": 46.0 * load * noise(),
                "err": 0.0021 * noise(0.25) + 0.055 * failing,
                "p99": web_p99,
                "cpu": 0.41 * load * noise(0.04),
                "mem": 402 * mib * noise(0.02),
            }
            v["checkout"] = {
                "rps": 14.5 * load * noise(),
                "err": 0.0014 * noise(0.3) + 0.35 * failing,
                "p99": co_p99,
                "cpu": min(0.98, co_cpu),
                "mem": co_mem * noise(0.015),
            }
            jvm_saw = 1.08 + 0.32 * ((m % 17) / 16)
            v["payments-api"] = {
                "rps": 6.2 * load * (1 - 0.3 * pressure) * noise(),
                "err": 0.0018 * noise(0.3),
                "p99": 0.54 * noise(0.1),
                "cpu": 0.33 * load * noise(0.05),
                "mem": jvm_saw * 1024 * mib * noise(0.01),
            }
            inv_cpu = 0.27 * load * noise(0.05)
            inv_err = 0.0011 * noise(0.3)
            if t0 <= OOM_KILL_AT < t0 + 60_000:
                inv_err += 0.012  # in-flight requests on the killed worker
            v["inventory"] = {
                "rps": 21.0 * load * noise(),
                "err": inv_err,
                "p99": 0.21 * noise(0.1),
                "cpu": inv_cpu,
                "mem": (880 if not t0 <= OOM_KILL_AT < t0 + 180_000 else 610) * mib * noise(0.02),
            }
            v["search"] = {
                "rps": 31.0 * load * noise(),
                "err": 0.0009 * noise(0.3),
                "p99": 0.31 * noise(0.1),
                "cpu": 0.44 * load * noise(0.04),
                "mem": 1.6 * 1024 * mib * noise(0.01),
            }
            names = {
                "rps": ("http_requests_per_second", 3),
                "err": ("http_error_ratio", 5),
                "p99": ("http_latency_p99_seconds", 3),
                "cpu": ("cpu_utilisation", 3),
                "mem": ("memory_working_set_bytes", 0),
            }
            for key, (metric, digits) in names.items():
                for service in SERVICES:
                    value = v[service][key]
                    rows.append(
                        {
                            "@timestamp": iso_s(t0),
                            "metric": metric,
                            "labels": {
                                "service": service,
                                "env": "production",
                                "cluster": "prod-eu-west-1",
                            },
                            "value": float(round(value, digits)),
                        }
                    )
        return rows, hpa_cpu

    # ---- writing ---------------------------------------------------------------------------

    def write(self, out: Path) -> dict[str, Any]:
        """Generate everything and write it under ``out``; return the ground truth."""
        self.build_logs()
        metric_rows, hpa_cpu = self.metrics()
        changes = self.changes(hpa_cpu)

        (out / "logs").mkdir(parents=True, exist_ok=True)
        line_counts: dict[str, int] = {}
        level_counts: dict[str, dict[str, int]] = {}
        tagged: dict[str, list[dict[str, Any]]] = {}
        for service, log in self.files.items():
            entries = log.sorted_entries()
            for lineno, entry in enumerate(entries, start=1):
                if entry.tag:
                    tagged.setdefault(entry.tag.split(":")[0], []).append(
                        {"service": service, "file": log.name, "line": lineno, "entry": entry}
                    )
            payload = b"".join(e.raw + b"\n" for e in entries)
            write_gzip(out / log.name, payload)
            line_counts[log.name] = len(entries)
            counts = Counter(e.level for e in entries if e.level)
            level_counts[log.name] = {k: counts[k] for k in ("debug", "info", "warn", "error")}

        write_jsonl(out / "changes.jsonl", changes)
        write_jsonl(out / "metrics.jsonl", metric_rows)
        line_counts["changes.jsonl"] = len(changes)
        line_counts["metrics.jsonl"] = len(metric_rows)

        truth = self.ground_truth(tagged, line_counts, level_counts, changes)
        (out / "ground_truth.json").write_text(
            json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return truth

    def ground_truth(
        self,
        tagged: dict[str, list[dict[str, Any]]],
        line_counts: dict[str, int],
        level_counts: dict[str, dict[str, int]],
        changes: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The facts an analysis of the sample should recover."""

        def describe(item: dict[str, Any]) -> dict[str, Any]:
            entry: Entry = item["entry"]
            record = json.loads(entry.raw)
            return {
                "@timestamp": record["@timestamp"],
                "service": item["service"],
                "file": item["file"],
                "line": item["line"],
                "host": record["host"]["name"],
                "trace_id": record["trace"]["id"],
                "message": record["message"],
                "error.type": record["error"]["type"],
            }

        (first,) = tagged["first_new_error"]
        knock_on = sorted(tagged.get("knock_on", []), key=lambda i: i["line"])
        kinds = {
            "truncated": "JSON line cut short at a log-rotation point (copytruncate)",
            "invalid_utf8": "cardholder name written as Latin-1 bytes: invalid UTF-8",
            "plain_text": "plain-text 'Killed' from the container runtime (OOM kill of "
            "inventory-worker-1)",
        }
        malformed = [
            {
                "file": item["file"],
                "line": item["line"],
                "kind": item["entry"].tag.split(":")[1],
                "description": kinds[item["entry"].tag.split(":")[1]],
                "raw_prefix": item["entry"].raw[:60].decode("utf-8", "backslashreplace"),
            }
            for item in sorted(tagged["malformed"], key=lambda i: (i["file"], i["line"]))
        ]
        in_window = [c for c in changes if iso_s(WINDOW_START) <= c["@timestamp"]]
        record_counts = {
            name: count - sum(1 for m in malformed if m["file"] == name)
            for name, count in line_counts.items()
        }
        return {
            "generator": "examples/sample-incident/generate.py",
            "seed": self.seed,
            "window": {"since": iso_s(WINDOW_START), "until": iso_s(WINDOW_END)},
            "trigger": {
                "change.id": DEPLOY_CHANGE_ID,
                "@timestamp": iso_s(DEPLOY_AT),
                "service.name": "checkout",
                "from_version": OLD_VERSION,
                "to_version": NEW_VERSION,
            },
            "unrelated_change_in_window": {
                "change.id": CONFIG_CHANGE_ID,
                "@timestamp": iso_s(CONFIG_CHANGE_AT),
            },
            "scale_out": {"change.id": SCALE_CHANGE_ID, "@timestamp": iso_s(SCALE_OUT_AT)},
            "rollback": {"change.id": ROLLBACK_CHANGE_ID, "@timestamp": iso_s(ROLLBACK_AT)},
            "new_error": {
                "signature": NEW_ERROR_SIGNATURE,
                "error.type": NEW_ERROR_TYPE,
                "service": "checkout",
                "count": len(self.new_error_times),
                "first": describe(first),
                "last_at": iso_ms(max(self.new_error_times)),
                "per_minute": per_minute(self.new_error_times),
                "seconds_after_deploy": (FIRST_NEW_ERROR_AT - DEPLOY_AT) / 1000,
            },
            "knock_on": {
                "service": "web-frontend",
                "message_pattern": "POST /api/checkout 502 <*>ms",
                "error.type": "UpstreamError",
                "count": len(self.knock_on_times),
                "first": describe(knock_on[0]) if knock_on else None,
                "last_at": iso_ms(max(self.knock_on_times)) if self.knock_on_times else None,
            },
            "malformed_lines": malformed,
            "line_counts": line_counts,
            "record_counts": record_counts,
            "level_counts": level_counts,
            "total_log_lines": sum(v for k, v in line_counts.items() if k.startswith("logs/")),
            "changes": {
                "total": len(changes),
                "in_window": len(in_window),
                "before_window": len(changes) - len(in_window),
            },
            "background_noise": [
                "Connection reset by peer in web-frontend, checkout, payments-api, search, "
                "inventory all along",
                "inventory stock-sync TimeoutError at about :10 and :40 past each hour",
                "search cache misses logged as warn; TTL shown changes 300s -> 600s at 09:20",
                "404s on /products/<sku> and /wp-login.php in web-frontend",
                "inventory-worker-1 OOM-killed at 09:37:44 and restarted (unrelated)",
            ],
        }


def per_minute(times: list[int]) -> dict[str, int]:
    """Count timestamps per minute, keyed ``HH:MM``."""
    counts = Counter(iso_s(t - t % 60_000)[11:16] for t in times)
    return dict(sorted(counts.items()))


def write_gzip(path: Path, payload: bytes) -> None:
    """Write ``payload`` gzip-compressed with a fixed header (mtime 0, fixed name)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename=path.name, mode="wb", fileobj=buffer, mtime=0, compresslevel=9
    ) as gz:
        gz.write(payload)
    path.write_bytes(buffer.getvalue())


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write JSON lines, UTF-8, one object per line."""
    path.write_bytes(b"".join(dumps(row) + b"\n" for row in rows))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: data/ beside this script)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    truth = IncidentGenerator(args.seed).write(args.out)
    changes = [json.loads(line) for line in (args.out / "changes.jsonl").read_text().splitlines()]
    truth["extras"] = write_extras(args.out, changes, args.seed)
    (args.out / "ground_truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    elapsed = time.perf_counter() - started
    first = truth["new_error"]["first"]
    print(f"wrote {args.out} in {elapsed:.2f}s (seed {args.seed})")
    for name, count in truth["line_counts"].items():
        print(f"  {name:28} {count:7d} lines")
    print(f"  first new error: {first['@timestamp']} {first['file']}:{first['line']}")
    for bad in truth["malformed_lines"]:
        print(f"  malformed: {bad['file']}:{bad['line']} ({bad['kind']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
