"""Top term ids of a large selection on both cores: the selection cut in two by ``seq``, each
half aggregated on its own thread, the two lists merged exactly (issue 13).

Why: the Python binding runs one aggregation on one thread (Tantivy's multi-threaded executor
is not exposed), but it releases the GIL while it runs, so two aggregations of disjoint halves
run at once on a two-core host. The uncut ``tid`` aggregation of a keyword query matching a
third of a million posts was the slowest top-terms cell at 10M posts (``or``: 112-131 ms p50);
halved, each thread reads half the posts' term ids.

Exactness: each half's aggregation is uncut (``segment_size`` beyond any vocabulary), so the
counts it returns are exact within the half, and an id it left out counts there at most the
smallest count it returned (0 when it returned every id). An id's total is therefore known
exactly when each half either returned it or returned everything; otherwise it lies between
its known part and that plus the left-out bounds. :func:`merge` keeps the answer only when
every id whose total is not exact (returned by one half only, or by neither) has an upper
bound *below* the ``size``-th largest lower bound, the least the true ``size``-th total can
be; a tie could win on the term, so equal is not enough. Otherwise the caller aggregates the
whole selection on one thread, as before.

Any split is exact; only its balance matters for speed. The split is the index's mean ``seq``
(an ``avg`` aggregation over every post, kept per index folder until the index's size moves by
a quarter: 64 ms once at 10M bench posts, where the median by ``percentiles`` cost 302 ms and
divided them the same way). Broad selections (a keyword over all time, an area) divide about
evenly; a selection lying wholly on one side costs one near-empty extra aggregation.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tantivy
from tantivy import Occur, Query

from pipelines.core.text import STOP_WORDS
from pipelines.search import termids
from pipelines.search.filters import Filters
from pipelines.search.query import And, Node, Or, Phrase, Term, parse
from pipelines.search.schema import SCHEMA

SPLIT_MIN_SELECTION = 50_000
"""A selection known to hold fewer posts than this (:func:`selection_bound`) stays on one
thread: each half would evaluate the whole query again for a few milliseconds of aggregation
saved (10M bench posts: a phrase matching 4,063 posts took 10 ms on one thread, 14 on two)."""
SPLIT_MIN_DOCS = 200_000
"""Indexes smaller than this aggregate on one thread: a half's work is then a few
milliseconds, the size of the thread hand-over and the extra pass over the query's postings."""
HALF_TOP = 1_000
"""Ids each half returns. Large next to the 20 a page shows, so that a term in the overall top
is in both halves' lists unless one half barely holds it; turning 1,000 buckets into Python
costs about a millisecond."""
RESPLIT_SHARE = 4
"""The split is worked out again once the index's size has moved by a quarter."""

POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vigil-half")
"""Threads for the second half of a read (here, and the rollup's cells in :mod:`areaterms`)."""
_SPLITS: dict[str, tuple[int, int]] = {}
_LOCK = threading.Lock()


def split_point(searcher: tantivy.Searcher, index_dir: Path) -> int | None:
    """Where to cut the index's posts in two: above their mean ``seq``. ``None`` when the index
    is too small to be worth splitting (or holds no ``seq``)."""
    docs = int(searcher.num_docs)
    if docs < SPLIT_MIN_DOCS:
        return None
    key = str(index_dir)
    with _LOCK:
        known = _SPLITS.get(key)
    if known is not None and abs(known[0] - docs) * RESPLIT_SHARE <= docs:
        return known[1]
    middle = (searcher.aggregate(Query.all_query(), {"m": {"avg": {"field": "seq"}}}).get("m") or {}).get(
        "value"
    )
    if middle is None:
        return None
    point = int(middle) + 1  # posts at the mean go below it
    with _LOCK:
        _SPLITS[key] = (docs, point)
    return point


def selection_bound(searcher: tantivy.Searcher, filters: Filters) -> int | None:
    """An upper bound on the posts ``filters`` select, from document frequencies alone (no
    pass over any posting list), or ``None`` when nothing bounds them cheaply. Frequencies count
    deleted documents too, which only loosens the bound. It decides speed only, never an
    answer: a bound too small keeps a large selection on one thread, as before the halves."""
    bounds = [
        sum(int(searcher.doc_freq(field, v)) for v in values)
        for field, values in (
            ("source", filters.sources),
            ("lang", filters.langs),
            ("places", filters.places),
            ("entities", filters.entities),
        )
        if values
    ]
    if filters.query and (words := _node_bound(searcher, parse(filters.query))) is not None:
        bounds.append(words)
    return min(bounds) if bounds else None


def _node_bound(searcher: tantivy.Searcher, node: Node | None) -> int | None:
    """The posts a keyword tree can match at most, as :func:`pipelines.search.compile.node_query`
    compiles it (terms and phrases' indexed words on ``terms``); ``None``: unbounded here."""
    match node:
        case Term(word):
            return int(searcher.doc_freq("terms", word))
        case Phrase(words):
            indexed = [
                int(searcher.doc_freq("terms", w))
                for w in words
                if len(w.lstrip("#@")) >= 2 and w not in STOP_WORDS
            ]
            return min(indexed) if indexed else None
        case And(nodes):
            known = [b for n in nodes if (b := _node_bound(searcher, n)) is not None]
            return min(known) if known else None
        case Or(nodes):
            parts = [_node_bound(searcher, n) for n in nodes]
            return None if any(b is None for b in parts) else sum(b for b in parts if b is not None)
    return None  # a prefix, a negation, no query


def split_query(query: Query, point: int) -> tuple[Query, Query]:
    """``query`` cut in two at ``seq`` ``point``: below it, and everything else (posts without a
    ``seq`` included), so the halves partition the selection whatever ``point`` is."""
    below = Query.range_query(SCHEMA, "seq", tantivy.FieldType.Integer, None, point, include_upper=False)
    return (
        Query.boolean_query([(Occur.Must, query), (Occur.Must, below)]),
        Query.boolean_query([(Occur.Must, query), (Occur.MustNot, below)]),
    )


def half_counts(
    searcher: tantivy.Searcher, query: Query, top: int, segment_size: int
) -> tuple[dict[int, int], int] | None:
    """The ``top`` commonest ids of ``query`` with their exact counts, and the bound on every id
    left out (the smallest count returned when the list is full, else 0); ``None`` if a segment
    cut its list (it cannot below 2^30 distinct ids; the one-thread path then deals with it)."""
    agg = {"t": {"terms": {"field": termids.ID_FIELD, "size": top, "segment_size": segment_size}}}
    res = searcher.aggregate(query, agg)["t"]
    if int(res.get("doc_count_error_upper_bound") or 0):
        return None
    counts = {int(b["key"]): int(b["doc_count"]) for b in res["buckets"]}
    full = len(counts) >= top or bool(res.get("sum_other_doc_count"))
    return counts, (min(counts.values()) if full and counts else 0)


def merge(parts: list[tuple[dict[int, int], int]], size: int) -> list[tuple[int, int]] | None:
    """Exact ``(id, total)`` for every id that can be in the top ``size`` (all ids counting at
    least the ``size``-th total, so the caller can break ties by term), or ``None`` when the
    halves' lists do not settle it (see the module's docstring)."""
    low: dict[int, int] = {}
    high: dict[int, int] = {}
    for counts, _ in parts:
        for i, n in counts.items():
            low[i] = low.get(i, 0) + n
    for i, n in low.items():
        high[i] = n + sum(bound for counts, bound in parts if i not in counts)
    unseen = sum(bound for _, bound in parts)
    if len(low) < size:
        return None if unseen else sorted(low.items(), key=lambda kv: -kv[1])
    floor = sorted(low.values(), reverse=True)[size - 1]
    if unseen >= floor or any(high[i] != low[i] and high[i] >= floor for i in low):
        return None
    return sorted(((i, n) for i, n in low.items() if n >= floor), key=lambda kv: -kv[1])


def top_ids(
    searcher: tantivy.Searcher,
    query: Query,
    size: int,
    index_dir: Path,
    segment_size: int,
    bound: int | None = None,
) -> list[tuple[int, int]] | None:
    """Exact ``(id, count)`` for every id counting at least the ``size``-th, the halves
    aggregated on two threads; ``None`` when the index is not split, the selection is known to
    be small (``bound``, :func:`selection_bound`) or the merge does not settle (the caller then
    aggregates on one thread)."""
    if bound is not None and bound < SPLIT_MIN_SELECTION:
        return None
    point = split_point(searcher, index_dir)
    if point is None:
        return None
    first, second = split_query(query, point)
    top = max(HALF_TOP, 2 * size)
    other = POOL.submit(half_counts, searcher, second, top, segment_size)
    mine, theirs = half_counts(searcher, first, top, segment_size), other.result()
    return None if mine is None or theirs is None else merge([mine, theirs], size)
