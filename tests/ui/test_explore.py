"""AppTest of Explore: the count, table and detail equal the store's posts for the filters."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from components.filters import SCORES_OPEN
from pipelines.read.queries import PRESETS
from pipelines.search.filters import Filters
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
    assert (f.since, f.until) == (None, None)  # an archive opens on its whole span (pipelines.read.spans)
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
    # The sliders are drawn only while their expander is open (lazy, like the breakdown).
    assert not any(s.key == "f_threat" for s in at.slider)
    at.session_state[SCORES_OPEN] = True
    at.run()
    at.slider(key="f_threat").set_range(0.5, 1.0).run()
    f = at.session_state["filters"]
    assert f.threat == (0.5, 1.0)
    high = _matching(app_store, f)
    assert high and len(high) < app_store.db.posts.count_documents({})
    assert _shown_ids(at) == [d["_id"] for d in high[:50]]

    # Closed again: no slider is drawn, and the narrowed range still filters and is named.
    at.session_state[SCORES_OPEN] = False
    at.run()
    assert not at.exception and not any(s.key == "f_threat" for s in at.slider)
    assert at.session_state["filters"].threat == (0.5, 1.0)
    assert _shown_ids(at) == [d["_id"] for d in high[:50]]
    assert any("threat" in c.value for c in at.caption if c.value.startswith("Filters:"))

    at.text_input(key="f_query").input("flood AND (").run()
    assert not at.exception
    assert any("Filters not applied" in e.value for e in at.error)
    assert at.session_state["filters"] == f  # the last valid selection stays


def test_explore_breakdowns_timeline_and_relevance_equal_a_recount(app_store: Store):
    from collections import Counter

    seed(app_store)
    at = _explore(app_store)
    at.text_input(key="f_query").input("flood OR calgary").run()
    assert not at.exception
    f = at.session_state["filters"]
    docs = list(app_store.db.posts.find(f.to_mongo()))
    assert docs
    # The breakdown is lazy: nothing of it is read or drawn while its expander is closed.
    assert not any("term" in d.value.columns for d in at.dataframe)
    at.session_state["explore_breakdown"] = True  # open it: the first tab, top terms
    at.run()
    frames = [d.value for d in at.dataframe]
    for tab in ("Sources", "Languages", "Places", "Scores"):  # then each tab draws its own table
        at.session_state["explore_breakdown_tab"] = tab
        at.run()
        assert not at.exception
        frames += [d.value for d in at.dataframe]
    terms = next(t for t in frames if "term" in t.columns)
    want_terms = Counter(t for d in docs for t in set(d.get("terms") or []))
    assert all(want_terms[t] == n for t, n in zip(terms["term"], terms["n"], strict=True))
    assert list(terms["n"]) == sorted(want_terms.values(), reverse=True)[: len(terms)]
    sources = next(t for t in frames if "source" in t.columns and "n" in t.columns)
    assert dict(zip(sources["source"], sources["n"], strict=True)) == dict(Counter(d["source"] for d in docs))
    langs = next(t for t in frames if "lang" in t.columns and "n" in t.columns)
    assert dict(zip(langs["lang"], langs["n"], strict=True)) == dict(
        Counter(d["lang"] for d in docs if d.get("lang"))
    )
    scores = next(t for t in frames if "score" in t.columns)
    threat = [d["scores"]["threat"] for d in docs if "threat" in (d.get("scores") or {})]
    row = scores.set_index("score").loc["threat"]
    assert row["posts"] == len(threat) and abs(row["mean"] - sum(threat) / len(threat)) < 1e-9

    at.radio(key="explore_bucket").set_value("day").run()  # the timeline per day still adds up
    assert not at.exception
    at.radio(key="explore_order").set_value("relevance").run()
    shown = next(d.value for d in at.dataframe if "match" in d.value.columns)
    assert set(shown["id"]) <= {d["_id"] for d in docs} and len(shown) == min(50, len(docs))
    assert any("most relevant first" in c.value for c in at.caption)


def test_a_missing_index_is_explained_and_mongodb_is_untouched(app_store: Store, monkeypatch):
    import os
    import shutil

    import streamlit as st

    from tests.ui import conftest

    seed(app_store)
    before = app_store.db.posts.count_documents({})
    monkeypatch.setattr(conftest, "reindex", lambda store, data_dir: None)  # no indexer running
    shutil.rmtree(os.environ["VIGIL_DATA_DIR"] + "/search-index", ignore_errors=True)
    st.cache_resource.clear()
    at = _explore(app_store)
    assert not at.exception
    assert any("search index" in e.value for e in at.error)
    assert any(c.value == "python -m pipelines index --rebuild" for c in at.code)
    assert app_store.db.posts.count_documents({}) == before
