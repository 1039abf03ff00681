"""``pipelines search --count`` stays exact past 10,000 matches (the old scan budget's limit).

Issue 13's "done when": the CLI's last line equals an independent recount on a store with
more than 10,000 matching posts. The full-size run (40,000+ real posts, several queries
and filters, the CLI as a subprocess) is ``python -m bench.search_count``; this is the
same comparison at a size that runs in seconds: 12,000 posts in the real embedded store,
the real indexer (``index --rebuild``), the real CLI, and the recount done in Python
over the posts read back from MongoDB with the keyword language's evaluator.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.search import matches, parse
from pipelines.store import Store
from tests.search.conftest import make_posts

N = 12_000


def _recount(store: Store, query: str, since: datetime | None = None, source: str | None = None) -> int:
    tree = parse(query)
    n = 0
    for p in store.posts.iterate(
        {}, batch_size=5000, projection={"ts": 1, "terms": 1, "text": 1, "source": 1}
    ):
        if since is not None and p["ts"] < since:
            continue
        if source is not None and p["source"] != source:
            continue
        n += tree is None or matches(tree, p["terms"], p["text"])
    return n


@pytest.fixture
def big(store: Store, pipelines_cli):
    store.posts.insert(make_posts(N, seed=11, prefix="big"))
    res = pipelines_cli("index", "--rebuild")
    assert res.exit_code == 0, res.output
    return store, pipelines_cli


def test_count_is_exact_past_ten_thousand_matches(big) -> None:
    store, cli = big
    cases = [
        ("-zebra", {}, []),  # a NOT of a word no post has: every post
        ("-(water bridge)", {}, []),
        ('-"state of emergency"', {}, []),
        ("flood OR fire OR calgary OR river OR alert OR help OR state OR road OR closed OR water", {}, []),
        ("-bridge", {"since": datetime(2013, 6, 20, 12, tzinfo=UTC)}, ["--since", "2013-06-20T12:00"]),
        ("-(bridge road)", {"source": "twitter"}, ["--source", "twitter"]),
    ]
    over = 0
    for query, kw, flags in cases:
        res = cli("search", "--count", "--limit", "0", *flags, "--", query)
        assert res.exit_code == 0, res.output
        want = _recount(store, query, **kw)
        assert int(res.output.strip().splitlines()[-1]) == want, query
        over += want > 10_000
    assert over >= 4  # the point of the test: counts past the old 10,000-post scan budget
