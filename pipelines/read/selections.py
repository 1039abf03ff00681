"""The exact queries of recent drawn-area selections, kept per index commit.

Why: a drawn area's query is the one selection that reads the index to be built (its rim's
points are tested and the smaller group named by id, :func:`pipelines.search.select.area_query`:
~40 ms at 10M bench posts, ~5 ms at 1M), and one page asks for the same selection several
times (Explore: count, timeline, table, breakdowns; the Map: count, clusters, table). The
query holds post ids and cell values, not document addresses, so it stays exact for every
searcher of the commit it was built on; like Elasticsearch's filter cache, it is kept until
the index changes.

Keys hold the index's :meth:`~pipelines.search.index.SearchIndex.generation` (a hash of its
``meta.json``), read before *and* after the searcher is opened (it reads ``meta.json`` when it
reloads): when the two agree, the searcher sees exactly that commit, so a query kept under it
was built on that commit and is given only with a searcher of it; when they differ (a commit
in between), the query is built on the searcher and not kept. Selections naming a watchlist
are not kept (a watchlist's definition lives in MongoDB and can change without a commit).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from tantivy import Query

SIZE = 16
"""Selections kept per process (each holds a few thousand ids and the cover's cell sets,
which :func:`pipelines.search.select._cells_query` shares between them)."""


class SelectionCache:
    """A small, thread-safe least-recently-used map from selection keys to queries (the
    dashboard's sessions run in threads of one process)."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.hits = self.misses = 0
        self._items: OrderedDict[Hashable, Query] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Query | None:
        with self._lock:
            query = self._items.get(key)
            if query is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return query

    def put(self, key: Hashable, query: Query) -> None:
        with self._lock:
            self._items[key] = query
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
