"""Whole selections the index answers exactly: filters with a map area or a saved watchlist.

:func:`pipelines.search.compile.filters_query` compiles what maps onto one Tantivy query.
Two parts of a selection need more:

- **An area** (a circle or polygon drawn on the Map, or a watchlist's circle). The index
  has no geo step, and a bounding box alone would not be exact. The grid cells provably
  inside the area (:mod:`pipelines.search.geocells`) become float range queries on the
  ``*_lon``/``*_lat`` fields; the rest of the box (its rim) narrows the candidates to
  test: each one's point is read from the fast fields and tested with the same
  arithmetic as the Map (:mod:`pipelines.search.areas`: haversine, even-odd ray casting),
  and the posts inside become a term set on ``id``. Exact; its cost grows with the posts
  of the rim, not of the whole area (:func:`area_query`).
- **A watchlist** (``Filters.watchlist``): its saved definition (keywords, exclusions,
  sources, languages, circle) compiled like any other filters, so a watchlist's posts
  are what its query selects now, with no per-post tags to keep up to date.

Pure functions of a ``Searcher``; the caller loads the watchlist from the store.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import tantivy
from tantivy import Occur, Query

from pipelines.search import cellindex, geocells
from pipelines.search.areas import haversine_km, point_in_ring, points_in_ring
from pipelines.search.compile import filters_query, keyword_query
from pipelines.search.filters import EARTH_RADIUS_M, Filters, GeoArea
from pipelines.search.schema import SCHEMA
from pipelines.search.watchlists import Watchlist

MAX_AREA_POSTS = 2_000_000
"""An area whose rim (its box outside the cells proven inside) holds more posts than this is
refused (narrow the time range)."""

FIRST_READ = 20_000
"""Candidates read with the count in one pass; more take a second pass (the exact number)."""

WatchlistLookup = Callable[[str], Watchlist | None]


class SelectError(ValueError):
    """A selection that cannot be answered (unknown watchlist, area too large)."""


def and_all(queries: list[Query]) -> Query:
    """Every one of ``queries`` (``None`` left out; all posts for none)."""
    queries = [q for q in queries if q is not None]
    if not queries:
        return Query.all_query()
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Must, q) for q in queries])


def bounding_box(area: GeoArea) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` holding every point of the area (may be the world).

    A circle crossing a pole or the antimeridian gets the full longitude range: the box
    only narrows the candidates, the exact test comes after.
    """
    if area.ring is not None:
        lons = [p[0] for p in area.ring]
        lats = [p[1] for p in area.ring]
        return min(lons), min(lats), max(lons), max(lats)
    assert area.center is not None and area.radius_km is not None
    lon, lat = area.center
    dlat = math.degrees(float(area.radius_km) * 1000 / EARTH_RADIUS_M) * 1.001 + 1e-9
    south, north = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    cos = min(math.cos(math.radians(south)), math.cos(math.radians(north)))
    if south <= -90 or north >= 90 or cos <= 1e-6:
        return -180.0, south, 180.0, north
    dlon = dlat / cos
    if lon - dlon < -180 or lon + dlon > 180 or dlon >= 180:
        return -180.0, south, 180.0, north
    return lon - dlon, south, lon + dlon, north


def inside(area: GeoArea, lon: float, lat: float) -> bool:
    """The Map's test of one point (see :mod:`pipelines.search.areas`)."""
    if area.ring is not None:
        return point_in_ring(lon, lat, area.ring)
    assert area.center is not None and area.radius_km is not None
    return haversine_km(area.center[1], area.center[0], lat, lon) <= float(area.radius_km)


def point_fields(area: GeoArea) -> tuple[str, str]:
    """The index fields of the point an area tests: the Map's point, or own coordinates."""
    return ("map_lon", "map_lat") if area.by_place else ("geo_lon", "geo_lat")


def area_ids(searcher: tantivy.Searcher, schema: tantivy.Schema, base: Query, area: GeoArea) -> list[str]:
    """Ids of the posts matching ``base`` whose point lies inside ``area`` (exact): every
    point in the bounding box read and tested (the reference :func:`area_query` is tested
    against; it answers areas with no cell proven inside)."""
    return tested_ids(searcher, area, _float_box_query(schema, base, area))


def cell_field(area: GeoArea) -> str:
    """The cell field of the point ``area`` tests (:mod:`pipelines.search.cellindex`)."""
    return cellindex.FIELDS["map" if area.by_place else "geo"]


def _box_query(base: Query, area: GeoArea) -> Query:
    """``base`` within the cells holding the area's bounding box (posts without the point
    left out): a term set of the cell field (:mod:`pipelines.search.cellindex`), a little
    more than the box, built once per area like the cover's (:func:`_cells_query`). A
    ``GeoArea``'s coordinates are checked to lie on the globe, so its box does, and every
    point inside it has cells."""
    return and_all([base, _cells_query(area, (), "box")])


def _float_box_query(schema: tantivy.Schema, base: Query, area: GeoArea) -> Query:
    """``base`` within the area's bounding box by float ranges, each scanning its column
    (the reference :func:`area_ids` keeps them: independent of the cell fields)."""
    lon_f, lat_f = point_fields(area)
    west, south, east, north = bounding_box(area)
    return and_all(
        [
            base,
            Query.range_query(schema, lat_f, tantivy.FieldType.Float, south, north),
            Query.range_query(schema, lon_f, tantivy.FieldType.Float, west, east),
        ]
    )


def tested_ids(searcher: tantivy.Searcher, area: GeoArea, box: Query) -> list[str]:
    """Ids of the posts of ``box`` whose point tests inside ``area``, one by one."""
    return doc_ids(searcher, split(searcher, area, box)[0])


def split(searcher: tantivy.Searcher, area: GeoArea, box: Query) -> tuple[list[Any], list[Any]]:
    """Addresses of the posts of ``box`` whose point tests inside ``area``, and of the rest
    (points read from the fast fields; ids are read apart, only for the group needed)."""
    addrs, keep, _ = _tested(searcher, area, box)
    ins, outs = [], []
    for a, ok in zip(addrs, keep, strict=True):
        (ins if ok else outs).append(a)
    return ins, outs


def count_inside(searcher: tantivy.Searcher, area: GeoArea, box: Query) -> int:
    """How many posts of ``box`` have a point inside ``area`` (:func:`split`'s first group, counted)."""
    return sum(_tested(searcher, area, box)[1])


def _tested(
    searcher: tantivy.Searcher, area: GeoArea, box: Query
) -> tuple[list[Any], list[bool], tuple[np.ndarray, np.ndarray]]:
    """The addresses of ``box``'s posts, whether each one's point is inside ``area``, and the
    points read (longitudes, latitudes; NaN for none)."""
    lon_f, lat_f = point_fields(area)
    res = searcher.search(box, limit=FIRST_READ, count=True)  # one pass when the rim is small
    n = int(res.count or 0)
    if n == 0:
        return [], [], (np.zeros(0), np.zeros(0))
    if n > MAX_AREA_POSTS:
        raise SelectError(
            f"area: {n:,} posts to test one by one, more than {MAX_AREA_POSTS:,}; narrow the time range"
        )
    hits = res.hits if n <= FIRST_READ else searcher.search(box, limit=n, count=False).hits
    addrs = [a for _, a in hits]
    lons = searcher.fast_field_values(lon_f, addrs)
    lats = searcher.fast_field_values(lat_f, addrs)
    points = (_floats(lons), _floats(lats))
    if area.ring is not None:  # every point at once, exactly as one by one (areas.points_in_ring)
        return addrs, points_in_ring(*points, area.ring).tolist(), points
    # a circle: the scalar haversine (NumPy's sin and cos may differ in the last bit)
    keep = [
        lo is not None and la is not None and inside(area, float(lo), float(la))
        for lo, la in zip(lons, lats, strict=True)
    ]
    return addrs, keep, points


def _floats(values: list[Any]) -> np.ndarray:
    """Fast-field values as float64, NaN for a post without one (NaN tests outside)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except TypeError:  # a None among them
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def doc_ids(searcher: tantivy.Searcher, addrs: list[Any]) -> list[str]:
    return [searcher.doc(a).get_first("id") for a in addrs]


def ids_query(schema: tantivy.Schema, ids: list[str]) -> Query:
    """Exactly the posts with these ids (``empty_query`` for none)."""
    return Query.term_set_query(schema, "id", list(ids)) if ids else Query.empty_query()


MAX_RIM_CELLS = 20_000
"""A cover's rim of more cells than this is replaced by the bounding box's cells less the
inner ones (one term set of that many values costs ~20 ms; a huge circle's rim can have
hundreds of thousands)."""


@functools.lru_cache(maxsize=32)  # three queries per area; each holds its cell values
def _cells_query(area: GeoArea, levels: tuple[int, ...], part: str) -> Query:
    """The term set of the inner cells, the rim cells or both (``part``) of ``area``'s cover at
    ``levels``, or of its bounding box's cells (``"box"``, ``levels`` unused), built once per
    area: an index cover has tens of thousands of cells (~25 ms of Python to turn into a
    query; a Query is immutable and holds no searcher)."""
    if part == "box":
        return cellindex.cells_query(SCHEMA, cell_field(area), cellindex.box_cells(bounding_box(area)))
    cover = geocells.cover(area, levels)
    cells = {"inner": cover.cells, "rim": cover.rim or (), "region": (*cover.cells, *(cover.rim or ()))}[part]
    return cellindex.cells_query(SCHEMA, cell_field(area), cells)


def rim_known(cover: geocells.Cover) -> bool:
    return cover.rim is not None and len(cover.rim) <= MAX_RIM_CELLS


def rim_query(schema: tantivy.Schema, base: Query, area: GeoArea, levels: tuple[int, ...]) -> Query:
    """``base`` in the rim cells of the area's cover at ``levels`` (or, where the rim is not
    worked out, in the bounding box's cells outside the inner ones): the posts to test, none
    in an inner cell."""
    cover = geocells.cover(area, levels)
    if rim_known(cover):
        return and_all([base, _cells_query(area, levels, "rim")])
    box = _box_query(base, area)
    if not cover.cells:
        return box
    return Query.boolean_query([(Occur.Must, box), (Occur.MustNot, _cells_query(area, levels, "inner"))])


@functools.lru_cache(maxsize=32)  # keyed by the area, not its 7,200 cells (hashed at every call)
def _rim_values(area: GeoArea) -> np.ndarray:
    """The sorted indexed values of the index cover's rim cells (~3 ms for 7,200 cells)."""
    rim = geocells.cover(area, geocells.INDEX_LEVELS).rim or ()
    return np.sort(np.fromiter((cellindex.cell_value(c) for c in rim), np.int64, len(rim)))


def _rim_cells_of(points: tuple[np.ndarray, np.ndarray], area: GeoArea) -> np.ndarray:
    """The indexed value (:func:`pipelines.search.cellindex.cell_value`) of the rim cell holding
    each point, -1 where none does (a point off the globe or without a value): the cells of
    :func:`pipelines.search.cellindex.point_values`, computed for all points at once."""
    lons, lats = points
    values = _rim_values(area)
    out = np.full(len(lons), -1, np.int64)
    ok = np.isfinite(lons) & np.isfinite(lats) & (np.abs(lons) <= 180.0) & (np.abs(lats) <= 90.0)
    if not ok.any() or not len(values):
        return out
    fine = geocells.INDEX_LEVELS[-1]
    kx, ky = geocells.cell_indices(lons[ok], fine), geocells.cell_indices(lats[ok], fine)
    found = np.full(len(kx), -1, np.int64)
    for d in geocells.INDEX_LEVELS:
        v = cellindex.level_values(kx, ky, fine, d)
        at = np.minimum(np.searchsorted(values, v), len(values) - 1)
        hit = (values[at] == v) & (found < 0)
        found[hit] = v[hit]
    out[ok] = found
    return out


def _named(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    area: GeoArea,
    group: tuple[list[Any], np.ndarray],
    others: np.ndarray,
    base: Query | None,
) -> Query:
    """A group of the rim's posts (addresses, the rim cell of each) as a query: the rim cells
    holding none of the ``others`` by their cell value (with ``base``: a cell holds posts
    outside the selection too), each post of the other cells by id. Why: a rim cell at 0.001
    degree holds a post or two, and a term set of its cell values costs less than reading each
    post's id from the store and a term set of ids (the bench area at 10M posts: 1,565 posts in
    759 cells, 6 ms against 8 + 7 ms)."""
    addrs, cells = group
    pure = (cells >= 0) & ~np.isin(cells, others)
    parts: list[Query] = []
    if pure.any():
        named = Query.term_set_query(schema, cell_field(area), np.unique(cells[pure]).tolist())
        parts.append(named if base is None else and_all([base, named]))
    if not pure.all():
        parts.append(
            ids_query(
                schema, doc_ids(searcher, [a for a, p in zip(addrs, pure.tolist(), strict=True) if not p])
            )
        )
    if len(parts) == 1:
        return parts[0]
    return Query.boolean_query([(Occur.Should, q) for q in parts])


def rim_inside(searcher: tantivy.Searcher, schema: tantivy.Schema, base: Query, area: GeoArea) -> Query:
    """The posts of ``base`` in the rim cells of the area's index cover (:data:`geocells.INDEX_LEVELS`)
    that lie inside it, exactly: their points read and tested, the smaller group named
    (:func:`_named`; by id where the rim is not worked out: its box cells also hold inner posts)."""
    levels = geocells.INDEX_LEVELS
    cover = geocells.cover(area, levels)
    rim = rim_query(schema, base, area, levels)
    addrs, keep, points = _tested(searcher, area, rim)
    flags = np.asarray(keep, dtype=bool)
    cells = _rim_cells_of(points, area) if rim_known(cover) else np.full(len(addrs), -1, np.int64)
    if (cells < 0).any():  # a post whose rim cell is unknown: every post by id (still exact)
        cells = np.full(len(addrs), -1, np.int64)
    ins = ([a for a, k in zip(addrs, keep, strict=True) if k], cells[flags])
    outs = ([a for a, k in zip(addrs, keep, strict=True) if not k], cells[~flags])
    if len(outs[0]) < len(ins[0]):
        if not outs[0]:
            return rim
        return Query.boolean_query(
            [(Occur.Must, rim), (Occur.MustNot, _named(searcher, schema, area, outs, ins[1], None))]
        )
    if not ins[0]:
        return Query.empty_query()
    return _named(searcher, schema, area, ins, outs[1], base)


def area_query(searcher: tantivy.Searcher, schema: tantivy.Schema, base: Query, area: GeoArea) -> Query:
    """The posts of ``base`` inside ``area``, exactly. Only the rim's points are read (the
    inner cells are inside for every point, :func:`pipelines.search.geocells.cover`, here at
    the index's four levels): ``(base AND inner cells) OR`` :func:`rim_inside` (the smaller of
    the rim's two groups named by rim cell and id)."""
    levels = geocells.INDEX_LEVELS
    cover = geocells.cover(area, levels)
    rim = rim_inside(searcher, schema, base, area)
    if not cover.cells:
        return rim
    inner = and_all([base, _cells_query(area, levels, "inner")])
    return Query.boolean_query([(Occur.Should, inner), (Occur.Should, rim)])


def watchlist_query(searcher: tantivy.Searcher, schema: tantivy.Schema, wl: Watchlist) -> Query:
    """What a watchlist selects, exclusions and circle included (no time range)."""
    return selection_query(searcher, schema, wl.filters(), exclude=wl.exclude)


def selection_query(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    filters: Filters,
    watchlists: WatchlistLookup | None = None,
    exclude: str = "",
) -> Query:
    """The whole selection of ``filters`` as one exact query (area and watchlist included).

    ``watchlists`` looks a watchlist up by id (``Filters.watchlist``); ``exclude`` is a
    keyword query whose matches are left out (a watchlist's exclusions).
    """
    base_filters = filters.replace(
        area=None, watchlist=None, geo_only=filters.geo_only and filters.area is None
    )
    parts = [filters_query(schema, base_filters)]
    if exclude:
        parts.append(
            Query.boolean_query(
                [(Occur.Must, Query.all_query()), (Occur.MustNot, keyword_query(schema, exclude))]
            )
        )
    if filters.watchlist:
        wl = watchlists(filters.watchlist) if watchlists else None
        if wl is None:
            raise SelectError(f"watchlist: no watchlist with the id {filters.watchlist!r}")
        parts.append(watchlist_query(searcher, schema, wl))
    query = and_all(parts)
    if filters.area is not None:
        query = area_query(searcher, schema, query, filters.area)
    return query


def located(query: Query) -> Query:
    """The posts of ``query`` that have a map point."""
    return and_all([query, Query.exists_query("map_lat")])


def extent(searcher: tantivy.Searcher, query: Query) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` of the map points of ``query`` (None when none)."""
    res = searcher.aggregate(
        query, {"lo": {"stats": {"field": "map_lon"}}, "la": {"stats": {"field": "map_lat"}}}
    )
    if not res["la"].get("count"):
        return None
    return res["lo"]["min"], res["la"]["min"], res["lo"]["max"], res["la"]["max"]


def grid_cells(searcher: tantivy.Searcher, query: Query, cell_deg: float) -> list[dict[str, float | int]]:
    """Posts per ``cell_deg`` x ``cell_deg`` cell of their map point, exact.

    Each cell: ``n``, the mean ``lat``/``lon`` of its posts (where the Map draws it) and
    the mean ``threat``/``sentiment`` of its scored posts (None when none is scored).
    """
    means = {
        k: {"avg": {"field": f}}
        for k, f in (("la", "map_lat"), ("lo", "map_lon"), ("t", "threat"), ("s", "sentiment"))
    }
    agg = {
        "y": {
            "histogram": {"field": "map_lat", "interval": cell_deg},
            "aggs": {"x": {"histogram": {"field": "map_lon", "interval": cell_deg}, "aggs": means}},
        }
    }
    out: list[dict[str, float | int]] = []
    for row in searcher.aggregate(located(query), agg)["y"]["buckets"]:
        for cell in row["x"]["buckets"]:
            if not cell["doc_count"]:
                continue
            out.append(
                {
                    "lat": cell["la"]["value"],
                    "lon": cell["lo"]["value"],
                    "n": int(cell["doc_count"]),
                    "threat": cell["t"]["value"],
                    "sentiment": cell["s"]["value"],
                }
            )
    return out
