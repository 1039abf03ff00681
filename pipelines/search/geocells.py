"""A fixed multi-resolution grid of map points, and the cells wholly inside a drawn area.

Why: a drawn area (:class:`~pipelines.search.filters.GeoArea`) has no index step of its
own, so every post in its bounding box used to be read and tested one by one
(:func:`pipelines.search.select.area_ids`). Most of an area's posts lie in grid cells that
are *provably* inside it; those are selected with plain float range queries (and their top
terms summed from the term rollup, :mod:`pipelines.search.termroll`), and only the posts of
the rim cells are read and tested.

**The grid.** Level ``d`` (:data:`LEVELS`: 0, 1, 2, cells of 1, 0.1 and 0.01 degrees) has
the boundaries ``k / 10**d`` as Python floats (one correctly rounded division, so the
boundary ``10 * k`` of level ``d + 1`` is the very same float and a cell is exactly the
union of its 100 children). A value's cell is the largest ``k`` with ``value >=
boundary(k)``: exactly the posts a Tantivy range query ``[boundary(k), boundary(k + 1))``
(``include_upper=False``) selects, since Tantivy compares f64 values in their own order
(``-0.0`` never reaches the index: :func:`pipelines.search.schema._num`). Why these levels:
1 degree cells fill the inside of large areas with few cells, 0.01 degree (about 1 km)
leaves a rim of posts to test that is thin next to a city-sized area; a finer level would
add a rollup cell per post and level for a rim already small (``docs/search.md``).

**Inside, provably.** A polygon's cell is inside when no ring edge can touch the closed
cell rectangle (every edge either lies wholly above or below its latitudes, or its part
within them lies wholly left or right of the cell by a margin far above the rounding of the
ray-casting arithmetic, a few ulps: its operands are exact, each step rounds once) and
its centre tests inside: then every ray-casting decision of
:func:`pipelines.search.areas.point_in_ring` is the exact one for every point of the cell,
and the even-odd parity is constant on it. A circle's cell is inside when its four corners
lie within the radius less a margin; for circles of 1 to 5,000 km whose box does not wrap,
the farthest point of a cell of at most 1 degree is one of its corners (along a parallel
the distance grows with the longitude difference, along a meridian it has no interior
maximum closer than ~10,000 km). Anything else is a rim cell: still exact, only read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from pipelines.search.filters import EARTH_RADIUS_M, GeoArea

LEVELS = (0, 1, 2)
"""Decimal digits of each grid level, coarsest first (1, 0.1, 0.01 degree cells)."""
INDEX_LEVELS = (0, 1, 2, 3)
"""The levels the search index holds (:mod:`pipelines.search.cellindex`): the rollup's and
0.001 degree cells (~100 m), whose rim holds a tenth of the posts to read and name by id."""
MAX_FINE_PARENTS = 1_000
"""The index cover splits at most this many rim cells into the finest level's children
(100 each); past it the rim stays one level coarser (still exact)."""
MARGIN_DEG = 1e-9
"""How far (degrees) a ring edge must stay left or right of an inner cell: far above the
few ulps (~1e-13) by which a computed ray crossing can miss the exact one."""
CIRCLE_KM = (1.0, 5_000.0)
"""Circles outside these radii get no inner cells (their posts are all tested one by one)."""
MAX_RECTS = 64
"""At most this many rectangles (range-query pairs) per area: past it the finest level's
cells are left to the rim (a diagonal edge makes a staircase of small rectangles)."""
MAX_TESTS = 4_000_000
"""Cell x edge tests per level; past this the rim is left at the coarser level (still exact)."""
CHUNK_TESTS = 250_000
"""Cell x edge tests per numpy step (a few MB of temporaries)."""

Cell = tuple[int, int, int]
"""``(level, k_lon, k_lat)``: the cell ``[boundary(k_lon), boundary(k_lon + 1))`` x the same in latitude."""
Rect = tuple[float, float, float, float]
"""``(west, south, east, north)``, lower bounds included, upper bounds excluded."""


def boundary(k: int, d: int) -> float:
    """The ``k``-th boundary of level ``d``: the float nearest ``k / 10**d``."""
    return k / 10**d


def cell_index(value: float, d: int) -> int:
    """The largest ``k`` with ``value >= boundary(k, d)`` (``math.floor`` of the scaled value,
    fixed up against the boundaries themselves, since ``value * 10**d`` rounds)."""
    scale = _SCALE.get(d) or 10**d
    k = math.floor(value * scale)
    while value < k / scale:
        k -= 1
    while value >= (k + 1) / scale:
        k += 1
    return k


_SCALE = {d: 10**d for d in INDEX_LEVELS}


def cell_indices(values: np.ndarray, d: int) -> np.ndarray:
    """:func:`cell_index` of every value at once (``int64``), by the same arithmetic: ``k`` and
    ``10**d`` are exact float64 values, so NumPy's division rounds as Python's ``k / 10**d``
    does. The product's rounding needs one fix-up each way at most; a second pass stands in
    for the scalar's loops at the cost of four comparisons."""
    scale = float(10**d)
    k = np.floor(values * scale)
    for _ in range(2):
        k = np.where(values < k / scale, k - 1, k)
        k = np.where(values >= (k + 1) / scale, k + 1, k)
    return k.astype(np.int64)


def cells_of_point(lon: float, lat: float, levels: tuple[int, ...] = LEVELS) -> list[Cell]:
    """The cell of a point at every level, coarsest first: the finest level's, then its
    parents by integer division (exact: a coarse boundary *is* a fine one, so the largest
    coarse boundary at or below the value is the one at or below its fine cell's)."""
    fine = levels[-1]
    kx, ky = cell_index(lon, fine), cell_index(lat, fine)
    return [(d, kx // 10 ** (fine - d), ky // 10 ** (fine - d)) for d in levels]


def valid_point(lon: float, lat: float) -> bool:
    """A point on the globe. Others get no cells: no area's inner cell can hold them."""
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def point_keys(lon: float, lat: float) -> list[str]:
    """:func:`cell_key` of :func:`cells_of_point` (the rollup's per-post path, kept lean)."""
    fine = LEVELS[-1]
    kx, ky = cell_index(lon, fine), cell_index(lat, fine)
    out = []
    for d in LEVELS:
        f = _SCALE[fine - d] if fine - d in _SCALE else 10 ** (fine - d)
        lat0, lon0 = _OFFSETS[d]
        out.append(f"{d}/{ky // f + lat0:05d}/{kx // f + lon0:05d}")
    return out


def fine_key(lon: float, lat: float) -> str:
    """:func:`cell_key` of the point's finest cell (the rollup counts a post in that one and
    derives the coarser cells from it: :func:`keys_from_fine`)."""
    fine = LEVELS[-1]
    lat0, lon0 = _OFFSETS[fine]
    return f"{fine}/{cell_index(lat, fine) + lat0:05d}/{cell_index(lon, fine) + lon0:05d}"


@functools.lru_cache(maxsize=1 << 16)
def keys_from_fine(key: str) -> tuple[str, ...]:
    """The keys of a finest cell and of its parents, coarsest first (as :func:`point_keys`)."""
    fine = LEVELS[-1]
    d, lat_s, lon_s = key.split("/")
    if int(d) != fine:
        raise ValueError(f"not a finest-level map cell key: {key!r}")
    lat0, lon0 = _OFFSETS[fine]
    ky, kx = int(lat_s) - lat0, int(lon_s) - lon0
    return tuple(cell_key((lv, kx // 10 ** (fine - lv), ky // 10 ** (fine - lv))) for lv in LEVELS)


def cell_key(cell: Cell) -> str:
    """A cell as text, ``"d/lat/lon"`` with both indices offset to be non-negative and five
    digits wide: the term rollup keys cells so, and a run of cells of one row is then one
    range of keys (one index range scan, not a lookup per cell)."""
    d, kx, ky = cell
    lat0, lon0 = _OFFSETS[d]
    return f"{d}/{ky + lat0:05d}/{kx + lon0:05d}"


_OFFSETS = {d: (90 * 10**d, 180 * 10**d) for d in INDEX_LEVELS}


def row_runs(cells: tuple[Cell, ...]) -> list[tuple[Cell, Cell]]:
    """``cells`` as runs of consecutive cells of one row and level: ``(first, last)``."""
    rows: dict[tuple[int, int], list[int]] = {}
    for d, kx, ky in cells:
        rows.setdefault((d, ky), []).append(kx)
    return [((d, a, ky), (d, b, ky)) for (d, ky), ks in sorted(rows.items()) for a, b in _runs(sorted(ks))]


def cell_rect(cell: Cell) -> Rect:
    d, kx, ky = cell
    return boundary(kx, d), boundary(ky, d), boundary(kx + 1, d), boundary(ky + 1, d)


@dataclass(frozen=True)
class Cover:
    """The cells provably inside an area (coarse where they fit), the same region as
    rectangles (runs of a row merged, equal runs of consecutive rows merged), and the *rim*:
    cells holding every other point of the area (each of their posts is read and tested),
    disjoint from the inner cells; ``None`` when not worked out (then the area's bounding
    box stands for it)."""

    cells: tuple[Cell, ...]
    rects: tuple[Rect, ...]
    rim: tuple[Cell, ...] | None = None


EMPTY = Cover((), ())


@functools.lru_cache(maxsize=32)  # an index cover holds ~40,000 cells (~5 MB of tuples)
def cover(area: GeoArea, levels: tuple[int, ...] = LEVELS) -> Cover:
    """The cells of ``levels`` wholly inside ``area`` for :func:`pipelines.search.select.inside`
    and its rim cells (see the module docstring); :data:`EMPTY` when no inner cell can be
    proven. With :data:`LEVELS` (the rollup's cells) the inner cells also fit in
    :data:`MAX_RECTS` rectangles; with :data:`INDEX_LEVELS` (the index's term sets) there
    are no rectangles.

    Every point of the area lies in an inner or a rim cell: the level-0 cells of the bounding
    box are classified, a cell neither inner nor touched by the rim is wholly outside (a
    polygon's: no edge reaches it and its centre is outside, so its parity is constant; a
    circle's: its centre is farther than the radius plus twice its size), touched cells are
    split into their children, and what is left unsplit (the finest level's touched cells,
    cells past :data:`MAX_TESTS` or :data:`MAX_FINE_PARENTS`, inner cells dropped to keep
    :data:`MAX_RECTS`) is rim."""
    from pipelines.search.select import bounding_box  # select imports this module

    west, south, east, north = bounding_box(area)
    if area.ring is None:
        assert area.radius_km is not None
        if not CIRCLE_KM[0] <= float(area.radius_km) <= CIRCLE_KM[1] or (west, east) == (-180.0, 180.0):
            return EMPTY
    classify = _ring_classifier(area.ring) if area.ring is not None else _circle_classifier(area)
    d = levels[0]
    kx = np.arange(cell_index(west, d), cell_index(east, d) + 1)
    ky = np.arange(cell_index(south, d), cell_index(north, d) + 1)
    gx, gy = np.meshgrid(kx, ky)
    todo = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inner: list[Cell] = []
    rim: list[Cell] = []
    for i, d in enumerate(levels):
        if len(todo) * classify.cost > MAX_TESTS:
            rim += [(d, int(x), int(y)) for x, y in todo]
            break
        step = max(1, CHUNK_TESTS // classify.cost)  # bounds the cell x edge arrays' memory
        parts = [classify(todo[j : j + step], d) for j in range(0, len(todo), step)] or [classify(todo, d)]
        is_in = np.concatenate([p[0] for p in parts])
        is_rim = np.concatenate([p[1] for p in parts])
        inner += [(d, int(x), int(y)) for x, y in todo[is_in]]
        last = i + 1 == len(levels)
        if last or (levels[i + 1] > LEVELS[-1] and int(is_rim.sum()) > MAX_FINE_PARENTS):
            rim += [(d, int(x), int(y)) for x, y in todo[is_rim]]
            break
        todo = _children(todo[is_rim], levels[i + 1] - d)
    if levels != LEVELS:
        return Cover(tuple(inner), (), tuple(rim))
    for depth in range(len(LEVELS), 0, -1):
        kept = [c for c in inner if c[0] in LEVELS[:depth]]
        rects = rectangles(kept)
        if len(rects) <= MAX_RECTS:
            dropped = [c for c in inner if c[0] not in LEVELS[:depth]]
            return Cover(tuple(kept), tuple(rects), tuple(rim + dropped))
    return EMPTY


def _children(parents: np.ndarray, digits: int) -> np.ndarray:
    """The ``100**digits`` children of each parent cell at the next level."""
    f = 10**digits
    sub = np.arange(f)
    gx, gy = np.meshgrid(sub, sub)
    offs = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return (parents[:, None, :] * f + offs[None, :, :]).reshape(-1, 2)


def _bounds(ks: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
    """Closed rectangles of cells (the same floats as :func:`boundary`)."""
    s = float(10**d)
    return ks[:, 0] / s, ks[:, 1] / s, (ks[:, 0] + 1) / s, (ks[:, 1] + 1) / s


class _ring_classifier:
    """Inner and rim cells of a polygon (see the module docstring)."""

    def __init__(self, ring: tuple[tuple[float, float], ...]) -> None:
        pts = np.array(ring[:-1] if ring[0] == ring[-1] else ring, dtype=np.float64)
        self.x1, self.y1 = pts[:, 0], pts[:, 1]
        self.x2, self.y2 = np.roll(pts[:, 0], -1), np.roll(pts[:, 1], -1)
        self.cost = len(pts)

    def __call__(self, ks: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        if len(ks) == 0:
            return np.zeros(0, bool), np.zeros(0, bool)
        xlo, ylo, xhi, yhi = (b[:, None] for b in _bounds(ks, d))
        x1, y1, x2, y2 = self.x1[None], self.y1[None], self.x2[None], self.y2[None]
        ymin, ymax = np.minimum(y1, y2), np.maximum(y1, y2)
        band = ~((ymin > yhi) | (ymax < ylo))  # the edge reaches the cell's latitudes
        ya, yb = np.maximum(ylo, ymin), np.minimum(yhi, ymax)
        flat = y1 == y2
        with np.errstate(divide="ignore", invalid="ignore"):
            xa = np.where(flat, x1, x1 + (ya - y1) * (x2 - x1) / (y2 - y1))
            xb = np.where(flat, x2, x1 + (yb - y1) * (x2 - x1) / (y2 - y1))
        near = (np.minimum(xa, xb) - MARGIN_DEG <= xhi) & (np.maximum(xa, xb) + MARGIN_DEG >= xlo)
        touched = (band & near).any(axis=1)
        cx, cy = (xlo + xhi) / 2, (ylo + yhi) / 2
        spans = (y1 > cy) != (y2 > cy)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (cy - y1) * (x2 - x1) / (y2 - y1)
        centre_in = ((spans & (cx < x_cross)).sum(axis=1) % 2).astype(bool)
        return ~touched & centre_in, touched


class _circle_classifier:
    """Inner and rim cells of a circle: corners within the radius (less a margin) are
    inner; a cell whose centre is farther than the radius plus its size is dropped."""

    cost = 4

    def __init__(self, area: GeoArea) -> None:
        assert area.center is not None and area.radius_km is not None
        self.lon, self.lat = area.center
        self.r = float(area.radius_km)

    def _km(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """:func:`~pipelines.search.areas.haversine_km` in numpy (an ulp apart at most: the
        relative margin of the inner test covers it)."""
        p1, p2 = math.radians(self.lat), np.radians(lat)
        dp, dl = p2 - p1, np.radians(lon - self.lon)
        a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        return 2 * EARTH_RADIUS_M / 1000 * np.arcsin(np.minimum(1.0, np.sqrt(a)))

    def __call__(self, ks: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        if len(ks) == 0:
            return np.zeros(0, bool), np.zeros(0, bool)
        xlo, ylo, xhi, yhi = _bounds(ks, d)
        limit = self.r * (1 - 1e-6)
        is_in = np.ones(len(ks), bool)
        for lon, lat in ((xlo, ylo), (xlo, yhi), (xhi, ylo), (xhi, yhi)):
            is_in &= self._km(lon, lat) <= limit
        near = self._km((xlo + xhi) / 2, (ylo + yhi) / 2) <= self.r + 2 * 111.3 * 10.0**-d
        return is_in, ~is_in & near


def rectangles(cells: list[Cell]) -> list[Rect]:
    """The region of ``cells`` as few rectangles: every cell in units of the finest level
    among them, runs of consecutive units in a row, then equal runs of consecutive rows
    joined (each rectangle is a pair of range queries to run)."""
    if not cells:
        return []
    fine = max(c[0] for c in cells)
    rows: dict[int, list[tuple[int, int]]] = {}
    for d, kx, ky in cells:
        f = 10 ** (fine - d)
        for row in range(ky * f, (ky + 1) * f):
            rows.setdefault(row, []).append((kx * f, (kx + 1) * f - 1))
    out: list[Rect] = []
    growing: dict[tuple[int, int], tuple[int, int]] = {}  # run -> (first row, last row)
    for ky in sorted(rows):
        runs = set(_merge(rows[ky]))
        for run in [r for r, (_, last) in growing.items() if r not in runs or last != ky - 1]:
            out.append(_rect(fine, run, *growing.pop(run)))
        for run in runs:
            growing[run] = (growing[run][0] if run in growing else ky, ky)
    out += [_rect(fine, run, first, last) for run, (first, last) in growing.items()]
    return sorted(out)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Disjoint integer spans ``(first, last)`` joined where they touch."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and out[-1][1] == a - 1:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _runs(ks: list[int]) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of consecutive integers in sorted ``ks``."""
    runs: list[tuple[int, int]] = []
    for k in ks:
        if runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        else:
            runs.append((k, k))
    return runs


def _rect(d: int, run: tuple[int, int], first_row: int, last_row: int) -> Rect:
    return boundary(run[0], d), boundary(first_row, d), boundary(run[1] + 1, d), boundary(last_row + 1, d)


def in_rects(rects: tuple[Rect, ...], lon: float, lat: float) -> bool:
    """Is the point in one of the rectangles (lower bounds included, upper excluded)?"""
    return any(w <= lon < e and s <= lat < n for w, s, e, n in rects)
