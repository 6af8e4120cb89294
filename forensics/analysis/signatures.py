"""Error signatures of a bundle: which error templates occur, where, when, and how often.

Only error rows are read (the level filter runs inside the Parquet scan, with a column
projection), then messages are grouped into templates by
:func:`forensics.analysis.templates.mine_templates`. Each signature is classified against
the baseline:

- ``new``: no occurrence in the baseline, at least ``new_min_count`` occurrences, and the
  first-occurrence test (:func:`~forensics.analysis.changepoint.first_occurrence_p`) below
  ``new_alpha``;
- ``jumped``: its best rate change point (baseline included before it) has a rate ratio of at
  least ``jump_factor``, a log-likelihood ratio of at least ``jump_min_llr`` and at least
  ``jump_min_count`` occurrences after it;
- ``steady`` otherwise.

New and jumped signatures make up the incident; their earliest occurrence is the onset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from forensics.analysis.changepoint import first_occurrence_p, rate_increase
from forensics.analysis.parameters import Parameters
from forensics.analysis.templates import mine_templates
from forensics.bundle.reader import Bundle
from forensics.bundle.schema import LOGS_SCHEMA

TS = "@timestamp"
ERROR_COLUMNS = [
    TS,
    "service.name",
    "host.name",
    "log.level",
    "message",
    "error.type",
    "trace.id",
    "source",
    "source_ref",
]


def error_filter(levels: tuple[str, ...]) -> pc.Expression:
    """Rows at an error level, or without a level but with an ``error.type``."""
    level = pc.field("log.level")
    return level.isin(list(levels)) | (level.is_null() & pc.field("error.type").is_valid())


def order_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort by time, then source and position in the source (``file:line`` numerically)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    ref = frame["source_ref"].fillna("").astype(str)
    parts = ref.str.rpartition(":")
    line = pd.to_numeric(parts[2], errors="coerce")
    keyed = frame.assign(
        _ref_head=parts[0].where(line.notna(), ref),
        _ref_line=line.fillna(-1),
    )
    keyed = keyed.sort_values(
        [TS, "source", "_ref_head", "_ref_line"], kind="stable", na_position="last"
    )
    return keyed.drop(columns=["_ref_head", "_ref_line"]).reset_index(drop=True)


def load_errors(
    bundle: Bundle,
    levels: tuple[str, ...],
    *,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Error rows of a bundle (only the columns the analysis needs), in order."""
    frame = bundle.logs(columns=ERROR_COLUMNS, since=since, until=until, where=error_filter(levels))
    frame["message"] = frame["message"].fillna(frame["error.type"]).fillna("")
    return order_rows(frame)


def empty_errors() -> pd.DataFrame:
    """An error frame with no rows (the columns of :func:`load_errors`)."""
    return cast(pd.DataFrame, LOGS_SCHEMA.empty_table().select(ERROR_COLUMNS).to_pandas())


@dataclass(frozen=True)
class Periods:
    """The analysed period and the baseline it is compared with (see docs/analysis.md)."""

    start: pd.Timestamp
    end: pd.Timestamp
    mode: str  # baseline-bundle | before-window | early-window | none
    baseline_start: pd.Timestamp | None
    baseline_end: pd.Timestamp | None
    #: Duration of a baseline observed outside the analysed period (0 for early-window).
    baseline_seconds: float

    def seconds(self, moments: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Seconds since ``start`` for a Series of timestamps."""
        delta = (moments - self.start).dt.total_seconds()
        return np.asarray(delta.to_numpy(dtype=np.float64), dtype=np.float64)

    @property
    def span(self) -> float:
        """Seconds in the analysed period."""
        return float((self.end - self.start).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""

        def iso(value: pd.Timestamp | None) -> str | None:
            return None if value is None else value.isoformat().replace("+00:00", "Z")

        return {
            "mode": self.mode,
            "analysed": {"since": iso(self.start), "until": iso(self.end)},
            "baseline": {"since": iso(self.baseline_start), "until": iso(self.baseline_end)},
            "baseline_seconds_outside_window": self.baseline_seconds,
        }


def attach_templates(errors: pd.DataFrame, baseline: pd.DataFrame) -> None:
    """Add ``template`` and ``signature`` to both frames, mined together (same templates)."""
    both = pd.concat([errors["message"], baseline["message"]], ignore_index=True).astype(str)
    mined = mine_templates(both)
    n = len(errors)
    for frame, part in ((errors, mined.iloc[:n]), (baseline, mined.iloc[n:])):
        frame["template"] = part["template"].to_numpy()
        frame["signature"] = part["signature"].to_numpy()


def classify(
    errors: pd.DataFrame, baseline: pd.DataFrame, periods: Periods, params: Parameters
) -> pd.DataFrame:
    """One row per signature: counts, first/last seen, baseline presence, status, onset row.

    ``errors`` holds the error rows of the analysed period (ordered, with ``signature``);
    ``baseline`` those of an external baseline (may be empty). In early-window mode the
    baseline is the first part of ``errors`` itself.
    """
    columns = [
        "signature",
        "template",
        "count",
        "first_seen",
        "last_seen",
        "first_row",
        "baseline_count",
        "present_in_baseline",
        "status",
        "onset_row",
        "onset_time",
        "p_new",
        "llr",
        "rate_ratio",
    ]
    if errors.empty:
        return pd.DataFrame(columns=columns)
    seconds = periods.seconds(errors[TS])
    base_counts = (
        baseline.groupby("signature").size() if not baseline.empty else pd.Series(dtype="int64")
    )
    early_end = periods.baseline_end if periods.mode == "early-window" else None
    records: list[dict[str, Any]] = []
    for signature, positions in errors.groupby("signature", sort=False).indices.items():
        rows = np.sort(positions)  # errors are ordered, so row order is time order
        times = seconds[rows]
        first_row = int(rows[0])
        first_seen = _cell(errors, first_row, TS)
        count = len(rows)
        external = int(base_counts.get(signature, 0))
        present = external > 0 or bool(early_end is not None and first_seen < early_end)
        p_new = first_occurrence_p(
            float(times[0]),
            count,
            start=0.0,
            end=periods.span,
            baseline_seconds=periods.baseline_seconds,
        )
        point = rate_increase(
            times,
            start=0.0,
            end=periods.span,
            baseline_count=external,
            baseline_seconds=periods.baseline_seconds,
        )
        status, onset_row = "steady", None
        if external == 0 and count >= params.new_min_count and p_new < params.new_alpha:
            status, onset_row = "new", first_row
        elif (
            point is not None
            and point.ratio >= params.jump_factor
            and point.llr >= params.jump_min_llr
            and point.count_after >= params.jump_min_count
        ):
            status, onset_row = "jumped", int(rows[point.index])
        records.append(
            {
                "signature": signature,
                "template": _cell(errors, first_row, "template"),
                "count": count,
                "first_seen": first_seen,
                "last_seen": _cell(errors, int(rows[-1]), TS),
                "first_row": first_row,
                "baseline_count": external,
                "present_in_baseline": present,
                "status": status,
                "onset_row": onset_row,
                "onset_time": None if onset_row is None else _cell(errors, onset_row, TS),
                "p_new": p_new,
                "llr": None if point is None else point.llr,
                "rate_ratio": None if point is None else point.ratio,
            }
        )
    table = pd.DataFrame.from_records(records, columns=columns)
    rank = table["status"].map({"new": 0, "jumped": 1, "steady": 2})
    return (
        table.assign(_rank=rank)
        .sort_values(["_rank", "first_seen", "count"], ascending=[True, True, False])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def per_minute(moments: pd.Series) -> dict[str, int]:
    """Counts per UTC minute, ``{"2026-11-20T10:06Z": 3}`` (minutes with none left out)."""
    if moments.empty:
        return {}
    counts = moments.dt.floor("min").value_counts().sort_index()
    return {m.strftime("%Y-%m-%dT%H:%MZ"): int(c) for m, c in counts.items()}


def describe(table: pd.DataFrame, errors: pd.DataFrame, params: Parameters) -> list[dict[str, Any]]:
    """The signatures as JSON-ready records (at most ``max_signatures``)."""
    out: list[dict[str, Any]] = []
    groups = errors.groupby("signature", sort=False).indices
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()}
        for r in table.head(params.max_signatures).to_dict("records")
    ]
    for rec in records:
        rows = np.sort(groups[rec["signature"]])
        part = errors.iloc[rows]
        samples = part.head(params.samples)
        out.append(
            {
                "signature": rec["signature"],
                "template": rec["template"],
                "status": rec["status"],
                "services": sorted(str(s) for s in part["service.name"].dropna().unique()),
                "first_seen": iso(rec["first_seen"]),
                "last_seen": iso(rec["last_seen"]),
                "onset": None if pd.isna(rec["onset_time"]) else iso(rec["onset_time"]),
                "count": int(rec["count"]),
                "baseline_count": int(rec["baseline_count"]),
                "present_in_baseline": bool(rec["present_in_baseline"]),
                "p_new": float(rec["p_new"]),
                "llr": None
                if rec["llr"] is None or pd.isna(rec["llr"])
                else round(float(rec["llr"]), 3),
                "rate_per_minute": per_minute(part[TS]),
                "samples": [
                    {
                        "timestamp": iso(s[TS]),
                        "service": _str(s["service.name"]),
                        "message": _str(s["message"]),
                        "source_ref": _str(s["source_ref"]),
                    }
                    for _, s in samples.iterrows()
                ],
            }
        )
    return out


def iso(value: Any) -> str:
    """ISO-8601 UTC with ``Z`` and microseconds when present."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _cell(frame: pd.DataFrame, row: int, column: str) -> Any:
    return frame[column].iloc[row]


def _str(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
