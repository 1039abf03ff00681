"""Watchlists: validation, and the Python matcher against the MongoDB filter on a real store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.search.watchlists import GeoRadius, Watchlist, WatchlistError, match_post, slugify
from pipelines.store import Store
from tests.alerts.conftest import T0, make_post

POSTS = [
    (1, "Flood in Calgary, the Bow river is rising #yycflood", "rss", "en", (51.05, -114.07)),
    (2, "Evacuation ordered in High River after the flood", "reddit", "en", (50.58, -113.87)),
    (3, "Inondation à Montréal ce matin", "mastodon", "fr", (45.50, -73.57)),
    (4, "ACME Corp recalls its anvils; ACME stock falls", "rss", "en", None),
    (5, "acme job offer: anvil engineer wanted", "reddit", "en", None),
    (6, "State of emergency declared for Calgary", "rss", "en", (51.04, -114.06)),
    (7, "Football tonight in London", "bluesky", "en", (51.50, -0.12)),
    (8, "The flood drill went well, nothing to report", "rss", "en", (51.06, -114.09)),
    (9, "Evacuating pets from the flood zone", "reddit", "en", (51.03, -114.05)),
    (10, "Hochwasser in Passau: die Donau steigt", "mastodon", "de", (48.57, 13.46)),
    (11, "RT @cbc: state of emergency in Calgary #abflood", "bluesky", "en", None),
    (12, "Nothing about floods here, only fire and smoke", "rss", "en", (49.28, -123.12)),
]


def _seed(store: Store) -> list[dict]:
    docs = [
        make_post(i, text, source=src, lang=lang, lat=geo[0] if geo else None, lon=geo[1] if geo else None)
        for i, text, src, lang, geo in POSTS
    ]
    store.posts.upsert(docs)
    return docs


WATCHLISTS = [
    {"query": "flood"},
    {"query": "flood", "exclude": "drill"},
    {"query": "flood OR evacuat*", "sources": ["reddit"]},
    {"query": '"state of emergency"'},
    {"query": "#yycflood OR #abflood"},
    {"query": "acme", "exclude": "job*"},
    {"langs": ["fr", "de"]},
    {"sources": ["bluesky"], "langs": ["en"]},
    {"geo": {"lat": 51.05, "lon": -114.07, "km": 30}},
    {
        "query": "flood OR evacuat* OR emergency",
        "geo": {"lat": 51.05, "lon": -114.07, "km": 30},
        "exclude": "drill",
    },
    {"query": "calgary -flood"},
    {"query": "(fire OR flood) AND NOT (drill OR smoke)"},
]


@pytest.mark.parametrize("values", WATCHLISTS, ids=[str(i) for i in range(len(WATCHLISTS))])
def test_matcher_selects_what_the_mongo_filter_selects(store: Store, values):
    docs = _seed(store)
    wl = Watchlist.make(name="w", **values)
    by_mongo = {d["_id"] for d in store.posts.find(wl.to_mongo(), limit=1000)}
    by_python = {d["_id"] for d in docs if match_post(wl, d)}
    assert by_mongo == by_python
    assert by_python  # every case selects something, so the agreement says something


def test_expected_selection_for_a_realistic_watchlist(store: Store):
    docs = _seed(store)
    wl = Watchlist.make(
        name="Calgary flood",
        query="flood OR evacuat* OR emergency",
        exclude="drill",
        geo={"lat": 51.05, "lon": -114.07, "km": 30},
    )
    assert {d["native_id"] for d in docs if match_post(wl, d)} == {"1", "6", "9"}


WORDS = [
    "flood",
    "calgary",
    "acme",
    "evacuat*",
    '"state of emergency"',
    "#abflood",
    "river",
    "drill",
    "anvil",
]


@st.composite
def watchlist_values(draw):
    def query():
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
        op = draw(st.sampled_from([" ", " OR ", " AND NOT "]))
        return op.join(words) if op != " AND NOT " or len(words) > 1 else words[0]

    values = {"query": query()}
    if draw(st.booleans()):
        values["exclude"] = draw(st.sampled_from(WORDS))
    if draw(st.booleans()):
        values["sources"] = draw(
            st.lists(st.sampled_from(["rss", "reddit", "mastodon", "bluesky"]), min_size=1)
        )
    if draw(st.booleans()):
        values["langs"] = draw(st.lists(st.sampled_from(["en", "fr", "de"]), min_size=1))
    if draw(st.booleans()):
        values["geo"] = {
            "lat": draw(st.floats(40, 55)),
            "lon": draw(st.floats(-120, 15)),
            "km": draw(st.sampled_from([5.0, 50.0, 500.0, 5000.0])),
        }
    return values


def test_matcher_agrees_with_mongo_on_generated_watchlists(store: Store):
    docs = _seed(store)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(watchlist_values())
    def check(values):
        wl = Watchlist.make(name="w", **values)
        by_mongo = {d["_id"] for d in store.posts.find(wl.to_mongo(), limit=1000)}
        assert by_mongo == {d["_id"] for d in docs if match_post(wl, d)}, values

    check()


def test_preview_filter_bounds_time(store: Store):
    docs = _seed(store)
    wl = Watchlist.make(name="w", query="flood")
    since = T0 + timedelta(minutes=2)
    until = T0 + timedelta(minutes=9)
    got = {d["native_id"] for d in store.posts.find(wl.to_mongo(since, until), limit=100)}
    assert (
        got == {d["native_id"] for d in docs if match_post(wl, d) and since <= d["ts"] < until} == {"2", "8"}
    )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"name": "x"}, "needs keywords, sources, languages or an area"),
        ({"name": "x", "exclude": "drill"}, "needs keywords"),
        ({"name": "x", "query": "flood OR"}, "query: "),
        ({"name": "x", "query": "(flood"}, "missing ')'"),
        ({"name": "x", "query": "flood", "sources": {"$ne": 1}}, "sources: "),
        ({"name": "x", "query": "flood", "sources": ["$where"]}, "invalid sources item"),
        ({"name": "x", "query": "flood", "shared_roles": ["root"]}, "unknown role 'root'"),
        ({"name": "x", "query": "flood", "geo": {"lat": 95, "lon": 0, "km": 5}}, "geo.lat"),
        ({"name": "x", "query": "flood", "geo": {"lat": 5, "lon": 0, "km": 0}}, "geo.km"),
        ({"id": "Bad Id!", "name": "x", "query": "flood"}, "id 'Bad Id!'"),
        ({"name": "", "query": "flood"}, "name"),
        ({"name": "x", "query": "flood", "colour": "red"}, "colour"),
    ],
)
def test_invalid_watchlists_are_refused_with_a_reason(values, reason):
    with pytest.raises(
        WatchlistError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")
    ):
        Watchlist.make(**values)


def test_fingerprint_covers_matching_only():
    a = Watchlist.make(name="ACME", query="acme")
    assert a.id == "acme" and slugify("Café Noir, Inc.") == "cafe-noir-inc"
    assert (
        a.fingerprint == Watchlist.make(name="ACME renamed", id="acme", query="acme", owner="ann").fingerprint
    )
    assert a.fingerprint != Watchlist.make(name="ACME", query="acme OR anvil").fingerprint
    assert a.fingerprint != Watchlist.make(name="ACME", query="acme", exclude="job").fingerprint
    assert (
        a.fingerprint
        != Watchlist.make(name="ACME", query="acme", geo=GeoRadius(lat=1, lon=2, km=3)).fingerprint
    )
    assert Watchlist.from_doc(a.to_doc()) == a


@pytest.mark.parametrize(
    ("owner", "users", "roles", "user", "role", "visible", "editable"),
    [
        (None, (), (), "bob", "viewer", True, False),
        (None, (), (), "bob", "analyst", True, True),
        ("ann", (), (), "ann", "analyst", True, True),
        ("ann", (), (), "bob", "analyst", False, False),
        ("ann", ("bob",), (), "bob", "analyst", True, False),
        ("ann", (), ("viewer",), "carl", "viewer", True, False),
        ("ann", (), ("viewer",), "carl", "analyst", False, False),
        ("ann", (), (), "root", "admin", True, True),
    ],
)
def test_sharing(owner, users, roles, user, role, visible, editable):
    wl = Watchlist.make(name="w", query="flood", owner=owner, shared_users=users, shared_roles=roles)
    assert wl.visible_to(user, role) is visible
    assert wl.editable_by(user, role) is editable
