"""The Map's read side: every located post of a selection, as points or exact clusters.

A selection with few located posts is drawn point by point (read from MongoDB by id);
a larger one as posts per grid cell, aggregated in the search index
(:func:`pipelines.search.select.grid_cells`), so the map covers the whole selection, not
only its newest posts. Drawn areas and the visible bounds are exact filters
(:mod:`pipelines.search.select`), so the table and the counts under the map are exact too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import polars as pl

from pipelines.read.queries import Reader
from pipelines.search import aggregate, select
from pipelines.search.filters import Filters, GeoArea
from pipelines.store import Store

MAP_POINTS_LIMIT = 3_000
"""A selection with at most this many located posts is drawn point by point; a larger
one as exact clusters (posts per grid cell), see :func:`map_view`."""
TABLE_ROWS = 1_000
"""The Map's downloads hold at most this many newest posts of the selection (Export: all)."""
TABLE_PAGE = 50
"""Posts per page of the table under the map (newest first)."""
TABLE_PAGES = 200
"""Pages the table lets one browse (10,000 posts); Export gives a whole selection."""

MAP_SCHEMA = {
    "id": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "source": pl.String,
    "text": pl.String,
    "lat": pl.Float64,
    "lon": pl.Float64,
    "where": pl.String,
    "threat": pl.Float64,
    "sentiment": pl.Float64,
}
CLUSTER_SCHEMA = {
    "lat": pl.Float64,
    "lon": pl.Float64,
    "n": pl.Int64,
    "threat": pl.Float64,
    "sentiment": pl.Float64,
}
GRID_CELLS_ACROSS = 48
"""Clusters: the selection's extent is cut into about this many cells along its longer side."""


@dataclass(frozen=True)
class MapView:
    """Every located post of a selection: points when few, else exact clusters.

    ``located`` is the exact number of selected posts that have a map point. When it is
    at most the limit, ``points`` holds each of them; otherwise ``clusters`` holds the
    posts per grid cell of ``cell_deg`` degrees (their counts add up to ``located``).
    """

    located: int
    points: pl.DataFrame
    clusters: pl.DataFrame
    cell_deg: float | None = None


def _point_rows(store: Store, hits: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    proj = {"_id": 1, "ts": 1, "source": 1, "text": 1, "geo": 1, "scores": 1}
    docs = {d["_id"]: d for d in store.posts.by_ids([h[0] for h in hits], proj)} if hits else {}
    rows = []
    for pid, lon, lat in hits:
        d = docs.get(pid)
        if d is None:
            continue
        scores = d.get("scores") or {}
        places = scores.get("places") or []
        where = "coordinates" if d.get("geo") else (places[0].get("name") if places else None)
        rows.append(
            {
                "id": pid,
                "ts": d["ts"].astimezone(UTC),
                "source": d.get("source"),
                "text": (d.get("text") or "")[:280],
                "lat": lat,
                "lon": lon,
                "where": where,
                "threat": scores.get("threat"),
                "sentiment": scores.get("sentiment"),
            }
        )
    return rows


def cell_size(west: float, south: float, east: float, north: float) -> float:
    """Degrees per grid cell for an extent: a round number, 0.01 to 10."""
    span = max(east - west, north - south, 0.01) / GRID_CELLS_ACROSS
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0):
        if span <= step:
            return step
    return 10.0


def map_view(reader: Reader, filters: Filters, limit: int = MAP_POINTS_LIMIT) -> MapView:
    """Where the selected posts are (every one of them), see :class:`MapView`.

    A post's point is its own coordinates (``geo``) when it has them, else the first
    place its text names (``scores.places``, ranked by the scorer).
    """
    searcher, query = reader.select(filters)
    where = select.located(query)
    n = aggregate.count(searcher, where)
    empty_clusters = pl.DataFrame(schema=CLUSTER_SCHEMA)
    if n <= limit:
        hits = aggregate.geo_points(searcher, query, limit=max(1, n)) if n else []
        return MapView(n, pl.DataFrame(_point_rows(reader.store, hits), schema=MAP_SCHEMA), empty_clusters)
    box = select.extent(searcher, where)
    assert box is not None
    cell = cell_size(*box)
    cells = pl.DataFrame(select.grid_cells(searcher, query, cell), schema=CLUSTER_SCHEMA)
    return MapView(n, pl.DataFrame(schema=MAP_SCHEMA), cells, cell)


def bounds_area(bounds: dict[str, Any]) -> GeoArea | None:
    """The rectangle of Leaflet ``bounds`` as an area on the Map's points (None: the world).

    Longitudes are clamped to -180..180 (a view across the antimeridian then covers the
    part on the side of its centre's west edge).
    """
    try:
        south, west = float(bounds["_southWest"]["lat"]), float(bounds["_southWest"]["lng"])
        north, east = float(bounds["_northEast"]["lat"]), float(bounds["_northEast"]["lng"])
    except (KeyError, TypeError, ValueError):
        return None
    if east - west >= 360:
        return None
    west, east = max(-180.0, west), min(180.0, east)
    south, north = max(-90.0, south), min(90.0, north)
    if not (west < east and south < north):
        return None
    ring = ((west, south), (east, south), (east, north), (west, north), (west, south))
    return GeoArea(ring=ring, by_place=True)


def table_pages(n: int, page_size: int = TABLE_PAGE, max_pages: int = TABLE_PAGES) -> int:
    """Pages of ``page_size`` the table offers for ``n`` posts: at least 1, at most ``max_pages``."""
    return max(1, min(max_pages, -(-max(0, int(n)) // page_size)))


def located_posts(
    reader: Reader, filters: Filters, limit: int, within: GeoArea | None = None, offset: int = 0
) -> tuple[int, pl.DataFrame]:
    """How many selected posts have a map point (exact), and ``limit`` of them, newest first,
    after skipping the ``offset`` newest (a page of the table: ``offset = page * limit``).

    ``within``: only those whose map point also lies in this area (the visible bounds or a
    drawn shape), on top of any area the filters already hold.
    """
    from pipelines.read.queries import posts_frame

    searcher, query = reader.select(filters)
    if within is not None:
        query = select.ids_query(
            reader.index.schema, select.area_ids(searcher, reader.index.schema, query, within)
        )
    where = select.located(query)
    n = aggregate.count(searcher, where)
    # The documents by (id, indexed seq): a rerun reads from MongoDB only the posts that
    # are new to the list or changed since (pipelines.read.postcache).
    versions = aggregate.newest_versions(searcher, where, limit=limit, offset=offset) if n > offset else []
    return n, posts_frame(reader.posts.get(reader.store, versions))
