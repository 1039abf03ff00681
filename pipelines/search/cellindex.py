"""Map cells as indexed integers: a drawn area's cells as term sets of the inverted index.

Why (schema versions 4 and 5): a drawn area used to be selected with float range queries on
``map_lon``/``map_lat`` (or ``geo_*``). Tantivy answers a range on a fast field by scanning
the whole column, so each range cost ~30 ms at 10M posts whatever the area, and an area's
answer holds several (docs/search.md: 104-461 ms p95 at 10M). Each post now also carries
the cells of its point at the four levels of :data:`pipelines.search.geocells.INDEX_LEVELS`
as integers (``map_cell`` for the Map's point, ``geo_cell`` for its own coordinates),
indexed and not fast: a set of cells is read from the inverted index as one term set, at a
cost that grows with the posts it holds (and ~0.3 us per value), not with the index.

**The value** of a cell ``(d, kx, ky)`` is ``d << 40 | (ky + lat0) << 20 | (kx + lon0)``
(offsets of :func:`pipelines.search.geocells.cell_key`, non-negative, below 2**20 at every
level). A post's cells are those of :func:`pipelines.search.geocells.cells_of_point`, the
very cells :func:`pipelines.search.geocells.cover` and the rollup assign (one
``cell_index``), so "the posts of an inner cell" means the same here as in the rollup.

**Points off the globe** (``valid_point`` false, e.g. a longitude of 200) get no cells: no
area holds them (a ``GeoArea``'s coordinates are checked to lie on the globe, and so does
its bounding box).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import tantivy
from tantivy import Query

from pipelines.search import geocells
from pipelines.search.geocells import INDEX_LEVELS, Cell, cell_index, cells_of_point, valid_point

FIELDS = {"map": "map_cell", "geo": "geo_cell"}
"""The cell field of each point the index holds (the Map's point, the post's own)."""
MAX_BOX_CELLS = 20_000
"""A bounding box is covered by the cells of the finest level that needs at most this many
(the coarsest level whatever it needs: the world is 65,341 cells there). Finer cells hold
fewer posts outside the box, each read and tested as part of the rim (the bench's 1.1 x 0.7
degree box at 0.1 degree cells: 9,103 rim posts against 1,534 in the box's own rim)."""


def cell_value(cell: Cell) -> int:
    """The integer a cell is indexed as (see the module docstring)."""
    d, kx, ky = cell
    lat0, lon0 = geocells._OFFSETS[d]
    return d << 40 | (ky + lat0) << 20 | (kx + lon0)


def level_values(kx: np.ndarray, ky: np.ndarray, fine: int, d: int) -> np.ndarray:
    """:func:`cell_value` at level ``d`` of the cells ``(fine, kx, ky)`` (arrays of a finer or
    the same level), all at once: their parents by floor division, as :func:`point_values`."""
    lat0, lon0 = geocells._OFFSETS[d]
    f = 10 ** (fine - d)
    return d << 40 | (ky // f + lat0) << 20 | (kx // f + lon0)


def point_values(lon: float, lat: float) -> list[int]:
    """The indexed cells of a point, one per level (none for a point off the globe)."""
    if not valid_point(lon, lat):
        return []
    return [cell_value(c) for c in cells_of_point(lon, lat, INDEX_LEVELS)]


def cells_query(schema: tantivy.Schema, field: str, cells: Iterable[Cell]) -> Query:
    """Posts whose point lies in one of ``cells`` (any levels): one term set of their values
    (``empty_query`` for none). Why not a range per run of a row: Tantivy fills a bitset of
    the whole segment for each inverted-index range, so an area's few hundred runs cost more
    than the float ranges they replace (1M posts: 47 ms against 11 ms for the bench's area
    count); a term set fills one."""
    values = sorted({cell_value(c) for c in cells})
    return Query.term_set_query(schema, field, values) if values else Query.empty_query()


def box_cells(box: tuple[float, float, float, float]) -> Iterator[Cell]:
    """Cells holding every point of the closed box ``(west, south, east, north)`` (a cell
    holds ``[boundary(k), boundary(k + 1))``, so the last row and column are those of
    ``north`` and ``east`` themselves): at the finest level needing at most
    :data:`MAX_BOX_CELLS` cells. They hold more than the box (the cells it cuts), never less."""
    west, south, east, north = box
    level = INDEX_LEVELS[0]
    for d in reversed(INDEX_LEVELS):
        rows = cell_index(north, d) - cell_index(south, d) + 1
        if rows * (cell_index(east, d) - cell_index(west, d) + 1) <= MAX_BOX_CELLS:
            level = d
            break
    for ky in range(cell_index(south, level), cell_index(north, level) + 1):
        for kx in range(cell_index(west, level), cell_index(east, level) + 1):
            yield level, kx, ky
