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

from pipelines.search.schema import KEYWORD_FIELDS, SCORE_FIELDS

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


def top_values(searcher: tantivy.Searcher, query: Query, field: str, size: int = 20) -> list[tuple[str, int]]:
    """The ``size`` commonest values of a keyword field (``terms``, ``source``, ``lang``,
    ``places``, ``topics``, ``entities`` as ``"type:name"``, ...) with exact post counts."""
    if field not in KEYWORD_FIELDS:
        raise ValueError(f"unknown breakdown field {field!r}; one of {', '.join(KEYWORD_FIELDS)}")
    size = max(1, min(int(size), MAX_TERMS_SIZE))
    # A large shard_size makes the top-N exact on a single index (no per-segment cut-off).
    agg = {"t": {"terms": {"field": field, "size": size, "shard_size": 1_000_000}}}
    buckets = searcher.aggregate(query, agg)["t"]["buckets"]
    return [(str(b["key"]), int(b["doc_count"])) for b in buckets]


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
