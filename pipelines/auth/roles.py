"""Roles and the permission table every page and every action checks on the server.

There are three roles: ``admin`` (users, sources, settings, everything else),
``analyst`` (watchlists, alert rules, exports, acknowledging anomalies) and ``viewer``
(reads dashboards, changes nothing). The table below is the single source of truth:
pages call ``require_page(permission)`` and actions ``require_action(permission)``
(``components/auth.py``), and service code calls :func:`require`. Hiding a button is
a courtesy, not the check.

An unknown permission name is a programming error and raises ``KeyError``: a typo in a
page must fail closed, never open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ROLES: tuple[str, ...] = ("admin", "analyst", "viewer")
"""Every role, most powerful first."""

_ALL = frozenset(ROLES)
_WRITERS = frozenset({"admin", "analyst"})
_ADMIN = frozenset({"admin"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # reading dashboards: overview, explore, map, anomalies, watchlists shared with the
    # user, alert history, source health
    "read": _ALL,
    "sources.view": _ALL,
    "alerts.view": _ALL,
    # analyst work
    "export": _WRITERS,
    "anomalies.ack": _WRITERS,
    "watchlists.edit": _WRITERS,
    "alerts.edit": _WRITERS,
    # administration
    "sources.edit": _ADMIN,
    "settings.edit": _ADMIN,
    "users.manage": _ADMIN,
    "audit.view": _ADMIN,
}
"""Permission name -> roles holding it."""

PERMISSION_HELP: dict[str, str] = {
    "read": "read dashboards",
    "sources.view": "see source health",
    "alerts.view": "see alert history",
    "export": "export posts",
    "anomalies.ack": "acknowledge anomalies",
    "watchlists.edit": "create and edit watchlists",
    "alerts.edit": "edit alert rules and channels",
    "sources.edit": "add, change or disable sources",
    "settings.edit": "change settings",
    "users.manage": "manage users",
    "audit.view": "read the audit log",
}


class PermissionDenied(PermissionError):
    """The current user (or nobody) may not do this; the message says who and what."""

    def __init__(self, who: str | None, role: str | None, permission: str) -> None:
        self.who, self.role, self.permission = who, role, permission
        what = PERMISSION_HELP.get(permission, permission)
        msg = f"log in to {what}" if who is None else f"{who} ({role}) may not {what}"
        super().__init__(msg)


class HasRole(Protocol):
    """Anything with a username and a role (a logged-in user)."""

    username: str
    role: str


def can(role: str | None, permission: str) -> bool:
    """True when ``role`` holds ``permission``. Unknown permissions raise ``KeyError``."""
    allowed = PERMISSIONS[permission]
    return role in allowed


def require(user: HasRole | None, permission: str) -> HasRole:
    """Return ``user`` if it holds ``permission``, else raise :class:`PermissionDenied`."""
    if user is None:
        PERMISSIONS[permission]  # unknown names fail loudly even when logged out
        raise PermissionDenied(None, None, permission)
    if not can(user.role, permission):
        raise PermissionDenied(user.username, user.role, permission)
    return user


def check_role(role: str) -> str:
    """Validate a role name from a CLI flag or a form."""
    r = str(role).strip().lower()
    if r not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return r


@dataclass(frozen=True)
class Grant:
    """One row of the permission table, for docs and the admin page."""

    permission: str
    roles: tuple[str, ...]
    help: str


def table() -> list[Grant]:
    """The permission table as rows (roles in :data:`ROLES` order)."""
    return [
        Grant(p, tuple(r for r in ROLES if r in roles), PERMISSION_HELP.get(p, p))
        for p, roles in PERMISSIONS.items()
    ]
