"""``quarantine``: every rejected record with its reason and raw payload (nothing is lost)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import PyMongoError

from pipelines.store.common import Repository, StoreError


class Quarantine(Repository):
    """Rejected records, kept with their reason and a bounded raw payload."""

    def add(self, kind: str, reason: str, raw: Any, *, origin: str | None = None, **extra: Any) -> None:
        """Keep a rejected record with its reason and raw payload (nothing is lost)."""
        self.add_many([{"kind": kind, "reason": reason, "raw": raw, "origin": origin, **extra}])

    def add_many(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        now = datetime.now(UTC)
        docs = []
        for r in records:
            doc = dict(r)
            doc.setdefault("at", now)
            doc["raw"] = bounded_raw(doc.get("raw"))
            docs.append(doc)
        try:
            self.db.quarantine.insert_many(docs, ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot write quarantine records: {exc}") from exc

    def recent(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = {"kind": kind} if kind else {}
        return list(self.db.quarantine.find(q).sort("at", DESCENDING).limit(limit))

    def count(self, kind: str | None = None) -> int:
        return self.db.quarantine.count_documents({"kind": kind} if kind else {})


def bounded_raw(raw: Any, limit: int = 64_000) -> Any:
    """Raw payloads are kept whole up to 64 KB; bigger ones keep their head and size.

    A MongoDB document is capped at 16 MB, and a 50 MB line must still leave a record.
    Structured payloads are stored as JSON text, so no key of theirs becomes a field.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        pass
    else:
        # Always JSON text: a hostile payload's "$where" or dotted keys never become fields.
        try:
            raw = json.dumps(raw, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            raw = repr(raw)
    if len(raw) > limit:
        return {"head": raw[:limit], "size": len(raw), "truncated": True}
    return raw
