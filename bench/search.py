"""Search-index benchmark: N resampled real posts through the indexer's write path, then
p50/p95 of ten query shapes x (count, hourly timeline, top terms, newest page).

Usage (repository root)::

    python bench/search.py [-n 1000000] [--repeats 20]

Posts are the bundled sample's real tweets (``data/sample``, via :func:`bench.ingest.base_rows`)
drawn with replacement, each a new post with a new id, a time spread over 60 days, a source of
three and a language of two; ``terms`` are computed by :func:`pipelines.models.extract_terms`.
Scores and places are *synthetic* (uniform random threat/sentiment, one of five Canadian
cities on 30 % of posts), so filters on them have realistic selectivity, not real values.
MongoDB is skipped: documents go straight to :class:`pipelines.search.indexer.Indexer`'s
write path (``to_document``, delete-by-id, add, commit per 10,000). Prints index rate,
size on disk, peak RSS, and a latency table. No targets are asserted.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ingest import base_rows  # noqa: E402
from pipelines.filters import Filters  # noqa: E402
from pipelines.models import extract_terms  # noqa: E402
from pipelines.search import aggregate  # noqa: E402
from pipelines.search.compile import filters_query  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402
from pipelines.search.schema import to_document  # noqa: E402

START = datetime(2020, 9, 13, tzinfo=UTC)
CITIES = [("Calgary", 51.05, -114.07), ("Toronto", 43.65, -79.38), ("Montreal", 45.5, -73.57),
          ("Vancouver", 49.28, -123.12), ("Halifax", 44.65, -63.57)]  # fmt: skip


def posts(n: int, seed: int = 7):
    """``n`` resampled posts (dicts as the store holds them)."""
    rng = random.Random(seed)
    texts = [r[1] for r in base_rows()]
    terms_of: dict[str, list[str]] = {}
    for i in range(n):
        text = rng.choice(texts)
        terms = terms_of.get(text) or terms_of.setdefault(text, extract_terms(text))
        post = {
            "_id": f"bench:{i}",
            "source": rng.choice(["twitter", "reddit", "rss"]),
            "lang": rng.choice(["en", "en", "en", "fr"]),
            "ts": START + timedelta(seconds=rng.randrange(60 * 24 * 3600)),
            "text": text,
            "terms": terms,
            "seq": i + 1,
            "scores": {"threat": rng.random(), "sentiment": rng.uniform(-1, 1)},
        }
        if rng.random() < 0.3:
            name, lat, lon = rng.choice(CITIES)
            post["scores"]["places"] = [{"name": name, "lat": lat, "lon": lon}]
        yield post


def fill(index: SearchIndex, n: int) -> float:
    """Index ``n`` posts the way :class:`~pipelines.search.indexer.Indexer` writes; seconds taken."""
    writer = index.writer()
    t0 = time.perf_counter()
    for i, post in enumerate(posts(n), 1):
        writer.delete_documents_by_term("id", post["_id"])
        writer.add_document(to_document(post))
        if i % 10_000 == 0:
            writer.commit()
    writer.commit()
    writer.wait_merging_threads()
    return time.perf_counter() - t0


SHAPES = {
    "term": {"query": "flood"},
    "phrase": {"query": '"state of emergency"'},
    "and_not": {"query": "flood -calgary"},
    "prefix": {"query": "evacuat*"},
    "or": {"query": "(fire OR flood OR earthquake) -rescue"},
    "time_range": {
        "query": "flood",
        "since": START + timedelta(days=10),
        "until": START + timedelta(days=20),
    },
    "score_range": {"query": "flood", "threat": (0.7, 1.0)},
    "source_lang": {"query": "flood", "sources": ["twitter"], "langs": ["en"]},
    "place": {"places": ["Calgary"]},
    "everything": {},
}
OPS = {
    "count": lambda s, q: aggregate.count(s, q),
    "hourly": lambda s, q: aggregate.histogram(s, q, "1h"),
    "top_terms": lambda s, q: aggregate.top_values(s, q, "terms", 20),
    "newest_50": lambda s, q: aggregate.newest_ids(s, q, 50),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-search-") as tmp:
        index = SearchIndex.create(Path(tmp) / "search-index")
        secs = fill(index, args.n)
        size = sum(f.stat().st_size for f in index.path.rglob("*") if f.is_file())
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"indexed {args.n:,} posts in {secs:.1f} s = {args.n / secs:,.0f} posts/s")
        print(f"size on disk {size / 1e6:,.1f} MB ({size / args.n:,.0f} B/post); peak RSS {rss_mb:,.0f} MB")
        searcher = index.searcher()
        print(f"{'shape':<12} {'matches':>9}  " + "  ".join(f"{op + ' p50/p95 ms':>22}" for op in OPS))
        for name, kw in SHAPES.items():
            q = filters_query(index.schema, Filters.make(**kw))
            cells = []
            for fn in OPS.values():
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    fn(searcher, q)
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                cells.append(f"{statistics.median(times):>10.1f} / {p95:>9.1f}")
            print(f"{name:<12} {aggregate.count(searcher, q):>9,}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
