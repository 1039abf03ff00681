"""Top term ids aggregated in two halves on two threads (:mod:`pipelines.search.halves`): the
halves partition the selection, and the merged answer equals a direct count from MongoDB,
whether the halves settle it or the one-thread aggregation takes over."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from tantivy import Query

from pipelines.search import aggregate, halves
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer
from pipelines.store import Store
from tests.search.conftest import make_posts


def _direct(store: Store, size: int, match: dict) -> list[tuple[str, int]]:
    counts = Counter(t for p in store.db.posts.find(match, {"terms": 1}) for t in set(p.get("terms") or []))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


@pytest.fixture
def indexed(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Indexer:
    """600 posts whose terms follow a Zipf-like law (a long tail, many ties), split always."""
    rnd = random.Random(7)
    posts = make_posts(600)
    vocab = [f"w{i}" for i in range(300)]
    for p in posts:
        extra = {rnd.choice(vocab[: rnd.choice([5, 20, 80, 300])]) for _ in range(rnd.randint(0, 6))}
        p["terms"] = sorted(set(p.get("terms") or []) | extra)
    store.posts.insert(posts)
    indexer = Indexer(store, SearchIndex.open_or_create(index_path(tmp_path)), batch=50)
    indexer.catch_up()
    monkeypatch.setattr(halves, "SPLIT_MIN_DOCS", 0)
    monkeypatch.setattr(halves, "_SPLITS", {})
    yield indexer
    indexer.close()


def test_the_halves_partition_the_selection_at_any_point(store: Store, indexed: Indexer) -> None:
    searcher = indexed.index.searcher()
    q = filters_query(indexed.index.schema, Filters.make(langs=["en"]))
    whole = aggregate.count(searcher, q)
    seqs = sorted(p["seq"] for p in store.db.posts.find({}, {"seq": 1}))
    middle = halves.split_point(searcher, indexed.index.path)
    assert middle is not None and seqs[len(seqs) // 4] < middle < seqs[3 * len(seqs) // 4]  # about even
    for point in (seqs[0] - 5, seqs[0], middle, seqs[-1], seqs[-1] + 5):
        first, second = halves.split_query(q, point)
        a, b = aggregate.count(searcher, first), aggregate.count(searcher, second)
        assert a + b == whole
        assert a == store.db.posts.count_documents({"lang": "en", "seq": {"$lt": point}})


@pytest.mark.parametrize("half_top", [1, 3, 30, 1000])
def test_top_terms_from_two_halves_equal_a_direct_count(
    store: Store, indexed: Indexer, monkeypatch: pytest.MonkeyPatch, half_top: int
) -> None:
    monkeypatch.setattr(halves, "HALF_TOP", half_top)
    outcomes: list[bool] = []
    real_merge = halves.merge

    def merge(parts: list, size: int) -> list | None:
        got = real_merge(parts, size)
        outcomes.append(got is not None)
        return got

    monkeypatch.setattr(halves, "merge", merge)
    searcher = indexed.index.searcher()
    rnd = random.Random(half_top)
    selections = [({}, Query.all_query())] + [
        ({"lang": lang}, filters_query(indexed.index.schema, Filters.make(langs=[lang])))
        for lang in ("en", "fr")
    ]
    for match, q in selections:
        for size in (1, 2, 5, 20, rnd.randint(3, 60)):
            got = aggregate.top_values(searcher, q, "terms", size, indexed.index.path)
            assert got == _direct(store, size, match), (match, size)
    if half_top == 1000:
        assert all(outcomes)  # every id returned by both halves: always settled there
    else:
        assert True in outcomes and False in outcomes  # settled from the lists, and handed back


def test_merge_settles_only_when_nothing_left_out_can_reach_the_top() -> None:
    # Half lists: ids -> exact count in that half, and the bound on every id left out.
    settled = halves.merge([({1: 10, 2: 6, 3: 2}, 2), ({1: 9, 2: 7, 4: 3}, 3)], 2)
    assert settled == [(1, 19), (2, 13)]
    # Id 4 is known as 3 and may hold up to 2 more in the first half: 5 < 13, still settled.
    # With size 3 the floor is id 4's 3 (or id 3's 2 + 3): nothing is exact enough.
    assert halves.merge([({1: 10, 2: 6, 3: 2}, 2), ({1: 9, 2: 7, 4: 3}, 3)], 3) is None
    # An id never returned may count up to 2 + 3 = 5 in all: it could tie with a floor of 5.
    assert halves.merge([({1: 3, 2: 2}, 2), ({1: 3, 2: 3}, 3)], 2) is None
    # Lists that were not full hold every id: exact whatever the size.
    assert halves.merge([({1: 1, 2: 1}, 0), ({3: 2}, 0)], 5) == [(3, 2), (1, 1), (2, 1)]


@pytest.mark.parametrize(
    "query",
    ["w0", "w1 w2", "w0 OR w3 OR flood", '"w0 w1"', "(w0 OR w1) -w2", "w10*", "-w0", "w0 OR w10*", "w4 w10*"],
)
def test_the_selection_bound_holds_and_is_a_document_frequency_where_it_can_be(
    store: Store, indexed: Indexer, query: str
) -> None:
    searcher = indexed.index.searcher()
    for f in (
        Filters.make(query=query),
        Filters.make(query=query, langs=["en"]),
        Filters.make(query=query, sources=["twitter", "rss"], langs=["fr"]),
    ):
        bound = halves.selection_bound(searcher, f)
        selected = aggregate.count(searcher, filters_query(indexed.index.schema, f))
        if bound is not None:
            assert bound >= selected, (query, f)
    plain = halves.selection_bound(searcher, Filters.make(query=query))
    with_terms = {t: store.db.posts.count_documents({"terms": t}) for t in ("w0", "w1", "w2", "w3", "flood")}
    expected = {
        "w0": with_terms["w0"],
        "w1 w2": min(with_terms["w1"], with_terms["w2"]),
        "w0 OR w3 OR flood": with_terms["w0"] + with_terms["w3"] + with_terms["flood"],
        "(w0 OR w1) -w2": with_terms["w0"] + with_terms["w1"],
        "w4 w10*": store.db.posts.count_documents({"terms": "w4"}),
    }
    if query in expected:
        assert plain == expected[query]
    elif query in ("w10*", "-w0", "w0 OR w10*"):
        assert plain is None  # a prefix or a lone negation bounds nothing cheaply


def test_a_selection_known_to_be_small_stays_on_one_thread(
    indexed: Indexer, monkeypatch: pytest.MonkeyPatch
) -> None:
    searcher = indexed.index.searcher()
    q = Query.all_query()
    assert halves.top_ids(searcher, q, 5, indexed.index.path, aggregate.ID_UNCUT) is not None  # split
    monkeypatch.setattr(halves, "SPLIT_MIN_SELECTION", 601)
    assert halves.top_ids(searcher, q, 5, indexed.index.path, aggregate.ID_UNCUT, bound=600) is None
    assert halves.top_ids(searcher, q, 5, indexed.index.path, aggregate.ID_UNCUT, bound=601) is not None


def test_a_half_that_cut_its_list_hands_the_answer_back(
    store: Store, indexed: Indexer, monkeypatch: pytest.MonkeyPatch
) -> None:
    searcher = indexed.index.searcher()
    real = halves.half_counts
    calls: list[int] = []

    def cut_second(searcher, query, top, segment_size):
        calls.append(1)
        return None if len(calls) % 2 == 0 else real(searcher, query, top, segment_size)

    monkeypatch.setattr(halves, "half_counts", cut_second)
    assert halves.top_ids(searcher, Query.all_query(), 5, indexed.index.path, aggregate.ID_UNCUT) is None
    got = aggregate.top_values(searcher, Query.all_query(), "terms", 7, indexed.index.path)
    assert got == _direct(store, 7, {}) and len(calls) == 4
