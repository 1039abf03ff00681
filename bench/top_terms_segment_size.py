"""Which ``segment_size`` ``aggregate.top_values`` should cut at, by selection size: CPU per
call of the uncut aggregation and of the cut path (cut aggregation + one recount request,
repeated with a 10x segment size when it does not settle) at several segment sizes, on
keyword queries that are none of ``bench/search.py``'s shapes, on an index it filled.

Why several sizes: a cut aggregation turns its top ``segment_size`` term ordinals of every
segment into strings, one dictionary-block read each (issue 13, 1M bench posts, 383 selected:
0.5 ms at 1 per segment, 3.1 ms at 20, ~11 ms at 200), while a smaller size leaves a larger
bound and more candidates to recount, which costs per selected post.

Usage (repository root)::

    python bench/top_terms_segment_size.py INDEX_DIR [REPEATS [SIZE,SIZE,...]]

Prints, per query, the selected posts and the CPU milliseconds (mean of REPEATS after one
untimed call) of each path; asserts only that every path gives the same answer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.search import aggregate  # noqa: E402
from pipelines.search.compile import filters_query  # noqa: E402
from pipelines.search.filters import Filters  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402

QUERIES = ['"death toll"', "typhoon killed", "philippines -typhoon", "pray* help", "rescue", "killed",
           "flooding", "typhoon", "help", "people", "people OR help", "people OR help OR fire OR typhoon OR killed"]  # fmt: skip
"""Held out: the bench's shapes (flood, phrases, fire OR flood ...) are where figures are reported."""


def _cpu_ms(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    out = fn()
    t = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - t) / repeats * 1000, out


def main(argv: list[str]) -> None:
    index = SearchIndex.open(argv[0])
    repeats = int(argv[1]) if len(argv) > 1 else 3
    sizes = [int(x) for x in argv[2].split(",")] if len(argv) > 2 else [10, 30, 100, 300, 1000]
    searcher = index.searcher()
    print(f"{searcher.num_docs:,} posts, {searcher.num_segments} segments; CPU ms per call", flush=True)
    print(f"{'query':<45} {'posts':>9}  {'uncut':>7}  " + "  ".join(f"{f'cut {s}':>8}" for s in sizes))
    for kw in QUERIES:
        q = filters_query(index.schema, Filters.make(query=kw))
        n = aggregate.count(searcher, q)
        aggregate.SMALL_SELECTION = 10**12
        uncut, want = _cpu_ms(lambda q=q: aggregate.top_values(searcher, q, "terms", 20), repeats)
        cells = []
        for s in sizes:
            aggregate.SMALL_SELECTION, aggregate.SEGMENT_SIZE = 0, s
            ms, got = _cpu_ms(lambda q=q: aggregate.top_values(searcher, q, "terms", 20), repeats)
            assert got == want, (kw, s)
            cells.append(f"{ms:8.1f}")
        print(f"{kw:<45} {n:>9,}  {uncut:7.1f}  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
