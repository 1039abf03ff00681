"""The surge gate's diagnostics quoted in docs/detection.md ("candidate set v2"): not a speed test.

Usage (repository root)::

    python bench/gate_study.py fold  [NAB_DIR] [--cache .cache/lofo]   # why the gate costs NAB held out
    python bench/gate_study.py terms [NAB_DIR] [--cache .cache/lofo]   # what the scale-relative terms gate
    python bench/gate_study.py sample                                  # the sample's all|count around the NSW fires

``fold``: with FB held out, the training (other five files) plateau score of the production
setting (record floor 8, 14 days) and of the sensitive one (floor 5, 7 days) at gate minima
0 / 10 / 20, and each file's score at the training threshold. ``terms``: on the sensitive
setting at 0.39, points gated and points at or above the threshold for each gate form.
``sample``: anomalies of the bundled sample's hourly volume (production, 7-day record,
NAB's likelihood record) and the scored hours of 15-18 Oct 2013. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.detect import baseline as bl  # noqa: E402
from pipelines.detect import detector as det  # noqa: E402
from pipelines.detect import gates, lofo, nab  # noqa: E402
from pipelines.detect.defaults import DetectConfig  # noqa: E402

SENSITIVE = {"min_record": 5.0, "record_days": 7.0, "quiet_hours": 24.0}
PRODUCTION = {"min_record": 8.0, "record_days": 14.0, "quiet_hours": 24.0}


def fold(nab_dir: Path, cache: Path | None, held: str = "Twitter_volume_FB.csv") -> None:
    """Training plateau scores of two settings with ``held`` left out, per gate minimum."""
    files = lofo.discover([nab_dir])
    names = [f.path.name for f in files]
    train = [i for i, n in enumerate(names) if n != held]
    prof = {"standard": nab.DEFAULT_PROFILES["standard"]}
    print("files:", ", ".join(n.removeprefix("Twitter_volume_").removesuffix(".csv") for n in names))
    for m in (0.0, 10.0, 20.0):
        cfgs = [lofo.DEFAULT_BASE.with_(**s, min_hour_excess=m) for s in (SENSITIVE, PRODUCTION)]
        c, null, perf = lofo.curves(files, cfgs, prof, cache)
        for vi, label in enumerate(("floor 5, 7 d", "floor 8, 14 d")):
            total = lofo.plateau(c[vi][train, 0, :].sum(axis=0)[None])[0]
            gi = int(np.argmax(total))
            per = [
                round(float(100 * (c[vi, f, 0, gi] - null[f, 0]) / (perf[f, 0] - null[f, 0])), 1)
                for f in range(len(files))
            ]
            print(
                f"m {m:>4g}  {label:<14} training {total[gi]:6.2f} at {lofo.THRESHOLDS[gi]:.4f}; per file {per}"
            )


def terms(nab_dir: Path, cache: Path | None, threshold: float = 0.39) -> None:
    """Points gated, and points at or above ``threshold``, per gate form (sensitive setting)."""
    forms = [(20.0, 0.0, 0.0), (20.0, 1.0, 0.0), (20.0, 0.0, 1e-6), (20.0, 3.0, 0.0)]
    print("per file: (gated points, points >= threshold) for m 20 | +b 1 | +a 1e-6 | +b 3")
    base = lofo.DEFAULT_BASE.with_(**SENSITIVE)
    for f in lofo.discover([nab_dir]):
        s = lofo.raw_for(f, base, cache)
        expected = bl.inverse(s.expected, "sqrt")
        out = []
        for m, b, a in forms:
            cfg = base.with_(min_hour_excess=m, gate_ratio=b, gate_alpha=a)
            ok = gates.surge_gate(s.v, expected, s.step, cfg)
            sev, _, _ = det.finish_severity(s, cfg)
            out.append((int((~ok).sum()), int((sev >= threshold).sum())))
        print(f"  {f.path.name:<28} {out}")


def sample_counts() -> tuple[np.ndarray, np.ndarray]:
    """The bundled sample's ``all|count``: hourly times (``datetime64[s]``) and posts per hour."""
    stamps = []
    for d in sorted((REPO / "data" / "sample").glob("2013_*")):
        with gzip.open(d / "tweets_labeled.csv.gz", "rt", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            next(rows)
            stamps += [((int(r[0]) >> 22) + 1288834974657) // 1000 for r in rows]  # tweet id -> time
    ts = np.sort(np.array(stamps))
    h0, h1 = ts[0] // 3600, ts[-1] // 3600
    counts = np.bincount(ts // 3600 - h0, minlength=h1 - h0 + 1).astype(float)
    return (np.arange(h0, h1 + 1) * 3600).astype("datetime64[s]"), counts


def sample() -> None:
    """The bundled sample's ``all|count`` (hourly), scored as production does."""
    t, counts = sample_counts()
    variants = {
        "production": DetectConfig(),
        "record 7 days": DetectConfig(record_days=7.0),
        "likelihood record": DetectConfig(record_kind="likelihood"),
    }
    for name, cfg in variants.items():
        windows = det.find_anomalies(det.score_series(t, counts, cfg), cfg)
        print(f"{name}: anomalies starting {[w.start.strftime('%d %b %H:00') for w in windows]}")
    df = det.score_series(t, counts, DetectConfig())
    print("hour (UTC)      posts expected     z severity   (15-18 Oct, hours with >= 10 posts)")
    for row in df.iter_rows(named=True):
        if "2013-10-15" <= str(row["time"])[:10] <= "2013-10-18" and row["value"] >= 10:
            print(
                f"{str(row['time'])[:13]:<15} {row['value']:>5.0f} {row['expected']:>8.1f} "
                f"{row['z'] or 0:>5.1f} {row['severity'] or 0:>8.3f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["fold", "terms", "sample"])
    ap.add_argument(
        "nab_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "nab_realtweets"
    )
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "lofo")
    args = ap.parse_args()
    if args.what == "fold":
        fold(args.nab_dir, args.cache)
    elif args.what == "terms":
        terms(args.nab_dir, args.cache)
    else:
        sample()


if __name__ == "__main__":
    main()
