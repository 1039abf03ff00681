"""``eval-nab``: run the production detector over NAB files, write NAB results, score them.

Each ``timestamp,value`` file is scored by :func:`pipelines.detect.detector.score_series`
exactly as production scores a rollup series (same code, same defaults, the bucket
width read from the file); its output is causal, so one pass over the file equals an
online run. Results are written in NAB's format (``timestamp,value,anomaly_score,label``)
under ``OUT/<method>/<method>_<file>`` and scored with :mod:`pipelines.detect.nab`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.detect import nab
from pipelines.detect.context import with_nab_probation
from pipelines.detect.defaults import (
    METHODS,
    PRODUCTION_CONFIGS,
    PROPHET_CONFIG,
    ROBUST_METHODS,
    DetectConfig,
)
from pipelines.detect.detector import Caches, score_series
from pipelines.detect.series import nab_frame

log = logging.getLogger(__name__)


def run_file(path: str | Path, config: DetectConfig) -> tuple[pl.DataFrame, float]:
    """Score one NAB data file; returns the detector's frame and the seconds it took."""
    from pipelines.detect.matrix_profile import warm_up

    warm_up()
    frame = nab_frame(str(path))
    times = frame["time"].to_numpy()
    config = with_nab_probation(config, times.astype("datetime64[s]").astype(np.int64))
    started = time.perf_counter()
    scores = score_series(times, frame["value"].to_numpy(), config, caches=Caches(), series=Path(path).name)
    return scores, time.perf_counter() - started


def _job(args: tuple[str, dict]) -> tuple[str, str, pl.DataFrame, float]:
    path, cfg = args
    config = DetectConfig(**cfg)
    scores, took = run_file(path, config)
    return path, config.method, scores, took


def nab_results(scores: pl.DataFrame, windows: Sequence[tuple[str, str]]) -> pl.DataFrame:
    """NAB's result table: ``timestamp, value, anomaly_score, label`` (label 1 inside windows)."""
    ts = scores["time"].to_numpy()
    label = np.zeros(len(ts), dtype=np.int64)
    for left, right in nab.window_bounds(ts, windows):
        label[left : right + 1] = 1
    return pl.DataFrame(
        {
            "timestamp": scores["time"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "value": scores["value"],
            "anomaly_score": scores["severity"].fill_null(0.0).round(6),
            "label": label,
        }
    )


def evaluate(
    data_dir: str | Path,
    windows_json: str | Path,
    *,
    profiles_json: str | Path | None = None,
    methods: Iterable[str] = METHODS,
    out_dir: str | Path | None = None,
    config: DetectConfig | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, nab.ProfileResult]]:
    """Run every method over every ``*.csv`` of ``data_dir`` and score it.

    Returns
    -------
    dict
        Method -> profile -> :class:`pipelines.detect.nab.ProfileResult`.
    """
    data_dir = Path(data_dir)
    files = sorted(p for p in data_dir.glob("*.csv"))
    if not files:
        raise ValueError(f"{data_dir}: no *.csv files to score")
    windows = nab.load_windows(windows_json)
    profiles = nab.load_profiles(profiles_json) if profiles_json else nab.DEFAULT_PROFILES
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")

    def base_for(m: str) -> DetectConfig:
        if config is not None:
            return config.with_(method=m)
        if m in PRODUCTION_CONFIGS:
            return PRODUCTION_CONFIGS[m]
        return DetectConfig(method=m) if m in ROBUST_METHODS else PROPHET_CONFIG.with_(method=m)

    jobs = [(str(f), asdict(base_for(m))) for m in methods for f in files]
    workers = workers or min(len(jobs), os.cpu_count() or 1, 2)
    outputs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {m: {} for m in methods}
    seconds: dict[str, float] = dict.fromkeys(methods, 0.0)
    if workers > 1:
        # spawn, not fork: polars' and Stan's threads do not survive a fork (deadlocks).
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_job, jobs))
    else:
        done = [_job(j) for j in jobs]
    for path, method, scores, took in done:
        name = Path(path).name
        seconds[method] += took
        outputs[method][name] = (scores["time"].to_numpy(), scores["severity"].fill_null(0.0).to_numpy())
        if out_dir is not None:
            target = Path(out_dir) / method
            target.mkdir(parents=True, exist_ok=True)
            nab_results(scores, windows.get(name, [])).write_csv(target / f"{method}_{name}")
    results = {m: nab.score_corpus(outputs[m], windows, profiles) for m in methods}
    for m in methods:
        log.info("%s: detector time %.1f s over %d files", m, seconds[m], len(files))
    if out_dir is not None:
        summary = {
            m: {p: asdict(r) | {"detector_seconds": round(seconds[m], 2)} for p, r in res.items()}
            for m, res in results.items()
        }
        (Path(out_dir) / "scores.json").write_text(json.dumps(summary, indent=2))
    return results


def format_table(results: Mapping[str, Mapping[str, nab.ProfileResult]]) -> str:
    """Plain-text table: one row per method, standard / low-FP / low-FN scores and thresholds."""
    names = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
    lines = [f"{'method':<10} {'standard':>9} {'low FP':>9} {'low FN':>9}   thresholds"]
    for method, res in results.items():
        cells = [f"{res[p].score:9.1f}" if p in res else f"{'-':>9}" for p in names]
        thr = " / ".join(f"{res[p].threshold:.3f}" for p in names if p in res)
        lines.append(f"{method:<10} {' '.join(cells)}   {thr}")
    return "\n".join(lines)
