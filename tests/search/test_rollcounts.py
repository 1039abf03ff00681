"""Counts, timelines and the newest page's window from the rollup's post counts equal the
index's own aggregations: after indexing and after re-scoring, with posts lacking a time, a
source, a language or any term; and a wrong window hint never changes a page."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.read import queries
from pipelines.search import aggregate, rollcounts, termroll
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer
from pipelines.store import Store
from tests.search.conftest import START
from tests.search.test_termroll import PLACES, SELECTIONS, _posts

H = timedelta(hours=1)
DAY_AFTER = queries.AUTO_DAY_AFTER
MORE = [
    Filters.make(since=START + 90 * H),  # after the last post: nothing
    Filters.make(since=START + 7 * H, until=START + 8 * H),  # one hour
    Filters.make(since=START + 30 * H, until=START + 71 * H, sources=["reddit"]),  # days cut at both ends
    Filters.make(until=START + 48 * H, langs=["fr"]),  # whole days only
    Filters.make(since=START - 30 * 24 * H, places=["Ca"]),
]


def _insert_varied(store: Store, n: int, prefix: str, seed: int) -> None:
    """``n`` posts, some without a time (counted in all-time selections only), a source (in the
    totals, not in a source's timeline) or any term (still a post). The store's insert wants a
    time and a source, so those are removed afterwards, as an older archive could hold them."""
    posts = _posts(n, prefix, seed)
    for p in posts[2::19]:
        p["terms"], p["text"] = [], ""
    store.posts.insert(posts)
    for field, every in (("ts", posts[::11]), ("source", posts[5::13])):
        store.db.posts.update_many({"_id": {"$in": [p["_id"] for p in every]}}, {"$unset": {field: ""}})


def _by_source(searcher, q, interval: str) -> dict[tuple[int, str], int]:
    agg = {
        "h": {
            "date_histogram": {"field": "ts", "fixed_interval": interval, "min_doc_count": 1},
            "aggs": {"s": {"terms": {"field": "source", "size": 1_000}}},
        }
    }
    out = {}
    for b in searcher.aggregate(q, agg)["h"]["buckets"]:
        for s in b["s"]["buckets"]:
            out[(int(b["key"]) // 3_600_000, str(s["key"]))] = int(s["doc_count"])
    return out


def _assert_equal(index: SearchIndex) -> int:
    """Every rolled figure equals the index's; returns how many pages took the window."""
    searcher, windowed = index.searcher(), 0
    for f in SELECTIONS + MORE:
        q = filters_query(index.schema, f)
        assert rollcounts.post_count(index.path, f) == aggregate.count(searcher, q), f
        for interval in ("1h", "1d"):
            assert rollcounts.histogram(index.path, f, interval) == aggregate.histogram(
                searcher, q, interval
            ), f
            rolled = rollcounts.bucket_counts(index.path, f, interval)
            assert {k: n for k, n in rolled.items() if n and k[1]} == _by_source(searcher, q, interval), f
        for end in (1, 10, 50, 333, 700, 5_000):  # 700: more than a day of posts
            size = min(end, 40)
            want = aggregate.newest_ids(searcher, q, limit=size, offset=end - size)  # the whole selection
            assert rollcounts.newest_ids(searcher, q, index.path, f, size, end - size) == want, (f, end)
            windowed += rollcounts.newest_since(index.path, f, end) is not None
            real = rollcounts.newest_since
            for wrong in (datetime(2030, 1, 1, tzinfo=UTC), START + 70 * H, START - 900 * H):
                rollcounts.newest_since = lambda *_a, wrong=wrong: wrong  # a stale or wrong hint
                try:
                    assert rollcounts.newest_ids(searcher, q, index.path, f, size, end - size) == want, (
                        f,
                        wrong,
                    )
                finally:
                    rollcounts.newest_since = real
    return windowed


def test_rolled_counts_equal_the_index_after_indexing_and_rescoring(store: Store, tmp_path: Path) -> None:
    _insert_varied(store, 1200, "a", 1)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=300)
    indexer.catch_up()
    assert _assert_equal(index) > 20  # the window is taken where it can be
    rnd = random.Random(5)
    changed = rnd.sample(sorted(store.posts.all_ids()), 150)
    first = store.feed.next_seq(len(changed))
    for i, pid in enumerate(changed):  # moved in time, language, source and place
        new = {"seq": first + i, "ts": START + rnd.randint(0, 80) * H, "lang": "de"}
        if i % 2:
            new |= {"source": "rss", "scores.places": [{"name": rnd.choice(PLACES)}]}
        store.db.posts.update_one({"_id": pid}, {"$set": new})
    _insert_varied(store, 200, "b", 2)
    indexer.catch_up()
    assert indexer._rollup_in_step()  # kept by differences, not rebuilt
    _assert_equal(index)
    indexer.rebuild()
    _assert_equal(index)


def test_a_rollup_behind_the_index_answers_nothing(store: Store, tmp_path: Path) -> None:
    _insert_varied(store, 200, "c", 3)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index)
    indexer.catch_up()
    f = Filters.make(sources=["rss"])
    assert rollcounts.post_count(index.path, f) is not None
    indexer.rollup.db.execute("UPDATE state SET v = v - 1 WHERE k = 'opstamp'")  # as after a kill
    assert rollcounts.post_count(index.path, f) is None
    assert rollcounts.bucket_counts(index.path, f, "1h") is None
    assert rollcounts.newest_since(index.path, f, 5) is None
    assert rollcounts.post_count(index.path, Filters.make(query="flood")) is None  # not a plain selection
    assert rollcounts.bucket_counts(index.path, Filters.make(), "15m") is None  # not an hour or a day


def test_pages_take_counts_and_timelines_from_the_rollup(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert_varied(store, 600, "d", 4)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    Indexer(store, index).catch_up()
    reader = queries.Reader(store, index)
    cases = [
        (Filters.make(), "auto"),
        (Filters.make(since=START + 3 * H, sources=["rss", "twitter"]), "hour"),
        (Filters.make(until=START + 50 * H, places=["Calgary"]), "day"),
        (Filters.make(since=START - 40 * 24 * H, langs=["en"]), "auto"),  # more than 31 days: by day
    ]
    rolled = [(queries.timeline(reader, f, b), queries.count_matching(reader, f)) for f, b in cases]
    assert rolled[3][0].bucket == "day" and rolled[0][0].bucket == "hour"
    monkeypatch.setattr(rollcounts, "bucket_counts", lambda *_a, **_k: None)
    monkeypatch.setattr(rollcounts, "post_count", lambda *_a, **_k: None)
    for (f, b), (timeline, n) in zip(cases, rolled, strict=True):
        ref = queries.timeline(reader, f, b)  # the aggregation's answer
        assert timeline.bucket == ref.bucket
        assert timeline.hourly.equals(ref.hourly), f
        assert n == queries.count_matching(reader, f)
        assert timeline.hourly.filter(pl.col("n") > 0).height > 0


def test_the_auto_bucket_is_decided_from_hours_only_when_they_tell() -> None:
    t0 = datetime(2013, 6, 1, tzinfo=UTC)
    hour0 = int(t0.timestamp()) // 3600
    span = int(DAY_AFTER / H)

    def hours(*hs: int) -> dict[tuple[int, str], int]:
        return {(hour0 + h, "rss"): 1 for h in hs}

    assert rollcounts.auto_bucket(Filters.make(), hours(0, span + 2), DAY_AFTER) == "day"
    assert (
        rollcounts.auto_bucket(Filters.make(), hours(0, span + 1), DAY_AFTER) is None
    )  # 31 days and 0-2 hours
    assert rollcounts.auto_bucket(Filters.make(), hours(0, span - 1), DAY_AFTER) == "hour"
    assert (
        rollcounts.auto_bucket(Filters.make(), hours(0, span), DAY_AFTER) is None
    )  # within the hour: ask the index
    assert rollcounts.auto_bucket(Filters.make(), {}, DAY_AFTER) == "hour"
    assert rollcounts.auto_bucket(Filters.make(), None, DAY_AFTER) is None
    assert rollcounts.auto_bucket(Filters.make(since=t0, until=t0 + 40 * 24 * H), None, DAY_AFTER) == "day"


def test_post_counts_ride_in_every_cell() -> None:
    doc = {"id": "x", "ts": START, "source": ["rss"], "lang": ["en"], "places": ["Calgary"], "tid": [3, 1]}
    cells, ids = termroll.post_cells(doc)
    assert ids == {1, 3, termroll.POSTS_ID} and len(cells) == 2
    assert termroll.post_cells({"id": "y"})[1] == {termroll.POSTS_ID}  # a post with nothing is still a post
