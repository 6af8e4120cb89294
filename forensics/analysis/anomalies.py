"""Metric anomalies: per series, departure from the baseline with a robust z-score.

A series is one ``metric`` with one ``labels`` string. For each series the baseline points
give a median and a robust scale ``max(1.4826 * MAD, metric_rel_floor * |median|)`` (the
floor keeps flat series from turning tiny wiggles into huge scores). Each later point gets
``z = (value - median) / scale``. The series is anomalous when ``|z| >= metric_z`` holds for
at least ``metric_min_points`` consecutive points with the same sign; the onset is the first
point of the first such run. Everything is computed with grouped, vectorised operations.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from forensics.analysis.parameters import Parameters
from forensics.analysis.signatures import TS, iso

_SERVICE_KEYS = (
    "service",
    "service.name",
    "service_name",
    "ServiceName",
    "app",
    "app.kubernetes.io/name",
    "job",
    "container",
    "pod",
    "PodName",
)
_POD_SUFFIX = re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}$|-[a-z0-9]{5}$")


def service_from_labels(labels: str | None) -> str | None:
    """The service a series belongs to, from its labels (pod names lose their hash suffix)."""
    if not labels:
        return None
    try:
        parsed = json.loads(labels)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    for key in _SERVICE_KEYS:
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return _POD_SUFFIX.sub("", value) if key in {"pod", "PodName"} else value
    return None


def detect(
    points: pd.DataFrame, baseline: pd.DataFrame, params: Parameters
) -> list[dict[str, Any]]:
    """Anomalous series among ``points`` (analysed period) against ``baseline`` points."""
    if points.empty or baseline.empty:
        return []
    key = "_series"
    points = points.assign(**{key: points["metric"] + "\x1f" + points["labels"].fillna("")})
    baseline = baseline.assign(**{key: baseline["metric"] + "\x1f" + baseline["labels"].fillna("")})
    baseline = baseline[np.isfinite(baseline["value"])]
    median = baseline.groupby(key)["value"].median().rename("_median")
    deviation = (baseline["value"] - baseline[key].map(median)).abs()
    mad = deviation.groupby(baseline[key]).median().rename("_mad")
    stats = pd.concat([median, mad], axis=1)
    stats["_scale"] = np.maximum(
        1.4826 * stats["_mad"], params.metric_rel_floor * stats["_median"].abs()
    )
    stats.loc[stats["_scale"] <= 0, "_scale"] = 1e-12
    frame = points.join(stats, on=key, how="inner")
    frame = frame[np.isfinite(frame["value"])].sort_values([key, TS], kind="stable")
    if frame.empty:
        return []
    frame["_z"] = (frame["value"] - frame["_median"]) / frame["_scale"]
    sign = np.sign(frame["_z"]).where(frame["_z"].abs() >= params.metric_z, 0)
    frame["_sign"] = sign
    new_run = (frame["_sign"] != frame.groupby(key)["_sign"].shift()) | (
        frame[key] != frame[key].shift()
    )
    frame["_run"] = new_run.cumsum()
    frame["_run_len"] = frame.groupby("_run")["_sign"].transform("size")
    hits = frame[(frame["_sign"] != 0) & (frame["_run_len"] >= params.metric_min_points)]
    if hits.empty:
        return []
    onsets = hits.groupby(key, sort=False).head(1).set_index(key)
    flagged = frame[frame["_sign"] != 0]
    counts = flagged.groupby(key).size()
    peak_pos = frame.assign(_absz=frame["_z"].abs()).groupby(key)["_absz"].idxmax()
    out: list[dict[str, Any]] = []
    for series, row in onsets.iterrows():
        peak = frame.loc[peak_pos[series]]
        labels = str(row["labels"]) if isinstance(row["labels"], str) else None
        out.append(
            {
                "metric": str(row["metric"]),
                "labels": json.loads(labels) if labels else {},
                "service": service_from_labels(labels),
                "direction": "up" if row["_sign"] > 0 else "down",
                "onset": iso(row[TS]),
                "baseline_median": _num(row["_median"]),
                "baseline_scale": _num(row["_scale"]),
                "onset_value": _num(row["value"]),
                "onset_z": round(float(row["_z"]), 3),
                "peak_value": _num(peak["value"]),
                "peak_z": round(float(peak["_z"]), 3),
                "points_anomalous": int(counts.get(series, 0)),
                "source": str(row["source"]),
                "source_ref": str(row["source_ref"]),
            }
        )
    out.sort(key=lambda a: (a["onset"], -abs(a["peak_z"])))
    return out


def _num(value: Any) -> float:
    return float(round(float(value), 6))
