"""The Map's view and table, and Explore's figures, are cached per selection and index state
(``components.data``): a repeat visit with nothing new reuses them, a new indexed post or a
changed selection is recounted at once (no 30 s of stale figures), and the figures equal a
direct recount."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.core.post import build_post
from pipelines.read import mapview
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer
from pipelines.store import Store
from tests.ui.conftest import reindex
from tests.ui.seed import BASE, seed


@pytest.fixture()
def counted(app_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The seeded, indexed store; how often the Map's two reads really ran."""
    seed(app_store)
    reindex(app_store, tmp_path / "vigil-data")
    calls = {"view": 0, "table": 0}
    view, table = mapview.map_view, mapview.located_posts

    def counting_view(*a, **kw):
        calls["view"] += 1
        return view(*a, **kw)

    def counting_table(*a, **kw):
        calls["table"] += 1
        return table(*a, **kw)

    monkeypatch.setattr(mapview, "map_view", counting_view)
    monkeypatch.setattr(mapview, "located_posts", counting_table)
    return calls


def _located(store: Store, f: Filters) -> int:
    """Direct recount in MongoDB of the located posts of ``f`` (own coordinates or a place)."""
    located = {"$or": [{"geo": {"$exists": True}}, {"scores.places.0": {"$exists": True}}]}
    return store.db.posts.count_documents({"$and": [f.to_mongo(), located]})


def _add_located_post(store: Store, data_dir: Path) -> None:
    """A new post with coordinates, indexed as the running indexer would (change feed)."""
    post = build_post(
        source="alpha",
        native_id="new",
        ts=BASE - timedelta(minutes=7),
        text="new flood report",
        lat=-33.9,
        lon=151.2,
    )
    store.posts.upsert([post.to_doc()])
    indexer = Indexer(store, SearchIndex.open(index_path(data_dir)))
    try:
        assert indexer.catch_up() >= 1
    finally:
        indexer.close()


def test_a_repeat_visit_reuses_the_view_and_a_new_post_is_counted_at_once(
    app_store: Store, counted: dict[str, int], tmp_path: Path
):
    from components import data

    f = Filters()
    first = data.map_view(f)
    n, page = data.located_posts(f, 50)
    assert first.located == n == _located(app_store, f) > 0
    assert page.height == min(n, 50)
    assert counted == {"view": 1, "table": 1}

    again = data.map_view(f)
    assert data.located_posts(f, 50)[0] == n
    assert again.located == first.located
    assert counted == {"view": 1, "table": 1}  # same selection, same index: nothing recounted

    _add_located_post(app_store, tmp_path / "vigil-data")
    after = data.map_view(f)
    n2, page2 = data.located_posts(f, 50)
    assert counted == {"view": 2, "table": 2}  # within the old 30 s TTL, yet recounted
    assert after.located == n2 == n + 1 == _located(app_store, f)
    assert "new flood report" in page2["text"].to_list()  # the newest post heads the table


def test_a_changed_selection_is_never_served_from_another(app_store: Store, counted: dict[str, int]):
    from components import data

    everything, alpha = Filters(), Filters.make(sources=["alpha"])
    assert data.map_view(everything).located == _located(app_store, everything)
    assert data.map_view(alpha).located == _located(app_store, alpha) < _located(app_store, everything)
    n, _ = data.located_posts(alpha, 50)
    second, _ = data.located_posts(alpha, 5, offset=5)  # another page is another key
    assert n == _located(app_store, alpha)
    assert second == n
    assert counted == {"view": 2, "table": 2}


def test_the_state_changes_with_each_commit_and_with_a_watchlist(app_store: Store, tmp_path: Path):
    from components import data

    seed(app_store)
    reindex(app_store, tmp_path / "vigil-data")
    before = data.index_state(Filters())
    assert data.index_state(Filters()) == before  # nothing committed: the same state
    _add_located_post(app_store, tmp_path / "vigil-data")
    assert data.index_state(Filters()) != before


def test_explore_reads_are_reused_until_a_commit_and_then_recounted(
    app_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Count, timeline, table page, top terms, a breakdown, score summaries and Overview's
    newest posts: a repeat run with nothing new asks the index nothing; the first run after a
    commit counts the new post."""
    from components import data
    from pipelines.read import queries

    seed(app_store)
    reindex(app_store, tmp_path / "vigil-data")
    names = (
        "count_matching",
        "timeline",
        "posts_page",
        "top_terms",
        "breakdown",
        "score_summary",
        "score_ranges",
        "latest_posts",
    )
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(queries, name)

        def counting(*a, _real=real, _name=name, **kw):
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(queries, name, counting)

    def read_all(f: Filters) -> tuple[int, int, int, int]:
        n = data.count_matching(f)
        tl = data.timeline(f, "hour")
        page = data.posts_page(f, 0, 50)
        data.top_terms(f, 20)
        data.breakdown(f, "source", 20)
        assert data.score_summary(f).height > 0
        assert 0 < int(data.score_ranges(f, "threat")["n"].sum()) <= n
        assert data.latest_posts().height > 0
        return (
            n,
            int(tl.hourly["n"].sum()),
            page.height,
            int(page["text"].str.contains("new flood report").sum()),
        )

    f = Filters()
    first = read_all(f)
    assert first[0] == app_store.db.posts.count_documents({}) == first[1]
    once = dict(calls)  # (top terms reads through ``breakdown`` too)
    assert all(once.values())
    assert read_all(f) == first
    assert calls == once  # nothing committed: nothing recounted

    _add_located_post(app_store, tmp_path / "vigil-data")
    after = read_all(f)
    assert calls == {k: 2 * v for k, v in once.items()}
    assert after[0] == after[1] == first[0] + 1 == app_store.db.posts.count_documents({})
    assert after[3] == 1  # the new post heads the newest-first page
