"""Where ``aggregate.top_values`` spends its time on an existing bench index, read only: the
count, the ``terms`` aggregation cut at several ``segment_size`` values and uncut, a one-value
aggregation over the same posts (the selection's own cost), and three ways of recounting the
values that can still reach the top 20 (filter buckets as ``exact_counts`` does, one ``count``
query per value, one ``terms`` request with ``include``), each checked against the others.

Usage (repository root)::

    python bench/top_terms_profile.py INDEX_DIR SHAPE[,SHAPE...] [REPEATS]

Prints CPU milliseconds per call (best of REPEATS after one untimed call) per shape; with
every segment size, how many values the recount would take. Writes nothing into INDEX_DIR.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tantivy import Occur, Query  # noqa: E402

from bench import search as bench  # noqa: E402
from pipelines.search import aggregate  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402
from pipelines.search.schema import SCHEMA  # noqa: E402

SIZES = (1, 20, 200, 1000, 3000)


def best_cpu_ms(fn: Callable[[], Any], repeats: int = 5) -> float:
    """The least CPU milliseconds of ``repeats`` calls after one warm-up call (shared by the top-terms benches)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        c = time.process_time()
        fn()
        best = min(best, (time.process_time() - c) * 1000)
    return best


def _terms(s: Any, q: Any, segment_size: int, size: int = 100) -> dict:
    return s.aggregate(q, {"t": {"terms": {"field": "terms", "size": size, "segment_size": segment_size}}})[
        "t"
    ]


def _contenders(res: dict) -> list[str]:
    """Values whose bound reaches the 20th merged count (what ``_settle`` recounts)."""
    merged = sorted(
        ((str(b["key"]), int(b["doc_count"])) for b in res["buckets"]), key=lambda x: (-x[1], x[0])
    )
    error = int(res.get("doc_count_error_upper_bound") or 0)
    floor = merged[min(19, len(merged) - 1)][1]
    return [v for v, c in merged if c + error >= floor]


def profile(s: Any, q: Any, repeats: int) -> None:
    t = best_cpu_ms
    print(f"  count {t(lambda: aggregate.count(s, q), repeats):.1f}")
    print(
        f"  one-value aggregation (source) {t(lambda: s.aggregate(q, {'s': {'terms': {'field': 'source'}}}), repeats):.1f}"
    )
    for size in SIZES:
        res = _terms(s, q, size)
        c = _contenders(res) if size > 1 else []
        recount = f", recount of {len(c)} values {t(lambda c=c: aggregate.exact_counts(s, q, 'terms', c), repeats):.1f}"
        print(f"  cut at {size}: {t(lambda n=size: _terms(s, q, n), repeats):.1f}{recount if c else ''}")
    print(f"  uncut {t(lambda: _terms(s, q, aggregate.UNCUT), repeats):.1f}")
    c = _contenders(_terms(s, q, 200))
    want = aggregate.exact_counts(s, q, "terms", c)

    def by_count() -> dict[str, int]:
        both = [
            Query.boolean_query([(Occur.Must, Query.term_query(SCHEMA, "terms", v)), (Occur.Must, q)])
            for v in c
        ]
        return {v: aggregate.count(s, b) for v, b in zip(c, both, strict=True)}

    inc = {"t": {"terms": {"field": "terms", "size": len(c), "segment_size": len(c), "include": c}}}

    def by_include() -> dict[str, int]:
        return {str(b["key"]): int(b["doc_count"]) for b in s.aggregate(q, inc)["t"]["buckets"]}

    assert by_count() == want and by_include() == want, "the recounts disagree"
    print(f"  the {len(c)} values of cut 200 by one count each {t(by_count, repeats):.1f}, "
          f"by include {t(by_include, repeats):.1f}")  # fmt: skip


def main(argv: list[str]) -> None:
    index = SearchIndex.open(Path(argv[0]))
    repeats = int(argv[2]) if len(argv) > 2 else 3
    s = index.searcher()
    print(f"{s.num_docs:,} posts, {s.num_segments} segments; CPU ms per call, best of {repeats}", flush=True)
    for name in argv[1].split(","):
        q = bench.shape_query(index.schema, bench.SHAPES[name])
        print(f"{name}: {aggregate.count(s, q):,} posts", flush=True)
        profile(s, q, repeats)


if __name__ == "__main__":
    main(sys.argv[1:])
