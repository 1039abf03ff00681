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

**Scale-relative forms** (issue 12, third step). ``min_hour_excess`` is a number of posts,
so it bites on a small series and not on a big one: on NAB Twitter a sensitive record
floor chosen on gated small files then misfires on an ungated big one (FB). Two optional
terms raise the minimum with the series' own expected level, each tested on the bucket
against the bucket's expectation and on the hour against the hour's:

* ``gate_ratio`` b: the excess must also reach b x the expectation (the hour holds at
  least 1 + b times what it usually does);
* ``gate_alpha`` a: the count must also be improbable for a Poisson count with the
  expectation as its mean, ``P(X >= count) <= a`` (posts arrive roughly as a Poisson
  process; a busy series needs more excess for the same surprise).

The required excess is the largest of the active terms; 0 turns a term off. Which form
production uses is chosen by the joint rule of :mod:`pipelines.detect.joint_gate`
(candidate set v2): the absolute 20 with both terms off. Measured, the terms change no
figure on either corpus: every NAB Twitter alarm is already at least twice its expectation
and far out in the Poisson tail, and the onsets' early bursts sit on an expectation near 0,
where the absolute minimum decides (docs/detection.md, "candidate set v2").

Tried and rejected (docs/detection.md): "beat the busiest hour of the last 1 or 7 days" as a
rule for every point (misses slow-building events: 16-17/18 detected as collected at a ratio
of 1, fewer above), and carrying the
hour's best score to the point where the gate passes (needs a higher minimum for the same
alarms).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.stats import poisson

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


def active(config: DetectConfig) -> bool:
    """Whether the gate does anything under ``config`` (any of its terms on)."""
    return config.min_hour_excess > 0 or config.gate_ratio > 0 or config.gate_alpha > 0


def required_excess(expected: np.ndarray, config: DetectConfig) -> np.ndarray:
    """Posts above ``expected`` a bucket or hour needs to pass (the largest active term).

    ``expected`` is the baseline's expected posts over the same span (bucket or hour).
    The Poisson term is the smallest count ``k`` with ``P(X >= k) <= gate_alpha`` for a
    Poisson ``X`` of mean ``expected``, less the expectation.
    """
    e = np.asarray(expected, dtype=float)
    need = np.full(len(e), float(config.min_hour_excess))
    if config.gate_ratio > 0:
        need = np.maximum(need, config.gate_ratio * e)
    if config.gate_alpha > 0:
        # isf(alpha) is the smallest k with P(X > k) <= alpha, so k + 1 is the smallest count.
        crit = poisson.isf(config.gate_alpha, np.maximum(e, 1e-9)) + 1.0
        need = np.maximum(need, crit - e)
    return need


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
        ``min_hour_excess``, ``gate_ratio``, ``gate_alpha`` (all 0: every point passes)
        and ``small_beat_days`` (0: a small hour never passes).
    """
    v = np.asarray(values, dtype=float)
    if not active(config):
        return np.ones(len(v), dtype=bool)
    e = np.clip(np.nan_to_num(np.asarray(expected, dtype=float), nan=0.0), 0, None)
    h = hour_sums(v, step_s)
    he = hour_sums(e, step_s)
    # The bucket alone or its hour: on a busy series a spike of one bucket can sit in an
    # hour whose other buckets are below expectation.
    vb = np.nan_to_num(v, nan=0.0)
    ok = (vb - e >= required_excess(e, config)) | (h - he >= required_excess(he, config))
    if config.small_beat_days > 0:
        ok |= h > past_hour_max(h, step_s, config.small_beat_days)
    return ok
