"""``audit``: the audit log, append-only from Vigil's side.

An append and a read: no update and no delete method exists.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import PyMongoError

from pipelines.store.common import Repository, StoreError


class AuditLog(Repository):
    """Append and read audit events (issue 8)."""

    def append(self, doc: dict[str, Any]) -> None:
        """Add one audit event (the only write the audit log has)."""
        try:
            self.db.audit.insert_one(doc)
        except PyMongoError as exc:
            raise StoreError(f"cannot write the audit log: {exc}") from exc

    def events(
        self,
        limit: int = 200,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Newest audit events first; ``action`` matches exactly or as a prefix ending in '.'."""

        q: dict[str, Any] = {}
        if actor:
            q["actor"] = actor
        if action:
            q["action"] = {"$regex": "^" + re.escape(action)} if action.endswith(".") else action
        if since or until:
            q["at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        cur = self.db.audit.find(q).sort([("at", DESCENDING), ("_id", DESCENDING)])
        return list(cur.limit(max(1, min(limit, 5000))))
