"""AppTest of the Overview page: what it shows equals what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest

from pipelines.models import build_post
from pipelines.store import Store
from tests.ui.conftest import APP


def _seed(store: Store) -> None:
    base = datetime(2013, 6, 20, tzinfo=UTC)
    docs = [
        build_post(
            source=src, native_id=str(i), ts=base + timedelta(minutes=37 * i), text=f"flood update {i}"
        ).to_doc()
        for src, n in (("alpha", 30), ("beta", 12))
        for i in range(n)
    ]
    # One old post outside the 7-day window before the newest post.
    docs.append(build_post(source="beta", native_id="old", ts=base - timedelta(days=30), text="old").to_doc())
    store.upsert_posts(docs)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_numbers_equal_the_store(app_store: Store):
    _seed(app_store)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    shown = _metrics(at)
    assert shown["Total posts"] == f"{app_store.db.posts.count_documents({}):,}" == "43"
    assert shown["Sources"] == str(len(app_store.db.posts.distinct("source")))
    newest = app_store.ts_range()[1]
    in_window = app_store.db.posts.count_documents(
        {
            "ts": {
                "$gte": newest.replace(minute=0, second=0, microsecond=0)
                - timedelta(days=7)
                + timedelta(hours=1)
            }
        }
    )
    assert shown["Posts in the last 7 days of data"] == f"{in_window:,}" == "42"
    # The latest-posts table shows the newest post first.
    table = at.dataframe[0].value
    assert table["text"].iloc[0] == app_store.latest_posts(1)[0]["text"]


def test_overview_empty_store_explains_what_to_do(app_store: Store):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert _metrics(at)["Total posts"] == "0"
    assert any("store is empty" in i.value for i in at.info)
