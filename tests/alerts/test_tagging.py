"""The watch pass on a real store: tags and rollups exactly once, equal to a recount,
across new posts, edits, deletions, back-fills in small batches and injected crashes."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from pipelines.alerts.tagging import JOURNAL_KEY, WatchTagger, rebuild_watch_rollups
from pipelines.store import Store, hour_floor
from pipelines.watchlists import Watchlist, match_post
from tests.alerts.conftest import T0, make_post

TEXTS = [
    "Flood in Calgary, the Bow river is rising",
    "ACME recalls anvils after the flood",
    "Evacuation ordered, flood waters rising",
    "Nothing to see: a sunny day",
    "acme job offer",
    "Flood drill at the school",
]


def posts(start: int, n: int, status: str = "scored") -> list[dict]:
    out = []
    for i in range(start, start + n):
        out.append(
            make_post(
                i,
                TEXTS[i % len(TEXTS)] + f" #{i}",
                ts=T0 + timedelta(minutes=23 * i),
                source=("rss", "reddit")[i % 2],
                status=status,
                scores={
                    "sentiment": round(((i * 37) % 200) / 100 - 1, 2),
                    "threat": round(((i * 53) % 100) / 100, 2),
                    "hate": round(((i * 17) % 100) / 100, 2),
                    "toxicity": 0.1,
                    "places": [
                        {
                            "name": ("Calgary", "Banff", "Paris")[i % 3],
                            "lat": 1.0,
                            "lon": 2.0,
                            "country": "CA",
                        }
                    ],
                },
            )
        )
    return out


def add_watchlist(store: Store, **values) -> Watchlist:
    wl = Watchlist.make(**values)
    doc = wl.to_doc()
    doc.pop("created"), doc.pop("updated")
    store.put_config("watchlists", doc)
    return wl


def recount(store: Store, wl: Watchlist) -> dict:
    """Rollups computed from scratch, in Python, from every scored post the matcher selects."""
    out: dict = defaultdict(lambda: {"n": 0, "sum": defaultdict(float), "high": defaultdict(int)})
    for p in store.iter_posts({"status": "scored"}):
        if not match_post(wl, p):
            continue
        r = out[hour_floor(p["ts"])]
        r["n"] += 1
        for f in ("sentiment", "threat", "hate", "toxicity"):
            r["sum"][f] += p["scores"][f]
        for f in ("threat", "hate", "toxicity"):
            r["high"][f] += int(p["scores"][f] >= 0.5)
    return {
        h: (r["n"], {k: round(v, 6) for k, v in r["sum"].items()}, dict(r["high"])) for h, r in out.items()
    }


def stored(store: Store, wid: str) -> dict:
    return {
        d["hour"]: (
            d["n"],
            {k: round(v, 6) for k, v in d["sum"].items()},
            {k: v for k, v in d["high"].items() if v},
        )
        for d in store.watch_rollups(wid)
    }


def norm(r: dict) -> dict:
    return {h: (n, s, {k: v for k, v in hi.items() if v}) for h, (n, s, hi) in r.items()}


def tagged(store: Store, wid: str) -> set[str]:
    return {p["_id"] for p in store.iter_posts({"watchlists": wid}, projection={"_id": 1})}


def expected_tags(store: Store, wl: Watchlist) -> set[str]:
    return {p["_id"] for p in store.iter_posts({"status": "scored"}) if match_post(wl, p)}


def check(store: Store, *wls: Watchlist) -> None:
    for wl in wls:
        assert tagged(store, wl.id) == expected_tags(store, wl)
        assert stored(store, wl.id) == norm(recount(store, wl))


def test_live_tagging_counts_each_post_once(store: Store):
    flood = add_watchlist(store, name="Flood", query="flood", exclude="drill")
    acme = add_watchlist(store, name="ACME", query="acme", sources=["rss", "reddit"])
    store.upsert_posts(posts(0, 60))
    tagger = WatchTagger(store, batch=25)
    first = tagger.run()
    assert first.done and first.live_seen == 60
    check(store, flood, acme)
    assert sum(d["n"] for d in store.watch_rollups("flood")) == len(expected_tags(store, flood)) > 10

    # A second pass changes nothing; new posts are counted once, on top.
    before = stored(store, "flood")
    again = tagger.run()
    assert again.live_seen == 0 and stored(store, "flood") == before
    store.upsert_posts(posts(60, 30))
    tagger.run()
    check(store, flood, acme)


def test_unscored_posts_wait_for_their_scores(store: Store):
    flood = add_watchlist(store, name="Flood", query="flood")
    store.upsert_posts(posts(0, 12, status="new"))
    assert WatchTagger(store).run().live_seen == 0
    assert tagged(store, "flood") == set()
    # The scorer finishes them: now they are tagged.
    for p in posts(0, 12):
        store.db.posts.update_one({"_id": p["_id"]}, {"$set": {"status": "scored", "scores": p["scores"]}})
    WatchTagger(store).run()
    check(store, flood)
    assert tagged(store, "flood")


def test_new_watchlist_back_fills_history_in_batches(store: Store):
    store.upsert_posts(posts(0, 50))
    add_watchlist(store, name="Other", query="sunny")
    WatchTagger(store).run()  # history is watched (by another watchlist) before this one exists
    flood = add_watchlist(store, name="Flood", query="flood OR evacuation")
    tagger = WatchTagger(store, batch=7)
    report = tagger.run()
    assert report.reset == ["flood"] and report.done
    assert report.backfilled["flood"] == len(expected_tags(store, flood))
    state = store.get_config("watchlists", "flood")["tagging"]
    assert state["phase"] == "live" and state["fingerprint"] == flood.fingerprint
    check(store, flood)
    # Back-filled places are history (they must not raise "new place" alerts).
    places = store.watch_places("flood")
    assert {p["name"] for p in places} == {"Calgary", "Banff", "Paris"} and all(p["history"] for p in places)


def test_edit_retags_and_delete_cleans_up(store: Store):
    store.upsert_posts(posts(0, 40))
    add_watchlist(store, name="Flood", query="flood")
    WatchTagger(store).run()
    edited = add_watchlist(store, name="Flood", query="flood", exclude="drill OR acme")
    report = WatchTagger(store).run()
    assert report.reset == ["flood"]
    check(store, edited)
    # Renaming does not re-tag (same fingerprint).
    add_watchlist(store, name="Flood (renamed)", id="flood", query="flood", exclude="drill OR acme")
    assert WatchTagger(store).run().reset == []
    store.delete_config("watchlists", "flood")
    report = WatchTagger(store).run()
    assert report.orphans == ["flood"]
    assert tagged(store, "flood") == set() and store.watch_rollups("flood") == []
    assert store.watch_places("flood") == []


def test_crash_after_tagging_is_repaired_by_the_journal(store: Store, monkeypatch: pytest.MonkeyPatch):
    flood = add_watchlist(store, name="Flood", query="flood")
    WatchTagger(store).run()  # back-fill of an empty store
    store.upsert_posts(posts(0, 30))
    real = Store.inc_watch_rollups

    def crash(self, *a, **kw):
        raise RuntimeError("killed between tagging and counting")

    monkeypatch.setattr(Store, "inc_watch_rollups", crash)
    with pytest.raises(RuntimeError):
        WatchTagger(store).run()
    assert tagged(store, "flood") == expected_tags(store, flood)  # posts were tagged and marked...
    assert store.watch_rollups("flood") == []  # ...but not counted
    journal = {k: v for k, v in store.get_meta(JOURNAL_KEY).items() if k != "_id"}
    assert journal["token"] and journal["contrib"] and journal["tags"]
    monkeypatch.setattr(Store, "inc_watch_rollups", real)
    WatchTagger(store).run()
    check(store, flood)
    assert store.get_meta(JOURNAL_KEY)["token"] is None
    # The same journal replayed once more (a crash right after applying it) adds nothing.
    before = stored(store, "flood")
    store.set_meta(JOURNAL_KEY, **journal)
    WatchTagger(store).run()
    assert stored(store, "flood") == before


def test_crash_after_counting_does_not_count_twice(store: Store, monkeypatch: pytest.MonkeyPatch):
    flood = add_watchlist(store, name="Flood", query="flood")
    WatchTagger(store).run()
    store.upsert_posts(posts(0, 30))
    real_set_meta = Store.set_meta
    calls = {"n": 0}

    def crash_on_clear(self, key, **values):
        if key == JOURNAL_KEY and values.get("token") is None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("killed after counting, before clearing the journal")
        return real_set_meta(self, key, **values)

    monkeypatch.setattr(Store, "set_meta", crash_on_clear)
    with pytest.raises(RuntimeError):
        WatchTagger(store).run()
    monkeypatch.setattr(Store, "set_meta", real_set_meta)
    WatchTagger(store).run()  # replays the journal: the token stops a second count
    check(store, flood)


def test_crash_mid_back_fill_resumes_from_the_cursor(store: Store, monkeypatch: pytest.MonkeyPatch):
    store.upsert_posts(posts(0, 60))
    add_watchlist(store, name="Other", query="sunny")
    WatchTagger(store).run()
    flood = add_watchlist(store, name="Flood", query="flood OR acme")
    calls = {"n": 0}
    real = Store.apply_watch_tags

    def flaky(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed in the third batch")
        return real(self, *a, **kw)

    monkeypatch.setattr(Store, "apply_watch_tags", flaky)
    with pytest.raises(RuntimeError):
        WatchTagger(store, batch=8).run()
    state = store.get_config("watchlists", "flood")["tagging"]
    assert state["phase"] == "backfill" and state["cursor"] is not None and state["tagged"] > 0
    monkeypatch.setattr(Store, "apply_watch_tags", real)
    report = WatchTagger(store, batch=8).run()
    assert report.reset == []  # resumed, not restarted
    check(store, flood)


def test_rebuild_equals_the_incremental_rollups(store: Store):
    flood = add_watchlist(store, name="Flood", query="flood")
    store.upsert_posts(posts(0, 40))
    WatchTagger(store).run()
    before = stored(store, "flood")
    store.db.rollups.update_many({"kind": "watch"}, {"$set": {"n": 999}})  # damage
    store.db.rollups.insert_one({"_id": "watch|x|flood", "kind": "watch", "watchlist": "flood", "n": 5})
    assert rebuild_watch_rollups(store) == len(before)
    assert stored(store, "flood") == before
    check(store, flood)


def test_live_places_are_new_and_earliest_post_wins(store: Store):
    add_watchlist(store, name="Flood", query="flood")
    WatchTagger(store).run()
    batch = posts(0, 12)
    store.upsert_posts(batch)
    WatchTagger(store).run()
    places = {p["name"]: p for p in store.watch_places("flood")}
    assert places and not any(p["history"] for p in places.values())
    flood_posts = sorted((p for p in batch if "flood" in p["terms"]), key=lambda p: p["ts"])
    for name, p in places.items():
        first = next(q for q in flood_posts if q["scores"]["places"][0]["name"] == name)
        assert p["first_seen"] == first["ts"] and p["post"] == first["_id"]


def test_no_watchlist_writes_nothing_then_the_first_one_takes_everything(store: Store):
    store.upsert_posts(posts(0, 30))
    report = WatchTagger(store).run()
    assert report.live_seen == 0 and store.db.posts.count_documents({"watched": True}) == 0
    flood = add_watchlist(store, name="Flood", query="flood")
    report = WatchTagger(store).run()
    assert report.live_seen == 30 and report.backfilled == {"flood": 0}
    check(store, flood)
