"""Leave-one-file-out NAB evaluation: every setting is chosen without the file it scores.

``eval-nab --lofo`` answers "how well would the detector do on a series it was never
tuned on?". For each held-out file, the detector variant (method, transform,
direction, level window...), the finishing settings (record period, quiet period) and
the threshold are chosen to maximise the NAB score of the *other* files, then applied
to the held-out file. Summing the held-out files' raw scores and normalising by their
null and perfect detectors gives the corpus figure (NAB's formula).

Cheap by construction:

* raw streams (baselines, matrix profile: the costly part) are computed once per file
  and variant and cached as ``.npz`` under ``--cache`` (:func:`raw_for`);
* finishing (:func:`pipelines.detect.detector.finish_severity`) is a few numpy passes;
* a file's NAB score is computed once for every threshold of a fixed grid
  (:func:`file_curve`), so choosing a threshold on 40 files is a sum of arrays.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipelines.detect import nab
from pipelines.detect.context import VERSION as context_version
from pipelines.detect.context import with_nab_probation
from pipelines.detect.defaults import CONTEXT_METHODS, DetectConfig
from pipelines.detect.detector import Caches, Streams, finish_severity, raw_streams
from pipelines.detect.series import nab_frame

log = logging.getLogger(__name__)

THRESHOLDS = np.round(np.arange(0.30, 0.99, 0.0025), 4)
"""Candidate severity thresholds (severity is ``r / (1 + r)``; 0.5 = the series' record)."""

PLATEAU = 2
"""Threshold steps each side averaged when choosing (see :func:`plateau`)."""

RAW_FIELDS = ("method", "transform", "direction", "level_hours", "season_days", "rel_floor")
"""Settings that change the raw streams (the rest only change finishing)."""

CONTEXT_RAW_FIELDS = (
    "context_bins",
    "context_orders",
    "context_levels",
    "context_min_seen",
    "context_warm_hours",
    "context_trim",
    "context_soft",
    "context_edges",
    "context_refresh",
)
"""Settings that change the sequence novelty of the context methods."""

FINISH_FIELDS = (
    "threshold",
    "quiet_hours",
    "record_days",
    "min_record",
    "record_kind",
    "smooth_points",
    "mp_weight",
    "mp_min_record",
    "extend_ratio",
    "cold_start_hours",
    "min_excess",
    "min_hour_excess",
    "small_beat_days",
    "gate_ratio",
    "gate_alpha",
    "context_weight",
    "likelihood_avg_hours",
    "likelihood_days",
)
"""Settings applied by :func:`~pipelines.detect.detector.finish_severity` (no recomputation)."""

KEY_ADDED_LATER: dict[str, object] = {
    "context_trim": 0.0,
    "context_soft": False,
    "context_edges": "width",
    "context_refresh": 0,
}
"""Raw settings added after caches were written: left out of the cache key at their default,
so a cache made before them is still served for the same statistic."""

PROFILE_NAMES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")

DEFAULT_BASE = DetectConfig(method="robust", level_hours=168.0, season_days=14.0)
"""Starting point of ``eval-nab --lofo`` (what the command line does not vary)."""

DEFAULT_GRID: dict[str, list[object]] = {
    "min_record": [3.0, 5.0, 8.0],
    "record_days": [7.0, 14.0],
    "quiet_hours": [24.0, 96.0],
    "cold_start_hours": [1.0, 24.0],
}
"""Finishing settings ``eval-nab --lofo`` chooses from on the training files."""

CONTEXT_GRID: dict[str, list[object]] = {
    "context_bins": [8, 16],
    "context_min_seen": [3, 10],
    "context_levels": [1, 3],
}
"""Sequence-novelty settings (:mod:`pipelines.detect.context`) chosen on the training files
when a context method is evaluated (small on purpose: each value is a pass over every file)."""

CONTEXT_WEIGHTS: list[object] = [0.0, 0.8, 1.0]
"""``robust+context``: the novelty's weight, chosen on the training files (0 = robust alone)."""


@dataclass(frozen=True)
class DataFile:
    """One labelled NAB file: its path, category (folder) and windows."""

    path: Path
    category: str
    windows: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return f"{self.category}/{self.path.name}"


def discover(folders: Sequence[str | Path]) -> list[DataFile]:
    """Every ``*.csv`` under each folder (one level of category folders allowed) with its windows.

    Each folder needs a ``windows.json`` (NAB's format; keys may carry a category prefix).

    Raises
    ------
    ValueError
        A folder without ``windows.json`` or without data files.
    """
    out: list[DataFile] = []
    for folder in map(Path, folders):
        wj = folder / "windows.json"
        if not wj.is_file():
            raise ValueError(f"{folder}: no windows.json (NAB's labelled windows) in this folder")
        windows = nab.load_windows(wj)
        files = sorted(folder.glob("*.csv")) + sorted(folder.glob("*/*.csv"))
        files = [f for f in files if f.parent.name != "published_results"]
        if not files:
            raise ValueError(f"{folder}: no *.csv data files")
        for f in files:
            category = f.parent.name
            out.append(DataFile(f, category, tuple(tuple(w) for w in windows.get(f.name, []))))
    return out


def _cache_path(cache: Path, file: DataFile, config: DetectConfig) -> Path:
    raw = {k: getattr(config, k) for k in RAW_FIELDS}
    if config.method not in ("robust", "ensemble"):
        raw |= {k: v for k, v in asdict(config).items() if k not in FINISH_FIELDS}
    # Named only when not the default, so caches written before the field existed stay valid.
    raw.pop("level_spread", None)
    if config.level_spread != "iqr":
        raw["level_spread"] = config.level_spread
    if config.method in CONTEXT_METHODS:
        raw["context_version"] = context_version
    for k, default in KEY_ADDED_LATER.items():
        if raw.get(k) == default:
            del raw[k]
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return cache / f"{file.category}__{file.path.stem}__{config.method}_{digest}.npz"


def raw_for(file: DataFile, config: DetectConfig, cache: Path | None) -> Streams:
    """Raw streams of one file (from the cache when present).

    The streams are computed with the longest record and quiet period so nothing is cut
    (``start=0`` scores the whole file anyway).
    """
    path = _cache_path(cache, file, config) if cache else None
    if path is not None and path.exists():
        d = np.load(path, allow_pickle=False)
        n = len(d["z"])
        expected = d["expected"] if "expected" in d.files else np.full(n, np.nan)
        return Streams(
            d["t_s"],
            d["v"],
            expected,
            np.full(n, np.nan),
            np.full(n, "", dtype=object),
            d["z"],
            d["d"],
            int(d["step"]),
            0,
            config.transform,
        )
    if config.method in ("stumpy", "combined", "ensemble"):
        from pipelines.detect.matrix_profile import warm_up

        warm_up()
    frame = nab_frame(str(file.path))
    times = frame["time"].to_numpy()
    config = with_nab_probation(config, times.astype("datetime64[s]").astype(np.int64))
    s = raw_streams(times, frame["value"].to_numpy(), config, caches=Caches(), series=file.name)
    if s is None:
        raise ValueError(f"{file.path}: too short to score")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, t_s=s.t_s, v=s.v, z=s.z, d=s.d, step=s.step, expected=s.expected)
    return s


def file_curve(
    t_s: np.ndarray,
    sev: np.ndarray,
    windows: Sequence[tuple[str, str]],
    cost: Mapping[str, float],
    thresholds: np.ndarray = THRESHOLDS,
) -> tuple[np.ndarray, float, float]:
    """One file's raw NAB score at every threshold, with its null and perfect scores.

    Equal to :func:`pipelines.detect.nab.sweep` of this file alone evaluated at each
    threshold (``tests/detect/test_lofo.py`` checks it), but vectorised.
    """
    ts = np.asarray(t_s, dtype="datetime64[s]")
    fs = nab.prepare_file(ts, sev, windows, cost)
    s = fs.scores
    g = np.asarray(thresholds, dtype=float)
    outside = fs.window < 0
    so, fo = s[outside], fs.weight_fp[outside]
    order = np.argsort(-so, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(fo[order])])
    k = np.searchsorted(-so[order], -g, side="right")
    raw = cum[k]
    fn = float(cost["fnWeight"])
    for w in range(fs.n_windows):
        rows = fs.window == w
        sw, tw = s[rows], fs.weight_tp[rows]
        o = np.argsort(-sw, kind="stable")
        best = np.concatenate([[-fn], np.maximum.accumulate(tw[o])])
        raw = raw + best[np.searchsorted(-sw[o], -g, side="right")]
    null = -fn * fs.n_windows
    return raw, null, float(cost["tpWeight"]) * fs.n_windows


@dataclass
class Variant:
    """One candidate: a full detector configuration (raw settings + finishing)."""

    config: DetectConfig

    def label(self, keys: Sequence[str]) -> str:
        return " ".join(f"{k}={getattr(self.config, k)}" for k in keys)


@dataclass
class LofoResult:
    """Held-out scores per profile: overall, per category, per file, and what was chosen."""

    profiles: dict[str, dict] = field(default_factory=dict)

    def overall(self, profile: str) -> float:
        return self.profiles[profile]["overall"]


def grid(base: DetectConfig, options: Mapping[str, Sequence[object]]) -> list[DetectConfig]:
    """Every combination of ``options`` (field -> values) applied to ``base``."""
    keys = list(options)
    return [
        base.with_(**dict(zip(keys, combo, strict=True))) for combo in itertools.product(*options.values())
    ]


def curves(
    files: Sequence[DataFile],
    configs: Sequence[DetectConfig],
    profiles: Mapping[str, Mapping[str, float]],
    cache: Path | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``C[variant, file, profile, threshold]`` raw scores, and ``null``/``perfect`` ``[file, profile]``."""
    names = list(profiles)
    c = np.zeros((len(configs), len(files), len(names), len(THRESHOLDS)))
    null = np.zeros((len(files), len(names)))
    perfect = np.zeros((len(files), len(names)))
    raw_cache: dict[tuple[int, Path], Streams] = {}
    for vi, cfg in enumerate(configs):
        raw_key = tuple(getattr(cfg, k) for k in RAW_FIELDS) + (cfg.level_spread,)
        if cfg.method in CONTEXT_METHODS:
            raw_key += tuple(getattr(cfg, k) for k in CONTEXT_RAW_FIELDS)
        for fi, f in enumerate(files):
            key = (hash(raw_key), f.path)
            if key not in raw_cache:
                raw_cache.clear() if len(raw_cache) > 200 else None
                raw_cache[key] = raw_for(f, cfg, cache)
            s = raw_cache[key]
            sev, _, _ = finish_severity(s, with_nab_probation(cfg, s.t_s))
            for pi, p in enumerate(names):
                c[vi, fi, pi], null[fi, pi], perfect[fi, pi] = file_curve(s.t_s, sev, f.windows, profiles[p])
    return c, null, perfect


def plateau(curves: np.ndarray, half: int = PLATEAU) -> np.ndarray:
    """Each threshold's score averaged with its ``half`` neighbours each side (per variant).

    The choice is the best *neighbourhood*, not the best single threshold: a peak at the
    edge of a cliff (one step further loses a window) does not carry over to a new file.
    """
    if half <= 0:
        return curves
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(curves, size=2 * half + 1, axis=-1, mode="nearest")


def _norm(raw: float, null: float, perfect: float) -> float | None:
    return None if perfect == null else round(100.0 * (raw - null) / (perfect - null), 1)


def held_out_choice(c: np.ndarray) -> list[tuple[int, int]]:
    """Per file of ``c[variant, file, threshold]`` (one profile's raw scores), the variant and
    threshold index chosen on the *other* files: the best plateau-averaged summed score."""
    total = c.sum(axis=1)
    out = []
    for fi in range(c.shape[1]):
        train = plateau(total - c[:, fi, :])
        vi, gi = np.unravel_index(int(np.argmax(train)), train.shape)
        out.append((int(vi), int(gi)))
    return out


def leave_one_file_out(
    files: Sequence[DataFile],
    configs: Sequence[DetectConfig],
    profiles: Mapping[str, Mapping[str, float]] | None = None,
    cache: Path | None = None,
    vary: Sequence[str] = (),
) -> dict:
    """The held-out evaluation (see the module docstring); a JSON-ready report.

    ``in_sample`` is the old figure (variant and threshold chosen on all files, the
    scored ones included), kept for comparison only.
    """
    profiles = profiles or nab.DEFAULT_PROFILES
    names = list(profiles)
    c, null, perfect = curves(files, configs, profiles, cache)
    report: dict = {"files": [f.name for f in files], "variants": len(configs), "profiles": {}}
    for pi, p in enumerate(names):
        total = c[:, :, pi, :].sum(axis=1)  # [variant, threshold]
        per_file = []
        choice = held_out_choice(c[:, :, pi, :])
        held = np.asarray([c[vi, fi, pi, gi] for fi, (vi, gi) in enumerate(choice)])
        for fi, (vi, gi) in enumerate(choice):
            per_file.append(
                {
                    "file": files[fi].name,
                    "category": files[fi].category,
                    "score": _norm(held[fi], null[fi, pi], perfect[fi, pi]),
                    "threshold": float(THRESHOLDS[gi]),
                    "variant": Variant(configs[vi]).label(vary),
                }
            )
        cats: dict[str, list[int]] = {}
        for fi, f in enumerate(files):
            cats.setdefault(f.category, []).append(fi)
        per_cat = {
            k: _norm(held[ix].sum(), null[ix, pi].sum(), perfect[ix, pi].sum())
            for k, ix in sorted(cats.items())
        }
        vi, gi = np.unravel_index(int(np.argmax(plateau(total))), total.shape)
        report["profiles"][p] = {
            "overall": _norm(held.sum(), null[:, pi].sum(), perfect[:, pi].sum()),
            "categories": per_cat,
            "files": per_file,
            "in_sample": {
                "score": _norm(total[vi, gi], null[:, pi].sum(), perfect[:, pi].sum()),
                "threshold": float(THRESHOLDS[gi]),
                "variant": Variant(configs[vi]).label(vary),
            },
        }
    return report


def format_report(report: Mapping) -> str:
    """Overall and per-category held-out scores, then per file (standard profile)."""
    profs = report["profiles"]
    short = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}
    lines = [f"leave-one-file-out over {len(report['files'])} files, {report['variants']} variants"]
    lines.append(f"{'':<28}" + "".join(f"{short.get(p, p):>10}" for p in profs))
    lines.append(f"{'overall (held out)':<28}" + "".join(f"{profs[p]['overall']:>10}" for p in profs))
    cats = next(iter(profs.values()))["categories"]
    for cat in cats:
        lines.append(f"  {cat:<26}" + "".join(f"{str(profs[p]['categories'][cat]):>10}" for p in profs))
    lines.append(
        f"{'in-sample (not held out)':<28}" + "".join(f"{profs[p]['in_sample']['score']:>10}" for p in profs)
    )
    std = profs.get("standard") or next(iter(profs.values()))
    lines.append("per file (standard): score  threshold  variant")
    for row in std["files"]:
        lines.append(f"  {row['file']:<48} {str(row['score']):>6}  {row['threshold']:.4f}  {row['variant']}")
    return "\n".join(lines)
