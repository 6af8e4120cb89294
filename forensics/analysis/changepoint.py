"""Rate tests on event times: "new" (first-occurrence test) and "jumped" (change point).

Both treat the occurrences of one signature (or of one service's errors) as a Poisson
process and compare the time before a point with the time after it. Times are seconds
(floats); the observed period is ``[start, end)``; a baseline observed separately adds
``baseline_count`` events over ``baseline_seconds`` before ``start``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def first_occurrence_p(
    first: float, count: int, *, start: float, end: float, baseline_seconds: float
) -> float:
    """Chance that ``count`` events at an unchanged rate all fall after ``first``.

    With no occurrence in the baseline nor in the window before ``first``, the probability
    that ``count`` events spread uniformly over the whole observed time (baseline plus
    window) all land in ``[first, end)`` is ``(after / total) ** count``. A small value
    means the signature is new rather than a rare regular.
    """
    total = baseline_seconds + (end - start)
    after = max(end - first, 0.0)
    if total <= 0 or count <= 0:
        return 1.0
    return float((after / total) ** count)


@dataclass(frozen=True)
class ChangePoint:
    """The best rate increase found in a series of event times."""

    index: int  # position (in the sorted times) of the first event after the change
    time: float
    llr: float  # log-likelihood ratio of two rates against one
    rate_before: float  # events per second, baseline included, +1 smoothed
    rate_after: float
    count_after: int

    @property
    def ratio(self) -> float:
        """Rate after / rate before."""
        return self.rate_after / self.rate_before if self.rate_before > 0 else float("inf")


def _xlogy(x: FloatArray, y: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 0, x * np.log(np.where(y > 0, x / np.where(y > 0, y, 1.0), 1.0)), 0.0)
    return np.asarray(out, dtype=np.float64)


def rate_increase(
    times: FloatArray,
    *,
    start: float,
    end: float,
    baseline_count: int = 0,
    baseline_seconds: float = 0.0,
    min_before: float = 0.05,
) -> ChangePoint | None:
    """The single change point that best explains the events by a rate increase.

    For each candidate split at an event time ``t_i`` (events ``i..n-1`` after it), the
    log-likelihood ratio of "rate a before, rate b after" against "one rate" is
    ``c_b log(c_b/d_b) + c_a log(c_a/d_a) - N log(N/D)`` (counts ``c``, durations ``d``,
    baseline included before). Candidates whose before-part is shorter than ``min_before``
    of the total observed time are ignored (no evidence of a change there). Returns the
    candidate with the highest ratio among rate increases, or None.
    """
    n = len(times)
    if n == 0 or end <= start:
        return None
    t = np.sort(np.asarray(times, dtype=np.float64))
    total_time = baseline_seconds + (end - start)
    total_count = baseline_count + n
    idx = np.arange(n, dtype=np.float64)
    d_before = baseline_seconds + (t - start)
    d_after = end - t
    c_before = baseline_count + idx
    c_after = n - idx
    llr = (
        _xlogy(c_before, d_before)
        + _xlogy(c_after, d_after)
        - total_count * np.log(total_count / total_time)
    )
    rate_before = (c_before + 1.0) / np.maximum(d_before, 1e-9)
    rate_after = c_after / np.maximum(d_after, 1e-9)
    valid = (d_before >= min_before * total_time) & (rate_after > rate_before) & (d_after > 0)
    # A split only makes sense at the first of equal times.
    valid &= np.concatenate(([True], t[1:] > t[:-1]))
    if not valid.any():
        return None
    scores = np.where(valid, llr, -np.inf)
    best = int(np.argmax(scores))
    return ChangePoint(
        index=best,
        time=float(t[best]),
        llr=float(llr[best]),
        rate_before=float(rate_before[best]),
        rate_after=float(rate_after[best]),
        count_after=int(c_after[best]),
    )
