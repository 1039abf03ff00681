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


def fresh_store(tmp: str):
    from pipelines.store import EmbeddedServer, Store
    from tests.conftest import free_port

    server = EmbeddedServer(Path(tmp) / f"db_{uuid.uuid4().hex[:6]}", free_port())
    server.ensure_running()
    store = Store(server.uri, f"bench_{uuid.uuid4().hex[:8]}")
    store.schema.ensure()
    return server, store


def load(store, args, events_dir: Path) -> None:
    from pipelines.detect import sample_run as S

    t0 = time.perf_counter()
    if args.live:
        from pipelines.scoring.cpu import CpuScorer

        n = S.load_sample(store, events_dir)
        scored = S.score_all(store, CpuScorer())
        print(f"import + CPU scoring: {n} posts, {scored} scored in {time.perf_counter() - t0:.1f} s")
        if args.record:
            k = S.record_scores(store, args.record, note="CpuScorer outcomes on data/sample")
            print(f"recorded {k} posts' scores to {args.record}")
    else:
        n = S.load_scored(store, events_dir, S.load_scores(args.scores))
        print(f"import with recorded scores + rollup recount: {n} posts in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--live", action="store_true", help="score with the CPU scorer instead of replaying")
    ap.add_argument("--record", type=Path, help="write the scores to this file (with --live)")
    ap.add_argument("--scores", type=Path, default=SCORES)
    ap.add_argument("--events", nargs="*", help="event folders of data/sample to load (default: all six)")
    ap.add_argument("--feedback", metavar="SPLIT", help="scripted feedback run split at this UTC time (ISO)")
    ap.add_argument(
        "--script",
        choices=["by-lead", "all-not-interesting"],
        default="by-lead",
        help="verdicts of the feedback run: score-led incidents 'not interesting', others 'useful' "
        "(by-lead), or every open incident 'not interesting' (the largest effect damping can have)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        events_dir = REPO / "data" / "sample"
        if args.events:
            events_dir = Path(tmp) / "events"
            events_dir.mkdir()
            for name in args.events:
                (events_dir / name).symlink_to(REPO / "data" / "sample" / name, target_is_directory=True)
        runs = [("single cycle", None)] if not args.feedback else [("control", False), ("feedback", True)]
        results = {}
        for name, verdicts in runs:
            server, store = fresh_store(tmp)
            try:
                print(f"--- {name}")
                load(store, args, events_dir)
                if verdicts is None:
                    report(store)
                else:
                    results[name] = feedback_run(store, args.feedback, verdicts, args.script)
            finally:
                store.close()  # the server's folder is temporary: no drop (it can stall on a busy server)
                server.stop()
        if args.feedback:
            c, f = results["control"], results["feedback"]
            print(
                f"scripted feedback: anomalies after the split on the {len(f['damped'])} damped series: "
                f"control {c['after_on'](f['damped'])}, with feedback {f['after_on'](f['damped'])}; "
                f"on all series: control {c['after_all']}, with feedback {f['after_all']}"
            )


def feedback_run(store, split: str, verdicts: bool, script: str = "by-lead") -> dict:
    """Cycle up to ``split``, give scripted verdicts (when ``verdicts``), cycle to the end.

    The script, fixed before looking at any result: a score-led incident (a mean score
    leads it) is "not interesting" ("scripted: mean-score shift"), any other open incident
    is "useful". Returns the anomalies raised after the split.
    """
    from dataclasses import dataclass
    from datetime import UTC, datetime, timedelta

    from pipelines.detect.service import DetectorService
    from pipelines.detect.verdicts import record_verdict

    @dataclass
    class Analyst:
        username: str = "scripted-analyst"
        role: str = "analyst"

    t = datetime.fromisoformat(split).replace(tzinfo=UTC)
    t0 = time.perf_counter()
    first = DetectorService(store, clock=lambda: t).run_cycle()
    print(f"cycle 1 (data up to {t:%Y-%m-%d %H:%M}): {first.line()} (wall {time.perf_counter() - t0:.1f} s)")
    damped: set[str] = set()
    if verdicts:
        for inc in store.incidents.find(["open"]):
            if script == "all-not-interesting":
                verdict, note = "not_interesting", "scripted: reviewed already"
            else:
                verdict = "useful" if inc.get("volume", True) else "not_interesting"
                note = "scripted: mean-score shift" if verdict != "useful" else ""
            record_verdict(store, inc["_id"], verdict, user=Analyst(), note=note, now=t)
            print(f"  {verdict:<15} {inc['title']}")
        from pipelines.detect import feedback as F

        damped = {s for s, k in F.steps(store.detector.feedback(t), t).items() if k}
    end = t + timedelta(days=13)  # within the 14 days the verdicts are in force
    t0 = time.perf_counter()
    second = DetectorService(store, clock=lambda: end).run_cycle()
    print(
        f"cycle 2 (data up to {end:%Y-%m-%d %H:%M}): {second.line()} (wall {time.perf_counter() - t0:.1f} s)"
    )
    after = [a for a in store.anomalies.find(limit=5000) if a["start"].replace(tzinfo=UTC) >= t]
    for a in sorted(after, key=lambda a: (a["start"], a["series"])):
        print(f"  after split: {a['series']:<32} {a['start']:%Y-%m-%d %H:%M} sev {a['severity']:.2f}")
    return {
        "damped": sorted(damped),
        "after_all": len(after),
        "after_on": lambda series: sum(a["series"] in series for a in after),
    }


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


def report(store) -> None:
    from pipelines.detect.incidents import rank_key
    from pipelines.detect.service import DetectorService

    t0 = time.perf_counter()
    svc = DetectorService(store)
    rep = svc.run_cycle()
    print(f"detector: {rep.line()} (wall {time.perf_counter() - t0:.1f} s)")
    anoms = store.anomalies.find(limit=5000)
    print(f"anomalies: {len(anoms)}")
    for a in sorted(anoms, key=lambda a: a["start"]):
        print(
            f"  {a['series']:<36} {a['start']:%Y-%m-%d %H:%M} sev {a['severity']:.2f} "
            f"obs {a.get('observed_total', 0):7.1f} exp {a.get('expected_total', 0):7.1f} posts {a.get('posts')}"
        )
    incs = sorted(store.incidents.find(include_minor=True, limit=5000), key=rank_key)
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
