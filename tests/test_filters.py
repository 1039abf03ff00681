"""Filters: validation of untrusted values and the compiled posts filter against MongoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.core.post import build_post
from pipelines.search import QuerySyntaxError
from pipelines.search.filters import FilterError, Filters, GeoArea

T0 = datetime(2013, 6, 20, tzinfo=UTC)


def _seed(store):
    rows = [
        ("a", 0, "Flood in Calgary", 0.9, -0.8, (51.05, -114.07), "en"),
        ("a", 1, "Sunny in Calgary", 0.1, 0.6, (51.05, -114.07), "en"),
        ("b", 2, "Inondation à Montréal", 0.4, -0.2, (45.5, -73.57), "fr"),
        ("b", 30, "Flood defences hold in London", 0.2, 0.1, None, "en"),
    ]
    docs = []
    for src, hours, text, threat, sent, geo, lang in rows:
        d = build_post(
            source=src,
            native_id=str(hours),
            ts=T0 + timedelta(hours=hours),
            text=text,
            lang=lang,
            lat=geo[0] if geo else None,
            lon=geo[1] if geo else None,
        ).to_doc()
        d["scores"] = {"threat": threat, "sentiment": sent, "places": [{"name": text.split()[-1]}]}
        docs.append(d)
    store.posts.upsert(docs)
    return docs


def _ids(store, f: Filters) -> set[str]:
    return {d["_id"] for d in store.posts.find(f.to_mongo(), limit=100)}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {"a:0", "a:1", "b:2", "b:30"}),
        ({"sources": ["a"]}, {"a:0", "a:1"}),
        ({"langs": ["fr"]}, {"b:2"}),
        ({"query": "flood"}, {"a:0", "b:30"}),
        ({"query": "flood", "sources": ["b"]}, {"b:30"}),
        ({"threat": (0.5, 1.0)}, {"a:0"}),
        ({"sentiment": (-1.0, 0.0)}, {"a:0", "b:2"}),
        ({"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=3)}, {"a:1", "b:2"}),
        ({"places": ["Calgary"]}, {"a:0", "a:1"}),
        ({"area": GeoArea(center=(-114.0, 51.0), radius_km=50)}, {"a:0", "a:1"}),
        ({"geo_only": True}, {"a:0", "a:1", "b:2"}),
        ({"threat": (0.0, 1.0)}, {"a:0", "a:1", "b:2", "b:30"}),  # full range filters nothing
    ],
)
def test_filters_select_exactly(store, values, expected):
    _seed(store)
    assert _ids(store, Filters.make(**values)) == expected


def test_polygon_area(store):
    _seed(store)
    ring = ((-80.0, 40.0), (-70.0, 40.0), (-70.0, 50.0), (-80.0, 50.0), (-80.0, 40.0))
    assert _ids(store, Filters.make(area=GeoArea(ring=ring))) == {"b:2"}


@pytest.mark.parametrize(
    ("values", "error", "reason"),
    [
        ({"sources": {"$ne": None}}, FilterError, "must be a list"),
        ({"sources": ["$where"]}, FilterError, "invalid sources item"),
        ({"sources": [{"$gt": ""}]}, FilterError, "items must be text"),
        ({"sources": ["x"] * 500}, FilterError, "more than 200"),
        ({"threat": (0.9, 0.1)}, FilterError, "reversed"),
        ({"threat": ("nan", 1)}, FilterError, "outside|reversed"),
        ({"sentiment": (-2, 0)}, FilterError, "outside"),
        ({"since": "2013-01-01"}, FilterError, "must be a datetime"),
        ({"since": T0, "until": T0}, FilterError, "time range is empty"),
        ({"query": {"$where": "1"}}, FilterError, "query must be text"),
        ({"query": "(flood"}, QuerySyntaxError, "missing"),
        ({"watchlist": "$x"}, FilterError, "watchlist"),
        ({"nope": 1}, FilterError, "unknown filter fields: nope"),
    ],
)
def test_untrusted_values_refused_with_reason(values, error, reason):
    with pytest.raises(error, match=reason):
        Filters.make(**values)


def test_filters_are_hashable_and_describable():
    f = Filters.make(sources=["b", "a", "a"], query="flood", threat=(0.5, 1))
    assert f.sources == ("a", "b")
    assert hash(f) == hash(Filters.make(sources=["a", "b"], query="flood", threat=(0.5, 1.0)))
    assert ("keywords", "flood") in f.describe()
    assert f.replace(query="fire").query == "fire"


def test_a_watchlist_selection_refuses_a_mongodb_filter_instead_of_matching_nothing() -> None:
    f = Filters.make(query="flood", watchlist="acme-corp")
    with pytest.raises(FilterError, match="acme-corp.*search index"):
        f.to_mongo()
    assert f.replace(watchlist=None).to_mongo()  # the rest of the selection still translates
