"""``users``, dashboard ``sessions`` and ``auth_throttle`` (login failure counters).

Used by ``pipelines/auth/``; the audit log is :mod:`pipelines.store.audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from pipelines.store.common import Repository


class Users(Repository):
    """Users by name (``_id``): hashed passwords, TOTP, recovery codes (issue 8)."""

    def insert(self, doc: dict[str, Any]) -> bool:
        """Create a user (``_id`` is the username); ``False`` when the name is taken."""
        return self._insert_once("users", doc)

    def get(self, username: str) -> dict[str, Any] | None:
        return self.db.users.find_one({"_id": username})

    def list_all(self) -> list[dict[str, Any]]:
        """Every user without secrets (password hash, TOTP secret, recovery codes)."""
        secret = {"password_hash": 0, "totp_secret": 0, "recovery_codes": 0}
        return list(self.db.users.find({}, secret).sort("_id", ASCENDING))

    def count(self) -> int:
        return self.db.users.count_documents({})

    def update(
        self, username: str, set_fields: dict[str, Any] | None = None, unset: Sequence[str] = ()
    ) -> bool:
        """Change fields of one user; ``False`` when there is no such user."""
        update: dict[str, Any] = {"$set": {**(set_fields or {}), "updated": datetime.now(UTC)}}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        return self.db.users.update_one({"_id": username}, update).matched_count == 1

    def consume_recovery_code(self, username: str, code_hash: str) -> bool:
        """Remove one recovery code hash atomically: ``True`` for exactly one caller."""
        res = self.db.users.update_one(
            {"_id": username, "recovery_codes": code_hash}, {"$pull": {"recovery_codes": code_hash}}
        )
        return res.modified_count == 1

    def advance_totp_step(self, username: str, step: int) -> bool:
        """Record the time step of an accepted TOTP code unless it (or a later one) was used.

        One conditional update, so a code seen by two requests at once is accepted once.
        """
        res = self.db.users.update_one(
            {"_id": username, "$or": [{"totp_last_step": None}, {"totp_last_step": {"$lt": step}}]},
            {"$set": {"totp_last_step": step}},
        )
        return res.modified_count == 1


class Sessions(Repository):
    """Server-side dashboard sessions."""

    def insert(self, doc: dict[str, Any]) -> None:
        self.db.sessions.insert_one(doc)

    def get(self, sid: str) -> dict[str, Any] | None:
        return self.db.sessions.find_one({"_id": sid})

    def update(self, sid: str, fields: dict[str, Any], *, stage: str | None = None) -> bool:
        """Change a session; with ``stage`` only if it is still at that stage (atomic step)."""
        q: dict[str, Any] = {"_id": sid}
        if stage is not None:
            q["stage"] = stage
        return self.db.sessions.update_one(q, {"$set": fields}).matched_count == 1

    def delete(self, sid: str) -> bool:
        return self.db.sessions.delete_one({"_id": sid}).deleted_count == 1

    def delete_for_user(self, username: str) -> int:
        return self.db.sessions.delete_many({"user": username}).deleted_count

    def purge(self, now: datetime) -> int:
        """Drop sessions past their absolute expiry (idle ones are refused on use)."""
        return self.db.sessions.delete_many({"expires": {"$lt": now}}).deleted_count

    def of_user(self, username: str) -> list[dict[str, Any]]:
        return list(self.db.sessions.find({"user": username}).sort("created", ASCENDING))


class LoginThrottle(Repository):
    """Login failure counters per ``user:NAME`` and ``client:ADDR`` key."""

    def counters(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Failure counters of the given keys (``user:NAME``, ``client:ADDR``)."""
        return {d["_id"]: d for d in self.db.auth_throttle.find({"_id": {"$in": list(keys)}})}

    def record_failure(self, key: str, now: datetime, forget_before: datetime) -> dict[str, Any]:
        """Count one failure for ``key``; failures older than ``forget_before`` start over."""

        self.db.auth_throttle.update_one(
            {"_id": key, "last": {"$lt": forget_before}},
            {"$set": {"failures": 0, "locked_until": None, "next_allowed": None}},
        )
        return self.db.auth_throttle.find_one_and_update(
            {"_id": key},
            {"$inc": {"failures": 1}, "$set": {"last": now}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    def set(self, key: str, **fields: Any) -> None:
        self.db.auth_throttle.update_one({"_id": key}, {"$set": fields})

    def clear(self, key: str) -> bool:
        return self.db.auth_throttle.delete_one({"_id": key}).deleted_count == 1
