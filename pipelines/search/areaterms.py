"""Top terms of a drawn area from the term rollup's map cells (issue 13).

The map cells provably inside the area are summed from the rollup
(:mod:`pipelines.search.termroll`, ``GEO_MARK`` cells at the all-time levels) and the rim's
posts inside the area are counted exactly from the index, before the top ``size`` are cut.
The rim's aggregation returns its commonest ids only, which settles the answer whenever no id
left out could reach the top (:func:`_settled`); otherwise it is read whole. An area's number
of posts comes the same way (:func:`area_count`): the inner cells' post counts plus the rim's
posts that test inside.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import tantivy
from tantivy import Occur, Query

from pipelines.search import cellindex, geocells, halves, select, termids
from pipelines.search.aggregate import ID_UNCUT
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters, GeoArea
from pipelines.search.schema import SCHEMA
from pipelines.search.termroll import (
    GEO_MARK,
    NO_TIME,
    POSTS_ID,
    SPAN,
    TERMS_CAP,
    RollupError,
    _hour,
    index_opstamp,
    snapshot,
    top_summed,
)


def area_eligible(filters: Filters) -> bool:
    """A drawn area on the Map's point over all time and nothing else (the time range may
    name the whole span; :func:`_span_levels` tells)."""
    area = filters.area
    if area is None or not area.by_place:
        return False
    plain = Filters.make(since=filters.since, until=filters.until, area=area, geo_only=filters.geo_only)
    return filters == plain and all(
        t is None or (t.minute, t.second, t.microsecond) == (0, 0, 0) for t in (filters.since, filters.until)
    )


def _span_levels(db: sqlite3.Connection, filters: Filters) -> tuple[int, ...] | None:
    """The levels of the map cells a time range reads: every post (no range), every timed
    post (a range of the whole span, as :func:`_cells` decides), else ``None``."""
    if filters.since is None and filters.until is None:
        return (NO_TIME, SPAN)
    first = db.execute("SELECT MIN(start) FROM cells WHERE level=1").fetchone()[0]
    last = db.execute("SELECT MAX(start) FROM cells WHERE level=1").fetchone()[0]
    if first is None:
        return None
    lo = max(first, _hour(filters.since)) if filters.since else first
    hi = min(last + 1, _hour(filters.until)) if filters.until else last + 1
    return (SPAN,) if (lo, hi) == (first, last + 1) else None


def _map_cells(
    db: sqlite3.Connection,
    levels: tuple[int, ...],
    cells: tuple[geocells.Cell, ...],
    read: str = "ids, counts FROM cells",
) -> list:
    """The stored map cells among ``cells``: one key range per run of a row
    (:func:`pipelines.search.geocells.cell_key` orders a row's cells by longitude). ``read``
    names the columns and table: the cells' term counts, or their posts (``"n FROM posts"``)."""
    out: list[tuple[bytes, bytes]] = []
    untimed = db.execute(  # posts without a time rarely have map cells: skip the level then
        "SELECT 1 FROM cells WHERE level=? AND start=0 AND source > ? AND source < ? LIMIT 1",
        (NO_TIME, GEO_MARK, chr(ord(GEO_MARK) + 1)),
    ).fetchone()
    levels = tuple(lv for lv in levels if lv != NO_TIME or untimed)
    runs = [
        (GEO_MARK + geocells.cell_key(a), GEO_MARK + geocells.cell_key(b))
        for a, b in geocells.row_runs(cells)
    ]
    for level in levels:
        for lo, hi in runs:
            out += db.execute(
                f"SELECT {read} WHERE level=? AND start=0 AND source BETWEEN ? AND ? AND lang=''",
                (level, lo, hi),
            ).fetchall()
    return out


def _inner_sums(
    db: sqlite3.Connection, levels: tuple[int, ...], cells: tuple[geocells.Cell, ...]
) -> np.ndarray:
    """Posts per term id summed over the stored map cells among ``cells`` (``sums[id]``)."""
    blobs = _map_cells(db, levels, cells)
    none = np.zeros(0, np.int32)  # an area whose inner cells hold no post stores no cell
    ids, counts = [none], [none]
    for id_blob, count_blob in blobs:
        cell_ids, cell_counts = np.frombuffer(id_blob, np.int32), np.frombuffer(count_blob, np.int32)
        # A cell's last id is POSTS_ID (ids ascending, termroll._posts_of): sliced off rather
        # than masked out of the whole (~1.5M ids at 10M bench posts, ~5 ms of masks).
        if not len(cell_ids) or cell_ids[-1] != POSTS_ID:
            raise RollupError("a rollup cell lacks its post count")
        ids.append(cell_ids[:-1])
        counts.append(cell_counts[:-1])
    return np.bincount(np.concatenate(ids), weights=np.concatenate(counts)).astype(np.int64)


T = TypeVar("T")

RIM_TOP = 2_000
"""How many of the rim's commonest ids one aggregation returns before :func:`area_top_terms`
asks for all of them. Why: at 10M posts the bench area's rim holds ~10^5 distinct ids, and
turning every bucket into Python cost more than counting them; the top 2,000 settle the
answer unless an id outside them could still reach the ``size``-th total (then every id is
read, as before)."""


@functools.lru_cache(maxsize=32)  # ~32,000 cells at the bench's area: ~25 ms to build, once per area
def _inner_under_rim(area: GeoArea) -> Query:
    """The term set of the index cover's inner cells lying in the rollup cover's rim cells.
    The rollup rim's posts inside the area are these cells' posts and the index rim's posts
    that test inside (the index cover refines the rollup's: the same cells are inner at the
    rollup's levels, and its rim cells lie in the rollup's rim, :func:`geocells.cover`)."""
    rim = set(geocells.cover(area).rim or ())
    under: list[geocells.Cell] = []
    for cell in geocells.cover(area, geocells.INDEX_LEVELS).cells:
        d, kx, ky = cell
        for level in geocells.LEVELS:
            if level <= d and (level, kx // 10 ** (d - level), ky // 10 ** (d - level)) in rim:
                under.append(cell)
                break
    return cellindex.cells_query(SCHEMA, select.cell_field(area), under)


def _rim_query(
    searcher: tantivy.Searcher, schema: tantivy.Schema, filters: Filters, inside: Query | None
) -> Query:
    """The rim posts inside the area: with the area's query (``inside``), its posts within the
    rollup cover's rim cells; without, the index's inner cells under those rim cells
    (:func:`_inner_under_rim`, no point read) and the index rim's posts that test inside
    (:func:`pipelines.search.select.rim_inside`). Why not the area's own query there: its term
    set of every inner cell, the coarse ones' ~320,000 posts included, would be evaluated
    again by the aggregation (~7 ms of the bench area's ~20 ms query at 10M posts)."""
    area = filters.area
    assert area is not None
    base = filters_query(schema, filters.replace(area=None, geo_only=False))
    if inside is None and select.rim_known(geocells.cover(area, geocells.INDEX_LEVELS)):
        cells = select.and_all([base, _inner_under_rim(area)])
        tested = select.rim_inside(searcher, schema, base, area)
        return Query.boolean_query([(Occur.Should, cells), (Occur.Should, tested)])
    rim = select.rim_query(schema, base, area, geocells.LEVELS)
    if inside is None:
        inside = select.area_query(searcher, schema, base, area)
    return Query.boolean_query([(Occur.Must, rim), (Occur.Must, inside)])


def _rim_counts(searcher: tantivy.Searcher, query: Query, top: int) -> tuple[dict[int, int], int] | None:
    """Posts of ``query`` per term id for its ``top`` commonest ids, and a bound on the count
    of every id left out (0 when none is); ``None`` if a segment cut (one aggregation)."""
    agg = {"t": {"terms": {"field": termids.ID_FIELD, "size": top, "segment_size": ID_UNCUT}}}
    res = searcher.aggregate(query, agg)["t"]
    if res.get("doc_count_error_upper_bound"):
        return None
    counts = {int(b["key"]): int(b["doc_count"]) for b in res["buckets"]}
    cut = bool(res.get("sum_other_doc_count")) or len(counts) >= top
    return counts, (min(counts.values()) if cut and counts else 0)


def _settled(sums: np.ndarray, rim_ids: np.ndarray, bound: int, size: int) -> bool:
    """Whether the top ``size`` of ``sums`` (the rollup's cells plus the rim's returned ids)
    is the true one: every id the rim left out counts there at most ``bound``, so its true
    total is at most its sum + ``bound``; settled when that stays *below* the ``size``-th
    total for every such id (a tie could win on the term, so it must not reach it)."""
    if bound == 0:
        return True
    present = np.flatnonzero(sums)
    if len(present) <= size:
        return False  # an id with no count yet could still enter
    kth = np.partition(sums[present], len(present) - size)[len(present) - size]
    left_out = sums.copy()
    left_out[rim_ids] = 0
    return int(left_out.max(initial=0)) + bound < kth


def area_top_terms(
    index_dir: Path,
    filters: Filters,
    size: int,
    open_searcher: Callable[[], tantivy.Searcher],
    schema: tantivy.Schema,
    selected: Callable[[Filters], tuple[tantivy.Searcher, Query]] | None = None,
) -> list[tuple[str, int]] | None:
    """Top terms of a drawn area over all time (:func:`area_eligible`), exact: the rollup's
    map cells wholly inside the area summed, plus the term counts of the rim posts inside
    (read from the index: the :data:`RIM_TOP` commonest ids, every id when those do not
    settle it, :func:`_settled`), merged *before* the ``size`` cut; ``None`` when the rollup
    cannot answer (another selection, no cell inside, a rollup not describing the index's
    commit).

    ``open_searcher`` (``SearchIndex.searcher``) is called after the index's opstamp is read
    and that opstamp is read again at the end: equal, the searcher saw that very commit,
    the one the rollup describes. ``selected`` (``Reader.select``), when given, is called
    instead and gives the searcher with the area's query (kept per commit by the reader).
    """
    if not area_eligible(filters):
        return None
    assert filters.area is not None
    cover = geocells.cover(filters.area)
    if not cover.cells:
        return None

    def summed(db: sqlite3.Connection, levels: tuple[int, ...]) -> np.ndarray | None:
        # The rollup's cells are read and summed on a second thread while this one selects
        # the rim's posts and aggregates them: SQLite and Tantivy both release the GIL.
        summing = halves.POOL.submit(_inner_sums, db, levels, cover.cells)
        try:
            searcher, inside = selected(filters) if selected else (open_searcher(), None)
            rim_query = _rim_query(searcher, schema, filters, inside)  # the rim's selection, built once
            first = _rim_counts(searcher, rim_query, RIM_TOP)
        finally:
            inner = summing.result()  # the connection is this thread's again before it is used
        for top in (RIM_TOP, TERMS_CAP):
            rim = first if top == RIM_TOP else _rim_counts(searcher, rim_query, top)
            if rim is None:
                return None
            rim_ids = np.fromiter(rim[0], np.int64, len(rim[0]))
            sums = np.zeros(max(len(inner), int(rim_ids.max(initial=-1)) + 1), np.int64)
            sums[: len(inner)] = inner
            sums[rim_ids] += np.fromiter(rim[0].values(), np.int64, len(rim[0]))
            if rim[1] == 0 or (top < TERMS_CAP and _settled(sums, rim_ids, rim[1], size)):
                return sums
        return None  # more than TERMS_CAP ids in the rim: the aggregation answers

    sums = _in_snapshot(index_dir, filters, summed)
    if sums is None:
        return None
    return top_summed(index_dir, sums, size)


def area_count(
    index_dir: Path,
    filters: Filters,
    open_searcher: Callable[[], tantivy.Searcher],
    schema: tantivy.Schema,
) -> int | None:
    """Posts of a drawn area over all time (:func:`area_eligible`), exact: the rollup's post
    counts of the map cells wholly inside the area, plus the posts of the rollup cover's rim
    cells whose point tests inside (their points read, no id named, nothing else evaluated);
    ``None`` when the rollup cannot answer (as :func:`area_top_terms`, whose commit check this
    shares).

    Why: counted from the index, the area's query names the rim's posts by id and evaluates a
    term set of every inner cell (~35,000 at the bench's area): 70-100 ms at 10M bench posts.
    """
    area = filters.area
    if area is None or not area_eligible(filters):
        return None
    cover = geocells.cover(area)

    def counted(db: sqlite3.Connection, levels: tuple[int, ...]) -> int:
        inner = sum(n for (n,) in _map_cells(db, levels, cover.cells, "n FROM posts")) if cover.cells else 0
        base = filters_query(schema, filters.replace(area=None, geo_only=False))
        rim = select.count_inside(
            open_searcher(), area, select.rim_query(schema, base, area, geocells.LEVELS)
        )
        return int(inner) + rim

    return _in_snapshot(index_dir, filters, counted)


def _in_snapshot(
    index_dir: Path, filters: Filters, answer: Callable[[sqlite3.Connection, tuple[int, ...]], T | None]
) -> T | None:
    """``answer(db, levels)`` for an area its caller found eligible (:func:`area_eligible`), read
    in one snapshot of a rollup describing the index's latest commit, with the map-cell
    ``levels`` its time range reads; ``None`` when any of that fails. The opstamp is read again
    after ``answer`` (which opens its searcher inside): equal, everything it read describes
    that one commit."""
    if (snap := snapshot(index_dir)) is None:
        return None
    db, before = snap
    try:
        levels = _span_levels(db, filters)
        if levels is None:
            return None
        out = answer(db, levels)
        return out if index_opstamp(index_dir) == before else None
    except (sqlite3.Error, RollupError):  # the aggregation answers instead
        return None
    finally:
        db.close()
