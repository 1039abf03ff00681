"""The worker against the real store: leases, idempotent writes, failures, rollups."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.scoring import PostText
from pipelines.scoring.llm import OllamaConfig, OllamaScorer
from pipelines.scoring.worker import ScoringWorker, rebuild_rollups, recount_rollups
from pipelines.store import Store
from tests.scoring.conftest import make_posts


def assert_rollups_match_recount(store: Store) -> None:
    stored = {d["_id"]: d for d in store.rollups.score_docs()}
    recount = recount_rollups(store)
    assert set(stored) == set(recount)
    for rid, want in recount.items():
        got = stored[rid]
        assert got["n"] == want["n"], rid
        for key in ("sum",):
            for f, v in want[key].items():
                assert got[key][f] == pytest.approx(v, abs=1e-6), (rid, f)
        for key in ("high", "topics"):
            assert got.get(key, {}) == want.get(key, {}), (rid, key)


def test_drain_scores_every_post_once(store: Store, cpu_scorer) -> None:
    docs = make_posts(30)
    store.posts.upsert(docs)
    worker = ScoringWorker(store, cpu_scorer, batch=7, lease_s=60)
    totals = worker.drain()
    assert totals.scored == 30 and totals.failed == 0
    posts = store.posts.find({}, limit=100)
    assert {p["status"] for p in posts} == {"scored"}
    assert all(p["score_writes"] == 1 for p in posts)
    assert all("claim" not in p and "lease_until" not in p and "rollup_pending" not in p for p in posts)
    assert sum(d["n"] for d in store.rollups.score_docs() if d["kind"] == "score") == 30
    assert any(d["kind"] == "place" for d in store.rollups.score_docs())
    assert_rollups_match_recount(store)
    assert worker.drain().claimed == 30  # nothing more to do: totals unchanged
    # a rebuild from posts gives the same documents
    before = {d["_id"]: d["n"] for d in store.rollups.score_docs()}
    rebuild_rollups(store)
    assert {d["_id"]: d["n"] for d in store.rollups.score_docs()} == before


def test_concurrent_claims_are_disjoint(store: Store, db_server) -> None:
    store.posts.upsert(make_posts(60))
    got: list[list[str]] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        s = Store(db_server.uri, store.db.name)
        try:
            for _ in range(50):
                _, docs = s.score_queue.claim(f"w{i}", 7, 60)
                with lock:
                    got.append([d["_id"] for d in docs])
                if not docs and s.db.posts.count_documents({"status": "new"}) == 0:
                    break
        finally:
            s.client.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for batch in got for i in batch]
    assert len(ids) == len(set(ids)) == 60


def test_expired_lease_is_reclaimed_and_the_old_holder_cannot_write(store: Store, cpu_scorer) -> None:
    store.posts.upsert(make_posts(5))
    tok_a, docs_a = store.score_queue.claim("A", 10, lease_s=0.3)
    assert len(docs_a) == 5
    assert store.score_queue.claim("B", 10, lease_s=60)[1] == []  # leased: not claimable
    time.sleep(0.4)
    tok_b, docs_b = store.score_queue.claim("B", 10, lease_s=60)
    assert sorted(d["_id"] for d in docs_b) == sorted(d["_id"] for d in docs_a)
    scores = cpu_scorer.score_texts(["x"])[0].to_doc()
    assert store.score_queue.complete(tok_a, [(d["_id"], scores) for d in docs_a]) == []
    assert len(store.score_queue.complete(tok_b, [(d["_id"], scores) for d in docs_b])) == 5
    assert all(p["score_writes"] == 1 and p["claims"] == 2 for p in store.posts.find({}, limit=10))


def test_rollups_of_a_batch_cut_short_are_recovered_once(store: Store, cpu_scorer) -> None:
    store.posts.upsert(make_posts(6))
    token, docs = store.score_queue.claim("dead", 10, 60)
    outs = cpu_scorer.score([PostText.from_doc(d) for d in docs])
    store.score_queue.complete(token, [(o.post_id, o.scores.to_doc()) for o in outs])
    # the worker died here: posts scored, rollups not yet counted
    assert store.rollups.score_docs() == []
    worker = ScoringWorker(store, cpu_scorer)
    assert worker.recover_rollups(older_than_s=0) == 1
    assert worker.recover_rollups(older_than_s=0) == 0
    assert sum(d["n"] for d in store.rollups.score_docs() if d["kind"] == "score") == 6
    assert_rollups_match_recount(store)


def test_a_post_failing_three_times_is_failed_with_the_error(store: Store, standin) -> None:
    standin.mode = "malformed"
    scorer = OllamaScorer(
        OllamaConfig(
            hosts=[standin.url],
            topics=("politics", "other"),
            retries=0,
            backoff_s=0.01,
            invalid_fallback=False,
        )
    )
    store.posts.upsert(make_posts(3))
    worker = ScoringWorker(store, scorer, batch=10, max_attempts=3)
    reports = [worker.run_once() for _ in range(4)]
    assert [r.retry for r in reports[:3]] == [3, 3, 0] and reports[2].failed == 3
    assert reports[3].claimed == 0
    posts = store.posts.find({}, limit=10)
    assert {p["status"] for p in posts} == {"failed"}
    assert all(p["attempts"] == 3 and "not JSON" in p["error"] for p in posts)
    assert store.quarantine.count("score") == 9
    scorer.close()


def test_a_post_that_keeps_killing_workers_is_parked(store: Store) -> None:
    store.posts.upsert(make_posts(1))
    for _ in range(3):
        _, docs = store.score_queue.claim("doomed", 5, lease_s=0.01, max_claims=3)
        assert len(docs) == 1
        time.sleep(0.03)  # the worker "dies": the lease runs out
    assert store.score_queue.claim("next", 5, lease_s=60, max_claims=3)[1] == []
    assert store.score_queue.fail_stuck(3) == 1
    (post,) = store.posts.find({}, limit=5)
    assert post["status"] == "failed" and "claimed 3 times" in post["error"]


def test_rescoring_then_rebuilding_keeps_rollups_exact(store: Store, cpu_scorer) -> None:
    store.posts.upsert(make_posts(12))
    worker = ScoringWorker(store, cpu_scorer, batch=5)
    worker.drain()
    assert store.score_queue.requeue({"source": "test"}) == 8
    worker.drain()
    posts = store.posts.find({}, limit=20)
    assert {p["status"] for p in posts} == {"scored"}
    # the requeued posts were counted twice until the rebuild
    assert sum(d["n"] for d in store.rollups.score_docs() if d["kind"] == "score") == 20
    rebuild_rollups(store)
    assert sum(d["n"] for d in store.rollups.score_docs() if d["kind"] == "score") == 12
    assert_rollups_match_recount(store)
