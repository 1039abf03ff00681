"""Bad input: no crash, no anomaly, a logged reason; a failing series does not stop a cycle."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pipelines.detect import detector as det
from pipelines.detect import validate
from pipelines.detect.defaults import PROPHET_CONFIG, DetectConfig
from tests.detect.conftest import hourly_times, seasonal_counts

ROBUST = DetectConfig(method="robust")
CONFIGS = [
    ROBUST,
    ROBUST.with_(direction="both"),
    PROPHET_CONFIG,
    PROPHET_CONFIG.with_(transform="none", direction="both"),
]


def _bad_inputs() -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    base = seasonal_counts(10, seed=11)
    t = hourly_times(len(base))
    gap = np.r_[t[:100], t[100:] + np.timedelta64(5, "D")]
    # The clock goes back 30 h at hour 150 and re-reports those hours with other values.
    jump = np.r_[t[:150], t[120:150], t[150:]]
    jump_v = np.r_[base[:150], base[120:150] * 5, base[150:]]
    nans = base.copy()
    nans[[50, 120, 121, 200]] = np.nan
    huge = base.copy()
    huge[[90, 180]] = [1e300, np.inf]
    return {
        "gap": (gap, base, ""),
        "all zeros": (t, np.zeros(len(t)), "all zeros"),
        "single point": (t[:1], base[:1], "too short"),
        "empty": (t[:0], base[:0], "too short"),
        "constant": (t, np.full(len(t), 7.0), "constant"),
        "huge outliers": (t, huge, "beyond"),
        "clock jump backwards": (jump, jump_v, "not increasing"),
        "nan": (t, nans, "NaN"),
        "all nan": (t, np.full(len(t), np.nan), "no finite value"),
    }


DERIVED = ("gap", "huge outliers", "clock jump backwards", "nan")
"""Cases made by damaging one clean seasonal series."""


@pytest.mark.parametrize("case", list(_bad_inputs()))
@pytest.mark.parametrize("config", CONFIGS, ids=["robust", "robust-both", "combined", "combined-mean"])
def test_bad_input_raises_nothing_and_logs_why(case: str, config: DetectConfig, caplog) -> None:
    times, values, reason = _bad_inputs()[case]
    with caplog.at_level(logging.INFO, logger="pipelines.detect.detector"):
        scores = det.score_series(times, values, config, series=case)
    found = det.find_anomalies(scores, config)
    if case in DERIVED:
        # Damage adds nothing to what the clean series raises (nothing, for the robust method).
        clean = seasonal_counts(10, seed=11)
        plain = det.find_anomalies(det.score_series(hourly_times(len(clean)), clean, config), config)
        assert len(found) <= len(plain)
        assert config.method != "robust" or plain == []
    else:
        assert found == []
    if reason:
        assert any(reason in r.getMessage() and case in r.getMessage() for r in caplog.records)
    assert scores.height <= len(values)


def test_check_drops_points_stamped_before_the_latest_time_seen() -> None:
    t = np.array([0, 3600, 7200, 3600, 7200, 10800])
    v = np.array([1.0, 2.0, 3.0, 9.0, 8.0, 4.0])
    c = validate.check(t, v, counts=True)
    assert c.times_s.tolist() == [0, 3600, 7200, 10800]
    assert c.values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert not c.skip and "not increasing" in c.reasons[0]


def test_negative_counts_are_missing_but_negative_means_are_kept() -> None:
    v = np.array([1.0, -3.0, 2.0])
    assert np.isnan(validate.check(np.arange(3) * 3600, v, counts=True).values[1])
    assert validate.check(np.arange(3) * 3600, v, counts=False).values[1] == -3.0


def test_a_real_spike_next_to_a_nan_is_still_found() -> None:
    v = seasonal_counts(14, seed=12)
    v[300] = np.nan
    v[301:304] *= 8
    found = det.find_anomalies(det.score_series(hourly_times(len(v)), v, ROBUST), ROBUST)
    assert len(found) == 1
