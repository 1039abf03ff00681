"""The bounded, index-friendly reads select exactly what the filters select."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines import queries, scan
from pipelines.filters import Filters
from pipelines.store import Store
from tests.ui.seed import BASE, seed

CASES = [
    Filters(),
    Filters.make(query='flood -calgary OR "state of emergency"'),
    Filters.make(sources=["alpha", "gamma"], langs=["es"]),
    Filters.make(threat=(0.2, 0.9), hate=(0.1, 0.5), since=BASE - timedelta(days=3)),
    Filters.make(places=["Calgary"], query="evacuat*"),
]


@pytest.mark.parametrize("f", CASES)
def test_split_query_selects_the_same_posts(store: Store, f: Filters):
    seed(store)
    index, residual = scan.split_query(f.to_mongo())
    assert not any(k.startswith("$") for k in index)
    whole = {d["_id"] for d in store.db.posts.find(f.to_mongo(), {"_id": 1})}
    split = {d["_id"] for d in store.find_posts_in(index, residual, limit=10_000)}
    assert split == whole


def test_windows_cover_the_range_newest_first(store: Store):
    seed(store)
    f = Filters.make(since=BASE - timedelta(days=4), until=BASE + timedelta(hours=1))
    wins = scan.windows(store, f, chunk=10)
    assert wins[0].until == f.until and wins[-1].since == f.since
    assert all(a.since == b.until for a, b in zip(wins, wins[1:], strict=False))
    assert sum(w.posts for w in wins) == store.db.posts.count_documents(f.to_mongo())


@pytest.mark.parametrize("f", CASES)
def test_pages_counts_and_timelines_equal_mongo(store: Store, f: Filters):
    seed(store)
    want = [d["_id"] for d in store.db.posts.find(f.to_mongo(), {"_id": 1}).sort([("ts", -1)])]
    page = queries.posts_page(store, f, 0, page_size=20)
    assert list(page.posts["id"]) == want[:20]
    count = queries.count_matching(store, f, budget=10**9)
    assert count.complete and count.n == len(want)


def test_a_small_budget_stops_early_and_says_how_far(store: Store, monkeypatch):
    seed(store)
    small = scan.windows
    monkeypatch.setattr(scan, "windows", lambda st, f, chunk=10: small(st, f, chunk))
    f = Filters.make(query="flood")
    full = queries.count_matching(store, f, budget=10**9)
    part = queries.timeline(store, f, budget=1)
    assert not part.reach.complete and part.reach.since is not None
    assert 0 < int(part.hourly["n"].sum()) < full.n
    assert part.hourly["hour"].min() >= part.reach.since
