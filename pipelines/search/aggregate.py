"""Exact answers from the index: counts, timelines, breakdowns, score figures, pages of ids.

Pure functions of a Tantivy ``Searcher`` and a compiled ``Query`` (see
:mod:`pipelines.search.compile`); each returns plain Python values, and every figure is
exact (no scan budget, no lower bounds). Aggregations are Tantivy's
Elasticsearch-compatible JSON requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import tantivy
from tantivy import Order, Query

from pipelines.search.schema import KEYWORD_FIELDS, SCHEMA, SCORE_FIELDS

BUCKETS = {"hour": "1h", "day": "1d"}
MAX_PAGE = 10_000
MAX_TERMS_SIZE = 1_000


def count(searcher: tantivy.Searcher, query: Query) -> int:
    """The exact number of matching posts."""
    return int(searcher.search(query, limit=1, count=True).count or 0)


def histogram(searcher: tantivy.Searcher, query: Query, interval: str = "1h") -> list[tuple[datetime, int]]:
    """``(bucket start UTC, posts)`` in time order for any fixed interval ("1h", "15m", "1d" ...).

    Empty buckets between the first and last are included (count 0).
    """
    agg = {"h": {"date_histogram": {"field": "ts", "fixed_interval": interval, "min_doc_count": 0}}}
    buckets = searcher.aggregate(query, agg)["h"]["buckets"]
    return [(datetime.fromtimestamp(b["key"] / 1000, UTC), int(b["doc_count"])) for b in buckets]


SEGMENT_SIZE = 1_000_000
"""Values each segment hands to the merge in :func:`top_values`: more than any segment has,
so no segment cuts its list (checked on every answer; a cut makes it retry 10x larger)."""


def top_values(searcher: tantivy.Searcher, query: Query, field: str, size: int = 20) -> list[tuple[str, int]]:
    """The ``size`` commonest values of a keyword field (``terms``, ``source``, ``lang``,
    ``places``, ``topics``, ``entities`` as ``"type:name"``, ...) with exact post counts,
    commonest first, ties in value order.

    Two exact paths:

    * A selection of every live post walks the term dictionary instead of the posts
      (:func:`_top_of_everything`; at 1M posts 49 ms instead of 202 ms).
    * Otherwise one ``terms`` aggregation. Its counts are exact when no segment cut its
      value list, which Tantivy reports as ``doc_count_error_upper_bound == 0`` (the sum
      over segments of the largest count a segment cut); a non-zero value makes the
      request repeat with a 10x ``segment_size``. The merged list is cut to ``wanted``
      values (``2 * size`` or more); every value beyond it has a count no larger than the
      smallest returned one, so the top ``size`` (ties in value order) is settled when
      the ``size``-th count is larger than that smallest count, or nothing was cut;
      otherwise ``wanted`` grows 4x.

    Why not a small ``segment_size`` with exact recounts of the candidates (measured at
    1M posts, ``docs/search.md``): a recount re-runs the whole selection once per
    candidate, and the aggregation's cost is reading each matching post's values, which a
    small ``segment_size`` does not reduce; it was slower on every selection (e.g. 83 ms
    instead of 32 ms for 138,000 posts). The tests compare both paths with a direct count.
    """
    if field not in KEYWORD_FIELDS:
        raise ValueError(f"unknown breakdown field {field!r}; one of {', '.join(KEYWORD_FIELDS)}")
    size = max(1, min(int(size), MAX_TERMS_SIZE))
    n = count(searcher, query)
    if n == 0:
        return []
    if n == searcher.num_docs and (everything := _top_of_everything(searcher, field, size)) is not None:
        return everything
    wanted, segment_size = max(2 * size, size + 20), SEGMENT_SIZE
    while True:
        agg = {"t": {"terms": {"field": field, "size": wanted, "segment_size": segment_size}}}
        res = searcher.aggregate(query, agg)["t"]
        if int(res.get("doc_count_error_upper_bound") or 0) > 0:
            segment_size *= 10
            continue
        merged = sorted(((str(b["key"]), int(b["doc_count"])) for b in res["buckets"]), key=_rank)
        if len(merged) < wanted or (len(merged) >= size and merged[size - 1][1] > merged[-1][1]):
            return merged[:size]
        wanted *= 4


def _rank(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


WALK_FACTOR, WALK_MIN = 4, 100
"""How many values of largest bound :func:`_top_of_everything` lists before giving way."""


def _top_of_everything(searcher: tantivy.Searcher, field: str, size: int) -> list[tuple[str, int]] | None:
    """Top values when the selection is every live post, without touching the posts.

    The term dictionary lists every value with its document frequency, *including*
    deleted documents not yet merged away, so each frequency is an upper bound of the
    value's live count. Walking values by that bound (largest first, then value order),
    the exact live count of each is ``count(field:value)``, which Tantivy answers from
    the dictionary where a segment has no deletions. The walk stops at the first value
    whose bound is below the ``size``-th exact count (or equal with a later value):
    every value after it has a bound no larger, so none can enter or tie. Only the
    ``max(WALK_FACTOR * size, WALK_MIN)`` values of largest bound are listed; ``None`` when the walk
    does not settle within them (many deletions), and the caller aggregates instead.
    """
    walk = max(WALK_FACTOR * size, WALK_MIN)
    listed = searcher.terms_with_prefix(field, "", limit=walk)
    top: list[tuple[str, int]] = []
    for value, bound in listed:
        if len(top) >= size:
            kth_value, kth = top[size - 1]
            if bound < kth or (bound == kth and value > kth_value):
                return top
        live = count(searcher, Query.term_query(SCHEMA, field, value))
        if live > 0:
            top.append((value, live))
            top.sort(key=_rank)
            del top[size:]
    if len(listed) < walk:
        return top  # the whole dictionary was walked
    return None  # not settled within the walk: the caller aggregates instead


def score_stats(searcher: tantivy.Searcher, query: Query) -> dict[str, dict[str, float | int | None]]:
    """Per score: ``{"avg", "min", "max", "count"}`` over matching posts that carry it."""
    agg = {name: {"stats": {"field": name}} for name in SCORE_FIELDS}
    res = searcher.aggregate(query, agg)
    return {name: {k: res[name].get(k) for k in ("avg", "min", "max", "count")} for name in SCORE_FIELDS}


def score_ranges(
    searcher: tantivy.Searcher, query: Query, field: str, edges: list[float]
) -> list[tuple[float | None, float | None, int]]:
    """Posts per score range ``[edge_i, edge_i+1)`` (open-ended first and last ranges)."""
    if field not in SCORE_FIELDS:
        raise ValueError(f"unknown score {field!r}; one of {', '.join(SCORE_FIELDS)}")
    ranges: list[dict[str, float]] = [{"to": edges[0]}]
    ranges += [{"from": a, "to": b} for a, b in zip(edges, edges[1:], strict=False)]
    ranges.append({"from": edges[-1]})
    res = searcher.aggregate(query, {"r": {"range": {"field": field, "ranges": ranges}}})
    return [(b.get("from"), b.get("to"), int(b["doc_count"])) for b in res["r"]["buckets"]]


def _ids(searcher: tantivy.Searcher, hits: list[tuple[Any, Any]]) -> list[str]:
    return [searcher.doc(addr).get_first("id") for _, addr in hits]


def newest_ids(searcher: tantivy.Searcher, query: Query, limit: int = 50, offset: int = 0) -> list[str]:
    """Ids of matching posts, newest first (read the posts from MongoDB by id)."""
    limit = max(1, min(int(limit), MAX_PAGE))
    res = searcher.search(
        query, limit=limit, offset=max(0, int(offset)), order_by_field="ts", order=Order.Desc
    )
    return _ids(searcher, res.hits)


def relevant_ids(searcher: tantivy.Searcher, query: Query, limit: int = 50, offset: int = 0) -> list[str]:
    """Ids of matching posts, most relevant (BM25) first."""
    limit = max(1, min(int(limit), MAX_PAGE))
    return _ids(searcher, searcher.search(query, limit=limit, offset=max(0, int(offset))).hits)


def all_ids(searcher: tantivy.Searcher, query: Query) -> set[str]:
    """Every matching id (tests and exports; memory grows with the selection)."""
    n = count(searcher, query)
    if n == 0:
        return set()
    return set(_ids(searcher, searcher.search(query, limit=n, count=False).hits))


def geo_points(
    searcher: tantivy.Searcher, query: Query, limit: int = 100_000
) -> list[tuple[str, float, float]]:
    """``(id, lon, lat)`` of matching posts that have a map point, newest first."""
    has_point = Query.boolean_query(
        [(tantivy.Occur.Must, query), (tantivy.Occur.Must, Query.exists_query("map_lat"))]
    )
    limit = max(1, min(int(limit), 1_000_000))
    res = searcher.search(has_point, limit=limit, order_by_field="ts", order=Order.Desc)
    addrs = [a for _, a in res.hits]
    if not addrs:
        return []
    lons = searcher.fast_field_values("map_lon", addrs)
    lats = searcher.fast_field_values("map_lat", addrs)
    return [
        (searcher.doc(a).get_first("id"), float(lo), float(la))
        for a, lo, la in zip(addrs, lons, lats, strict=True)
    ]
