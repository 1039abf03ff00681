"""The NAB scorer against hand-computed cases and against NAB's own published scores."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.detect import nab

STANDARD = nab.DEFAULT_PROFILES["standard"]
LOW_FN = nab.DEFAULT_PROFILES["reward_low_FN_rate"]


def sig(p: float) -> float:
    """NAB's scaled sigmoid, written out independently of the module."""
    return -1.0 if p > 3 else 2 / (1 + math.exp(5 * p)) - 1


MAX_TP = sig(-1.0)

# 20 five-minute rows; probation = min(floor(0.15 * 20), 750) = 3 rows; one window rows 10..13.
TIMES = np.array([np.datetime64("2015-01-01T00:00") + np.timedelta64(5 * i, "m") for i in range(20)])
WINDOWS = [(str(TIMES[10]), str(TIMES[13]))]


def scores_with(**fired: float) -> np.ndarray:
    s = np.zeros(20)
    for k, v in fired.items():
        s[int(k[1:])] = v
    return s


def result(scores: np.ndarray, profile: dict = STANDARD, threshold: float | None = 0.5) -> nab.ProfileResult:
    """Scores with detections at ``score >= threshold`` (``None``: NAB's threshold sweep)."""
    return nab.score_corpus({"f.csv": (TIMES, scores)}, {"f.csv": WINDOWS}, {"p": profile}, threshold)["p"]


def test_detection_at_the_window_start_is_perfect() -> None:
    r = result(scores_with(r10=1.0))
    assert r.raw == pytest.approx(1.0)
    assert (r.null, r.perfect) == (-1.0, 1.0)
    assert r.score == pytest.approx(100.0)


def test_null_detector_scores_zero_and_misses_cost_fn_weight() -> None:
    assert result(np.zeros(20)).score == pytest.approx(0.0)
    low_fn = result(np.zeros(20), LOW_FN)
    assert low_fn.null == -2.0 and low_fn.score == pytest.approx(0.0)


def test_late_detection_and_a_false_positive_before_the_window() -> None:
    # Row 5: before any window -> -fpWeight. Row 12: position -(13 - 12 + 1) / 4 = -0.5.
    r = result(scores_with(r5=1.0, r12=1.0))
    raw = -0.11 + sig(-0.5) / MAX_TP
    assert r.raw == pytest.approx(raw)
    assert r.score == pytest.approx(100 * (raw + 1) / 2)


def test_only_the_earliest_detection_of_a_window_counts() -> None:
    assert result(scores_with(r11=1.0, r12=1.0, r13=1.0)).raw == pytest.approx(sig(-0.75) / MAX_TP)


def test_false_positive_after_a_window_is_discounted_by_distance() -> None:
    # Row 15: two rows past the right edge (13), previous width 4 -> position 2 / 3.
    r = result(scores_with(r15=1.0))
    assert r.raw == pytest.approx(-1.0 + 0.11 * sig(2 / 3))
    far = np.zeros(40)
    far[39] = 1.0
    t40 = np.array([TIMES[0] + np.timedelta64(5 * i, "m") for i in range(40)])
    r40 = nab.score_corpus({"f": (t40, far)}, {"f": WINDOWS}, {"p": STANDARD}, threshold=0.5)["p"]
    assert r40.raw == pytest.approx(-1.0 - 0.11)  # 26 rows past a width-4 window: > 3 widths -> -1


def test_probation_rows_are_not_scored() -> None:
    assert result(scores_with(r2=1.0)).raw == pytest.approx(-1.0)
    assert nab.probation_length(20) == 3
    assert nab.probation_length(100_000) == 750


def test_threshold_is_swept_to_the_best() -> None:
    # A false positive scored 0.9 and a true positive scored 0.8: the best threshold is 0.8
    # (take both: -0.11 + TP) rather than 0.9 (FP alone plus the miss).
    r = result(scores_with(r5=0.9, r11=0.8), threshold=None)
    assert r.threshold == pytest.approx(0.8)
    assert r.raw == pytest.approx(-0.11 + sig(-0.75) / MAX_TP)
    # Reversed, 0.9 isolates the true positive.
    r2 = result(scores_with(r5=0.8, r11=0.9), threshold=None)
    assert r2.threshold == pytest.approx(0.9)
    assert r2.raw == pytest.approx(sig(-0.75) / MAX_TP)
    # Swept, a detector scoring 0 everywhere fires everywhere at threshold 0 when that pays:
    # here the window's reward (1.0) outweighs the 13 false positives (about -1.2) only in part.
    every = result(np.zeros(20), threshold=None)
    assert every.raw == pytest.approx(max(-1.0, result(np.ones(20)).raw))
    # A fixed threshold is honoured.
    assert result(scores_with(r5=0.9, r11=0.8), threshold=0.85).raw == pytest.approx(-0.11 - 1.0)


def test_windows_of_several_files_are_summed_and_normalised_together() -> None:
    both = nab.score_corpus(
        {"a": (TIMES, scores_with(r10=1.0)), "b": (TIMES, np.zeros(20))},
        {"a": WINDOWS, "b": WINDOWS},
        {"p": STANDARD},
        threshold=0.5,
    )["p"]
    assert (both.null, both.perfect, both.raw) == (-2.0, 2.0, pytest.approx(0.0))
    assert both.score == pytest.approx(50.0)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="lengths must match"):
        nab.prepare_file(TIMES, np.zeros(5), WINDOWS, STANDARD)


def test_profiles_and_windows_files(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(
        json.dumps({"x": {"CostMatrix": {"tpWeight": 1, "fpWeight": 0.5, "fnWeight": 1}}})
    )
    assert nab.load_profiles(tmp_path / "p.json") == {"x": {"tpWeight": 1, "fpWeight": 0.5, "fnWeight": 1}}
    (tmp_path / "bad.json").write_text(json.dumps({"x": {"weights": 1}}))
    with pytest.raises(ValueError, match="CostMatrix"):
        nab.load_profiles(tmp_path / "bad.json")
    (tmp_path / "w.json").write_text(
        json.dumps({"realTweets/a.csv": [["2015-01-01 00:00:00.000000", "2015-01-01 01:00:00"]]})
    )
    assert nab.load_windows(tmp_path / "w.json") == {
        "a.csv": [("2015-01-01 00:00:00.000000", "2015-01-01 01:00:00")]
    }


# --------------------------------------------------------------------------- published results

PUBLISHED = {
    # detector: (optimised standard, low FP, low FN), (NAB's corpus thresholds: standard, low FN)
    "twitterADVec": ((67.06, 44.03, 76.37), None),
    "numenta": (
        (71.01, 66.21, 74.01),
        {"standard": (0.5421876907348634, 70.46), "reward_low_FN_rate": (0.5421876907348634, 73.64)},
    ),
}


def _published(shared_dir: Path, detector: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = shared_dir / "data" / "nab_realtweets" / "published_results" / detector
    out = {}
    for path in sorted(folder.glob("*.csv.gz")):
        with gzip.open(path) as fh:
            frame = pl.read_csv(fh.read(), try_parse_dates=True)
        name = path.name.split("_", 1)[1].removesuffix(".gz")
        out[name] = (frame["timestamp"].to_numpy(), frame["anomaly_score"].to_numpy())
    return out


@pytest.mark.parametrize("detector", sorted(PUBLISHED))
def test_reproduces_nabs_published_scores(shared_dir: Path, detector: str) -> None:
    """NAB's own scorer gave these numbers for these result files; ours must agree to 0.01."""
    data = shared_dir / "data" / "nab_realtweets"
    windows = nab.load_windows(data / "windows.json")
    profiles = nab.load_profiles(data / "profiles.json")
    results = _published(shared_dir, detector)
    assert len(results) == 6
    got = nab.score_corpus(results, windows, profiles)
    expected, fixed = PUBLISHED[detector]
    names = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
    assert [round(got[p].score, 2) for p in names] == pytest.approx(list(expected), abs=0.006)
    assert sum(len(w) for w in windows.values()) == 20 and got["standard"].null == -20.0
    for profile, (threshold, score) in (fixed or {}).items():
        at = nab.score_corpus(results, windows, {profile: profiles[profile]}, threshold=threshold)[profile]
        assert at.score == pytest.approx(score, abs=0.006)
