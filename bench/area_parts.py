"""Where a drawn area's answer goes: the parts of :func:`pipelines.search.select.area_query`
timed one by one on a filled bench index (``bench/search.py --index-dir D --keep``).

Why: an area's cost is the sum of a few term sets of map cells, reading and testing its rim
posts, and naming the smaller group of them by id; which part grows with the index decides
the next step (``docs/search.md``, "Drawn areas from the inverted index").

Run: ``.venv/bin/python bench/area_parts.py D`` (D holds ``meta.json``); prints the cover's
cell counts and the median ms of each part over ``--repeats`` calls (the first call not timed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tantivy
from tantivy import Query

from bench.search import AREA
from pipelines.search import cellindex, geocells, select


def _time(name: str, f: Callable[[], object], repeats: int) -> None:
    f()
    took = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        took.append((time.perf_counter() - t0) * 1000)
    shown = f"  ({out:,})" if isinstance(out, int) and not isinstance(out, bool) else ""
    print(f"{name:44s} {statistics.median(took):8.1f} ms{shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    index = tantivy.Index.open(str(args.index_dir))
    searcher, schema, n = index.searcher(), index.schema, args.repeats
    levels, base = geocells.INDEX_LEVELS, Query.all_query()
    cover = geocells.cover(AREA, levels)
    print(
        f"posts {searcher.num_docs:,}; index cover: {len(cover.cells):,} inner cells, {len(cover.rim or ()):,} rim cells"
    )
    _time("cover (uncached)", lambda: geocells.cover.__wrapped__(AREA, levels) and 0, n)
    _time(
        "inner term set, built (uncached)",
        lambda: cellindex.cells_query(schema, "map_cell", cover.cells) and 0,
        n,
    )
    inner = select._cells_query(AREA, levels, "inner")
    _time("inner cells: count", lambda: searcher.search(inner, limit=1, count=True).count, n)
    rim = select.rim_query(schema, base, AREA, levels)
    _time("rim cells: count", lambda: searcher.search(rim, limit=1, count=True).count, n)
    _time("rim posts read and tested: inside", lambda: len(select.split(searcher, AREA, rim)[0]), n)
    ins, outs = select.split(searcher, AREA, rim)
    named = ins if len(ins) <= len(outs) else outs
    _time("the smaller group's ids read", lambda: len(select.doc_ids(searcher, named)), n)
    _time(
        "area_query (all of the above, cached cover)",
        lambda: select.area_query(searcher, schema, base, AREA) and 0,
        n,
    )
    q = select.area_query(searcher, schema, base, AREA)
    _time("the area's count", lambda: searcher.search(q, limit=1, count=True).count, n)
    _time(
        "reference: the float box's count",
        lambda: searcher.search(select._float_box_query(schema, base, AREA), limit=1, count=True).count,
        n,
    )


if __name__ == "__main__":
    main()
