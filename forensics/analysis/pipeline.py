"""The analysis of one bundle, start to end, and where its result is written.

:func:`analyze_bundle` returns the JSON-ready result (see ``docs/analysis-schema.json``);
:func:`analyze` opens the bundle(s), runs it and writes ``analysis.json`` outside the bundle.
Memory stays bounded by what the analysis needs: only error rows are loaded (level filter and
column projection in the scan), log volume is aggregated per minute batch by batch, metrics
and changes are read with their few columns.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from forensics.analysis import anomalies, checklist, correlation
from forensics.analysis.onset import (
    determine_periods,
    first_error,
    service_change_points,
)
from forensics.analysis.parameters import Parameters
from forensics.analysis.signatures import (
    TS,
    Periods,
    attach_templates,
    classify,
    describe,
    empty_errors,
    iso,
    load_errors,
)
from forensics.bundle.reader import Bundle
from forensics.errors import ConfigError
from forensics.identity import tool_version
from forensics.timeutil import parse_duration, utcnow

ANALYSIS_FILE = "analysis.json"
SCHEMA_VERSION = 1
METRIC_COLUMNS = [TS, "metric", "labels", "value", "source", "source_ref"]


def _baseline_errors(
    bundle: Bundle, baseline_bundle: Bundle | None, periods: Periods, params: Parameters
) -> pd.DataFrame:
    if periods.mode == "baseline-bundle" and baseline_bundle is not None:
        return load_errors(baseline_bundle, params.error_levels)
    if periods.mode == "before-window":
        return load_errors(
            bundle, params.error_levels, since=periods.baseline_start, until=periods.start
        )
    return empty_errors()


def _metric_frames(
    bundle: Bundle, baseline_bundle: Bundle | None, periods: Periods, params: Parameters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metric points to test and their baseline points (see docs/analysis.md, Baseline)."""
    if not bundle.rows("metrics"):
        empty = bundle.metrics(columns=METRIC_COLUMNS)
        return empty, empty
    if periods.mode == "baseline-bundle" and baseline_bundle is not None:
        base = baseline_bundle.metrics(columns=METRIC_COLUMNS)
        if not base.empty:
            return bundle.metrics(columns=METRIC_COLUMNS, since=periods.start), base
    if periods.mode == "before-window" and periods.baseline_start is not None:
        base = bundle.metrics(
            columns=METRIC_COLUMNS, since=periods.baseline_start, until=periods.start
        )
        if not base.empty:
            return bundle.metrics(columns=METRIC_COLUMNS, since=periods.start), base
    # The bundle's own early part: the first baseline_fraction of the window.
    since, until = bundle.window
    cut = min(since + (until - since) * params.baseline_fraction, since + params.baseline)
    base = bundle.metrics(columns=METRIC_COLUMNS, since=since, until=cut)
    return bundle.metrics(columns=METRIC_COLUMNS, since=cut), base


def _minute_counts(bundle: Bundle) -> pd.Series:
    """Log lines per UTC minute, aggregated batch by batch (only the time column is read)."""
    totals: dict[int, int] = {}
    for batch in bundle.scan("logs", columns=[TS]):
        if batch.num_rows == 0:
            continue
        minutes = pc.floor_temporal(batch.column(0), unit="minute")
        counts = pa.table({"m": minutes.cast(pa.int64())}).group_by("m").aggregate([("m", "count")])
        for moment, count in zip(
            counts["m"].to_pylist(), counts["m_count"].to_pylist(), strict=True
        ):
            totals[moment] = totals.get(moment, 0) + count
    series = pd.Series(totals, dtype="int64").sort_index()
    series.index = pd.to_datetime(series.index, unit="us", utc=True)
    return series


def _log_volume(
    bundle: Bundle, baseline_bundle: Bundle | None, periods: Periods
) -> dict[str, float]:
    """Median lines per minute in the baseline and in the analysed period.

    Partial first and last minutes are left out so the edges of a window do not count as a
    drop in traffic.
    """
    if periods.baseline_start is None or periods.baseline_end is None:
        return {}
    series = _minute_counts(bundle)
    if periods.mode == "baseline-bundle" and baseline_bundle is not None:
        base = _minute_counts(baseline_bundle).iloc[1:-1]
        after = series[series.index >= periods.start].iloc[1:-1]
    else:
        inner = series.iloc[1:-1]
        base = inner[(inner.index >= periods.baseline_start) & (inner.index < periods.baseline_end)]
        after = inner[inner.index >= periods.baseline_end]
    if base.empty or after.empty:
        return {}
    b, a = float(base.median()), float(after.median())
    return {
        "baseline_per_min": b,
        "analysed_per_min": a,
        "ratio": a / b if b > 0 else float("inf"),
    }


def analyze_bundle(
    bundle: Bundle,
    *,
    baseline_bundle: Bundle | None = None,
    params: Parameters | None = None,
) -> dict[str, Any]:
    """Analyse an opened bundle; the JSON-ready result (``docs/analysis-schema.json``)."""
    params = params or Parameters()
    periods = determine_periods(bundle, baseline_bundle, params)
    errors = load_errors(bundle, params.error_levels, since=periods.start, until=periods.end)
    baseline = _baseline_errors(bundle, baseline_bundle, periods, params)
    attach_templates(errors, baseline)
    table = classify(errors, baseline, periods, params)
    signatures = describe(table, errors, params)
    first = first_error(errors, table)
    onset = pd.Timestamp(first["timestamp"]) if first else None

    points, base_points = _metric_frames(bundle, baseline_bundle, periods, params)
    metric_anomalies = anomalies.detect(points, base_points, params)
    metric_names = sorted(
        set(points["metric"].dropna().astype(str)) | set(base_points["metric"].dropna())
    )

    changes = bundle.changes(
        columns=[
            TS,
            "change.kind",
            "change.id",
            "service.name",
            "summary",
            "details",
            "source",
            "source_ref",
        ]
    )
    types = {source.name: source.type for source in bundle.manifest.sources}
    changes = correlation.merge_duplicates(changes, types)
    service = first["service"] if first else None
    neighbours: set[str] = set()
    if onset is not None:
        neighbours = correlation.trace_neighbours(bundle, errors, service, onset, params)
        neighbours |= correlation.declared_neighbours(service, params)
    affected = {s for sig in signatures if sig["status"] != "steady" for s in sig["services"]}
    suspects, mitigations = correlation.rank(
        changes,
        onset=onset,
        service=service,
        neighbours=neighbours,
        anomalies=metric_anomalies,
        affected=affected,
        params=params,
    )
    context = checklist.Context(
        bundle=bundle,
        params=params,
        onset=onset,
        first_error=first,
        signatures=signatures,
        changes=changes.sort_values(TS, kind="stable"),
        anomalies=metric_anomalies,
        metric_names=metric_names,
        volume=_log_volume(bundle, baseline_bundle, periods),
    )
    manifest = bundle.manifest
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "incident-forensics", "version": tool_version()},
        "created": iso(pd.Timestamp(utcnow())),
        "bundle": {
            "uri": bundle.uri,
            "incident_id": manifest.incident_id,
            "bundle_id": manifest.bundle_id,
            "digest": bundle.digest,
            "window": manifest.window,
        },
        "baseline_bundle": None
        if baseline_bundle is None
        else {"uri": baseline_bundle.uri, "digest": baseline_bundle.digest},
        "periods": periods.to_dict(),
        "onset": None if onset is None else iso(onset),
        "first_error": first,
        "error_rate_change_points": service_change_points(errors, baseline, periods, params),
        "signatures": signatures,
        "signatures_total": len(table),
        "linked_services": sorted(neighbours),
        "suspects": suspects,
        "mitigations": mitigations,
        "metric_anomalies": metric_anomalies,
        "checklist": checklist.build(context),
        "parameters": params.to_dict(),
    }
    return result


@dataclass(frozen=True)
class AnalysisResult:
    """An analysis and the file it was written to."""

    data: dict[str, Any]
    path: Path | None


def default_out(incident: str, bundle_id: str) -> Path:
    """``./analysis/<incident>/<bundle-id>/``."""
    return Path("analysis") / incident / bundle_id


def _check_outside(out: Path, bundle: Bundle) -> None:
    resolved = out.expanduser().resolve()
    if bundle.uri.startswith("s3://"):
        return
    root = Path(bundle.uri).resolve()
    if resolved == root or root in resolved.parents:
        raise ConfigError(
            f"--out {out} is inside the sealed bundle {bundle.uri}; derived results are "
            "written elsewhere (the bundle is never modified)"
        )


def write_result(data: dict[str, Any], out: Path) -> Path:
    """Write ``analysis.json`` into ``out`` (created when needed), atomically."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / ANALYSIS_FILE
    temporary = out / f".{ANALYSIS_FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(target)
    return target


def analyze(
    uri: str,
    *,
    baseline: str | timedelta | None = None,
    baseline_bundle: str | None = None,
    out: str | Path | None = None,
    s3_endpoint: str | None = None,
    params: Parameters | None = None,
    write: bool = True,
) -> AnalysisResult:
    """Open the bundle at ``uri``, analyse it and write ``analysis.json`` (unless ``write``).

    ``baseline`` (``"2h"``) is the baseline length before the window; ``baseline_bundle`` a
    separate bundle of normal operation to compare with. Results go to ``out`` (default
    ``./analysis/<incident>/<bundle-id>/``), never into the bundle.
    """
    params = params or Parameters()
    if baseline is not None:
        length = parse_duration(baseline) if isinstance(baseline, str) else baseline
        params = replace(params, baseline=length)
    bundle = Bundle.open(uri, s3_endpoint=s3_endpoint)
    base = Bundle.open(baseline_bundle, s3_endpoint=s3_endpoint) if baseline_bundle else None
    target_dir: Path | None = None
    if write:
        if out is not None and "://" in str(out):
            raise ConfigError(f"--out {out}: give a local directory")
        target_dir = (
            Path(out) if out is not None else default_out(bundle.incident_id, bundle.bundle_id)
        )
        _check_outside(target_dir, bundle)
    data = analyze_bundle(bundle, baseline_bundle=base, params=params)
    path = write_result(data, target_dir) if target_dir is not None else None
    return AnalysisResult(data, path)
