"""AppTest: the Explore sidebar's Entities filter selects the posts naming an entity, and
an ``entities=`` link applies it (issue 14)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pipelines.search.filters import Filters
from pipelines.store import Store
from tests.ui.conftest import APP
from tests.ui.seed import seed


def _seed_entities(store: Store) -> set[str]:
    """Give every sixth scored post the org "Red Cross", others a person; returns the Red Cross ids."""
    red = set()
    for i, d in enumerate(store.db.posts.find({"scores": {"$exists": True}}, {"_id": 1}).sort("_id", 1)):
        ents = [{"name": "Nenshi", "type": "person"}]
        if i % 2 == 0:
            ents.append({"name": "Red Cross", "type": "org"})
            red.add(d["_id"])
        store.db.posts.update_one({"_id": d["_id"]}, {"$set": {"scores.entities": ents}})
    return red


def _count(at: AppTest) -> str:
    return {m.label: m.value for m in at.metric}["Matching posts"]


def test_entities_filter_on_explore_and_in_a_link(app_store: Store):
    seed(app_store)
    red = _seed_entities(app_store)
    assert 0 < len(red) < app_store.db.posts.count_documents({})
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/explore.py")
    at.run()
    assert not at.exception
    widget = at.multiselect(key="f_entities")
    assert "org:Red Cross" in widget.options and "person:Nenshi" in widget.options
    widget.set_value(["org:Red Cross"]).run()
    assert not at.exception
    f = at.session_state["filters"]
    assert f.entities == ("org:Red Cross",)
    assert _count(at) == f"{len(red):,}"
    assert {d["_id"] for d in app_store.db.posts.find(f.to_mongo(), {"_id": 1})} == red

    link = AppTest.from_file(APP, default_timeout=60)
    link.switch_page("pages/explore.py")
    link.query_params.update(Filters.make(entities=["org:Red Cross"]).to_params())
    link.run()
    assert not link.exception
    assert link.session_state["filters"].entities == ("org:Red Cross",)
    assert _count(link) == f"{len(red):,}"
