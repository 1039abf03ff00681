"""The Numenta Anomaly Benchmark (NAB) scorer, written from its published rules.

NAB rewards a detector that fires once, early, inside each labelled anomaly window
and stays quiet elsewhere. The rules (Lavin & Ahmad 2015, "Evaluating Real-time
Anomaly Detection Algorithms -- the Numenta Anomaly Benchmark", and NAB's own
sweeper) are:

* the first 15 % of a file (at most 750 rows) is a probation period, never scored;
* a row inside a window, when detected, is worth ``tpWeight * S(p) / S(-1)``, where
  ``p = -(right - i + 1) / width`` is its relative position and
  ``S(p) = 2 * sigmoid(-5 p) - 1`` the scaled sigmoid (earlier is worth more); only the
  best (earliest) detection of a window counts, a window without one costs ``fnWeight``;
* a detection outside every window costs ``fpWeight * S(d)``, where ``d`` is the
  distance past the end of the previous window in window widths (``-fpWeight`` before
  the first window or more than three widths past one);
* the anomaly-score threshold is swept over every distinct score of the whole corpus
  and the best total is kept; the score is normalised as
  ``100 * (raw - null) / (perfect - null)``: the null detector never fires, the perfect
  one fires at the start of every window.

This module is pure (numpy only); :mod:`pipelines.detect.nab_eval` runs the detector
over NAB files and calls it. ``tests/detect/test_nab.py`` checks it on hand-computed
cases and against the published result files of two NAB detectors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_PERCENT = 0.15
"""Share of each file, at the start, that is never scored (NAB default)."""

DEFAULT_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}
"""NAB's three application profiles (``profiles.json`` of the NAB repository)."""


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's reward curve ``2 * sigmoid(-5 p) - 1``, and ``-1`` beyond ``p > 3``.

    ``p = -1`` is the left edge of a window (0.9866), ``p = 0`` its right edge (0),
    ``p = 1`` one window width past it (-0.9866).
    """
    p = np.asarray(position, dtype=float)
    out = 2.0 / (1.0 + np.exp(5.0 * p)) - 1.0
    return np.where(p > 3.0, -1.0, out)


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    """Rows at the start of a file that are not scored: ``min(floor(p n), p * 5000)``."""
    return min(math.floor(percent * n_rows), percent * 5000)


@dataclass(frozen=True)
class FileSweep:
    """One file's rows, ready to be swept over thresholds.

    Attributes
    ----------
    scores:
        The detector's anomaly score per scorable row (probation rows removed).
    weight_tp:
        Per row, the reward if detected inside a window (``tpWeight`` already applied);
        NaN outside windows.
    weight_fp:
        Per row, the (negative) cost if detected outside every window, ``fpWeight``
        already applied; NaN inside windows.
    window:
        Per row, the index of its window in this file, ``-1`` outside windows.
    n_windows:
        Windows of this file with at least one scorable row.
    """

    scores: np.ndarray
    weight_tp: np.ndarray
    weight_fp: np.ndarray
    window: np.ndarray
    n_windows: int


def window_bounds(timestamps: np.ndarray, windows: Sequence[tuple[object, object]]) -> list[tuple[int, int]]:
    """Row index ranges ``[left, right]`` (inclusive) of each labelled window.

    NAB's windows start and end on rows of the file; here ``left`` is the first row at
    or after the window start and ``right`` the last row at or before its end, which
    is the same thing for NAB's own labels and still defined for hand-made ones.
    """
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    out = []
    for start, end in windows:
        s = np.datetime64(_parse_ts(start), "ns")
        e = np.datetime64(_parse_ts(end), "ns")
        left = int(np.searchsorted(ts, s, side="left"))
        right = int(np.searchsorted(ts, e, side="right")) - 1
        if left <= right:
            out.append((left, right))
    return out


def _parse_ts(value: object) -> np.datetime64:
    if isinstance(value, str):
        return np.datetime64(value.strip().replace(" ", "T"))
    return np.datetime64(value)


def prepare_file(
    timestamps: np.ndarray,
    scores: np.ndarray,
    windows: Sequence[tuple[object, object]],
    cost: Mapping[str, float],
    probation_percent: float = PROBATION_PERCENT,
) -> FileSweep:
    """Weigh every row of one file for one profile (NAB's ``calcSweepScore``).

    Parameters
    ----------
    timestamps:
        Row times, increasing.
    scores:
        Anomaly score per row (any real numbers; NAB's are in 0..1).
    windows:
        Labelled windows as ``(start, end)`` pairs, in time order.
    cost:
        The profile's ``CostMatrix`` (``tpWeight``, ``fpWeight``, ``fnWeight``).

    Returns
    -------
    FileSweep
        The scorable rows with their reward or cost if detected.
    """
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    if len(timestamps) != n:
        raise ValueError(f"{len(timestamps)} timestamps but {n} anomaly scores: lengths must match")
    bounds = window_bounds(np.asarray(timestamps), windows)
    max_tp = float(scaled_sigmoid(-1.0))
    idx = np.arange(n)
    window = np.full(n, -1, dtype=np.int64)
    weight_tp = np.full(n, np.nan)
    # Outside windows: distance past the previous window's right edge, in its widths.
    prev_right = np.full(n, -1, dtype=np.int64)
    prev_width = np.full(n, np.nan)
    for w, (left, right) in enumerate(bounds):
        width = float(right - left + 1)
        rows = idx[left : right + 1]
        window[left : right + 1] = w
        weight_tp[left : right + 1] = scaled_sigmoid(-(right - rows + 1) / width) * cost["tpWeight"] / max_tp
        prev_right[right + 1 :] = right
        prev_width[right + 1 :] = width
    outside = window < 0
    after = outside & (prev_right >= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        position = np.abs(prev_right - idx) / (prev_width - 1.0)
    unweighted = np.where(after, scaled_sigmoid(np.nan_to_num(position, nan=4.0)), -1.0)
    weight_fp = np.where(outside, unweighted * cost["fpWeight"], np.nan)
    keep = idx >= probation_length(n, probation_percent)
    kept_windows = window[keep]
    # Renumber windows so that those entirely inside the probation period vanish.
    present = np.unique(kept_windows[kept_windows >= 0])
    remap = np.full(len(bounds) + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return FileSweep(
        scores=scores[keep],
        weight_tp=weight_tp[keep],
        weight_fp=weight_fp[keep],
        window=np.where(kept_windows >= 0, remap[kept_windows], -1),
        n_windows=len(present),
    )


@dataclass(frozen=True)
class ThresholdCurve:
    """Raw NAB score for every candidate threshold, highest threshold first.

    ``raw[k]`` is the score when every row with ``score >= thresholds[k]`` is a
    detection; ``null`` and ``perfect`` are the normalisation anchors.
    """

    thresholds: np.ndarray
    raw: np.ndarray
    null: float
    perfect: float

    def best(self) -> tuple[float, float]:
        """``(threshold, raw score)`` of the best threshold (the highest on ties)."""
        k = int(np.argmax(self.raw))
        return float(self.thresholds[k]), float(self.raw[k])

    def at(self, threshold: float) -> float:
        """Raw score with a fixed threshold (detections are scores ``>= threshold``)."""
        k = np.searchsorted(-self.thresholds, -threshold, side="right") - 1
        return float(self.raw[max(k, 0)]) if k >= 0 else float(self.raw[0])

    def normalised(self, raw: float) -> float:
        """``100 * (raw - null) / (perfect - null)``."""
        return 100.0 * (raw - self.null) / (self.perfect - self.null)


def sweep(files: Sequence[FileSweep], cost: Mapping[str, float]) -> ThresholdCurve:
    """Score every threshold over several files at once (NAB's ``calcScoreByThreshold``).

    Rows are taken in decreasing anomaly score; after each group of equal scores the
    total is the sum of false-positive costs so far plus, per window, the best reward
    among its detected rows (or ``-fnWeight`` while none is detected).
    """
    scores = np.concatenate([f.scores for f in files]) if files else np.zeros(0)
    tp = np.concatenate([f.weight_tp for f in files]) if files else np.zeros(0)
    fp = np.concatenate([f.weight_fp for f in files]) if files else np.zeros(0)
    offsets = np.cumsum([0] + [f.n_windows for f in files])
    window = (
        np.concatenate(
            [np.where(f.window >= 0, f.window + off, -1) for f, off in zip(files, offsets, strict=False)]
        )
        if files
        else np.zeros(0, dtype=np.int64)
    )
    n_windows = int(offsets[-1])
    fn = float(cost["fnWeight"])
    null = -fn * n_windows
    perfect = float(cost["tpWeight"]) * n_windows
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    # Threshold 1.1-style "nothing detected" point first, as NAB records it.
    thresholds = [max(1.1, float(s_sorted[0]) + 1.0) if len(s_sorted) else 1.1]
    raws = [null]
    best = np.full(n_windows, -fn)
    total_windows = null
    fp_sum = 0.0
    i = 0
    n = len(order)
    while i < n:
        j = i
        value = s_sorted[i]
        while j < n and s_sorted[j] == value:
            row = order[j]
            w = window[row]
            if w >= 0:
                if tp[row] > best[w]:
                    total_windows += tp[row] - best[w]
                    best[w] = tp[row]
            else:
                fp_sum += fp[row]
            j += 1
        thresholds.append(float(value))
        raws.append(total_windows + fp_sum)
        i = j
    return ThresholdCurve(np.asarray(thresholds), np.asarray(raws), null, perfect)


@dataclass(frozen=True)
class ProfileResult:
    """Best threshold and normalised NAB score of one detector under one profile."""

    profile: str
    threshold: float
    raw: float
    score: float
    null: float
    perfect: float


def score_corpus(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]],
    windows: Mapping[str, Sequence[tuple[object, object]]],
    profiles: Mapping[str, Mapping[str, float]] | None = None,
    threshold: float | None = None,
) -> dict[str, ProfileResult]:
    """NAB scores of one detector over several files, per profile.

    Parameters
    ----------
    results:
        File name -> ``(timestamps, anomaly_scores)``.
    windows:
        File name -> labelled windows (``windows.json``); a file without an entry has none.
    profiles:
        Profile name -> cost matrix; NAB's three by default.
    threshold:
        Fixed threshold instead of the per-profile optimum.

    Returns
    -------
    dict
        Profile name -> :class:`ProfileResult` (score normalised to 0..100).
    """
    profiles = profiles or DEFAULT_PROFILES
    out = {}
    for name, cost in profiles.items():
        files = [
            prepare_file(ts, sc, windows.get(fname, []), cost) for fname, (ts, sc) in sorted(results.items())
        ]
        curve = sweep(files, cost)
        if threshold is None:
            thr, raw = curve.best()
        else:
            thr, raw = threshold, curve.at(threshold)
        out[name] = ProfileResult(name, thr, raw, curve.normalised(raw), curve.null, curve.perfect)
    return out


def load_profiles(path: str | Path) -> dict[str, dict[str, float]]:
    """Read NAB's ``profiles.json`` into name -> cost matrix."""
    raw = json.loads(Path(path).read_text())
    try:
        return {name: dict(p["CostMatrix"]) for name, p in raw.items()}
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a NAB profiles file (each profile needs a CostMatrix): {exc}") from exc


def load_windows(path: str | Path) -> dict[str, list[tuple[str, str]]]:
    """Read NAB's ``windows.json``; keys are reduced to file names (``realTweets/x.csv`` -> ``x.csv``)."""
    raw = json.loads(Path(path).read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected an object of file -> windows, got {type(raw).__name__}")
    return {Path(k).name: [(str(a), str(b)) for a, b in v] for k, v in raw.items()}
