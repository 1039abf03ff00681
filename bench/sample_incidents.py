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


EVENTS = {  # event -> (first day, last day) of its surge, UTC (data/sample/README.md)
    "Colorado floods": ("2013-09-11", "2013-09-16"),
    "Bohol earthquake": ("2013-10-14", "2013-10-17"),
    "NSW bushfires": ("2013-10-16", "2013-10-25"),
    "Typhoon Yolanda": ("2013-11-07", "2013-11-13"),
    "Sardinia floods": ("2013-11-18", "2013-11-21"),
    "NY train crash": ("2013-12-01", "2013-12-03"),
}


def covered(incidents: list[dict]) -> dict[str, list[str]]:
    """Event -> ids of open incidents whose window meets the event's surge days."""
    from datetime import UTC, datetime, timedelta

    out: dict[str, list[str]] = {}
    for name, (a, b) in EVENTS.items():
        lo = datetime.fromisoformat(a).replace(tzinfo=UTC)
        hi = datetime.fromisoformat(b).replace(tzinfo=UTC) + timedelta(days=1)
        out[name] = [
            i["_id"]
            for i in incidents
            if i["start"].replace(tzinfo=UTC) < hi and i["end"].replace(tzinfo=UTC) > lo
        ]
    return out


def report(store, feedback: bool = False) -> None:
    from pipelines.detect.incidents import rank_key
    from pipelines.detect.service import DetectorService

    t0 = time.perf_counter()
    svc = DetectorService(store)
    rep = svc.run_cycle()
    print(f"detector: {rep.line()} (wall {time.perf_counter() - t0:.1f} s)")
    anoms = store.find_anomalies(limit=5000)
    print(f"anomalies: {len(anoms)}")
    for a in sorted(anoms, key=lambda a: a["start"]):
        print(
            f"  {a['series']:<36} {a['start']:%Y-%m-%d %H:%M} sev {a['severity']:.2f} "
            f"obs {a.get('observed_total', 0):7.1f} exp {a.get('expected_total', 0):7.1f} posts {a.get('posts')}"
        )
    incs = sorted(store.find_incidents(include_minor=True, limit=5000), key=rank_key)
    open_ = [i for i in incs if not i.get("minor") and i.get("status") == "open"]
    print(
        f"incidents: {len(open_)} open, {len(incs) - len(open_)} minor/closed; posts per open incident: "
        f"{min((i['posts'] for i in open_), default=0)}-{max((i['posts'] for i in open_), default=0)}"
    )
    for i in incs:
        flag = "minor" if i.get("minor") else "open "
        print(f"  [{flag}] {i['title']}  (impact {i['impact']:.0f}, {len(i['members'])} series)")
    cov = covered(open_)
    print(
        f"events among open incidents: {sum(bool(v) for v in cov.values())}/6 "
        + ", ".join(f"{k}: {'yes' if v else 'MISSED'}" for k, v in cov.items())
    )


if __name__ == "__main__":
    main()
