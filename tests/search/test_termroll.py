"""The term rollup answers exactly what a direct count of the stored posts answers:
after indexing, after re-scoring (posts replaced, not added twice), after a kill between
the index's commit and the rollup's, and after an indexer killed again and again."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.search import aggregate, termroll
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer
from pipelines.store import Store
from tests.search.conftest import START, make_posts

REPO = Path(__file__).resolve().parents[2]
H = timedelta(hours=1)
SELECTIONS = [
    Filters.make(),
    Filters.make(sources=["twitter"]),
    Filters.make(langs=["fr"], sources=["rss", "reddit"]),
    Filters.make(since=START + 5 * H, until=START + 53 * H),
    Filters.make(since=START + 25 * H, sources=["rss"], langs=["en"]),
    Filters.make(until=START + 30 * H),
    Filters.make(since=START - 1000 * H, until=START + 1000 * H),
    Filters.make(places=["Calgary"]),
    Filters.make(places=["Calgary Tower"]),  # a place whose name starts with another's
    Filters.make(places=["Manila"], sources=["twitter", "rss"], since=START + 7 * H, until=START + 40 * H),
    Filters.make(places=["Calgary"], langs=["en"], until=START + 30 * H),
]
PLACES = ["Calgary", "Calgary Tower", "Manila", "Ca"]


def _direct(store: Store, f: Filters, size: int) -> list[tuple[str, int]]:
    """Posts per term among the selected stored posts, by plain comparisons."""
    counts: Counter[str] = Counter()
    for p in store.posts.iterate({}):
        ts = p["ts"].astimezone(UTC)
        if (f.since and ts < f.since) or (f.until and ts >= f.until):
            continue
        if (f.sources and p.get("source") not in f.sources) or (f.langs and p.get("lang") not in f.langs):
            continue
        named = {pl.get("name") for pl in (p.get("scores") or {}).get("places") or []}
        if f.places and f.places[0] not in named:
            continue
        counts.update({t for t in p.get("terms") or [] if isinstance(t, str) and t})
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


def _assert_exact(store: Store, index: SearchIndex) -> None:
    searcher = index.searcher()
    for f in SELECTIONS:
        for size in (1, 7, 400):
            got = termroll.top_terms(index.path, f, size)
            assert got is not None, f"the rollup did not answer {f}"
            assert got == _direct(store, f, size), (f, size)
            assert got == aggregate.top_values(searcher, filters_query(index.schema, f), "terms", size)


def _posts(n: int, prefix: str, seed: int = 1) -> list[dict]:
    posts = make_posts(n, seed=seed, prefix=prefix)
    for p in posts[::17]:
        p.pop("lang")  # posts without a language count in their own cell
    rnd = random.Random(seed)
    for p in posts[::3]:  # one, two or a repeated place: a post counts once per distinct place
        names = rnd.choices(PLACES, k=rnd.choice([1, 1, 2, 3]))
        p.setdefault("scores", {})["places"] = [{"name": n, "lon": -114.0, "lat": 51.0} for n in names]
    return posts


def test_rollup_equals_a_direct_count_after_indexing_and_rescoring(store: Store, tmp_path: Path) -> None:
    store.posts.insert(_posts(1500, "a"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=300)
    indexer.catch_up()
    _assert_exact(store, index)
    # Re-scoring (and a changed language, time and text) gives a post a new change number:
    # the indexer replaces it, and the rollup must replace its counts, not add them again.
    rnd = random.Random(4)
    changed = rnd.sample(sorted(store.posts.all_ids()), 200)
    first = store.feed.next_seq(len(changed))
    for i, pid in enumerate(changed):
        new = {"scores.threat": 0.99, "seq": first + i}
        if i % 2:
            new |= {"lang": "de", "ts": START + rnd.randint(0, 80) * H, "terms": ["rescored", "flood"]}
        if i % 3 == 0:  # places named, changed or removed by a re-score
            new |= {"scores.places": [{"name": n} for n in rnd.sample(PLACES, rnd.randint(0, 2))]}
        store.db.posts.update_one({"_id": pid}, {"$set": new})
    store.posts.insert(_posts(300, "b", seed=2))
    assert indexer._rollup_in_step()
    indexer.catch_up()
    assert indexer._rollup_in_step()  # kept by differences, not rebuilt
    _assert_exact(store, index)
    # Idempotent: the same posts written again (a replayed batch) change nothing.
    indexer.cursor = 0
    indexer.catch_up()
    _assert_exact(store, index)


def test_only_plain_selections_are_answered() -> None:
    for f in (
        Filters.make(query="flood"),
        Filters.make(threat=(0.5, 1.0)),
        Filters.make(places=["Calgary", "Manila"]),  # a post naming both would count twice
        Filters.make(since=datetime(2013, 6, 20, 8, 30, tzinfo=UTC)),
    ):
        assert not termroll.eligible(f)
    assert termroll.eligible(Filters.make(since=START, sources=["rss"], langs=["en", "fr"]))
    assert termroll.eligible(Filters.make(places=["Calgary"], sources=["rss"]))


def test_a_rollup_of_another_version_is_rebuilt(store: Store, tmp_path: Path) -> None:
    store.posts.insert(_posts(300, "v"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    first = Indexer(store, index, batch=100)
    first.catch_up()
    first.close()
    db = sqlite3.connect(termroll.rollup_path(index.path))
    db.execute("UPDATE state SET v = v - 1 WHERE k = 'version'")  # as an older Vigil left it
    db.commit()
    db.close()
    assert termroll.top_terms(index.path, Filters.make(), 5) is None  # never read as if current
    again = Indexer(store, SearchIndex.open(index.path), batch=100)
    assert not again._rollup_in_step()
    again.run_once()  # nothing new: an idle pass rebuilds it
    assert again._rollup_in_step()
    _assert_exact(store, index)
    again.close()


def test_a_kill_between_the_two_commits_is_detected_and_repaired(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.posts.insert(_posts(600, "c"))
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index, batch=200)
    indexer.catch_up()
    store.posts.insert(_posts(200, "d", seed=3))

    def killed(*_args, **_kw):
        raise KeyboardInterrupt  # the process dies after Tantivy's commit, before the rollup's

    monkeypatch.setattr(termroll.TermRollup, "apply", killed)
    with pytest.raises(KeyboardInterrupt):
        indexer.run_once()
    monkeypatch.undo()
    indexer.close()
    assert termroll.top_terms(index.path, Filters.make(), 5) is None  # behind: readers aggregate
    again = Indexer(store, SearchIndex.open(index.path), batch=200)
    again.catch_up()  # the position was not written: the batch is read again
    assert again._rollup_in_step()
    _assert_exact(store, index)
    again.close()


def _indexer_proc(store: Store, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MONGODB_URI": store.uri, "MONGODB_DB": store.db.name,
           "VIGIL_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}  # fmt: skip
    cmd = [sys.executable, "-m", "pipelines", "index", "--loop", "--interval", "0.05"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_rollup_is_exact_after_an_indexer_killed_repeatedly(store: Store, tmp_path: Path) -> None:
    rnd = random.Random(8)
    store.posts.insert(_posts(800, "k"))
    for round_ in range(4):
        proc = _indexer_proc(store, tmp_path)
        try:
            batch = _posts(200, f"r{round_}-", seed=10 + round_)
            for i in range(0, 200, 20):
                store.posts.insert(batch[i : i + 20])
                time.sleep(rnd.uniform(0.05, 0.2))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    index = SearchIndex.open_or_create(index_path(tmp_path))
    indexer = Indexer(store, index)
    indexer.catch_up()
    indexer.run_once()  # an idle pass repairs a rollup left behind by the last kill
    assert index.searcher().num_docs == len(store.posts.all_ids()) == 1600
    _assert_exact(store, index)
    indexer.close()


def test_pages_and_the_cli_answer_plain_selections_from_the_rollup(
    store: Store, tmp_path: Path, pipelines_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from pipelines.read import queries

    store.posts.insert(_posts(500, "u"))
    assert pipelines_cli("index", "--rebuild").exit_code == 0
    index = SearchIndex.open(index_path(tmp_path))
    reader = queries.Reader(store, index)
    f = Filters.make(since=START + 3 * H, sources=["rss", "twitter"])
    keyword = Filters.make(query="flood")

    def no_aggregation(*_a, **_k):
        raise AssertionError("aggregated a selection the rollup answers")

    monkeypatch.setattr(aggregate, "top_values", no_aggregation)
    assert queries.top_terms(reader, f, 10).rows() == _direct(store, f, 10)
    res = pipelines_cli("search", "", "--since", (START + 3 * H).isoformat(), "--source", "rss",
                        "--source", "twitter", "--by", "terms", "--limit", "10", "--format", "json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [(r["terms"], r["posts"]) for r in json.loads(res.output)] == _direct(store, f, 10)
    with pytest.raises(AssertionError, match="aggregated"):
        queries.top_terms(reader, keyword, 10)  # a keyword selection still aggregates


def test_indexed_posts_read_back_count_as_their_documents(tmp_path: Path) -> None:
    """``contributions`` (a replaced post read back from the index) counts exactly what
    ``post_contributions`` counted for the document written: times a millisecond before an
    hour, no time, no source, several places, a map point, and posts whose terms together
    exceed one aggregation's buckets (read back in smaller chunks)."""
    import tantivy

    from pipelines.search.schema import SCHEMA, to_dict, with_term_ids

    rnd = random.Random(4)
    hour = datetime(2024, 3, 1, 5, 59, 59, 999_000, tzinfo=UTC)
    posts = []
    for i in range(300):
        post = {"_id": f"p{i}", "terms": rnd.sample([f"w{k}" for k in range(60)], rnd.randint(0, 9))}
        if i % 3:
            post["ts"] = hour + timedelta(hours=rnd.randint(-50, 50), milliseconds=rnd.choice([0, 1, 999]))
        if i % 4:
            post["source"], post["lang"] = rnd.choice(["rss", "twitter"]), rnd.choice(["en", "fr", ""])
        if i % 5 == 0:
            names = rnd.sample(["Calgary", "Banff", "Manila"], rnd.randint(1, 3))
            post["scores"] = {
                "places": [
                    {"name": n, "lat": 51.0 + rnd.random(), "lon": -114.1 + rnd.random()} for n in names
                ]
            }
        posts.append(post)
    posts += [{"_id": f"big{j}", "ts": hour, "terms": [f"b{j}_{k}" for k in range(30_000)]} for j in range(3)]
    vocab: dict[str, int] = {}
    docs = []
    for post in posts:
        d = to_dict(post)
        for t in d.get("terms", ()):
            vocab.setdefault(t, len(vocab))
        docs.append(with_term_ids(d, vocab))
    index = tantivy.Index(SCHEMA, path=str(tmp_path))
    writer = index.writer(60_000_000, 1)
    for d in docs:
        writer.add_document(tantivy.Document.from_dict(d, SCHEMA))
    writer.commit()
    index.reload()
    got = termroll.contributions(index.searcher(), SCHEMA, [p["_id"] for p in posts])
    assert got == termroll.post_contributions(docs)
    assert termroll.contributions(index.searcher(), SCHEMA, ["absent"]) == {}
