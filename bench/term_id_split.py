"""Where the term-id top-terms path spends its time on a kept bench index, read only: CPU ms
(median of 10 after one untimed call) of the ``tid`` aggregation cut at 1 per segment (the
read of every selected post's ids, little to merge) against uncut (the read plus merging every
distinct id of every segment), and how many distinct ids the selection holds.

Usage (repository root; the folder of ``bench/search.py --keep``)::

    python bench/term_id_split.py FOLDER [SHAPE ...]

SHAPE: names of ``bench/search.py``'s shapes (default ``or area term``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import search as bench  # noqa: E402
from pipelines.search import aggregate  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402


def _cpu_ms(fn: Any, k: int = 10) -> float:
    fn()
    times = []
    for _ in range(k):
        c = time.process_time()
        fn()
        times.append((time.process_time() - c) * 1000)
    return sorted(times)[k // 2]


def main(argv: list[str]) -> None:
    index = SearchIndex.open(Path(argv[0]))
    s = index.searcher()
    print(f"{s.num_docs:,} posts, {s.num_segments} segments; CPU ms, median of 10")
    for name in argv[1:] or ["or", "area", "term"]:
        q = bench.shape_query(index.schema, bench.SHAPES[name])
        cut = {"t": {"terms": {"field": "tid", "size": 70, "segment_size": 1}}}
        uncut = {"t": {"terms": {"field": "tid", "size": 70, "segment_size": aggregate.UNCUT}}}
        every = {"t": {"terms": {"field": "tid", "size": aggregate.UNCUT, "segment_size": aggregate.UNCUT}}}
        distinct = len(s.aggregate(q, every)["t"]["buckets"])
        print(f"{name:<8} {aggregate.count(s, q):>10,} posts {distinct:>8,} distinct ids  "
              f"cut at 1 {_cpu_ms(lambda q=q, a=cut: s.aggregate(q, a)):6.1f}  "
              f"uncut {_cpu_ms(lambda q=q, a=uncut: s.aggregate(q, a)):6.1f}  "
              f"count {_cpu_ms(lambda q=q: aggregate.count(s, q)):5.1f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
