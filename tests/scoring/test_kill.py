"""Two real worker processes; one is SIGKILLed mid-batch; every post is scored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.store import Store
from tests.scoring.conftest import make_posts
from tests.scoring.test_worker import assert_rollups_match_recount

REPO = Path(__file__).resolve().parents[2]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", "score", "--loop"],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_sigkill_mid_batch_loses_and_doubles_nothing(
    store: Store, db_server, standin, tmp_path: Path
) -> None:
    n = 40
    store.posts.upsert(make_posts(n))
    standin.delay_s = 0.4  # each chat request is slow, so a batch is in flight when the kill lands
    env = {
        **os.environ,
        "MONGODB_URI": db_server.uri,
        "MONGODB_DB": store.db.name,
        "OLLAMA_HOST": standin.url,
        "VIGIL_SCORER": "ollama",
        "OLLAMA_BATCH_POSTS": "2",
        "OLLAMA_CONCURRENCY": "2",
        "OLLAMA_TIMEOUT_S": "20",
        "VIGIL_SCORE_BATCH": "6",
        "VIGIL_SCORE_LEASE_S": "2",
        "VIGIL_SCORE_IDLE_S": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    a = _worker(env, tmp_path / "a.log")
    b = None
    try:

        def a_holds_posts() -> bool:
            assert a.poll() is None, (tmp_path / "a.log").read_text()
            return store.posts.find({"status": "claimed", "worker": {"$regex": f":{a.pid}$"}}, limit=1) != []

        _wait(a_holds_posts, 60, "worker A to claim a batch")
        b = _worker(env, tmp_path / "b.log")
        time.sleep(0.3)
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        held_by_a = store.posts.find({"status": "claimed", "worker": {"$regex": f":{a.pid}$"}}, limit=n)
        assert held_by_a, "the kill should have left worker A's batch claimed"

        _wait(lambda: store.score_queue.status_counts().get("scored", 0) == n, 90, "every post to be scored")
        posts = store.posts.find({}, limit=n + 10)
        assert len(posts) == n and {p["status"] for p in posts} == {"scored"}
        assert all(p["score_writes"] == 1 for p in posts), "a post was written twice"
        reclaimed = [p for p in posts if p["_id"] in {h["_id"] for h in held_by_a}]
        assert reclaimed and all(p["claims"] >= 2 for p in reclaimed)
        assert all(p["scores"]["model"] == "ollama:qwen2.5:7b-instruct" for p in posts)
        _wait(
            lambda: store.db.posts.count_documents({"rollup_pending": {"$exists": True}}) == 0,
            20,
            "pending rollups to be applied",
        )
        assert sum(d["n"] for d in store.rollups.score_docs() if d["kind"] == "score") == n
        assert_rollups_match_recount(store)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
    assert b is not None and b.returncode == 0, (tmp_path / "b.log").read_text()[-2000:]
