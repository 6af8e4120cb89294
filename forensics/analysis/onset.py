"""The onset of the incident: the first error occurrence, and error-rate change points.

Definitions (docs/analysis.md has the full text):

- **Baseline**: a separate baseline bundle when given (``--baseline-bundle``); else the
  ``--baseline`` period before the window start when the bundle holds data from then; else
  the bundle's own early part (``baseline_fraction`` of the analysed period).
- **Onset**: the earliest occurrence among the incident signatures (``new`` ones: their first
  occurrence; ``jumped`` ones: their first occurrence after their rate change point). Ties
  are broken by source and position in the source. The first error line is that row.
- **Per-service change point**: the best rate-increase change point of all error lines of a
  service (baseline included); reported as significant under the same thresholds as a
  jumped signature.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow.compute as pc

from forensics.analysis.changepoint import rate_increase
from forensics.analysis.parameters import Parameters
from forensics.analysis.signatures import TS, Periods, iso
from forensics.bundle.reader import Bundle


def log_span(bundle: Bundle) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Earliest and latest log timestamp, reading only that column (streamed)."""
    low: Any = None
    high: Any = None
    for batch in bundle.scan("logs", columns=[TS]):
        if batch.num_rows == 0:
            continue
        bounds = pc.min_max(batch.column(0))
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        low = lo if low is None or lo < low else low
        high = hi if high is None or hi > high else high
    if low is None:
        return None
    return pd.Timestamp(low), pd.Timestamp(high)


def determine_periods(
    bundle: Bundle, baseline_bundle: Bundle | None, params: Parameters
) -> Periods:
    """Choose the analysed period and the baseline (see the module docstring)."""
    since, until = bundle.window
    span = log_span(bundle)
    one_second = pd.Timedelta(seconds=1)
    if span is None:
        return Periods(since, until, "none", None, None, 0.0)
    first, last = span
    if baseline_bundle is not None:
        base = log_span(baseline_bundle)
        start = max(since, first)
        end = min(until, last + one_second)
        if base is None:
            return Periods(start, end, "none", None, None, 0.0)
        base_seconds = float((base[1] + one_second - base[0]).total_seconds())
        return Periods(start, end, "baseline-bundle", base[0], base[1] + one_second, base_seconds)
    if first < since:
        base_start = max(since - pd.Timedelta(params.baseline), first)
        seconds = float((since - base_start).total_seconds())
        return Periods(
            since, min(until, last + one_second), "before-window", base_start, since, seconds
        )
    start, end = first, min(until, last + one_second)
    cut = start + (end - start) * params.baseline_fraction
    cut = min(cut, start + pd.Timedelta(params.baseline))
    return Periods(start, end, "early-window", start, cut, 0.0)


def first_error(errors: pd.DataFrame, table: pd.DataFrame) -> dict[str, Any] | None:
    """The first log line of the incident: the earliest onset row of a new/jumped signature."""
    incident = table[table["status"].isin(["new", "jumped"])]
    if incident.empty:
        return None
    row_index = int(incident["onset_row"].astype("int64").min())  # rows are in time order
    row = errors.loc[row_index]
    sig = incident[incident["onset_row"] == row_index].iloc[0]
    return {
        "timestamp": iso(row[TS]),
        "service": _opt(row["service.name"]),
        "host": _opt(row["host.name"]),
        "level": _opt(row["log.level"]),
        "signature": str(sig["signature"]),
        "template": str(sig["template"]),
        "reason": str(sig["status"]),
        "message": str(row["message"]),
        "error_type": _opt(row["error.type"]),
        "trace_id": _opt(row["trace.id"]),
        "source": _opt(row["source"]),
        "source_ref": str(row["source_ref"]),
    }


def service_change_points(
    errors: pd.DataFrame, baseline: pd.DataFrame, periods: Periods, params: Parameters
) -> list[dict[str, Any]]:
    """Per service: error count and its best error-rate change point."""
    out: list[dict[str, Any]] = []
    if errors.empty:
        return out
    services = errors["service.name"].fillna("(none)")
    base_counts = (
        baseline["service.name"].fillna("(none)").value_counts()
        if not baseline.empty
        else pd.Series(dtype="int64")
    )
    seconds = periods.seconds(errors[TS])
    for service, positions in services.groupby(services, sort=True).indices.items():
        times = seconds[positions]
        point = rate_increase(
            times,
            start=0.0,
            end=periods.span,
            baseline_count=int(base_counts.get(service, 0)),
            baseline_seconds=periods.baseline_seconds,
        )
        significant = bool(
            point is not None
            and point.ratio >= params.jump_factor
            and point.llr >= params.jump_min_llr
            and point.count_after >= params.jump_min_count
        )
        entry: dict[str, Any] = {
            "service": service,
            "errors": len(positions),
            "baseline_errors": int(base_counts.get(service, 0)),
            "change_point": None,
        }
        if point is not None and significant:
            moment = periods.start + pd.Timedelta(seconds=point.time)
            entry["change_point"] = {
                "timestamp": iso(moment),
                "rate_before_per_min": round(point.rate_before * 60, 4),
                "rate_after_per_min": round(point.rate_after * 60, 4),
                "llr": round(point.llr, 3),
            }
        out.append(entry)
    out.sort(
        key=lambda e: (
            e["change_point"] is None,
            e["change_point"]["timestamp"] if e["change_point"] else "",
            e["service"],
        )
    )
    return out


def _opt(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)
