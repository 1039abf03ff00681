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

MPCACHE = Path("/tmp/vigil-mpcache")


def mp_rel(f: lofo.DataFile, s, cfg: DetectConfig, hours: float, norm: bool, transform: str) -> np.ndarray:
    """Left-MP discord of the file as a relative score (over its record window), cached."""
    key = MPCACHE / f"{f.category}__{f.path.stem}__{transform}_{hours}_{int(norm)}_{cfg.record_days}.npy"
    if key.exists():
        return np.load(key)
    x = bl.transform(np.asarray(s.v, dtype=float), transform)
    m = DetectConfig.points(hours, s.step, minimum=4)
    raw = left_matrix_profile(np.where(np.isfinite(x), x, 0.0), m, normalize=norm)
    if norm:
        d = raw / np.sqrt(m)
    else:
        _, scale, _ = online.robust_z(s.t_s, x, s.step, cfg)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = raw / (np.sqrt(m) * scale)
        d = np.where(np.isfinite(d), d, np.nan)
    r = relative_to_record(d, DetectConfig.points(cfg.record_days * 24, s.step), 0.5)
    MPCACHE.mkdir(exist_ok=True)
    np.save(key, r)
    return r


def main(argv: list[str]) -> None:
    folder, transform, direction = argv[0], argv[1], argv[2]
    hours = [float(v) for v in (argv[3] if len(argv) > 3 else "1,4").split(",")]
    norms = [bool(int(v)) for v in (argv[4] if len(argv) > 4 else "0,1").split(",")]
    weights = [float(v) for v in (argv[5] if len(argv) > 5 else "1").split(",")]
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
    mp_variants = [None] + [(h, nm, w) for h in hours for nm in norms for w in weights]
    labels = [mv for _ in configs for mv in mp_variants]
    c = np.zeros((len(labels), len(files), len(names), len(lofo.THRESHOLDS)))
    null = np.zeros((len(files), len(names)))
    perfect = np.zeros((len(files), len(names)))
    t0 = time.time()
    for fi, f in enumerate(files):
        vi = 0
        for cfg in configs:
            s = lofo.raw_for(f, cfg, REPO / ".cache" / "lofo")
            cfgp = with_nab_probation(cfg, s.t_s)
            for mv in mp_variants:
                extra = None if mv is None else mv[2] * mp_rel(f, s, cfg, mv[0], mv[1], transform)
                sev, _, _ = finish_severity(s, cfgp, extra)
                for pi, p in enumerate(names):
                    c[vi, fi, pi], null[fi, pi], perfect[fi, pi] = lofo.file_curve(
                        s.t_s, sev, f.windows, profiles[p]
                    )
                vi += 1
        print(f"{fi + 1}/{len(files)} {f.name} {time.time() - t0:.0f}s", flush=True)

    def held_out(mask: np.ndarray) -> dict[str, tuple[float | None, list]]:
        """The LOFO choice (``lofo.held_out_choice``) among the variants in ``mask``, per profile."""
        idx = np.flatnonzero(mask)
        out = {}
        for pi, p in enumerate(names):
            choice = lofo.held_out_choice(c[idx, :, pi, :])
            held = sum(c[idx[v], fi, pi, g] for fi, (v, g) in enumerate(choice))
            out[p] = (
                lofo._norm(held, null[:, pi].sum(), perfect[:, pi].sum()),
                [labels[idx[v]] for v, _ in choice],
            )
        return out

    base = np.array([mv is None for mv in labels])
    for name, mask in (("robust+context (no MP)", base), ("robust+context + MP offered", ~base | base)):
        r = held_out(mask)
        print(name, " / ".join(str(r[p][0]) for p in names))
        chosen = r[names[0]][1]
        print(
            f"   {names[0]}: MP chosen for {sum(x is not None for x in chosen)} of {len(files)}", set(chosen)
        )
    for mv in mp_variants[1:]:
        r = held_out(np.array([m is None or m == mv for m in labels]))
        print("offered only", mv, " / ".join(str(r[p][0]) for p in names))


if __name__ == "__main__":
    main(sys.argv[1:])
