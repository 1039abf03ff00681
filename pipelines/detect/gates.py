"""Surge gates: count rules a point must pass, besides its score, to raise an anomaly.

Why: on a near-silent series the robust statistics see any burst as many sigmas (the
median of a silent keyword's 5-minute buckets is 0, so five tweets in five minutes is
``z = 4.5``). The CrisisLexT26 onsets (issue 12) showed what that costs: bursts of 8-9
tweets in an hour on near-silent collections a day before their event, and Typhoon
Yolanda's pre-landfall chatter, raised alarms before the surge. A journalist would not
call those news either, so two rules, both in posts (not sigmas) and both causal:

* **minimum excess in the hour** (``min_hour_excess``): the posts of the trailing hour
  (the bucket and those before it within an hour; on hourly rollups the bucket itself)
  must exceed what the baseline expects over that hour by at least this many;
* **beat the recent maximum** (``beat_ratio`` over ``beat_days``): those posts must
  exceed ``beat_ratio`` times the busiest earlier hour of the previous ``beat_days``
  (hours ending before the current one starts, so the current burst never raises its
  own bar).

Both apply to count series only (a mean score is not a number of posts). A gated
point scores 0 before the quiet period, so it starts no quiet period either: the next
point that passes can still raise the alarm.
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
    out = maximum_filter1d(padded, size=width, origin=-(width // 2), mode="nearest")
    return out[:n]


def surge_gate(values: np.ndarray, expected: np.ndarray, step_s: int, config: DetectConfig) -> np.ndarray:
    """``True`` where a point of a count series may raise an anomaly (both rules pass).

    Parameters
    ----------
    values:
        Posts per bucket (NaN = missing, counted as 0).
    expected:
        The baseline's expected posts per bucket (original scale; NaN counted as 0).
    step_s:
        Bucket width in seconds.
    config:
        ``min_hour_excess``, ``beat_ratio`` and ``beat_days`` (0 turns a rule off).
    """
    v = np.asarray(values, dtype=float)
    ok = np.ones(len(v), dtype=bool)
    if config.min_hour_excess <= 0 and config.beat_ratio <= 0:
        return ok
    h = hour_sums(v, step_s)
    if config.min_hour_excess > 0:
        e = hour_sums(np.clip(np.nan_to_num(expected, nan=0.0), 0, None), step_s)
        ok &= h - e >= config.min_hour_excess
    if config.beat_ratio > 0 and config.beat_days > 0:
        ok &= h > config.beat_ratio * past_hour_max(h, step_s, config.beat_days)
    return ok


def active(config: DetectConfig) -> bool:
    """Whether any gate is on (off by default in :class:`DetectConfig`)."""
    return config.min_hour_excess > 0 or (config.beat_ratio > 0 and config.beat_days > 0)


def confirm(scores: np.ndarray, gate: np.ndarray, step_s: int) -> np.ndarray:
    """Scores where the gate passes, carrying the best score of the trailing hour.

    A surge often starts with one busy bucket whose posts are too few on their own; the
    gate passes minutes later, when the hour has gathered enough. The alarm is then
    raised at that point with the trigger's score (the largest of the trailing hour,
    this point included), so gating delays an alarm instead of dropping it. On hourly
    buckets this is the point's own score.
    """
    r = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)
    k = DetectConfig.points(1.0, step_s)
    if k > 1 and len(r):
        padded = np.concatenate([np.full(k - 1, 0.0), r])
        # origin -(k // 2): output m is the max of padded[m : m + k] = r[m - k + 1 .. m].
        r = maximum_filter1d(padded, size=k, origin=-(k // 2), mode="nearest")[: len(r)]
    return np.where(gate, r, 0.0)
