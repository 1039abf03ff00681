"""User administration: add, list, change role, disable, reset password or second factor,
unlock. Shared by the ``user`` CLI (actor ``cli:<OS user>``) and the Admin page (actor: the
logged-in user, checked against ``users.manage`` here as well as on the page). Every
change is audited; the last active admin can be neither demoted nor disabled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pipelines.auth import throttle
from pipelines.auth.audit import audit
from pipelines.auth.passwords import Passwords
from pipelines.auth.roles import check_role, require
from pipelines.auth.sessions import CurrentUser
from pipelines.auth.users import check_username, new_user_doc
from pipelines.store import Store


class UserError(ValueError):
    """A refused user change (unknown user, name taken, last admin...); the message says why."""


Actor = CurrentUser | str
"""Who makes a change: a logged-in user (checked against ``users.manage``) or a CLI actor."""


class UserAdmin:
    """User administration over ``self.store`` (mixed into :class:`~pipelines.auth.service.Auth`)."""

    store: Store
    clock: Callable[[], datetime]
    passwords: Passwords

    def _actor(self, actor: Actor) -> str:
        if isinstance(actor, CurrentUser):
            require(actor, "users.manage")
            return actor.username
        return str(actor)

    def _get(self, username: str) -> dict[str, Any]:
        name = check_username(username)
        user = self.store.users.get(name)
        if user is None:
            raise UserError(f"no user named {name!r}")
        return user

    def add_user(self, username: str, password: str, role: str, actor: Actor) -> dict[str, Any]:
        """Create a user; they set up their second factor at first login."""
        who = self._actor(actor)
        name = check_username(username)
        role = check_role(role)
        now = self.clock()
        doc = new_user_doc(name, role, self.passwords.hash(password, name), now, who)
        if not self.store.users.insert(doc):
            raise UserError(f"a user named {name!r} already exists")
        audit(self.store, who, "user.add", name, {"role": role}, at=now)
        return {k: v for k, v in doc.items() if k not in ("password_hash", "totp_secret", "recovery_codes")}

    def list_users(self, actor: Actor) -> list[dict[str, Any]]:
        """Users without secrets, with whether TOTP is set up and recovery codes left."""
        self._actor(actor)
        rows = []
        for u in self.store.users.list_all():
            full = self.store.users.get(u["_id"]) or {}
            rows.append(
                {
                    "username": u["_id"],
                    "role": u.get("role"),
                    "active": bool(u.get("active")),
                    "totp": bool(full.get("totp_secret")),
                    "recovery_codes_left": len(full.get("recovery_codes") or []),
                    "created": u.get("created"),
                    "last_login": u.get("last_login"),
                }
            )
        return rows

    def _active_admins(self) -> set[str]:
        return {u["_id"] for u in self.store.users.list_all() if u.get("role") == "admin" and u.get("active")}

    def set_role(self, username: str, role: str, actor: Actor) -> None:
        who = self._actor(actor)
        user = self._get(username)
        role = check_role(role)
        if user.get("role") == "admin" and role != "admin" and self._active_admins() == {user["_id"]}:
            raise UserError(f"{user['_id']!r} is the last active admin: make another admin first")
        self.store.users.update(user["_id"], {"role": role})
        audit(
            self.store, who, "user.role", user["_id"], {"from": user.get("role"), "to": role}, at=self.clock()
        )

    def set_active(self, username: str, active: bool, actor: Actor) -> None:
        """Disable (sessions are revoked at once) or re-enable a user."""
        who = self._actor(actor)
        user = self._get(username)
        if not active and user.get("role") == "admin" and self._active_admins() == {user["_id"]}:
            raise UserError(f"{user['_id']!r} is the last active admin: make another admin first")
        self.store.users.update(user["_id"], {"active": bool(active)})
        revoked = 0 if active else self.store.sessions.delete_for_user(user["_id"])
        action = "user.enable" if active else "user.disable"
        audit(self.store, who, action, user["_id"], {"sessions_revoked": revoked}, at=self.clock())

    def set_password(self, username: str, password: str, actor: Actor) -> None:
        """Replace a password; every session of the user ends."""
        who = self._actor(actor)
        user = self._get(username)
        now = self.clock()
        self.store.users.update(
            user["_id"],
            {"password_hash": self.passwords.hash(password, user["_id"]), "password_changed": now},
        )
        revoked = self.store.sessions.delete_for_user(user["_id"])
        audit(self.store, who, "user.password", user["_id"], {"sessions_revoked": revoked}, at=now)

    def reset_totp(self, username: str, actor: Actor) -> None:
        """Forget the second factor and recovery codes: the next login enrols again."""
        who = self._actor(actor)
        user = self._get(username)
        self.store.users.update(
            user["_id"], {"totp_secret": None, "totp_last_step": None, "recovery_codes": []}
        )
        revoked = self.store.sessions.delete_for_user(user["_id"])
        audit(self.store, who, "user.totp_reset", user["_id"], {"sessions_revoked": revoked}, at=self.clock())

    def unlock(self, username: str, actor: Actor) -> bool:
        """Clear a user's failure count and lockout."""
        who = self._actor(actor)
        name = check_username(username)
        cleared = throttle.clear(self.store, throttle.user_key(name))
        audit(self.store, who, "user.unlock", name, {"was_locked": cleared}, at=self.clock())
        return cleared
