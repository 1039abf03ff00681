"""AppTest of the Anomalies page's incidents: titles, ranking, drill-down link, verdicts."""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from pipelines.core.escape import markdown_text
from pipelines.detect.service import DetectorService
from pipelines.store import Store
from tests.detect.test_incidents import BOHOL, T, anomaly
from tests.ui.conftest import APP, login


def _seed(store: Store) -> list[dict]:
    """Three events' anomalies (one of them minor) grouped by the detector's own rebuild."""
    docs = [
        anomaly("all|count", **BOHOL, posts=("p1",)),
        anomaly("place:Bohol|count", T + timedelta(hours=1), 3, observed=500, expected=3, **BOHOL),
        anomaly(
            "all|count",
            T + timedelta(days=3),
            observed=300,
            expected=40,
            severity=0.9,
            terms=("smoke", "#nswfires"),
            places=("Sydney",),
        ),
        anomaly(
            "lang:it|count",
            T + timedelta(days=6),
            observed=12,
            expected=2,
            severity=0.99,
            terms=("olbia", "#allertameteosar"),
        ),
    ]
    for d in docs:
        d["evidence"]["posts"] = []
    store.db.anomalies.insert_many(docs)
    DetectorService(store).rebuild_incidents(T - timedelta(days=1), T + timedelta(days=8))
    return docs


def _page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/anomalies.py")
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def test_incidents_are_listed_titled_and_ranked_by_impact(app_store: Store) -> None:
    _seed(app_store)
    at = _page()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    titles = list(table["title"])
    assert len(titles) == 2  # the minor one (12 posts) is hidden by default
    assert titles[0].startswith(
        "Surge: #prayforbohol, earthquake, Bohol — 1,240 posts vs 31 expected, 15 Oct 2013"
    )
    assert titles[1].startswith("Surge: smoke, #nswfires, Sydney — 300 posts vs 40 expected")
    assert list(table["rank"]) == [1, 2] and list(table["series"]) == [2, 1]
    at.toggle(key="inc_minor").set_value(True).run()
    titles = list(at.dataframe[0].value["title"])
    assert len(titles) == 3 and titles[2].startswith(
        "Surge: olbia, #allertameteosar — 12 posts vs 2 expected"
    )


def test_an_incident_link_opens_its_drilldown_and_a_verdict_is_stored(app_store: Store) -> None:
    _seed(app_store)
    inc = min(app_store.incidents.find(), key=lambda i: i["start"])
    at = _page({"incident": inc["_id"]})
    assert not at.exception, at.exception
    assert at.selectbox(key="inc_pick").value == inc["_id"]
    assert any(markdown_text(inc["title"]) in m.value for m in at.markdown)
    assert any("1,240 posts in this window against 31 expected" in m.value for m in at.markdown)
    at.button(key="inc_false_positive").click().run()
    assert any("needs a note" in e.value for e in at.error)
    assert app_store.incidents.get(inc["_id"])["status"] == "open"
    at.text_input(key=f"inc_note_{inc['_id']}").input("a test feed").run()
    at.button(key="inc_false_positive").click().run()
    assert not at.exception, at.exception
    doc = app_store.incidents.get(inc["_id"])
    assert doc["status"] == "false_positive" and doc["verdicts"][0]["by"] == "test-admin"
    assert any("damped 1 step" in c.value for c in at.caption)


def test_a_viewer_sees_incidents_but_cannot_give_verdicts(app_store: Store) -> None:
    _seed(app_store)
    inc = min(app_store.incidents.find(), key=lambda i: i["start"])
    at = AppTest.from_file(APP, default_timeout=90)
    login(at, app_store, "viewer")
    at.switch_page("pages/anomalies.py")
    at.query_params["incident"] = inc["_id"]
    at.run()
    assert not at.exception, at.exception
    assert at.button(key="inc_useful").disabled


def test_overview_shows_an_archive_whole_with_its_incidents_shaded(app_store: Store) -> None:
    from tests.ui.seed import BASE, seed

    seed(app_store)  # 120 posts over 5 days before 20 Jun 2013, one 60 days older: an archive
    old = BASE - timedelta(days=40)  # the incidents of _seed moved into the archive's span
    docs = _seed(app_store)
    app_store.db.incidents.delete_many({})
    for d in docs:
        app_store.db.anomalies.update_one(
            {"_id": d["_id"]}, {"$set": {"start": d["start"] - (T - old), "end": d["end"] - (T - old)}}
        )
    DetectorService(app_store).rebuild_incidents(old - timedelta(days=1), old + timedelta(days=8))
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    assert any("the whole archive" in s.value for s in at.subheader)
    first, _ = app_store.posts.ts_range()
    assert any(
        f"{first:%Y-%m-%d %H}:00 to " in c.value and "2 incidents in this period" in c.value
        for c in at.caption
    )
