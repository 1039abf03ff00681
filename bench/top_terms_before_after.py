"""Top 20 terms of ``bench/search.py``'s shapes on an existing bench index, read only: the
current ``aggregate.top_values`` against the one before issue 13's top-terms work (commit
e6c2bca, read with ``git show``), in one process on one searcher (one snapshot, even of an
index another process is filling), answers compared.

Usage (repository root)::

    python bench/top_terms_before_after.py INDEX_DIR REPEATS SHAPE[,SHAPE...]

Prints per shape: selected posts, then ``p50 / p95 (CPU p95)`` ms for each version and
``same`` when both answers are equal. Writes nothing into INDEX_DIR.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import search as bench  # noqa: E402

from pipelines.search import aggregate  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402

BEFORE = "e6c2bca"


def _before() -> Any:
    src = subprocess.run(["git", "show", f"{BEFORE}:pipelines/search/aggregate.py"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "aggregate_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("aggregate_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, float, float, float]:
    first = fn()
    cpu, wall = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return first, statistics.median(wall), bench._p95(wall), bench._p95(cpu)


def main(argv: list[str]) -> None:
    index = SearchIndex.open(argv[0])
    repeats, shapes = int(argv[1]), argv[2].split(",")
    old = _before()
    s = index.searcher()
    print(f"snapshot: {s.num_docs:,} posts, {s.num_segments} segments", flush=True)
    for name in shapes:
        q = bench.shape_query(index.schema, bench.SHAPES[name])
        a, *new_t = _timed(lambda q=q: aggregate.top_values(s, q, "terms", bench.TOP), repeats)
        b, *old_t = _timed(lambda q=q: old.top_values(s, q, "terms", bench.TOP), repeats)
        print(f"{name:<12} {aggregate.count(s, q):>9,}  now {new_t[0]:7.1f} /{new_t[1]:7.1f} ({new_t[2]:6.1f})   "
              f"before {old_t[0]:7.1f} /{old_t[1]:7.1f} ({old_t[2]:6.1f})   {'same' if a == b else 'DIFFERENT'}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
