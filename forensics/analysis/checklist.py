"""The investigation checklist: one result per item, with evidence rows.

Each item has a status: ``finding`` (the bundle shows something relevant), ``clear`` (the
data for it was collected and shows nothing), or ``not_collected`` (the bundle has no data
for it). Evidence is a list of rows: dataset, source, ``source_ref`` and time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forensics.analysis.parameters import Parameters
from forensics.analysis.signatures import TS, iso
from forensics.bundle.reader import Bundle

ITEMS = (
    "deploy history (last 24 h)",
    "config changes",
    "infrastructure changes (DNS, certificates, scaling)",
    "dependency updates",
    "external service status",
    "traffic patterns",
    "database (connection pool, slow queries, locks)",
    "disk, memory, CPU",
    "error logs first occurrence",
    "monitoring anomalies",
)

EXTERNAL = re.compile(
    r"time[d]?[ -]?out|connection (refused|reset|closed)|unavailable|\b50[234]\b|upstream|"
    r"\bdns\b|resolv|certificate|\btls\b|\bssl\b|handshake|rate.?limit|\b429\b|unreachable",
    re.IGNORECASE,
)
DATABASE = re.compile(
    r"deadlock|lock wait|could not obtain lock|too many (connections|clients)|"
    r"connection pool|pool (exhausted|timeout)|slow query|statement timeout|sqlstate|"
    r"remaining connection slots",
    re.IGNORECASE,
)
RESOURCES_LOG = re.compile(
    r"out ?of ?memory|oom|no space left|disk (full|quota)|\bkilled\b|cpu throttl",
    re.IGNORECASE,
)
TRAFFIC_METRIC = re.compile(r"request|rps|qps|throughput|traffic|workload|hits", re.I)
RESOURCE_METRIC = re.compile(r"cpu|memory|mem_|disk|(^|[_.])fs([_.]|$)|filesystem", re.I)
DATABASE_METRIC = re.compile(r"postgres|\bpg_|mysql|database|\bdb_|sql|pool", re.I)
DB_SNAPSHOTS = (
    "pg_stat_activity",
    "lock_waits",
    "connections",
    "long_transactions",
    "pg_stat_statements",
)


@dataclass
class Context:
    """What the checklist looks at, computed once by the analysis."""

    bundle: Bundle
    params: Parameters
    onset: pd.Timestamp | None
    first_error: dict[str, Any] | None
    signatures: list[dict[str, Any]]
    changes: pd.DataFrame
    anomalies: list[dict[str, Any]]
    metric_names: list[str]
    volume: dict[str, float] = field(default_factory=dict)


def _item(
    item: str, status: str, summary: str, evidence: list[dict[str, Any]], limit: int
) -> dict[str, Any]:
    return {
        "item": item,
        "status": status,
        "summary": summary,
        "evidence": evidence[:limit],
        "evidence_total": len(evidence),
    }


def _change_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "dataset": "changes",
            "source": str(r["source"]),
            "source_ref": str(r["source_ref"]),
            "timestamp": iso(r[TS]),
            "id": None if pd.isna(r["change.id"]) else str(r["change.id"]),
        }
        for _, r in frame.iterrows()
    ]


def _signature_rows(sigs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "dataset": "logs",
            "source_ref": s["samples"][0]["source_ref"],
            "timestamp": s["samples"][0]["timestamp"],
            "signature": s["signature"],
        }
        for s in sigs
        if s["samples"]
    ]


def _anomaly_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "dataset": "metrics",
            "source": a["source"],
            "source_ref": a["source_ref"],
            "timestamp": a["onset"],
            "metric": a["metric"],
        }
        for a in items
    ]


def _incident(sigs: list[dict[str, Any]], pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    return [s for s in sigs if s["status"] in {"new", "jumped"} and pattern.search(s["template"])]


def _changes_item(ctx: Context, item: str, kinds: tuple[str, ...], label: str) -> dict[str, Any]:
    limit = ctx.params.max_evidence
    if not ctx.bundle.has("changes"):
        return _item(item, "not_collected", "no change-history source in the bundle", [], limit)
    frame = ctx.changes[ctx.changes["change.kind"].isin(kinds)]
    if frame.empty:
        since = ctx.bundle.manifest.changes_since or ctx.bundle.manifest.window["since"]
        return _item(item, "clear", f"no {label} since {since}", [], limit)
    if ctx.onset is not None:
        before = int((frame[TS] < ctx.onset).sum())
        latest = frame[frame[TS] < ctx.onset].tail(1)
        detail = f"{before} before the onset, {len(frame) - before} after"
        if not latest.empty:
            r = latest.iloc[0]
            detail += f"; latest before: {r['change.id']} ({r['service.name'] or 'no service'})"
    else:
        detail = f"{len(frame)} in the collected history"
    return _item(item, "finding", f"{len(frame)} {label}: {detail}", _change_rows(frame), limit)


def _deploys(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[0], ctx.params.max_evidence
    if not ctx.bundle.has("changes"):
        return _item(item, "not_collected", "no change-history source in the bundle", [], limit)
    reference = ctx.onset or ctx.bundle.window[1]
    history = pd.Timedelta(ctx.params.deploy_history)
    lookback = ctx.bundle.manifest.lookback_seconds
    frame = ctx.changes[
        (ctx.changes["change.kind"] == "deploy") & (ctx.changes[TS] >= reference - history)
    ]
    short = (
        f" (history collected covers only {lookback / 3600:.1f} h)"
        if lookback < history.total_seconds()
        else ""
    )
    if frame.empty:
        return _item(
            item, "clear", f"no deploys in the 24 h before {iso(reference)}{short}", [], limit
        )
    before = frame[frame[TS] < reference]
    anchor = "the onset" if ctx.onset is not None else "the window end"
    names = ", ".join(
        f"{r['change.id']} ({r['service.name']})" for _, r in before.tail(3).iloc[::-1].iterrows()
    )
    summary = (
        f"{len(before)} deploy(s) in the 24 h before {anchor}"
        f", {len(frame) - len(before)} after{short}" + (f"; latest: {names}" if names else "")
    )
    return _item(item, "finding", summary, _change_rows(frame), limit)


def _external(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[4], ctx.params.max_evidence
    if not ctx.bundle.has("logs"):
        return _item(item, "not_collected", "no logs and no status source in the bundle", [], limit)
    hits = _incident(ctx.signatures, EXTERNAL)
    if hits:
        return _item(
            item,
            "finding",
            f"{len(hits)} new/jumped error signature(s) point at an upstream or external "
            f"dependency, e.g. {hits[0]['template'][:120]!r}",
            _signature_rows(hits),
            limit,
        )
    return _item(
        item,
        "clear",
        "no new or jumped error signature points at an upstream/external dependency "
        "(judged from logs; no status-page source collected)",
        [],
        limit,
    )


def _traffic(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[5], ctx.params.max_evidence
    series = [m for m in ctx.metric_names if TRAFFIC_METRIC.search(m)]
    has_logs = ctx.bundle.rows("logs") > 0
    if not series and not has_logs:
        return _item(
            item, "not_collected", "no traffic metrics and no logs in the bundle", [], limit
        )
    found = [a for a in ctx.anomalies if TRAFFIC_METRIC.search(a["metric"])]
    notes: list[str] = []
    if found:
        notes.append(
            f"{len(found)} traffic series departed from baseline (first: {found[0]['metric']} "
            f"{found[0]['direction']} at {found[0]['onset']})"
        )
    ratio = ctx.volume.get("ratio")
    volume_moved = ratio is not None and (ratio >= 2.0 or ratio <= 0.5)
    if volume_moved:
        notes.append(
            f"log volume per minute moved x{ratio:.2f} against the baseline "
            f"({ctx.volume['baseline_per_min']:.0f} -> {ctx.volume['analysed_per_min']:.0f})"
        )
    if notes:
        return _item(item, "finding", "; ".join(notes), _anomaly_rows(found), limit)
    if not series and ratio is None:
        return _item(
            item,
            "not_collected",
            "no traffic metrics, and too little log data to compare volume with a baseline",
            [],
            limit,
        )
    what = [f"{len(series)} traffic series"] if series else []
    if ratio is not None:
        what.append(f"log volume (x{ratio:.2f} of baseline)")
    return _item(item, "clear", f"{' and '.join(what)} stayed within baseline", [], limit)


def _database(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[6], ctx.params.max_evidence
    snapshots = [s for s in ctx.bundle.snapshots() if s in DB_SNAPSHOTS]
    db_series = [m for m in ctx.metric_names if DATABASE_METRIC.search(m)]
    log_hits = _incident(ctx.signatures, DATABASE)
    notes: list[str] = []
    evidence: list[dict[str, Any]] = _signature_rows(log_hits)
    if log_hits:
        notes.append(f"{len(log_hits)} new/jumped database error signature(s)")
    for name in snapshots:
        frame = ctx.bundle.state(name)
        hit = _database_snapshot(name, frame)
        if hit is None:
            continue
        text, rows = hit
        notes.append(text)
        evidence.extend(
            {
                "dataset": "state",
                "snapshot": name,
                "source": str(r["source"]),
                "source_ref": str(r["source_ref"]),
                "timestamp": iso(r[TS]),
            }
            for _, r in rows.head(limit).iterrows()
        )
    found = [a for a in ctx.anomalies if DATABASE_METRIC.search(a["metric"])]
    if found:
        notes.append(f"{len(found)} database metric(s) departed from baseline")
        evidence.extend(_anomaly_rows(found))
    if notes:
        return _item(item, "finding", "; ".join(notes), evidence, limit)
    if not snapshots and not db_series:
        return _item(
            item,
            "not_collected",
            "no database state snapshots or metrics in the bundle"
            + ("; no database errors in the logs" if ctx.bundle.rows("logs") else ""),
            [],
            limit,
        )
    what = ", ".join(snapshots + db_series[:3])
    return _item(
        item,
        "clear",
        f"no lock waits, long transactions, pool exhaustion or slow queries in {what}",
        [],
        limit,
    )


def _numeric(frame: pd.DataFrame, *names: str) -> pd.Series | None:
    for name in names:
        if name in frame.columns:
            return pd.to_numeric(frame[name], errors="coerce")
    return None


def _database_snapshot(name: str, frame: pd.DataFrame) -> tuple[str, pd.DataFrame] | None:
    if frame.empty:
        return None
    if name == "lock_waits":
        return f"{len(frame)} lock wait(s) in {name}", frame
    if name == "long_transactions":
        return f"{len(frame)} long transaction(s)", frame
    if name == "pg_stat_activity":
        waiting = pd.Series(False, index=frame.index)
        if "wait_event_type" in frame.columns:
            waiting |= frame["wait_event_type"].astype(str).str.lower() == "lock"
        if "state" in frame.columns:
            waiting |= frame["state"].astype(str).str.startswith("idle in transaction")
        if waiting.any():
            return (
                f"{int(waiting.sum())} session(s) waiting on locks or idle in transaction",
                frame[waiting],
            )
        return None
    if name == "connections":
        if "dimension" in frame.columns:  # the postgres collector: one row per grouping
            total = frame[frame["dimension"].astype(str) == "total"]
            frame = total if not total.empty else frame
        share = _numeric(frame, "utilisation")
        if share is not None:
            full = frame[share >= 0.9]
            if not full.empty:
                return f"connections at {float(share.max()):.0%} of max_connections", full
            return None
        used = _numeric(frame, "used", "total", "count", "connections", "active")
        limit = _numeric(frame, "max_connections", "max", "limit")
        if used is not None and limit is not None:
            ratio = used / limit.replace(0, np.nan)
            full = frame[ratio >= 0.9]
            if not full.empty:
                return f"connections at {float(ratio.max()):.0%} of the limit", full
        return None
    if name == "pg_stat_statements":
        mean = _numeric(frame, "mean_exec_time", "mean_time", "mean_ms")
        if mean is not None:
            slow = frame[mean >= 1000.0]
            if not slow.empty:
                return f"{len(slow)} statement(s) averaging >= 1 s", slow
        return None
    return None


def _resources(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[7], ctx.params.max_evidence
    series = [m for m in ctx.metric_names if RESOURCE_METRIC.search(m)]
    found = [a for a in ctx.anomalies if RESOURCE_METRIC.search(a["metric"])]
    log_hits = _incident(ctx.signatures, RESOURCES_LOG)
    notes = []
    if found:
        first = found[0]
        notes.append(
            f"{len(found)} CPU/memory/disk series departed from baseline (first: "
            f"{first['metric']} of {first['service'] or 'unknown'} {first['direction']} at "
            f"{first['onset']})"
        )
    if log_hits:
        notes.append(f"{len(log_hits)} new/jumped resource error signature(s) in logs")
    if notes:
        return _item(
            item,
            "finding",
            "; ".join(notes),
            _anomaly_rows(found) + _signature_rows(log_hits),
            limit,
        )
    if not series:
        return _item(
            item, "not_collected", "no CPU, memory or disk metrics in the bundle", [], limit
        )
    return _item(
        item,
        "clear",
        f"{len(series)} CPU/memory/disk metric name(s) stayed within baseline",
        [],
        limit,
    )


def _first_error(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[8], ctx.params.max_evidence
    if not ctx.bundle.has("logs"):
        return _item(item, "not_collected", "no logs in the bundle", [], limit)
    first = ctx.first_error
    if first is None:
        return _item(
            item, "clear", "no error signature is new or jumped against the baseline", [], limit
        )
    return _item(
        item,
        "finding",
        f"first at {first['timestamp']} in {first['service']} ({first['reason']} signature): "
        f"{first['message'][:160]}",
        [
            {
                "dataset": "logs",
                "source": first["source"],
                "source_ref": first["source_ref"],
                "timestamp": first["timestamp"],
                "signature": first["signature"],
            }
        ],
        limit,
    )


def _monitoring(ctx: Context) -> dict[str, Any]:
    item, limit = ITEMS[9], ctx.params.max_evidence
    if not ctx.metric_names:
        return _item(item, "not_collected", "no metrics in the bundle", [], limit)
    if not ctx.anomalies:
        return _item(
            item,
            "clear",
            f"{len(ctx.metric_names)} metric name(s), none departed from baseline",
            [],
            limit,
        )
    first = ctx.anomalies[0]
    return _item(
        item,
        "finding",
        f"{len(ctx.anomalies)} series departed from baseline; first: {first['metric']} of "
        f"{first['service'] or 'unknown'} {first['direction']} at {first['onset']}",
        _anomaly_rows(ctx.anomalies),
        limit,
    )


def build(ctx: Context) -> list[dict[str, Any]]:
    """Every checklist item, in the documented order."""
    return [
        _deploys(ctx),
        _changes_item(ctx, ITEMS[1], ("config", "feature_flag"), "config/feature-flag changes"),
        _changes_item(
            ctx, ITEMS[2], ("infra", "dns", "certificate", "scaling"), "infrastructure changes"
        ),
        _changes_item(ctx, ITEMS[3], ("dependency",), "dependency updates"),
        _external(ctx),
        _traffic(ctx),
        _database(ctx),
        _resources(ctx),
        _first_error(ctx),
        _monitoring(ctx),
    ]
