"""Sequence novelty: how much of what a series does now its own past did not predict.

Why: NAB's non-social series (machine temperatures, CPU, taxi demand, travel times) label
*changes of behaviour*: a pattern that goes flat, a cycle that changes shape, all within
the range the series already had. The robust point statistics (:mod:`.online`) cannot see
them, since no single value is extreme (docs/detection.md, "Quality, measured"). Detectors
that do well there model *sequences*: Numenta's HTM (prediction error of the next value),
CAD OSE (Contextual Anomaly Detector, M. Smirnov, https://github.com/smirmik/CAD, run in
NAB as ``nab/detectors/context_ose``: values quantised into a few bits, the recent window of
those "facts" learned online as contexts, anomaly = share of the current facts the active
contexts did not predict), ARTime (adaptive resonance over windows of quantised values:
novelty when a window founds a new category). This module is our own implementation of
that idea, written from those descriptions (no code copied), pure Python/numpy:

1. **Symbols.** Values are quantised into bins of width 1/``bins`` of the range of the
   warm-up points (NAB's probationary period: the first 15 % of a file; in
   production ``context_warm_hours``). Bins are not clipped: a value beyond the warm-up
   range gets its own new symbol, which is itself a novelty. Options measured for issue 12
   (docs/detection.md, "Issue 12, point 2"): bins holding equal *shares* of the warm-up
   (``edges="quantile"``), a trimmed range (``trim``), and bins and memory renewed from the
   latest warm-up length every ``refresh`` warm-ups.
2. **Facts at several resolutions** (CAD's bits): the symbol, and the symbol halved
   ``levels - 1`` times (``s >> j``), so a move to a far bin breaks predictions at every
   resolution and a one-bin wobble only at the finest.
3. **Contexts of several lengths** (CAD's semi-contexts up to 7 facts long): for each
   resolution ``j`` and order ``k = 1..orders``, the last ``k`` symbols before ``t``.
4. **Score** at ``t``: among the (resolution, order) contexts seen at least ``min_seen``
   times before ``t`` (those that *predict*), the share whose continuation by the current
   symbol was never seen. 0 when no context predicts (a series too irregular to predict
   at any order raises nothing), 1 when every predicting context is surprised.
   Then everything at ``t`` is learned. (``soft``: a context's surprise is the share of its
   past continuations that differ from the current symbol.)

Causal by construction: the score at ``t`` uses the values up to ``t`` and the warm-up
length only (``tests/detect/test_context.py`` checks prefix equality). Incremental in the
cheap sense: the memory is a pair of dictionaries built in one pass (about 40 µs a point
for 3 resolutions x 4 orders, 44 ms for 46 days of hourly points), so the detector
recomputes it over the history window it already reads each cycle rather than storing it;
the warm-up is the first ``context_warm_hours`` of that window. Production uses it only when
``VIGIL_DETECT_METHOD=robust+context`` (:data:`~pipelines.detect.defaults.CONTEXT_CONFIG`).

Missing values (NaN) and gaps in time (more than 1.5 steps between two points) score 0 and
break the sequence: no context spans them, so the point after a gap is predicted by nothing
rather than surprising every context (a gap is neither a spike nor a drop). A constant
series never surprises itself.
"""

from __future__ import annotations

import math

import numpy as np

from pipelines.detect import nab
from pipelines.detect.defaults import CONTEXT_METHODS, DetectConfig

VERSION = 2
"""Bumped when the statistic changes, so ``eval-nab --cache`` never serves stale novelty."""


def symbols(x: np.ndarray, warm: int, bins: int, trim: float = 0.0, edges: str = "width") -> np.ndarray:
    """Integer bin of each value (NaN stays NaN): bins of width range / ``bins`` from the first
    ``warm`` values' minimum, not clipped (a value beyond that range is a new symbol).

    ``trim`` > 0: the range is the warm-up's ``trim`` to ``1 - trim`` quantiles instead of its
    minimum and maximum, so one spike in the warm-up does not make every later bin too
    coarse to see anything (NAB's ``iio_us-east-1_i-a2eb1cd9_NetworkIn``: one warm-up value
    sets the whole range and every later value falls in bin 0).

    ``edges="quantile"``: inside that range the bins hold equal shares of the warm-up (its
    quantiles) instead of equal widths; beyond it, bins of width range / ``bins`` continue as
    before. Why: on many NAB series (spiky CPU, network, key-hold times) nine tenths of the
    points fall in one equal-width bin, so the sequence is one repeated symbol and nothing
    can be novel; quantile edges give the bulk of the values their own symbols.

    A warm-up without spread (constant, or fewer than two finite values) gets bins of width
    ``max(|level|, 1) / bins``, so later changes of any real size are still new symbols.

    Raises
    ------
    ValueError
        ``trim`` outside [0, 0.5), or ``edges`` neither ``width`` nor ``quantile``.
    """
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"context trim {trim}: use a share of the warm-up in [0, 0.5)")
    if edges not in ("width", "quantile"):
        raise ValueError(f"context edges {edges!r}: use width or quantile")
    x = np.asarray(x, dtype=float)
    head = x[: max(warm, 1)]
    head = head[np.isfinite(head)]
    if len(head) == 0:
        lo, width = 0.0, 1.0 / bins
    else:
        lo, hi = float(head.min()), float(head.max())
        if trim > 0:
            lo, hi = (float(v) for v in np.quantile(head, [trim, 1.0 - trim]))
        width = (hi - lo) / bins
        if not width > 0:
            width = max(abs(lo), 1.0) / bins
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.floor((x - lo) / width)
    if edges == "quantile" and len(head) > 1 and hi > lo:
        inner = np.unique(np.quantile(head, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
        inner = inner[(inner > lo) & (inner < hi)]
        inside = (x >= lo) & (x <= hi)
        q = np.where(inside, np.searchsorted(inner, x, side="right"), q)
        # beyond the top: new symbols after the last inner bin, one per width as before
        with np.errstate(invalid="ignore", over="ignore"):
            q = np.where(x > hi, len(inner) + 1 + np.floor((x - hi) / width), q)
    q = np.clip(np.nan_to_num(q, nan=0.0, posinf=1e15, neginf=-1e15), -1e15, 1e15)
    return np.where(np.isfinite(x), q, np.nan)


def novelty(
    x: np.ndarray,
    warm: int,
    *,
    bins: int = 8,
    orders: int = 4,
    levels: int = 3,
    min_seen: int = 1,
    t_s: np.ndarray | None = None,
    trim: float = 0.0,
    soft: bool = False,
    edges: str = "width",
    refresh: int = 0,
) -> np.ndarray:
    """Sequence-novelty score (0..1) of every point (see the module docstring); 0 before ``warm``.

    Parameters
    ----------
    x:
        The series (already on the detector's scale), NaN for missing points.
    warm:
        Points whose range sets the bins, and that are learned but not scored.
    bins, orders, levels, min_seen:
        Bins over the warm-up range; longest context (in points); resolutions; how many
        times a context must have been seen before it counts as a prediction.
    t_s:
        Epoch seconds of the points (optional): a gap of more than 1.5 median steps breaks
        the sequence like a missing value.
    trim:
        Share of the warm-up left out at each end of the range the bins cover (:func:`symbols`).
    edges:
        ``width`` (equal-width bins), ``quantile`` (equal shares of the warm-up; :func:`symbols`)
        or ``both`` (the mean of the two novelties: the quantile bins help the files where
        nearly every value shares one equal-width bin and hurt some where they do not).
    soft:
        A predicting context's surprise is the share of its past continuations that were *not*
        the current symbol (a rare continuation is almost as novel as a new one), instead of
        1 only when the continuation was never seen. Why: on long files every continuation
        has been seen once sooner or later, and the crisp share then goes blind.
    refresh:
        0: one set of bins and one memory for the whole series. ``k`` > 0: every ``k x warm``
        points after the warm-up, the bins are recomputed from the last ``warm`` points and
        the memory is rebuilt from those points alone (a rolling re-quantisation with a
        bounded memory). Why: a series whose level or range drifts after its warm-up (NAB's
        ``rds_cpu_utilization_e47b3b``: 85 % of its later points lie outside the warm-up
        range) keeps making new symbols against stale bins. Causal: the boundaries are fixed
        counts of points from the series' start.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n == 0:
        return np.zeros(0)
    gap = np.zeros(n, dtype=bool)
    if t_s is not None and n > 1:
        dt = np.diff(np.asarray(t_s, dtype=np.int64))
        gap[1:] = dt > 1.5 * float(np.median(dt))
    settings = {"bins": bins, "orders": orders, "levels": levels, "min_seen": min_seen}
    settings |= {"trim": trim, "soft": soft, "edges": edges}
    if edges == "both":
        # Two views of the same series: the mean of the equal-width and the quantile novelty.
        return 0.5 * (
            novelty(x, warm, t_s=t_s, refresh=refresh, **(settings | {"edges": "width"}))
            + novelty(x, warm, t_s=t_s, refresh=refresh, **(settings | {"edges": "quantile"}))
        )
    span = refresh * warm
    if span <= 0:
        return _scan(x, gap, warm, **settings)
    out = np.zeros(n)
    out[: warm + span] = _scan(x[: warm + span], gap[: warm + span], warm, **settings)
    for a in range(warm + span, n, span):
        # New bins from the last ``warm`` points, relearned from them alone, then scored.
        b = min(a + span, n)
        out[a:b] = _scan(x[a - warm : b], gap[a - warm : b], warm, **settings)[warm:]
    return out


def _scan(
    x: np.ndarray,
    gap: np.ndarray,
    warm: int,
    *,
    bins: int,
    orders: int,
    levels: int,
    min_seen: int,
    trim: float,
    soft: bool,
    edges: str,
) -> np.ndarray:
    """One pass of :func:`novelty` over ``x`` with bins from its first ``warm`` points."""
    n = len(x)
    out = np.zeros(n)
    q = symbols(x, warm, bins, trim, edges)
    shifts = [1 << j for j in range(max(levels, 1))]
    ctx_seen: dict[tuple, int] = {}
    pairs: dict[tuple, int] = {}
    hist: list[list[int]] = [[] for _ in shifts]
    for t in range(n):
        if not np.isfinite(q[t]) or gap[t]:
            for h in hist:
                h.clear()
            if not np.isfinite(q[t]):
                continue
        s0 = int(q[t])
        predicting = failed = 0
        for j, div in enumerate(shifts):
            s = s0 // div
            h = hist[j]
            keys = [(j, *h[len(h) - k :]) for k in range(1, min(orders, len(h)) + 1)]
            for key in keys:
                seen = ctx_seen.get(key, 0)
                pair = (key, s)
                after = pairs.get(pair, 0)
                if seen >= min_seen:
                    predicting += 1
                    if soft:
                        failed += 1.0 - after / seen
                    elif not after:
                        failed += 1
                ctx_seen[key] = seen + 1
                pairs[pair] = after + 1
            h.append(s)
            if len(h) > orders:
                del h[0]
        if t >= warm and predicting:
            out[t] = failed / predicting
    return out


def novelty_for(t_s: np.ndarray, x: np.ndarray, step: int, config: DetectConfig) -> np.ndarray:
    """:func:`novelty` with the detector's settings (warm-up given in time)."""
    warm = DetectConfig.points(config.context_warm_hours, step)
    return novelty(
        x,
        warm,
        t_s=t_s,
        bins=config.context_bins,
        orders=config.context_orders,
        levels=config.context_levels,
        min_seen=config.context_min_seen,
        trim=config.context_trim,
        soft=config.context_soft,
        edges=config.context_edges,
        refresh=config.context_refresh,
    )


def with_nab_probation(config: DetectConfig, t_s: np.ndarray) -> DetectConfig:
    """NAB's convention for a file: the warm-up is its probationary period (first 15 %, <= 750 rows).

    NAB hands every detector its file's probationary length (CAD OSE learns its value range
    and rest period from it); production uses ``context_warm_hours`` instead.
    """
    if config.method not in CONTEXT_METHODS or len(t_s) < 2:
        return config
    step = float(np.median(np.diff(np.asarray(t_s, dtype=np.int64))))
    rows = max(1, math.floor(nab.probation_length(len(t_s))))
    return config.with_(context_warm_hours=rows * step / 3600.0)


def as_relative(score: np.ndarray, weight: float) -> np.ndarray:
    """``weight x score`` as a relative score ``r`` whose severity ``r / (1 + r)`` equals it (capped at 0.999).

    Lets the novelty share the robust method's finishing (cold start, surge gate, quiet
    period, threshold) and be combined with its relative score by a maximum.
    """
    s = np.clip(np.nan_to_num(np.asarray(score, dtype=float) * weight, nan=0.0), 0.0, 0.999)
    return s / (1.0 - s)
