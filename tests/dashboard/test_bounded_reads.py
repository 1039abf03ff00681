"""Reads kept cheap for a large store give the same answers as the plain queries."""

from __future__ import annotations

from datetime import timedelta

from pipelines import queries
from pipelines import store as store_module
from pipelines.filters import Filters
from pipelines.store import Store, hour_floor
from tests.ui.seed import BASE, seed


def test_posts_by_ids_in_chunks_returns_every_post_once_newest_first(store: Store):
    docs = seed(store, n=250)
    ids = [d["_id"] for d in docs[:250]]
    asked = ids + ids[:5]  # duplicates across chunks come back once
    got = store.posts_by_ids(asked, {"_id": 1, "ts": 1})
    assert len(ids) > store_module.IDS_PER_QUERY
    assert [d["_id"] for d in got] == [
        d["_id"] for d in store.db.posts.find({"_id": {"$in": ids}}, {"_id": 1}).sort("ts", -1)
    ]


def test_top_terms_count_posts_per_term(store: Store):
    seed(store)
    f = Filters.make(since=BASE - timedelta(days=2), until=BASE + timedelta(hours=1))
    want: dict[str, int] = {}
    for d in store.db.posts.find(f.to_mongo(), {"terms": 1}):
        for t in d.get("terms") or []:
            want[t] = want.get(t, 0) + 1
    top = queries.top_terms(store, f, top=5, budget=10**9)
    best = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert list(zip(top["term"], top["n"], strict=True)) == best


def test_latest_posts_are_the_newest_whether_or_not_the_last_day_holds_enough(store: Store):
    seed(store)  # a post every 53 minutes: the newest day holds 27, not 50
    want = [d["ts"] for d in store.db.posts.find({}, {"ts": 1}).sort("ts", -1).limit(50)]
    assert list(queries.latest_posts(store, 10)["ts"]) == want[:10]  # from the newest day
    assert list(queries.latest_posts(store, 50)["ts"]) == want  # beyond it


def test_place_options_are_the_most_mentioned_of_the_newest_day(store: Store):
    seed(store)
    newest = store.newest_ingest_hour()
    assert newest is not None
    old = hour_floor(newest - timedelta(days=3))
    rollups = [
        {"_id": "p1", "kind": "place", "hour": newest, "place": "Calgary", "country": "CA", "n": 5},
        {"_id": "p2", "kind": "place", "hour": newest - timedelta(hours=2), "place": "Sydney", "n": 1},
        {"_id": "p3", "kind": "place", "hour": old, "place": "Guatemala City", "n": 9},
    ]
    store.db.rollups.insert_many(rollups)
    assert queries.filter_options(store).places == ("Calgary", "Sydney")
