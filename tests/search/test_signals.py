"""Watchlist series, evidence terms and first place sightings from the index equal a
recount of the same posts in Python (the watchlist's own matcher, the detector's lift)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import tantivy

from pipelines.detect import evidence as E
from pipelines.scoring.thresholds import high_thresholds
from pipelines.search import signals
from pipelines.search.filters import Filters, GeoArea
from pipelines.search.schema import build_schema, to_document
from pipelines.search.select import selection_query
from pipelines.search.watchlists import Watchlist
from tests.search.conftest import START, make_posts

POSTS = make_posts(2500, seed=11)
_rnd = random.Random(3)
for _p in POSTS:  # some places and own coordinates, for first sightings and areas
    if "scores" in _p and _rnd.random() < 0.3:
        _p["scores"]["places"] = [
            {"name": _rnd.choice(["Calgary", "Banff", "Paris"]), "lat": 51.0, "lon": -114.0}
        ]
    if _rnd.random() < 0.2:
        _p["geo"] = {
            "type": "Point",
            "coordinates": [-114.07 + _rnd.uniform(-1, 1), 51.05 + _rnd.uniform(-1, 1)],
        }
WATCH = Watchlist.make(name="Flood", query="flood OR evacuat*", exclude="fire", sources=["twitter", "rss"])


@pytest.fixture(scope="module")
def index() -> tuple[tantivy.Searcher, tantivy.Schema]:
    ix = tantivy.Index(build_schema())
    writer = ix.writer(50_000_000, 1)
    for post in POSTS:
        writer.add_document(to_document(post))
    writer.commit()
    ix.reload()
    return ix.searcher(), ix.schema


def _hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def test_watch_series_equals_the_matcher_over_scored_posts(index):
    searcher, schema = index
    match = WATCH.matcher()
    want: dict[datetime, dict] = defaultdict(lambda: {"n": 0, "sentiment": 0.0, "threat": 0, "high": 0})
    for p in POSTS:
        if "scores" in p and match(p):
            h = want[_hour(p["ts"])]
            h["n"] += 1
            h["sentiment"] += p["scores"].get("sentiment", 0.0)
            h["high"] += int(p["scores"].get("threat", 0.0) >= high_thresholds()["threat"])
    got = signals.watch_rollups(searcher, schema, WATCH)
    assert len(got) == len(want) > 10
    for d in got:
        w = want[d["hour"]]
        assert d["kind"] == "watch" and d["watchlist"] == WATCH.id
        assert d["n"] == w["n"] and d["high"]["threat"] == w["high"]
        assert d["sum"]["sentiment"] == pytest.approx(w["sentiment"])
    since = START + timedelta(days=1)
    part = signals.watch_rollups(searcher, schema, WATCH, since, since + timedelta(hours=6))
    assert [d["hour"] for d in part] == sorted(h for h in want if since <= h < since + timedelta(hours=6))


def test_terms_by_lift_equals_the_detectors_lift_over_every_post(index):
    searcher, schema = index
    query = signals.series_query(searcher, schema, "source:twitter", {})
    window = (START + timedelta(days=2), START + timedelta(days=2, hours=6))
    base = (window[0] - timedelta(days=2), window[0])

    def terms(lo, hi):
        return [p["terms"] for p in POSTS if p["source"] == "twitter" and lo <= p["ts"] < hi]

    want = E.term_lift(terms(*window), terms(*base), top=10, min_lift=1.0)
    got = signals.terms_by_lift(searcher, schema, query, window, base, top=10, min_lift=1.0)
    assert got == want and got


def test_series_query_of_a_watchlist_and_a_high_metric(index):
    searcher, schema = index
    q = signals.series_query(searcher, schema, f"watch:{WATCH.id}", {WATCH.id: WATCH}, "high:threat")
    match = WATCH.matcher()
    want = sum(
        1
        for p in POSTS
        if match(p) and (p.get("scores") or {}).get("threat", 0) >= high_thresholds()["threat"]
    )
    assert searcher.search(q, limit=1, count=True).count == want > 0
    assert signals.series_query(searcher, schema, "watch:nope", {}) is None


def test_first_sightings_name_the_earliest_post_of_each_new_place(index):
    searcher, schema = index
    match = WATCH.matcher()
    since = START + timedelta(days=2)
    first: dict[str, dict] = {}
    for p in sorted(POSTS, key=lambda p: p["ts"]):
        if match(p):
            for pl in (p.get("scores") or {}).get("places") or []:
                first.setdefault(pl["name"], p)
    want = {name: p["_id"] for name, p in first.items() if p["ts"] >= since}
    got = {s["name"]: s["post"] for s in signals.first_sightings(searcher, schema, WATCH, since)}
    assert got == want
    assert signals.first_sightings(searcher, schema, WATCH, START) and not signals.first_sightings(
        searcher, schema, WATCH, START + timedelta(days=30)
    )


def test_an_area_selects_exactly_the_points_inside(index):
    searcher, schema = index
    from pipelines.search.areas import haversine_km

    area = GeoArea(center=(-114.07, 51.05), radius_km=60)
    want = {
        p["_id"]
        for p in POSTS
        if "geo" in p
        and haversine_km(51.05, -114.07, p["geo"]["coordinates"][1], p["geo"]["coordinates"][0]) <= 60
    }
    q = selection_query(searcher, schema, Filters.make(area=area))
    got = {searcher.doc(a).get_first("id") for _, a in searcher.search(q, limit=10_000).hits}
    assert got == want and 0 < len(want) < sum(1 for p in POSTS if "geo" in p)


def test_the_detector_reads_watch_series_and_exact_evidence_from_the_index(store, tmp_path):
    from pipelines.detect.detector import AnomalyWindow
    from pipelines.detect.series import SeriesId
    from pipelines.detect.service import DetectorService
    from pipelines.search.index import SearchIndex, index_path
    from tests.ui.conftest import reindex

    store.posts.insert([dict(p) for p in POSTS])
    doc = WATCH.to_doc()
    doc.pop("created", None), doc.pop("updated", None)
    store.alerts.put_config("watchlists", doc)
    reindex(store, tmp_path)
    svc = DetectorService(store, index_dir=index_path(tmp_path))
    svc.index = SearchIndex.open(index_path(tmp_path))
    docs = svc._watch_docs(None)
    match = WATCH.matcher()
    assert sum(d["n"] for d in docs) == sum(1 for p in POSTS if "scores" in p and match(p)) > 0
    peak = START + timedelta(days=2, hours=3)
    w = AnomalyWindow(
        start=peak - timedelta(hours=3),
        end=peak + timedelta(hours=3),
        peak=peak,
        observed=10.0,
        expected=2.0,
        lo=0.0,
        hi=4.0,
        observed_total=30.0,
        expected_total=10.0,
        severity=0.8,
        methods=("prophet",),
    )
    ev = svc.evidence(SeriesId(f"watch:{WATCH.id}", "count"), w)
    assert ev["posts"] and all(match(next(p for p in POSTS if p["_id"] == e["_id"])) for e in ev["posts"])
    assert ev["sample"]["exact_terms"] is True
