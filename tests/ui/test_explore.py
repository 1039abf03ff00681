"""AppTest of Explore: the count, table and detail equal the store's posts for the filters."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pipelines.filters import Filters
from pipelines.queries import PRESETS
from pipelines.store import Store
from tests.ui.conftest import APP
from tests.ui.seed import seed


def _explore(store: Store) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/explore.py")
    return at.run()


def _matching(store: Store, filters: Filters) -> list[dict]:
    return list(store.db.posts.find(filters.to_mongo(), {"_id": 1, "ts": 1}).sort("ts", -1))


def _shown_ids(at: AppTest) -> list[str]:
    table = next(d.value for d in at.dataframe if "match" in d.value.columns)
    return list(table["id"])


def test_explore_shows_what_the_filters_select_and_follows_a_keyword(app_store: Store):
    seed(app_store)
    at = _explore(app_store)
    assert not at.exception
    assert "Last 7 days" in PRESETS
    f = at.session_state["filters"]
    assert (f.since, f.until) == (None, None)  # an archive opens on its whole span (pipelines.spans)
    everything = _matching(app_store, f)
    assert {m.label: m.value for m in at.metric}["Matching posts"] == f"{len(everything):,}"
    assert _shown_ids(at) == [d["_id"] for d in everything[:50]]

    at.text_input(key="f_query").input('flood OR "state of emergency"').run()
    assert not at.exception
    f2 = at.session_state["filters"]
    assert f2.query == 'flood OR "state of emergency"'
    flood = _matching(app_store, f2)
    assert 0 < len(flood) < len(everything)
    assert {m.label: m.value for m in at.metric}["Matching posts"] == f"{len(flood):,}"
    assert _shown_ids(at) == [d["_id"] for d in flood[:50]]
    table = next(d.value for d in at.dataframe if "match" in d.value.columns)
    assert all("«" in m for m in table["match"])  # every row shows its match

    at.multiselect(key="f_sources").set_value(["beta"]).run()
    f3 = at.session_state["filters"]
    beta = _matching(app_store, f3)
    assert beta and all(i.startswith("beta:") for i in _shown_ids(at))
    assert _shown_ids(at) == [d["_id"] for d in beta[:50]]


def test_explore_score_range_and_a_bad_query(app_store: Store):
    seed(app_store)
    at = _explore(app_store)
    at.slider(key="f_threat").set_range(0.5, 1.0).run()
    f = at.session_state["filters"]
    assert f.threat == (0.5, 1.0)
    high = _matching(app_store, f)
    assert high and len(high) < app_store.db.posts.count_documents({})
    assert _shown_ids(at) == [d["_id"] for d in high[:50]]

    at.text_input(key="f_query").input("flood AND (").run()
    assert not at.exception
    assert any("Filters not applied" in e.value for e in at.error)
    assert at.session_state["filters"] == f  # the last valid selection stays
