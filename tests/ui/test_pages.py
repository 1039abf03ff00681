"""AppTests of Map, Anomalies, Sources and Export against the store's contents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from tests.ui.conftest import APP
from tests.ui.seed import anomaly_doc, seed


def _page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page(f"pages/{name}.py")
    return at.run()


def _located(f) -> dict:
    """The MongoDB filter of the Map's located posts for the sidebar's selection ``f``."""
    return {
        "$and": [f.to_mongo(), {"$or": [{"geo": {"$exists": True}}, {"scores.places.0": {"$exists": True}}]}]
    }


def test_map_lists_the_located_posts_of_the_filters(app_store: Store):
    seed(app_store)
    at = _page("map")
    assert not at.exception, at.exception
    f = at.session_state["filters"]
    located = _located(f)
    expected = {d["_id"] for d in app_store.db.posts.find(located, {"_id": 1})}
    assert expected
    assert any(f"{len(expected):,} located posts" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert len(table) == len(expected)

    at.multiselect(key="f_sources").set_value(["alpha"]).run()
    f2 = at.session_state["filters"]
    located["$and"][0] = f2.to_mongo()
    alpha = app_store.db.posts.count_documents(located)
    assert 0 < alpha < len(expected)
    assert len(at.dataframe[0].value) == alpha
    assert set(at.dataframe[0].value["source"]) == {"alpha"}


def test_map_draws_exact_clusters_when_the_selection_is_large(app_store: Store, monkeypatch):
    from pipelines.read import mapview

    monkeypatch.setattr(mapview, "MAP_POINTS_LIMIT", 5)  # the seed's located posts are more
    seed(app_store)
    at = _page("map")
    assert not at.exception, at.exception
    f = at.session_state["filters"]
    located = _located(f)
    n = app_store.db.posts.count_documents(located)
    assert n > 5
    assert any(f"{n:,} located posts, drawn as" in c.value and "clusters" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == n  # the table still lists them (up to 1,000)


def test_map_table_page_control_turns_pages_and_the_total_is_exact(app_store: Store, monkeypatch):
    """The table shows one page of the newest located posts; the page control shows the next
    ones; every located post is on exactly one page; the total above is the exact count."""
    from pipelines.read import mapview

    monkeypatch.setattr(mapview, "TABLE_PAGE", 4)  # the seed's located posts fill several pages
    seed(app_store)
    at = _page("map")
    assert not at.exception, at.exception
    f = at.session_state["filters"]
    located = _located(f)
    newest = [d["_id"] for d in app_store.db.posts.find(located, {"_id": 1}).sort("ts", -1)]
    n = len(newest)
    pages = -(-n // 4)
    assert pages >= 3
    assert any(h.value.startswith(f"{n:,} posts in ") for h in at.subheader)
    assert any(f"Posts 1 to 4 of {n:,}, newest first (page 1 of {pages:,})" in c.value for c in at.caption)
    seen: list[str] = []
    for page in range(1, pages + 1):
        if page > 1:
            at.number_input(key="map_page").set_value(page).run()
            assert not at.exception, at.exception
        rows = list(at.dataframe[0].value["url"])
        assert len(rows) == (4 if page < pages else n - 4 * (pages - 1))
        assert any(f"of {n:,}, newest first (page {page} of {pages:,})" in c.value for c in at.caption)
        seen += rows
    urls = {d["_id"]: d.get("url") for d in app_store.db.posts.find({"_id": {"$in": newest}}, {"url": 1})}
    assert sorted(seen) == sorted(urls[i] for i in newest) and len(set(seen)) == n  # each post once
    # A new selection starts again at its newest posts.
    at.multiselect(key="f_sources").set_value(["alpha"]).run()
    assert not at.exception, at.exception
    assert at.number_input(key="map_page").value == 1


def test_anomalies_list_equals_the_collection_and_filters_by_status(app_store: Store):
    seed(app_store)
    app_store.db.anomalies.insert_many(
        [anomaly_doc(0), anomaly_doc(1), anomaly_doc(2, status="false_positive"), anomaly_doc(3)]
    )
    at = _page("anomalies")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["id"]) == {"an0", "an1", "an3"}  # open + acknowledged by default
    assert list(table["severity"]) == sorted(table["severity"], reverse=True)
    at.multiselect(key="anom_status").set_value(["false_positive"]).run()
    assert list(at.dataframe[0].value["id"]) == ["an2"]


def test_alert_link_opens_that_anomalys_drilldown(app_store: Store):
    seed(app_store)
    app_store.db.anomalies.insert_many([anomaly_doc(0), anomaly_doc(1)])
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/anomalies.py")
    at.query_params["anomaly"] = "an1"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="anom_pick").value == "an1"
    at.query_params["anomaly"] = "no-such-anomaly"
    at.run()
    assert not at.exception, at.exception


def test_anomaly_drilldown_shows_the_document_and_stores_a_verdict(app_store: Store):
    seed(app_store)
    ctx = [
        {
            "time": anomaly_doc(0)["start"] + timedelta(hours=h),
            "value": 3.0 + h,
            "expected": 2.0,
            "lo": 1.0,
            "hi": 3.0,
            "mp": 0.1 * h,
        }
        for h in range(6)
    ]
    app_store.db.anomalies.insert_many([anomaly_doc(0, context=ctx), anomaly_doc(1)])
    at = _page("anomalies")
    at.selectbox(key="anom_pick").set_value("an0").run()
    assert not at.exception, at.exception
    assert any("source\\:alpha" in s.value for s in at.subheader)  # escaped Markdown of "source:alpha"
    shown = {m.label: m.value for m in at.metric}
    assert shown["Severity"] == "0.50" and shown["Observed (peak)"] == "40.0" and shown["Status"] == "open"
    assert any("stored by the detector" in c.value for c in at.caption)  # the band chart's legend
    evidence = [d.value for d in at.dataframe]
    assert any("flood" in list(df.get("term", [])) for df in evidence)
    assert any(set(df.get("id", [])) == {"alpha:0", "alpha:3"} for df in evidence if "id" in df)
    at.text_input(key="anom_note_an0").input("known test feed")
    next(b for b in at.button if b.label == "False positive").click().run()
    doc = app_store.db.anomalies.find_one({"_id": "an0"})
    assert doc["status"] == "false_positive" and doc["history"][-1]["note"] == "known test feed"
    assert doc["status_by"] == "test-admin"


def test_sources_health_and_the_validated_add_form(app_store: Store):
    seed(app_store)
    now = datetime.now(UTC)
    app_store.sources.upsert(
        {
            "name": "bbc-world",
            "kind": "rss",
            "url": "https://example.org/rss",
            "enabled": True,
            "interval_s": 900,
        }
    )
    app_store.db.crawl_runs.insert_many(
        [
            {
                "_id": "r1",
                "source": "bbc-world",
                "started": now - timedelta(hours=2),
                "status": "error",
                "items": 0,
                "error_count": 3,
                "error": "HTTP 503",
            },
            {
                "_id": "r2",
                "source": "bbc-world",
                "started": now - timedelta(minutes=5),
                "status": "ok",
                "items": 12,
                "inserted": 10,
                "error_count": 0,
            },
        ]
    )
    at = _page("sources")
    assert not at.exception, at.exception
    health = at.dataframe[0].value.set_index("source")
    assert health.loc["bbc-world", "health"] == "healthy"
    assert health.loc["bbc-world", "last_items"] == 12
    assert health.loc["bbc-world", "runs_7d"] == 2 and health.loc["bbc-world", "errors_7d"] == 3
    assert health.loc["alpha", "health"] == "archive"  # imported posts, no definition

    form_name = next(t for t in at.text_input if t.label == "Name")
    form_name.input("Bad Name!")
    next(b for b in at.button if b.label == "Add source").click().run()
    assert any("name must be" in e.value for e in at.error)
    assert app_store.sources.get("Bad Name!") is None
    next(t for t in at.text_input if t.label == "Name").input("hn-new")
    next(s for s in at.selectbox if s.label == "Kind").set_value("hackernews")
    next(b for b in at.button if b.label == "Add source").click().run()
    assert not at.error
    assert app_store.sources.get("hn-new")["kind"] == "hackernews"


def test_export_page_prepares_exactly_the_selection(app_store: Store):
    seed(app_store)
    at = _page("export")
    assert not at.exception, at.exception
    at.text_input(key="f_query").input("calgary").run()
    f = at.session_state["filters"]
    n = app_store.db.posts.count_documents(f.to_mongo())
    assert n > 0
    next(b for b in at.button if b.label == "Prepare the file").click().run()
    assert not at.exception, at.exception
    payload, name, _, rows = at.session_state["export_file"]
    assert name == "vigil-export.csv" and rows == n
    assert payload.decode().count("\n") == n + 1
