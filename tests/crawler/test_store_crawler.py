"""The store's crawler methods against the real SecantusDB: locks, runs, cross-posts."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from pipelines.core.post import build_post
from pipelines.ingest.sources import validate_source
from pipelines.store import Store


def _add(store: Store, name: str) -> None:
    store.sources.upsert(validate_source({"name": name, "kind": "hackernews"}).to_doc())


def test_only_one_claimer_wins_a_source_lock(store: Store) -> None:
    _add(store, "hn")
    wins: list[str] = []

    def claim(owner: str) -> None:
        if store.sources.claim("hn", owner, 60) is not None:
            wins.append(owner)

    threads = [threading.Thread(target=claim, args=(f"o{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert store.sources.get("hn")["lock"]["owner"] == wins[0]


def test_a_lock_is_released_by_its_owner_only_and_expires(store: Store) -> None:
    _add(store, "hn")
    assert store.sources.claim("hn", "a", 60) is not None
    assert store.sources.release("hn", "b") is False
    assert store.sources.claim("hn", "b", 60) is None
    assert store.sources.release("hn", "a") is True
    assert store.sources.claim("hn", "b", 0.001) is not None
    time.sleep(0.05)  # Mongo keeps milliseconds: let the 1 ms lease pass for sure
    # b died without releasing: its lease expires and someone else can run the source.
    assert store.sources.claim("hn", "c", 60) is not None


def test_a_definition_update_keeps_state_and_lock(store: Store) -> None:
    _add(store, "hn")
    store.sources.update_state("hn", cursor={"max_id": 5})
    store.sources.claim("hn", "a", 60)
    store.sources.upsert(validate_source({"name": "hn", "kind": "hackernews", "interval_s": 60}).to_doc())
    doc = store.sources.get("hn")
    assert doc["interval_s"] == 60 and doc["state"]["cursor"] == {"max_id": 5} and doc["lock"]["owner"] == "a"


def test_runs_left_running_past_their_deadline_are_abandoned(store: Store) -> None:
    now = datetime.now(UTC)
    store.crawl_runs.start(
        {"_id": "old", "source": "hn", "started": now, "deadline": now - timedelta(seconds=1)}
    )
    store.crawl_runs.start(
        {"_id": "live", "source": "hn", "started": now, "deadline": now + timedelta(hours=1)}
    )
    assert store.crawl_runs.abandon() == 1
    runs = {r["_id"]: r for r in store.crawl_runs.recent("hn")}
    assert runs["old"]["status"] == "abandoned" and "scheduler stopped" in runs["old"]["error"]
    assert runs["live"]["status"] == "running"


def _post(source: str, nid: str, text: str, hour: int) -> dict:
    return build_post(
        source=source, native_id=nid, ts=datetime(2024, 1, 1, hour, tzinfo=UTC), text=text
    ).to_doc()


def test_same_text_from_another_source_is_kept_and_flagged(store: Store) -> None:
    first = [_post("bbc", "1", "Earthquake hits the coast https://bbc.co.uk/x", 1)]
    store.posts.upsert(first)
    assert store.posts.mark_cross_posts(first) == []
    later = [
        _post("reddit", "t3_a", "EARTHQUAKE hits the coast! https://redd.it/y", 2),  # same normalised text
        _post("bbc", "2", "Earthquake hits the coast", 3),  # same source: not a cross-post
        _post("reddit", "t3_b", "Something else entirely", 2),
    ]
    res = store.posts.upsert(later)
    assert res.inserted == 3
    flagged = store.posts.mark_cross_posts(later)
    assert flagged == ["reddit:t3_a"]
    doc = store.posts.get("reddit:t3_a")
    assert doc["cross_post"] is True and doc["cross_post_of"] == "bbc:1"
    assert "cross_post" not in store.posts.get("bbc:2")
    assert store.posts.get("reddit:t3_b") is not None


def test_insert_new_posts_is_idempotent_and_counts_rollups_once(store: Store) -> None:
    docs = [_post("bbc", str(i), f"story number {i}", 1) for i in range(5)]
    first = store.posts.insert_new(docs + [docs[0]])  # a feed listing an entry twice
    assert (first.inserted, sorted(first.inserted_ids or [])) == (5, sorted(d["_id"] for d in docs))
    again = store.posts.insert_new(docs)
    assert (again.inserted, again.existing, again.inserted_ids) == (0, 5, [])
    assert sum(r["n"] for r in store.rollups.ingest() if r["source"] == "bbc") == 5
    assert store.posts.get("bbc:3")["status"] == "new"


def test_insert_new_posts_matches_upsert_posts(store: Store) -> None:
    docs = [_post("a", str(i), f"text {i}", 2) for i in range(3)]
    store.posts.upsert(docs[:1])
    res = store.posts.insert_new(docs)
    assert res.inserted_ids == ["a:1", "a:2"] and res.existing == 1


def test_same_time_cross_posts_go_to_the_later_arrival(store: Store) -> None:
    first = [_post("x", "1", "identical wire copy", 5)]
    store.posts.insert_new(first)
    assert store.posts.mark_cross_posts(first) == []
    later = [_post("w", "1", "identical wire copy", 5)]  # same time, stored after x:1
    store.posts.insert_new(later)
    assert store.posts.mark_cross_posts(later) == ["w:1"]
    assert store.posts.get("w:1")["cross_post_of"] == "x:1"
    together = [_post("b", "1", "another shared text", 6), _post("a", "1", "another shared text", 6)]
    store.posts.insert_new(together)
    assert store.posts.mark_cross_posts(together) == ["b:1"]  # one of the two, by source name
