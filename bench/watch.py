"""Watch-pass benchmark: tagging N scored posts with watchlists, and one cycle of the alerts loop.

Usage (repository root)::

    python bench/watch.py [-n 10000] [--watchlists 5] [--batch 500]

The N posts are the bundled sample's real tweets (``data/sample``, CrisisLexT26) drawn at
random with replacement, given new ids and times spread over 30 days, stored as the scorer
leaves them (status ``scored``, scores set) in a fresh embedded SecantusDB (own server, free
port, temporary folder, ``--sync-on-commit``, Vigil's indexes). It prints posts/s of:

- the live pass (every post matched against every watchlist in Python, tagged, marked
  ``watched``, rollups counted with the journal), the path new posts take;
- the back-fill of one new watchlist over the already-watched history (time windows through
  the ``ts`` index), the path of a new or edited watchlist;
- the server's ``update_many`` of the same number of posts (the floor the pass sits on);
- one full alerts cycle (rules and deliveries) once tagging is done.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import resource
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.alerts.models import Channel, Rule  # noqa: E402
from pipelines.alerts.service import AlertService  # noqa: E402
from pipelines.alerts.tagging import WatchTagger  # noqa: E402
from pipelines.models import build_post  # noqa: E402
from pipelines.store import EmbeddedServer, Store  # noqa: E402
from pipelines.watchlists import Watchlist  # noqa: E402

QUERIES = [
    "flood OR flooding OR #coflood",
    "typhoon OR yolanda OR haiyan",
    "earthquake OR quake OR bohol",
    "fire OR bushfire OR #nswfires",
    '"train crash" OR derailment OR metro-north',
    "rescue OR evacuat*",
    "help OR donate OR relief",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def texts() -> list[str]:
    out = []
    for f in sorted((REPO / "data" / "sample").glob("*/tweets_labeled.csv.gz")):
        rows = csv.reader(io.StringIO(gzip.decompress(f.read_bytes()).decode("utf-8")), skipinitialspace=True)
        next(rows)
        out += [r[1] for r in rows if len(r) > 1]
    return out


def posts(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    pool = texts()
    start = datetime(2013, 10, 1, tzinfo=UTC)
    docs = []
    for i in range(n):
        d = build_post(
            source=("crisislex", "rss", "reddit")[i % 3],
            native_id=str(i),
            ts=start + timedelta(seconds=i * 30 * 86400 / n),
            text=rnd.choice(pool),
            now=datetime(2030, 1, 1, tzinfo=UTC),
        ).to_doc()
        d["status"] = "scored"
        d["scores"] = {
            "sentiment": round(rnd.uniform(-1, 1), 3),
            "threat": round(rnd.random() ** 3, 3),
            "hate": round(rnd.random() ** 4, 3),
            "toxicity": round(rnd.random() ** 2, 3),
            "places": [],
        }
        docs.append(d)
    return docs


def add(store: Store, wl: Watchlist) -> None:
    doc = wl.to_doc()
    doc.pop("created"), doc.pop("updated")
    store.put_config("watchlists", doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--watchlists", type=int, default=5)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    docs = posts(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db", _free_port())
        server.ensure_running()
        try:
            store = Store(server.uri, "bench")
            store.ensure_schema()
            wls = [
                Watchlist.make(name=f"w{i}", query=QUERIES[i % len(QUERIES)]) for i in range(args.watchlists)
            ]
            for wl in wls:
                add(store, wl)
            tagger = WatchTagger(store, batch=args.batch)
            tagger.run(budget_s=1e9)  # the watchlists exist before the posts: empty back-fills
            for i in range(0, len(docs), 5000):
                store.db.posts.insert_many(docs[i : i + 5000], ordered=False)
            store.rebuild_ingest_rollups()
            t = time.perf_counter()
            live = tagger.run(budget_s=1e9)
            live_s = time.perf_counter() - t
            tagged = live.live_tagged

            extra = Watchlist.make(name="backfill", query=QUERIES[-1])
            add(store, extra)
            t = time.perf_counter()
            bf = tagger.run(budget_s=1e9)
            bf_s = time.perf_counter() - t

            ids = [d["_id"] for d in docs]
            t = time.perf_counter()
            for i in range(0, len(ids), 500):
                store.db.posts.update_many({"_id": {"$in": ids[i : i + 500]}}, {"$set": {"bench": 1}})
            floor_s = time.perf_counter() - t

            store.put_config(
                "alert_channels",
                Channel.make(
                    name="sink", type="webhook", url="http://127.0.0.1:9/none", secret_env="UNSET"
                ).to_doc(),
            )
            for kind in ("volume", "sentiment_shift", "threshold", "new_place", "spike"):
                store.put_config(
                    "alert_rules",
                    Rule.make(
                        name=f"r-{kind}", kind=kind, watchlist=wls[0].id, channels=[], min_posts=10
                    ).to_doc(),
                )
            t = time.perf_counter()
            report = AlertService(store).cycle(deliver=False)
            cycle_s = time.perf_counter() - t
        finally:
            server.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"posts: {args.n:,}, watchlists: {args.watchlists}, batch: {args.batch}")
    print(f"live pass: {args.n / live_s:,.0f} posts/s ({live_s:.1f} s, {tagged:,} posts tagged)")
    print(
        f"back-fill of one new watchlist: {args.n / bf_s:,.0f} posts of history/s "
        f"({bf_s:.1f} s, {sum(bf.backfilled.values()):,} tagged)"
    )
    print(
        f"server floor, update_many of every post in 500s: {args.n / floor_s:,.0f} posts/s ({floor_s:.1f} s)"
    )
    print(f"one alerts cycle after tagging (5 rules): {cycle_s:.2f} s ({report.events} events)")
    print(f"peak RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
