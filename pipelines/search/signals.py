"""Watchlist series, first sightings of places and anomaly evidence, aggregated in the index.

A watchlist's posts are what its saved query selects (:func:`pipelines.search.select.watchlist_query`),
so its hourly series is an aggregation of that query: no per-post tags, no journal, and an
edited watchlist's whole history changes with it at once. :func:`watch_rollups` returns the
hours in the shape of the old ``kind="watch"`` rollup documents (``n``, ``sum.<score>``,
``high.<score>`` at or above each score's tuned cut, :func:`pipelines.scoring.thresholds.high_thresholds`,
over *scored* posts), so the detector and the alert rules read
``watch:<id>`` series as before. :func:`terms_by_lift` ranks evidence terms from exact
document counts in the window and the baseline (no samples). Pure functions of a searcher.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Occur, Order, Query

from pipelines.scoring.thresholds import high_thresholds
from pipelines.search import aggregate
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.schema import SCORE_FIELDS
from pipelines.search.select import watchlist_query
from pipelines.search.watchlists import Watchlist

SUM_FIELDS = ("sentiment", "threat", "hate", "toxicity")
HIGH_FIELDS = ("threat", "hate", "toxicity")
LIFT_CANDIDATES = 300
"""Evidence: the window's commonest terms considered for lift (each gets an exact baseline count)."""
MAX_PLACES = 1_000


def _and(*queries: Query) -> Query:
    return Query.boolean_query([(Occur.Must, q) for q in queries])


def scored(query: Query) -> Query:
    """The posts of ``query`` that carry at least one score."""
    anyscore = Query.boolean_query([(Occur.Should, Query.exists_query(f)) for f in SCORE_FIELDS])
    return _and(query, anyscore)


def during(schema: tantivy.Schema, query: Query, since: datetime | None, until: datetime | None) -> Query:
    """``query`` within ``[since, until)``."""
    if since is None and until is None:
        return query
    return _and(query, filters_query(schema, Filters.make(since=since, until=until)))


def hourly_docs(searcher: tantivy.Searcher, query: Query) -> list[dict[str, Any]]:
    """Per hour with posts: ``{"hour", "n", "sum": {...}, "high": {...}}``, oldest first."""
    subs: dict[str, Any] = {f"s_{k}": {"sum": {"field": k}} for k in SUM_FIELDS}
    cuts = high_thresholds()
    subs |= {f"h_{k}": {"range": {"field": k, "ranges": [{"from": cuts[k]}]}} for k in HIGH_FIELDS}
    agg = {"h": {"date_histogram": {"field": "ts", "fixed_interval": "1h", "min_doc_count": 1}, "aggs": subs}}
    out = []
    for b in searcher.aggregate(query, agg)["h"]["buckets"]:
        if not b["doc_count"]:
            continue
        high = {}
        for k in HIGH_FIELDS:
            buckets = b[f"h_{k}"]["buckets"]
            high[k] = int(sum(x["doc_count"] for x in buckets if x.get("from") is not None))
        out.append(
            {
                "hour": datetime.fromtimestamp(b["key"] / 1000, UTC),
                "n": int(b["doc_count"]),
                "sum": {k: float(b[f"s_{k}"]["value"] or 0.0) for k in SUM_FIELDS},
                "high": high,
            }
        )
    return out


def watch_rollups(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    wl: Watchlist,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The watchlist's scored posts per hour, as ``kind="watch"`` rollup documents (exact)."""
    query = during(schema, scored(watchlist_query(searcher, schema, wl)), since, until)
    return [
        {"_id": f"watch|{wl.id}|{d['hour'].isoformat()}", "kind": "watch", "watchlist": wl.id, **d}
        for d in hourly_docs(searcher, query)
    ]


def terms_by_lift(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    query: Query,
    window: tuple[datetime, datetime],
    baseline: tuple[datetime, datetime],
    top: int,
    min_count: int = 2,
    prior: float = 1.0,
    min_lift: float = 1.5,
    index_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Terms over-represented in ``window`` against ``baseline``, from exact post counts.

    The same ranking as :func:`pipelines.detect.evidence.term_lift` (lift x log(1 + n),
    ``lift = (n / N_window) / ((n_baseline + prior) / (N_baseline + prior))``), over the
    :data:`LIFT_CANDIDATES` commonest terms of the window; every count is exact. With
    ``index_dir`` those come from the term-id field (:func:`pipelines.search.aggregate.top_term_ids`).
    """
    in_window = during(schema, query, *window)
    in_base = during(schema, query, *baseline)
    n_w = aggregate.count(searcher, in_window)
    if n_w == 0:
        return []
    n_b = aggregate.count(searcher, in_base)
    need = max(min_count, math.ceil(0.01 * n_w))
    rows = []
    for term, n in aggregate.top_values(searcher, in_window, "terms", LIFT_CANDIDATES, index_dir):
        if n < need:
            continue
        n_base = (
            aggregate.count(searcher, _and(in_base, Query.term_query(schema, "terms", term))) if n_b else 0
        )
        lift = (n / n_w) / ((n_base + prior) / (n_b + prior))
        if lift < min_lift:
            continue
        rows.append({"term": term, "n": n, "lift": round(lift, 3), "_rank": lift * math.log1p(n)})
    rows.sort(key=lambda r: (-r["_rank"], r["term"]))
    for r in rows:
        del r["_rank"]
    return rows[:top]


def first_sightings(
    searcher: tantivy.Searcher, schema: tantivy.Schema, wl: Watchlist, since: datetime
) -> list[dict[str, Any]]:
    """Places named by the watchlist's posts since ``since`` that no earlier post of it named.

    Each: ``{"name", "post"}``, the id of the earliest post naming it (the caller reads its
    time and the place's country from MongoDB). Places are compared by name, as the index
    stores them.
    """
    base = watchlist_query(searcher, schema, wl)
    recent = during(schema, base, since, None)
    before = during(schema, base, None, since)
    out = []
    for name, _ in aggregate.top_values(searcher, recent, "places", MAX_PLACES):
        named = Query.term_query(schema, "places", name)
        if aggregate.count(searcher, _and(before, named)):
            continue
        hits = searcher.search(_and(recent, named), limit=1, order_by_field="ts", order=Order.Asc).hits
        if not hits:
            continue
        out.append({"name": name, "post": searcher.doc(hits[0][1]).get_first("id")})
    return out


def series_query(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    key: str,
    watchlists: dict[str, Watchlist],
    metric: str = "count",
) -> Query | None:
    """The posts of a detector series (``all``, ``source:x``, ``lang:x``, ``place:x``,
    ``watch:<id>``), those at or above the high cut for a ``high:<score>`` metric.

    None for a key the index cannot select (an unknown watchlist, another kind).
    """
    kind, _, value = key.partition(":")
    if kind == "all":
        query = Query.all_query()
    elif kind in ("source", "lang"):
        query = Query.term_query(schema, kind, value)
    elif kind == "place":
        query = Query.term_query(schema, "places", value)
    elif kind == "watch" and value in watchlists:
        query = watchlist_query(searcher, schema, watchlists[value])
    else:
        return None
    name = metric.split(":", 1)[1] if ":" in metric else ""
    if metric.startswith("high:") and name in SCORE_FIELDS:
        cut = high_thresholds().get(name, 0.5)  # sentiment has no "high" series
        high = Query.range_query(schema, name, tantivy.FieldType.Float, cut, 1.0e9)
        query = _and(query, high)
    return query


def newest_ids_between(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    query: Query,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[str]:
    """Ids of the newest ``limit`` posts of ``query`` in ``[since, until)``."""
    return aggregate.newest_ids(searcher, during(schema, query, since, until), limit=limit)
