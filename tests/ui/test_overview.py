"""AppTest of the Overview page: what it shows equals what the store holds."""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from tests.ui.conftest import APP
from tests.ui.seed import anomaly_doc, seed


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_numbers_equal_the_store(app_store: Store):
    seed(app_store)
    app_store.db.anomalies.insert_many([anomaly_doc(0), anomaly_doc(1, status="acknowledged")])
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    shown = _metrics(at)
    posts = app_store.db.posts
    assert shown["Total posts"] == f"{posts.count_documents({}):,}" == "121"
    assert shown["Sources"] == str(len(posts.distinct("source")))
    newest = max(d["ts"] for d in posts.find({}, {"ts": 1}))
    end = newest.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    today = posts.count_documents({"ts": {"$gte": end - timedelta(hours=24), "$lt": end}})
    week = posts.count_documents({"ts": {"$gte": end - timedelta(days=8), "$lt": end - timedelta(hours=24)}})
    assert shown["Posts today"] == f"{today:,}"
    assert shown["7-day daily average"] == f"{week / 7:,.0f}"
    assert shown["Active anomalies"] == "1"  # the acknowledged one is not active
    # The archive is anchored on its newest posts, and says so.
    assert any("holds an archive" in c.value for c in at.caption)
    # The latest-posts table shows the newest post first.
    latest = [df for df in (d.value for d in at.dataframe) if "text" in df.columns][0]
    assert latest["text"].iloc[0] == posts.find_one(sort=[("ts", -1)])["text"]


def test_overview_empty_store_explains_what_to_do(app_store: Store):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert _metrics(at)["Total posts"] == "0"
    assert any("store is empty" in i.value for i in at.info)


def test_overview_span_reads_no_sorted_whole_range_of_posts(app_store: Store, monkeypatch):
    """Issue 13: a sorted ``find_one`` over ``posts.ts`` (``ts_range``) walks the whole index on
    SecantusDB (~110 s per end at 1M posts); the archive's span comes from the rollups."""
    from pipelines.store.posts import Posts

    def refuse(self):
        raise AssertionError("ts_range() read the whole ts index")

    seed(app_store)
    monkeypatch.setattr(Posts, "ts_range", refuse)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    oldest = min(d["ts"] for d in app_store.db.posts.find({}, {"ts": 1}))
    since = f"{oldest.replace(minute=0, second=0, microsecond=0):%Y-%m-%d %H:%M} to "
    assert any(c.value.startswith(since) for c in at.caption)
