"""Alert configuration (``watchlists``, ``alert_rules``, ``alert_channels``) and the alert log.

Configuration holds no secrets (see ``pipelines/alerts/models.py``). What a watchlist
selects is read from the search index (``pipelines/search/signals.py``), not tagged on
posts. The log: ``alert_events`` (one per rule event, unique ``_id``) and ``alerts``
(one per delivery, unique ``_id`` per event or summary and channel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from pipelines.store.common import Repository, utcnow

ALERT_CONFIG = ("watchlists", "alert_rules", "alert_channels")
"""The configuration collections :meth:`Alerts.put_config` and friends accept."""


class Alerts(Repository):
    """Watchlists, rules and channels by ``_id``; rule events; queued deliveries (issue 7)."""

    def latest(self, limit: int = 10) -> list[dict[str, Any]]:
        """Newest alerts (an empty list while the alerts collection does not exist yet)."""
        if "alerts" not in self.db.list_collection_names():
            return []
        return list(self.db.alerts.find({}).sort([("at", DESCENDING)]).limit(max(1, min(limit, 200))))

    def watchlist_names(self) -> list[dict[str, Any]]:
        """``{_id, name}`` of every watchlist (the sidebar's watchlist filter)."""
        return list(self.db.watchlists.find({}, {"name": 1}).sort("name", ASCENDING).limit(500))

    def _config_coll(self, coll: str) -> Any:
        if coll not in ALERT_CONFIG:
            raise ValueError(f"not an alert configuration collection: {coll!r}")
        return self.db[coll]

    def put_config(self, coll: str, doc: Mapping[str, Any]) -> bool:
        """Create or update a watchlist, rule or channel by ``_id``; ``True`` when created.

        Only the given fields are set: state kept beside the definition (a watchlist's
        ``tagging`` progress, ``created``) survives an edit.
        """
        fields = {k: v for k, v in doc.items() if k != "_id"}
        fields["updated"] = utcnow()
        res = self._config_coll(coll).update_one(
            {"_id": doc["_id"]}, {"$set": fields, "$setOnInsert": {"created": fields["updated"]}}, upsert=True
        )
        return res.upserted_id is not None

    def get_config(self, coll: str, key: str) -> dict[str, Any] | None:
        return self._config_coll(coll).find_one({"_id": key})

    def list_config(self, coll: str) -> list[dict[str, Any]]:
        return list(self._config_coll(coll).find({}).sort("_id", ASCENDING).limit(10_000))

    def delete_config(self, coll: str, key: str) -> bool:
        return self._config_coll(coll).delete_one({"_id": key}).deleted_count == 1

    def insert_event(self, doc: Mapping[str, Any]) -> bool:
        """Record a rule event once; ``False`` when its ``_id`` (rule + event key) exists."""
        return self._insert_once("alert_events", doc)

    def events(self, query: Mapping[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        """Events matching a Vigil-built filter, oldest first."""
        return list(self.db.alert_events.find(dict(query)).sort("created", ASCENDING).limit(int(limit)))

    def update_events(self, ids: Sequence[str], **fields: Any) -> int:
        return self.db.alert_events.update_many({"_id": {"$in": list(ids)}}, {"$set": fields}).modified_count

    def last_sent(self, rule: str) -> datetime | None:
        """When a rule last sent a single alert (for its cooldown)."""
        doc = self.db.alert_events.find_one(
            {"rule": rule, "decision": "send"}, sort=[("created", DESCENDING)]
        )
        return doc["created"] if doc else None

    def enqueue_delivery(self, doc: Mapping[str, Any]) -> bool:
        """Queue one message for one channel; ``False`` when this ``_id`` was queued before."""
        return self._insert_once("alerts", doc)

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        q = {"status": {"$in": ["pending", "retrying"]}, "next_try": {"$lte": now}}
        return list(self.db.alerts.find(q).sort("next_try", ASCENDING).limit(int(limit)))

    def update_delivery(self, delivery_id: str, **fields: Any) -> None:
        self.db.alerts.update_one({"_id": delivery_id}, {"$set": fields})

    def delivery_log(self, limit: int = 200, **match: Any) -> list[dict[str, Any]]:
        """Newest deliveries first, optionally filtered by equal fields (status, rule, channel)."""
        q = {
            k: v
            for k, v in match.items()
            if v is not None and k in ("status", "rule", "channel", "watchlist")
        }
        return list(self.db.alerts.find(q).sort("at", DESCENDING).limit(max(1, min(int(limit), 5000))))
