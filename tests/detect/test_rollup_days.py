"""The detector's day-packed rollups (issue 12 speed): the same series as the hourly documents.

Every figure the detector and the pages derive from rollups must stay exact, so these
tests write through the production writers (posts upsert -> ingest, the scorer's
token-guarded ``$inc`` -> score/place, a recount, a raw insert) and compare the series
built from the day documents with those built from the hourly documents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from pipelines.core.post import build_post
from pipelines.detect.series import build_series
from pipelines.scoring.rollups import as_documents, contributions
from pipelines.store import Store
from pipelines.store import rollup_days as RD
from pipelines.store.rollups import DETECTOR_ROLLUP_KINDS

T0 = datetime(2013, 10, 14, 20, 0, tzinfo=UTC)


def _posts(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ts = T0 + timedelta(minutes=int(rng.integers(0, 60 * 40)))  # 40 h: three UTC days
        post = build_post(
            source=str(rng.choice(["bbc", "reddit", "mastodon"])),
            native_id=f"{seed}-{i}",
            ts=ts,
            text=f"post {i} about the quake",
        ).to_doc()
        post["scores"] = {
            "language": str(rng.choice(["en", "tl"])),
            **{k: float(rng.random()) for k in ("sentiment", "threat", "hate", "toxicity")},
            "topics": ["crisis"],
            "places": [{"name": "Bohol", "country": "PH", "lat": 9.85, "lon": 124.14}] if i % 3 == 0 else [],
        }
        out.append(post)
    return out


def _ident(d: dict) -> tuple:
    return (d["hour"], d["kind"], *(str(d.get(k)) for k in RD.IDENTITY))


def _hourly(store: Store, since: datetime | None = None) -> list[dict]:
    return store.rollups._hourly(DETECTOR_ROLLUP_KINDS, since)


def _assert_same_series(a: list[dict], b: list[dict]) -> None:
    sa, sb = build_series(a, min_total=0), build_series(b, min_total=0)
    assert sa.keys() == sb.keys() and len(sa) > 5
    for sid, frame in sa.items():
        other = sb[sid]
        assert frame["time"].equals(other["time"]), sid
        assert frame["n"].equals(other["n"]), sid
        if sid.is_count:
            assert frame["value"].equals(other["value"]), sid
        else:  # a mean: the same sums, added in the same order per document
            x, y = frame["value"].to_numpy(), other["value"].to_numpy()
            assert np.allclose(x, y, rtol=1e-12, atol=0, equal_nan=True), sid


def _write(store: Store, posts: list[dict], token: str) -> None:
    store.posts.upsert(posts)
    contrib = contributions(posts)
    store.score_queue.apply_rollups(token, contrib)


def test_day_documents_give_the_hourly_series_through_every_writer(store: Store):
    assert store.rollups.days_ready()  # a fresh store keeps them from the start
    _write(store, _posts(120, 1), "tok-1")
    _write(store, _posts(80, 2), "tok-2")
    store.score_queue.apply_rollups("tok-2", contributions(_posts(80, 2)))  # a replay adds nothing
    days = store.db.rollups.count_documents({"kind": "day"})
    hours = store.db.rollups.count_documents({"kind": {"$in": list(RD.PACKED_KINDS)}})
    assert 0 < days < hours
    got = store.rollups.for_detector()
    _assert_same_series(got, _hourly(store))
    since = T0 + timedelta(hours=17, minutes=30)  # mid-day, mid-hour
    part = store.rollups.for_detector(since)
    assert min(d["hour"] for d in part) >= since
    _assert_same_series(part, _hourly(store, since))
    # A recount (score --rebuild-rollups) replaces the score/place days with the recount's.
    recount = list(as_documents(contributions(_posts(120, 1) + _posts(80, 2))).values())
    store.rollups.replace_score(recount)
    _assert_same_series(store.rollups.for_detector(), _hourly(store))
    # Ready-made hourly documents (benchmarks, repairs) get their days too.
    extra = [
        {
            "_id": f"ingest|{(T0 + timedelta(days=3, hours=h)).isoformat()}|rss",
            "kind": "ingest",
            "hour": T0 + timedelta(days=3, hours=h),
            "source": "rss",
            "n": 40 + h,
        }
        for h in range(30)
    ]
    store.rollups.insert(extra)
    _assert_same_series(store.rollups.for_detector(), _hourly(store))


def test_a_store_from_before_the_day_documents_is_packed_on_the_first_read(store: Store):
    _write(store, _posts(120, 3), "tok-3")
    # The previous version wrote no day documents and no marker.
    store.db.rollups.delete_many({"kind": "day"})
    store.db.meta.delete_one({"_id": RD.DAYS_META})
    assert not store.rollups.days_ready()
    before = _hourly(store)
    first = store.rollups.for_detector()
    assert store.rollups.days_ready() and store.db.rollups.count_documents({"kind": "day"}) > 0
    _assert_same_series(first, before)
    _assert_same_series(store.rollups.for_detector(), before)  # now from the day documents
    # Later writes keep both in step.
    _write(store, _posts(40, 4), "tok-4")
    _assert_same_series(store.rollups.for_detector(), _hourly(store))


def test_pack_expand_and_contributions_agree_with_a_naive_reference():
    posts = _posts(120, 5)
    hourly = as_documents(contributions(posts))
    packed = RD.pack(hourly.values())
    from_inc: dict[str, dict] = {}
    for did, c in RD.day_contributions(contributions(posts)).items():
        doc = {"_id": did, **c["set"], "h": {}}
        for path, v in c["inc"].items():
            _, slot, *rest = path.split(".")
            node = doc["h"].setdefault(slot, {})
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            node[rest[-1]] = v
        from_inc[did] = doc
    assert packed == from_inc
    # Naive reference: every hourly document's numbers come back from its day, nothing else.
    back = sorted(RD.expand(packed.values()), key=_ident)
    want = sorted(
        ({k: v for k, v in d.items() if k not in ("_id", "topics")} for d in hourly.values()), key=_ident
    )
    assert back == want
    assert all(RD.day_of(d["hour"]) == d["hour"] for d in packed.values())
    assert pl.Series([len(d["h"]) for d in packed.values()]).max() <= 24
