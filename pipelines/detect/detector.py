"""Scores every point of a series, and turns high scores into anomaly windows.

:func:`score_series` is *the* detector: production calls it on each series' recent
window every cycle, ``eval-nab`` and ``eval-onsets`` call it on whole files. Every
score at time ``t`` uses only data up to ``t`` (baselines are fitted on the past,
the matrix profile is the *left* profile, records and quiet periods look back), so
running it once over a file is the same as running it online point by point.

How a point is scored
---------------------
1. ``z``: distance above the baseline in robust sigmas (:mod:`.baseline`).
2. ``d``: left matrix-profile distance of the stretch ending here (:mod:`.matrix_profile`).
3. Each is divided by its own recent record (the largest value of the previous
   ``record_days``, floored): a spike must beat what this series has recently done,
   so one threshold suits a busy brand and a quiet source alike.
4. ``combined`` is the baseline's relative score raised by up to ``mp_weight`` when the
   matrix profile also finds a new shape (``b * (1 + w * min(m, 1))``): a deviation that
   has happened before ranks below one never seen; the profile alone raises nothing.
   ``prophet`` or ``stumpy`` use one score alone.
5. Quiet period: within ``quiet_hours`` after a high score, a point only scores if
   it beats it, so one event raises one alarm, not one per bucket.
6. Severity ``r / (1 + r)`` maps that to 0..1; 0.5 means "equals the recent record".
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from scipy.ndimage import maximum_filter1d

from pipelines.detect import baseline as bl
from pipelines.detect import gates, validate
from pipelines.detect import matrix_profile as mp
from pipelines.detect.defaults import CONTEXT_METHODS, ROBUST_METHODS, DetectConfig

log = logging.getLogger(__name__)

INTERVAL_Z = 3.0
"""The reported interval is the expectation +- 3 robust sigmas."""

MAX_EXTENT_HOURS = 24.0
"""An anomaly window reaches at most a day either side of its trigger."""


@dataclass
class Caches:
    """What a long-running detector keeps between cycles (fitted chunks, stumpi streams)."""

    baselines: bl.BaselineCache = field(default_factory=bl.BaselineCache)
    profiles: mp.LeftProfileCache = field(default_factory=mp.LeftProfileCache)


def _trailing_max(values: np.ndarray, window: int) -> np.ndarray:
    """Max of the ``window`` points strictly before each point (-inf where none)."""
    v = np.where(np.isfinite(values), values, -np.inf)
    if len(v) == 0 or window <= 0:
        return np.full(len(v), -np.inf)
    padded = np.concatenate([np.full(window, -np.inf), v])
    # origin -(window // 2) makes output k the max of padded[k : k + window] = v[k - window : k].
    return maximum_filter1d(padded, size=window, origin=-(window // 2), mode="nearest")[: len(v)]


def relative_to_record(values: np.ndarray, window: int, floor: float) -> np.ndarray:
    """``values / max(floor, max of the previous window)``: how much a point beats its series' record."""
    record = np.maximum(_trailing_max(values, window), floor)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values), values / record, 0.0)


def relative_to_distribution(values: np.ndarray, window: int, floor: float, k: float = 4.0) -> np.ndarray:
    """``values / max(floor, mean + k sd of the previous window)`` (NaN counted as 0)."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    n = len(v)
    if n == 0:
        return v
    c1 = np.concatenate([[0.0], np.cumsum(v)])
    c2 = np.concatenate([[0.0], np.cumsum(v * v)])
    i = np.arange(n)
    lo = np.maximum(0, i - window)
    cnt = i - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[i] - c1[lo]) / cnt
        var = np.maximum((c2[i] - c2[lo]) / cnt - mean * mean, 0.0)
        level = np.where(cnt > 1, mean + k * np.sqrt(var), np.inf)
        return v / np.maximum(np.nan_to_num(level, nan=np.inf), floor)


def trailing_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Mean of each point and the ``k - 1`` before it (NaN counted as 0; fewer at the start)."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    if k <= 1 or len(v) == 0:
        return np.where(np.isfinite(values), values, np.nan) if k <= 1 else v
    c = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(1, len(v) + 1)
    lo = np.maximum(0, i - k)
    out = (c[i] - c[lo]) / (i - lo)
    return np.where(np.isfinite(values), out, np.nan)


def quiet_period(scores: np.ndarray, window: int) -> np.ndarray:
    """Zero every score not above the largest of the ``window`` scores before it."""
    if window <= 0 or len(scores) == 0:
        return scores
    prev = _trailing_max(scores, window)
    return np.where(scores > prev, scores, 0.0)


def severity(r: np.ndarray) -> np.ndarray:
    """Map a relative score ``r >= 0`` to 0..1 (``r / (1 + r)``; 1 = the record -> 0.5)."""
    r = np.clip(np.nan_to_num(r, nan=0.0), 0, None)
    return r / (1.0 + r)


def _epoch_s(times: np.ndarray) -> np.ndarray:
    t = np.asarray(times)
    if t.dtype == object:
        t = np.array([_naive_utc(v) for v in t], dtype="datetime64[s]")
    return t.astype("datetime64[s]").astype(np.int64)


def _naive_utc(v: datetime) -> datetime:
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v


@dataclass
class Streams:
    """Causal raw scores of one series, before the record, quiet period and threshold.

    Splitting :func:`score_series` into :func:`raw_streams` (the costly part: baselines,
    matrix profile) and :func:`finish` (cheap: record, quiet period, severity) lets the
    leave-one-file-out evaluation choose ``record_days``/``quiet_hours``/``threshold`` on
    training files without rerunning the baselines (:mod:`pipelines.detect.lofo`).
    """

    t_s: np.ndarray
    v: np.ndarray
    expected: np.ndarray
    scale: np.ndarray
    mode: np.ndarray
    z: np.ndarray
    d: np.ndarray
    step: int
    start: int
    transform: str = "log1p"


def raw_streams(
    times: np.ndarray,
    values: np.ndarray,
    config: DetectConfig | None = None,
    *,
    start: int = 0,
    caches: Caches | None = None,
    series: Hashable = None,
) -> Streams | None:
    """Baseline ``z`` and matrix-profile ``d`` of every point (``None``: too short to score).

    Points before ``start - record - quiet`` are left NaN (history only).
    """
    config = config or DetectConfig()
    caches = caches or Caches()
    v = np.asarray(values, dtype=float)
    t_s = _epoch_s(times)
    n = len(v)
    if len(t_s) != n:
        raise ValueError(f"{len(t_s)} times but {n} values: lengths must match")
    start = max(0, min(start, n))
    if n < 2 or start >= n:
        return None
    step = int(np.median(np.diff(t_s)))
    if step <= 0:
        raise ValueError("times must increase")
    record_n = DetectConfig.points(config.record_days * 24, step)
    quiet_n = DetectConfig.points(config.quiet_hours, step, minimum=0)
    lo_i = max(0, start - record_n - quiet_n)
    x = bl.transform(v, config.transform)

    if config.method in ROBUST_METHODS:
        from pipelines.detect import online

        expected, scale, z = online.robust_z(t_s, x, step, config)
        mode = np.where(np.isfinite(z), "robust", "none").astype(object)
        expected[:lo_i] = np.nan
        z[:lo_i] = np.nan
    else:
        expected, scale, mode = bl.baseline(
            t_s, x, step, config, start=lo_i, cache=caches.baselines, series=series
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (x - expected) / scale
        z = np.abs(z) if config.direction == "both" else np.clip(z, 0, None)
        z = np.where(np.isfinite(z), z, np.nan)

    m = DetectConfig.points(config.mp_window_hours, step, minimum=4)
    d = np.full(n, np.nan)
    if config.method in CONTEXT_METHODS:
        from pipelines.detect import context

        # ``d`` carries the sequence novelty (0..1) for the context methods.
        d = context.novelty_for(t_s, x, step, config)
        d[:lo_i] = np.nan
    if config.method in ("stumpy", "combined", "ensemble"):
        # Empty buckets of mean series take the baseline's expectation (known from the past).
        xf = np.where(np.isfinite(x), x, np.where(np.isfinite(expected), expected, 0.0))
        refit_s = int(round(config.refit_hours * 3600))
        lo_t = t_s[lo_i] - config.train_days * 86_400
        lo_t = (lo_t // refit_s) * refit_s  # aligned: the stumpi stream survives until the next refit
        w0 = int(np.searchsorted(t_s, lo_t))
        raw = caches.profiles.left_profile(series, int(t_s[w0]), xf[w0:], m, normalize=False)
        # In the baseline's units: RMS distance to the closest earlier shape, in robust sigmas.
        with np.errstate(invalid="ignore", divide="ignore"):
            d[w0:] = raw / (np.sqrt(m) * scale[w0:])
        if config.direction == "up":
            # A new shape only counts while the series is above its expectation.
            d = np.where(x > expected, d, 0.0)
    return Streams(t_s, v, expected, scale, mode, z, d, step, start, config.transform)


def score_series(
    times: np.ndarray,
    values: np.ndarray,
    config: DetectConfig | None = None,
    *,
    start: int = 0,
    caches: Caches | None = None,
    series: Hashable = None,
) -> pl.DataFrame:
    """Causal anomaly scores for points ``start..n-1`` of a regular series.

    Parameters
    ----------
    times:
        Bucket times, increasing and regular (``datetime64`` or naive-UTC datetimes).
    values:
        Value per bucket (counts, or means with NaN for empty buckets).
    config:
        Detector settings (:data:`pipelines.detect.defaults.COUNT_CONFIG` by default).
    start:
        First point to score; earlier points are history only.
    caches:
        Fitted baselines and matrix-profile streams kept between calls.
    series:
        Cache key of this series.

    Returns
    -------
    polars.DataFrame
        One row per scored point: ``time, value, expected, lo, hi, z, mp, score_baseline,
        score_mp, severity, mode, fired`` (``fired`` lists the methods whose own score
        reached the threshold, e.g. ``["prophet", "stumpy"]`` or ``["robust"]``).
        Empty (never an exception) for series too short to score.
    """
    config = config or DetectConfig()
    checked = validate.check(_epoch_s(times), values, counts=config.transform != "none")
    for reason in checked.reasons:
        log.info("series %s: %s", series if series is not None else "?", reason)
    t_s, v = checked.times_s, checked.values
    if checked.order is not None:
        # Reordered: ``start`` keeps meaning "points at or after the start-th input time".
        first_t = _epoch_s(times)[min(start, len(checked.order) - 1)] if start > 0 else None
        start = int(np.searchsorted(t_s, first_t)) if first_t is not None else 0
    streams = None
    if not checked.skip:
        streams = raw_streams(
            t_s.astype("datetime64[s]"), v, config, start=start, caches=caches, series=series
        )
    if streams is None:
        n = len(v)
        start = max(0, min(start, n))
        return _frame(t_s[start:], v[start:], *(np.full(n - start, np.nan) for _ in range(7)), [], [])
    return finish(streams, config)


def finish_severity(
    streams: Streams, config: DetectConfig, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record, warm-up, quiet period and severity: ``(severity, b_rel, m_rel)`` per point.

    ``extra``: one more relative score per point taken into the maximum before the warm-up,
    gates and quiet period (studies of a further opinion, e.g. ``bench/nab_mp_term.py``).
    """
    z, d, step, n = streams.z, streams.d, streams.step, len(streams.z)
    record_n = DetectConfig.points(config.record_days * 24, step)
    quiet_n = DetectConfig.points(config.quiet_hours, step, minimum=0)
    lo_i = max(0, streams.start - record_n - quiet_n)
    if config.smooth_points > 1:
        z = trailing_mean(z, config.smooth_points)
    if config.record_kind == "likelihood":
        b_rel = relative_to_distribution(z, record_n, config.min_record)
    else:
        b_rel = relative_to_record(z, record_n, config.min_record)
    m_rel = relative_to_record(d, record_n, config.mp_min_record)
    if config.method in ("prophet", "robust"):
        r = b_rel
    elif config.method in CONTEXT_METHODS:
        from pipelines.detect.context import as_relative

        if config.likelihood_avg_hours > 0:
            d = _likelihood(d, step, config)
        # Novelty in severity units; the ensemble keeps the larger of the two opinions.
        c = as_relative(d, 1.0 if config.method == "context" else config.context_weight)
        r = c if config.method == "context" else np.maximum(b_rel, c)
        m_rel = c
    elif config.method == "stumpy":
        r = m_rel
    else:
        # The baseline decides; a deviation whose shape is also new ranks up to mp_weight higher.
        r = b_rel * (1.0 + config.mp_weight * np.clip(m_rel, 0.0, 1.0))
    if extra is not None:
        r = np.maximum(r, np.nan_to_num(extra, nan=0.0))
    # A record needs history too: no score until min_history_hours of scored points precede.
    hours = config.cold_start_hours if config.method in ROBUST_METHODS else config.min_history_hours
    warm = DetectConfig.points(hours, step, minimum=1)
    seen = np.concatenate([[0], np.cumsum(np.isfinite(z))])[:-1]
    r = np.where((np.arange(n) >= lo_i) & (seen >= warm), r, 0.0)
    if config.min_excess > 0 and config.transform != "none":
        excess = streams.v - bl.inverse(streams.expected, config.transform)
        r = np.where(excess >= config.min_excess, r, 0.0)
    if gates.active(config) and config.transform != "none":
        expected_posts = bl.inverse(streams.expected, config.transform)
        r = np.where(gates.surge_gate(streams.v, expected_posts, step, config), r, 0.0)
    r = quiet_period(r, quiet_n)
    return severity(r), b_rel, m_rel


def _likelihood(novelty: np.ndarray, step: int, config: DetectConfig) -> np.ndarray:
    """The novelty's anomaly likelihood (:mod:`pipelines.detect.likelihood`), its warm-up left out."""
    from pipelines.detect.likelihood import likelihood_score

    return likelihood_score(
        novelty,
        DetectConfig.points(config.likelihood_avg_hours, step),
        DetectConfig.points(config.likelihood_days * 24, step),
        skip=DetectConfig.points(config.context_warm_hours, step),
    )


def finish(streams: Streams, config: DetectConfig) -> pl.DataFrame:
    """The scored frame of :func:`score_series` from raw streams (cheap; see :class:`Streams`)."""
    sev, b_rel, m_rel = finish_severity(streams, config)
    start, mode = streams.start, streams.mode
    # A method "fired" when its own score alone reaches the threshold; the baseline is
    # named whenever the combined score does (it decides in ``combined``). Vectorised:
    # a first cycle scores hundreds of thousands of points.
    r_thr = config.threshold / (1.0 - config.threshold)
    live = sev[start:] > 0
    base = np.where(np.isin(mode[start:], ("prophet", "robust")), mode[start:], "robust").astype(str)
    by_base = (
        live & (config.method != "stumpy") & ((b_rel[start:] >= r_thr) | (sev[start:] >= config.threshold))
    )
    second = "stumpy"
    if config.method in CONTEXT_METHODS:
        # The sequence novelty is the second opinion; the baseline is named only when it fired itself.
        second = "context"
        by_base = live & (config.method != "context") & (b_rel[start:] >= r_thr)
    by_mp = live & (config.method not in ("prophet", "robust")) & (m_rel[start:] >= r_thr)
    half = INTERVAL_Z * streams.scale
    tr, expected = streams.transform, streams.expected
    return _frame(
        streams.t_s[start:],
        streams.v[start:],
        bl.inverse(expected, tr)[start:],
        bl.inverse(expected - half, tr)[start:],
        bl.inverse(expected + half, tr)[start:],
        streams.z[start:],
        streams.d[start:],
        severity(b_rel)[start:],
        severity(m_rel)[start:],
        sev[start:],
        np.asarray(mode[start:]).astype(str),
        (base, by_base, by_mp, second),
    )


def _fired_column(k: int, fired: Any) -> pl.Series:
    """``fired`` as a list column: a list of lists, or ``(base name, base fired, second fired, second name)``."""
    if isinstance(fired, tuple):
        base, by_base, by_mp, second = fired
        frame = pl.DataFrame({"b": pl.Series(base, dtype=pl.String), "fb": by_base, "fm": by_mp})
        return frame.select(
            pl.concat_list(
                pl.when(pl.col("fb")).then(pl.col("b")),
                pl.when(pl.col("fm")).then(pl.lit(second)),
            )
            .list.drop_nulls()
            .alias("fired")
        )["fired"]
    return pl.Series(
        list(fired) if fired is not None and len(fired) == k else [[]] * k, dtype=pl.List(pl.String)
    )


def _frame(t_s, value, expected, lo, hi, z, d, s_b, s_m, sev=None, modes=None, fired=None) -> pl.DataFrame:
    k = len(t_s)
    sev = np.zeros(k) if sev is None or len(sev) != k else sev
    return pl.DataFrame(
        {
            "time": pl.Series(np.asarray(t_s, dtype=np.int64) * 1_000_000).cast(pl.Datetime("us")),
            "value": np.asarray(value, dtype=float),
            "expected": np.asarray(expected, dtype=float),
            "lo": np.asarray(lo, dtype=float),
            "hi": np.asarray(hi, dtype=float),
            "z": np.asarray(z, dtype=float),
            "mp": np.asarray(d, dtype=float),
            "score_baseline": np.asarray(s_b, dtype=float),
            "score_mp": np.asarray(s_m, dtype=float),
            "severity": np.asarray(sev, dtype=float),
            "mode": pl.Series(
                np.asarray(modes).astype(str) if modes is not None and len(modes) == k else np.full(k, ""),
                dtype=pl.String,
            ),
            "fired": _fired_column(k, fired),
        }
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


@dataclass(frozen=True)
class AnomalyWindow:
    """One anomaly found in a scored series (pure data; the service adds evidence and stores it).

    ``start`` is the first bucket's start and ``end`` the last bucket's end (UTC).
    ``observed``/``expected``/``lo``/``hi`` are taken at the peak bucket;
    ``observed_total``/``expected_total`` sum the window.
    """

    start: datetime
    end: datetime
    peak: datetime
    observed: float
    expected: float
    lo: float
    hi: float
    observed_total: float
    expected_total: float
    severity: float
    methods: tuple[str, ...]


def find_anomalies(scores: pl.DataFrame, config: DetectConfig | None = None) -> list[AnomalyWindow]:
    """Group points with ``severity >= threshold`` into windows.

    Each triggering point's window extends over its neighbours whose ``z`` stays at or
    above ``extend_ratio`` x its own (at most :data:`MAX_EXTENT_HOURS` each side);
    overlapping or touching windows merge.
    """
    config = config or DetectConfig()
    if scores.is_empty():
        return []
    sev = scores["severity"].fill_null(0.0).to_numpy()
    triggers = np.flatnonzero(sev >= config.threshold)
    if len(triggers) == 0:
        return []
    t = scores["time"].to_numpy().astype("datetime64[s]").astype(np.int64)
    step = int(np.median(np.diff(t))) if len(t) > 1 else 3600
    z = scores["z"].fill_null(0.0).to_numpy()
    reach = DetectConfig.points(MAX_EXTENT_HOURS, step)
    spans: list[list[int]] = []
    for i in triggers:
        level = config.extend_ratio * z[i]
        a = i
        while a > 0 and i - a < reach and z[a - 1] >= level and z[a - 1] > 0:
            a -= 1
        b = i
        while b < len(z) - 1 and b - i < reach and z[b + 1] >= level and z[b + 1] > 0:
            b += 1
        if spans and a <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], b)
            spans[-1][2].append(i)
        else:
            spans.append([a, b, [i]])
    value = scores["value"].fill_null(0.0).to_numpy()
    exp = scores["expected"].fill_null(0.0).to_numpy()
    lo = scores["lo"].fill_null(0.0).to_numpy()
    hi = scores["hi"].fill_null(0.0).to_numpy()
    fired_col = scores["fired"]
    out = []
    for a, b, trig in spans:
        peak = a + int(np.argmax(np.where(np.isfinite(z[a : b + 1]), z[a : b + 1], -np.inf)))
        methods = sorted({m for ms in fired_col.gather(trig).to_list() for m in ms})
        out.append(
            AnomalyWindow(
                start=_dt(t[a]),
                end=_dt(t[b] + step),
                peak=_dt(t[peak]),
                observed=float(value[peak]),
                expected=float(exp[peak]),
                lo=float(lo[peak]),
                hi=float(hi[peak]),
                observed_total=float(value[a : b + 1].sum()),
                expected_total=float(exp[a : b + 1].sum()),
                severity=float(sev[trig].max()),
                methods=tuple(methods),
            )
        )
    return out


def _dt(epoch_s: int | np.integer) -> datetime:
    return datetime.fromtimestamp(int(epoch_s), tz=UTC)
