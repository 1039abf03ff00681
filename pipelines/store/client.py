"""The connection, the schema (collections, indexes, version) and what the server supports.

Only the portable subset of MongoDB is used (see ``docs/architecture.md``): no
``$text``, no ``hint()``, no ``"$array.field"`` paths inside expressions, no
unbounded ``count_documents({})`` per page view.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from pipelines.store.common import StoreError
from pipelines.store.rollup_days import DAYS_META, DAYS_VERSION
from pipelines.store.rollup_totals import TOTALS_META, TOTALS_VERSION

SCHEMA_VERSION = 3
"""Bumped when a collection or index changes; :meth:`Schema.ensure` records it.

2 (issue 12): day documents of the rollups for the detector (:mod:`.rollup_days`); a
store without rollups starts with them, an older store gets them packed by the
detector's first read (:meth:`pipelines.store.rollups.Rollups.for_detector`).
3 (issue 13): per-source totals (:mod:`.rollup_totals`), recounted on an older store's
first read (:meth:`pipelines.store.rollups.Rollups.totals`), and the partial index
``kind, of, hour`` over the day documents (Overview's week of counts)."""

INDEXES: Mapping[str, Sequence[tuple[list[tuple[str, Any]], dict[str, Any]]]] = {
    "posts": [
        ([("ts", DESCENDING)], {}),
        ([("source", ASCENDING), ("ts", DESCENDING)], {}),
        ([("status", ASCENDING), ("lease_until", ASCENDING)], {}),
        ([("content_hash", ASCENDING)], {}),
        ([("geo", "2dsphere")], {}),
        ([("claim", ASCENDING)], {}),  # scoring (issue 4): a worker's claimed batch
        ([("rollup_pending", ASCENDING)], {}),  # scoring (issue 4): rollup crash recovery
        ([("seq", ASCENDING)], {}),  # search (issue 13): the indexer's change marker
    ],
    "rollups": [
        ([("kind", ASCENDING), ("hour", ASCENDING)], {}),
        # The day documents of one rollup kind (``kind="day"``, ``of``): Overview's week of
        # ingest counts reads 40 of them instead of every place day in its range (issue 13).
        # Partial: the hourly counters, upserted with every batch, do not pay for it.
        (
            [("kind", ASCENDING), ("of", ASCENDING), ("hour", ASCENDING)],
            {"partialFilterExpression": {"kind": "day"}},
        ),
    ],
    "quarantine": [
        ([("at", DESCENDING)], {}),
        ([("kind", ASCENDING), ("at", DESCENDING)], {}),
    ],
    "sources": [
        ([("name", ASCENDING)], {"unique": True}),
    ],
    "crawl_runs": [
        ([("source", ASCENDING), ("started", DESCENDING)], {}),
    ],
    "sessions": [
        ([("user", ASCENDING)], {}),
        ([("expires", ASCENDING)], {}),
    ],
    "alert_events": [  # alerts (issue 7)
        ([("rule", ASCENDING), ("decision", ASCENDING), ("created", DESCENDING)], {}),
    ],
    "alerts": [  # alerts (issue 7): the delivery log
        ([("status", ASCENDING), ("next_try", ASCENDING)], {}),
        ([("at", DESCENDING)], {}),
    ],
    "anomalies": [  # detection (issue 5)
        ([("series", ASCENDING), ("start", ASCENDING)], {}),
        ([("start", DESCENDING)], {}),
        ([("end", DESCENDING)], {}),
        ([("status", ASCENDING), ("start", DESCENDING)], {}),
    ],
    "incidents": [  # incidents (issue 12)
        ([("start", DESCENDING)], {}),
        ([("end", DESCENDING)], {}),
        ([("members.id", ASCENDING)], {}),
    ],
    "detector_feedback": [  # incidents (issue 12)
        ([("until", ASCENDING)], {}),
    ],
    "audit": [
        ([("at", DESCENDING)], {}),
        ([("actor", ASCENDING), ("at", DESCENDING)], {}),
        ([("action", ASCENDING), ("at", DESCENDING)], {}),
    ],
}

# Reads with filters go through the search index (issue 13), so indexes only the old
# reads and the watch pass needed are dropped at start-up: ``terms`` (multikey: the
# costliest index per inserted post), ``watched``+``status`` and ``watchlists``+``ts``.
OBSOLETE_INDEXES: Mapping[str, Sequence[str]] = {
    "posts": ("terms_1", "watched_1_status_1", "watchlists_1_ts_1"),
}


def connect(uri: str) -> MongoClient:
    """A client with timezone-aware datetimes and a short server-selection timeout."""
    return MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="vigil")


def safe_uri(uri: str) -> str:
    """The URI with any password masked, for error messages."""
    if "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def supports_transactions(client: MongoClient) -> bool:
    """True on a replica set member or mongos."""
    try:
        hello = client.admin.command("hello")
        return bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
    except PyMongoError:
        return False


class Schema:
    """Collections, indexes and the schema version of one database (all idempotent)."""

    def __init__(self, db: Database, uri: str) -> None:
        self.db = db
        self.uri = uri

    def ensure(self) -> None:
        """Create collections and indexes (idempotent) and record the schema version."""
        try:
            existing = set(self.db.list_collection_names())
            for name in (
                "posts",
                "sources",
                "crawl_runs",
                "rollups",
                "quarantine",
                "meta",
                "anomalies",  # detection (issue 5)
                "detector_state",  # detection (issue 5)
            ):
                if name not in existing:
                    with contextlib.suppress(pymongo.errors.CollectionInvalid):
                        self.db.create_collection(name)
            for coll, specs in INDEXES.items():
                # Skip indexes that exist by name: re-sending a 2dsphere spec is refused by
                # some servers (SecantusDB adds 2dsphereIndexVersion and sees a conflict).
                have = set(self.db[coll].index_information())
                for keys, opts in specs:
                    name = "_".join(f"{k}_{v}" for k, v in keys)
                    if name not in have:
                        self.db[coll].create_index(keys, **opts)
            self.drop_obsolete_indexes()
            if self.db.rollups.find_one({}, {"_id": 1}) is None:  # nothing to pack: kept from now on
                for meta_id, version in ((DAYS_META, DAYS_VERSION), (TOTALS_META, TOTALS_VERSION)):
                    self.db.meta.update_one(
                        {"_id": meta_id}, {"$setOnInsert": {"version": version}}, upsert=True
                    )
            self.db.meta.update_one(
                {"_id": "schema"},
                {"$set": {"version": SCHEMA_VERSION, "updated": datetime.now(UTC)}},
                upsert=True,
            )
        except PyMongoError as exc:
            raise StoreError(f"cannot prepare the database at {safe_uri(self.uri)}: {exc}") from exc

    def version(self) -> int | None:
        doc = self.db.meta.find_one({"_id": "schema"})
        return doc["version"] if doc else None

    def index_names(self, collection: str) -> list[str]:
        return sorted(self.db[collection].index_information())

    def drop_obsolete_indexes(self) -> list[str]:
        """Drop :data:`OBSOLETE_INDEXES` that exist (idempotent); returns the names dropped."""
        dropped = []
        for coll, names in OBSOLETE_INDEXES.items():
            have = set(self.db[coll].index_information())
            for name in names:
                if name in have:
                    self.db[coll].drop_index(name)
                    dropped.append(f"{coll}.{name}")
        return dropped
