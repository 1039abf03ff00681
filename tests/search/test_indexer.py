"""The indexer follows MongoDB: new and re-scored posts, idempotent writes, SIGKILL convergence."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tantivy import Query

from pipelines.search import termids
from pipelines.search.aggregate import all_ids, count, top_values
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer, read_position
from pipelines.store import Store
from tests.search.conftest import make_posts

REPO = Path(__file__).resolve().parents[2]


def _index_ids(path: Path) -> tuple[set[str], int]:
    searcher = SearchIndex.open(path).searcher()
    return all_ids(searcher, Query.all_query()), count(searcher, Query.all_query())


def test_indexer_follows_inserts_and_rescoring(store: Store, tmp_path: Path) -> None:
    store.posts.insert(make_posts(300))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=128)
    assert indexer.catch_up() == 300
    ids, n = _index_ids(index.path)
    assert ids == store.posts.all_ids() and n == 300
    # Re-scored posts get a new change number and are replaced, not duplicated.
    posts = store.feed.changed_after(0, 5)
    first = store.feed.next_seq(5)
    for i, p in enumerate(posts):
        store.db.posts.update_one({"_id": p["_id"]}, {"$set": {"scores.threat": 0.95, "seq": first + i}})
    assert indexer.run_once() == 5
    searcher = index.searcher()
    from pipelines.search.compile import filters_query
    from pipelines.search.filters import Filters

    hot = filters_query(index.schema, Filters.make(threat=(0.91, 1.0)))
    assert all_ids(searcher, hot) == {p["_id"] for p in posts}
    assert count(searcher, Query.all_query()) == 300
    assert read_position(index.path) == indexer.cursor


def test_late_writer_below_the_cursor_is_indexed(store: Store, tmp_path: Path) -> None:
    early, late = make_posts(2, prefix="e"), make_posts(1, prefix="l")
    reserved = store.feed.next_seq(1)  # a writer takes a number, then is slow to write
    store.posts.insert(early)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index)
    indexer.catch_up()
    assert reserved in indexer.gaps and read_position(index.path) == reserved - 1
    late[0]["seq"] = reserved
    store.db.posts.insert_one(late[0])
    indexer.run_once()
    assert _index_ids(index.path)[0] == store.posts.all_ids()
    assert not indexer.gaps and read_position(index.path) == indexer.cursor


def _indexer_proc(store: Store, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MONGODB_URI": store.uri,
        "MONGODB_DB": store.db.name,
        "VIGIL_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "pipelines", "index", "--loop", "--interval", "0.05"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_at_any_moment_converges(store: Store, tmp_path: Path) -> None:
    rnd = random.Random(3)
    store.posts.insert(make_posts(2000, prefix="a"))
    for round_ in range(6):
        proc = _indexer_proc(store, tmp_path)
        try:
            # Posts keep arriving in small batches, so the kill lands while it writes.
            batch = make_posts(400, seed=round_, prefix=f"r{round_}-")
            pause = rnd.uniform(1.5, 4.0) / 20
            for i in range(0, 400, 20):
                store.posts.insert(batch[i : i + 20])
                time.sleep(pause)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    proc = _indexer_proc(store, tmp_path)
    try:
        expected = store.posts.all_ids()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                ids, n = _index_ids(index_path(tmp_path))
            except Exception:  # not created yet
                continue
            if ids == expected:
                break
    finally:
        proc.terminate()
        proc.wait(20)
    ids, n = _index_ids(index_path(tmp_path))
    assert ids == expected and n == len(expected) == 2000 + 6 * 400
    # Every term id in the index is named in the vocabulary (ids are committed first), and
    # top terms by id equal the string field's.
    searcher = SearchIndex.open(index_path(tmp_path)).searcher()
    every = {"t": {"terms": {"field": "tid", "size": 100_000, "segment_size": 100_000}}}
    tids = [int(b["key"]) for b in searcher.aggregate(Query.all_query(), every)["t"]["buckets"]]
    assert tids and len(termids.names(index_path(tmp_path), tids)) == len(tids)
    by_id = top_values(searcher, Query.all_query(), "terms", 30, index_path(tmp_path))
    assert by_id == top_values(searcher, Query.all_query(), "terms", 30)


def test_scoring_through_the_store_reaches_the_index(store: Store, tmp_path: Path) -> None:
    from pipelines.search.compile import filters_query
    from pipelines.search.filters import Filters

    posts = [{**p, "status": "new"} for p in make_posts(10, prefix="s")]
    for p in posts:
        p.pop("scores", None)
    store.posts.insert(posts)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index)
    indexer.catch_up()
    token, claimed = store.score_queue.claim("w1", 10, 60)
    assert len(claimed) == 10
    store.score_queue.complete(token, [(p["_id"], {"threat": 0.97, "topics": ["flood"]}) for p in claimed])
    assert indexer.run_once() == 10
    searcher = index.searcher()
    hot = filters_query(index.schema, Filters.make(threat=(0.96, 1.0)))
    assert all_ids(searcher, hot) == {p["_id"] for p in posts}
    assert count(searcher, Query.all_query()) == 10


def test_pipelines_up_starts_the_indexer() -> None:
    from pipelines.core.config import Settings
    from pipelines.supervisor import process_specs

    specs = {s.name: s for s in process_specs(Settings(vigil_load_sample=False))}
    assert specs["indexer"].argv[1:] == ["-m", "pipelines", "index", "--loop"]
    assert specs["indexer"].oneshot is False


def test_a_batch_committed_but_not_recorded_is_rewritten_without_duplicates(
    store: Store, tmp_path: Path
) -> None:
    """The crash window between ``commit`` and the position write, made deterministic."""
    from pipelines.search.indexer import _write_position

    store.posts.insert(make_posts(250, prefix="w"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    first = Indexer(store, index, batch=100)
    first.catch_up()
    _write_position(index.path, 0)  # as if killed right after the commits
    first.writer.wait_merging_threads()  # releases the lock, as the dead process would
    again = Indexer(store, SearchIndex.open(index.path), batch=100)
    assert again.cursor == 0 and again.catch_up() == 250
    ids, n = _index_ids(index.path)
    assert ids == store.posts.all_ids() and n == 250
