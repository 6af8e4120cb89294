"""Synthetic incidents with known truth, to measure the analysis.

:func:`generate` writes one seeded incident as input files (JSON-lines logs per service, a
change history, per-minute metrics) with a ``forensics.toml`` beside them, so the incident
goes through the real files collector and ``preserve`` like any other. The story:

- 3-6 random services log info lines, warnings and 1-3 background error signatures each at
  steady random rates for the whole window (some rare);
- 3-10 harmless changes at random times in the 24 hours before the window and inside it, on
  random services (or cluster-wide); in half of the cases a decoy change of another service
  between the causal change and the onset (closer in time); in 30% an earlier harmless
  deploy of the same service 1-6 hours before;
- one causal change (deploy, config, feature flag or dependency) on one service, followed
  after a random delay (30 s to 15 min) by a NEW error signature in that service, and from
  then on a shift in that service's error ratio and latency metrics.

The truth records the first line of the new signature (time, service, ``source_ref``,
message) and the causal change id.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SERVICES = (
    "cart",
    "billing",
    "auth",
    "catalog",
    "orders",
    "users",
    "ledger",
    "gateway",
    "notify",
    "shipping",
    "pricing",
    "reviews",
)
BACKGROUND = (
    "Connection reset by peer while reading from {peer}:{port}",
    "TimeoutError: call to {peer} timed out after {ms}ms",
    "Failed to refresh cache entry key={key}: stale value kept",
    "Request {req} rejected: invalid token for user {user}",
    "Retrying message {req} on queue {peer}-events (attempt {n})",
    "SQL query exceeded budget: {ms}ms for SELECT on table {peer}_items",
    "Health probe to {peer} returned HTTP {code}",
    "Could not parse header X-Client-Version value {key}",
)
NEW_ERRORS = (
    "NullPointerException in OrderMapper.toDto: field customer missing for order {req}",
    "IllegalStateException: connection pool exhausted, {n} waiters, giving up after {ms}ms",
    "SerializationError: cannot decode schema v{n} payload for event {req}",
    "PermissionDenied: service account lacks role storage.objects.get on bucket {key}",
    "KeyError: 'discount_code' while pricing basket {req}",
    "UnsupportedOperationException: legacy endpoint /v1/items/{n} removed in this build",
    "ConfigurationError: feature {key} enabled without its backing table",
    "ClassCastException: java.lang.String cannot be cast to java.lang.Long at field {n}",
)
INFO = (
    "GET /api/{peer}/{req} 200 {ms}ms",
    "POST /api/{peer} 201 {ms}ms",
    "processed batch {req} with {n} items",
    "cache hit ratio {n}% for {peer}",
)
WARN = ("slow request {req} took {ms}ms", "deprecated header X-Legacy used by client {key}")
HARMLESS_KINDS = ("deploy", "config", "feature_flag", "dependency", "infra", "scaling", "dns")
CAUSAL_KINDS = ("deploy", "deploy", "deploy", "config", "feature_flag", "dependency")

CONFIG = """\
[[source]]
name = "app-logs"
type = "files"
kind = "logs"
paths = ["logs/*.jsonl"]
format = "jsonl"

[[source]]
name = "changes"
type = "files"
kind = "changes"
paths = ["changes.jsonl"]
format = "jsonl"

[[source]]
name = "metrics"
type = "files"
kind = "metrics"
paths = ["metrics.jsonl"]
format = "jsonl"
"""


@dataclass(frozen=True)
class SyntheticIncident:
    """One generated incident: where its files are and what the analysis must find."""

    seed: int
    config: Path
    since: datetime
    until: datetime
    truth: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fill(template: str, rng: random.Random, peers: list[str]) -> str:
    return template.format(
        peer=rng.choice(peers),
        port=rng.randint(1024, 65000),
        ms=rng.randint(5, 9000),
        key=f"{rng.getrandbits(32):08x}",
        req=f"{rng.getrandbits(40):010x}",
        user=f"u{rng.randint(1, 99999)}",
        n=rng.randint(1, 99),
        code=rng.choice((500, 502, 503)),
    )


def _poisson_times(
    rng: random.Random, rate_per_s: float, start: datetime, end: datetime
) -> list[datetime]:
    times: list[datetime] = []
    if rate_per_s <= 0:
        return times
    t = start
    while True:
        t = t + timedelta(seconds=rng.expovariate(rate_per_s))
        if t >= end:
            return times
        times.append(t.replace(microsecond=(t.microsecond // 1000) * 1000))


def generate(
    seed: int, directory: Path, *, window: timedelta = timedelta(hours=1)
) -> SyntheticIncident:
    """Write the seeded incident under ``directory``; return where it is and its truth."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    since = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=seed % 5000, minutes=7)
    until = since + window
    services = rng.sample(SERVICES, rng.randint(3, 6))
    culprit = rng.choice(services)
    causal_at = since + timedelta(seconds=rng.uniform(0.3, 0.6) * window.total_seconds())
    causal_at = causal_at.replace(microsecond=0)
    onset = causal_at + timedelta(seconds=rng.uniform(30, 900))
    onset = onset.replace(microsecond=(onset.microsecond // 1000) * 1000)
    new_template = rng.choice(NEW_ERRORS)

    lines: dict[str, list[tuple[datetime, dict[str, Any]]]] = {s: [] for s in services}
    span = window.total_seconds()
    for service in services:
        peers = [s for s in services if s != service] or [service]
        host = f"{service}-{rng.getrandbits(24):06x}"

        def add(
            moment: datetime,
            level: str,
            message: str,
            error: str | None = None,
            *,
            svc: str = service,
            pod: str = host,
        ) -> None:
            record: dict[str, Any] = {
                "@timestamp": _iso(moment),
                "log.level": level,
                "message": message,
                "service.name": svc,
                "host.name": pod,
                "trace.id": f"{rng.getrandbits(64):016x}",
            }
            if error:
                record["error.type"] = error
            lines[svc].append((moment, record))

        for moment in _poisson_times(rng, rng.uniform(60, 150) / span, since, until):
            add(moment, "info", _fill(rng.choice(INFO), rng, peers))
        for moment in _poisson_times(rng, rng.uniform(2, 10) / span, since, until):
            add(moment, "warn", _fill(rng.choice(WARN), rng, peers))
        for template in rng.sample(BACKGROUND, rng.randint(1, 3)):
            expected = rng.choice((rng.uniform(1, 3), rng.uniform(5, 40)))
            for moment in _poisson_times(rng, expected / span, since, until):
                add(moment, "error", _fill(template, rng, peers), "BackgroundError")
        if service == culprit:
            peers_c = peers
            add(onset, "error", _fill(new_template, rng, peers_c), "IncidentError")
            rate = rng.uniform(25, 80) / (until - onset).total_seconds()
            for moment in _poisson_times(rng, rate, onset, until):
                if moment > onset:
                    add(moment, "error", _fill(new_template, rng, peers_c), "IncidentError")

    root = directory
    (root / "logs").mkdir(parents=True, exist_ok=True)
    truth_first: dict[str, Any] = {}
    for service, items in lines.items():
        items.sort(key=lambda item: item[0])
        with (root / "logs" / f"{service}.jsonl").open("w", encoding="utf-8") as out:
            for number, (moment, record) in enumerate(items, start=1):
                out.write(json.dumps(record) + "\n")
                if service == culprit and moment == onset and not truth_first:
                    truth_first = {
                        "timestamp": record["@timestamp"],
                        "service": culprit,
                        "source_ref": f"logs/{service}.jsonl:{number}",
                        "message": record["message"],
                    }

    changes: list[dict[str, Any]] = []
    for index in range(rng.randint(3, 10)):
        at = since - timedelta(hours=24) + timedelta(seconds=rng.uniform(0, 24 * 3600 + span))
        kind = rng.choice(HARMLESS_KINDS)
        target = "" if kind in ("infra", "dns") else rng.choice(services)
        changes.append(
            {
                "@timestamp": _iso(at.replace(microsecond=0)),
                "change.kind": kind,
                "change.id": f"{kind}-{target or 'cluster'}-{index}",
                "service.name": target,
                "actor": "ci",
                "summary": f"{kind} of {target or 'the cluster'}",
                "details": {"n": index},
            }
        )
    others = [s for s in services if s != culprit]
    if others and rng.random() < 0.5:  # a decoy: closer to the onset, another service
        at = causal_at + (onset - causal_at) * rng.uniform(0.1, 0.9)
        kind = rng.choice(("deploy", "config", "feature_flag"))
        target = rng.choice(others)
        changes.append(
            {
                "@timestamp": _iso(at.replace(microsecond=0)),
                "change.kind": kind,
                "change.id": f"{kind}-{target}-decoy",
                "service.name": target,
                "actor": "ci",
                "summary": f"{kind} of {target}",
                "details": {},
            }
        )
    if rng.random() < 0.3:  # an earlier, harmless change of the same service
        at = causal_at - timedelta(hours=rng.uniform(1, 6))
        changes.append(
            {
                "@timestamp": _iso(at.replace(microsecond=0)),
                "change.kind": "deploy",
                "change.id": f"deploy-{culprit}-earlier",
                "service.name": culprit,
                "actor": "ci",
                "summary": f"deploy of {culprit}",
                "details": {},
            }
        )
    causal_kind = rng.choice(CAUSAL_KINDS)
    causal_id = f"{causal_kind}-{culprit}-causal-{seed}"
    changes.append(
        {
            "@timestamp": _iso(causal_at),
            "change.kind": causal_kind,
            "change.id": causal_id,
            "service.name": culprit,
            "actor": "ci",
            "summary": f"{causal_kind} of {culprit}",
            "details": {"from_version": "1.0.0", "to_version": "1.1.0"},
        }
    )
    changes.sort(key=lambda c: str(c["@timestamp"]))
    with (root / "changes.jsonl").open("w", encoding="utf-8") as out:
        for change in changes:
            out.write(json.dumps(change) + "\n")

    with (root / "metrics.jsonl").open("w", encoding="utf-8") as out:
        minute = since
        while minute < until:
            for service in services:
                shifted = service == culprit and minute >= onset.replace(second=0, microsecond=0)
                values = {
                    "http_error_ratio": rng.gauss(0.004, 0.0008) + (0.12 if shifted else 0.0),
                    "http_latency_p99_seconds": rng.gauss(0.3, 0.03) + (2.0 if shifted else 0.0),
                    "cpu_utilisation": rng.gauss(0.4, 0.03),
                }
                for metric, value in values.items():
                    out.write(
                        json.dumps(
                            {
                                "@timestamp": _iso(minute),
                                "metric": metric,
                                "labels": {"service": service},
                                "value": round(max(value, 0.0), 6),
                            }
                        )
                        + "\n"
                    )
            minute += timedelta(minutes=1)

    config = root / "forensics.toml"
    config.write_text(CONFIG, encoding="utf-8")
    truth = {
        "first_error": truth_first,
        "causal_change": causal_id,
        "causal_at": _iso(causal_at),
        "onset": _iso(onset),
        "service": culprit,
        "services": services,
    }
    (root / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return SyntheticIncident(seed, config, since, until, truth)
