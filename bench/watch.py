"""Watchlist benchmark: watch series from the search index, and one cycle of the alerts loop.

Usage (repository root)::

    python bench/watch.py [-n 10000] [--watchlists 5]

The N posts are the bundled sample's real tweets (``data/sample``, CrisisLexT26) drawn at
random with replacement, given new ids and times spread over 30 days, stored as the scorer
leaves them (status ``scored``, scores set) in a fresh embedded SecantusDB (own server, free
port, temporary folder, Vigil's indexes), then indexed by the search indexer. There is no
watch pass any more (issue 13): a watchlist's series is an aggregation of its query. It
prints:

- the indexer's rate over the N posts (the only per-post work watchlists now cost);
- the time of every watchlist's whole hourly series (what the detector reads each cycle);
- one full alerts cycle (five rules on one watchlist) reading the index.
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
from pipelines.core.post import build_post  # noqa: E402
from pipelines.search import signals  # noqa: E402
from pipelines.search.index import SearchIndex, index_path  # noqa: E402
from pipelines.search.indexer import Indexer  # noqa: E402
from pipelines.search.watchlists import Watchlist  # noqa: E402
from pipelines.store import EmbeddedServer, Store  # noqa: E402

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
    store.alerts.put_config("watchlists", doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--watchlists", type=int, default=5)
    args = ap.parse_args()
    docs = posts(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "db", _free_port())
        server.ensure_running()
        try:
            store = Store(server.uri, "bench")
            store.schema.ensure()
            wls = [
                Watchlist.make(name=f"w{i}", query=QUERIES[i % len(QUERIES)]) for i in range(args.watchlists)
            ]
            for wl in wls:
                add(store, wl)
            for i in range(0, len(docs), 5000):
                store.posts.insert(docs[i : i + 5000])
            store.rollups.rebuild_ingest()
            index = SearchIndex.create(index_path(Path(tmp) / "data"))
            indexer = Indexer(store, index)
            t = time.perf_counter()
            indexed = indexer.catch_up()
            index_s = time.perf_counter() - t
            indexer.close()

            searcher = index.searcher()
            t = time.perf_counter()
            hours = [signals.watch_rollups(searcher, index.schema, wl) for wl in wls]
            series_s = time.perf_counter() - t
            matched = sum(h["n"] for hs in hours for h in hs)

            store.alerts.put_config(
                "alert_channels",
                Channel.make(
                    name="sink", type="webhook", url="http://127.0.0.1:9/none", secret_env="UNSET"
                ).to_doc(),
            )
            for kind in ("volume", "sentiment_shift", "threshold", "new_place", "spike"):
                store.alerts.put_config(
                    "alert_rules",
                    Rule.make(
                        name=f"r-{kind}", kind=kind, watchlist=wls[0].id, channels=[], min_posts=10
                    ).to_doc(),
                )
            t = time.perf_counter()
            report = AlertService(store, index=index).cycle(deliver=False)
            cycle_s = time.perf_counter() - t
        finally:
            server.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"posts: {args.n:,}, watchlists: {args.watchlists}")
    print(f"indexer: {indexed / index_s:,.0f} posts/s ({index_s:.1f} s, {indexed:,} posts)")
    print(
        f"every watchlist's hourly series: {series_s * 1000:,.0f} ms for {args.watchlists} watchlists "
        f"({matched:,} scored posts matched in all)"
    )
    print(
        f"one alerts cycle (5 rules, index): {cycle_s:.2f} s ({report.events} events, errors {report.errors})"
    )
    print(f"peak RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
