"""The alerts loop end to end on a real store and real receivers, with an injected clock:
retries with backoff, isolation of failing channels, exactly one alert per anomaly and
channel across detector cycles, cooldowns, quiet hours and digests."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.alerts.channels import verify_signature
from pipelines.alerts.models import Channel, Rule
from pipelines.alerts.notify import Notifier, send_test
from pipelines.alerts.service import AlertService
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store
from tests.alerts.conftest import T0, Clock, make_post
from tests.conftest import free_port
from tests.ui.conftest import reindex

SECRET = "hook-secret"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch):
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)


@pytest.fixture(autouse=True)
def _index_dirs(tmp_path, monkeypatch):
    """Each service's search index under the test's own temporary folder, which pytest
    prunes, instead of a fresh folder in the system's /tmp that nothing removes."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def configure(store: Store, rule: dict, channels: list[dict], watchlist: dict | None = None) -> Rule:
    wl = Watchlist.make(**(watchlist or {"name": "Flood", "query": "flood"}))
    doc = wl.to_doc()
    doc.pop("created"), doc.pop("updated")
    store.alerts.put_config("watchlists", doc)
    for c in channels:
        store.alerts.put_config("alert_channels", Channel.make(**c).to_doc())
    r = Rule.make(**{"watchlist": wl.id, "channels": [c["name"] for c in channels], **rule})
    store.alerts.put_config("alert_rules", r.to_doc())
    return r


def hook(rec, name: str = "hook", path: str = "/hook") -> dict:
    return {"name": name, "type": "webhook", "url": rec.url(path), "secret_env": "TEST_HOOK_SECRET"}


def mail(rec) -> dict:
    """An email channel delivering to the loopback SMTP receiver ``rec``."""
    return {
        "name": "mail",
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": rec.port,
        "smtp_security": "none",
        "mail_from": "vigil@example.org",
        "mail_to": "desk@example.org",
    }


class IndexedService(AlertService):
    """The alert service with its search index rebuilt before each cycle (the indexer's job)."""

    def cycle(self, deliver: bool = True):
        reindex(self.store, self._data_dir)
        return super().cycle(deliver)


def service(store: Store, clock: Clock, **kw) -> AlertService:
    notifier = Notifier(
        store, clock=clock, retry_base_s=kw.pop("retry_base_s", 60), max_attempts=kw.pop("max_attempts", 5)
    )
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-alerts-"))
    return IndexedService(
        store, clock=clock, notifier=notifier, public_url="http://vigil.test", data_dir=data_dir, **kw
    )


def threat_post(i: int, threat: float, minutes: int = 0, text: str = "flood warning") -> dict:
    return make_post(i, f"{text} {i}", ts=T0 + timedelta(minutes=minutes), scores={"threat": threat})


def log(store: Store) -> list[dict]:
    return store.alerts.delivery_log(100)


# --------------------------------------------------------------------------- retries


def test_retry_after_500_then_sent(store: Store, http_receiver):
    clock = Clock(T0 + timedelta(hours=1))
    configure(
        store,
        {"name": "Threats", "kind": "threshold", "min_score": 0.8, "cooldown_minutes": 0},
        [hook(http_receiver)],
    )
    store.posts.upsert([threat_post(1, 0.95)])
    http_receiver.respond("/hook", 500)
    svc = service(store, clock)

    first = svc.cycle()
    assert first.delivery.retrying == 1 and first.delivery.sent == 0
    (d,) = log(store)
    assert d["status"] == "retrying" and d["attempts"] == 1 and "HTTP 500" in d["last_error"]
    assert d["next_try"] == clock.now + timedelta(seconds=60)

    svc.cycle()  # not due yet: nothing sent
    assert len(http_receiver.received("/hook")) == 1

    clock.advance(seconds=61)
    assert svc.cycle().delivery.sent == 1
    (d,) = log(store)
    assert d["status"] == "sent" and d["attempts"] == 2 and d["last_error"] is None
    reqs = http_receiver.received("/hook")
    assert len(reqs) == 2
    assert reqs[0].headers["x-vigil-delivery"] == reqs[1].headers["x-vigil-delivery"] == d["_id"]
    for r in reqs:
        assert verify_signature(SECRET, r.body, r.headers["x-vigil-signature"])
    assert reqs[1].json()["alert"]["posts"][0]["id"] == "rss:1"


def test_gives_up_after_max_attempts(store: Store, http_receiver):
    clock = Clock(T0 + timedelta(hours=1))
    configure(store, {"name": "Threats", "kind": "threshold", "min_score": 0.8}, [hook(http_receiver)])
    store.posts.upsert([threat_post(1, 0.95)])
    http_receiver.respond("/hook", 500, 502, 503, 500)
    svc = service(store, clock, max_attempts=3, retry_base_s=10)
    statuses = []
    for _ in range(4):
        svc.cycle()
        statuses.append(log(store)[0]["status"])
        clock.advance(minutes=10)
    assert statuses == ["retrying", "retrying", "failed", "failed"]
    d = log(store)[0]
    assert d["attempts"] == 3 and "HTTP 503" in d["last_error"]
    assert len(http_receiver.received("/hook")) == 3


def test_one_failing_channel_never_blocks_the_others(store: Store, http_receiver, smtp_receiver, monkeypatch):
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    clock = Clock(T0 + timedelta(hours=1))
    channels = [
        {
            "name": "dead",
            "type": "webhook",
            "url": f"http://127.0.0.1:{free_port()}/x",
            "secret_env": "TEST_HOOK_SECRET",
        },
        {
            "name": "nosecret",
            "type": "webhook",
            "url": http_receiver.url("/nosecret"),
            "secret_env": "UNSET_SECRET",
        },
        hook(http_receiver, "slow", "/slow"),
        hook(http_receiver, "ok", "/ok"),
        mail(smtp_receiver),
    ]
    http_receiver.delay_s["/slow"] = 1.5
    configure(store, {"name": "Threats", "kind": "threshold", "min_score": 0.8}, channels)
    store.posts.upsert([threat_post(1, 0.95)])
    report = service(store, clock).cycle()
    by_channel = {d["channel"]: d for d in log(store)}
    assert {c: d["status"] for c, d in by_channel.items()} == {
        "dead": "retrying",
        "nosecret": "failed",
        "slow": "sent",
        "ok": "sent",
        "mail": "sent",
    }
    assert "UNSET_SECRET is not set" in by_channel["nosecret"]["last_error"]
    assert report.delivery.sent == 3 and len(smtp_receiver.mails) == 1
    assert len(http_receiver.received("/ok")) == 1 and http_receiver.received("/nosecret") == []


# --------------------------------------------------------------------------- exactly once


def anomaly(store: Store, aid: str, severity: float, end: datetime, observed: float = 90.0) -> None:
    """The detector's write: the same series and window updates the same anomaly document."""
    store.db.anomalies.update_one(
        {"_id": aid},
        {
            "$set": {
                "series": "watch:flood|count",
                "start": end - timedelta(hours=2),
                "end": end,
                "severity": severity,
                "observed": observed,
                "expected": 20.0,
                "methods": ["prophet", "stumpy"],
                "posts": ["rss:1"],
            }
        },
        upsert=True,
    )


def test_one_alert_per_anomaly_and_channel_across_detector_cycles(store: Store, http_receiver, smtp_receiver):
    clock = Clock(T0 + timedelta(hours=1))
    configure(
        store,
        {"name": "Flood spikes", "kind": "spike", "min_severity": 0.5, "cooldown_minutes": 0},
        [hook(http_receiver), mail(smtp_receiver)],
    )
    store.posts.upsert([threat_post(1, 0.2)])
    svc = service(store, clock)
    anomaly(store, "an-1", 0.3, T0)  # below the rule's severity: nothing
    svc.cycle()
    assert http_receiver.received("/hook") == []
    for cycle in range(4):  # the detector keeps updating the same anomaly
        anomaly(store, "an-1", 0.6 + cycle * 0.1, T0 + timedelta(minutes=5 * cycle), observed=90 + cycle)
        svc.cycle()
        clock.advance(minutes=5)
    assert len(http_receiver.received("/hook")) == 1 and len(smtp_receiver.mails) == 1
    alert = http_receiver.received("/hook")[0].json()["alert"]
    assert alert["kind"] == "spike" and alert["observed"] == 90.0 and alert["expected"] == 20.0
    assert alert["link"] == "http://vigil.test/anomalies?anomaly=an-1"
    assert alert["posts"][0]["id"] == "rss:1"  # evidence ids resolved to posts
    # The email has the chart inline.
    assert any(p.get_content_type() == "image/png" for p in smtp_receiver.mails[0].message.walk())
    anomaly(store, "an-2", 0.9, T0 + timedelta(hours=1))  # a different anomaly: one more alert
    svc.cycle()
    assert len(http_receiver.received("/hook")) == 2
    assert sorted(d["status"] for d in log(store)) == ["sent"] * 4


# --------------------------------------------------------------------------- cooldown, quiet, digest


def test_cooldown_suppresses_then_lets_through(store: Store, http_receiver):
    clock = Clock(datetime(2013, 6, 20, 13, 0, tzinfo=UTC))
    configure(
        store,
        {"name": "Threats", "kind": "threshold", "min_score": 0.8, "cooldown_minutes": 60},
        [hook(http_receiver)],
    )
    svc = service(store, clock)
    store.posts.upsert([threat_post(1, 0.9, 0)])
    svc.cycle()
    clock.advance(minutes=10)
    store.posts.upsert([threat_post(2, 0.95, 10)])
    report = svc.cycle()
    assert report.decisions == {"suppress": 1}
    clock.advance(minutes=51)
    store.posts.upsert([threat_post(3, 0.85, 61)])
    assert svc.cycle().decisions == {"send": 1}
    got = [r.json()["alert"]["posts"][0]["id"] for r in http_receiver.received("/hook")]
    assert got == ["rss:1", "rss:3"]
    suppressed = store.alerts.events({"decision": "suppress"})
    assert [e["key"] for e in suppressed] == ["post|rss:2"]


def test_quiet_hours_hold_then_one_summary(store: Store, http_receiver):
    clock = Clock(datetime(2013, 6, 20, 21, 0, tzinfo=UTC))  # 23:00 in Paris
    configure(
        store,
        {
            "name": "Threats",
            "kind": "threshold",
            "min_score": 0.8,
            "cooldown_minutes": 0,
            "tz": "Europe/Paris",
            "quiet": {"start": "22:00", "end": "07:00"},
        },
        [hook(http_receiver)],
    )
    svc = service(store, clock)
    store.posts.upsert([threat_post(1, 0.9, 0), threat_post(2, 0.97, 5)])
    assert svc.cycle().decisions == {"hold": 2}
    clock.now = datetime(2013, 6, 21, 3, 0, tzinfo=UTC)  # 05:00 in Paris: still quiet
    svc.cycle()
    assert http_receiver.received("/hook") == []
    clock.now = datetime(2013, 6, 21, 5, 2, tzinfo=UTC)  # 07:02 in Paris
    svc.cycle()
    svc.cycle()
    (req,) = http_receiver.received("/hook")
    alert = req.json()["alert"]
    assert alert["kind"] == "held" and alert["title"] == "2 alert(s) from Threats held during quiet hours"
    assert [i["title"] for i in alert["items"]] == [
        "Threat 0.97 in a post on Flood",
        "Threat 0.90 in a post on Flood",
    ]
    assert alert["severity"] == 0.97 and "Quiet hours 22:00-07:00 Europe/Paris ended." in alert["summary"]


def test_hourly_digest_collects_then_sends_once(store: Store, http_receiver, smtp_receiver):
    clock = Clock(datetime(2013, 6, 20, 13, 10, tzinfo=UTC))
    configure(
        store,
        {"name": "Threats", "kind": "threshold", "min_score": 0.8, "digest": "hourly"},
        [hook(http_receiver), mail(smtp_receiver)],
    )
    svc = service(store, clock)
    for i, (threat, minute) in enumerate([(0.81, 70), (0.99, 80), (0.9, 100)], start=1):
        store.posts.upsert([threat_post(i, threat, minute)])
        assert svc.cycle().decisions == {"digest": 1}
        clock.advance(minutes=10)
    assert http_receiver.received("/hook") == [] and smtp_receiver.mails == []
    clock.now = datetime(2013, 6, 20, 14, 1, tzinfo=UTC)
    store.posts.upsert([threat_post(9, 0.88, 121)])  # arrives after the boundary: next digest
    svc.cycle()
    svc.cycle()
    (req,) = http_receiver.received("/hook")
    alert = req.json()["alert"]
    assert alert["kind"] == "digest" and alert["title"] == "Hourly digest: 3 alert(s) from Threats"
    assert [i["title"] for i in alert["items"]] == [
        "Threat 0.99 in a post on Flood",
        "Threat 0.90 in a post on Flood",
        "Threat 0.81 in a post on Flood",
    ]
    assert alert["severity"] == 0.99 and "3 threshold" in alert["summary"]
    text = smtp_receiver.mails[0].message.get_payload()[0].get_payload(decode=True).decode()
    assert "3 alerts:" in text and "Threat 0.99 in a post on Flood" in text
    pending = store.alerts.events({"decision": "digest", "group": None})
    assert [e["key"] for e in pending] == ["post|rss:9"]
    clock.now = datetime(2013, 6, 20, 15, 0, 30, tzinfo=UTC)
    svc.cycle()
    assert len(http_receiver.received("/hook")) == 2
    assert (
        http_receiver.received("/hook")[1].json()["alert"]["title"]
        == "Hourly digest: 1 alert(s) from Threats"
    )


# --------------------------------------------------------------------------- rules fed by the search index


def test_volume_rule_from_the_watchlist_series(store: Store, http_receiver):
    clock = Clock(datetime(2013, 6, 21, 0, 0, tzinfo=UTC))
    configure(
        store,
        {"name": "Flood volume", "kind": "volume", "min_posts": 20, "window_hours": 1},
        [hook(http_receiver)],
    )
    base = datetime(2013, 6, 20, 15, 0, tzinfo=UTC)
    store.posts.upsert(
        [make_post(i, f"flood update {i}", ts=base + timedelta(minutes=2 * i)) for i in range(25)]
    )
    store.posts.upsert(
        [make_post(100 + i, f"other news {i}", ts=base + timedelta(minutes=i)) for i in range(30)]
    )
    svc = service(store, clock)
    svc.cycle()
    (req,) = http_receiver.received("/hook")
    alert = req.json()["alert"]
    assert alert["kind"] == "volume" and alert["observed"] == 25.0 and alert["expected"] == 20.0
    assert alert["title"] == "25 posts on Flood in 1 h (threshold 20)"
    assert alert["window_start"] == "2013-06-20T15:00:00+00:00" and len(alert["posts"]) == 3
    assert (
        alert["link"]
        == "http://vigil.test/explore?watchlist=flood&since=2013-06-20T15:00Z&until=2013-06-20T16:00Z&q=flood"
    )
    svc.cycle()
    assert len(http_receiver.received("/hook")) == 1


def test_sentiment_shift_rule(store: Store, http_receiver):
    clock = Clock(datetime(2013, 6, 25, 0, 0, tzinfo=UTC))
    configure(
        store,
        {"name": "Mood", "kind": "sentiment_shift", "drop": 0.5, "window_hours": 2, "min_scored": 10},
        [hook(http_receiver)],
    )
    start = datetime(2013, 6, 18, 0, 0, tzinfo=UTC)
    docs = [
        make_post(i, f"flood report {i}", ts=start + timedelta(hours=3 * i), scores={"sentiment": 0.3})
        for i in range(40)
    ]
    last = docs[-1]["ts"]
    docs += [
        make_post(
            100 + i,
            f"flood disaster {i}",
            ts=last + timedelta(hours=3, minutes=5 * (i + 1)),
            scores={"sentiment": -0.5},
        )
        for i in range(12)
    ]
    store.posts.upsert(docs)
    service(store, clock).cycle()
    (req,) = http_receiver.received("/hook")
    alert = req.json()["alert"]
    assert alert["kind"] == "sentiment_shift"
    assert alert["observed"] == pytest.approx(-0.5, abs=0.01) and alert["expected"] == pytest.approx(
        0.3, abs=0.01
    )
    assert all("disaster" in p["text"] for p in alert["posts"])  # the most negative posts


def test_new_place_rule(store: Store, http_receiver):
    clock = Clock(datetime(2013, 6, 21, 0, 0, tzinfo=UTC))
    configure(store, {"name": "Places", "kind": "new_place", "cooldown_minutes": 0}, [hook(http_receiver)])
    svc = service(store, clock)

    def placed(i, name, country, minute, scored_at=None):
        return make_post(
            i,
            f"flood in {name}",
            ts=T0 + timedelta(minutes=minute),
            scores={"places": [{"name": name, "lat": 51.0, "lon": -114.0, "country": country}]},
            scored_at=scored_at,
        )

    # A post scored before the watchlist existed is its history: its place is no news.
    store.posts.upsert([placed(1, "Paris", "FR", 0, scored_at=clock.now - timedelta(hours=1))])
    svc.cycle()
    store.posts.upsert([placed(2, "Calgary", "CA", 2), placed(3, "Calgary", "CA", 5)])
    svc.cycle()
    store.posts.upsert(
        [placed(4, "Calgary", "CA", 10), placed(5, "Banff", "CA", 12), placed(6, "Paris", "FR", 14)]
    )
    svc.cycle()
    titles = [r.json()["alert"]["title"] for r in http_receiver.received("/hook")]
    assert titles == ["First post on Flood from Calgary (CA)", "First post on Flood from Banff (CA)"]
    assert http_receiver.received("/hook")[0].json()["alert"]["posts"][0]["id"] == "rss:2"


# --------------------------------------------------------------------------- test button


def test_send_test_is_logged(store: Store, http_receiver):
    store.alerts.put_config("alert_channels", Channel.make(**hook(http_receiver)).to_doc())
    ok, detail = send_test(store, "hook", "http://vigil.test")
    assert ok and detail == "webhook: HTTP 200"
    (req,) = http_receiver.received("/hook")
    assert req.json()["alert"]["kind"] == "test"
    (d,) = log(store)
    assert d["status"] == "sent" and d["kind"] == "test" and d["channel"] == "hook"
    http_receiver.respond("/hook", 500)
    ok, detail = send_test(store, "hook")
    assert not ok and "HTTP 500" in detail
    assert [d["status"] for d in log(store)] == ["failed", "sent"]
    assert send_test(store, "nope") == (False, "no channel named 'nope'")


def test_spike_on_a_detector_shaped_anomaly(store: Store, http_receiver):
    """The anomaly as the detector stores it (``store.anomalies.upsert``, evidence from
    ``pipelines.detect.evidence``): ``_id`` ``<series>|<start>``, ``key|metric`` series,
    evidence posts embedded, lifted terms as dicts; merged in place on later cycles."""
    from pipelines.detect.evidence import top_posts

    clock = Clock(T0 + timedelta(hours=2))
    configure(store, {"name": "Flood spikes", "kind": "spike", "min_severity": 0.5}, [hook(http_receiver)])
    posts = [threat_post(i, 0.1 * i, minutes=i) for i in range(1, 6)]
    store.posts.upsert(posts)
    svc = service(store, clock)

    def detect(severity: float, end: datetime) -> str:
        doc = {
            "series": "watch:flood|count",
            "key": "watch:flood",
            "metric": "count",
            "kind": "watch",
            "value": "flood",
            "start": T0,
            "end": end,
            "peak": T0,
            "observed": 42.0,
            "expected": 7.5,
            "severity": severity,
            "methods": ["prophet"],
            "evidence": {
                "posts": top_posts(posts, "high:threat", 3),
                "terms": [{"term": "flood", "n": 5, "lift": 4.2}],
                "places": [],
            },
        }
        return store.anomalies.upsert(doc)[0]

    aid = detect(0.7, T0 + timedelta(hours=1))
    svc.cycle()
    assert detect(0.95, T0 + timedelta(hours=2)) == aid  # the next cycle merges into it
    svc.cycle()
    (req,) = http_receiver.received("/hook")
    alert = req.json()["alert"]
    assert alert["title"] == "Spike on Flood: 42 vs 8 expected"
    assert [p["id"] for p in alert["posts"]] == ["rss:5", "rss:4", "rss:3"]  # by threat
    assert "top terms: flood" in alert["summary"]
    from urllib.parse import parse_qs, urlsplit

    link = urlsplit(alert["link"])
    assert link.path == "/anomalies" and parse_qs(link.query)["anomaly"] == [aid]
