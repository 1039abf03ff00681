"""Filters in links: every filter survives a URL, the Map's area is a sidebar filter that
Explore and Export honour, Explore follows ``watchlist=``, and "open in Explore" from an
anomaly carries its filters through the address."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipelines.core.post import build_post
from pipelines.read import triage
from pipelines.scoring.thresholds import high_thresholds
from pipelines.search import QuerySyntaxError, areas
from pipelines.search.filters import FilterError, Filters, GeoArea
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store
from tests.ui.conftest import APP
from tests.ui.seed import BASE, anomaly_doc, seed

# Around Calgary and High River (the seed's Alberta posts), as drawn on the Map.
ALBERTA = GeoArea(
    ring=((-115.0, 50.0), (-113.0, 50.0), (-113.0, 51.5), (-115.0, 51.5), (-115.0, 50.0)), by_place=True
)
CALGARY_100KM = GeoArea(center=(-114.07, 51.05), radius_km=100, by_place=True)

EVERYTHING = Filters.make(
    since=datetime(2013, 6, 15, 3, tzinfo=UTC),
    until=datetime(2013, 6, 20, 17, 30, tzinfo=UTC),
    query='flood OR "high river"',
    sources=["alpha", "beta"],
    langs=["en"],
    places=["Calgary"],
    threat=(0.1, 0.9),
    hate=(0.0, 0.4),
    toxicity=(0.05, 0.95),
    sentiment=(-1.0, 0.25),
    watchlist="acme-corp",
    area=ALBERTA,
)


def _map_point(doc: dict) -> tuple[float, float] | None:
    """Where the Map draws a post, computed here in Python: own coordinates, else first place."""
    if doc.get("geo"):
        lon, lat = doc["geo"]["coordinates"][:2]
        return lat, lon
    places = (doc.get("scores") or {}).get("places") or []
    return (places[0]["lat"], places[0]["lon"]) if places else None


def _in_area_by_python(store: Store, area: GeoArea) -> set[str]:
    import polars as pl

    rows = [
        {"id": d["_id"], "lat": p[0], "lon": p[1]}
        for d in store.db.posts.find({}, {"geo": 1, "scores.places": 1})
        if (p := _map_point(d)) is not None
    ]
    pts = pl.DataFrame(rows, schema={"id": pl.String, "lat": pl.Float64, "lon": pl.Float64})
    return set(areas.in_area(pts, area)["id"])


# --------------------------------------------------------------------------- pure round trips


@pytest.mark.parametrize(
    "f",
    [
        EVERYTHING,
        EVERYTHING.replace(area=CALGARY_100KM, watchlist=None),
        Filters.make(area=GeoArea(center=(10.5, -3.25), radius_km=1.5)),  # a watchlist's own-coordinates area
        Filters.make(geo_only=True, until=datetime(2020, 1, 1, 0, 0, 1, 250, tzinfo=UTC)),
        Filters(),
    ],
)
def test_every_filter_survives_a_url(f: Filters):
    query = urlencode(f.to_params())
    assert Filters.from_params(dict(parse_qsl(query))) == f


@pytest.mark.parametrize(
    ("params", "error", "names"),
    [
        ({"since": "yesterday"}, FilterError, "since: not a date and time: 'yesterday'"),
        ({"threat": "0.9"}, FilterError, "threat: a range is two numbers"),
        ({"threat": "0.9,0.1"}, FilterError, "reversed"),
        ({"sentiment": "nan,1"}, FilterError, "outside"),
        ({"area": "circle:-114,51"}, FilterError, "expected circle:lon,lat,km"),
        ({"area": "circle:-114,95,10"}, FilterError, "lat=95"),
        ({"area": "poly:0,0;1,0;1,1;0,5"}, FilterError, "must be closed"),
        ({"area": "circle:x,51,10"}, FilterError, "numbers expected in 'circle:x,51,10'"),
        ({"area": "poly:" + ";".join(["1,1"] * 12000)}, FilterError, "more than 40,000 characters"),
        ({"sources": "$where"}, FilterError, "invalid sources item"),
        ({"q": "flood AND"}, QuerySyntaxError, ""),
    ],
)
def test_bad_url_filters_are_refused_with_the_reason(params, error, names):
    with pytest.raises(error, match=None) as info:
        Filters.from_params(params)
    assert names in str(info.value)


# --------------------------------------------------------------------------- the area in MongoDB


def test_area_filter_selects_the_posts_drawn_in_it(store: Store):
    """The stored query (what Explore and Export read) equals the Map's own point test."""
    seed(store)
    rng = random.Random(7)
    docs = []
    for i in range(300):  # scattered posts, half with own coordinates, half placed by name
        lat, lon = rng.uniform(48.5, 53.5), rng.uniform(-117.0, -111.0)
        own = i % 2 == 0
        post = build_post(
            source="scatter",
            native_id=str(i),
            ts=BASE - timedelta(minutes=i),
            text=f"scattered post {i}",
            lat=lat if own else None,
            lon=lon if own else None,
        ).to_doc()
        if not own:
            post["scores"] = {
                "places": [{"name": f"p{i}", "lat": lat, "lon": lon}, {"name": "x", "lat": 0, "lon": 0}]
            }
        docs.append(post)
    store.posts.upsert(docs)
    for p in docs:
        if "scores" in p:
            store.db.posts.update_one({"_id": p["_id"]}, {"$set": {"scores": p["scores"]}})
    triangle = GeoArea(ring=((-116.0, 49.0), (-112.0, 50.0), (-114.5, 53.0), (-116.0, 49.0)), by_place=True)
    for area in (ALBERTA, CALGARY_100KM, triangle):
        want = _in_area_by_python(store, area)
        got = {d["_id"] for d in store.db.posts.find(Filters.make(area=area).to_mongo(), {"_id": 1})}
        assert 20 < len(want) < 300
        assert got == want
    # The seed's post 0 names Calgary but carries coordinates in Sydney: its point is Sydney.
    assert "alpha:0" not in _in_area_by_python(store, CALGARY_100KM)
    own_only = {
        d["_id"] for d in store.db.posts.find(Filters.make(area=GeoArea(ring=ALBERTA.ring)).to_mongo())
    }
    assert own_only and all(store.db.posts.find_one({"_id": i})["geo"] for i in own_only)


# --------------------------------------------------------------------------- pages


def _open(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page(f"pages/{page}.py")
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _address(at: AppTest) -> dict[str, str]:
    """The page's URL query parameters (one value each)."""
    return {k: v if isinstance(v, str) else v[-1] for k, v in at.query_params.items()}


def _shown_ids(at: AppTest) -> list[str]:
    table = next(d.value for d in at.dataframe if "match" in d.value.columns)
    return list(table["id"])


def _newest_first(store: Store, f: Filters) -> list[str]:
    return [d["_id"] for d in store.db.posts.find(f.to_mongo(), {"_id": 1}).sort("ts", -1)]


def test_explore_applies_an_area_from_the_url(app_store: Store):
    seed(app_store)
    link = Filters.make(area=CALGARY_100KM)
    at = _open("explore", link.to_params())
    assert not at.exception, at.exception
    f = at.session_state["filters"]
    assert f.area == CALGARY_100KM
    want = _newest_first(app_store, f)
    assert set(want) == _in_area_by_python(app_store, CALGARY_100KM)
    assert 0 < len(want) < app_store.db.posts.count_documents({})
    assert {m.label: m.value for m in at.metric}["Matching posts"] == f"{len(want):,}"
    assert _shown_ids(at) == want[:50]
    assert any("Area:" in m.value and "100 km" in m.value for m in at.sidebar.markdown)
    assert _address(at)["area"] == link.to_params()["area"]  # the address keeps it

    # Removing the area (the sidebar's button) widens the selection again, and the address follows.
    at.sidebar.button(key="f_clear_area").click().run()
    assert at.session_state["filters"].area is None
    assert "area" not in _address(at)
    wider = _newest_first(app_store, at.session_state["filters"])
    assert len(wider) > len(want)
    assert {m.label: m.value for m in at.metric}["Matching posts"] == f"{len(wider):,}"


def test_export_selects_exactly_the_posts_of_an_area_link(app_store: Store):
    seed(app_store)
    link = Filters.make(area=ALBERTA, query="calgary OR river")
    at = _open("export", link.to_params())
    assert not at.exception, at.exception
    assert at.session_state["filters"] == link
    want = _newest_first(app_store, link)
    assert want and set(want) <= _in_area_by_python(app_store, ALBERTA)
    assert {m.label: m.value for m in at.metric}["Posts selected"] == f"{len(want):,}"
    at.button(key="export_go").click().run()
    assert not at.exception, at.exception
    payload, name, _, rows = at.session_state["export_file"]
    assert name == "vigil-export.csv" and rows == len(want)
    got = [r["id"] for r in csv.DictReader(io.StringIO(payload.decode("utf-8")))]
    assert sorted(got) == sorted(want)


def test_explore_honours_a_watchlist_in_the_url(app_store: Store):
    """A watchlist selects what its saved query selects now (no per-post tags)."""
    seed(app_store)
    wl = Watchlist.make(
        name="Acme corp", query="flood OR river", exclude="calgary", sources=["alpha", "beta"]
    )
    doc = wl.to_doc()
    doc.pop("created", None)
    doc.pop("updated", None)
    app_store.alerts.put_config("watchlists", doc)
    at = _open("explore", {"watchlist": wl.id})
    assert not at.exception, at.exception
    f = at.session_state["filters"]
    assert f.watchlist == wl.id
    assert at.sidebar.selectbox(key="f_watchlist").value == wl.id
    want = [
        d["_id"] for d in app_store.db.posts.find(wl.to_mongo(f.since, f.until), {"_id": 1}).sort("ts", -1)
    ]
    assert 0 < len(want) < len(_newest_first(app_store, f.replace(watchlist=None)))
    assert {m.label: m.value for m in at.metric}["Matching posts"] == f"{len(want):,}"
    assert _shown_ids(at) == want[:50]

    app_store.alerts.delete_config("watchlists", wl.id)  # deleted meanwhile: the page says so
    st.cache_data.clear()  # (the dashboard's caches expire after TTL_S)
    at.run()
    assert not at.exception
    assert any("no watchlist" in e.value for e in at.error)


def test_a_link_with_every_filter_reaches_the_widgets_and_back(app_store: Store):
    """URL -> sidebar widgets -> Filters: nothing is lost on the way (all fields set)."""
    seed(app_store)
    at = _open("explore", EVERYTHING.to_params())
    assert not at.exception, at.exception
    assert at.session_state["filters"] == EVERYTHING
    assert _address(at) == EVERYTHING.to_params()
    # The link narrows the scores: their (lazy) sliders are drawn, showing its ranges.
    assert {s.key: tuple(s.value) for s in at.slider} == {
        f"f_{n}": getattr(EVERYTHING, n) for n in ("threat", "hate", "toxicity", "sentiment")
    }
    # A later link in the same session (a different address) replaces the selection.
    at.query_params.clear()
    at.query_params["q"] = "earthquake"
    at.run()
    assert at.session_state["filters"] == Filters.make(query="earthquake")


def test_anomaly_open_in_explore_carries_its_filters_in_the_address(app_store: Store):
    seed(app_store)
    doc = anomaly_doc(1)  # lang:es
    doc["series"] = "watch:acme-corp|high:threat"
    app_store.db.anomalies.insert_one(doc)
    at = _open("anomalies", {"anomaly": "an1"})
    assert not at.exception, at.exception
    at.button(key="anom_explore").click().run()
    assert not at.exception, at.exception
    want = triage.explore_filters(app_store.db.anomalies.find_one({"_id": "an1"}))
    cut = high_thresholds()["threat"]  # the tuned "high" cut, as triage uses it
    assert want.watchlist == "acme-corp" and want.threat == (cut, 1.0) and want.since
    assert at.session_state["filters"] == want
    assert Filters.from_params(_address(at)) == want
