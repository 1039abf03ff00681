"""The detector process against the real store: anomalies with evidence, de-duplicated across cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipelines.core.post import build_post
from pipelines.detect.defaults import DetectConfig
from pipelines.detect.evidence import term_lift, top_places, top_posts
from pipelines.detect.service import DetectorService
from pipelines.store import Store

T0 = datetime(2013, 10, 1, tzinfo=UTC)  # archive data: nothing is relative to the wall clock
SPIKE = T0 + timedelta(days=8, hours=14)
WORDS = ["weather", "traffic", "coffee", "football", "music", "market", "school", "garden"]


def posts(hours: range, rng: np.random.Generator, spike_at: datetime | None = None) -> list[dict]:
    """Hourly posts (Poisson around 6 per hour) and, at ``spike_at``, 80 earthquake posts."""
    docs = []
    for h in hours:
        hour = T0 + timedelta(hours=h)
        n = int(rng.poisson(6))
        extra = 80 if spike_at is not None and hour == spike_at else 0
        for k in range(n + extra):
            quake = k >= n
            text = (
                f"earthquake felt in bohol, buildings damaged {k}"
                if quake
                else f"{rng.choice(WORDS)} {rng.choice(WORDS)} today {h}-{k}"
            )
            post = build_post(
                source="city",
                native_id=f"{h}-{k}",
                ts=hour + timedelta(minutes=int(rng.integers(0, 60))),
                text=text,
                engagement=int(rng.integers(0, 5)) + (50 if quake and k == n + 3 else 0),
                now=datetime(2030, 1, 1, tzinfo=UTC),
            )
            doc = post.to_doc()
            if quake:
                doc["scores"] = {
                    "threat": 0.2,
                    "places": [{"name": "Bohol", "country": "PH", "lat": 9.8, "lon": 124.2}],
                }
            docs.append(doc)
        for k in range(int(rng.poisson(2))):  # a second, quiet source: "all" differs from "city"
            other = build_post(
                source="rural",
                native_id=f"{h}-{k}",
                ts=hour + timedelta(minutes=int(rng.integers(0, 60))),
                text=f"{rng.choice(WORDS)} news {h}-{k}",
                now=datetime(2030, 1, 1, tzinfo=UTC),
            )
            docs.append(other.to_doc())
    return docs


def service(store: Store, now: datetime) -> DetectorService:
    return DetectorService(store, DetectConfig(), min_total=10, clock=lambda: now)


def test_a_spike_becomes_one_anomaly_with_evidence_and_stays_one_across_cycles(store: Store) -> None:
    rng = np.random.default_rng(0)
    store.posts.upsert(posts(range(0, 9 * 24), rng, spike_at=SPIKE))
    svc = service(store, datetime(2030, 1, 1, tzinfo=UTC))

    first = svc.run_cycle()
    assert first.errors == []
    assert first.inserted >= 1
    docs = [d for d in store.anomalies.find() if d["series"] == "source:city|count"]
    assert len(docs) == 1
    a = docs[0]
    assert a["start"] <= SPIKE < a["end"]
    assert a["observed"] >= 80 and a["observed"] > a["hi"] > a["expected"]
    assert a["interval"] == {"lo": a["lo"], "hi": a["hi"]}
    assert DetectConfig().threshold <= a["severity"] < 1 and "robust" in a["methods"]  # 9 days: degraded mode
    assert a["status"] == "open" and a["key"] == "source:city" and a["metric"] == "count"
    ev = a["evidence"]
    assert ev["terms"][0]["term"] in {"earthquake", "bohol", "felt", "buildings", "damaged"}
    assert {t["term"] for t in ev["terms"]} >= {"earthquake", "bohol"}
    assert all(t["lift"] > 1 for t in ev["terms"])
    assert ev["posts"][0]["engagement"] >= 50 and "earthquake" in ev["posts"][0]["text"]
    assert ev["places"][0] == {"place": "Bohol", "country": "PH", "n": 80}
    context = store.anomalies.get(a["_id"])["context"]  # lists leave it out; the drill-down reads it
    assert any(r["time"] == SPIKE and r["value"] >= 80 and r["expected"] < 20 for r in context)
    assert {d["series"] for d in store.anomalies.find()} >= {"all|count", "source:city|count"}

    # Same data again: nothing changed, nothing rescored, nothing new.
    again = svc.run_cycle()
    assert (again.scored, again.inserted, again.updated) == (0, 0, 0)

    # An analyst acknowledges it; a new cycle over more data (spike still within the
    # lookback) updates the same document and keeps the verdict.
    assert store.anomalies.set_status(a["_id"], "acknowledged", by="ana")
    store.posts.upsert(posts(range(9 * 24, 9 * 24 + 3), rng))
    third = svc.run_cycle()
    assert third.scored >= 1 and third.inserted == 0 and third.updated >= 1
    docs = [d for d in store.anomalies.find() if d["series"] == "source:city|count"]
    assert len(docs) == 1
    assert docs[0]["_id"] == a["_id"] and docs[0]["status"] == "acknowledged" and docs[0]["cycles"] >= 2

    # A fresh process (no in-memory caches) rescoring the same window still merges.
    assert service(store, datetime(2030, 1, 1, tzinfo=UTC)).run_cycle().inserted == 0
    assert len([d for d in store.anomalies.find() if d["series"] == "source:city|count"]) == 1


def test_quiet_data_raises_nothing_and_open_buckets_wait(store: Store) -> None:
    rng = np.random.default_rng(1)
    store.posts.upsert(posts(range(0, 6 * 24), rng))
    end = T0 + timedelta(days=6)
    report = service(store, end + timedelta(minutes=30)).run_cycle()
    assert report.errors == [] and report.scored >= 2
    assert [d for d in store.anomalies.find() if d["series"].endswith("|count")] == []
    state = store.detector.state()
    # The last hour (end - 1 h .. end) is complete; nothing later exists.
    assert state["source:city|count"] == end - timedelta(hours=1)
    # With the clock inside the last hour, that bucket is still filling and is not scored.
    store.db.detector_state.delete_many({})
    service(store, end - timedelta(minutes=20)).run_cycle()
    assert store.detector.state()["source:city|count"] == end - timedelta(hours=2)


def test_upsert_anomaly_merges_overlaps_only(store: Store) -> None:
    base = {
        "series": "lang:en|count",
        "severity": 0.6,
        "observed": 10.0,
        "expected": 2.0,
        "methods": ["robust"],
    }
    t = T0
    id1, new1 = store.anomalies.upsert({**base, "start": t, "end": t + timedelta(hours=2)})
    id2, new2 = store.anomalies.upsert(
        {
            **base,
            "start": t + timedelta(hours=2),
            "end": t + timedelta(hours=5),
            "severity": 0.8,
            "methods": ["stumpy"],
        }
    )
    assert (new1, new2, id1 == id2) == (True, False, True)
    doc = store.anomalies.get(id1)
    assert doc["end"] == t + timedelta(hours=5) and doc["severity"] == 0.8
    assert sorted(doc["methods"]) == ["robust", "stumpy"]
    # A weaker re-detection widens the window but keeps the stronger measurements.
    store.anomalies.upsert(
        {**base, "start": t - timedelta(hours=1), "end": t + timedelta(hours=1), "severity": 0.55}
    )
    doc = store.anomalies.get(id1)
    assert doc["start"] == t - timedelta(hours=1) and doc["severity"] == 0.8
    # Another series, or a later window, is a new anomaly.
    assert store.anomalies.upsert(
        {**base, "series": "lang:fr|count", "start": t, "end": t + timedelta(hours=1)}
    )[1]
    assert store.anomalies.upsert(
        {**base, "start": t + timedelta(days=1), "end": t + timedelta(days=1, hours=1)}
    )[1]
    assert len(store.anomalies.find()) == 3


# --------------------------------------------------------------------------- evidence (pure)


def test_term_lift_prefers_terms_new_to_the_window() -> None:
    window = [["quake", "bohol", "today"]] * 8 + [["today", "coffee"]] * 2
    baseline = [["today", "coffee"]] * 50 + [["bohol"]]
    got = term_lift(window, baseline, top=5)
    assert [r["term"] for r in got][:2] == ["quake", "bohol"]
    assert got[0]["n"] == 8 and got[0]["lift"] == pytest.approx((8 / 10) / (1 / 52))
    assert "today" not in {r["term"] for r in got}  # as common before as during
    assert term_lift([], baseline, top=5) == []


def test_top_posts_rank_by_the_series_metric() -> None:
    sample = [
        {"_id": "a", "engagement": 9, "scores": {"threat": 0.1}, "text": "x" * 500},
        {"_id": "b", "engagement": 1, "scores": {"threat": 0.9}, "text": "b"},
    ]
    assert [p["_id"] for p in top_posts(sample, "count", 2)] == ["a", "b"]
    assert len(top_posts(sample, "count", 1)[0]["text"]) == 280
    ranked = top_posts(sample, "high:threat", 2)
    assert [p["_id"] for p in ranked] == ["b", "a"] and ranked[0]["score"] == 0.9
    places = top_places(
        [{"scores": {"places": [{"name": "A"}, {"name": "A"}, {"name": "B"}]}}, {"scores": {}}], 5
    )
    assert places == [{"place": "A", "country": None, "n": 1}, {"place": "B", "country": None, "n": 1}]


def test_a_series_that_fails_is_recorded_and_the_others_are_scored(store: Store, monkeypatch) -> None:
    from pipelines.detect import service as svc_mod

    real = svc_mod.score_series

    def failing(times, values, config, **kw):  # fault injection for one series only
        if str(kw.get("series")) == "source:city|count":
            raise FloatingPointError("injected failure")
        return real(times, values, config, **kw)

    monkeypatch.setattr(svc_mod, "score_series", failing)
    rng = np.random.default_rng(0)
    store.posts.upsert(posts(range(0, 9 * 24), rng, spike_at=SPIKE))
    report = service(store, datetime(2030, 1, 1, tzinfo=UTC)).run_cycle()
    assert report.errors and "source:city|count" in report.errors[0] and "injected" in report.errors[0]
    assert report.scored >= 2
    series = {d["series"] for d in store.anomalies.find()}
    assert "all|count" in series and "source:city|count" not in series
    assert "source:city|count" not in store.detector.state()  # retried next cycle
