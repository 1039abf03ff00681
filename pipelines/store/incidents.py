"""``incidents``: anomalies of one event grouped (``pipelines/detect/incidents.py``).

Rebuilt after each detector cycle over the span it touched; an analyst's ``status``
and ``verdicts`` survive rebuilds (issue 12).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import PyMongoError

from pipelines.store.common import FIND_CAP, Repository, StoreError, utcnow


class Incidents(Repository):
    """Incidents, their member anomalies and their verdicts."""

    def replace(
        self,
        docs: Sequence[Mapping[str, Any]],
        since: datetime,
        until: datetime,
        *,
        unchanged: Sequence[str] = (),
    ) -> dict[str, int]:
        """Store rebuilt incidents of ``[since, until)``; incidents there not rebuilt are dropped.

        Computed fields are replaced; ``status``, ``verdicts`` and ``created`` are kept
        (an incident keeps its id as it grows, see ``incidents.build_incidents``).
        ``unchanged``: ids of incidents rebuilt exactly as stored, kept without a write.
        One bulk write (a first detector cycle stores thousands). Returns
        ``{"upserted", "updated", "removed"}``.
        """
        now = utcnow()
        out = {"upserted": 0, "updated": 0, "removed": 0}
        keep = [str(d["_id"]) for d in docs] + [str(i) for i in unchanged]
        ops = []
        for d in docs:
            fields = {k: v for k, v in d.items() if k not in ("_id", "status", "verdicts", "created")}
            ops.append(
                UpdateOne(
                    {"_id": d["_id"]},
                    {"$set": {**fields, "updated": now}, "$setOnInsert": {"status": "open", "created": now}},
                    upsert=True,
                )
            )
        try:
            if ops:
                res = self.db.incidents.bulk_write(ops, ordered=False)
                out["upserted"] = res.upserted_count
                out["updated"] = len(ops) - res.upserted_count
            gone = {"start": {"$lt": until}, "end": {"$gt": since}, "_id": {"$nin": keep}}
            out["removed"] = self.db.incidents.delete_many(gone).deleted_count
        except PyMongoError as exc:
            raise StoreError(f"cannot store incidents: {exc}") from exc
        return out

    def members(self, since: datetime, until: datetime) -> dict[str, str]:
        """``anomaly id -> incident id`` for the stored incidents overlapping the span."""
        q = {"start": {"$lt": until}, "end": {"$gt": since}}
        out: dict[str, str] = {}
        for d in self.db.incidents.find(q, {"members.id": 1}).sort("created", ASCENDING):
            for m in d.get("members") or []:
                out.setdefault(str(m.get("id")), str(d["_id"]))
        return out

    def find(
        self,
        statuses: Sequence[str] = (),
        *,
        include_minor: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Incidents (newest first, bounded); ranking is the caller's (``incidents.rank_key``)."""
        q: dict[str, Any] = {}
        if statuses:
            q["status"] = {"$in": list(statuses)}
        if not include_minor:
            q["minor"] = {"$ne": True}
        if since is not None:
            q["end"] = {"$gt": since}
        if until is not None:
            q["start"] = {"$lt": until}
        cur = self.db.incidents.find(q).sort("start", DESCENDING)
        return list(cur.limit(max(1, min(int(limit), FIND_CAP))))

    def overlapping(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Every incident (minor ones too) overlapping ``[since, until)``, uncapped (the rebuild's read)."""
        q = {"start": {"$lt": until}, "end": {"$gt": since}}
        return list(self.db.incidents.find(q).sort("start", DESCENDING))

    def get(self, incident_id: str) -> dict[str, Any] | None:
        return self.db.incidents.find_one({"_id": str(incident_id)})

    def add_verdict(self, incident_id: str, entry: Mapping[str, Any], status: str) -> bool:
        """Append a verdict (``{verdict, by, at, note, until}``) and set the incident's status."""
        res = self.db.incidents.update_one(
            {"_id": str(incident_id)},
            {
                "$set": {"status": status, "status_by": entry.get("by"), "status_at": entry.get("at")},
                "$push": {"verdicts": dict(entry)},
            },
        )
        return res.matched_count == 1

    def of_anomalies(self, anomaly_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``anomaly id -> incident document`` for the incidents holding these anomalies."""
        if not anomaly_ids:
            return {}
        out: dict[str, dict[str, Any]] = {}
        wanted = set(anomaly_ids)
        for d in self.db.incidents.find({"members.id": {"$in": list(wanted)}}, {"posts_evidence": 0}):
            for m in d.get("members") or []:
                if m.get("id") in wanted:
                    out.setdefault(str(m["id"]), d)
        return out
