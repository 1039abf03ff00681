"""The surge gate against a naive loop; it drops a lone burst, keeps a surge; causality."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from pipelines.detect import detector as det
from pipelines.detect import gates
from pipelines.detect.defaults import DetectConfig


def _naive_hour_sums(v: np.ndarray, step: int) -> np.ndarray:
    k = max(1, round(3600 / step))
    return np.array([np.nansum(v[max(0, i - k + 1) : i + 1]) for i in range(len(v))])


@pytest.mark.parametrize("step", [300, 3600])
def test_hour_sums_match_naive(step: int) -> None:
    rng = np.random.default_rng(1)
    v = rng.poisson(3, 300).astype(float)
    v[[4, 40]] = np.nan
    assert gates.hour_sums(v, step) == pytest.approx(_naive_hour_sums(v, step))


@pytest.mark.parametrize(("step", "days"), [(300, 1.0), (3600, 2.0), (3600, 0.5)])
def test_past_hour_max_matches_naive(step: int, days: float) -> None:
    rng = np.random.default_rng(2)
    h = rng.poisson(5, 800).astype(float)
    k = max(1, round(3600 / step))
    span = round(days * 86_400 / step)
    got = gates.past_hour_max(h, step, days)
    for i in range(len(h)):
        past = h[max(0, i - span) : max(0, i - k + 1)]
        assert got[i] == (past.max() if len(past) else 0.0), i


def test_gate_on_hourly_counts() -> None:
    v = np.array([0, 1, 0, 30, 2, 25, 40, 0.0, 3.0])
    expected = np.array([0, 0, 0, 0, 0, 16, 0, 0, 0.0])
    cfg = DetectConfig(min_hour_excess=10.0, small_beat_days=0.0)
    assert gates.surge_gate(v, expected, 3600, cfg.with_(min_hour_excess=0.0)).all()
    got = gates.surge_gate(v, expected, 3600, cfg)
    assert got.tolist() == [False, False, False, True, False, False, True, False, False]
    # Below the minimum, the busiest hour of the last day still passes (1 beats 0; 3 beats
    # nothing of the 24 h before it, which held 40).
    beat = gates.surge_gate(v, expected, 3600, cfg.with_(small_beat_days=1.0))
    assert beat.tolist() == [False, True, False, True, False, False, True, False, False]


def test_gate_lets_a_single_spiking_bucket_of_a_busy_series_through() -> None:
    v = np.full(24, 50.0)
    v[:11] = 40.0
    v[11] = 70.0  # +20 in its bucket, but the hour as a whole is below expectation
    got = gates.surge_gate(v, np.full(24, 50.0), 300, DetectConfig(min_hour_excess=10.0, small_beat_days=0.0))
    assert got[11] and not got[10]


def test_gate_on_five_minute_counts_sums_the_hour() -> None:
    v = np.zeros(40)
    v[[10, 14, 18]] = 4.0  # 12 posts within the hour ending at point 18
    got = gates.surge_gate(v, np.zeros(40), 300, DetectConfig(min_hour_excess=10.0, small_beat_days=0.0))
    assert not got[:18].any() and got[18:22].all() and not got[22:].any()


def _burst_series() -> tuple[np.ndarray, np.ndarray]:
    """Five days of near-silent 5-minute buckets, a 6-post burst, then a real surge."""
    rng = np.random.default_rng(7)
    n = 12 * 24 * 5
    t = np.datetime64("2024-01-01T00:00") + np.arange(n) * np.timedelta64(300, "s")
    v = (rng.random(n) < 0.05).astype(float)
    v[12 * 24 : 12 * 25] = 1.0  # a busier hour the day before (12 posts, evenly spread)
    v[12 * 24 * 2] = 6.0  # a burst of six posts, alone in its hour
    surge = 12 * 24 * 4
    v[surge : surge + 24] += np.linspace(4, 30, 24).round()
    return t, v


def test_gate_drops_a_lone_burst_and_keeps_the_surge() -> None:
    t, v = _burst_series()
    cfg = DetectConfig(min_hour_excess=0.0, small_beat_days=0.0)
    plain = det.find_anomalies(det.score_series(t, v, cfg), cfg)
    gated_cfg = DetectConfig()  # the production gate
    gated = det.find_anomalies(det.score_series(t, v, gated_cfg), gated_cfg)
    burst_day = date(2024, 1, 3)
    surge_day = date(2024, 1, 5)
    assert any(w.start.date() == burst_day for w in plain)
    assert not any(w.start.date() == burst_day for w in gated)
    assert any(w.start.date() == surge_day for w in gated)


def test_gated_scoring_is_causal() -> None:
    t, v = _burst_series()
    cfg = DetectConfig(min_hour_excess=10.0)
    full = det.score_series(t, v, cfg)["severity"].fill_null(0.0).to_numpy()
    cut = 12 * 24 * 4 + 10
    prefix = det.score_series(t[:cut], v[:cut], cfg)["severity"].fill_null(0.0).to_numpy()
    assert prefix == pytest.approx(full[:cut])


def _naive_poisson_count(mean: float, alpha: float) -> int:
    """Smallest k with P(X >= k) <= alpha for a Poisson X, by summing the pmf term by term."""
    k, below, term = 0, 0.0, math.exp(-mean)
    while 1.0 - below > alpha:
        below += term
        k += 1
        term *= mean / k
    return k


def _naive_gate(v: np.ndarray, e: np.ndarray, step: int, m: float, b: float, a: float) -> list[bool]:
    """The gate point by point: bucket or hour, each against its own expectation."""
    k = max(1, round(3600 / step))
    out = []
    for i in range(len(v)):
        spans = [(v[i], e[i]), (v[max(0, i - k + 1) : i + 1].sum(), e[max(0, i - k + 1) : i + 1].sum())]
        passed = False
        for count, exp in spans:
            need = m
            if b:
                need = max(need, b * exp)
            if a:
                need = max(need, _naive_poisson_count(max(exp, 1e-9), a) - exp)
            passed |= count - exp >= need - 1e-9
        out.append(passed)
    return out


@pytest.mark.parametrize(
    ("step", "m", "b", "a"),
    [(3600, 10, 0.5, 0), (3600, 20, 1.0, 0), (300, 10, 0, 1e-3), (3600, 20, 0, 1e-6), (300, 0, 1.0, 1e-6)],
)
def test_scale_relative_gate_matches_naive(step: int, m: float, b: float, a: float) -> None:
    rng = np.random.default_rng(3)
    level = np.repeat([0.2, 3.0, 40.0, 400.0], 60)  # near-silent to busy
    e = level * step / 3600
    v = rng.poisson(e * rng.choice([1.0, 1.5, 3.0], len(e))).astype(float)
    cfg = DetectConfig(min_hour_excess=m, gate_ratio=b, gate_alpha=a, small_beat_days=0.0)
    assert gates.surge_gate(v, e, step, cfg).tolist() == _naive_gate(v, e, step, m, b, a)


def test_poisson_term_needs_more_excess_on_a_busier_series() -> None:
    cfg = DetectConfig(min_hour_excess=0.0, gate_alpha=1e-6)
    need = gates.required_excess(np.array([2.0, 30.0, 600.0]), cfg)
    assert need[0] < need[1] < need[2]
    # 60 posts over 30 expected is a 1e-6 surprise; 60 over 600 expected is not.
    assert need[1] <= 30 and need[2] > 60


def test_ratio_gate_drops_a_modest_rise_on_a_busy_series_and_keeps_a_doubling() -> None:
    e = np.full(6, 400.0)
    v = np.array([400, 520, 400, 900, 400, 400.0])
    cfg = DetectConfig(min_hour_excess=20.0, gate_ratio=1.0, small_beat_days=0.0)
    assert gates.surge_gate(v, e, 3600, cfg).tolist() == [False, False, False, True, False, False]
    assert gates.surge_gate(v, e, 3600, cfg.with_(gate_ratio=0.0))[1]


def test_a_small_series_that_has_never_been_that_busy_still_fires() -> None:
    """A quiet place: a post in one hour of five for a week, then 12 in one hour (below every minimum)."""
    rng = np.random.default_rng(5)
    n = 24 * 8
    t = np.datetime64("2024-01-01T00:00") + np.arange(n) * np.timedelta64(3600, "s")
    v = (rng.random(n) < 0.2).astype(float)
    v[-5] = 12.0
    for extra in ({}, {"gate_ratio": 1.0}, {"gate_alpha": 1e-6}):
        cfg = DetectConfig(min_hour_excess=20.0, **extra)
        sev = det.score_series(t, v, cfg)["severity"].fill_null(0.0).to_numpy()
        assert sev[-5] >= cfg.threshold, extra
        # Without the "busiest hour of the week" clause the gate holds it back.
        quiet = cfg.with_(small_beat_days=0.0)
        assert det.score_series(t, v, quiet)["severity"].fill_null(0.0).to_numpy()[-5] == 0.0, extra


def test_scale_relative_gate_is_causal() -> None:
    t, v = _burst_series()
    cfg = DetectConfig(min_hour_excess=10.0, gate_ratio=0.5, gate_alpha=1e-3)
    full = det.score_series(t, v, cfg)["severity"].fill_null(0.0).to_numpy()
    cut = 12 * 24 * 4 + 10
    prefix = det.score_series(t[:cut], v[:cut], cfg)["severity"].fill_null(0.0).to_numpy()
    assert prefix == pytest.approx(full[:cut])


@pytest.mark.parametrize(
    ("field", "value"), [("gate_ratio", -0.5), ("gate_alpha", 1.0), ("gate_alpha", -1e-3)]
)
def test_bad_gate_settings_are_refused_with_their_name(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        DetectConfig().with_(**{field: value})
