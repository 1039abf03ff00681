"""The detector: no alarms on flat data, spikes found, causal, short series survive, NAB window found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.detect import detector as det
from pipelines.detect.defaults import PROPHET_CONFIG, DetectConfig
from pipelines.detect.series import nab_frame
from tests.detect.conftest import hourly_times, seasonal_counts

CFG = PROPHET_CONFIG  # the Prophet + STUMPY detector (robust: test_online.py)


def anomalies(values: np.ndarray, config: DetectConfig = CFG) -> list[det.AnomalyWindow]:
    scores = det.score_series(hourly_times(len(values)), values, config)
    assert scores.height == len(values)
    return det.find_anomalies(scores, config)


# --------------------------------------------------------------------------- pure pieces


def test_relative_to_record_and_quiet_period_match_naive_loops() -> None:
    rng = np.random.default_rng(1)
    v = rng.exponential(2.0, 300)
    v[[40, 41, 200]] = [np.nan, 9.0, 30.0]
    got = det.relative_to_record(v, 24, 3.0)
    q = det.quiet_period(got, 12)
    for i in range(300):
        past = [x for x in v[max(0, i - 24) : i] if np.isfinite(x)]
        record = max([3.0, *past])
        want = v[i] / record if np.isfinite(v[i]) else 0.0
        assert got[i] == pytest.approx(want)
        prev = got[max(0, i - 12) : i]
        assert q[i] == (got[i] if len(prev) == 0 or got[i] > prev.max() else 0.0)
    assert det.severity(np.array([0.0, 1.0, 3.0, np.nan, -2.0])).tolist() == [0.0, 0.5, 0.75, 0.0, 0.0]


def test_find_anomalies_extends_and_merges_windows() -> None:
    n = 48
    t = hourly_times(n)
    z = np.zeros(n)
    z[10:15] = [2.0, 6.0, 9.0, 5.0, 1.0]  # one event: trigger at 12, neighbours >= 4.5 join
    z[30] = 8.0
    sev = np.zeros(n)
    sev[[12, 30]] = [0.8, 0.6]
    frame = pl.DataFrame(
        {
            "time": pl.Series(t.astype("datetime64[us]")),
            "value": np.arange(n, dtype=float),
            "expected": np.ones(n),
            "lo": np.zeros(n),
            "hi": np.full(n, 2.0),
            "z": z,
            "mp": np.zeros(n),
            "score_baseline": sev,
            "score_mp": np.zeros(n),
            "severity": sev,
            "mode": ["robust"] * n,
            "fired": [["robust"] if s else [] for s in sev],
        }
    )
    found = det.find_anomalies(frame, CFG)
    assert len(found) == 2
    first = found[0]
    assert (first.start.hour, first.end.hour, first.peak.hour) == (11, 14, 12)  # buckets 11..13
    assert first.observed == 12.0 and first.observed_total == 11 + 12 + 13
    assert first.severity == pytest.approx(0.8) and first.methods == ("robust",)
    assert (found[1].start.hour, found[1].end.hour) == (6, 7)  # bucket 30 = day 2, 06:00


# --------------------------------------------------------------------------- no false alarms


@pytest.mark.parametrize("value", [0.0, 10.0])
def test_flat_and_all_zero_series_raise_nothing(value: float) -> None:
    # Constant series are not scored at all (validate.check); a one-post wobble still goes
    # through Prophet on the last day (14 days of history) and raises nothing.
    values = np.full(15 * 24, value)
    values[::7] += 1
    scores = det.score_series(hourly_times(len(values)), values, CFG)
    assert set(scores["mode"][-24:]) == {"prophet"}
    assert scores["severity"].fill_null(0).max() < CFG.threshold
    assert det.find_anomalies(scores, CFG) == []


@pytest.mark.parametrize("n", [0, 1, 2, 5, 20])
def test_series_shorter_than_a_day_scores_without_error(n: int) -> None:
    values = np.arange(n, dtype=float) * 3
    scores = det.score_series(hourly_times(n), values, CFG)
    assert scores.height == n
    assert scores.columns[:4] == ["time", "value", "expected", "lo"]
    # Too little history for any baseline at the start: those points are not scored at all.
    if n:
        assert scores["severity"].fill_null(0.0)[: min(n, 6)].max() == 0.0


def test_mismatched_input_is_refused() -> None:
    with pytest.raises(ValueError, match="lengths must match"):
        det.score_series(hourly_times(5), np.zeros(4), CFG)


# --------------------------------------------------------------------------- detection


def test_spike_in_a_seasonal_series_is_the_top_anomaly() -> None:
    values = seasonal_counts(10, seed=2)
    values[200:203] *= [4.0, 6.0, 3.0]
    found = anomalies(values)
    assert found, "the spike was not detected"
    top = max(found, key=lambda a: a.severity)
    spike_start = hourly_times(len(values))[200].astype("datetime64[s]").item()
    assert top.start.replace(tzinfo=None) <= spike_start + np.timedelta64(2, "h").item()
    assert top.observed >= values[200] and top.observed > top.hi > top.expected
    assert "robust" in top.methods  # 10 days of history: the degraded mode, flagged as such


def test_drop_in_a_mean_series_is_found_in_both_directions_mode() -> None:
    rng = np.random.default_rng(4)
    values = 0.1 + rng.normal(0, 0.03, 8 * 24)
    values[::17] = np.nan  # hours without posts have no mean
    values[150:153] = -0.6
    config = CFG.with_(transform="none", direction="both")
    drop = hourly_times(len(values))[150].item()

    def covers(found: list[det.AnomalyWindow]) -> bool:
        return any(a.start.replace(tzinfo=None) <= drop < a.end.replace(tzinfo=None) for a in found)

    assert covers(anomalies(values, config))
    assert not covers(anomalies(values, config.with_(direction="up")))


def test_methods_alone_and_combined() -> None:
    values = seasonal_counts(9, seed=5)
    values[180] = 400.0
    for method in ("prophet", "stumpy", "combined"):
        scores = det.score_series(hourly_times(len(values)), values, CFG.with_(method=method))
        assert int(np.argmax(scores["severity"].fill_null(0).to_numpy())) == 180, method
    assert "stumpy" in scores["fired"][180]


# --------------------------------------------------------------------------- causality


def test_scores_do_not_depend_on_the_future() -> None:
    """Scoring a prefix gives the same scores as scoring the whole series (online = batch)."""
    values = seasonal_counts(16, seed=6)
    values[370] = 300.0
    t = hourly_times(len(values))
    full = det.score_series(t, values, CFG)
    k = 15 * 24 + 5  # inside a Prophet chunk
    part = det.score_series(t[:k], values[:k], CFG)
    np.testing.assert_allclose(part["severity"].to_numpy(), full["severity"][:k].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(part["expected"].to_numpy(), full["expected"][:k].to_numpy(), rtol=1e-9)
    # ``start`` (what production uses) gives the same rows as a full run.
    tail = det.score_series(t, values, CFG, start=k)
    np.testing.assert_allclose(tail["severity"].to_numpy(), full["severity"][k:].to_numpy(), atol=1e-9)


def test_caches_are_reused_across_calls() -> None:
    values = seasonal_counts(5, seed=8)
    caches = det.Caches()
    t = hourly_times(len(values))
    det.score_series(t[:-3], values[:-3], CFG, caches=caches, series="s")
    fits = caches.baselines.fits
    det.score_series(t, values, CFG, caches=caches, series="s")
    assert caches.baselines.fits == fits  # same day: no refit
    assert caches.profiles.updates == 1  # the three new hours went through stumpi


# --------------------------------------------------------------------------- real data


def test_a_labelled_nab_window_is_detected(shared_dir: Path) -> None:
    """AAPL's first labelled window (rows 1235..1631 of Twitter_volume_AAPL.csv) is caught early."""
    frame = nab_frame(str(shared_dir / "data" / "nab_realtweets" / "Twitter_volume_AAPL.csv"))[:2000]
    scores = det.score_series(frame["time"].to_numpy(), frame["value"].to_numpy(), CFG)
    sev = scores["severity"].fill_null(0).to_numpy()
    inside = np.flatnonzero(sev[1235:1632] >= CFG.threshold)
    assert len(inside) > 0, "no detection inside the labelled window"
    assert 1235 + inside[0] <= 1433  # at or before the window's centre (the labelled spike)
