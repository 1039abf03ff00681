"""The map grid agrees with Tantivy's float range queries to the last bit, the cells it
calls inside an area are inside for every point, and an area's selection and top terms
equal the per-point test and a direct recount."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import tantivy
from tantivy import FieldType, Query

from pipelines.core.text import extract_terms
from pipelines.search import aggregate, areaterms, geocells, select, termroll
from pipelines.search.areas import point_in_ring, points_in_ring
from pipelines.search.filters import Filters, GeoArea
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer
from pipelines.search.schema import SCHEMA, to_dict
from pipelines.search.select import area_ids, area_query, inside, selection_query
from pipelines.store import Store
from tests.search.conftest import START, make_posts

START_ALL, END_ALL = START, START + timedelta(days=4)


def _adversarial(rnd: random.Random) -> list[float]:
    """Grid boundaries of every level, the floats next to them, sums that round, randoms."""
    out = [0.0, 0.1 + 0.2, 0.3, -0.3, 51.05, -114.07, 89.99, -179.99, 1e-300, -1e-300]
    for _ in range(150):
        d = rnd.choice(geocells.LEVELS)
        b = geocells.boundary(rnd.randint(-180 * 10**d, 180 * 10**d), d)
        out += [b, math.nextafter(b, math.inf), math.nextafter(b, -math.inf)]
        out += [rnd.uniform(-180, 180), round(rnd.uniform(-2, 2), 2), round(rnd.uniform(-2, 2), 3) * 1.0]
    return [v + 0.0 for v in out]  # as the index holds them (no -0.0)


def test_cells_agree_with_tantivy_range_queries() -> None:
    rnd = random.Random(3)
    values = _adversarial(rnd)
    index = tantivy.Index(SCHEMA)
    writer = index.writer()
    for i, v in enumerate(values):
        writer.add_document(tantivy.Document.from_dict({"id": str(i), "map_lon": v}, SCHEMA))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    for d in geocells.LEVELS:
        cells = {v: geocells.cell_index(v, d) for v in values}
        for v, k in cells.items():
            assert geocells.boundary(k, d) <= v < geocells.boundary(k + 1, d), (v, d, k)
        for k in set(cells.values()):
            lo, hi = geocells.boundary(k, d), geocells.boundary(k + 1, d)
            q = Query.range_query(SCHEMA, "map_lon", FieldType.Float, lo, hi, include_upper=False)
            got = {
                values[int(searcher.doc(a).get_first("id"))] for _, a in searcher.search(q, limit=10_000).hits
            }
            assert got == {v for v, c in cells.items() if c == k}, (d, k)
        # a level's boundary is its finer level's, so a cell is exactly its children
        for v in values[:50]:
            if d + 1 in geocells.LEVELS:
                assert geocells.cell_index(v, d + 1) // 10 == geocells.cell_index(v, d)


def _random_ring(rnd: random.Random) -> tuple[tuple[float, float], ...]:
    cx, cy = rnd.uniform(-114.5, -113.5), rnd.uniform(50.5, 51.5)
    kind = rnd.choice(["box", "grid_box", "star", "triangle"])
    if kind in ("box", "grid_box"):
        w, h = rnd.uniform(0.05, 1.5), rnd.uniform(0.05, 1.5)
        x0, y0 = cx - w / 2, cy - h / 2
        if kind == "grid_box":  # corners exactly on grid boundaries
            x0, y0, w, h = round(x0, 1), round(y0, 2), round(w, 1) or 0.1, round(h, 2) or 0.01
        pts = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    else:
        n = 3 if kind == "triangle" else rnd.randint(5, 12)
        angles = sorted(rnd.uniform(0, 2 * math.pi) for _ in range(n))
        pts = [
            (cx + rnd.uniform(0.1, 1.2) * math.cos(a), cy + rnd.uniform(0.1, 1.0) * math.sin(a))
            for a in angles
        ]
    return (*pts, pts[0])


def _random_area(rnd: random.Random, by_place: bool) -> GeoArea:
    if rnd.random() < 0.6:
        return GeoArea(ring=_random_ring(rnd), by_place=by_place)
    center = (round(rnd.uniform(-114.5, -113.5), rnd.choice([1, 2, 6])), rnd.uniform(50.5, 51.5))
    return GeoArea(center=center, radius_km=rnd.choice([0.5, 2.0, 15.0, 40.0, 90.0]), by_place=by_place)


def test_inner_cells_are_inside_for_every_point() -> None:
    rnd = random.Random(11)
    for _ in range(60):
        area = _random_area(rnd, True)
        cover = geocells.cover(area)
        for cell in cover.cells:
            w, s, e, n = geocells.cell_rect(cell)
            below_e, below_n = math.nextafter(e, -math.inf), math.nextafter(n, -math.inf)
            probes = [(w, s), (below_e, s), (w, below_n), (below_e, below_n), ((w + e) / 2, (s + n) / 2)]
            probes += [(rnd.uniform(w, e), rnd.uniform(s, n)) for _ in range(3)]
            for lon, lat in probes:
                assert inside(area, lon, lat), (area, cell, lon, lat)
                assert geocells.in_rects(cover.rects, lon, lat)
        # the rectangles are the cells' region: no point in one without the other
        for _ in range(300):
            lon, lat = rnd.uniform(-116, -112), rnd.uniform(49, 53)
            in_cells = sum(_in_cell(c, lon, lat) for c in cover.cells)
            assert in_cells <= 1  # no cell with its parent
            assert (in_cells == 1) == geocells.in_rects(cover.rects, lon, lat)


def _in_cell(cell: geocells.Cell, lon: float, lat: float) -> bool:
    d, kx, ky = cell
    return geocells.cell_index(lon, d) == kx and geocells.cell_index(lat, d) == ky


def test_a_box_is_covered_by_few_rectangles() -> None:
    box = GeoArea(ring=((-114.6, 50.9), (-113.9, 50.9), (-113.9, 52.0), (-114.6, 52.0), (-114.6, 50.9)))
    cover = geocells.cover(box)
    assert 0 < len(cover.rects) <= 8
    assert geocells.in_rects(cover.rects, -114.25, 51.5)
    assert not geocells.in_rects(cover.rects, -114.6, 51.5)  # on the ring: a rim point


def _points(rnd: random.Random, n: int) -> list[tuple[float, float] | None]:
    """Random points, points on grid boundaries, on ring-like lines, and no point at all."""
    out: list[tuple[float, float] | None] = []
    for i in range(n):
        r = i % 5
        if r == 0:
            out.append(None)
        elif r == 1:
            out.append((round(rnd.uniform(-115, -113), 2), round(rnd.uniform(50, 52), 1)))
        elif r == 2:
            out.append((round(rnd.uniform(-115, -113), 1), rnd.uniform(50, 52)))
        else:
            out.append((rnd.uniform(-115.5, -112.5), rnd.uniform(49.5, 52.5)))
    return out


def _located_posts(n: int, seed: int, prefix: str) -> list[dict]:
    rnd = random.Random(seed)
    posts = make_posts(n, seed=seed, prefix=prefix)
    for p, own, place in zip(posts, _points(rnd, n), _points(rnd, n), strict=True):
        if own is not None and rnd.random() < 0.5:
            p["geo"] = {"type": "Point", "coordinates": list(own)}
        if place is not None:
            p.setdefault("scores", {})["places"] = [{"name": "Somewhere", "lon": place[0], "lat": place[1]}]
    return posts


@pytest.fixture(scope="module")
def plain_index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    index = SearchIndex.create(tmp_path_factory.mktemp("geo") / "search-index")
    writer = index.writer()
    for post in _located_posts(4000, 5, "g"):
        writer.add_document(tantivy.Document.from_dict(to_dict(post), SCHEMA))
    writer.commit()
    writer.wait_merging_threads()
    return index


def test_area_selection_equals_the_per_point_test(plain_index: SearchIndex) -> None:
    rnd = random.Random(8)
    searcher, schema = plain_index.searcher(), plain_index.schema
    twitter = Filters.make(sources=["twitter"])
    for i in range(40):
        area = _random_area(rnd, by_place=bool(i % 2))
        for base_filters in (Filters.make(), twitter):
            base = selection_query(searcher, schema, base_filters)
            want = set(area_ids(searcher, schema, base, area))
            got = aggregate.all_ids(searcher, area_query(searcher, schema, base, area))
            assert got == want, area
            both = selection_query(searcher, schema, base_filters.replace(area=area))
            assert aggregate.all_ids(searcher, both) == want


def _direct_area(store: Store, area: GeoArea, size: int) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for p in store.posts.iterate({}):
        doc = to_dict(p)
        if "map_lon" in doc and inside(area, doc["map_lon"], doc["map_lat"]):
            counts.update({t for t in p.get("terms") or [] if isinstance(t, str) and t})
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


def _assert_area_terms(store: Store, index: SearchIndex, rnd: random.Random, areas: int) -> int:
    """Every answer equals the direct recount; ``None`` only where no cell is inside."""
    answered = 0
    for _ in range(areas):
        area = _random_area(rnd, by_place=True)
        for size in (3, 400):
            got = areaterms.area_top_terms(
                index.path, Filters.make(area=area), size, index.searcher, index.schema
            )
            if got is None:
                assert not geocells.cover(area).cells
                continue
            answered += 1
            assert got == _direct_area(store, area, size), (area, size)
        counted = areaterms.area_count(index.path, Filters.make(area=area), index.searcher, index.schema)
        assert counted == _direct_count(store, area), area  # an area with no inner cell too
    return answered


def _direct_count(store: Store, area: GeoArea) -> int:
    located = (to_dict(p) for p in store.posts.iterate({}))
    return sum(1 for d in located if "map_lon" in d and inside(area, d["map_lon"], d["map_lat"]))


def test_area_top_terms_equal_a_direct_recount(store: Store, tmp_path: Path) -> None:
    store.posts.insert(_located_posts(3000, 9, "t"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=700)
    indexer.rebuild()  # the rollup filled by begin/add/finish (post_cells)
    rnd = random.Random(21)
    assert _assert_area_terms(store, index, rnd, 25) > 10
    # the whole span as a time range reads the all-time cells too; part of it is refused
    area = GeoArea(
        ring=((-114.6, 50.9), (-113.9, 50.9), (-113.9, 52.0), (-114.6, 52.0), (-114.6, 50.9)), by_place=True
    )
    span = Filters.make(area=area, since=START_ALL, until=END_ALL)
    got = areaterms.area_top_terms(index.path, span, 10, index.searcher, index.schema)
    assert got == _direct_area(store, area, 10)
    part = Filters.make(area=area, since=START_ALL, until=START_ALL.replace(day=21))
    assert areaterms.area_top_terms(index.path, part, 10, index.searcher, index.schema) is None
    assert areaterms.area_count(index.path, span, index.searcher, index.schema) == _direct_count(store, area)
    assert areaterms.area_count(index.path, part, index.searcher, index.schema) is None
    indexer.close()


def test_area_top_terms_from_the_rims_commonest_ids_equal_a_direct_recount(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rim's aggregation returns only its ``RIM_TOP`` commonest ids: answers settled from
    them, and those that must read every id, both equal the direct recount. A skewed
    vocabulary (400 extra words, Zipf-like) lets some rims settle from their commonest ids."""
    rnd = random.Random(5)
    posts = _located_posts(3000, 9, "t")
    for p in posts:
        extra = rnd.choices(range(400), weights=[1 / (k + 1) for k in range(400)], k=rnd.randint(1, 4))
        p["text"] += " " + " ".join(f"zipf{k}" for k in extra)
        p["terms"] = extract_terms(p["text"])
    store.posts.insert(posts)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=700)
    indexer.rebuild()
    calls: list[tuple[int, int, Query]] = []
    real = areaterms._rim_counts

    def recorded(searcher: tantivy.Searcher, query: Query, top: int) -> tuple[dict[int, int], int] | None:
        out = real(searcher, query, top)
        calls.append((top, -1 if out is None else out[1], query))
        return out

    monkeypatch.setattr(areaterms, "_rim_counts", recorded)
    for top in (1, 4, 30):
        monkeypatch.setattr(areaterms, "RIM_TOP", top)
        assert _assert_area_terms(store, index, random.Random(21), 25) > 10
    # an area whose inner cells hold no post (the rollup stores no cell there): no terms
    empty = GeoArea(ring=((-150.0, -40.0), (-148.0, -40.0), (-148.0, -38.0), (-150.0, -40.0)), by_place=True)
    assert geocells.cover(empty).cells
    got = areaterms.area_top_terms(index.path, Filters.make(area=empty), 5, index.searcher, index.schema)
    assert got == _direct_area(store, empty, 5) == []
    cut = [query for top, bound, query in calls if top < areaterms.TERMS_CAP and bound > 0]
    assert cut, "no rim was cut"
    # read whole: a query asked again for every id after its commonest ids were cut
    read_all = sum(top == areaterms.TERMS_CAP and any(q is query for q in cut) for top, _, query in calls)
    settled = len(cut) - read_all
    assert read_all > 0 and settled > 0, (read_all, settled)
    indexer.close()


def test_area_top_terms_out_of_step_or_other_selections_are_none(store: Store, tmp_path: Path) -> None:
    store.posts.insert(_located_posts(400, 12, "o"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index)
    indexer.rebuild()
    area = GeoArea(center=(-114.07, 51.05), radius_km=60, by_place=True)
    f = Filters.make(area=area)
    assert areaterms.area_top_terms(index.path, f, 5, index.searcher, index.schema) is not None
    for other in (
        Filters.make(area=area, query="flood"),
        Filters.make(area=area, sources=["rss"]),
        Filters.make(area=GeoArea(center=(-114.07, 51.05), radius_km=60)),  # own coordinates
    ):
        assert areaterms.area_top_terms(index.path, other, 5, index.searcher, index.schema) is None
        assert areaterms.area_count(index.path, other, index.searcher, index.schema) is None
    # a rollup behind the index (a kill between the two commits) answers nothing
    writer = indexer.writer
    writer.add_document(tantivy.Document.from_dict(to_dict(_located_posts(1, 13, "x")[0]), SCHEMA))
    writer.commit()
    assert areaterms.area_top_terms(index.path, f, 5, index.searcher, index.schema) is None
    assert areaterms.area_count(index.path, f, index.searcher, index.schema) is None
    indexer.close()


def _follow_loop_index(store: Store, tmp_path: Path) -> tuple[SearchIndex, Indexer]:
    """New posts, posts re-indexed by the rebuild's overlap and re-scored posts."""
    store.posts.insert(_located_posts(600, 14, "r"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=200)
    indexer.rebuild()
    store.posts.insert(_located_posts(300, 15, "s"))
    first = store.feed.next_seq(100)
    moved = {"name": "Banff", "lat": 51.1784, "lon": -115.5708}  # re-scored: another map point
    for i, pid in enumerate(sorted(store.posts.all_ids())[:100]):
        change = {"seq": first + i, "scores.threat": 0.9} | ({"scores.places": [moved]} if i % 2 else {})
        store.db.posts.update_one({"_id": pid}, {"$set": change})
    indexer.catch_up()
    assert indexer._rollup_in_step()
    return index, indexer


def test_area_top_terms_after_the_follow_loop_and_a_rebuild_from_the_index(
    store: Store, tmp_path: Path
) -> None:
    """New, re-indexed and re-scored posts (half of them moved to another map point): the
    upkeep counts the replaced versions' map cells out (read back from the index through
    ``post_cells``), so area top terms answer and equal a direct recount; so they do after
    ``TermRollup.rebuild``, which reads every post back the same way."""
    index, indexer = _follow_loop_index(store, tmp_path)
    assert _assert_area_terms(store, index, random.Random(2), 10) > 3
    assert indexer.rollup is not None
    indexer.rollup.rebuild(index.searcher(), index.schema, termroll.index_opstamp(index.path) or 0)
    assert _assert_area_terms(store, index, random.Random(3), 10) > 3
    indexer.close()


def test_cell_keys_sort_as_rows_of_cells() -> None:
    """A row run of cells is one key range of the rollup (``areaterms._map_cells``)."""
    rnd = random.Random(5)
    cells = []
    for _ in range(2000):
        d = rnd.choice(geocells.LEVELS)
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-90, 90)
        cells.append((d, geocells.cell_index(lon, d), geocells.cell_index(lat, d)))
    cells += [(d, geocells.cell_index(180.0, d), geocells.cell_index(90.0, d)) for d in geocells.LEVELS]
    by_key = sorted(set(cells), key=geocells.cell_key)
    assert by_key == sorted(set(cells), key=lambda c: (c[0], c[2], c[1]))


def test_points_off_the_globe_get_no_map_cells() -> None:
    for lon, lat in ((float("nan"), 51.0), (-114.0, float("inf")), (200.0, 51.0), (-114.0, -91.0)):
        cells, _ = termroll.post_cells({"id": "x", "map_lon": lon, "map_lat": lat})
        assert not any(src.startswith(termroll.GEO_MARK) for _, src, _ in cells)
    cells, _ = termroll.post_cells({"id": "y", "map_lon": -114.0, "map_lat": 51.0})
    (geo,) = [c for c in cells if c[1].startswith(termroll.GEO_MARK)]  # the finest cell only ...
    stored = [key[2] for key in termroll.cells_of(geo)]  # ... counting in every level's cell
    assert stored == [termroll.GEO_MARK + k for k in reversed(geocells.point_keys(-114.0, 51.0))]


def test_keys_from_the_finest_cell_equal_the_points_own() -> None:
    """The coarser map cells derived from a post's finest cell are the point's own cells."""
    rnd = random.Random(8)
    points = [(rnd.uniform(-180, 180), rnd.uniform(-90, 90)) for _ in range(5000)]
    points += [(-0.0, 0.0), (-180.0, -90.0), (180.0, 90.0), (-0.005, -0.005), (-114.07, 0.1 + 0.2)]
    for lon, lat in points:
        assert geocells.keys_from_fine(geocells.fine_key(lon, lat)) == tuple(geocells.point_keys(lon, lat))


def test_cells_of_a_point_are_its_cell_at_every_level() -> None:
    for v in _adversarial(random.Random(9)):
        lat = max(-90.0, min(90.0, v / 2))
        assert geocells.cells_of_point(v, lat) == [
            (d, geocells.cell_index(v, d), geocells.cell_index(lat, d)) for d in geocells.LEVELS
        ]


def test_point_keys_are_the_keys_of_its_cells() -> None:
    for v in _adversarial(random.Random(10)):
        lat = max(-90.0, min(90.0, -v / 2))
        assert geocells.point_keys(v, lat) == [geocells.cell_key(c) for c in geocells.cells_of_point(v, lat)]


def test_points_in_ring_at_once_equal_the_scalar_test_bit_for_bit() -> None:
    """Vertices, points on edges and grid lines, the floats beside them, randoms, no point."""
    rnd = random.Random(17)
    for _ in range(80):
        ring = _random_ring(rnd)
        pts = [(x, y) for x, y in ring]
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
            for t in (0.25, 0.5, 1 / 3):
                pts.append((x1 + t * (x2 - x1), y1 + t * (y2 - y1)))  # on the edge (as rounded)
        pts += [(math.nextafter(x, d), y) for x, y in list(pts) for d in (math.inf, -math.inf)]
        pts += [(x, math.nextafter(y, d)) for x, y in list(pts)[:40] for d in (math.inf, -math.inf)]
        pts += [(rnd.uniform(-116, -112), rnd.uniform(49, 53)) for _ in range(300)]
        pts += [(rnd.choice(_adversarial(rnd)[:40]), y) for _, y in pts[:30]]
        lons = np.array([p[0] for p in pts] + [float("nan"), -114.0], dtype=np.float64)
        lats = np.array([p[1] for p in pts] + [51.0, float("nan")], dtype=np.float64)
        want = [point_in_ring(lo, la, ring) for lo, la in pts] + [False, False]
        assert points_in_ring(lons, lats, ring).tolist() == want, ring
        assert any(want) and not all(want)
    got = select._floats([1.5, None, 2])  # a post without the field tests outside (NaN)
    assert got[0] == 1.5 and math.isnan(got[1]) and got[2] == 2.0
