"""``sources`` (definitions, crawl state, crawl locks) and ``crawl_runs`` (one per run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from pipelines.store.common import Repository


class Sources(Repository):
    """Source definitions by name, their crawl state and the crawl lock (issue 3)."""

    def upsert(self, source: dict[str, Any]) -> None:
        """Create or replace a source definition by name (cursor fields are kept)."""
        doc = {k: v for k, v in source.items() if k != "_id"}
        doc["updated"] = datetime.now(UTC)
        self.db.sources.update_one({"name": doc["name"]}, {"$set": doc}, upsert=True)

    def get(self, name: str) -> dict[str, Any] | None:
        return self.db.sources.find_one({"name": name}, {"_id": 0})

    def list_all(self, enabled: bool | None = None) -> list[dict[str, Any]]:
        q = {} if enabled is None else {"enabled": enabled}
        return list(self.db.sources.find(q, {"_id": 0}).sort("name", ASCENDING))

    def set_enabled(self, name: str, enabled: bool) -> bool:
        res = self.db.sources.update_one({"name": name}, {"$set": {"enabled": enabled}})
        return res.matched_count == 1

    def update_state(self, name: str, **state: Any) -> None:
        """Save crawl state (cursor, ETag, Last-Modified, last run) on a source."""
        self.db.sources.update_one({"name": name}, {"$set": {f"state.{k}": v for k, v in state.items()}})

    def remove(self, name: str) -> bool:
        return self.db.sources.delete_one({"name": name}).deleted_count == 1

    def claim(self, name: str, owner: str, lease_s: float) -> dict[str, Any] | None:
        """Take the crawl lock of a source for ``lease_s`` seconds, or ``None`` if held.

        One atomic conditional update, so two schedulers (or a scheduler and a manual
        ``crawl --once``) never run the same source at once. A holder that died leaves
        a lock that expires with its lease.
        """

        now = datetime.now(UTC)
        lease = {"owner": owner, "since": now, "until": now + timedelta(seconds=lease_s)}
        return self.db.sources.find_one_and_update(
            {"name": name, "$or": [{"lock": None}, {"lock.until": {"$lt": now}}]},
            {"$set": {"lock": lease}},
            projection={"_id": 0},
            return_document=ReturnDocument.AFTER,
        )

    def release(self, name: str, owner: str) -> bool:
        """Drop the lock if ``owner`` still holds it (a stolen, expired lock is left alone)."""
        res = self.db.sources.update_one({"name": name, "lock.owner": owner}, {"$set": {"lock": None}})
        return res.modified_count == 1


class CrawlRuns(Repository):
    """One document per crawl run: started, finished, abandoned, and health totals."""

    def start(self, run: dict[str, Any]) -> str:
        """Record a run as ``running`` (it must carry ``_id``, ``source`` and ``started``)."""
        doc = {"status": "running", **run}
        self.db.crawl_runs.insert_one(doc)
        return doc["_id"]

    def finish(self, run_id: str, **fields: Any) -> None:
        """Close a run with its outcome (status, ended, counts, errors)."""
        self.db.crawl_runs.update_one({"_id": run_id}, {"$set": fields})

    def recent(self, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest runs first, for one source or all."""
        q = {"source": source} if source else {}
        return list(self.db.crawl_runs.find(q).sort("started", DESCENDING).limit(max(1, min(limit, 1000))))

    def abandon(self, owner_prefix: str | None = None) -> int:
        """Mark runs still ``running`` past their deadline as ``abandoned`` (their scheduler died)."""
        q: dict[str, Any] = {"status": "running", "deadline": {"$lt": datetime.now(UTC)}}
        if owner_prefix:
            q["owner"] = {"$regex": f"^{owner_prefix}"}
        res = self.db.crawl_runs.update_many(
            q,
            {
                "$set": {
                    "status": "abandoned",
                    "error": "the scheduler stopped before this run finished",
                    "ended": datetime.now(UTC),
                }
            },
        )
        return res.modified_count

    def health(self, since: datetime) -> list[dict[str, Any]]:
        """Per source: its newest run (any age) and its run / item / error totals since ``since``."""
        pipeline = [
            {"$match": {"started": {"$gte": since}}},
            {"$sort": {"started": DESCENDING}},
            {
                "$group": {
                    "_id": "$source",
                    "runs": {"$sum": 1},
                    "failed_runs": {"$sum": {"$cond": [{"$in": ["$status", ["error", "abandoned"]]}, 1, 0]}},
                    "items": {"$sum": {"$ifNull": ["$items", 0]}},
                    "inserted": {"$sum": {"$ifNull": ["$inserted", 0]}},
                    "errors": {"$sum": {"$ifNull": ["$error_count", 0]}},
                }
            },
        ]
        totals = {r["_id"]: r for r in self.db.crawl_runs.aggregate(pipeline)}
        out = []
        for name in sorted(set(totals) | set(self.db.crawl_runs.distinct("source"))):
            last = self.db.crawl_runs.find_one({"source": name}, sort=[("started", DESCENDING)]) or {}
            t = totals.get(name, {})
            out.append(
                {
                    "source": name,
                    "last_started": last.get("started"),
                    "last_ended": last.get("ended"),
                    "last_status": last.get("status"),
                    "last_items": last.get("items"),
                    "last_inserted": last.get("inserted"),
                    "last_error": last.get("error"),
                    "runs": t.get("runs", 0),
                    "failed_runs": t.get("failed_runs", 0),
                    "items": t.get("items", 0),
                    "inserted": t.get("inserted", 0),
                    "errors": t.get("errors", 0),
                }
            )
        return out
