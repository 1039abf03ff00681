"""Post documents read from MongoDB, kept by ``(id, seq)`` so a page rerun reads only what changed.

Why: the Map's table lists the newest 1,000 located posts of a selection. The index gives
their ids in 20 ms, but reading 1,000 documents by id from the embedded SecantusDB takes
0.3-0.6 s at 1M posts, and the 30 s query cache made every visit after it expired pay it
again although the same posts were listed. Every write of a post (insert, re-score) gives
it a new change number (``seq``, :mod:`pipelines.store.feed`) and the indexer stores that
number with the post, so ``(id, indexed seq)`` names one version of a post: a cached
version is the one the index describes, and a changed post comes back under a new key
and is read again. A post indexed without a ``seq`` (written before the feed existed)
has not changed since, since any change stamps one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from pipelines.store import Store

MAX_POSTS = 20_000
"""Versions kept (least recently used dropped): a few tables' worth, a few tens of MB at most."""

Version = tuple[str, int | None]


class PostCache:
    """A bounded, thread-safe map of post versions to documents (one projection per cache)."""

    def __init__(self, projection: dict[str, Any], max_posts: int = MAX_POSTS) -> None:
        self.projection = dict(projection)
        self.max_posts = max_posts
        self._docs: OrderedDict[Version, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0
        """Documents read from MongoDB so far (what tests and benches look at)."""

    def get(self, store: Store, versions: list[Version]) -> list[dict[str, Any]]:
        """The documents of ``versions`` in their order (posts gone from MongoDB left out).

        Callers must not change the documents: they are shared with later calls.
        """
        with self._lock:
            have = {v: self._docs[v] for v in versions if v in self._docs}
            for v in have:
                self._docs.move_to_end(v)
        missing = [v for v in versions if v not in have]
        if missing:
            ids = [pid for pid, _ in missing]
            by_id = {d["_id"]: d for d in store.posts.by_ids(ids, self.projection)}
            with self._lock:
                self.reads += len(by_id)
                for v in missing:
                    doc = by_id.get(v[0])
                    if doc is not None:
                        have[v] = self._docs[v] = doc
                while len(self._docs) > self.max_posts:
                    self._docs.popitem(last=False)
        return [have[v] for v in versions if v in have]
