"""Property: for random queries and filters, the index selects exactly the posts that the
Python evaluator (:func:`pipelines.search.matches` plus the filters in Python) selects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import tantivy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines.search import QuerySyntaxError, matches, parse
from pipelines.search.aggregate import all_ids, count, histogram, top_values
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.schema import build_schema, to_document
from tests.search.conftest import LANGS, SOURCES, START, WORDS, make_posts

POSTS = make_posts(3000)
QUERY_WORDS = [w for w in WORDS if w not in ("of", "the")]


@pytest.fixture(scope="module")
def searcher() -> tantivy.Searcher:
    index = tantivy.Index(build_schema())
    writer = index.writer(50_000_000, 1)
    for post in POSTS:
        writer.add_document(to_document(post))
    writer.commit()
    index.reload()
    return index.searcher()


def _atom() -> st.SearchStrategy[str]:
    phrase = st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
    prefix = st.sampled_from(["flo*", "eva*", "cal*", "eme*", "riv*", "#abf*", "wat*"])
    return st.one_of(st.sampled_from(QUERY_WORDS), phrase, prefix)


def _tree(depth: int = 3) -> st.SearchStrategy[str]:
    return st.recursive(
        _atom(),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" ", " AND ", " OR "]), inner).map(
                lambda t: f"({t[0]}{t[1]}{t[2]})"
            ),
            inner.map(lambda q: f"NOT {q}"),
            inner.map(lambda q: f"-{q}" if not q.startswith(("-", "NOT")) else q),
        ),
        max_leaves=6,
    )


def _in_python(post: dict[str, Any], f: Filters) -> bool:
    if f.since and post["ts"] < f.since or f.until and post["ts"] >= f.until:
        return False
    if f.sources and post["source"] not in f.sources or f.langs and post["lang"] not in f.langs:
        return False
    scores = post.get("scores") or {}
    for name in ("threat", "sentiment"):
        rng = getattr(f, name)
        if rng is not None and not (name in scores and rng[0] <= scores[name] <= rng[1]):
            return False
    return matches(parse(f.query), post["terms"], post["text"])


filters_strategy = st.fixed_dictionaries(
    {},
    optional={
        "since": st.integers(0, 72).map(lambda h: START + timedelta(hours=h)),
        "sources": st.lists(st.sampled_from(SOURCES), max_size=2),
        "langs": st.lists(st.sampled_from(LANGS), max_size=1),
        "threat": st.tuples(st.floats(0, 0.5), st.floats(0.5, 1)),
        "sentiment": st.tuples(st.floats(-1, 0), st.floats(0, 0.9)),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_tree(), extra=filters_strategy)
def test_index_selects_what_the_python_evaluator_selects(
    searcher: tantivy.Searcher, query: str, extra: dict
) -> None:
    try:
        f = Filters.make(query=query, **extra)
    except QuerySyntaxError:
        assume(False)
    expected = {p["_id"] for p in POSTS if _in_python(p, f)}
    q = filters_query(build_schema(), f)
    assert all_ids(searcher, q) == expected
    assert count(searcher, q) == len(expected)


def test_timeline_and_breakdown_equal_a_recount(searcher: tantivy.Searcher) -> None:
    f = Filters.make(query="flood OR fire")
    chosen = [p for p in POSTS if _in_python(p, f)]
    q = filters_query(build_schema(), f)
    hours = dict(histogram(searcher, q, "1h"))
    for p in chosen[:200]:
        assert p["ts"].replace(minute=0, second=0) in hours
    assert sum(hours.values()) == len(chosen)
    by_source = dict(top_values(searcher, q, "source"))
    assert by_source == {s: sum(p["source"] == s for p in chosen) for s in SOURCES}
    terms = dict(top_values(searcher, q, "terms", size=100))
    assert terms["calgary"] == sum("calgary" in p["terms"] for p in chosen)
