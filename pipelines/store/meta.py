"""Key/value documents in ``meta``: import checkpoints and named leases.

The schema version and the posts' change counter live in ``meta`` too, but belong to
:mod:`pipelines.store.client` and :mod:`pipelines.store.feed`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pymongo

from pipelines.store.common import Repository, utcnow


class Meta(Repository):
    """``meta``: small named documents any stage may keep (checkpoints, loop leases)."""

    def get(self, key: str) -> dict[str, Any] | None:
        return self.db.meta.find_one({"_id": key})

    def set(self, key: str, **values: Any) -> None:
        self.db.meta.update_one({"_id": key}, {"$set": values}, upsert=True)

    def take_lease(self, name: str, owner: str, lease_s: float) -> bool:
        """Hold a named lease (one alerts loop at a time); renewing your own always works."""

        now = utcnow()
        try:
            res = self.db.meta.update_one(
                {"_id": f"lease:{name}", "$or": [{"owner": owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": owner, "until": now + timedelta(seconds=lease_s)}},
                upsert=True,
            )
        except pymongo.errors.DuplicateKeyError:
            return False  # held by another owner: the upsert hit the existing _id
        return res.matched_count == 1 or res.upserted_id is not None

    def release_lease(self, name: str, owner: str) -> None:
        """Give a lease back (a clean exit), if ``owner`` still holds it."""
        self.db.meta.update_one({"_id": f"lease:{name}", "owner": owner}, {"$set": {"until": utcnow()}})
