"""Left matrix profile with STUMPY: how unlike anything before is the latest stretch of a series.

The matrix profile (Yeh et al. 2016, "Matrix Profile I", ICDM) gives, for every
subsequence of length ``m``, the distance to its nearest neighbour; a large distance is
a *discord*, a shape never seen before. Detection must not look into the future, so
Vigil uses the **left** matrix profile: the distance from the subsequence *ending* at
each point to its nearest neighbour that started earlier (Zhu et al. 2017, "Matrix
Profile VI"). That is causal by construction, which is why the same function serves
production (recent window) and the NAB harness (whole file) alike.

* :func:`left_matrix_profile` computes it in one batch with ``stumpy.stump``;
* :class:`IncrementalLeftProfile` keeps it current with ``stumpy.stumpi`` as buckets
  arrive, between daily rebuilds (:class:`LeftProfileCache`);
* both give the same numbers (``tests/detect/test_matrix_profile.py``), and both are
  checked against a brute-force reference.

Distances are not z-normalised by default: for volume, a spike's *height* is the
signal, and z-normalisation would make a tenfold spike look like a twofold one.

STUMPY compiles its kernels with Numba on first use (about 30 s here). :func:`warm_up`
enables Numba's on-disk cache for STUMPY's kernels (``NUMBA_CACHE_DIR``) and runs them
once, so the compilation happens once per machine, not once per detector cycle.
"""

from __future__ import annotations

import importlib
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

log = logging.getLogger(__name__)

_CACHE_ENABLED = False
_WARM = False


def enable_cache() -> None:
    """Turn on Numba's on-disk cache for every STUMPY kernel (idempotent).

    STUMPY 1.14 ships ``stumpy.cache.save()``, which also recompiles everything and
    warns; this does only the ``enable_caching()`` part of it, before first use, so the
    compiled code lands in ``NUMBA_CACHE_DIR`` and later processes load it from there.
    """
    global _CACHE_ENABLED
    if _CACHE_ENABLED:
        return
    from stumpy import cache

    for module_name, func_name in cache.get_njit_funcs():
        func = getattr(importlib.import_module(f"stumpy.{module_name}"), func_name)
        enable = getattr(func, "enable_caching", None)
        if enable is not None:
            enable()
    _CACHE_ENABLED = True


def warm_up() -> float:
    """Compile (or load from the disk cache) the STUMPY kernels Vigil uses; seconds taken."""
    global _WARM
    started = time.perf_counter()
    if _WARM:
        return 0.0
    enable_cache()
    import stumpy

    x = np.sin(np.arange(64, dtype=float) / 3.0)
    for normalize in (False, True):
        stumpy.stump(x, 8, normalize=normalize)
        stream = stumpy.stumpi(x, 8, egress=False, normalize=normalize)
        stream.update(0.5)
    _WARM = True
    took = time.perf_counter() - started
    log.info("STUMPY kernels ready in %.1f s", took)
    return took


def _check(x: np.ndarray, m: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"a series must be one-dimensional, got shape {x.shape}")
    if m < 3:
        raise ValueError(f"subsequence length m must be at least 3, got {m}")
    return x


def min_length(m: int) -> int:
    """Shortest series with a defined left profile somewhere (STUMPY needs ``n >= 2 m``)."""
    return 2 * m + m // 4 + 1


def pair_distance(x: np.ndarray, m: int, i: np.ndarray, j: np.ndarray, normalize: bool) -> np.ndarray:
    """Euclidean distance between subsequences ``x[i:i+m]`` and ``x[j:j+m]`` (vectorised).

    With ``normalize`` both are z-normalised first (a constant subsequence is all zeros,
    STUMPY's convention).
    """
    windows = sliding_window_view(x, m)
    out = np.empty(len(i))
    for lo in range(0, len(i), 4096):
        a = windows[i[lo : lo + 4096]]
        b = windows[j[lo : lo + 4096]]
        if normalize:
            a = _znorm(a)
            b = _znorm(b)
        out[lo : lo + 4096] = np.sqrt(((a - b) ** 2).sum(axis=1))
    return out


def _znorm(a: np.ndarray) -> np.ndarray:
    mu = a.mean(axis=1, keepdims=True)
    sd = a.std(axis=1, keepdims=True)
    return np.where(sd > 1e-8, (a - mu) / np.where(sd > 1e-8, sd, 1.0), 0.0)


def _align(left_p: np.ndarray, n: int, m: int) -> np.ndarray:
    """Place subsequence ``i``'s value at point ``i + m - 1`` (where it becomes known)."""
    out = np.full(n, np.nan)
    out[m - 1 : m - 1 + len(left_p)] = left_p
    return out


def left_matrix_profile(x: np.ndarray, m: int, normalize: bool = False) -> np.ndarray:
    """Distance from the subsequence ending at each point to its nearest earlier match.

    Parameters
    ----------
    x:
        Regular series (NaN allowed: subsequences containing one are skipped).
    m:
        Subsequence length in points.
    normalize:
        z-normalise subsequences (shape only) or not (shape and level).

    Returns
    -------
    numpy.ndarray
        Length ``len(x)``; NaN where undefined (the first ``m - 1`` points, points with no
        earlier non-trivial match, series shorter than :func:`min_length`).

    Notes
    -----
    ``stumpy.stump`` returns the left nearest neighbour's index; the distance is
    recomputed here (``O(n m)``), which is cheaper than a second profile.

    Examples
    --------
    >>> x = np.r_[np.zeros(40), 5.0, np.zeros(20)] + np.tile([0.0, 1.0], 31)[:61]
    >>> int(np.nanargmax(left_matrix_profile(x, 4)))  # the spike ends the rarest subsequence
    40
    """
    x = _check(x, m)
    n = len(x)
    if n < min_length(m):
        return np.full(n, np.nan)
    import stumpy

    enable_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "many values of P below 1e-6": a flat series, expected here
        profile = stumpy.stump(x, m, normalize=normalize)
    left_i = np.asarray(profile[:, 2], dtype=np.int64)
    have = left_i >= 0
    i = np.flatnonzero(have)
    left = np.full(len(left_i), np.nan)
    if len(i):
        left[i] = pair_distance(x, m, i, left_i[i], normalize)
    left[~np.isfinite(left)] = np.nan
    return _align(left, n, m)


class IncrementalLeftProfile:
    """A left matrix profile kept current point by point with ``stumpy.stumpi``.

    ``stumpi(egress=False)`` keeps the whole history, so its left profile after
    :meth:`update` equals :func:`left_matrix_profile` of the grown series.
    """

    def __init__(self, x: np.ndarray, m: int, normalize: bool = False) -> None:
        x = _check(x, m)
        if len(x) < min_length(m):
            raise ValueError(f"stumpi needs at least {min_length(m)} points for m={m}, got {len(x)}")
        import stumpy

        enable_cache()
        self.m = m
        self.normalize = normalize
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._stream = stumpy.stumpi(x, m, egress=False, normalize=normalize)

    def update(self, values: np.ndarray) -> None:
        """Append new points (oldest first)."""
        for v in np.asarray(values, dtype=float):
            self._stream.update(float(v))

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._stream.T_, dtype=float)

    def left_profile(self) -> np.ndarray:
        """Aligned like :func:`left_matrix_profile` (value at the subsequence's last point)."""
        left = np.asarray(self._stream.left_P_, dtype=float).copy()
        left[~np.isfinite(left)] = np.nan
        return _align(left, len(self.values), self.m)


class LeftProfileCache:
    """One :class:`IncrementalLeftProfile` per series; rebuilt when its history changed.

    A detector cycle passes the series window (its start aligned to the refit schedule);
    while the window start is unchanged and the old values are a prefix of the new ones,
    only the new buckets go through ``stumpi.update``. A moved start (the daily refit) or
    a corrected past bucket (late posts) rebuilds the profile.
    """

    def __init__(self, max_entries: int = 5_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[int, IncrementalLeftProfile]] = OrderedDict()
        self.rebuilds = 0
        self.updates = 0

    def left_profile(
        self, series: Hashable, start_s: int, x: np.ndarray, m: int, normalize: bool
    ) -> np.ndarray:
        x = _check(x, m)
        if len(x) < min_length(m):
            return np.full(len(x), np.nan)
        key = (series, m, normalize)
        entry = self._items.get(key)
        if entry is not None:
            old_start, stream = entry
            old = stream.values
            if (
                old_start == start_s
                and len(old) <= len(x)
                and np.array_equal(old, x[: len(old)], equal_nan=True)
            ):
                if len(old) < len(x):
                    stream.update(x[len(old) :])
                    self.updates += 1
                self._items.move_to_end(key)
                return stream.left_profile()
        stream = IncrementalLeftProfile(x, m, normalize)
        self.rebuilds += 1
        self._items[key] = (start_s, stream)
        self._items.move_to_end(key)
        if len(self._items) > self.max_entries:
            self._items.popitem(last=False)
        return stream.left_profile()
