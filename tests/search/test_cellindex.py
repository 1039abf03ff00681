"""The indexed map cells select exactly the posts of their cells (the float grid's own
assignment), a box's rows hold every point of the box, and areas that leave the globe still
select the posts the per-point test finds."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import tantivy
from tantivy import FieldType, Query

from pipelines.search import aggregate, cellindex, geocells, select
from pipelines.search.filters import GeoArea
from pipelines.search.schema import SCHEMA, to_dict
from pipelines.search.select import area_ids, area_query, bounding_box, inside
from tests.search.test_geocells import _adversarial, _random_area, _random_ring, plain_index  # noqa: F401 (a fixture)


def _index(points: list[tuple[float, float]]) -> tantivy.Searcher:
    index = tantivy.Index(SCHEMA)
    writer = index.writer()
    for i, (lon, lat) in enumerate(points):
        post = {"_id": str(i), "geo": {"type": "Point", "coordinates": [lon, lat]}}
        writer.add_document(tantivy.Document.from_dict(to_dict(post), SCHEMA))
    writer.commit()
    index.reload()
    return index.searcher()


def _ids(searcher: tantivy.Searcher, query: Query) -> set[int]:
    return {int(i) for i in aggregate.all_ids(searcher, query)}


@pytest.fixture(scope="module")
def adversarial() -> tuple[list[tuple[float, float]], tantivy.Searcher]:
    rnd = random.Random(21)
    values = _adversarial(rnd)
    points = [(v, max(-90.0, min(90.0, rnd.choice(values) / 2))) for v in values]
    points += [(180.0, 90.0), (-180.0, -90.0), (0.0, 0.0)]
    return points, _index(points)


def test_a_cells_range_selects_the_posts_the_grid_puts_in_it(adversarial) -> None:
    points, searcher = adversarial
    rnd = random.Random(22)
    for field in cellindex.FIELDS.values():  # own coordinates are also the Map's point here
        for d in geocells.INDEX_LEVELS:
            cells = [(d, geocells.cell_index(lon, d), geocells.cell_index(lat, d)) for lon, lat in points]
            for cell in rnd.sample(sorted(set(cells)), 60):
                want = {i for i, c in enumerate(cells) if c == cell and geocells.valid_point(*points[i])}
                assert _ids(searcher, cellindex.cells_query(SCHEMA, field, (cell,))) == want, (field, cell)


def test_distinct_cells_get_distinct_values() -> None:
    """One value per cell across all levels (a term set names exactly its cells)."""
    rnd = random.Random(27)
    cells = set()
    for d in geocells.INDEX_LEVELS:
        n = 10**d
        corners = [
            (-180 * n, -90 * n),
            (180 * n, 90 * n),
            (180 * n, -90 * n),
            (-180 * n, 90 * n),
            (0, 0),
            (-1, -1),
        ]
        cells |= {(d, kx, ky) for kx, ky in corners}
        cells |= {(d, rnd.randint(-180 * n, 180 * n), rnd.randint(-90 * n, 90 * n)) for _ in range(3000)}
    values = {cellindex.cell_value(c) for c in cells}
    assert len(values) == len(cells) and min(values) >= 0


def test_the_cells_of_a_box_hold_every_point_of_it(adversarial) -> None:
    points, searcher = adversarial
    rnd = random.Random(23)
    for _ in range(40):
        west, east = sorted(rnd.uniform(-180, 180) * rnd.choice([1, 0.01]) for _ in range(2))
        south, north = sorted(rnd.uniform(-90, 90) * rnd.choice([1, 0.01]) for _ in range(2))
        cells = set(cellindex.box_cells((west, south, east, north)))
        assert len(cells) <= max(cellindex.MAX_BOX_CELLS, 181 * 361)
        got = _ids(searcher, cellindex.cells_query(SCHEMA, "geo_cell", cells))
        inside_box = {i for i, (lo, la) in enumerate(points) if west <= lo <= east and south <= la <= north}
        assert inside_box <= got
        (level,) = {c[0] for c in cells}
        in_cells = {
            i
            for i, (lo, la) in enumerate(points)
            if (level, geocells.cell_index(lo, level), geocells.cell_index(la, level)) in cells
            and geocells.valid_point(lo, la)
        }
        assert got == in_cells


def test_points_off_the_globe_have_no_cells_and_areas_at_its_edge_find_the_rest() -> None:
    assert cellindex.point_values(200.0, 51.0) == []
    assert cellindex.point_values(float("nan"), 51.0) == []
    assert len(cellindex.point_values(180.0, -90.0)) == len(geocells.INDEX_LEVELS)
    points = [
        (180.0, 10.5),
        (175.0, 10.5),
        (179.99, 10.5),
        (150.0, 10.5),
        (180.00000000000003, 10.5),
        (179.0, 89.9),
    ]
    searcher = _index(points)
    edge = GeoArea(
        ring=((170.0, 10.0), (180.0, 10.0), (180.0, 11.0), (170.0, 11.0), (170.0, 10.0)), by_place=False
    )
    pole = GeoArea(center=(179.5, 89.9), radius_km=50.0, by_place=False)
    for area in (edge, pole):
        got = aggregate.all_ids(searcher, area_query(searcher, SCHEMA, Query.all_query(), area))
        assert got == set(area_ids(searcher, SCHEMA, Query.all_query(), area))
        assert got  # the areas hold posts


def test_every_point_of_an_area_lies_in_an_inner_or_a_rim_cell() -> None:
    """For the rollup's cover and the index's (one level finer, no rectangles)."""
    rnd = random.Random(24)
    for _ in range(60):
        area = _random_area(rnd, by_place=True)
        for levels in (geocells.LEVELS, geocells.INDEX_LEVELS):
            cover = geocells.cover(area, levels)
            if cover.rim is None:
                continue
            inner, rim = set(cover.cells), set(cover.rim)
            assert not inner & rim
            west, south, east, north = bounding_box(area)
            for _ in range(300):
                lon = rnd.choice(
                    [rnd.uniform(west, east), round(rnd.uniform(west, east), rnd.choice([1, 2, 3]))]
                )
                lat = rnd.choice(
                    [rnd.uniform(south, north), round(rnd.uniform(south, north), rnd.choice([1, 2, 3]))]
                )
                mine = set(geocells.cells_of_point(lon, lat, geocells.INDEX_LEVELS))
                held = len(mine & inner) + len(mine & rim)
                if inside(area, lon, lat):
                    assert held == 1, (area, levels, lon, lat)
                else:
                    assert not mine & inner


def test_past_the_fine_parents_limit_the_index_rim_stays_coarser(monkeypatch) -> None:
    rnd = random.Random(26)
    area = GeoArea(ring=_random_ring(rnd), by_place=True)
    assert max(c[0] for c in geocells.cover(area, geocells.INDEX_LEVELS).rim) == 3
    monkeypatch.setattr(geocells, "MAX_FINE_PARENTS", 0)
    geocells.cover.cache_clear()
    coarse = geocells.cover(area, geocells.INDEX_LEVELS)
    geocells.cover.cache_clear()
    assert max(c[0] for c in coarse.rim) == 2 and max(c[0] for c in coarse.cells) <= 2


def test_an_area_without_its_rim_cells_is_selected_by_its_box(plain_index, monkeypatch) -> None:  # noqa: F811
    """The path of a rim too large to name (or not worked out): the box's cells less the inner."""
    monkeypatch.setattr(select, "MAX_RIM_CELLS", 0)
    rnd = random.Random(25)
    searcher, schema = plain_index.searcher(), plain_index.schema
    for i in range(12):
        area = _random_area(rnd, by_place=bool(i % 2))
        want = set(area_ids(searcher, schema, Query.all_query(), area))
        assert aggregate.all_ids(searcher, area_query(searcher, schema, Query.all_query(), area)) == want


def test_cell_indices_at_once_equal_one_by_one() -> None:
    rnd = random.Random(31)
    values = _adversarial(rnd) + [geocells.boundary(k, 3) for k in range(-2000, 2000, 7)]
    values += [math.nextafter(v, math.inf) for v in values[-300:]] + [-180.0, 180.0, -90.0, 90.0]
    for d in geocells.INDEX_LEVELS:
        got = geocells.cell_indices(np.array(values), d).tolist()
        assert got == [geocells.cell_index(v, d) for v in values], d


def test_rim_posts_named_by_their_cells_and_by_id_where_a_cell_is_split(monkeypatch) -> None:
    """Dense points (tens per 0.001 degree cell) under random polygons: rim cells wholly in or
    out are named by cell value, cells an edge splits by their posts' ids; the selection equals
    the per-point test, with and without a selection to intersect (a cell holds posts outside it)."""
    rnd = random.Random(33)
    points = [(rnd.uniform(-114.012, -113.988), rnd.uniform(51.988, 52.012)) for _ in range(6000)]
    points += [(round(lon, 3), round(lat, 3)) for lon, lat in points[:1500]]  # on cell boundaries
    searcher = _index(points)
    calls: list[tuple[int, int]] = []
    real = select._named

    def spied(searcher, schema, area, group, others, base):
        cells = group[1]
        pure = (cells >= 0) & ~np.isin(cells, others)
        calls.append((int(pure.sum()), int((~pure).sum())))
        return real(searcher, schema, area, group, others, base)

    monkeypatch.setattr(select, "_named", spied)
    half = Query.range_query(SCHEMA, "geo_lat", FieldType.Float, 51.995, 52.0)
    for _ in range(30):
        cx, cy = rnd.uniform(-114.005, -113.995), rnd.uniform(51.995, 52.005)
        ring = [
            (cx + rnd.uniform(-0.01, 0.01), cy + rnd.uniform(-0.01, 0.01)) for _ in range(rnd.randint(3, 6))
        ]
        area = GeoArea(ring=(*ring, ring[0]))
        for base in (Query.all_query(), half):
            want = set(area_ids(searcher, SCHEMA, base, area))
            assert aggregate.all_ids(searcher, area_query(searcher, SCHEMA, base, area)) == want, area
    assert any(by_cell and by_id for by_cell, by_id in calls), calls  # both ways in one group
