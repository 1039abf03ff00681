"""Robust online statistics: how far a point stands from its recent level and its season.

The ``robust`` method's baseline, pure numpy/pandas and causal (every statistic at
``t`` uses points strictly before ``t``), with no model fit, so a series of any length
costs a few rolling quantiles (Prophet costs a fit per series per day). Two views:

* **level**: median and interquartile range of the trailing ``level_hours``;
* **season**: median of the same time of day over the last ``season_days`` days, and
  the interquartile range of the residuals from it over the trailing ``level_hours``.

A point's ``z`` is the *smaller* of its two deviations (same sign required): a morning
rise that every morning has is not news (season), a level shift that persisted for a day
is not news (level); what beats both is. Where the season is not known yet (less than
three same-phase values) the level alone decides, so a new series is scored from its
first hours (the cold start of :mod:`pipelines.detect.onsets`).

The spread is floored: by ``rel_floor`` x the level (a flat series), by a Poisson floor
on counts (``1/sqrt(1 + expected)`` on the log scale, ``1/2`` on the square-root scale:
one post on a quiet night is not an anomaly).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.detect.defaults import DetectConfig

IQR_TO_SIGMA = 1.349
"""Interquartile range of a normal distribution in sigmas."""

MIN_SEASON = 3
"""Same-phase values needed before the season has a say."""


def rolling_past(x: np.ndarray, window: int, q: float, min_periods: int) -> np.ndarray:
    """Quantile ``q`` of the ``window`` points strictly before each point (NaN-aware).

    NaN where fewer than ``min_periods`` finite values precede.
    """
    s = pd.Series(np.asarray(x, dtype=float))
    out = s.rolling(window, min_periods=min_periods).quantile(q, interpolation="linear").shift(1)
    return out.to_numpy(dtype=float)


def seasonal_past_median(t_s: np.ndarray, x: np.ndarray, step: int, days: int) -> np.ndarray:
    """Median of the last ``days`` values at the same time of day, strictly before each point.

    The time of day is the bucket ``(t mod 1 day) // step``; NaN until :data:`MIN_SEASON`
    finite same-phase values precede, and for steps of a day or more (no daily season).
    """
    n = len(x)
    if step >= 86_400 or n == 0:
        return np.full(n, np.nan)
    phase = (np.asarray(t_s, dtype=np.int64) % 86_400) // step
    frame = pd.DataFrame({"p": phase, "x": np.asarray(x, dtype=float)})
    prev = frame.groupby("p")["x"].shift(1)
    med = (
        prev.groupby(frame["p"])
        .rolling(max(days, 1), min_periods=MIN_SEASON)
        .median()
        .reset_index(level=0, drop=True)
        .sort_index()
    )
    return med.to_numpy(dtype=float)


def _floor(expected: np.ndarray, config: DetectConfig) -> np.ndarray:
    level = np.abs(np.nan_to_num(expected, nan=0.0))
    floor = np.maximum(config.rel_floor * level, 1e-9)
    if config.transform == "log1p":
        floor = np.maximum(floor, 1.0 / np.sqrt(1.0 + np.expm1(np.clip(level, 0, None))))
    elif config.transform == "sqrt":
        floor = np.maximum(floor, 0.5)
    return floor


def _spread(x: np.ndarray, med: np.ndarray | None, w: int, mp: int, kind: str) -> np.ndarray:
    """Interquartile range of the trailing window, or (``lower``) twice its lower half.

    ``lower`` is ``2 x (median - first quartile)``: equal to the IQR on a symmetric window,
    blind to a surge that fills the window's upper quarter.
    """
    q25 = rolling_past(x, w, 0.25, mp)
    if kind == "lower":
        m = rolling_past(x, w, 0.5, mp) if med is None else med
        return 2.0 * (m - q25)
    return rolling_past(x, w, 0.75, mp) - q25


def robust_z(
    t_s: np.ndarray, x: np.ndarray, step: int, config: DetectConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(expected, scale, z)`` per point, transformed scale; see the module docstring.

    ``z`` is clipped at 0 for ``direction="up"`` and absolute for ``"both"``; NaN where
    the point is missing or fewer than six past values exist.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    w = DetectConfig.points(config.level_hours, step, minimum=6)
    mp = min(w, 6)
    med = rolling_past(x, w, 0.5, mp)
    iqr = _spread(x, med, w, mp, config.level_spread)
    with np.errstate(invalid="ignore"):
        s_level = np.maximum(iqr / IQR_TO_SIGMA, _floor(med, config))
        z_level = (x - med) / s_level
    days = int(round(config.season_days))
    season = seasonal_past_median(t_s, x, step, days) if days > 0 else np.full(n, np.nan)
    resid = x - season
    r_iqr = _spread(resid, None, w, mp, config.level_spread)
    with np.errstate(invalid="ignore"):
        s_season = np.maximum(r_iqr / IQR_TO_SIGMA, _floor(season, config))
        z_season = resid / s_season
    have = np.isfinite(z_season)
    same_sign = np.sign(z_season) == np.sign(z_level)
    both = np.where(same_sign, np.sign(z_level) * np.minimum(np.abs(z_level), np.abs(z_season)), 0.0)
    z = np.where(have, both, z_level)
    expected = np.where(have, season, med)
    scale = np.where(have, s_season, s_level)
    z = np.abs(z) if config.direction == "both" else np.clip(z, 0, None)
    z = np.where(np.isfinite(z), z, np.nan)
    return expected, scale, z
