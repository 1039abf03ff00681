"""Anomaly likelihood over the sequence novelty: naive reference, causality, what it changes, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines.detect import detector as det
from pipelines.detect import likelihood as lk
from pipelines.detect.defaults import DetectConfig
from tests.detect.conftest import hourly_times
from tests.detect.test_context import cycle_then


def naive_likelihood(x: np.ndarray, short: int, long: int, skip: int, min_points: int) -> np.ndarray:
    """The statistic spelled out point by point with the standard library (no cumulative sums)."""
    x = [0.0 if math.isnan(v) else float(v) for v in x]
    out = [0.0] * len(x)
    a: list[float] = []
    for t in range(skip, len(x)):
        recent = x[max(skip, t - short + 1) : t + 1]
        a.append(sum(recent) / len(recent))
        past = a[max(0, len(a) - 1 - long) : len(a) - 1]
        if len(past) < max(2, min_points):
            continue
        mu = sum(past) / len(past)
        var = sum((v - mu) ** 2 for v in past) / len(past)
        mu, var = max(mu, lk.MEAN_FLOOR), max(var, lk.VAR_FLOOR)
        z = (a[-1] - mu) / math.sqrt(var)
        q = 0.5 * math.erfc(z / math.sqrt(2))
        out[t] = min(1.0, max(0.0, math.log(q + lk.EPS) / math.log(lk.EPS)))
    return np.array(out)


@pytest.mark.parametrize(
    ("short", "long", "skip", "min_points"), [(1, 50, 0, 10), (10, 200, 30, 20), (4, 7, 5, 3)]
)
def test_likelihood_matches_naive_reference(short: int, long: int, skip: int, min_points: int) -> None:
    rng = np.random.default_rng(short + long)
    x = np.clip(rng.exponential(0.08, 400), 0, 1)
    x[rng.random(400) < 0.6] = 0.0
    x[300:310] = 0.9  # a sustained burst of novelty
    x[50] = np.nan
    got = lk.likelihood_score(x, short, long, skip=skip, min_points=min_points)
    want = naive_likelihood(x, short, long, skip, min_points)
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert got[300:312].max() > 0.5  # the burst is unusual for this series
    assert not got[:skip].any()


def test_unusual_for_this_series_not_in_absolute_terms() -> None:
    """The same raw burst scores high on a calm series and low on one that is always a bit novel."""
    rng = np.random.default_rng(3)
    calm = np.zeros(600)
    noisy = np.clip(rng.normal(0.4, 0.25, 600), 0, 1)
    for x in (calm, noisy):
        x[500:505] = 0.7
    s_calm = lk.likelihood_score(calm, 5, 400)
    s_noisy = lk.likelihood_score(noisy, 5, 400)
    assert s_calm[500:506].max() > 0.9
    assert s_noisy[500:506].max() < s_calm[500:506].max() - 0.5


def test_prefix_scores_the_same() -> None:
    rng = np.random.default_rng(7)
    x = np.clip(rng.exponential(0.1, 500), 0, 1)
    full = lk.likelihood_score(x, 10, 120, skip=40, min_points=30)
    for cut in (1, 41, 100, 333, 499):
        np.testing.assert_allclose(lk.likelihood_score(x[:cut], 10, 120, skip=40, min_points=30), full[:cut])


@pytest.mark.parametrize(
    "values",
    [np.array([]), np.array([0.4]), np.full(300, np.nan), np.full(300, 0.2), np.zeros(300)],
    ids=["empty", "single", "all-nan", "constant", "zeros"],
)
def test_bad_input_no_crash_no_score(values: np.ndarray) -> None:
    s = lk.likelihood_score(values, 10, 100, skip=5, min_points=20)
    assert s.shape == values.shape
    assert not (s >= 0.3).any()


CONTEXT_LK = DetectConfig(
    method="context", transform="none", direction="both", context_warm_hours=240, likelihood_avg_hours=3.0
)


def test_detector_with_likelihood_is_causal_and_still_flags_the_change() -> None:
    x = cycle_then(21, "flat")
    t = hourly_times(len(x))
    full = det.score_series(t, x, CONTEXT_LK)
    for cut in (24 * 10 + 3, 24 * 21 + 4, len(x) - 1):
        part = det.score_series(t[:cut], x[:cut], CONTEXT_LK)
        np.testing.assert_allclose(
            part["severity"].fill_null(0).to_numpy(), full["severity"].fill_null(0).to_numpy()[:cut]
        )
    wins = det.find_anomalies(full, CONTEXT_LK)
    change_start = t[24 * 21].astype("datetime64[s]").item()
    assert [w for w in wins if 0 <= (w.start.replace(tzinfo=None) - change_start).total_seconds() <= 6 * 3600]


@pytest.mark.parametrize(
    "values",
    [
        np.full(400, np.nan),
        np.full(400, 7.0),
        np.array([3.0]),
        np.where(np.arange(400) % 7 == 0, np.nan, 5.0),
    ],
    ids=["all-nan", "constant", "single", "constant-with-nans"],
)
def test_detector_bad_input_no_anomaly(values: np.ndarray) -> None:
    t = hourly_times(len(values))
    for cfg in (CONTEXT_LK, CONTEXT_LK.with_(method="robust+context")):
        assert det.find_anomalies(det.score_series(t, values, cfg), cfg) == []
