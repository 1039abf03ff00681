"""Top 20 terms of ``bench/search.py``'s shapes on two bench indexes of the same posts, read
only, one process, the calls interleaved: what the order of a post's keyword values in the
index costs the ``terms`` aggregation (issue 13: :func:`pipelines.search.schema.to_dict`
hands them over sorted since then; an index filled before holds them in first-seen order).

Usage (repository root)::

    python bench/terms_order_ab.py INDEX_A INDEX_B REPEATS [SHAPE,...]

Prints per shape: selected posts, then for each index ``CPU p50 / p95`` ms of
:func:`pipelines.search.aggregate.top_values` (always the aggregation, never the term
rollup), and ``same`` when both answers are equal. Each repeat times A then B, or B then A
on odd repeats, so that a change in the machine's load falls on both. Writes nothing into
either folder.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import search as bench  # noqa: E402
from pipelines.search import aggregate  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402


def _cpu_ms(fn: Callable[[], object]) -> float:
    c = time.process_time()
    fn()
    return (time.process_time() - c) * 1000


def main(argv: list[str]) -> None:
    indexes = [SearchIndex.open(Path(p)) for p in argv[:2]]
    repeats = int(argv[2])
    shapes = argv[3].split(",") if len(argv) > 3 else list(bench.SHAPES)
    searchers = [ix.searcher() for ix in indexes]
    for label, s in zip("AB", searchers, strict=True):
        print(f"{label}: {s.num_docs:,} posts, {s.num_segments} segments", flush=True)
    for name in shapes:
        calls = []
        for ix, s in zip(indexes, searchers, strict=True):
            q = bench.shape_query(ix.schema, bench.SHAPES[name])
            calls.append(lambda s=s, q=q: aggregate.top_values(s, q, "terms", bench.TOP))
        answers = [call() for call in calls]  # first call of each: not timed
        cpu: list[list[float]] = [[], []]
        for r in range(repeats):
            for i in (0, 1) if r % 2 == 0 else (1, 0):
                cpu[i].append(_cpu_ms(calls[i]))
        n = aggregate.count(searchers[0], bench.shape_query(indexes[0].schema, bench.SHAPES[name]))
        cells = "   ".join(
            f"{label} {statistics.median(c):7.1f} /{bench._p95(c):7.1f}"
            for label, c in zip("AB", cpu, strict=True)
        )
        print(
            f"{name:<12} {n:>10,}   {cells}   {'same' if answers[0] == answers[1] else 'DIFFERENT'}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
