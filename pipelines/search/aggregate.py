"""Exact answers from the index: counts, timelines, breakdowns, score figures, pages of ids.

Pure functions of a Tantivy ``Searcher`` and a compiled ``Query`` (see
:mod:`pipelines.search.compile`); each returns plain Python values, and every figure is
exact (no scan budget, no lower bounds). Aggregations are Tantivy's
Elasticsearch-compatible JSON requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Order, Query

from pipelines.search import halves, termids
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


SEGMENT_SIZE = 200
"""Values each segment hands to the merge in :func:`top_values` (the rest are bounded)."""
SMALL_SELECTION = 250_000
"""Up to this many posts :func:`top_values` aggregates with no cut (exact at once, one request).

Chosen (issue 13) on keyword queries that are none of ``bench/search.py``'s shapes
(``bench/top_terms_threshold.py``, CPU per call), at the scale of the target: on 6.6M bench
posts the uncut aggregation cost less than the cut one plus its recount request from 19,831
selected posts (49.9 vs 73.1 ms) to 256,324 (156 vs 160 ms), and about the same over 6.8M
(2,254 vs 2,095 ms). (On 1M posts the cut path was cheaper at every size, 19.8 vs 21.7 ms at
2,884 posts, 32.4 vs 49.6 at 37,408: the uncut path's per-segment string work weighs more
there.) It was 50,000 while each candidate cost a ``count`` query."""
UNCUT = 1_000_000
"""A ``segment_size`` beyond any segment's number of values (checked: a cut repeats 10x)."""


def top_values(
    searcher: tantivy.Searcher,
    query: Query,
    field: str,
    size: int = 20,
    index_dir: Path | None = None,
    bound: int | None = None,
) -> list[tuple[str, int]]:
    """The ``size`` commonest values of a keyword field (``terms``, ``source``, ``lang``,
    ``places``, ``topics``, ``entities`` as ``"type:name"``, ...) with exact post counts,
    commonest first, ties in value order.

    ``terms`` with ``index_dir`` (the index's folder, where its term-id vocabulary lives)
    aggregates the ``tid`` id field uncut instead (:func:`top_term_ids`): exact in one
    request (``bound``, an upper bound on the selection's posts when the caller knows one, keeps
    a small selection on one thread: :func:`pipelines.search.halves.selection_bound`).
    Everything below describes the string path, which other fields (and indexes built without
    a vocabulary) take.

    Why not one plain ``terms`` aggregation with an unbounded ``segment_size``: every
    segment then turns *all* its values into strings for the merge, which dominates on a
    real vocabulary (1M resampled real tweets, every post selected: 532 ms of CPU
    unbounded, 210 ms with ``segment_size`` 200). A bounded aggregation's counts are lower bounds, so it only
    proposes candidates; their counts are made exact and the answer is returned only when
    no other value can reach it. The argument:

    * A segment that cut its list hands on nothing about a value it cut, but that value's
      count in the segment is at most the largest count it cut; Tantivy reports the sum of
      these over segments as ``doc_count_error_upper_bound`` (``E``). So a returned
      value's true count lies in ``[merged, merged + E]``, and ``E == 0`` means every
      merged count is exact.
    * A value missing from the answer was cut in every segment (true count <= ``E``) or
      was handed on but cut by the final ``size`` (true count <= its merged count + ``E``
      <= the smallest merged count returned + ``E``). Call the larger bound ``B``. The
      final list holds ``5 * size`` values (at least ``size + 50``) so that its smallest
      count, hence ``B``, is well below the ``size``-th: with ``2 * size`` the first
      round rarely settled (1M posts, every post selected: 471 ms CPU, now 237 ms).
    * The candidates that can still reach the top (upper bound >= the ``size``-th merged
      count) are recounted exactly, all in one aggregation request of ``filter`` buckets
      (:func:`_settle`, :func:`exact_counts`; before issue 13's work, one ``count`` query per
      candidate, which re-ran the selection each time).
    * When the ``size``-th exact count is *greater* than ``B`` no outside value can enter
      or tie, and the answer is settled. Otherwise the request repeats with a 10x
      ``segment_size`` (when segments cut) and a 4x final list (when it was full); with
      nothing cut anywhere, the counts are exact and the answer is settled.

    Selections of up to :data:`SMALL_SELECTION` posts skip the bound and aggregate uncut
    (``segment_size`` :data:`UNCUT`): few values to merge, one request.

    The tests compare the answer with a direct count, with cuts forced at 1 and 3.
    """
    if field not in KEYWORD_FIELDS:
        raise ValueError(f"unknown breakdown field {field!r}; one of {', '.join(KEYWORD_FIELDS)}")
    size = max(1, min(int(size), MAX_TERMS_SIZE))
    if field == "terms" and index_dir is not None:
        return top_term_ids(searcher, query, size, index_dir, bound)
    wanted = max(5 * size, size + 50)
    segment_size = UNCUT if count(searcher, query) <= SMALL_SELECTION else SEGMENT_SIZE
    while True:
        agg = {"t": {"terms": {"field": field, "size": wanted, "segment_size": segment_size}}}
        res = searcher.aggregate(query, agg)["t"]
        merged = sorted(((str(b["key"]), int(b["doc_count"])) for b in res["buckets"]), key=_rank)
        error = int(res.get("doc_count_error_upper_bound") or 0)
        final_cut = len(merged) >= wanted
        if not final_cut and error == 0:
            return merged[:size]  # nothing cut anywhere: every count is exact
        outside = error + (merged[-1][1] if final_cut else 0)
        top = merged[:size] if error == 0 else _settle(searcher, query, field, merged, size, error)
        if len(top) >= size and top[size - 1][1] > outside:
            return top
        if error:
            segment_size *= 10
        if final_cut:
            wanted *= 4


ID_UNCUT = 1 << 30
"""The id path's ``segment_size``: beyond any vocabulary (a segment holds at most that many
distinct ids), and Tantivy allocates nothing by it (checked: 1M, 100M and 2^31 - 1 cost the same
on 1M bench posts)."""


def top_term_ids(
    searcher: tantivy.Searcher, query: Query, size: int, index_dir: Path, bound: int | None = None
) -> list[tuple[str, int]]:
    """The ``size`` commonest terms from the ``tid`` id field: one uncut aggregation (every
    merged count exact), then only the ids that can be in the answer turned into terms.

    Ties are broken by term, as on the string path, so every id counting as much as the
    ``size``-th is named before the cut. The aggregation returns ``2 * size`` ids (at least
    ``size + 50``); should the last of them still tie with the ``size``-th, it repeats with
    4x as many. (Issue 13: on 300,000 bench posts an uncut aggregation of ids cost 74 ms of
    CPU against 312 ms for the string field, ``bench/term_id_field.py``.) On a large index the
    selection is first aggregated in two halves on two threads (:mod:`pipelines.search.halves`).
    """
    wanted, segment_size = max(2 * size, size + 50), ID_UNCUT
    counts = halves.top_ids(searcher, query, size, index_dir, segment_size, bound)
    while counts is None:  # one thread: a small index, or the halves did not settle
        agg = {"t": {"terms": {"field": termids.ID_FIELD, "size": wanted, "segment_size": segment_size}}}
        res = searcher.aggregate(query, agg)["t"]
        if int(res.get("doc_count_error_upper_bound") or 0):
            segment_size *= 2  # cannot happen below 2^30 distinct ids; never answer from a cut
            continue
        got = sorted(((int(b["key"]), int(b["doc_count"])) for b in res["buckets"]), key=lambda kv: -kv[1])
        if len(got) < wanted or len(got) <= size or got[size - 1][1] > got[-1][1]:
            counts = got
        wanted *= 4
    if len(counts) > size:
        floor = counts[size - 1][1]
        counts = [kv for kv in counts if kv[1] >= floor]
    named = termids.names(index_dir, [i for i, _ in counts])
    return sorted(((named[i], n) for i, n in counts), key=_rank)[:size]


def _settle(
    searcher: tantivy.Searcher, query: Query, field: str, merged: list[tuple[str, int]], size: int, error: int
) -> list[tuple[str, int]]:
    """The exact top ``size`` among the candidates, recounting only those that can reach it.

    Merged counts are lower bounds and a value's true count is at most its merged count +
    ``error``. The ``size`` values with the largest merged counts each truly count at least
    the ``size``-th merged count ``L``, so the true ``size``-th count is >= ``L``: a
    candidate whose bound is below ``L`` cannot enter (nor tie). The rest are recounted
    exactly, all in one request (:func:`exact_counts`).
    """
    floor = merged[size - 1][1] if len(merged) >= size else 0
    contenders = [value for value, c in merged if c + error >= floor]
    return sorted(exact_counts(searcher, query, field, contenders).items(), key=_rank)[:size]


FILTERS_PER_REQUEST = 100


def exact_counts(searcher: tantivy.Searcher, query: Query, field: str, values: list[str]) -> dict[str, int]:
    """Matching posts carrying each value, exactly: one aggregation request of ``filter``
    buckets per 100 values instead of one ``count`` per value.

    Why: each ``count`` re-runs the whole selection; the request runs it once and tests
    each selected post against every value's posting list (1M posts, 30 values: 18 ms of
    CPU as counts, 6 ms as one request for 33,000 selected posts; 42 vs 11 ms for an area
    box). A filter bucket takes a query string; the value is quoted and escaped, and on a
    ``raw`` field the quoted phrase is that one token (tested with quotes, backslashes,
    spaces, operators and control characters). Should the parser still refuse a value, that
    value is counted with a term query.
    """
    out: dict[str, int] = {}
    for i in range(0, len(values), FILTERS_PER_REQUEST):
        part = values[i : i + FILTERS_PER_REQUEST]
        aggs = {f"v{j}": {"filter": f'{field}:"{_quoted(v)}"'} for j, v in enumerate(part)}
        try:
            res = searcher.aggregate(query, aggs)
            out |= {v: int(res[f"v{j}"]["doc_count"]) for j, v in enumerate(part)}
        except ValueError:
            for v in part:
                both = Query.boolean_query(
                    [(tantivy.Occur.Must, query), (tantivy.Occur.Must, Query.term_query(SCHEMA, field, v))]
                )
                out[v] = count(searcher, both)
    return out


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _rank(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


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


def newest_ids(
    searcher: tantivy.Searcher, query: Query, limit: int = 50, offset: int = 0, window: Query | None = None
) -> list[str]:
    """Ids of matching posts, newest first (read the posts from MongoDB by id).

    ``window`` is a guess: the selection's posts after some time, which probably hold the
    whole page (:func:`pipelines.search.rollcounts.newest_ids` builds it). Its answer is kept
    only when those posts fill the page to its end: every post of the selection outside it is
    older than each of them, and Tantivy breaks ties in the same order, so it is the same
    page. Otherwise (a wrong or stale guess) the whole selection is asked. Why: sorting a
    large selection by time reads every selected post's time (10M bench posts, a week of one
    source: 80-130 ms); the window reads a few hours."""
    limit, offset = max(1, min(int(limit), MAX_PAGE)), max(0, int(offset))
    if window is not None:
        res = searcher.search(
            window, limit=limit, offset=offset, count=True, order_by_field="ts", order=Order.Desc
        )
        if (res.count or 0) >= offset + limit:
            return _ids(searcher, res.hits)
    res = searcher.search(query, limit=limit, offset=offset, order_by_field="ts", order=Order.Desc)
    return _ids(searcher, res.hits)


def newest_versions(
    searcher: tantivy.Searcher, query: Query, limit: int = 50, offset: int = 0
) -> list[tuple[str, int | None]]:
    """``(id, seq)`` of matching posts, newest first: ``seq`` as indexed (None if the post had none),
    which names the version of the post the index holds (see :mod:`pipelines.read.postcache`)."""
    limit = max(1, min(int(limit), MAX_PAGE))
    res = searcher.search(
        query, limit=limit, offset=max(0, int(offset)), order_by_field="ts", order=Order.Desc
    )
    addrs = [a for _, a in res.hits]
    seqs = searcher.fast_field_values("seq", addrs) if addrs else []
    return [
        (searcher.doc(a).get_first("id"), None if s is None else int(s))
        for a, s in zip(addrs, seqs, strict=True)
    ]


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
