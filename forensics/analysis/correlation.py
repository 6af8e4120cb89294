"""Change correlation: rank every change before the onset as a suspect, with an explanation.

Score (0..1), a weighted sum of four parts, each 0..1:

- **time**: ``0.5 ** (minutes before onset / half-life)``: a change just before the onset
  scores near 1, one a half-life earlier 0.5;
- **service**: 1 when the change touches the first error's service, 0.6 when it touches a
  service linked to it (sharing trace ids around the onset, or declared in ``depends_on``
  as its caller or callee), 0.3 for a change without a service (cluster-wide), else 0;
- **kind**: the weight of the change kind (deploy 1.0, config 0.9, ... scaling 0.3);
- **metrics**: 1 when a metric anomaly of the change's service (any service for a change
  without one) starts within ``metrics_follow`` after the change, else 0.

Changes at or after the onset are never suspects. Rollbacks and scaling after the onset (and
any change of an affected service after it) are listed as candidate mitigations.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from forensics.analysis.parameters import Parameters
from forensics.analysis.signatures import TS, iso
from forensics.bundle.reader import Bundle

_ROLLBACK = re.compile(r"\b(roll(ed|ing)?[\s-]?back|revert(ed|ing)?|undo)\b", re.IGNORECASE)


def trace_neighbours(
    bundle: Bundle,
    errors: pd.DataFrame,
    service: str | None,
    onset: pd.Timestamp,
    params: Parameters,
    *,
    max_traces: int = 2000,
) -> set[str]:
    """Services sharing trace ids with ``service``'s error lines around the onset."""
    if service is None or errors.empty:
        return set()
    span = pd.Timedelta(params.trace_span)
    near = errors[
        (errors["service.name"] == service)
        & (errors[TS] >= onset - span)
        & (errors[TS] < onset + span)
    ]
    ids = [str(t) for t in near["trace.id"].dropna().unique()[:max_traces] if t]
    if not ids:
        return set()
    import pyarrow.compute as pc

    linked = bundle.logs(
        columns=["service.name"],
        since=onset - span,
        until=onset + span,
        where=pc.field("trace.id").isin(ids),
    )
    return {str(s) for s in linked["service.name"].dropna().unique() if s and s != service}


def declared_neighbours(service: str | None, params: Parameters) -> set[str]:
    """Callers and callees of ``service`` declared in ``depends_on``."""
    if service is None:
        return set()
    callees = set(params.depends_on.get(service, []))
    callers = {s for s, deps in params.depends_on.items() if service in deps}
    return callees | callers


def _details(value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _is_rollback(row: pd.Series, earlier: pd.DataFrame) -> bool:
    text = f"{row.get('summary') or ''} {row.get('details') or ''}"
    if _ROLLBACK.search(text):
        return True
    details = _details(row.get("details"))
    target = details.get("to_version")
    if not target or row.get("change.kind") != "deploy":
        return False
    same = earlier[
        (earlier["service.name"] == row.get("service.name"))
        & (earlier["change.kind"] == "deploy")
        & (earlier[TS] < row[TS])
    ]
    return any(_details(d).get("from_version") == target for d in same["details"])


#: Changes of the same kind and service this close in time are one change seen twice.
DUPLICATE_WINDOW = pd.Timedelta(seconds=120)
#: Source types whose records describe a change as made *in version control*; when the same
#: change is also recorded by another source (a deploy event), that record represents it.
VCS_TYPES = frozenset({"git"})


def merge_duplicates(changes: pd.DataFrame, source_types: dict[str, str]) -> pd.DataFrame:
    """One row per real change: rows of the same kind and service within two minutes merge.

    The representative is the record from a non-VCS source when there is one (a deploy
    event rather than the commit behind it), else the earliest; the others are listed in
    ``also_recorded_as`` (their change id or ``source_ref``).
    """
    if changes.empty:
        return changes.assign(also_recorded_as=pd.Series(dtype=object))
    ordered = changes.sort_values(TS, kind="stable").reset_index(drop=True)
    groups: list[list[int]] = []
    open_groups: dict[tuple[str, str], list[int]] = {}
    for position, row in ordered.iterrows():
        key = (str(row["change.kind"]), str(row["service.name"] or ""))
        current = open_groups.get(key)
        if current is not None and row[TS] - ordered.at[current[0], TS] <= DUPLICATE_WINDOW:
            current.append(int(str(position)))
            continue
        fresh = [int(str(position))]
        groups.append(fresh)
        open_groups[key] = fresh
    keep: list[int] = []
    also: list[list[str]] = []
    for members in groups:
        preferred = sorted(
            members,
            key=lambda i: (source_types.get(str(ordered.at[i, "source"]), "") in VCS_TYPES, i),
        )
        keep.append(preferred[0])
        also.append(
            [str(ordered.at[i, "change.id"] or ordered.at[i, "source_ref"]) for i in preferred[1:]]
        )
    merged = ordered.loc[keep].copy()
    merged["also_recorded_as"] = also
    return merged.reset_index(drop=True)


def rank(
    changes: pd.DataFrame,
    *,
    onset: pd.Timestamp | None,
    service: str | None,
    neighbours: set[str],
    anomalies: list[dict[str, Any]],
    affected: set[str],
    params: Parameters,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Suspects (before the onset, best first) and candidate mitigations (after it)."""
    if onset is None or changes.empty:
        return [], []
    changes = changes.sort_values(TS, kind="stable").reset_index(drop=True)
    before = changes[changes[TS] < onset]
    after = changes[changes[TS] >= onset]
    anomaly_onsets = [(a.get("service"), pd.Timestamp(a["onset"]), a["metric"]) for a in anomalies]
    half_life = pd.Timedelta(params.half_life).total_seconds()
    follow = pd.Timedelta(params.metrics_follow)
    suspects: list[dict[str, Any]] = []
    for _, row in before.iterrows():
        when: pd.Timestamp = row[TS]
        minutes = (onset - when).total_seconds() / 60
        time_part = 0.5 ** ((onset - when).total_seconds() / half_life)
        target = row["service.name"] if isinstance(row["service.name"], str) else ""
        if target and target == service:
            service_part, relation = 1.0, f"touches {service}, the first error's service"
        elif target and target in neighbours:
            service_part, relation = 0.6, f"touches {target}, linked to {service}"
        elif not target:
            service_part, relation = 0.3, "cluster-wide (no service)"
        else:
            service_part, relation = 0.0, f"touches {target}, not linked to {service}"
        kind = str(row["change.kind"])
        kind_part = params.kind_weights.get(kind, params.kind_weights.get("other", 0.4))
        moved = [
            (svc, at, metric)
            for svc, at, metric in anomaly_onsets
            if when <= at <= when + follow and (not target or svc == target)
        ]
        metrics_part = 1.0 if moved else 0.0
        score = (
            params.weight_time * time_part
            + params.weight_service * service_part
            + params.weight_kind * kind_part
            + params.weight_metrics * metrics_part
        )
        moved_text = (
            f"; {moved[0][2]} of {moved[0][0] or 'a service'} departed "
            f"{(moved[0][1] - when).total_seconds() / 60:.0f} min after it"
            if moved
            else "; no metric departed right after it"
        )
        suspects.append(
            {
                "change_id": _opt(row["change.id"]),
                "timestamp": iso(when),
                "kind": kind,
                "service": target or None,
                "summary": _opt(row["summary"]),
                "score": round(score, 4),
                "score_parts": {
                    "time": round(time_part, 4),
                    "service": service_part,
                    "kind": kind_part,
                    "metrics": metrics_part,
                },
                "minutes_before_onset": round(minutes, 2),
                "explanation": (
                    f"{kind} {minutes:.0f} min before the onset; {relation}{moved_text}"
                ),
                "source_ref": _opt(row["source_ref"]),
                "also_recorded_as": list(row.get("also_recorded_as") or []),
            }
        )
    suspects.sort(key=lambda s: (-s["score"], -pd.Timestamp(s["timestamp"]).value))
    for position, suspect in enumerate(suspects, start=1):
        suspect["rank"] = position
    mitigations: list[dict[str, Any]] = []
    for _, row in after.iterrows():
        target = row["service.name"] if isinstance(row["service.name"], str) else ""
        kind = str(row["change.kind"])
        if _is_rollback(row, changes):
            reason = "rollback"
        elif kind == "scaling":
            reason = "scaling"
        elif target and target in affected:
            reason = "change of an affected service"
        else:
            continue
        minutes = (row[TS] - onset).total_seconds() / 60
        mitigations.append(
            {
                "change_id": _opt(row["change.id"]),
                "timestamp": iso(row[TS]),
                "kind": kind,
                "service": target or None,
                "reason": reason,
                "summary": _opt(row["summary"]),
                "explanation": f"{reason} {minutes:.0f} min after the onset: not a cause",
                "source_ref": _opt(row["source_ref"]),
                "also_recorded_as": list(row.get("also_recorded_as") or []),
            }
        )
    return suspects, mitigations


def _opt(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)
