"""The bundled sample end to end: import, score, detector cycle, incidents.

    python bench/sample_incidents.py                       # replay recorded CPU scores (fast)
    python bench/sample_incidents.py --live --record FILE  # score with the CPU scorer, record
    python bench/sample_incidents.py --feedback            # plus a scripted feedback run

Prints the time of each stage, the anomalies, the incidents (open, minor) with their
titles, and which of the six events an open incident covers. Uses a fresh embedded
SecantusDB in a temporary folder (or ``MONGODB_URI`` with a throw-away database).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCORES = REPO / "tests" / "fixtures" / "sample_scores.json.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--live", action="store_true", help="score with the CPU scorer instead of replaying")
    ap.add_argument("--record", type=Path, help="write the scores to this file (with --live)")
    ap.add_argument("--scores", type=Path, default=SCORES)
    ap.add_argument("--feedback", action="store_true", help="run the scripted feedback experiment")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from pipelines.detect import sample_run as S
    from pipelines.store import EmbeddedServer, Store
    from tests.conftest import free_port

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db", free_port())
        server.ensure_running()
        store = Store(server.uri, f"bench_{uuid.uuid4().hex[:8]}")
        store.ensure_schema()
        try:
            t0 = time.perf_counter()
            n = S.load_sample(store, REPO / "data" / "sample")
            print(f"import: {n} posts in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            if args.live:
                from pipelines.scoring.cpu import CpuScorer

                scorer = CpuScorer()
            else:
                scorer = S.ReplayScorer(S.load_scores(args.scores))
            scored = S.score_all(store, scorer)
            print(
                f"score ({'cpu' if args.live else 'replay'}): {scored} posts in {time.perf_counter() - t0:.1f} s"
            )
            if args.record:
                k = S.record_scores(store, args.record, note="CpuScorer outcomes on data/sample")
                print(f"recorded {k} posts' scores to {args.record}")
            report(store, feedback=args.feedback)
        finally:
            store.client.drop_database(store.db.name)
            store.close()
            server.stop()


def report(store, feedback: bool = False) -> None:
    from pipelines.detect.service import DetectorService

    t0 = time.perf_counter()
    svc = DetectorService(store)
    rep = svc.run_cycle()
    print(f"detector: {rep.line()} (wall {time.perf_counter() - t0:.1f} s)")
    anoms = store.find_anomalies(limit=5000)
    print(f"anomalies: {len(anoms)}")
    for a in sorted(anoms, key=lambda a: a["start"]):
        print(
            f"  {a['series']:<40} {a['start']:%Y-%m-%d %H:%M} sev {a['severity']:.2f} "
            f"obs {a.get('observed_total', 0):.0f} exp {a.get('expected_total', 0):.0f}"
        )


if __name__ == "__main__":
    main()
