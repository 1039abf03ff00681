"""Per-source totals kept at write time (issue 13): always the sum of the hourly ingest rollups.

Overview's total, the source lists and the oldest/newest hour of data read one document
per source instead of every hourly counter, so these tests write through every writer
(posts upsert, insert, insert_new, a ready-made rollup insert, the recount) and compare
the totals with a ``$group`` over the hourly documents, which is what the readers did before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from pipelines.core.post import build_post
from pipelines.read import options, queries, spans
from pipelines.read.health import source_health
from pipelines.store import Store
from pipelines.store import rollup_days as RD
from pipelines.store import rollup_totals as RT

T0 = datetime(2013, 10, 14, 20, 0, tzinfo=UTC)


def _posts(n: int, seed: int, sources: tuple[str, ...] = ("bbc", "reddit", "mastodon")) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        build_post(
            source=str(rng.choice(list(sources))),
            native_id=f"{seed}-{i}",
            ts=T0 + timedelta(minutes=int(rng.integers(-60 * 24 * 9, 60 * 40))),
            text=f"post {i} about the quake",
        ).to_doc()
        for i in range(n)
    ]


def _from_hourly(store: Store) -> dict[str, tuple[int, datetime, datetime]]:
    """The reference: a $group over the hourly ingest documents."""
    rows = store.db.rollups.aggregate(
        [
            {"$match": {"kind": "ingest"}},
            {
                "$group": {
                    "_id": "$source",
                    "n": {"$sum": "$n"},
                    "a": {"$min": "$hour"},
                    "b": {"$max": "$hour"},
                }
            },
        ]
    )
    return {r["_id"]: (r["n"], RT.utc(r["a"]), RT.utc(r["b"])) for r in rows}


def _totals(store: Store) -> dict[str, tuple[int, datetime, datetime]]:
    return {t["source"]: (t["n"], t["first"], t["last"]) for t in store.rollups.totals()}


def test_totals_follow_every_writer(store: Store):
    assert store.rollups.totals_ready()  # a fresh store keeps them from the start
    assert store.rollups.totals() == [] and store.rollups.newest_ingest_hour() is None
    store.posts.upsert(_posts(150, 1))
    store.posts.upsert(_posts(150, 1))  # the same posts again: nothing new, nothing counted
    store.posts.insert(_posts(90, 2, ("bbc", "telegram")))
    store.posts.insert_new(_posts(60, 3, ("hn",)))
    late = _posts(5, 4, ("bbc",))
    for i, p in enumerate(late):  # a new newest and a new oldest hour for one source
        p["ts"] = T0 + timedelta(days=40 if i % 2 else -40, minutes=i)
    store.posts.upsert(late)
    want = _from_hourly(store)
    assert set(want) == {"bbc", "reddit", "mastodon", "telegram", "hn"}
    assert sum(n for n, _, _ in want.values()) == store.db.posts.count_documents({}) == 305
    assert _totals(store) == want
    # Ready-made hourly documents (benchmarks, repairs) are added to the totals too.
    extra = [
        {"_id": f"ingest|{(T0 + timedelta(hours=h)).isoformat()}|rss", "kind": "ingest",
         "hour": T0 + timedelta(hours=h), "source": "rss", "n": 3 + h}
        for h in range(5)
    ]  # fmt: skip
    store.rollups.insert(extra)
    assert _totals(store) == _from_hourly(store) and _totals(store)["rss"][0] == 25
    # The recount from posts rebuilds them (the rss documents had no posts: gone).
    store.rollups.rebuild_ingest()
    assert _totals(store) == _from_hourly(store) and "rss" not in _totals(store)


def test_readers_answer_from_the_totals_as_the_hourly_rollups_did(store: Store):
    store.posts.upsert(_posts(200, 5))
    hourly = _from_hourly(store)
    newest = max(b for _, _, b in hourly.values())
    assert store.rollups.newest_ingest_hour() == newest
    assert store.rollups.sources() == sorted(hourly)
    assert options.filter_options(store).sources == tuple(sorted(hourly))
    assert set(source_health(store, now=T0 + timedelta(days=400))["source"]) == set(hourly)
    clock = queries.data_clock(store, now=T0 + timedelta(days=400))
    assert clock.archive and spans.oldest_hour(store, clock) == min(a for _, a, _ in hourly.values())
    # Overview's figures equal a recount of the posts.
    window = queries.TimeWindow.last_days_of_data(store, 7)
    o = queries.overview(store, window)
    ts = [d["ts"].replace(tzinfo=UTC) for d in store.db.posts.find({}, {"ts": 1})]
    day = window.until - timedelta(hours=24)
    assert o.total_posts == len(ts) and o.sources == len(hourly)
    assert o.posts_in_window == sum(window.since <= t < window.until for t in ts)
    assert o.posts_today == sum(day <= t < window.until for t in ts) > 0
    assert o.daily_average * 7 == sum(day - timedelta(days=7) <= t < day for t in ts) > 0
    # The hourly counts of a window cut mid-day on both ends, from the day documents.
    lo, hi = T0 - timedelta(days=2, hours=5), T0 + timedelta(hours=7)
    got = sorted((r["hour"], r["source"], r["n"]) for r in store.rollups.ingest_hours(lo, hi))
    want = sorted((RT.utc(r["hour"]), r["source"], r["n"]) for r in store.rollups.ingest(lo, hi))
    assert got == want and len(got) > 10
    hours = queries.posts_per_hour(store, window)
    assert hours["n"].sum() == o.posts_in_window and hours.height == 7 * 24 * len(hourly)
    # A store from before the day documents (no marker): the same rows from the hourly read.
    store.db.meta.delete_one({"_id": RD.DAYS_META})
    assert sorted((r["hour"], r["source"], r["n"]) for r in store.rollups.ingest_hours(lo, hi)) == want


def test_an_archive_longer_than_the_span_starts_at_its_last_400_days(store: Store):
    posts = _posts(40, 6)
    posts[0]["ts"] = T0 - spans.MAX_SPAN - timedelta(days=30)  # one post long before the rest
    store.posts.upsert(posts)
    clock = queries.data_clock(store, now=T0 + timedelta(days=400))
    rest = min(RT.utc(d["ts"]) for d in posts[1:]).replace(minute=0, second=0, microsecond=0)
    assert spans.oldest_hour(store, clock) == rest


def test_a_store_from_before_the_totals_is_recounted_on_the_first_read(store: Store):
    store.posts.upsert(_posts(120, 7))
    # The previous version wrote no totals and no marker.
    store.db.rollups.delete_many({"kind": "total"})
    store.db.meta.delete_one({"_id": RT.TOTALS_META})
    assert not store.rollups.totals_ready()
    assert _totals(store) == _from_hourly(store)
    assert store.rollups.totals_ready()
    store.posts.upsert(_posts(30, 8))  # later writes keep them in step
    assert _totals(store) == _from_hourly(store)


def test_the_recount_is_exact_when_posts_arrive_during_it(store: Store, monkeypatch):
    """A writer commits between the recount's read and its writes: the recount's
    transaction conflicts and runs again, so no post is lost from the totals."""
    store.posts.upsert(_posts(100, 9))
    # An upgraded store: the new writers started totals mid-history (too small), no marker.
    store.db.rollups.update_many({"kind": "total"}, {"$set": {"n": 1}})
    store.db.meta.delete_one({"_id": RT.TOTALS_META})
    other = Store(store.uri, store.db.name)
    late = _posts(50, 10)
    calls = []
    real = RT.from_hourly

    def read_then_race(docs):
        out = real(docs)
        calls.append(1)
        if len(calls) == 1:  # after the first read: another process imports posts
            other.posts.upsert(late)
        return out

    monkeypatch.setattr(RT, "from_hourly", read_then_race)
    try:
        store.rollups.rebuild_totals()
    finally:
        other.client.close()
    assert len(calls) == 2  # the conflict made it read again
    assert _totals(store) == _from_hourly(store)
    assert sum(n for n, _, _ in _totals(store).values()) == 150
