"""Spike alerts follow incidents: one per incident and channel, titled like it, linking to it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from pipelines.detect.service import DetectorService
from pipelines.store import Store
from tests.alerts.conftest import T0, Clock
from tests.alerts.test_notify import SECRET, configure, hook, mail, service, threat_post


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)


def detected(store: Store, wl: str, metric: str, severity: float, hours: int, posts: list[dict]) -> str:
    doc = {
        "series": f"watch:{wl}|{metric}",
        "key": f"watch:{wl}",
        "metric": metric,
        "kind": "watch",
        "value": wl,
        "start": T0,
        "end": T0 + timedelta(hours=hours),
        "peak": T0,
        "observed": 42.0,
        "expected": 7.5,
        "observed_total": 120.0 if metric == "count" else 60.0,
        "expected_total": 15.0 if metric == "count" else 3.0,
        "severity": severity,
        "methods": ["prophet"],
        "evidence": {
            "posts": [{"_id": p["_id"], "source": "rss", "text": p["text"]} for p in posts],
            "terms": [{"term": "flood", "n": 5, "lift": 4.2}, {"term": "levee", "n": 4, "lift": 3.0}],
            "places": [{"place": "Calgary", "country": "CA", "n": 4}],
        },
    }
    return store.anomalies.upsert(doc)[0]


def test_one_alert_per_incident_and_channel(store: Store, http_receiver, smtp_receiver) -> None:
    clock = Clock(T0 + timedelta(hours=3))
    rule = configure(
        store,
        {"name": "Flood spikes", "kind": "spike", "min_severity": 0.5, "cooldown_minutes": 0},
        [hook(http_receiver), mail(smtp_receiver)],
    )
    posts = [threat_post(i, 0.9, minutes=i) for i in range(1, 4)]
    store.posts.upsert(posts)
    detected(store, rule.watchlist, "count", 0.8, 2, posts)
    detected(store, rule.watchlist, "high:threat", 0.7, 3, posts)
    DetectorService(store).rebuild_incidents(T0 - timedelta(hours=1), T0 + timedelta(hours=4))
    (inc,) = store.incidents.find()
    svc = service(store, clock)
    for _ in range(3):  # every cycle sees both anomalies of the incident
        svc.cycle()
        clock.advance(minutes=5)
    (req,) = http_receiver.received("/hook")
    assert len(smtp_receiver.mails) == 1
    alert = req.json()["alert"]
    assert alert["title"] == inc["title"]
    assert alert["title"].startswith("Surge: flood, levee, Calgary — 120 posts vs 15 expected")
    assert "120 posts in this window against 15 expected" in alert["summary"]
    link = urlsplit(alert["link"])
    assert link.path == "/anomalies" and parse_qs(link.query)["incident"] == [inc["_id"]]


def test_minor_and_dismissed_incidents_do_not_alert(store: Store, http_receiver) -> None:
    clock = Clock(T0 + timedelta(hours=3))
    rule = configure(
        store, {"name": "Flood spikes", "kind": "spike", "min_severity": 0.5}, [hook(http_receiver)]
    )
    posts = [threat_post(1, 0.9)]
    store.posts.upsert(posts)
    aid = detected(store, rule.watchlist, "count", 0.8, 2, posts)
    store.db.anomalies.update_one({"_id": aid}, {"$set": {"observed_total": 12.0}})  # 12 posts: minor
    DetectorService(store).rebuild_incidents(T0 - timedelta(hours=1), T0 + timedelta(hours=4))
    (inc,) = store.incidents.find(include_minor=True)
    assert inc["minor"]
    service(store, clock).cycle()
    assert http_receiver.received("/hook") == []
    store.db.anomalies.update_one({"_id": aid}, {"$set": {"observed_total": 120.0}})
    DetectorService(store).rebuild_incidents(T0 - timedelta(hours=1), T0 + timedelta(hours=4))
    store.db.incidents.update_one({"_id": inc["_id"]}, {"$set": {"status": "not_interesting"}})
    service(store, clock).cycle()
    assert http_receiver.received("/hook") == []
