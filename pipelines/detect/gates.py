"""Surge gate: the minimum excess of posts a count series' point needs to raise an anomaly.

Why: on a near-silent series the robust statistics see any burst as many sigmas (the
median of a silent keyword's 5-minute buckets is 0, so five tweets in five minutes is
``z = 4.5``). The CrisisLexT26 onsets (issue 12) showed what that costs: bursts of 8-9
tweets in an hour on near-silent collections (Philippine floods, Australian bushfires) a
day before their event raised alarms. A journalist would not call nine tweets in an hour
news either, so a point of a count series raises nothing unless the posts of its
**trailing hour** (the bucket and those before it within an hour; on hourly rollups the
bucket itself) exceed what the baseline expects over that hour by ``min_hour_excess``.

A point below that minimum still passes when its hour is the busiest of the previous
``small_beat_days`` (a small place or source that has never been this busy; the two early
bursts were not: each collection had had an hour at least as busy within the week). The bucket alone may also
carry the excess: on a busy series one spiking bucket can sit in an hour whose other
buckets are below expectation.

The rules are in posts, not sigmas, and causal (the hour ends at the point). A gated point
scores 0 before the quiet period, so it starts no quiet period: the next point that
passes can still raise the alarm. Mean-score series are not gated here (a mean is not a
number of posts; their minimum posts rule is the service's).

Tried and rejected (docs/detection.md): "beat the busiest hour of the last 1 or 7 days" as a
rule for every point (misses slow-building events: 16-17/18 detected as collected at a ratio
of 1, fewer above), and carrying the
hour's best score to the point where the gate passes (needs a higher minimum for the same
alarms).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

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


def past_hour_max(hours: np.ndarray, step_s: int, days: float) -> np.ndarray:
    """Largest earlier hour sum whose hour ends before the current hour starts, over ``days``.

    ``hours`` is :func:`hour_sums`; for point ``i`` the maximum of ``hours[j]`` for
    ``i - days <= j <= i - k`` (``k`` points in an hour); 0 where there is none.
    """
    h = np.asarray(hours, dtype=float)
    n = len(h)
    k = DetectConfig.points(1.0, step_s)
    span = DetectConfig.points(days * 24.0, step_s)
    width = span - k + 1
    if n == 0 or width <= 0:
        return np.zeros(n)
    # shifted[i] = h[i - k]; the max over shifted[i - width + 1 .. i] = h[i - span .. i - k].
    shifted = np.concatenate([np.zeros(k), h])[:n]
    padded = np.concatenate([np.zeros(width - 1), shifted])
    # origin -(width // 2) makes output m the max of padded[m : m + width].
    return maximum_filter1d(padded, size=width, origin=-(width // 2), mode="nearest")[:n]


def surge_gate(values: np.ndarray, expected: np.ndarray, step_s: int, config: DetectConfig) -> np.ndarray:
    """``True`` where a count series' point may raise an anomaly.

    Parameters
    ----------
    values:
        Posts per bucket (NaN = missing, counted as 0).
    expected:
        The baseline's expected posts per bucket (original scale; NaN and negative
        values counted as 0).
    step_s:
        Bucket width in seconds.
    config:
        ``min_hour_excess`` (0: every point passes) and ``small_beat_days`` (0: a
        small hour never passes).
    """
    v = np.asarray(values, dtype=float)
    if config.min_hour_excess <= 0:
        return np.ones(len(v), dtype=bool)
    e = np.clip(np.nan_to_num(np.asarray(expected, dtype=float), nan=0.0), 0, None)
    h = hour_sums(v, step_s)
    # The bucket alone or its hour: on a busy series a spike of one bucket can sit in an
    # hour whose other buckets are below expectation.
    excess = np.maximum(np.nan_to_num(v, nan=0.0) - e, h - hour_sums(e, step_s))
    ok = excess >= config.min_hour_excess
    if config.small_beat_days > 0:
        ok |= h > past_hour_max(h, step_s, config.small_beat_days)
    return ok
