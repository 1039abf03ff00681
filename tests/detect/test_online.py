"""Robust online statistics against naive loops; causality; the robust method end to end."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.detect import detector as det
from pipelines.detect import online
from pipelines.detect.defaults import DetectConfig
from tests.detect.conftest import hourly_times, seasonal_counts

ROBUST = DetectConfig(method="robust", level_hours=48, season_days=7)


def test_rolling_past_matches_naive_quantile() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    x[[5, 50, 51]] = np.nan
    for q in (0.25, 0.5, 0.75):
        got = online.rolling_past(x, 20, q, 6)
        for i in range(200):
            past = x[max(0, i - 20) : i]
            past = past[np.isfinite(past)]
            if len(past) < 6:
                assert np.isnan(got[i])
            else:
                assert got[i] == pytest.approx(np.quantile(past, q))


def test_seasonal_past_median_matches_naive_loop() -> None:
    rng = np.random.default_rng(4)
    n = 24 * 12
    t = hourly_times(n).astype(np.int64)
    x = rng.poisson(10, n).astype(float)
    got = online.seasonal_past_median(t, x, 3600, 5)
    for i in range(n):
        same = [x[j] for j in range(i - 24, -1, -24)][:5]
        if len(same) < online.MIN_SEASON:
            assert np.isnan(got[i])
        else:
            assert got[i] == pytest.approx(np.median(same))


def test_robust_z_is_causal_prefix_scores_the_same() -> None:
    x = np.log1p(seasonal_counts(12, seed=5))
    x[200] = 8.0
    t = hourly_times(len(x)).astype(np.int64)
    e_full, s_full, z_full = online.robust_z(t, x, 3600, ROBUST)
    for cut in (30, 150, 201, 250):
        e, s, z = online.robust_z(t[:cut], x[:cut], 3600, ROBUST)
        np.testing.assert_allclose(z, z_full[:cut], equal_nan=True)
        np.testing.assert_allclose(e, e_full[:cut], equal_nan=True)


def test_robust_method_finds_a_spike_and_nothing_on_flat_seasonal_data() -> None:
    quiet = seasonal_counts(21, seed=6)
    assert det.find_anomalies(det.score_series(hourly_times(len(quiet)), quiet, ROBUST), ROBUST) == []
    spiky = quiet.copy()
    spiky[400:403] *= 8
    found = det.find_anomalies(det.score_series(hourly_times(len(spiky)), spiky, ROBUST), ROBUST)
    assert len(found) == 1
    assert found[0].methods == ("robust",)
    peak_h = (found[0].peak - det._dt(hourly_times(1).astype(np.int64)[0])).total_seconds() / 3600
    assert 400 <= peak_h <= 402


def test_score_series_equals_finish_of_raw_streams() -> None:
    x = seasonal_counts(10, seed=7)
    t = hourly_times(len(x))
    for cfg in (ROBUST, DetectConfig(method="robust", direction="both", transform="sqrt")):
        streams = det.raw_streams(t, x, cfg)
        assert streams is not None
        sev, _, _ = det.finish_severity(streams, cfg)
        np.testing.assert_allclose(det.score_series(t, x, cfg)["severity"].fill_null(0).to_numpy(), sev)


def test_an_extra_opinion_joins_the_maximum_before_the_quiet_period() -> None:
    """``finish_severity(extra=...)`` (the studies' further opinion, ``bench/nab_mp_term.py``)
    raises a quiet point to ``r / (1 + r)`` and goes through the warm-up and quiet period."""
    cfg = ROBUST.with_(min_hour_excess=0.0)  # no surge gate: the extra opinion alone decides
    x = seasonal_counts(10, seed=7)
    t = hourly_times(len(x))
    streams = det.raw_streams(t, x, cfg)
    assert streams is not None
    base, _, _ = det.finish_severity(streams, cfg)
    assert np.array_equal(det.finish_severity(streams, cfg, None)[0], base)
    quiet = int(np.flatnonzero(base[100:] == 0)[0]) + 100
    extra = np.zeros(len(x))
    extra[quiet] = extra[quiet + 1] = 3.0  # two points in a row: the second is inside the quiet period
    extra[2] = 3.0  # before the cold start: ignored
    sev, _, _ = det.finish_severity(streams, cfg, extra)
    assert sev[quiet] == pytest.approx(0.75)
    assert sev[quiet + 1] == 0.0 and sev[2] == 0.0
    others = np.ones(len(x), bool)
    others[[quiet, quiet + 1]] = False
    assert np.array_equal(sev[others], base[others])


def test_distribution_record_and_trailing_mean_match_naive_loops() -> None:
    rng = np.random.default_rng(8)
    v = rng.exponential(1.0, 120)
    v[[7, 60]] = np.nan
    got = det.relative_to_distribution(v, 30, 2.0)
    sm = det.trailing_mean(v, 4)
    z = np.nan_to_num(v)
    for i in range(120):
        past = z[max(0, i - 30) : i]
        level = past.mean() + 4 * past.std() if len(past) > 1 else np.inf
        assert got[i] == pytest.approx(z[i] / max(level, 2.0))
        if np.isfinite(v[i]):
            assert sm[i] == pytest.approx(z[max(0, i - 3) : i + 1].mean())


def test_min_excess_silences_small_bursts_only() -> None:
    x = np.zeros(24 * 4)
    x[::9] = 1.0
    small, big = x.copy(), x.copy()
    small[60] = 6.0
    big[60] = 60.0
    t = hourly_times(len(x))
    cfg = DetectConfig(cold_start_hours=1.0, min_hour_excess=0.0)
    for values, want in ((small, 0), (big, 1)):
        assert len(det.find_anomalies(det.score_series(t, values, cfg.with_(min_excess=10.0)), cfg)) == want
    assert len(det.find_anomalies(det.score_series(t, small, cfg), cfg)) == 1  # without it: raised


def test_plateau_prefers_a_broad_optimum_to_a_cliff_edge_peak() -> None:
    from pipelines.detect import lofo

    curve = np.array([[0.0, 5.0, 5.0, 5.0, 5.0, 5.0, 0.0, 0.0, 6.0, 0.0, 0.0]])
    assert int(np.argmax(curve)) == 8
    assert int(np.argmax(lofo.plateau(curve))) in range(2, 5)


def test_production_default_scores_a_prefix_the_same() -> None:
    """Causality end to end: the severity of every point is fixed once the point is seen."""
    v = seasonal_counts(20, seed=9)
    v[[150, 300, 420]] *= [5, 3, 7]
    t = hourly_times(len(v))
    cfg = DetectConfig()
    full = det.score_series(t, v, cfg)["severity"].fill_null(0).to_numpy()
    assert full.max() >= cfg.threshold  # something fires, so the comparison means something
    for cut in (100, 151, 301, 421):
        part = det.score_series(t[:cut], v[:cut], cfg)["severity"].fill_null(0).to_numpy()
        np.testing.assert_allclose(part, full[:cut])


def test_lower_half_spread_matches_naive_and_ignores_a_surge_in_the_window() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(10, 1, 300)
    x[100:130] += 25.0  # a surge filling a quarter of a 120-point window
    w = 120
    lower = online._spread(x, None, w, 6, "lower")
    iqr = online._spread(x, None, w, 6, "iqr")
    for i in range(6, 300, 17):
        past = x[max(0, i - w) : i]
        assert lower[i] == pytest.approx(2 * (np.quantile(past, 0.5) - np.quantile(past, 0.25)))
        assert iqr[i] == pytest.approx(np.quantile(past, 0.75) - np.quantile(past, 0.25))
    # Just after the surge the upper quartile is inflated, the lower half is not.
    assert iqr[140] > 3 * lower[140] and lower[140] < 3.0


def test_lower_spread_scores_a_prefix_the_same() -> None:
    t = hourly_times(24 * 10)
    v = seasonal_counts(10, seed=5).astype(float)
    v[24 * 6 : 24 * 6 + 20] += 60
    cfg = ROBUST.with_(level_spread="lower")
    full = det.score_series(t, v, cfg)["severity"].fill_null(0.0).to_numpy()
    cut = 24 * 8
    prefix = det.score_series(t[:cut], v[:cut], cfg)["severity"].fill_null(0.0).to_numpy()
    assert prefix == pytest.approx(full[:cut])
