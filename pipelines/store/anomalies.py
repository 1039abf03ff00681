"""``anomalies``: one document per (series, window), merged when windows overlap.

A later cycle that finds an overlapping window updates the document in place
(``docs/detection.md`` lists the fields); an analyst's verdicts keep their history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pymongo
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne

from pipelines.store.common import FIND_CAP, Repository, StoreError, utcnow


class Anomalies(Repository):
    """Detected anomalies and the analysts' verdicts on them (issue 5)."""

    def upsert(self, doc: Mapping[str, Any]) -> tuple[str, bool]:
        """Store a detected anomaly, merging it into an overlapping one of the same series.

        An existing anomaly of ``doc["series"]`` whose window overlaps (or touches)
        ``[start, end]`` is updated: its window grows to cover both, ``methods`` are
        united, and the measured fields (severity, observed, expected, interval,
        evidence, context) are replaced when the new detection is at least as severe.
        Its ``status`` (an analyst's verdict) and ``created`` are kept. Otherwise a new
        document is inserted with ``_id = "<series>|<start ISO>"``.

        Returns ``(anomaly id, inserted?)``.
        """
        now = utcnow()
        series, start, end = doc["series"], doc["start"], doc["end"]
        overlap = {"series": series, "start": {"$lte": end}, "end": {"$gte": start}}
        for _attempt in range(3):
            old = self.db.anomalies.find_one(
                overlap, {"context": 0, "evidence": 0}, sort=[("start", ASCENDING)]
            )
            if old is None:
                new = {
                    **doc,
                    "_id": f"{series}|{start.isoformat()}",
                    "status": "open",
                    "created": now,
                    "updated": now,
                }
                new["cycles"] = 1
                try:
                    self.db.anomalies.insert_one(new)
                    return new["_id"], True
                except pymongo.errors.DuplicateKeyError:
                    continue  # another detector inserted it just now: merge into it
            self.db.anomalies.update_one({"_id": old["_id"]}, _merge_update(doc, old, now))
            return str(old["_id"]), False
        raise StoreError(f"cannot store anomaly of {series} at {start}: concurrent writers kept colliding")

    def upsert_many(self, docs: Sequence[Mapping[str, Any]]) -> list[tuple[str, bool]]:
        """:meth:`upsert` for the windows of one series at once: one read, one bulk write.

        The same merging rules, applied in order against what the batch has done so far
        (a first detector cycle stores thousands of anomalies: two round trips each
        was most of their cost). When another writer inserts a colliding document
        meanwhile, the rest of the batch goes through :meth:`upsert` one by one.
        Returns ``(anomaly id, inserted?)`` per document, in order.
        """
        if not docs:
            return []
        series = {d["series"] for d in docs}
        if len(series) != 1:
            raise ValueError(f"upsert_many takes the windows of one series, got {sorted(series)}")
        lo, hi = min(d["start"] for d in docs), max(d["end"] for d in docs)
        q = {"series": next(iter(series)), "start": {"$lte": hi}, "end": {"$gte": lo}}
        known = list(self.db.anomalies.find(q, {"start": 1, "end": 1, "severity": 1}))
        now = utcnow()
        ops: list[Any] = []
        out: list[tuple[str, bool]] = []
        for doc in docs:
            start, end = doc["start"], doc["end"]
            hits = [k for k in known if k["start"] <= end and k["end"] >= start]
            old = min(hits, key=lambda k: k["start"]) if hits else None
            if old is None:
                new = {**doc, "_id": f"{doc['series']}|{start.isoformat()}", "status": "open"}
                new.update(created=now, updated=now, cycles=1)
                ops.append(InsertOne(new))
                known.append({"_id": new["_id"], "start": start, "end": end, "severity": doc.get("severity")})
                out.append((new["_id"], True))
                continue
            update = _merge_update(doc, old, now)
            if _at_least_as_severe(doc, old):
                old["severity"] = doc.get("severity")
            old["start"], old["end"] = min(old["start"], start), max(old["end"], end)
            ops.append(UpdateOne({"_id": old["_id"]}, update))
            out.append((str(old["_id"]), False))
        try:
            self.db.anomalies.bulk_write(ops, ordered=True)
        except pymongo.errors.BulkWriteError as exc:
            failed = int(exc.details["writeErrors"][0]["index"])
            out[failed:] = [self.upsert(d) for d in docs[failed:]]
        return out

    def find(
        self,
        statuses: Sequence[str] = (),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Anomalies newest first; ``statuses`` filters (a missing status counts as ``open``).

        ``since``/``until`` keep the anomalies whose window overlaps that range.
        """
        q: dict[str, Any] = {}
        if statuses:
            wanted = list(statuses)
            q["status"] = {"$in": [*wanted, None]} if "open" in wanted else {"$in": wanted}
        if since is not None:
            q["end"] = {"$gt": since}
        if until is not None:
            q["start"] = {"$lt": until}
        cur = self.db.anomalies.find(q, {"context": 0}).sort("start", DESCENDING)
        return list(cur.limit(max(1, min(int(limit), FIND_CAP))))

    def overlapping(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Every anomaly whose window overlaps ``[since, until)``, newest first (as ``find``), uncapped.

        Why no cap: the incident rebuild groups all of them; a capped read (``find``) on a
        first cycle over a large store would silently leave the oldest out of any incident.
        """
        q = {"end": {"$gt": since}, "start": {"$lt": until}}
        return list(self.db.anomalies.find(q, {"context": 0}).sort("start", DESCENDING))

    def get(self, anomaly_id: str) -> dict[str, Any] | None:
        """One anomaly by id (string ids, or the hex of an ObjectId)."""
        doc = self.db.anomalies.find_one({"_id": anomaly_id})
        if doc is None and len(anomaly_id) == 24:
            with contextlib.suppress(InvalidId):
                doc = self.db.anomalies.find_one({"_id": ObjectId(anomaly_id)})
        return doc

    def set_status(self, anomaly_id: str, status: str, *, by: str, note: str = "") -> bool:
        """Record an analyst's verdict on an anomaly, keeping the history of verdicts."""
        doc = self.get(anomaly_id)
        if doc is None:
            return False
        now = datetime.now(UTC)
        entry = {"status": status, "by": by, "at": now, "note": note}
        res = self.db.anomalies.update_one(
            {"_id": doc["_id"]},
            {"$set": {"status": status, "status_by": by, "status_at": now}, "$push": {"history": entry}},
        )
        return res.matched_count == 1

    def since(self, since: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Detector anomalies whose window ends at or after ``since`` (newest first)."""
        if "anomalies" not in self.db.list_collection_names():
            return []
        return list(
            self.db.anomalies.find({"end": {"$gte": since}}).sort("end", DESCENDING).limit(int(limit))
        )


def _at_least_as_severe(doc: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """True when a new detection replaces the stored one's measured fields."""
    return float(doc.get("severity") or 0.0) >= float(old.get("severity") or 0.0)


def _merge_update(doc: Mapping[str, Any], old: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The update merging detection ``doc`` into the overlapping stored anomaly ``old``.

    Why one function: :meth:`Anomalies.upsert` and :meth:`Anomalies.upsert_many` must merge
    alike. The window grows to cover both, ``methods`` are united, and the measured fields
    are replaced when ``doc`` is at least as severe; status and ``created`` are kept.
    """
    update: dict[str, Any] = {
        "$set": {"updated": now},
        "$min": {"start": doc["start"]},
        "$max": {"end": doc["end"]},
        "$addToSet": {"methods": {"$each": list(doc.get("methods") or [])}},
        "$inc": {"cycles": 1},
    }
    if _at_least_as_severe(doc, old):
        measured = {k: v for k, v in doc.items() if k not in ("series", "start", "end", "methods", "_id")}
        update["$set"].update(measured)
    return update
