"""What every repository of the store shares: the error type, results and small helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

FIND_CAP = 5000
"""Most documents one bounded ``find`` returns (pages, the CLI); whole-span reads use ``overlapping``."""


class StoreError(RuntimeError):
    """The database cannot be reached or refused an operation; the message says which."""


@dataclass
class UpsertResult:
    """What a bulk upsert did: ``inserted`` new ids, ``existing`` already stored."""

    inserted: int = 0
    existing: int = 0
    inserted_ids: list[str] | None = None

    def __iadd__(self, other: UpsertResult) -> Self:
        self.inserted += other.inserted
        self.existing += other.existing
        return self


def hour_floor(ts: datetime) -> datetime:
    """The start of the UTC hour holding ``ts`` (rollup bucket)."""
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Repository:
    """One aggregate's collections on a Vigil database.

    Why a class per aggregate: a caller names what it touches (``store.posts``,
    ``store.alerts``), and each module holds the queries of one set of collections.
    Methods return plain dicts and lists, never cursors, so callers (the dashboard
    caches in particular) can keep results.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert_once(self, collection: str, doc: Mapping[str, Any]) -> bool:
        """Insert one document; ``False`` when its ``_id`` exists (a repeat, not an error)."""
        try:
            self.db[collection].insert_one(dict(doc))
        except DuplicateKeyError:
            return False
        return True

    def _insert_all(self, collection: str, docs: Sequence[Mapping[str, Any]], what: str) -> int:
        """Insert ready-made documents unordered; returns how many, or raises naming ``what``."""
        if not docs:
            return 0
        try:
            self.db[collection].insert_many([dict(d) for d in docs], ordered=False)
        except PyMongoError as exc:
            raise StoreError(f"cannot {what}: {exc}") from exc
        return len(docs)
