"""Top terms on one thread against two (:mod:`pipelines.search.halves`), interleaved in one
process on a bench index: wall p50 / p95 and CPU p95 in ms per shape, answers compared.

"One thread" is the same code with the split off (``SPLIT_MIN_DOCS`` beyond the index) and
the worker pool replaced by one that runs each task at once on the calling thread, which is
exactly what ran before the halves. Shapes as ``bench/search.py`` times them (the area selects
anew on every call).

    python bench/search.py -n 10000000 --repeats 1 --index-dir /tmp/sb_10m --keep --ops count
    python bench/halves_ab.py /tmp/sb_10m --rounds 4 --repeats 10 --shapes or area term
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import search as bench
from pipelines.search import halves
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex


class _AtOnce:
    """An executor that runs each task when it is submitted, on the caller's thread."""

    def submit(self, fn: Any, *args: Any) -> Future:
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # handed to the caller, as a pool would
            done.set_exception(exc)
        return done


def _call(index: SearchIndex, name: str) -> Any:
    kw = bench.SHAPES[name]
    searcher = index.searcher()
    f = Filters.make(**kw)
    return bench.top_terms(index, searcher, lambda: bench.shape_query(index.schema, kw, searcher), f)


def _run(index: SearchIndex, name: str, threads: int, repeats: int) -> dict[str, Any]:
    """``bench.search._timed`` of the shape's top terms on one thread or two."""
    pool, split = halves.POOL, halves.SPLIT_MIN_DOCS
    if threads == 1:
        halves.POOL, halves.SPLIT_MIN_DOCS = _AtOnce(), 1 << 62  # type: ignore[assignment]
    try:
        return bench._timed(lambda: _call(index, name), repeats)
    finally:
        halves.POOL, halves.SPLIT_MIN_DOCS = pool, split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--shapes", nargs="+", default=["or", "area", "term"], choices=sorted(bench.SHAPES))
    args = ap.parse_args()
    index = SearchIndex.open(args.index_dir)
    print(f"{index.searcher().num_docs:,} posts in {args.index_dir}")
    print(
        f"{'shape':<10} {'round':>5}  {'one thread p50 / p95 (cpu p95)':>32}  {'two threads p50 / p95 (cpu p95)':>32}"
    )
    for name in args.shapes:
        for r in range(args.rounds):
            cells, answers = [], []
            for threads in (1, 2) if r % 2 == 0 else (2, 1):
                timed = _run(index, name, threads, args.repeats)
                answers.append(timed["answer"])
                cells.append((threads, timed["p50"], timed["p95"], timed["cpu_p95"]))
            cells.sort()
            same = "same answer" if answers[0] == answers[1] else "ANSWERS DIFFER"
            print(
                f"{name:<10} {r + 1:>5}  "
                + "  ".join(f"{p50:>12.1f} / {p95:6.1f} ({c95:6.1f})" for _, p50, p95, c95 in cells)
                + f"  {same}",
                flush=True,
            )


if __name__ == "__main__":
    main()
