"""``top_values`` equals a direct count: bounded candidates + exact recounts, over many
segments with deleted and re-added documents, with cuts forced by tiny segment sizes."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import tantivy

from pipelines.search import aggregate
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.schema import SCHEMA, to_dict
from pipelines.search.termids import TermIds

VOCAB = [f"w{i:03d}" for i in range(300)]
VOCAB[20:30] = ['a"b', "back\\slash", "#tag", "c++", "x:y", "(x)", "-neg", "AND", "[x TO y]", "tab\tx"]
"""Common values a query parser would read otherwise: recounts quote and escape them."""
VOCAB_DIR = None
"""Where the module's index keeps its term-id vocabulary (set by the fixture)."""


def _posts(n: int, seed: int = 3) -> list[dict]:
    rnd = random.Random(seed)
    weights = [1 / (i + 1) ** 0.8 for i in range(len(VOCAB))]  # Zipf-like, many near-ties
    posts = []
    for i in range(n):
        terms = sorted(set(rnd.choices(VOCAB, weights, k=rnd.randint(1, 12))))
        posts.append(
            {"_id": f"p{i}", "source": rnd.choice(["a", "b", "c"]), "terms": terms, "text": " ".join(terms)}
        )
    return posts


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> tuple[tantivy.Searcher, dict[str, dict]]:
    """Many small segments (a commit every 150 posts), then a third of the posts deleted
    and some of them re-added with other terms, as the indexer's re-scoring does. Documents
    carry ``tid`` from a vocabulary in :data:`VOCAB_DIR`, as the indexer writes them."""
    global VOCAB_DIR
    VOCAB_DIR = tmp_path_factory.mktemp("vocab")
    vocab = TermIds(VOCAB_DIR)

    def to_document(post: dict) -> tantivy.Document:
        return tantivy.Document.from_dict(to_dict(post, vocab.assign(post["terms"])), SCHEMA)

    posts = {p["_id"]: p for p in _posts(3000)}
    idx = tantivy.Index(SCHEMA)
    writer = idx.writer(15_000_000, 1)
    for i, post in enumerate(posts.values(), 1):
        writer.add_document(to_document(post))
        if i % 150 == 0:
            writer.commit()
    writer.commit()
    rnd = random.Random(5)
    for pid in rnd.sample(sorted(posts), 1000):
        writer.delete_documents_by_term("id", pid)
        if rnd.random() < 0.5:
            posts[pid] = dict(posts[pid], terms=["w299", "w298"], text="w299 w298")
            writer.add_document(to_document(posts[pid]))
        else:
            del posts[pid]
    writer.commit()
    writer.wait_merging_threads()
    vocab.close()
    idx.reload()
    return idx.searcher(), posts


def _direct(posts: list[dict], field: str, size: int) -> list[tuple[str, int]]:
    counts = Counter(v for p in posts for v in (p["terms"] if field == "terms" else [p[field]]))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


@pytest.mark.parametrize("segment_size", [1, 3, 200])
@pytest.mark.parametrize("size", [1, 5, 20, 400])
@pytest.mark.parametrize("selection", ["everything", "w000", "w010 OR w050", "-w001", "source"])
def test_top_values_equal_a_direct_count(
    index, monkeypatch, segment_size: int, size: int, selection: str
) -> None:
    searcher, posts = index
    monkeypatch.setattr(aggregate, "SEGMENT_SIZE", segment_size)
    monkeypatch.setattr(aggregate, "SMALL_SELECTION", 0 if segment_size < 200 else 1000)
    if selection == "everything":
        f, chosen = Filters.make(), list(posts.values())
    elif selection == "source":
        f, chosen = Filters.make(sources=["b"]), [p for p in posts.values() if p["source"] == "b"]
    else:
        from pipelines.search import matches, parse

        f = Filters.make(query=selection)
        chosen = [p for p in posts.values() if matches(parse(selection), p["terms"], p["text"])]
    q = filters_query(SCHEMA, f)
    assert aggregate.count(searcher, q) == len(chosen)
    assert aggregate.top_values(searcher, q, "terms", size) == _direct(chosen, "terms", size)
    assert aggregate.top_values(searcher, q, "source", size) == _direct(chosen, "source", size)
    if segment_size == 200:  # the id path has no cut to force: one uncut aggregation
        by_id = aggregate.top_values(searcher, q, "terms", size, VOCAB_DIR)
        assert by_id == _direct(chosen, "terms", size)


def test_exact_counts_quote_every_value_for_the_filter_request(index, monkeypatch) -> None:
    searcher, posts = index

    def no_count(*_a, **_k):
        raise AssertionError("a value fell back to a count query: the filter request refused it")

    monkeypatch.setattr(aggregate, "count", no_count)
    for selection, chosen in (
        ("", list(posts.values())),
        ("b", [p for p in posts.values() if p["source"] == "b"]),
    ):
        q = filters_query(SCHEMA, Filters.make(sources=[selection] if selection else None))
        want = Counter(t for p in chosen for t in p["terms"])
        assert aggregate.exact_counts(searcher, q, "terms", VOCAB + ["absent"]) == {
            v: want.get(v, 0) for v in VOCAB + ["absent"]
        }
