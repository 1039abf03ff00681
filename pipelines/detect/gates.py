"""Surge gate: the minimum excess of posts a count series' point needs to raise an anomaly.

Why: on a near-silent series the robust statistics see any burst as many sigmas (the
median of a silent keyword's 5-minute buckets is 0, so five tweets in five minutes is
``z = 4.5``). The CrisisLexT26 onsets (issue 12) showed what that costs: bursts of 8-9
tweets in an hour on near-silent collections (Philippine floods, Australian bushfires) a
day before their event raised alarms. A journalist would not call nine tweets in an hour
news either, so a point of a count series raises nothing unless the posts of its
**trailing hour** (the bucket and those before it within an hour; on hourly rollups the
bucket itself) exceed what the baseline expects over that hour by ``min_hour_excess``.

The rule is in posts, not sigmas, and causal (the hour ends at the point). A gated point
scores 0 before the quiet period, so it starts no quiet period: the next point that
passes can still raise the alarm. Mean-score series are not gated here (a mean is not a
number of posts; their minimum posts rule is the service's).

Tried and rejected (docs/detection.md): a "beat the busiest hour of the last 1 or 7 days"
rule (misses slow-building events: 14-16/18 detected), and carrying the hour's best score
to the point where the gate passes (needs a higher minimum for the same alarms).
"""

from __future__ import annotations

import numpy as np

from pipelines.detect.defaults import DetectConfig


def hour_sums(values: np.ndarray, step_s: int) -> np.ndarray:
    """Sum of each point and the points before it within one hour (NaN counted as 0).

    On hourly (or coarser) buckets that is the point itself.
    """
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    k = DetectConfig.points(1.0, step_s)
    if k <= 1 or len(v) == 0:
        return v
    c = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(1, len(v) + 1)
    return c[i] - c[np.maximum(0, i - k)]


def surge_gate(values: np.ndarray, expected: np.ndarray, step_s: int, min_hour_excess: float) -> np.ndarray:
    """``True`` where a count series' point may raise an anomaly.

    Parameters
    ----------
    values:
        Posts per bucket (NaN = missing, counted as 0).
    expected:
        The baseline's expected posts per bucket (original scale; NaN counted as 0,
        negative as 0).
    step_s:
        Bucket width in seconds.
    min_hour_excess:
        Posts the trailing hour must hold above its expectation (0: every point passes).
    """
    v = np.asarray(values, dtype=float)
    if min_hour_excess <= 0:
        return np.ones(len(v), dtype=bool)
    e = np.clip(np.nan_to_num(np.asarray(expected, dtype=float), nan=0.0), 0, None)
    return hour_sums(v, step_s) - hour_sums(e, step_s) >= min_hour_excess
