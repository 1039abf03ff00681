"""Leave-one-file-out: the vectorised per-file curve equals NAB's sweep; held-out labels never steer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.detect import lofo, nab
from pipelines.detect.defaults import DetectConfig


@pytest.mark.parametrize("profile", list(nab.DEFAULT_PROFILES))
def test_file_curve_equals_nab_sweep_at_every_threshold(profile: str) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    t = np.datetime64("2015-01-01T00:00") + np.arange(n) * np.timedelta64(300, "s")
    s = np.where(rng.random(n) < 0.03, rng.random(n), 0.0)
    windows = [(str(t[1000]), str(t[1100])), (str(t[2000]), str(t[2200]))]
    cost = nab.DEFAULT_PROFILES[profile]
    raw, null, perfect = lofo.file_curve(t, s, windows, cost)
    curve = nab.sweep([nab.prepare_file(t, s, windows, cost)], cost)
    assert (null, perfect) == (curve.null, curve.perfect)
    np.testing.assert_allclose(raw, [curve.at(g) for g in lofo.THRESHOLDS], atol=1e-12)


def _corpus(root: Path, n_files: int = 4, moved: int | None = None) -> Path:
    """Hourly files, each with a spike and a labelled window on it (file ``moved``: window elsewhere)."""
    root.mkdir(parents=True, exist_ok=True)
    windows = {}
    rng = np.random.default_rng(1)
    for k in range(n_files):
        n = 24 * 30
        t = np.datetime64("2020-01-01T00:00") + np.arange(n) * np.timedelta64(3600, "s")
        hours = np.arange(n)
        v = rng.poisson(30 * (1 + 0.5 * np.sin(2 * np.pi * hours / 24))).astype(float)
        spike = 400 + 37 * k
        v[spike : spike + 3] *= 6
        centre = 150 if k == moved else spike
        windows[f"f{k}.csv"] = [[str(t[centre - 20]), str(t[centre + 20])]]
        lines = ["timestamp,value"] + [f"{str(a).replace('T', ' ')},{b:g}" for a, b in zip(t, v, strict=True)]
        (root / f"f{k}.csv").write_text("\n".join(lines) + "\n")
    (root / "windows.json").write_text(json.dumps(windows))
    return root


def test_lofo_choice_for_a_file_ignores_that_files_labels(tmp_path: Path) -> None:
    configs = lofo.grid(
        DetectConfig(method="robust"), {"min_record": [3.0, 8.0], "quiet_hours": [24.0, 96.0]}
    )
    a = lofo.leave_one_file_out(lofo.discover([_corpus(tmp_path / "a")]), configs, vary=["min_record"])
    b = lofo.leave_one_file_out(
        lofo.discover([_corpus(tmp_path / "b", moved=0)]), configs, vary=["min_record"]
    )
    fa, fb = a["profiles"]["standard"]["files"][0], b["profiles"]["standard"]["files"][0]
    assert (fa["threshold"], fa["variant"]) == (fb["threshold"], fb["variant"])
    assert fa["score"] > fb["score"]  # same detections, but the moved label makes them misses
    assert a["profiles"]["standard"]["overall"] is not None


def test_discover_names_a_folder_without_windows(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("timestamp,value\n")
    with pytest.raises(ValueError, match="windows.json"):
        lofo.discover([tmp_path])
