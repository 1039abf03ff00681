"""Expected value and spread of a series: Prophet, or a robust median/MAD when history is short.

The series is cut into *chunks* aligned to the epoch (``refit_hours`` long, one day by
default). Each chunk gets one baseline fitted only on the ``train_days`` before the
chunk starts, so every expectation is made from the past alone (NAB scores an online
detector), and a chunk's fit is computed once and cached: every 5-minute detector
cycle within a day reuses it. The cache stores the expectation of every bucket of the
chunk (a few hundred floats), never a Prophet model.

Modes
-----
``prophet``
    Prophet (Taylor & Letham 2018) with daily and weekly seasonality when at least
    ``min_prophet_days`` of history precede the chunk. ``uncertainty_samples=0`` (no
    sampling): the interval comes from the robust spread of the in-sample residuals.
    Training values beyond 6 robust sigmas are clipped first so past spikes do not bend
    the seasonality, and long windows are averaged down to ``max_fit_points``.
``robust``
    The degraded mode for short series: the median of the same time of day (± 30 min)
    over the last ``robust_days`` days, spread = 1.4826 x MAD of the residuals.

For counts (``transform="log1p"``) everything happens on the log scale and the spread
has a Poisson floor ``1/sqrt(1 + expected count)``, so one post on a quiet night is
not an anomaly.
"""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from pipelines.detect.defaults import DetectConfig

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826
MIN_POINTS = 6
"""Fewer past points than this: no baseline at all (the chunk is not scored)."""
MIN_PHASE_SAMPLES = 3
"""A time of day needs this many past values before it gets its own median."""
MEAN_MIN_SCALE = 0.02
"""Spread floor of mean-score series (scores live in -1..1 or 0..1)."""


@dataclass(frozen=True)
class ChunkBaseline:
    """Expectation and spread for every bucket of one chunk (transformed scale).

    Attributes
    ----------
    start_s:
        Chunk start, seconds since the epoch.
    step_s:
        Bucket width in seconds.
    expected, scale:
        One value per bucket of the chunk, on the transformed scale.
    mode:
        ``prophet`` or ``robust``; ``none`` when there was too little history.
    """

    start_s: int
    step_s: int
    expected: np.ndarray
    scale: np.ndarray
    mode: str


def transform(values: np.ndarray, kind: str) -> np.ndarray:
    """Forward transform: ``log1p`` or ``sqrt`` of counts (clipped at 0), identity otherwise."""
    v = np.asarray(values, dtype=float)
    if kind == "log1p":
        return np.log1p(np.clip(v, 0, None))
    if kind == "sqrt":
        return np.sqrt(np.clip(v, 0, None))
    return v


def inverse(values: np.ndarray, kind: str) -> np.ndarray:
    """Back to the original scale (counts never below 0)."""
    v = np.asarray(values, dtype=float)
    if kind == "log1p":
        return np.clip(np.expm1(v), 0, None)
    if kind == "sqrt":
        return np.clip(v, 0, None) ** 2
    return v


def _scale_floor(expected: np.ndarray, config: DetectConfig) -> np.ndarray:
    if config.transform == "log1p":
        return 1.0 / np.sqrt(1.0 + np.expm1(np.clip(expected, 0, None)))
    return np.full_like(expected, MEAN_MIN_SCALE)


def _mad_sigma(residuals: np.ndarray) -> float:
    r = residuals[np.isfinite(residuals)]
    if len(r) == 0:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.abs(r - np.median(r))))


def robust_profile(
    times_s: np.ndarray, x: np.ndarray, targets_s: np.ndarray, step_s: int, days: int
) -> np.ndarray:
    """Median of past values at the same time of day (± 30 min) over the last ``days`` days.

    Parameters
    ----------
    times_s, x:
        Past bucket times (epoch seconds) and transformed values (NaN = missing).
    targets_s:
        Times to predict.
    step_s:
        Bucket width.
    days:
        How many days back to look.

    Returns
    -------
    numpy.ndarray
        Expected value per target; the overall median where a time of day has fewer than
        :data:`MIN_PHASE_SAMPLES` past values.
    """
    finite = np.isfinite(x)
    if not finite.any():
        return np.full(len(targets_s), np.nan)
    end = targets_s.min() if len(targets_s) else times_s.max() + step_s
    recent = finite & (times_s >= end - days * 86_400)
    if recent.sum() < MIN_POINTS:
        recent = finite
    overall = float(np.median(x[recent]))
    if step_s >= 86_400 or times_s[recent].max() - times_s[recent].min() < 86_400 - step_s:
        return np.full(len(targets_s), overall)
    per_day = 86_400 // step_s
    half = int(1800 // step_s)
    phase = (times_s[recent] % 86_400) // step_s
    values = x[recent]
    table = np.full(per_day, overall)
    for p in range(per_day):
        d = np.abs(phase - p)
        near = np.minimum(d, per_day - d) <= half
        # A median of one or two past days is noise (hourly data, first days): keep the overall one.
        if near.sum() >= MIN_PHASE_SAMPLES:
            table[p] = np.median(values[near])
    return table[(targets_s % 86_400) // step_s]


def prophet_class() -> type:
    """Import Prophet with its and cmdstanpy's chatter silenced (once per process)."""
    names = ("cmdstanpy", "prophet", "prophet.plot", "prophet.models", "prophet.forecaster")
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from prophet import Prophet

    # cmdstanpy installs its own INFO handler on import: quiet it again afterwards.
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return Prophet


def _prophet_expected(
    times_s: np.ndarray, x: np.ndarray, targets_s: np.ndarray, step_s: int, config: DetectConfig
) -> np.ndarray:
    """Prophet fitted on the past (clipped, averaged down), predicted at past + targets."""
    Prophet = prophet_class()
    finite = np.isfinite(x)
    t, y = times_s[finite], x[finite]
    # Clip past spikes so they do not bend the seasonal curve.
    rob = robust_profile(t, y, t, step_s, config.robust_days)
    sigma = max(_mad_sigma(y - rob), 1e-6)
    y = np.clip(y, rob - 6 * sigma, rob + 6 * sigma)
    factor = max(1, int(np.ceil(len(y) / config.max_fit_points)))
    if factor > 1:
        keep = (len(y) // factor) * factor
        tail_t, tail_y = t[len(y) - keep :], y[len(y) - keep :]
        t = tail_t.reshape(-1, factor).mean(axis=1)
        y = tail_y.reshape(-1, factor).mean(axis=1)
    import pandas as pd

    span_days = (times_s.max() - times_s.min()) / 86_400
    model = Prophet(
        daily_seasonality=config.daily_order if step_s < 86_400 else False,
        weekly_seasonality=span_days >= 14,
        yearly_seasonality=False,
        changepoint_range=config.changepoint_range,
        changepoint_prior_scale=config.changepoint_prior,
        uncertainty_samples=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(pd.DataFrame({"ds": pd.to_datetime(t, unit="s"), "y": y}))
        both = np.concatenate([times_s, targets_s])
        pred = model.predict(pd.DataFrame({"ds": pd.to_datetime(both, unit="s")}))["yhat"].to_numpy()
    return pred


def fit_chunk(
    times_s: np.ndarray, x: np.ndarray, chunk_start_s: int, step_s: int, config: DetectConfig
) -> ChunkBaseline:
    """Fit one chunk's baseline on the history before it.

    Parameters
    ----------
    times_s, x:
        The series (epoch seconds, transformed values); only times before
        ``chunk_start_s`` and within ``train_days`` of it are used.
    chunk_start_s:
        Start of the chunk (a multiple of ``refit_hours``).
    step_s:
        Bucket width.
    config:
        Detector settings.

    Returns
    -------
    ChunkBaseline
        Mode ``none`` (NaN expectation) when fewer than :data:`MIN_POINTS` past values or
        less than ``min_history_hours`` of history precede the chunk.
    """
    chunk_len = DetectConfig.points(config.refit_hours, step_s)
    targets = chunk_start_s + np.arange(chunk_len, dtype=np.int64) * step_s
    past = (times_s < chunk_start_s) & (times_s >= chunk_start_s - config.train_days * 86_400)
    tp, xp = times_s[past], x[past]
    finite = np.isfinite(xp)
    if finite.sum() < MIN_POINTS:
        nan = np.full(chunk_len, np.nan)
        return ChunkBaseline(chunk_start_s, step_s, nan, nan, "none")
    history_days = (chunk_start_s - tp[finite].min()) / 86_400
    if history_days * 24 < config.min_history_hours:
        # Less than a day seen: no daily profile yet, and its noisy z-scores would inflate
        # the records that later points are compared with. Not scored.
        nan = np.full(chunk_len, np.nan)
        return ChunkBaseline(chunk_start_s, step_s, nan, nan, "none")
    mode = "robust"
    expected = None
    if config.method != "stumpy" and history_days >= config.min_prophet_days:
        try:
            both = _prophet_expected(tp, xp, targets, step_s, config)
            fitted, expected = both[: len(tp)], both[len(tp) :]
            mode = "prophet"
        except Exception as exc:  # Stan can fail on degenerate data; degrade, do not die
            log.warning("Prophet fit failed (%s: %s); using the robust baseline", type(exc).__name__, exc)
    if expected is None:
        fitted = robust_profile(tp, xp, tp, step_s, config.robust_days)
        expected = robust_profile(tp, xp, targets, step_s, config.robust_days)
    sigma = _mad_sigma(xp - fitted)
    scale = np.maximum(sigma, _scale_floor(expected, config))
    return ChunkBaseline(chunk_start_s, step_s, expected, scale, mode)


class BaselineCache:
    """Fitted chunks by ``(series, chunk start, step, config)``, least recently used dropped.

    One per detector process: a cycle every 5 minutes refits nothing until a new
    chunk (day) begins.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, ChunkBaseline] = OrderedDict()
        self.hits = 0
        self.fits = 0

    def get_or_fit(
        self,
        series: Hashable,
        times_s: np.ndarray,
        x: np.ndarray,
        chunk_start_s: int,
        step_s: int,
        config: DetectConfig,
    ) -> ChunkBaseline:
        key = (series, chunk_start_s, step_s, config)
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return hit
        fitted = fit_chunk(times_s, x, chunk_start_s, step_s, config)
        self.fits += 1
        self._items[key] = fitted
        if len(self._items) > self.max_entries:
            self._items.popitem(last=False)
        return fitted

    def __len__(self) -> int:
        return len(self._items)


def baseline(
    times_s: np.ndarray,
    x: np.ndarray,
    step_s: int,
    config: DetectConfig,
    start: int = 0,
    cache: BaselineCache | None = None,
    series: Hashable = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Causal expectation, spread and mode for points ``start..n-1`` of a regular series.

    Returns
    -------
    expected, scale : numpy.ndarray
        Per point (length ``n``; NaN before ``start`` and where no baseline exists),
        transformed scale.
    mode : numpy.ndarray
        Per point ``prophet``, ``robust`` or ``none`` (``""`` before ``start``).
    """
    n = len(x)
    expected = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    mode = np.full(n, "", dtype=object)
    if n == 0 or start >= n:
        return expected, scale, mode
    refit_s = int(round(config.refit_hours * 3600))
    # Chunks start on the series' own bucket grid (NAB times sit at :42:53, rollups on the hour).
    offset = int(times_s[0] % step_s)
    chunk_ids = (times_s - offset) // refit_s
    cache = cache if cache is not None else BaselineCache()
    first = start
    while first < n:
        cid = chunk_ids[first]
        last = int(np.searchsorted(chunk_ids, cid, side="right"))
        fitted = cache.get_or_fit(series, times_s, x, int(cid * refit_s + offset), step_s, config)
        pos = (times_s[first:last] - fitted.start_s) // step_s
        expected[first:last] = fitted.expected[pos]
        scale[first:last] = fitted.scale[pos]
        mode[first:last] = fitted.mode
        first = last
    return expected, scale, mode
