#!/usr/bin/env python3
"""Write the deterministic OpenMetrics history the test Prometheus is backfilled with.

The story matches ``examples/sample-incident`` (all times UTC, 2026-11-20), scraped every 15 s
from 06:45 to 11:30 so that a 09:00-11:00 window and a two-hour baseline before it are covered:

* Five services (``job``): ``web-frontend``, ``checkout``, ``payments-api``, ``search``,
  ``inventory``, each with fixed instances; three nodes (``job="node"``).
* 10:02:00 ``checkout`` v2.14.0 is deployed. From 10:06:13 its error ratio (HTTP 502) and p99
  latency jump, CPU (retries), open file descriptors and established TCP connections climb.
* 10:20:00 the HPA scales checkout 3 -> 5: two extra instances exist 10:20:00-10:45:00.
* 10:41:00 rollback to v2.13.2; errors and latency recover as the last new pod drains (~10:42).

Families: ``http_requests_total`` (``job``, ``instance``, ``code``),
``http_request_duration_seconds`` (histogram), ``process_cpu_seconds_total``,
``process_resident_memory_bytes``, ``process_open_fds``, ``node_cpu_seconds_total``,
``node_memory_MemAvailable_bytes``, ``node_memory_MemTotal_bytes``,
``node_filesystem_avail_bytes``, ``node_filesystem_size_bytes``, ``node_netstat_Tcp_CurrEstab``
and ``up``. Every series that is not a scale-out instance has a sample at every scrape, so
counts are predictable: ``up{job!="checkout"}`` has 12 series, ``up`` 15 (17 while the two
scale-out pods live, 10:20-10:45), ``http_requests_total{job="payments-api"}`` 8.

Usage: ``backfill.py OUT_FILE`` (``-`` for stdout). Same output bytes on every run; standard
library only. Import with ``promtool tsdb create-blocks-from openmetrics OUT_FILE DATA_DIR``.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

SCRAPE_S = 15
START = int(datetime(2026, 11, 20, 6, 45, tzinfo=UTC).timestamp())
END = int(datetime(2026, 11, 20, 11, 30, tzinfo=UTC).timestamp())  # exclusive


def at(hour: int, minute: int, second: int = 0) -> int:
    """Epoch seconds of a time on 2026-11-20 UTC."""
    return int(datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC).timestamp())


DEPLOY = at(10, 2)
ERRORS_FROM = at(10, 6, 13)
SCALE_OUT = at(10, 20)
ROLLBACK = at(10, 41)
RECOVERED = at(10, 42)
SCALE_IN = at(10, 45)

#: job -> (instances, requests per second per instance, median latency in seconds)
SERVICES: dict[str, tuple[int, float, float]] = {
    "web-frontend": (3, 30.0, 0.045),
    "checkout": (3, 12.0, 0.060),
    "payments-api": (2, 8.0, 0.080),
    "search": (2, 15.0, 0.025),
    "inventory": (2, 6.0, 0.030),
}
NODES = ("node-a:9100", "node-b:9100", "node-c:9100")
CODES = ("200", "404", "500", "502")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Target:
    """One scraped service instance."""

    job: str
    instance: str
    rps: float
    median: float
    since: int = START
    until: int = END

    def alive(self, t: int) -> bool:
        """Whether this instance exists (is scraped) at ``t``."""
        return self.since <= t < self.until


def targets() -> list[Target]:
    """Every service instance, including checkout's two scale-out pods."""
    found: list[Target] = []
    for number, (job, (count, rps, median)) in enumerate(SERVICES.items(), start=1):
        for i in range(count):
            found.append(Target(job, f"10.0.{number}.{10 + i}:8080", rps, median))
    found += [
        Target("checkout", f"10.0.2.{10 + i}:8080", 12.0, 0.060, SCALE_OUT, SCALE_IN)
        for i in (3, 4)
    ]
    return found


def incident(target: Target, t: int) -> float:
    """How strongly the checkout incident shows at ``t`` (0 = normal, 1 = worst)."""
    if target.job != "checkout" or not ERRORS_FROM <= t < RECOVERED:
        return 0.0
    if t >= ROLLBACK:  # pods draining
        return 0.5 * (RECOVERED - t) / (RECOVERED - ROLLBACK)
    ramp = min(1.0, (t - ERRORS_FROM) / 600)  # rising over ten minutes
    return 0.35 + 0.65 * ramp


def traffic(t: int) -> float:
    """Slow morning ramp of request volume (1.0 at 09:00)."""
    return (
        0.8 + 0.2 * (t - START) / (at(9, 0) - START)
        if t < at(9, 0)
        else 1.0 + 0.05 * ((t - at(9, 0)) / 3600)
    )


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    """P(latency <= x) for a log-normal latency."""
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


def labels(**pairs: str) -> str:
    """OpenMetrics label set with the names in the given order."""
    inner = ",".join(f'{k}="{v}"' for k, v in pairs.items())
    return "{" + inner + "}"


def number(value: float) -> str:
    """A sample value as text (integers without a fraction)."""
    return str(int(value)) if float(value).is_integer() else repr(round(value, 6))


def simulate() -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Run the scrape loop; return family -> label text -> samples (time ordered)."""
    rng = random.Random(20261120)
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}

    def add(family: str, label_text: str, t: int, value: float) -> None:
        out.setdefault(family, {}).setdefault(label_text, []).append((t, value))

    counters: dict[tuple[str, str], float] = {}

    def bump(family: str, label_text: str, t: int, increment: float) -> None:
        key = (family, label_text)
        counters[key] = counters.get(key, 0.0) + increment
        add(family, label_text, t, counters[key])

    services = targets()
    for t in range(START, END, SCRAPE_S):
        for target in services:
            base = {"job": target.job, "instance": target.instance}
            if not target.alive(t):
                continue
            add("up", labels(**base), t, 1)
            bad = incident(target, t)
            requests = max(0, round(target.rps * SCRAPE_S * traffic(t) * rng.uniform(0.9, 1.1)))
            if target.job == "checkout" and t >= SCALE_OUT and t < SCALE_IN:
                requests = round(requests * 0.6)  # load spread over five pods
            error_share = 0.18 * bad
            split = {
                "404": round(requests * 0.01),
                "500": 1 if rng.random() < 0.05 else 0,
                "502": round(requests * error_share),
            }
            split["200"] = max(0, requests - sum(split.values()))
            for code in CODES:
                bump("http_requests_total", labels(**base, code=code), t, split[code])
            median = target.median * (1 + 9 * bad)
            sigma = 0.55 + 0.6 * bad
            running = 0
            for le in BUCKETS:
                running = max(running, round(requests * lognormal_cdf(le, median, sigma)))
                bump(
                    "http_request_duration_seconds_bucket",
                    labels(**base, le=repr(le)),
                    t,
                    running,
                )
            bump("http_request_duration_seconds_bucket", labels(**base, le="+Inf"), t, requests)
            bump("http_request_duration_seconds_count", labels(**base), t, requests)
            mean = median * math.exp(sigma * sigma / 2)
            bump("http_request_duration_seconds_sum", labels(**base), t, requests * mean)
            cores = 0.05 + target.rps / 40 + 0.6 * bad + rng.uniform(-0.02, 0.02)
            bump("process_cpu_seconds_total", labels(**base), t, round(cores * SCRAPE_S, 3))
            memory = 280e6 + 60e6 * bad + rng.uniform(-4e6, 4e6)
            add("process_resident_memory_bytes", labels(**base), t, round(memory))
            fds = 90 + round(target.rps * 2) + round(520 * bad) + rng.randint(-3, 3)
            add("process_open_fds", labels(**base), t, fds)
        worst = max(incident(s, t) for s in services)
        for index, node in enumerate(NODES):
            base = {"job": "node", "instance": node}
            add("up", labels(**base), t, 1)
            busy = 0.25 + 0.1 * index + (0.35 * worst if index == 1 else 0.0)
            for cpu in ("0", "1"):
                shares = {
                    "idle": (1 - busy) * SCRAPE_S,
                    "system": busy * 0.3 * SCRAPE_S,
                    "user": busy * 0.7 * SCRAPE_S,
                }
                for mode, seconds in shares.items():
                    bump(
                        "node_cpu_seconds_total",
                        labels(**base, cpu=cpu, mode=mode),
                        t,
                        round(seconds * rng.uniform(0.97, 1.03), 3),
                    )
            total = 16 * 2**30
            available = total * (0.55 - 0.05 * index - (0.1 * worst if index == 1 else 0.0))
            add("node_memory_MemAvailable_bytes", labels(**base), t, round(available))
            add("node_memory_MemTotal_bytes", labels(**base), t, total)
            disk = {"device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
            size = 200 * 2**30
            used = 0.4 + 0.1 * index + 1e-6 * (t - START)
            add("node_filesystem_avail_bytes", labels(**base, **disk), t, round(size * (1 - used)))
            add("node_filesystem_size_bytes", labels(**base, **disk), t, size)
            established = 140 + 30 * index + (900 * worst if index == 1 else 0) + rng.randint(-5, 5)
            add("node_netstat_Tcp_CurrEstab", labels(**base), t, round(established))
    return out


FAMILIES: dict[str, tuple[str, str]] = {
    "up": ("gauge", "Whether the target was scraped."),
    "http_requests_total": ("counter", "HTTP requests by status code."),
    "http_request_duration_seconds": ("histogram", "HTTP request latency."),
    "process_cpu_seconds_total": ("counter", "CPU time used by the process."),
    "process_resident_memory_bytes": ("gauge", "Resident memory of the process."),
    "process_open_fds": ("gauge", "Open file descriptors of the process."),
    "node_cpu_seconds_total": ("counter", "CPU time per mode."),
    "node_memory_MemAvailable_bytes": ("gauge", "Available memory."),
    "node_memory_MemTotal_bytes": ("gauge", "Total memory."),
    "node_filesystem_avail_bytes": ("gauge", "Filesystem space available."),
    "node_filesystem_size_bytes": ("gauge", "Filesystem size."),
    "node_netstat_Tcp_CurrEstab": ("gauge", "Established TCP connections."),
}


def family_lines(
    name: str, kind: str, series: Callable[[str], dict[str, list[tuple[int, float]]]]
) -> Iterator[str]:
    """The lines of one metric family, series after series, samples in time order."""
    if kind == "histogram":
        parts = [
            series(f"{name}_bucket"),
            series(f"{name}_count"),
            series(f"{name}_sum"),
        ]
        # One metric point per (label set, time): buckets, then count and sum.
        by_base: dict[str, list[tuple[str, str, list[tuple[int, float]]]]] = {}
        for suffix, part in zip(("_bucket", "_count", "_sum"), parts, strict=True):
            for label_text, points in part.items():
                base = label_text.split(",le=")[0].rstrip("}") + "}"
                by_base.setdefault(base, []).append((f"{name}{suffix}", label_text, points))
        for members in by_base.values():
            for i in range(len(members[0][2])):
                for metric, label_text, points in members:
                    t, value = points[i]
                    yield f"{metric}{label_text} {number(value)} {t}\n"
        return
    for label_text, points in series(name).items():
        for t, value in points:
            yield f"{name}{label_text} {number(value)} {t}\n"


def write(out: TextIO) -> None:
    """Write the whole OpenMetrics exposition, ending with ``# EOF``."""
    data = simulate()
    for name, (kind, help_text) in FAMILIES.items():
        family = name[: -len("_total")] if kind == "counter" else name
        out.write(f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n")
        out.writelines(family_lines(name, kind, lambda key: data.get(key, {})))
    out.write("# EOF\n")


def main(argv: list[str]) -> int:
    """Command line: ``backfill.py OUT_FILE``."""
    if len(argv) != 1:
        print("usage: backfill.py OUT_FILE|-", file=sys.stderr)
        return 2
    if argv[0] == "-":
        write(sys.stdout)
    else:
        with open(argv[0], "w", encoding="utf-8", newline="\n") as out:
            write(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
