"""The posts' change feed: a ``seq`` number on every post written or re-scored.

Why: the search indexer follows posts in the order they change (inserted or
re-scored), by this number, which one atomic ``$inc`` on ``meta`` hands out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from pipelines.store.common import Repository


class ChangeFeed(Repository):
    """Hands out change numbers and reads the posts changed after one."""

    def next_seq(self, n: int) -> int:
        """Reserve ``n`` consecutive change numbers; returns the first.

        Why: the search indexer follows posts in the order they change (inserted or
        re-scored), by this number, which one atomic ``$inc`` on ``meta`` hands out.
        """
        doc = self.db.meta.find_one_and_update(
            {"_id": "post_seq"},
            {"$inc": {"value": int(n)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["value"]) - int(n) + 1

    def current_seq(self) -> int:
        """The last change number handed out (0 before any)."""
        doc = self.db.meta.find_one({"_id": "post_seq"})
        return int(doc["value"]) if doc else 0

    def stamp_seq(self, docs: Sequence[dict[str, Any]]) -> None:
        """Give each post about to be written its own change number (``seq``), in place."""
        if docs:
            first = self.next_seq(len(docs))
            for i, d in enumerate(docs):
                d["seq"] = first + i

    def changed_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """Posts whose ``seq`` is above ``seq``, in ``seq`` order (the indexer's feed)."""
        return list(self.db.posts.find({"seq": {"$gt": int(seq)}}).sort("seq", ASCENDING).limit(int(limit)))

    def with_seqs(self, seqs: Sequence[int]) -> list[dict[str, Any]]:
        """Posts carrying any of these change numbers (late writers the indexer waits for)."""
        return list(self.db.posts.find({"seq": {"$in": [int(s) for s in seqs]}})) if seqs else []
