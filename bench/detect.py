"""Detector benchmark: one long 5-minute series, and full detector cycles over many hourly series.

Usage (repository root)::

    python bench/detect.py [--points 16000] [--series 100,1000] [--days 28] [--method robust] [--pass-only]

Target (issue 12): a full cycle over 1,000 hourly series with 28 days of history in under
60 s on 2 cores. Wall and CPU seconds are both printed: on a shared machine the CPU
seconds are the steadier figure.

1. **One series**: ``score_series`` (the production method by default) over a
   synthetic 5-minute count series of ``--points`` points (daily and weekly cycles, Poisson
   noise, a few spikes), cold (every daily chunk fitted), then as a detector cycle does it:
   rescoring the last day after 12 new points, with warm caches (cached chunk fits,
   ``stumpi`` updates instead of a new ``stump``).
2. **Full cycles**: ``--series`` sources with ``--days`` days of hourly ingest rollups in a
   fresh embedded SecantusDB (own server, free port, temporary folder); one
   :class:`~pipelines.detect.service.DetectorService` cycle (read rollups, build series,
   score every series over its whole history, store anomalies with evidence), then one
   more hour that starts a new day (every series refits its baseline chunk: Prophet once
   14 days of history exist), then one more hour within that day (cached fits, stumpi).

Prints seconds per step and the process's peak RSS. Numba compilation is done before
timing (``warm_up``; from the on-disk cache after the first run on a machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))

from pipelines.detect.defaults import (  # noqa: E402
    PRODUCTION_CONFIGS,
    PROPHET_CONFIG,
    ROBUST_METHODS,
    DetectConfig,
)
from pipelines.detect.detector import Caches, find_anomalies, score_series  # noqa: E402
from pipelines.detect.matrix_profile import warm_up  # noqa: E402
from pipelines.detect.service import DetectorService  # noqa: E402
from pipelines.store import EmbeddedServer, Store  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of another process, from ``/proc`` (0 when unknown).

    The embedded server is a separate process: its CPU is most of a first cycle's
    cost and is not in the bench process's ``process_time``.
    """
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def counts(n: int, step_s: int, rng: np.random.Generator, level: float) -> np.ndarray:
    """Daily and weekly cycles, Poisson noise, a spike every ~5 days."""
    t = np.arange(n) * step_s
    day = 1 + 0.6 * np.sin(2 * np.pi * ((t / 3600) % 24 - 9) / 24)
    week = 0.85 + 0.15 * np.cos(2 * np.pi * (t / 86_400 - 2.5) / 7)  # quieter weekends, smoothly
    values = rng.poisson(level * day * week).astype(float)
    for at in rng.choice(n, size=max(1, n * step_s // (5 * 86_400)), replace=False):
        values[at : at + max(1, 3600 // step_s)] *= rng.uniform(3, 8)
    return values


def one_series(points: int, config: DetectConfig) -> None:
    rng = np.random.default_rng(0)
    step = 300
    values = counts(points + 12, step, rng, 40.0)
    times = (
        np.datetime64("2024-01-01T00:00:00") + np.arange(points + 12) * np.timedelta64(step, "s")
    ).astype("datetime64[s]")
    caches = Caches()
    started = time.perf_counter()
    scores = score_series(times[:points], values[:points], config, caches=caches, series="one")
    cold = time.perf_counter() - started
    # A detector cycle rescoring the last day: prime once, then 12 new points arrive.
    day = 288
    score_series(times[:points], values[:points], config, start=points - day, caches=caches, series="one")
    started = time.perf_counter()
    score_series(times, values, config, start=points + 12 - day, caches=caches, series="one")
    warm = time.perf_counter() - started
    modes = scores["mode"].value_counts().sort("mode").rows()
    print(
        f"one series, {points} five-minute points: cold {cold:.1f} s "
        f"({caches.baselines.fits} chunk fits, modes {dict(modes)}); "
        f"rescoring the last day after 12 new points (warm caches, stumpi) {warm:.2f} s; "
        f"peak RSS {rss_mb():.0f} MB"
    )


def rollups(series: int, hours: range, rng: np.random.Generator) -> list[dict]:
    docs = []
    levels = rng.uniform(5, 200, size=series)
    for s in range(series):
        values = counts(len(hours), 3600, rng, float(levels[s]))
        for h, n in zip(hours, values, strict=True):
            hour = T0 + timedelta(hours=h)
            if n > 0:
                docs.append(
                    {
                        "_id": f"ingest|{hour.isoformat()}|src{s:03d}",
                        "kind": "ingest",
                        "hour": hour,
                        "source": f"src{s:03d}",
                        "n": int(n),
                    }
                )
    return docs


def full_cycles(series: int, days: int, config: DetectConfig, pass_only: bool) -> None:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db", _free_port())
        server.ensure_running()
        store = Store(server.uri, "bench")
        try:
            store.schema.ensure()
            docs = rollups(series, range(days * 24 + 2), rng)
            last = T0 + timedelta(hours=days * 24)
            n = store.rollups.insert([d for d in docs if d["hour"] < last])
            now = T0 + timedelta(days=days + 1)  # every bucket complete
            svc = DetectorService(store, config, clock=lambda: now, max_series=series + 1)
            lines = []
            steps = [
                ("first cycle (whole history, every chunk fitted)", None),
                ("next hour, a new day: every series refits its chunk", last),
                ("next hour, same day: cached fits, stumpi updates", last + timedelta(hours=1)),
            ]
            for label, hour in steps[:1] if pass_only else steps:
                if hour is not None:
                    store.rollups.insert([d for d in docs if d["hour"] == hour])
                pid = server.process.pid if server.process else None
                started, cpu, srv = time.perf_counter(), time.process_time(), proc_cpu_s(pid)
                load = os.getloadavg()[0]
                report = svc.run_cycle()
                lines.append(
                    f"  {label}: {time.perf_counter() - started:.1f} s wall, "
                    f"{time.process_time() - cpu:.1f} s CPU + {proc_cpu_s(pid) - srv:.1f} s server CPU "
                    f"(load {load:.1f}) -- {report.line()}"
                )
            print(
                f"{series} series x {days} days hourly ({n} rollup documents, {report.series} series built):\n"
                + "\n".join(lines)
                + f"\n  peak RSS {rss_mb():.0f} MB; baseline fits {svc.caches.baselines.fits}, "
                f"stumpi updates {svc.caches.profiles.updates}, profile rebuilds {svc.caches.profiles.rebuilds}"
            )
        finally:
            store.client.close()
            server.stop()


def scoring_only(series: int, days: int, config: DetectConfig) -> None:
    """The detector's own work for ``series`` hourly series (no store): score + find windows."""
    rng = np.random.default_rng(2)
    n = days * 24
    times = (np.datetime64("2024-01-01T00:00:00") + np.arange(n) * np.timedelta64(3600, "s")).astype(
        "datetime64[s]"
    )
    data = [counts(n, 3600, rng, float(level)) for level in rng.uniform(5, 200, size=series)]
    caches = Caches()
    started, cpu = time.perf_counter(), time.process_time()
    found = 0
    for k, values in enumerate(data):
        scores = score_series(times, values, config, caches=caches, series=k)
        found += len(find_anomalies(scores, config))
    print(
        f"scoring only, {series} series x {days} days hourly (no store): "
        f"{time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
        f"{found} anomaly windows; peak RSS {rss_mb():.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=16_000, help="length of the 5-minute series")
    parser.add_argument("--series", default="100,1000", help="comma list: hourly series per full cycle")
    parser.add_argument("--days", type=int, default=28, help="days of hourly rollups per series")
    parser.add_argument(
        "--method",
        default="robust",
        help="robust (production), robust+context or combined (Prophet + STUMPY)",
    )
    parser.add_argument("--pass-only", action="store_true", help="only the first full cycle of each size")
    parser.add_argument(
        "--no-store", action="store_true", help="only the detector's scoring, no store (fast)"
    )
    args = parser.parse_args()
    if args.method in PRODUCTION_CONFIGS:  # robust, robust+context: the settings VIGIL_DETECT_METHOD gives
        config = PRODUCTION_CONFIGS[args.method]
    elif args.method in ROBUST_METHODS:
        config = DetectConfig(method=args.method)
    else:
        config = PROPHET_CONFIG.with_(method=args.method)
    if config.method in ("stumpy", "combined", "ensemble"):
        started = time.perf_counter()
        warm_up()
        print(
            f"STUMPY kernels ready in {time.perf_counter() - started:.1f} s ({os.environ['NUMBA_CACHE_DIR']})"
        )
    print(f"method {config.method}; cores available: {len(os.sched_getaffinity(0))}")
    if args.points > 0:
        one_series(args.points, config)
    for n in (int(x) for x in args.series.split(",") if x.strip()):
        scoring_only(n, args.days, config)
        if not args.no_store:
            full_cycles(n, args.days, config, args.pass_only)


if __name__ == "__main__":
    main()
