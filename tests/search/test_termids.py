"""The term-id vocabulary behind ``tid``: stable, append-only ids committed before the index,
top terms by id equal to a direct count from MongoDB, and a clear error when it is lost."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from tantivy import Query

from pipelines.search import aggregate, termids
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, SearchIndexCorrupt, index_path
from pipelines.search.indexer import Indexer, read_position
from pipelines.search.schema import SCHEMA_VERSION
from pipelines.store import Store
from tests.search.conftest import make_posts


def _vocab(path: Path) -> dict[str, int]:
    db = termids.TermIds(path)
    try:
        return dict(db.ids)
    finally:
        db.close()


def _direct(store: Store, size: int, match: dict | None = None) -> list[tuple[str, int]]:
    counts = Counter(
        t for p in store.db.posts.find(match or {}, {"terms": 1}) for t in set(p.get("terms") or [])
    )
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


def _indexed(store: Store, tmp_path: Path, n: int = 300) -> Indexer:
    store.posts.insert(make_posts(n))
    indexer = Indexer(store, SearchIndex.open_or_create(index_path(tmp_path)), batch=64)
    indexer.catch_up()
    return indexer


def _ids_of(index: SearchIndex, post_id: str) -> list[int]:
    """The ``tid`` values one indexed post carries (a terms aggregation of that one post)."""
    agg = {"t": {"terms": {"field": "tid", "size": 1000}}}
    res = index.searcher().aggregate(Query.term_query(index.schema, "id", post_id), agg)
    return sorted(int(b["key"]) for b in res["t"]["buckets"])


def test_ids_are_dense_in_first_seen_order_and_stable_across_restarts_and_reindexing(
    store: Store, tmp_path: Path
) -> None:
    indexer = _indexed(store, tmp_path)
    path = indexer.index.path
    first = _vocab(path)
    assert sorted(first.values()) == list(range(len(first)))  # dense: 0 .. n-1
    post = store.feed.changed_after(0, 1)[0]
    first_terms = sorted(set(post["terms"]))
    assert sorted(first[t] for t in first_terms) == list(range(len(first_terms)))  # the first post's
    before = _ids_of(indexer.index, post["_id"])
    assert before == sorted(first[t] for t in first_terms)  # the post's terms, as ids, ascending
    indexer.close()
    # A restart, the same post written again (re-scored, same terms), and a full rebuild.
    again = Indexer(store, SearchIndex.open(path), batch=64)
    seq = store.feed.next_seq(1)
    store.db.posts.update_one({"_id": post["_id"]}, {"$set": {"scores.threat": 0.5, "seq": seq}})
    assert again.run_once() == 1
    assert _vocab(path) == first and _ids_of(again.index, post["_id"]) == before
    assert again.rebuild() == 300
    assert _vocab(path) == first and _ids_of(again.index, post["_id"]) == before
    again.close()


def test_a_rescored_post_replaces_its_ids_and_top_terms_follow(store: Store, tmp_path: Path) -> None:
    indexer = _indexed(store, tmp_path)
    path = indexer.index.path
    post = store.feed.changed_after(0, 1)[0]
    seq = store.feed.next_seq(1)
    new_terms = ["zzz-brand-new", "flood"]
    store.db.posts.update_one({"_id": post["_id"]}, {"$set": {"terms": new_terms, "seq": seq}})
    assert indexer.run_once() == 1
    ids = _vocab(path)
    assert ids["zzz-brand-new"] == len(ids) - 1  # appended, nothing renumbered
    assert _ids_of(indexer.index, post["_id"]) == sorted(ids[t] for t in new_terms)
    searcher = indexer.index.searcher()
    for size in (1, 5, 40, 400):
        got = aggregate.top_values(searcher, Query.all_query(), "terms", size, path)
        assert got == _direct(store, size)
        assert got == aggregate.top_values(searcher, Query.all_query(), "terms", size)  # string path
    indexer.close()


@pytest.mark.parametrize("seed", range(4))
def test_top_terms_by_id_equal_a_direct_count_on_random_selections(
    store: Store, tmp_path: Path, seed: int
) -> None:
    """Few distinct terms and many ties, so the answer's cut falls inside ties (it repeats
    with a longer list then)."""
    rnd = random.Random(seed)
    indexer = _indexed(store, tmp_path, 400)
    searcher = indexer.index.searcher()
    source, lang = rnd.choice(["twitter", "rss", "reddit"]), rnd.choice(["en", "fr"])
    f = Filters.make(sources=[source], langs=[lang])
    q = filters_query(indexer.index.schema, f)
    for size in (1, 2, 3, 7, 16):
        got = aggregate.top_values(searcher, q, "terms", size, indexer.index.path)
        assert got == _direct(store, size, {"source": source, "lang": lang})
    indexer.close()


def test_a_missing_or_corrupt_vocabulary_is_a_clear_error_and_the_indexer_starts_over(
    store: Store, tmp_path: Path
) -> None:
    indexer = _indexed(store, tmp_path)
    path = indexer.index.path
    indexer.close()
    stored = store.posts.estimated_count()
    vocab = termids.vocab_path(path)
    for damage in ("missing", "corrupt"):
        for suffix in ("", "-wal", "-shm"):
            Path(str(vocab) + suffix).unlink(missing_ok=True)
        if damage == "corrupt":
            vocab.write_bytes(b"not a database" * 100)
        searcher = SearchIndex.open(path).searcher()
        with pytest.raises(SearchIndexCorrupt, match=f"{vocab.name}.*python -m pipelines index --rebuild"):
            aggregate.top_values(searcher, Query.all_query(), "terms", 10, path)
        assert store.posts.estimated_count() == stored  # MongoDB untouched
        # The indexer never pairs old documents with a new vocabulary: it empties the
        # index, removes its position (so `index --loop` rebuilds) and starts one afresh.
        again = Indexer(store, SearchIndex.open(path))
        assert read_position(path) is None
        assert aggregate.count(again.index.searcher(), Query.all_query()) == 0
        assert again.rebuild() == stored
        searcher = again.index.searcher()
        assert aggregate.top_values(searcher, Query.all_query(), "terms", 30, path) == _direct(store, 30)
        again.close()


def test_an_id_beyond_the_vocabulary_makes_the_indexer_start_over(store: Store, tmp_path: Path) -> None:
    """A vocabulary shorter than the index's ids (restored from an old copy, say) is unusable."""
    indexer = _indexed(store, tmp_path)
    path = indexer.index.path
    indexer.close()
    db = termids.TermIds(path)
    last = max(db.ids.values())
    db.db.execute("DELETE FROM vocab WHERE id = ?", (last,))
    db.close()
    again = Indexer(store, SearchIndex.open(path))
    assert aggregate.count(again.index.searcher(), Query.all_query()) == 0
    again.rebuild()
    assert termids.max_indexed_id(again.index.searcher()) == len(_vocab(path)) - 1
    again.close()


def test_an_index_of_schema_version_2_is_refused_and_recreated(store: Store, tmp_path: Path) -> None:
    indexer = _indexed(store, tmp_path, 50)
    path = indexer.index.path
    indexer.close()
    (path / "vigil-version.json").write_text(json.dumps({"schema_version": 2}))
    with pytest.raises(
        SearchIndexCorrupt, match=f"schema version 2, this Vigil needs {SCHEMA_VERSION}.*index --rebuild"
    ):
        SearchIndex.open(path)
    index = SearchIndex.open_or_create(path)
    assert read_position(path) is None and aggregate.count(index.searcher(), Query.all_query()) == 0


def test_ties_past_the_first_list_are_broken_by_term(store: Store, tmp_path: Path) -> None:
    """200 terms counting 1 each behind one counting 200: the first list (53 ids) ends in the
    tie, so it is asked again longer, and the ties go in term order as on the string path."""
    posts = make_posts(200, prefix="t")
    for i, p in enumerate(posts):
        p["terms"] = ["common", f"u{199 - i:03d}"]  # first seen in reverse term order
    store.posts.insert(posts)
    indexer = Indexer(store, SearchIndex.open_or_create(index_path(tmp_path)))
    indexer.catch_up()
    searcher = indexer.index.searcher()
    got = aggregate.top_values(searcher, Query.all_query(), "terms", 3, indexer.index.path)
    assert got == [("common", 200), ("u000", 1), ("u001", 1)] == _direct(store, 3)
    indexer.close()
