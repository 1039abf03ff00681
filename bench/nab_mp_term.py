"""Issue 12: does a left-matrix-profile discord term add to ``robust+context`` held out?

    python bench/nab_mp_term.py ../shared/data/nab_other none both          # ~6 min (standard profile)
    PROFILES=standard,reward_low_FP_rate python bench/nab_mp_term.py ...     # more profiles, slower

The 37 other NAB series were never scored with STUMPY held out (its production role was
measured on the six Twitter series only). This offers, beside every ``eval-nab --lofo
--method robust+context`` grid point, the same point with one more relative score in the
finishing maximum: ``w x`` the left matrix profile's distance (subsequence of ``h`` hours;
raw, in robust sigmas, or z-normalised) over its own 7- or 14-day record (floor 0.5), and
lets the training files choose per held-out file, exactly as ``lofo.leave_one_file_out``
does (plateau-averaged thresholds). Arguments after the direction: the hours, the
normalisations (0/1) and the weights, comma lists (default ``1,4 0,1 1``). Reads the context
streams from ``.cache/lofo`` (``eval-nab --cache``), writes its own to ``/tmp/vigil-mpcache``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.detect import baseline as bl  # noqa: E402
from pipelines.detect import lofo, nab, online  # noqa: E402
from pipelines.detect.context import with_nab_probation  # noqa: E402
from pipelines.detect.defaults import DetectConfig  # noqa: E402
from pipelines.detect.detector import finish_severity, relative_to_record  # noqa: E402
from pipelines.detect.matrix_profile import left_matrix_profile  # noqa: E402

folder, transform, direction = sys.argv[1], sys.argv[2], sys.argv[3]
MP_HOURS = [float(v) for v in (sys.argv[4] if len(sys.argv) > 4 else "1,4").split(",")]
NORMS = [bool(int(v)) for v in (sys.argv[5] if len(sys.argv) > 5 else "0,1").split(",")]
WEIGHTS = [float(v) for v in (sys.argv[6] if len(sys.argv) > 6 else "1").split(",")]
cache = REPO / ".cache" / "lofo"
mpcache = Path("/tmp/vigil-mpcache")
mpcache.mkdir(exist_ok=True)

files = lofo.discover([Path(folder)])
options = (
    {"method": ["robust+context"], "transform": [transform], "direction": [direction]}
    | lofo.DEFAULT_GRID
    | lofo.CONTEXT_GRID
    | {"context_weight": list(lofo.CONTEXT_WEIGHTS)}
)
configs = lofo.grid(lofo.DEFAULT_BASE, options)
profiles = nab.DEFAULT_PROFILES
names = os.environ.get("PROFILES", ",".join(profiles)).split(",")
print(len(configs), "base configs", len(files), "files", flush=True)


def mp_rel(f, s, cfg, hours, norm):
    """Left-MP discord of the file as a relative score (record over the record window)."""
    key = mpcache / f"{f.category}__{f.path.stem}__{transform}_{hours}_{int(norm)}_{cfg.record_days}.npy"
    if key.exists():
        return np.load(key)
    x = bl.transform(np.asarray(s.v, dtype=float), transform)
    m = DetectConfig.points(hours, s.step, minimum=4)
    xf = np.where(np.isfinite(x), x, 0.0)
    raw = left_matrix_profile(xf, m, normalize=norm)
    if norm:
        d = raw / np.sqrt(m)
    else:
        _, scale, _ = online.robust_z(s.t_s, x, s.step, cfg)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = raw / (np.sqrt(m) * scale)
        d = np.where(np.isfinite(d), d, np.nan)
    record_n = DetectConfig.points(cfg.record_days * 24, s.step)
    r = relative_to_record(d, record_n, 0.5)
    np.save(key, r)
    return r


mp_variants = [None] + [(h, nm, w) for h in MP_HOURS for nm in NORMS for w in WEIGHTS]
V = len(configs) * len(mp_variants)
C = np.zeros((V, len(files), len(names), len(lofo.THRESHOLDS)))
null = np.zeros((len(files), len(names)))
perfect = np.zeros((len(files), len(names)))
labels = []
t0 = time.time()
for fi, f in enumerate(files):
    streams = {}
    vi = 0
    for cfg in configs:
        s = lofo.raw_for(f, cfg, cache)
        cfgp = with_nab_probation(cfg, s.t_s)
        for mv in mp_variants:
            extra = None
            if mv is not None:
                h, nm, w = mv
                extra = w * mp_rel(f, s, cfg, h, nm)
            sev, _, _ = finish_severity(s, cfgp, extra)
            for pi, p in enumerate(names):
                C[vi, fi, pi], null[fi, pi], perfect[fi, pi] = lofo.file_curve(
                    s.t_s, sev, f.windows, profiles[p]
                )
            if fi == 0:
                labels.append((cfg, mv))
            vi += 1
    print(f"{fi + 1}/{len(files)} {f.name} {time.time() - t0:.0f}s", flush=True)


def held_out(mask):
    """LOFO over the variants in mask: held-out overall per profile."""
    out = {}
    idx = np.flatnonzero(mask)
    for pi, p in enumerate(names):
        c = C[idx, :, pi, :]
        total = c.sum(axis=1)
        held = np.zeros(len(files))
        chosen = []
        for fi in range(len(files)):
            train = lofo.plateau(total - c[:, fi, :])
            v, g = np.unravel_index(int(np.argmax(train)), train.shape)
            held[fi] = c[v, fi, g]
            chosen.append(labels[idx[v]][1])
        out[p] = (lofo._norm(held.sum(), null[:, pi].sum(), perfect[:, pi].sum()), chosen)
    return out


base = np.array([mv is None for _, mv in labels])
every = np.ones(len(labels), bool)
for name, mask in [("robust+context (no MP)", base), ("robust+context + MP offered", every)]:
    r = held_out(mask)
    print(name, " / ".join(str(r[p][0]) for p in names))
    std_chosen = r["standard"][1]
    print(
        "   standard: MP chosen for",
        sum(c is not None for c in std_chosen),
        "of",
        len(files),
        set(std_chosen),
    )
for mv in mp_variants[1:]:
    mask = np.array([m is None or m == mv for _, m in labels])
    r = held_out(mask)
    print("offered only", mv, " / ".join(str(r[p][0]) for p in names))
