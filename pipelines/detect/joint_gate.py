"""The surge gate's form chosen jointly on NAB Twitter and CrisisLex onsets.

Why: the gate (:mod:`pipelines.detect.gates`) was chosen on the onsets alone and then
lowered NAB Twitter's held-out score. One value must serve both corpora, and the
figures reported for it must come from data that did not choose it.

A candidate is ``(min_hour_excess m, gate_ratio b, gate_alpha a)``. Two candidate sets
(``--candidates``), each written down before any of its held-out figures was computed::

    v1 (the first joint choice): m in {0, 5, 10, 20}, b = a = 0.
    v2 (scale-relative, issue 12 third step): v1, then m in {10, 20} with b in {0.5, 1}
       (excess also >= b x expected), then m in {10, 20} with a in {1e-3, 1e-6}
       (count's Poisson tail under the expectation also <= a); 12 candidates.

The rule (issue 12; "the smaller m" of v1 generalised to "the earlier candidate")::

    On a training set (NAB files F, onset events E), for each candidate m:
      a(m) = NAB standard score on F, every other setting and the threshold chosen on F
             (plateau-averaged, as eval-nab --lofo does) with the gate fixed at m;
      b(m) = onset loss on E: misses + false alarms summed over "as collected" and
             "7 quiet days prepended", then the mean of the two median delays, with the
             cold start (1 or 6 h) best for m on E;
      rank both among the candidates (1 = best; NAB scores within 1.0 point tie, the
      onset loss ties only when equal); choose the smallest rank sum, then the better
      b(m), then the earlier candidate in the set's list (v1: the smaller m).
    Joint leave-one-out: a held-out NAB file is scored with the m chosen on the other
    NAB files + all 18 events; a held-out event with the m chosen on all NAB files + the
    other 17 events (its cold start chosen on the other 17 given m).
    Production default: the rule on everything.

Run: ``python -m pipelines.detect.joint_gate ../shared/data/nab_realtweets
../shared/data/crisislex_t26 --cache .cache/lofo [--candidates v2] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pipelines.detect import lofo, nab, onsets
from pipelines.detect.defaults import DetectConfig

Gate = tuple[float, float, float]
"""``(min_hour_excess, gate_ratio, gate_alpha)``."""

CANDIDATE_SETS: dict[str, tuple[Gate, ...]] = {
    "v1": ((0.0, 0.0, 0.0), (5.0, 0.0, 0.0), (10.0, 0.0, 0.0), (20.0, 0.0, 0.0)),
    "v2": (
        (0.0, 0.0, 0.0),
        (5.0, 0.0, 0.0),
        (10.0, 0.0, 0.0),
        (20.0, 0.0, 0.0),
        (10.0, 0.5, 0.0),
        (20.0, 0.5, 0.0),
        (10.0, 1.0, 0.0),
        (20.0, 1.0, 0.0),
        (10.0, 0.0, 1e-3),
        (20.0, 0.0, 1e-3),
        (10.0, 0.0, 1e-6),
        (20.0, 0.0, 1e-6),
    ),
}
"""The candidate sets, each in its tie-breaking order (module docstring)."""

CANDIDATES = CANDIDATE_SETS["v1"]


def gate_fields(g: Gate) -> dict[str, float]:
    """The :class:`DetectConfig` fields of a candidate."""
    return {"min_hour_excess": g[0], "gate_ratio": g[1], "gate_alpha": g[2]}


def label(g: Gate) -> str:
    """``m=20 b=0.5 a=0.001`` (terms that are off left out)."""
    parts = [f"m={g[0]:g}"] + ([f"b={g[1]:g}"] if g[1] else []) + ([f"a={g[2]:g}"] if g[2] else [])
    return " ".join(parts)


PADS = (0.0, 7.0)
COLD = (1.0, 6.0)
NAB_TIE = 1.0
"""NAB points within which two candidates rank equal (six files move by several points)."""


def nab_configs(candidates: Sequence[Gate] = CANDIDATES) -> list[DetectConfig]:
    """The production ``eval-nab --lofo --transform sqrt`` grid, times the gate candidates."""
    options: dict[str, list[object]] = {"method": ["robust"], "transform": ["sqrt"], **lofo.DEFAULT_GRID}
    return [cfg.with_(**gate_fields(g)) for g in candidates for cfg in lofo.grid(lofo.DEFAULT_BASE, options)]


def nab_train(
    c: np.ndarray,
    null: np.ndarray,
    perfect: np.ndarray,
    variants: np.ndarray,
    files: Sequence[int],
    pi: int = 0,
) -> tuple[float, int, int]:
    """Best plateau-averaged score over ``files`` among ``variants``: (normalised score, variant, threshold)."""
    ix = list(files)
    total = c[variants][:, ix, pi, :].sum(axis=1)
    sm = lofo.plateau(total)
    vi, gi = np.unravel_index(int(np.argmax(sm)), sm.shape)
    raw = float(total[vi, gi])
    score = 100.0 * (raw - null[ix, pi].sum()) / (perfect[ix, pi].sum() - null[ix, pi].sum())
    return score, int(variants[vi]), int(gi)


def onset_loss(
    table: Mapping[tuple[object, float, float], list[onsets.Onset]], m: object, events: Sequence[int]
) -> tuple[tuple[int, float], float]:
    """``b(m)`` on ``events`` with its best cold start: ((errors, mean median delay), cold start).

    ``m`` is the candidate's key in ``table`` (``table[(m, cold start, pad days)]``).
    """
    best = None
    for h in COLD:
        losses = [onsets.loss([table[(m, h, p)][i] for i in events]) for p in PADS]
        value = (sum(n for n, _ in losses), sum(d for _, d in losses) / len(losses))
        if best is None or value < best[0]:
            best = (value, h)
    assert best is not None
    return best


def _ranks(values: Sequence[float], tie: float, higher_better: bool) -> list[int]:
    sign = -1.0 if higher_better else 1.0
    keyed = [sign * v for v in values]
    return [1 + sum(1 for w in keyed if w < v - tie) for v in keyed]


def choose(a: Sequence[float], b: Sequence[tuple[int, float]]) -> int:
    """Index of the chosen candidate under the module's rule (``a`` NAB scores, ``b`` onset losses).

    Candidates are in their set's tie-breaking order, so the last tie-break is the index.
    """
    ra = _ranks(a, NAB_TIE, higher_better=True)
    order = sorted(b)
    rb = [1 + order.index(x) for x in b]
    return min(range(len(a)), key=lambda k: (ra[k] + rb[k], b[k], k))


def run(nab_dir: Path, crisis_dir: Path, cache: Path | None, candidates: Sequence[Gate] = CANDIDATES) -> dict:
    """Every figure of the joint choice; JSON-ready. Long because it evaluates both protocols."""
    cands = list(candidates)
    files = lofo.discover([nab_dir])
    configs = nab_configs(cands)
    profiles = nab.DEFAULT_PROFILES
    names = list(profiles)
    c, null, perfect = lofo.curves(files, configs, profiles, cache)
    per = len(configs) // len(cands)
    by_k = [np.arange(k * per, (k + 1) * per) for k in range(len(cands))]
    folders = onsets.event_folders(crisis_dir)
    base = DetectConfig()
    table = {
        (k, h, p): [
            onsets.event_onset(f, base.with_(**gate_fields(g), cold_start_hours=h), 0, p) for f in folders
        ]
        for k, g in enumerate(cands)
        for h in COLD
        for p in PADS
    }
    all_f, all_e = range(len(files)), range(len(folders))
    ks = range(len(cands))

    def pick(nab_files: Sequence[int], events: Sequence[int]) -> tuple[int, list[float], list]:
        a = [nab_train(c, null, perfect, by_k[k], nab_files)[0] for k in ks]
        b = [onset_loss(table, k, events)[0] for k in ks]
        return choose(a, b), a, b

    rule = __doc__.split("The rule")[1].split("Run:")[0].split("::", 1)[1].strip()
    report: dict = {"candidates": [label(g) for g in cands], "rule": rule}
    k, a, b = pick(all_f, all_e)
    report["production"] = {
        "gate": label(cands[k]),
        "nab_in_sample": dict(zip(report["candidates"], [round(x, 2) for x in a], strict=True)),
        "onset_loss": dict(zip(report["candidates"], b, strict=True)),
    }
    # Held-out NAB files.
    held = {p: [] for p in names}
    chosen_nab = []
    for fi in all_f:
        train = [j for j in all_f if j != fi]
        k, _, _ = pick(train, all_e)
        chosen_nab.append(label(cands[k]))
        for pi, p in enumerate(names):
            _, vi, gi = nab_train(c, null, perfect, by_k[k], train, pi)
            held[p].append(float(c[vi, fi, pi, gi]))
    report["nab_held_out"] = {
        p: round(100.0 * (sum(held[p]) - null[:, pi].sum()) / (perfect[:, pi].sum() - null[:, pi].sum()), 1)
        for pi, p in enumerate(names)
    }
    report["nab_chosen"] = dict(zip([f.name for f in files], chosen_nab, strict=True))
    # Every candidate fixed, for comparison (held out over the other settings only).
    report["nab_fixed"] = {
        label(g): held_out_fixed(c, null, perfect, by_k[k], names) for k, g in enumerate(cands)
    }
    # Held-out events.
    rows: dict[float, list[onsets.Onset]] = {p: [] for p in PADS}
    chosen_ev = []
    for ei in all_e:
        train = [j for j in all_e if j != ei]
        k, _, _ = pick(all_f, train)
        _, h = onset_loss(table, k, train)
        chosen_ev.append((label(cands[k]), h))
        for p in PADS:
            rows[p].append(table[(k, h, p)][ei])
    report["onsets_held_out"] = {str(p): summary(rows[p]) for p in PADS}
    report["onsets_chosen"] = {f.name: list(x) for f, x in zip(folders, chosen_ev, strict=True)}
    report["onsets_fixed"] = {
        label(g): {str(p): summary(table[(k, 1.0, p)]) for p in PADS} for k, g in enumerate(cands)
    }
    return report


def held_out_fixed(
    c: np.ndarray, null: np.ndarray, perfect: np.ndarray, variants: np.ndarray, names: Sequence[str]
) -> dict[str, float]:
    """Leave-one-file-out with the gate fixed (the other settings and threshold chosen per fold)."""
    n = c.shape[1]
    out = {}
    for pi, p in enumerate(names):
        raw = 0.0
        for fi in range(n):
            _, vi, gi = nab_train(c, null, perfect, variants, [j for j in range(n) if j != fi], pi)
            raw += float(c[vi, fi, pi, gi])
        out[p] = round(100.0 * (raw - null[:, pi].sum()) / (perfect[:, pi].sum() - null[:, pi].sum()), 1)
    return out


def summary(rows: Sequence[onsets.Onset]) -> dict:
    delays = [r.delay_from_surge_h for r in rows if r.delay_from_surge_h is not None]
    return {
        "detected": f"{len(delays)}/{len(rows)}",
        "median_delay_h": round(statistics.median(delays), 2) if delays else None,
        "max_delay_h": max(delays) if delays else None,
        "false_alarms": sum(r.false_alarms_before for r in rows),
        "alarm_events": [r.event for r in rows if r.false_alarms_before],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nab_dir", type=Path)
    parser.add_argument("crisislex_dir", type=Path)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--candidates",
        choices=sorted(CANDIDATE_SETS),
        default="v1",
        help="the candidate set (module docstring)",
    )
    args = parser.parse_args(argv)
    report = run(args.nab_dir, args.crisislex_dir, args.cache, CANDIDATE_SETS[args.candidates])
    text = json.dumps(report, indent=1, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
