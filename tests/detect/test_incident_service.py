"""Incidents and feedback through the real store and the real detector cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipelines.auth.roles import PermissionDenied
from pipelines.detect import feedback as F
from pipelines.detect.defaults import DetectConfig
from pipelines.detect.service import DetectorService
from pipelines.detect.verdicts import record_verdict
from pipelines.store import Store
from tests.detect.test_service import SPIKE, T0, posts

LATER = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class User:
    username: str
    role: str


ANALYST = User("ana", "analyst")


def service(store: Store, now: datetime = LATER) -> DetectorService:
    return DetectorService(store, DetectConfig(), min_total=10, clock=lambda: now)


def test_the_spikes_series_become_one_titled_incident(store: Store) -> None:
    store.posts.upsert(posts(range(0, 9 * 24), np.random.default_rng(0), spike_at=SPIKE))
    report = service(store).run_cycle()
    assert report.errors == [] and report.incidents >= 1
    spikes = [i for i in store.incidents.find(include_minor=True) if i["start"] <= SPIKE < i["end"]]
    assert len(spikes) == 1
    inc = spikes[0]
    assert {"all|count", "source:city|count"} <= set(inc["series"])
    assert inc["title"].startswith("Surge: ") and ("earthquake" in inc["title"] or "bohol" in inc["title"])
    assert f"{inc['observed_total']:,.0f} posts vs {inc['expected_total']:,.0f} expected" in inc["title"]
    assert f"{SPIKE.day} {SPIKE:%b %Y} {SPIKE:%H:%M}" in inc["title"] and "bohol" in inc["title"].lower()
    assert inc["posts"] >= 80 and not inc["minor"] and inc["status"] == "open"
    # A second cycle over the same data keeps the incident (same id, nothing duplicated).
    store.posts.upsert(posts(range(9 * 24, 9 * 24 + 2), np.random.default_rng(1)))
    service(store).run_cycle()
    again = [i for i in store.incidents.find(include_minor=True) if i["start"] <= SPIKE < i["end"]]
    assert [i["_id"] for i in again] == [inc["_id"]]


def test_a_rebuild_writes_only_incidents_that_changed(store: Store) -> None:
    store.posts.upsert(posts(range(0, 9 * 24), np.random.default_rng(0), spike_at=SPIKE))
    svc = service(store)
    svc.run_cycle()
    before = {i["_id"]: i for i in store.incidents.find(include_minor=True)}
    assert before
    span = (SPIKE - timedelta(days=2), SPIKE + timedelta(days=2))
    assert svc.rebuild_incidents(*span) == 0  # rebuilt identical: nothing written, nothing dropped
    after = {i["_id"]: i for i in store.incidents.find(include_minor=True)}
    assert after.keys() == before.keys()
    assert all(after[k]["updated"] == before[k]["updated"] for k in after)
    # A member anomaly that changes makes its incident written again.
    member = before[next(iter(before))]["members"][0]["id"]
    store.db.anomalies.update_one({"_id": member}, {"$inc": {"observed_total": 1000.0}})
    assert svc.rebuild_incidents(*span) >= 1


def test_a_verdict_is_checked_recorded_and_audited(store: Store) -> None:
    store.posts.upsert(posts(range(0, 9 * 24), np.random.default_rng(0), spike_at=SPIKE))
    service(store).run_cycle()
    inc = next(i for i in store.incidents.find(include_minor=True) if i["start"] <= SPIKE < i["end"])
    with pytest.raises(PermissionDenied):
        record_verdict(store, inc["_id"], "false_positive", user=User("v", "viewer"), note="x")
    with pytest.raises(ValueError, match="needs a note"):
        record_verdict(store, inc["_id"], "false_positive", user=ANALYST)
    with pytest.raises(ValueError, match="unknown verdict"):
        record_verdict(store, inc["_id"], "meh", user=ANALYST, note="x")
    with pytest.raises(ValueError, match="no incident"):
        record_verdict(store, "inc-nope", "useful", user=ANALYST)
    at = datetime(2030, 1, 1, tzinfo=UTC)
    record_verdict(store, inc["_id"], "not_interesting", user=ANALYST, note="a drill", now=at)
    doc = store.incidents.get(inc["_id"])
    assert doc["status"] == "not_interesting" and doc["verdicts"][0]["note"] == "a drill"
    rows = store.detector.feedback(at)
    assert {r["series"] for r in rows} == set(inc["series"])
    assert all(r["until"] == at + timedelta(days=F.DAMPING_DAYS) for r in rows)
    assert store.detector.feedback(at + timedelta(days=F.DAMPING_DAYS)) == []
    assert store.audit.events(action="incident.not_interesting")[0]["target"] == inc["_id"]
    assert all(store.anomalies.get(m["id"])["status"] == "acknowledged" for m in doc["members"])
    # A rebuild keeps the verdict.
    store.posts.upsert(posts(range(9 * 24, 9 * 24 + 2), np.random.default_rng(1)))
    service(store).run_cycle()
    assert store.incidents.get(inc["_id"])["status"] == "not_interesting"


def second_spike(store: Store) -> None:
    """Two more days, with at 10 days 14:00 a spike a bit smaller than the first.

    60 posts against the first's 80: the robust detector (square-root scale, issue 12)
    still raises it without feedback (0.8x the series' record is above the 0.52x that
    the 0.34 threshold asks) and one damping step hides it.
    """
    second = T0 + timedelta(days=10, hours=14)
    docs = posts(range(9 * 24, 11 * 24), np.random.default_rng(2), spike_at=second)
    quake = {d["_id"] for d in docs if "earthquake" in d["text"]}
    drop = set(sorted(quake)[:20])  # 60 posts instead of 80
    store.posts.upsert([d for d in docs if d["_id"] not in drop])


def anomalies_after(store: Store, t: datetime, series: str) -> list[dict]:
    return [a for a in store.anomalies.find() if a["series"] == series and a["start"] > t]


def test_feedback_damps_the_next_cycle_as_documented(store: Store, db_server) -> None:
    """Same data twice: with a false-positive verdict the next cycle misses the later spike."""
    control = Store(db_server.uri, store.db.name + "_c")
    control.schema.ensure()
    try:
        results = {}
        for name, s, verdict in (("control", control, None), ("damped", store, "false_positive")):
            s.posts.upsert(posts(range(0, 9 * 24), np.random.default_rng(0), spike_at=SPIKE))
            service(s, LATER).run_cycle()
            inc = next(i for i in s.incidents.find(include_minor=True) if i["start"] <= SPIKE < i["end"])
            if verdict:  # two dismissals: the full two damping steps
                record_verdict(s, inc["_id"], verdict, user=ANALYST, note="test feed", now=LATER)
                record_verdict(s, inc["_id"], "not_interesting", user=ANALYST, note="still", now=LATER)
            second_spike(s)
            rep = service(s, LATER + timedelta(hours=1)).run_cycle()
            results[name] = (rep, anomalies_after(s, SPIKE + timedelta(days=1), "source:city|count"))
        rep_c, found_c = results["control"]
        rep_d, found_d = results["damped"]
        assert rep_c.damped == 0 and rep_d.damped >= 2
        assert len(found_c) == 1, "without feedback the second spike is raised"
        assert found_c[0]["severity"] < F.damped(DetectConfig(), 2).threshold  # so two steps hide it
        assert found_d == [], "with two damping steps in force it is not"
        assert F.steps(store.detector.feedback(LATER), LATER)["source:city|count"] == 2
        # "useful" protects: the damping is lifted from the next cycle on.
        inc = next(i for i in store.incidents.find(include_minor=True) if i["start"] <= SPIKE < i["end"])
        record_verdict(store, inc["_id"], "useful", user=ANALYST, now=LATER + timedelta(hours=2))
        assert service(store, LATER + timedelta(hours=3)).run_cycle().damped == 0
    finally:
        control.client.drop_database(control.db.name)


def test_damping_rule_is_bounded_and_expires() -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    inc = {"_id": "i", "members": [{"series": "all|count"}, {"series": "lang:en|count"}]}
    rows = [r for _ in range(5) for r in F.feedback_rows(inc, "false_positive", by="a", note="n", at=at)]
    assert F.steps(rows, at) == {"all|count": 2, "lang:en|count": 2}  # at most two steps
    base = DetectConfig()
    d = F.damped(base, 5)
    assert d.threshold == pytest.approx(min(0.9, base.threshold + 0.30))
    assert d.quiet_hours == base.quiet_hours * 3
    assert F.steps(rows, at + timedelta(days=14)) == {}
    useful = F.feedback_rows(
        {"_id": "j", "members": [{"series": "all|count"}]}, "useful", by="a", note="", at=at
    )
    assert F.steps(rows + useful, at + timedelta(hours=1)) == {"lang:en|count": 2}
    assert F.damped(base, 0) is base


def test_the_rebuild_reads_every_anomaly_of_its_span_not_a_capped_page(store: Store, monkeypatch) -> None:
    """A first cycle over a large store holds more anomalies than one bounded ``find``
    returns; the rebuild must group all of them, not silently the newest page."""
    import pipelines.store.anomalies as anomalies_repo
    import pipelines.store.incidents as incidents_repo

    store.posts.upsert(posts(range(0, 9 * 24), np.random.default_rng(0), spike_at=SPIKE))
    svc = service(store)
    svc.run_cycle()
    span = (SPIKE - timedelta(days=2), SPIKE + timedelta(days=2))

    def grouped() -> set[str]:
        return {str(m["id"]) for i in store.incidents.overlapping(*span) for m in i.get("members") or []}

    full = grouped()
    assert len(full) >= 2  # the spike raises several series' anomalies
    store.db.incidents.delete_many({})
    monkeypatch.setattr(anomalies_repo, "FIND_CAP", 1)
    monkeypatch.setattr(incidents_repo, "FIND_CAP", 1)
    assert len(store.anomalies.find(since=span[0], until=span[1], limit=5000)) == 1  # the cap bites
    svc.rebuild_incidents(*span)
    assert grouped() == full
