"""The robust level's spread: interquartile range (production) or its lower half (``level_spread``).

Why: on the bundled sample's ``all|count`` the NSW fires (17 Oct 2013) are not raised because
Bohol's busy hours two days earlier fill the upper quarter of the trailing window and inflate
its interquartile range (``python bench/gate_study.py sample``). ``lower`` measures the spread
from the median down to the first quartile only.

The decision rule, written here before any of the figures below was computed (issue 12)::

    production switches to level_spread="lower" only if all three hold:
      1. NAB Twitter, leave-one-file-out (eval-nab --lofo's procedure, sqrt, the production
         gate), the spread chosen per fold on the training files among {iqr, lower}:
         standard >= 72.9 (the iqr-only figure) and low FP >= 60;
      2. CrisisLexT26 onsets with the production settings, as collected and 7 days padded:
         no fewer events detected, no more false alarms, median delay <= 3 h;
      3. the NSW fires (16-18 Oct) raised on the sample's all|count.
    Otherwise "lower" stays an option and the figures are reported.

Usage (repository root)::

    python bench/spread_study.py [NAB_DIR] [CRISISLEX_DIR] [--cache .cache/lofo]

Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.gate_study import sample_counts  # noqa: E402
from pipelines.detect import detector as det  # noqa: E402
from pipelines.detect import lofo, onsets  # noqa: E402
from pipelines.detect.defaults import DetectConfig  # noqa: E402

SPREADS = ("iqr", "lower")


def nab(nab_dir: Path, cache: Path | None) -> None:
    """Held-out NAB Twitter with each spread fixed, and with the spread chosen per fold."""
    files = lofo.discover([nab_dir])
    for spreads in (["iqr"], ["lower"], list(SPREADS)):
        opts = {"transform": ["sqrt"], **lofo.DEFAULT_GRID, "level_spread": spreads}
        report = lofo.leave_one_file_out(
            files, lofo.grid(lofo.DEFAULT_BASE, opts), cache=cache, vary=["level_spread", "min_record"]
        )
        prof = report["profiles"]
        overall = " / ".join(str(prof[p]["overall"]) for p in prof)
        per = ", ".join(
            f"{r['file'].split('_')[-1].removesuffix('.csv')} {r['score']} ({r['variant']})"
            for r in prof["standard"]["files"]
        )
        print(f"NAB Twitter held out, spread {'|'.join(spreads)}: {overall}; per file {per}")


def crisis(crisis_dir: Path) -> None:
    """Onsets with the production settings and each spread, as collected and padded."""
    for spread in SPREADS:
        cfg = DetectConfig(level_spread=spread)
        for pad in (0.0, 7.0):
            rows = onsets.evaluate(crisis_dir, cfg, 0, pad)
            delays = [r.delay_from_surge_h for r in rows if r.delay_from_surge_h is not None]
            alarms = [r.event for r in rows if r.false_alarms_before]
            median = statistics.median(delays) if delays else None
            print(
                f"onsets, spread {spread}, pad {pad:g} d: {len(delays)}/{len(rows)} detected, median "
                f"{median:.2f} h, false alarms {sum(r.false_alarms_before for r in rows)} {alarms}"
            )


def nsw() -> None:
    """The sample's all|count anomalies with each spread."""
    t, counts = sample_counts()
    for spread in SPREADS:
        cfg = DetectConfig(level_spread=spread)
        windows = det.find_anomalies(det.score_series(t, counts, cfg), cfg)
        print(f"sample all|count, spread {spread}: {[w.start.strftime('%d %b %H:00') for w in windows]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "nab_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "nab_realtweets"
    )
    ap.add_argument(
        "crisis_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "crisislex_t26"
    )
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "lofo")
    args = ap.parse_args()
    nsw()
    nab(args.nab_dir, args.cache)
    crisis(args.crisis_dir)


if __name__ == "__main__":
    main()
