"""The parameters of an analysis, with their defaults and meaning.

Every number the analysis uses to decide something lives here, is recorded in
``analysis.json`` under ``parameters``, and is explained in ``docs/analysis.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

#: Log levels (lower-case, as the bundle stores them) that count as errors.
ERROR_LEVELS: tuple[str, ...] = (
    "error",
    "fatal",
    "critical",
    "crit",
    "alert",
    "emerg",
    "emergency",
    "severe",
    "panic",
)

#: How much each change kind weighs as a likely cause (0..1).
KIND_WEIGHTS: dict[str, float] = {
    "deploy": 1.0,
    "config": 0.9,
    "feature_flag": 0.8,
    "dependency": 0.7,
    "infra": 0.6,
    "dns": 0.6,
    "certificate": 0.5,
    "other": 0.4,
    "scaling": 0.3,
}


@dataclass(frozen=True)
class Parameters:
    """Everything tunable in the analysis (see docs/analysis.md for each definition)."""

    #: Levels that make a log line an error. A line without a level counts as an error when
    #: it carries an ``error.type``.
    error_levels: tuple[str, ...] = ERROR_LEVELS
    #: Baseline length before the window start (``--baseline``), used when the bundle holds
    #: data from before its window; otherwise the baseline is the bundle's own early part.
    baseline: timedelta = timedelta(hours=2)
    #: Self-baseline: share of the window (from its start) that serves as the baseline for
    #: metrics and for ``present_in_baseline`` when no earlier data or baseline bundle exists.
    baseline_fraction: float = 0.25
    #: A signature is *new* when it has no occurrence in the baseline, at least this many
    #: occurrences, and ...
    new_min_count: int = 3
    #: ... the chance of seeing all of them after its first occurrence (with none in the
    #: baseline and none earlier in the window), at an unchanged rate, is below this.
    new_alpha: float = 1e-3
    #: A signature's rate *jumped* when, at its best change point, the rate after is at least
    #: this many times the rate before (baseline included) ...
    jump_factor: float = 3.0
    #: ... the log-likelihood ratio of the change point is at least this ...
    jump_min_llr: float = 10.0
    #: ... and at least this many occurrences follow the change point.
    jump_min_count: int = 5
    #: Change correlation: half-life of the time-before-onset score.
    half_life: timedelta = timedelta(hours=1)
    #: Score weights: time, service relation, change kind, metrics moved after the change.
    weight_time: float = 0.35
    weight_service: float = 0.35
    weight_kind: float = 0.15
    weight_metrics: float = 0.15
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(KIND_WEIGHTS))
    #: A metric "moved right after" a change when an anomaly on the change's service (or any
    #: service for a change without one) starts within this time after the change.
    metrics_follow: timedelta = timedelta(minutes=30)
    #: Time around the onset in which trace ids link the first error's service to others.
    trace_span: timedelta = timedelta(minutes=15)
    #: Declared call graph: ``{"web": ["checkout"]}`` means web calls checkout.
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    #: Metric anomaly: robust z-score threshold (median / 1.4826 MAD of the baseline) ...
    metric_z: float = 4.0
    #: ... held for at least this many consecutive points.
    metric_min_points: int = 2
    #: Floor of the robust scale, as a share of the baseline median (flat series).
    metric_rel_floor: float = 0.05
    #: Checklist: history of deploys looked at before the onset.
    deploy_history: timedelta = timedelta(hours=24)
    #: Signatures kept in analysis.json (incident signatures first, then by count).
    max_signatures: int = 50
    #: Sample lines kept per signature.
    samples: int = 3
    #: Evidence rows kept per checklist item.
    max_evidence: int = 20

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (durations in seconds)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, timedelta):
                out[key] = value.total_seconds()
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out
