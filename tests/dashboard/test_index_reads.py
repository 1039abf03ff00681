"""Every figure of the read side (``pipelines.read.queries``, ``pipelines.read.mapview``) equals a
direct recount of the store's posts for the same filters."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta

import pytest

from pipelines.read import mapview, options, queries
from pipelines.search import areaterms
from pipelines.search.filters import Filters, GeoArea
from pipelines.search.indexer import POSITION_FILE
from pipelines.store import Store, hour_floor
from pipelines.store.posts import IDS_PER_QUERY
from tests.ui.seed import BASE, seed

SELECTIONS = [
    Filters(),
    Filters.make(query="flood OR calgary"),
    Filters.make(sources=["beta"], since=BASE - timedelta(days=2), until=BASE),
    Filters.make(threat=(0.3, 1.0), langs=["en"]),
    Filters.make(area=GeoArea(center=(151.21, -33.87), radius_km=50, by_place=True)),
]
IDS = ["all", "keywords", "source+time", "threat+lang", "area"]


def _docs(store: Store, f: Filters) -> list[dict]:
    return list(store.db.posts.find(f.to_mongo()).sort("ts", -1))


@pytest.mark.parametrize("f", SELECTIONS, ids=IDS)
def test_count_timeline_breakdowns_and_scores_equal_a_recount(store: Store, make_reader, f: Filters):
    seed(store)
    reader = make_reader()
    docs = _docs(store, f)
    assert docs
    assert queries.count_matching(reader, f) == len(docs)
    if f.area is not None:  # counted from the rollup's map cells and the rim's points
        assert areaterms.area_count(reader.index.path, f, reader.index.searcher, reader.index.schema) == len(
            docs
        )

    tl = queries.timeline(reader, f, "hour")
    per_hour = Counter((hour_floor(d["ts"]).astimezone(UTC), d["source"]) for d in docs)
    got = {(r["hour"], r["source"]): r["n"] for r in tl.hourly.iter_rows(named=True) if r["n"]}
    assert got == dict(per_hour)
    day = queries.timeline(reader, f, "day")
    assert day.bucket == "day" and int(day.hourly["n"].sum()) == len(docs)
    assert all(t.hour == 0 for t in day.hourly["hour"])

    for field, values in (
        ("source", [d["source"] for d in docs]),
        ("lang", [d["lang"] for d in docs if d.get("lang")]),
        ("terms", [t for d in docs for t in set(d.get("terms") or [])]),
        ("places", [p["name"] for d in docs for p in (d.get("scores") or {}).get("places") or []]),
    ):
        want = Counter(values)
        got_rows = queries.breakdown(reader, f, field, top=1_000)
        assert dict(zip(got_rows[got_rows.columns[0]], got_rows["n"], strict=True)) == dict(want), field
        top = queries.breakdown(reader, f, field, top=3)
        assert list(top["n"]) == sorted(want.values(), reverse=True)[:3]

    summary = {r["score"]: r for r in queries.score_summary(reader, f).iter_rows(named=True)}
    for name in queries.SCORE_COLUMNS:
        vals = [d["scores"][name] for d in docs if name in (d.get("scores") or {})]
        assert summary[name]["posts"] == len(vals)
        if vals:
            assert summary[name]["mean"] == pytest.approx(sum(vals) / len(vals))
            assert (summary[name]["min"], summary[name]["max"]) == (min(vals), max(vals))
    ranges = queries.score_ranges(reader, f, "threat")
    threats = [d["scores"]["threat"] for d in docs if "threat" in (d.get("scores") or {})]
    assert int(ranges["n"].sum()) == len(threats)
    assert ranges["n"][0] == sum(1 for t in threats if t < 0.2)


def test_pages_newest_first_and_by_relevance(store: Store, make_reader):
    seed(store)
    reader = make_reader()
    f = Filters.make(query="flood OR river")
    want = [d["_id"] for d in _docs(store, f)]
    assert len(want) > 20
    got = []
    for page in range(3):
        got += list(queries.posts_page(reader, f, page, page_size=10)["id"])
    assert got == want[:30]
    relevant = queries.posts_page(reader, f, 0, page_size=len(want), order="relevance")
    assert sorted(relevant["id"]) == sorted(want)
    with pytest.raises(ValueError, match="unknown order"):
        queries.posts_page(reader, f, 0, order="random")


def test_latest_posts_are_the_newest(store: Store, make_reader):
    seed(store)
    reader = make_reader()
    want = [d["ts"] for d in store.db.posts.find({}, {"ts": 1}).sort("ts", -1).limit(50)]
    assert list(queries.latest_posts(reader, 10)["ts"]) == want[:10]
    assert list(queries.latest_posts(reader, 50)["ts"]) == want


def test_map_points_cover_the_whole_selection_and_clusters_add_up(store: Store, make_reader):
    seed(store)
    reader = make_reader()
    located = [d for d in store.db.posts.find({}) if d.get("geo") or (d.get("scores") or {}).get("places")]
    assert len(located) > 5
    view = mapview.map_view(reader, Filters(), limit=10_000)
    assert view.located == len(located) and view.clusters.is_empty()
    assert sorted(view.points["id"]) == sorted(d["_id"] for d in located)
    clustered = mapview.map_view(reader, Filters(), limit=3)  # more than 3: exact clusters
    assert clustered.points.is_empty() and clustered.cell_deg
    assert int(clustered.clusters["n"].sum()) == len(located)
    n, page = mapview.located_posts(reader, Filters(), 4)
    assert n == len(located) and page.height == 4


def test_visible_bounds_select_exactly_the_points_inside(store: Store, make_reader):
    seed(store)
    reader = make_reader()
    bounds = {"_southWest": {"lat": -40, "lng": 140}, "_northEast": {"lat": -30, "lng": 160}}
    area = mapview.bounds_area(bounds)
    assert area is not None
    view = mapview.map_view(reader, Filters(), limit=10_000)
    inside = [
        r["id"]
        for r in view.points.iter_rows(named=True)
        if -40 <= r["lat"] <= -30 and 140 <= r["lon"] <= 160
    ]
    n, page = mapview.located_posts(reader, Filters.make(area=area), 1_000)
    assert inside and n == len(inside) and sorted(page["id"]) == sorted(inside)
    # Within the bounds *and* a sidebar area: the intersection, exactly.
    sydney = GeoArea(center=(151.21, -33.87), radius_km=5, by_place=True)
    n2, page2 = mapview.located_posts(reader, Filters.make(area=sydney), 1_000, within=area)
    both = mapview.located_posts(reader, Filters.make(area=sydney), 1_000)[1]
    assert n2 == len(set(both["id"]) & set(inside)) == page2.height > 0
    assert (
        mapview.bounds_area({"_southWest": {"lat": 0, "lng": -200}, "_northEast": {"lat": 1, "lng": 200}})
        is None
    )


def test_posts_by_ids_in_chunks_returns_every_post_once_newest_first(store: Store):
    docs = seed(store, n=250)
    ids = [d["_id"] for d in docs[:250]]
    asked = ids + ids[:5]  # duplicates across chunks come back once
    got = store.posts.by_ids(asked, {"_id": 1, "ts": 1})
    assert len(ids) > IDS_PER_QUERY
    assert [d["_id"] for d in got] == [
        d["_id"] for d in store.db.posts.find({"_id": {"$in": ids}}, {"_id": 1}).sort("ts", -1)
    ]


def test_place_options_are_the_most_mentioned_of_the_newest_day(store: Store):
    seed(store)
    newest = store.rollups.newest_ingest_hour()
    assert newest is not None
    old = hour_floor(newest - timedelta(days=3))
    rollups = [
        {"_id": "p1", "kind": "place", "hour": newest, "place": "Calgary", "country": "CA", "n": 5},
        {"_id": "p2", "kind": "place", "hour": newest - timedelta(hours=2), "place": "Sydney", "n": 1},
        {"_id": "p3", "kind": "place", "hour": old, "place": "Guatemala City", "n": 9},
    ]
    store.db.rollups.insert_many(rollups)
    assert options.filter_options(store).places == ("Calgary", "Sydney")


def test_map_table_reads_only_new_or_changed_posts(store: Store, make_reader, tmp_path):
    """The table's posts are kept by (id, indexed seq): a rerun reads nothing from MongoDB,
    and a re-scored post (new seq, re-indexed) is read again and shown with its new score."""
    from tests.ui.conftest import reindex

    seed(store)
    reader = make_reader()
    n, first = mapview.located_posts(reader, Filters(), 1_000)
    assert n == first.height > 2 and reader.posts.reads == n
    n2, again = mapview.located_posts(reader, Filters(), 1_000)
    assert n2 == n and again.equals(first) and reader.posts.reads == n  # nothing read again

    pid = first["id"][1]
    seq = store.feed.next_seq(1)
    store.db.posts.update_one({"_id": pid}, {"$set": {"scores.threat": 0.987, "seq": seq}})
    reindex(store, tmp_path / "vigil-data")
    _, changed = mapview.located_posts(reader, Filters(), 1_000)
    assert reader.posts.reads == n + 1  # only the changed post
    assert changed.filter(changed["id"] == pid)["threat"].to_list() == [0.987]
    want = [d["_id"] for d in store.db.posts.find({"_id": {"$in": list(first["id"])}}).sort("ts", -1)]
    assert list(changed["id"]) == want


def test_map_table_pages_are_the_newest_list_cut_in_order(store: Store, make_reader):
    """Pages of the Map's table (offset = page x size) are the newest-first list of every
    located post cut into pieces: none lost, none twice, in order; the count is exact."""
    seed(store)
    reader = make_reader()
    located = [
        d
        for d in store.db.posts.find({}).sort("ts", -1)
        if d.get("geo") or (d.get("scores") or {}).get("places")
    ]
    size = 7
    assert len(located) > 2 * size
    pages = mapview.table_pages(len(located), size)
    assert pages == -(-len(located) // size)
    got: list[str] = []
    for p in range(pages):
        n, page = mapview.located_posts(reader, Filters(), size, offset=p * size)
        assert n == len(located)
        assert page.height == (size if p < pages - 1 else len(located) - size * (pages - 1))
        assert list(page["ts"]) == sorted(page["ts"], reverse=True)
        got += list(page["id"])
    assert sorted(got) == sorted(d["_id"] for d in located) and len(set(got)) == len(got)
    _, past = mapview.located_posts(reader, Filters(), size, offset=pages * size)
    assert past.is_empty()
    assert mapview.table_pages(0) == 1 and mapview.table_pages(10**9) == mapview.TABLE_PAGES


def test_an_area_selection_is_kept_for_its_commit_only(store: Store, make_reader, tmp_path):
    """A drawn area's query is built once per index commit (a page's several figures read the
    rim once) and built anew after a commit: a post moved into the area is then counted, and
    its terms too."""
    from tests.ui.conftest import reindex

    seed(store)
    reader = make_reader()
    f = SELECTIONS[IDS.index("area")]
    inside = _docs(store, f)
    _, first = reader.select(f)
    _, again = reader.select(f)
    assert again is first and reader.selections.hits == 1
    assert queries.count_matching(reader, f) == len(inside)

    moved = store.db.posts.find_one(
        {"_id": {"$nin": [d["_id"] for d in inside]}, "terms.0": {"$exists": True}}
    )
    assert moved is not None
    store.db.posts.update_one(
        {"_id": moved["_id"]},
        {"$set": {"geo": {"type": "Point", "coordinates": [151.2, -33.86]}, "seq": store.feed.next_seq(1)}},
    )
    reindex(store, tmp_path / "vigil-data")
    _, rebuilt = reader.select(f)
    assert rebuilt is not first
    now = _docs(store, f)
    assert len(now) == len(inside) + 1 and queries.count_matching(reader, f) == len(now)
    terms = queries.breakdown(reader, f, "terms", top=1_000)
    want = Counter(t for d in now for t in set(d.get("terms") or []))
    assert dict(zip(terms["term"], terms["n"], strict=True)) == dict(want)


def test_an_area_selected_across_a_commit_is_not_kept(store: Store, make_reader, tmp_path, monkeypatch):
    """A commit landing between the generation's read and the searcher's reload: the query is
    built on that searcher (exact for it) and kept under no generation."""
    from tests.ui.conftest import reindex

    seed(store)
    reader = make_reader()
    f = SELECTIONS[IDS.index("area")]
    moved = store.db.posts.find_one({"_id": {"$nin": [d["_id"] for d in _docs(store, f)]}})
    assert moved is not None
    open_searcher = reader.index.searcher

    def searcher_after_a_commit():
        store.db.posts.update_one(
            {"_id": moved["_id"]},
            {
                "$set": {
                    "geo": {"type": "Point", "coordinates": [151.2, -33.86]},
                    "seq": store.feed.next_seq(1),
                }
            },
        )
        reindex(store, tmp_path / "vigil-data")
        monkeypatch.setattr(reader.index, "searcher", open_searcher)
        return open_searcher()

    monkeypatch.setattr(reader.index, "searcher", searcher_after_a_commit)
    searcher, query = reader.select(f)
    assert searcher.search(query, limit=1, count=True).count == len(_docs(store, f))
    assert (reader.selections.hits, reader.selections.misses) == (0, 0) and not reader.selections._items
    _, again = reader.select(f)
    assert again is not query and reader.selections.misses == 1


def test_filter_options_from_the_index_equal_a_recount_and_the_rollups(store: Store, make_reader):
    """With the index open the sidebar's places and languages come from it (issue 13: the
    rollup reads were 0.6 s of a cold page at 1M posts); they name what the posts name."""
    docs = seed(store)
    newest = store.rollups.newest_ingest_hour()
    assert newest is not None
    old = next(d for d in docs if d["ts"] < newest - timedelta(days=2))  # named before the day only
    for d, name in zip([*docs[:2], old], ("Sydney", "High River", "Guatemala City"), strict=True):
        place = {"name": name, "lat": 0.0, "lon": 0.0, "country": "XX"}
        store.db.posts.update_one(
            {"_id": d["_id"]}, {"$set": {"scores.language": "en", "scores.places": [place]}}
        )
    reader = make_reader()
    until = newest + timedelta(hours=1)
    since = until - options.PLACE_OPTIONS_SPAN
    day = store.db.posts.find({"ts": {"$gte": since, "$lt": until}}, {"scores": 1})
    named = {p["name"] for d in day for p in ((d.get("scores") or {}).get("places") or [])}
    got, fallback = options.filter_options(store, reader), options.filter_options(store)
    assert len(named) >= 3 and got.places == tuple(sorted(named)) and "Guatemala City" not in named
    assert set(fallback.langs) <= set(got.langs) and {"en", "es"} <= set(got.langs)
    assert got.sources == fallback.sources == ("alpha", "beta", "gamma")
    # While the index is rebuilt (its position removed first) or far behind, the rollups answer.
    (reader.index.path / POSITION_FILE).unlink()
    assert got != fallback and options.filter_options(store, reader) == fallback
