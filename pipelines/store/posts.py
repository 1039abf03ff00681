"""``posts``: writes (import, crawl), cross-post marks and bounded reads.

Every write stamps a change number (:mod:`pipelines.store.feed`) and counts newly
inserted posts into the ingest rollups, so volume charts are complete before scoring.
The scoring job queue on the same collection is :mod:`pipelines.store.score_queue`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

from pipelines.store.common import Repository, StoreError, UpsertResult
from pipelines.store.feed import ChangeFeed
from pipelines.store.rollups import Rollups

IDS_PER_QUERY = 100
"""``_id`` values per ``$in`` query in :meth:`Posts.by_ids` (see there)."""


class Posts(Repository):
    """The posts collection: inserts that never overwrite, and reads always bounded."""

    def __init__(self, db: Database, feed: ChangeFeed, rollups: Rollups) -> None:
        super().__init__(db)
        self._feed = feed
        self._rollups = rollups

    def upsert(self, docs: Sequence[dict[str, Any]]) -> UpsertResult:
        """Insert posts whose ``_id`` is new; leave existing ones untouched.

        Unordered bulk ``$setOnInsert`` upserts, so a re-import inserts nothing and one
        bad document does not stop the rest. Newly inserted posts are counted into the
        hourly ``rollups`` (``n`` per hour x source).
        """
        if not docs:
            return UpsertResult(inserted_ids=[])
        self._feed.stamp_seq(docs)
        ops = [UpdateOne({"_id": d["_id"]}, {"$setOnInsert": d}, upsert=True) for d in docs]
        try:
            res = self.db.posts.bulk_write(ops, ordered=False)
            upserted = res.upserted_ids
        except BulkWriteError as exc:
            # Duplicate-key races between two writers are "already present", not errors.
            errors = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if errors:
                raise StoreError(f"bulk upsert failed: {errors[0].get('errmsg')}") from exc
            upserted = {u["index"]: u["_id"] for u in exc.details.get("upserted", [])}
        except PyMongoError as exc:
            raise StoreError(f"cannot write posts: {exc}") from exc
        inserted_ids = [docs[i]["_id"] for i in sorted(upserted)]
        self._rollups.count_ingest([docs[i] for i in sorted(upserted)])
        return UpsertResult(
            inserted=len(inserted_ids), existing=len(docs) - len(inserted_ids), inserted_ids=inserted_ids
        )

    def get(self, post_id: str) -> dict[str, Any] | None:
        return self.db.posts.find_one({"_id": post_id})

    def estimated_count(self) -> int:
        """Total posts from collection metadata (no scan)."""
        return self.db.posts.estimated_document_count()

    def latest(
        self, limit: int = 50, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Newest posts first, bounded by ``limit`` (uses the ``ts`` index)."""
        q: dict[str, Any] = {}
        if since or until:
            q["ts"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        proj = {"terms": 0}
        return list(self.db.posts.find(q, proj).sort("ts", DESCENDING).limit(max(1, min(limit, 1000))))

    def find(
        self,
        query: dict[str, Any],
        *,
        limit: int,
        sort: Sequence[tuple[str, int]] = (("ts", DESCENDING),),
        projection: dict[str, Any] | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """Posts matching a filter built by Vigil (never raw user input), always limited."""
        cur = self.db.posts.find(query, projection).sort(list(sort)).skip(skip).limit(limit)
        return list(cur)

    def iterate(
        self, query: dict[str, Any], batch_size: int = 1000, projection: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream posts for exports and recounts, in ``_id`` order."""
        yield from self.db.posts.find(query, projection).sort("_id", ASCENDING).batch_size(batch_size)

    def ts_range(self) -> tuple[datetime | None, datetime | None]:
        """Oldest and newest post times, read from the ``ts`` index ends."""
        first = self.db.posts.find_one({}, {"ts": 1}, sort=[("ts", ASCENDING)])
        last = self.db.posts.find_one({}, {"ts": 1}, sort=[("ts", DESCENDING)])
        return (first["ts"] if first else None, last["ts"] if last else None)

    def insert(self, docs: Sequence[dict[str, Any]]) -> tuple[UpsertResult, list[tuple[int, str]]]:
        """Insert posts whose ``_id`` is new; duplicates count as already present.

        The same outcome as :meth:`upsert` (nothing stored is overwritten, a
        re-import inserts nothing, a duplicate-key race is "already present") written
        as one unordered ``insert_many``. Why: on SecantusDB with ``--sync-on-commit``
        every update statement is its own fsynced commit, while an insert batch
        commits once per 1,000 documents (measured ~290 vs ~1,900 posts/s, see
        docs/import.md). New posts are counted into the ingest rollups in one
        transaction where the server supports them. Returns the result and the
        ``(index, reason)`` of documents the server refused for another reason.
        """
        if not docs:
            return UpsertResult(inserted_ids=[]), []
        refused: dict[int, str] = {}
        duplicate: set[int] = set()
        self._feed.stamp_seq(docs)
        try:
            self.db.posts.insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") == 11000:
                    duplicate.add(err["index"])
                else:
                    refused[err["index"]] = f"refused by the database: {err.get('errmsg', '')[:300]}"
        except PyMongoError as exc:
            raise StoreError(f"cannot write posts: {exc}") from exc
        new = [d for i, d in enumerate(docs) if i not in duplicate and i not in refused]
        self._rollups.count_ingest(new)
        result = UpsertResult(
            inserted=len(new), existing=len(duplicate), inserted_ids=[d["_id"] for d in new]
        )
        return result, sorted(refused.items())

    def insert_new(self, docs: Sequence[dict[str, Any]]) -> UpsertResult:
        """Same outcome as :meth:`upsert`, faster for crawls: look up, then insert.

        Existing ``_id`` values are found with one ``$in`` query and only the missing
        documents are inserted (unordered ``insert_many``); a duplicate key from a
        concurrent writer counts as "already present". New posts are counted into the
        ingest rollups exactly as :meth:`upsert` does. On SecantusDB this is about
        4x faster than one ``$setOnInsert`` upsert per post (see docs/crawler.md).
        """
        if not docs:
            return UpsertResult(inserted_ids=[])
        unique = list({d["_id"]: d for d in docs}.values())
        try:
            have = {
                d["_id"] for d in self.db.posts.find({"_id": {"$in": [d["_id"] for d in unique]}}, {"_id": 1})
            }
            new = [d for d in unique if d["_id"] not in have]
            lost: set[str] = set()
            if new:
                self._feed.stamp_seq(new)
                try:
                    self.db.posts.insert_many(new, ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors", [])
                    other = [e for e in errors if e.get("code") != 11000]
                    if other:
                        raise StoreError(f"bulk insert failed: {other[0].get('errmsg')}") from exc
                    lost = {new[e["index"]]["_id"] for e in errors}
        except PyMongoError as exc:
            raise StoreError(f"cannot write posts: {exc}") from exc
        inserted = [d for d in new if d["_id"] not in lost]
        self._rollups.count_ingest(inserted)
        ids = [d["_id"] for d in inserted]
        return UpsertResult(inserted=len(ids), existing=len(docs) - len(ids), inserted_ids=ids)

    def mark_cross_posts(self, docs: Sequence[dict[str, Any]]) -> list[str]:
        """Flag new posts whose ``content_hash`` was already seen from another source.

        The post is kept (it is news that the same text appears elsewhere) and gets
        ``cross_post: true`` and ``cross_post_of``: the earliest post with that hash from
        another source that came first (earlier ``ts``, or the same ``ts`` and already
        stored). A source repeating itself is not a cross-post. Returns the flagged ids.
        """
        by_hash: dict[str, list[dict[str, Any]]] = {}
        for d in docs:
            if d.get("content_hash"):
                by_hash.setdefault(d["content_hash"], []).append(d)
        if not by_hash:
            return []
        pipeline = [
            {"$match": {"content_hash": {"$in": list(by_hash)}}},
            {"$sort": {"ts": ASCENDING, "_id": ASCENDING}},
            {
                "$group": {
                    "_id": {"h": "$content_hash", "s": "$source"},
                    "first": {"$first": "$_id"},
                    "ts": {"$first": "$ts"},
                }
            },
        ]
        earliest: dict[str, list[tuple[datetime, str, str]]] = {}
        for row in self.db.posts.aggregate(pipeline):
            earliest.setdefault(row["_id"]["h"], []).append((row["ts"], row["_id"]["s"], row["first"]))
        batch = {d["_id"] for d in docs}
        ops = []
        flagged: list[str] = []
        for h, new_docs in by_hash.items():
            seen = sorted(earliest.get(h, []))
            for d in new_docs:
                # A cross-post when the text came first from another source: an earlier
                # time, or the same time and stored before this batch (ties inside a batch
                # go by source name). A source repeating itself is not a cross-post.
                ts = d["ts"].astimezone(UTC)
                before = [
                    (t, src, pid)
                    for t, src, pid in seen
                    if pid != d["_id"] and (t < ts or (t == ts and (pid not in batch or src < d["source"])))
                ]
                first = before[0][2] if before and before[0][1] != d["source"] else None
                if first is not None:
                    flagged.append(d["_id"])
                    ops.append(
                        UpdateOne({"_id": d["_id"]}, {"$set": {"cross_post": True, "cross_post_of": first}})
                    )
        if ops:
            self.db.posts.bulk_write(ops, ordered=False)
        return flagged

    def sample(
        self,
        query: dict[str, Any],
        since: datetime,
        until: datetime,
        limit: int,
        projection: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """At most ``limit`` posts with ``since <= ts < until`` matching a Vigil-built filter.

        Newest first through the ``ts`` index, so the cost is bounded by ``limit`` (plus
        the non-matching posts of the range when ``query`` filters further).
        """
        q = {**query, "ts": {"$gte": since, "$lt": until}}
        cur = self.db.posts.find(q, projection).sort("ts", DESCENDING).limit(max(1, int(limit)))
        return list(cur)

    def by_ids(self, ids: Sequence[str], projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Posts by ``_id`` (a map selection, an anomaly's evidence), newest first.

        Asked in chunks of :data:`IDS_PER_QUERY`: SecantusDB answers a short ``$in`` on
        ``_id`` by point lookups but a long one much slower than the lookups would take
        (measured at 100,000 posts: 100 ids 0.02 s, 1,000 ids 12 s; the Map's 3,000
        points took 40 s in one query).
        """
        if not ids:
            return []
        ids = list(dict.fromkeys(ids))
        docs: list[dict[str, Any]] = []
        for i in range(0, len(ids), IDS_PER_QUERY):
            docs += self.db.posts.find({"_id": {"$in": ids[i : i + IDS_PER_QUERY]}}, projection)
        return sorted(docs, key=lambda d: d.get("ts") or datetime.min.replace(tzinfo=UTC), reverse=True)

    def newest_ts(self) -> datetime | None:
        """The newest post's time, reading one hour of the ``ts`` index instead of all of it.

        Why: on SecantusDB a sorted ``find_one`` walks the whole index range it is given,
        so :meth:`ts_range` costs seconds on a large store. The ingest rollups name the
        newest hour; only that hour's posts are read. Without rollups (a store filled by
        hand) it falls back to :meth:`ts_range`.
        """
        hour = self._rollups.newest_ingest_hour()
        if hour is not None:
            doc = self.db.posts.find_one(
                {"ts": {"$gte": hour, "$lt": hour + timedelta(hours=1)}}, {"ts": 1}, sort=[("ts", DESCENDING)]
            )
            if doc is not None:
                return doc["ts"]
        return self.ts_range()[1]

    def all_ids(self) -> set[str]:
        """Every post id (tests and index checks)."""
        return {d["_id"] for d in self.db.posts.find({}, {"_id": 1})}
