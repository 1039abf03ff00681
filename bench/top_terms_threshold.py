"""Where ``aggregate.top_values`` should stop aggregating uncut: CPU per call of the two
exact paths (one uncut ``terms`` aggregation; a cut one plus one recount request) on
keyword queries that are none of ``bench/search.py``'s shapes, on an index it filled.

Usage (repository root)::

    python bench/top_terms_threshold.py INDEX_DIR [QUERY ...]

Prints, per query, the selected posts and the CPU milliseconds of each path (mean of five
after one untimed call); asserts only that both paths give the same answer.
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

QUERIES = ["killed", "typhoon", "pray*", "rescue", "philippines", "help", "fire", "earthquake", "people",
           "flooding", "-earthquake", "-help", "people OR help", "people OR help OR fire OR typhoon OR killed",
           "-(people OR help OR earthquake)"]  # fmt: skip
"""Held out: the bench's shapes (flood, phrases, fire OR flood ...) are where figures are reported."""


def _cpu_ms(fn: Callable[[], Any], repeats: int = 5) -> tuple[float, Any]:
    fn()
    t = time.process_time()
    for _ in range(repeats):
        out = fn()
    return (time.process_time() - t) / repeats * 1000, out


def main(argv: list[str]) -> None:
    index = SearchIndex.open(argv[0])
    searcher = index.searcher()
    for kw in argv[1:] or QUERIES:
        q = filters_query(index.schema, Filters.make(query=kw))
        n = aggregate.count(searcher, q)
        aggregate.SMALL_SELECTION = 10**12
        uncut, a = _cpu_ms(lambda q=q: aggregate.top_values(searcher, q, "terms", 20))
        aggregate.SMALL_SELECTION = 0
        cut, b = _cpu_ms(lambda q=q: aggregate.top_values(searcher, q, "terms", 20))
        assert a == b, kw
        print(
            f"{kw:<12} n={n:>9,}  uncut {uncut:7.1f} ms  cut + one recount request {cut:7.1f} ms", flush=True
        )


if __name__ == "__main__":
    main(sys.argv[1:])
