"""Anomaly likelihood: is the recent novelty unusual *for this series*?

Why: the sequence novelty of :mod:`pipelines.detect.context` is a share of surprised
contexts. Some series are "a bit novel" all the time (noisy machine metrics whose fine
contexts keep failing), others almost never; one threshold on the raw share then raises
too much on the first kind and too little on the second. Numenta's *anomaly likelihood*
(S. Ahmad, A. Lavin, S. Purdy, Z. Agha, "Unsupervised real-time anomaly detection for
streaming data", Neurocomputing 262, 2017, section 4.2; the step that takes HTM's raw
prediction errors to its NAB score) rescales a raw score by the series' own history:

1. ``a_t``: the mean of the raw score over a short trailing window (``W'`` points; the
   paper uses 10), so a sustained change outranks a one-point blip;
2. ``mu_t``, ``sigma_t``: mean and standard deviation of ``a`` over a long trailing window
   (``W``; the paper 8,640 points, 30 days of 5-minute data), floored as in Numenta's
   implementation notes (mean >= 0.03, variance >= 0.0003) so a series that was never
   novel does not turn the slightest blip into certainty;
3. likelihood ``L_t = 1 - Q((a_t - mu_t) / sigma_t)`` (``Q``: the Gaussian tail);
4. the score is its log form, ``log(Q + 1e-10) / log(1e-10)`` in 0..1 (0.5 at ``Q = 1e-5``),
   the scale NAB thresholds HTM on: the interesting range 0.999-0.99999 is spread out.

Our own code from the paper's description (no code copied). The long-window statistics
use the points strictly *before* ``t`` (the current point is judged against the past, not
against itself); everything is trailing, so a prefix scores the same
(``tests/detect/test_likelihood.py``). The first ``skip`` points (the novelty's warm-up,
where it is 0 by construction) are left out of the statistics, and nothing scores until
``min_points`` averaged values have been seen (Numenta waits for its learning period and
an estimation sample too). NaN raw scores count as 0 novelty (a missing point is not
surprising).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

MEAN_FLOOR = 0.03
"""Lower bound of the long-window mean (Numenta's implementation)."""

VAR_FLOOR = 0.0003
"""Lower bound of the long-window variance (Numenta's implementation)."""

EPS = 1e-10
"""``log(Q + EPS) / log(EPS)``: the score is 1 at ``Q <= 1e-10`` (Numenta's log-likelihood)."""

MIN_POINTS = 100
"""Averaged values seen before the statistics are trusted (Numenta's estimation sample)."""


def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of the last ``min(k, t + 1)`` values at each ``t``."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(i - k, 0)
    return (c[i] - c[lo]) / (i - lo)


def likelihood_score(
    score: np.ndarray,
    short: int,
    long: int,
    *,
    skip: int = 0,
    min_points: int = MIN_POINTS,
) -> np.ndarray:
    """Log anomaly likelihood (0..1) of every point of a raw score (see the module docstring).

    Parameters
    ----------
    score:
        Raw novelty per point (0..1; NaN = not scored, counted as 0).
    short:
        Points averaged into ``a_t`` (at least 1).
    long:
        Points of ``a`` (before ``t``) whose mean and variance judge ``a_t``.
    skip:
        Leading points left out of the statistics and scored 0 (the raw score's warm-up).
    min_points:
        Averaged values (after ``skip``) needed before anything scores.
    """
    x = np.nan_to_num(np.asarray(score, dtype=float), nan=0.0)
    n = len(x)
    out = np.zeros(n)
    skip = max(0, min(int(skip), n))
    if n - skip < 2:
        return out
    a = _trailing_mean(x[skip:], max(1, int(short)))
    m = len(a)
    c1 = np.concatenate([[0.0], np.cumsum(a)])
    c2 = np.concatenate([[0.0], np.cumsum(a * a)])
    t = np.arange(m)
    lo = np.maximum(t - max(1, int(long)), 0)
    cnt = t - lo  # values strictly before t
    ok = cnt >= max(2, int(min_points))
    safe = np.maximum(cnt, 1)
    mu = (c1[t] - c1[lo]) / safe
    var = (c2[t] - c2[lo]) / safe - mu * mu
    mu = np.maximum(mu, MEAN_FLOOR)
    var = np.maximum(var, VAR_FLOOR)
    z = (a - mu) / np.sqrt(var)
    log_q = log_ndtr(-z)  # log of the Gaussian tail, exact far out
    q = np.exp(log_q)
    s = np.log(q + EPS) / np.log(EPS)
    out[skip:] = np.where(ok, np.clip(s, 0.0, 1.0), 0.0)
    return out
