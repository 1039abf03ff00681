"""Matrix profiles against a brute-force reference; stumpi streams against the batch profile."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines.detect import matrix_profile as mp


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Numba kernels once per module (from the on-disk cache after the first run)."""
    mp.warm_up()


def znorm(a: np.ndarray) -> np.ndarray:
    sd = a.std()
    return (a - a.mean()) / sd if sd > 1e-8 else np.zeros_like(a)


def naive(x: np.ndarray, m: int, normalize: bool, left_only: bool) -> np.ndarray:
    """Obviously correct O(n^2 m): nearest neighbour outside the exclusion zone ceil(m / 4)."""
    k = len(x) - m + 1
    excl = math.ceil(m / 4)
    subs = [znorm(x[i : i + m]) if normalize else x[i : i + m] for i in range(k)]
    out = np.full(k, np.inf)
    for i in range(k):
        for j in range(k):
            if abs(i - j) <= excl or (left_only and j > i):
                continue
            out[i] = min(out[i], float(np.sqrt(((subs[i] - subs[j]) ** 2).sum())))
    return out


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_stump_equals_brute_force(normalize: bool, seed: int) -> None:
    import stumpy

    x = np.random.default_rng(seed).normal(size=70).cumsum()
    got = np.asarray(stumpy.stump(x, 6, normalize=normalize)[:, 0], dtype=float)
    np.testing.assert_allclose(got, naive(x, 6, normalize, left_only=False), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
def test_left_profile_equals_brute_force(normalize: bool) -> None:
    x = np.random.default_rng(7).poisson(5, size=80).astype(float)
    m = 5
    got = mp.left_matrix_profile(x, m, normalize=normalize)
    ref = naive(x, m, normalize, left_only=True)
    ref[~np.isfinite(ref)] = np.nan
    # Value of subsequence i sits at its last point, i + m - 1.
    assert np.isnan(got[: m - 1]).all()
    np.testing.assert_allclose(got[m - 1 :], ref, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_left_profile_is_causal_and_peaks_at_a_spike() -> None:
    rng = np.random.default_rng(3)
    x = np.tile(np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False)), 10) + rng.normal(0, 0.05, 240)
    x[200] += 4.0
    full = mp.left_matrix_profile(x, 8)
    # The profile up to a point does not change when later points are cut off.
    part = mp.left_matrix_profile(x[:150], 8)
    np.testing.assert_allclose(part, full[:150], equal_nan=True)
    assert int(np.nanargmax(full)) in range(200, 208)


def test_stumpi_stream_equals_batch_profile() -> None:
    x = np.random.default_rng(5).poisson(8, size=120).astype(float)
    stream = mp.IncrementalLeftProfile(x[:60], 6)
    stream.update(x[60:])
    np.testing.assert_allclose(
        stream.left_profile(), mp.left_matrix_profile(x, 6), rtol=1e-6, atol=1e-6, equal_nan=True
    )


def test_cache_updates_incrementally_and_rebuilds_on_changed_history() -> None:
    x = np.random.default_rng(9).poisson(8, size=100).astype(float)
    cache = mp.LeftProfileCache()
    cache.left_profile("s", 0, x[:80], 6, False)
    got = cache.left_profile("s", 0, x, 6, False)
    assert (cache.rebuilds, cache.updates) == (1, 1)
    np.testing.assert_allclose(got, mp.left_matrix_profile(x, 6), rtol=1e-6, atol=1e-6, equal_nan=True)
    changed = x.copy()
    changed[10] += 50  # a late post corrected an old bucket
    got2 = cache.left_profile("s", 0, changed, 6, False)
    assert cache.rebuilds == 2
    np.testing.assert_allclose(got2, mp.left_matrix_profile(changed, 6), rtol=1e-6, atol=1e-6, equal_nan=True)
    cache.left_profile("s", 3600, changed, 6, False)  # the window start moved: the daily refit
    assert cache.rebuilds == 3


def test_short_series_and_bad_input() -> None:
    assert np.isnan(mp.left_matrix_profile(np.arange(10.0), 6)).all()
    assert len(mp.left_matrix_profile(np.array([]), 4)) == 0
    with pytest.raises(ValueError, match="at least 3"):
        mp.left_matrix_profile(np.arange(50.0), 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        mp.left_matrix_profile(np.zeros((5, 5)), 3)
