"""The audit log: who did what, when, to what, with which details.

Events go to the ``audit`` collection through :meth:`pipelines.store.audit.AuditLog.append`, the only
write Vigil makes to it (no update or delete exists in the code). ``details`` are
made safe to store: keys become plain strings (a ``$`` or ``.`` in a key is replaced,
so no user-supplied key turns into a MongoDB operator or path), values are
JSON-compatible, strings are cut at 2,000 characters and nesting at 4 levels.

Actions in use (``docs/security.md`` lists them): ``login``, ``login.failed``,
``login.locked``, ``logout``, ``totp.enrolled``, ``recovery.used``, ``user.add``,
``user.disable``, ``user.enable``, ``user.role``, ``user.password``,
``user.totp_reset``, ``user.unlock``, ``permission.denied``, ``export``,
``source.*``, ``anomaly.*``, ``watchlist.*``, ``alert.*``.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.store import Store

MAX_STR = 2_000
MAX_ITEMS = 200
MAX_DEPTH = 4


def _safe_key(k: Any) -> str:
    key = str(k)[:100]
    if key.startswith("$"):
        key = "＄" + key[1:]  # fullwidth dollar: readable, never an operator
    return key.replace(".", "·").replace("\x00", "")


def safe_details(value: Any, depth: int = 0) -> Any:
    """A bounded, JSON-compatible copy of ``value`` that MongoDB stores as plain data."""
    if depth > MAX_DEPTH:
        return "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value[:MAX_STR] + ("…" if len(value) > MAX_STR else "")
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {_safe_key(k): safe_details(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)[:MAX_ITEMS]
        return [safe_details(v, depth + 1) for v in seq]
    return safe_details(repr(value), depth)


def cli_actor() -> str:
    """Who runs a CLI command: ``cli:<OS user>``."""
    try:
        who = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        who = str(os.getuid())
    return f"cli:{who}"


def audit(
    store: Store,
    actor: str | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Append one event and return it.

    Parameters
    ----------
    actor:
        The username (``cli:USER`` for the command line, ``None`` when unknown).
    action:
        Dotted action name, e.g. ``login.failed`` or ``export``.
    target:
        What was acted on: a username, a source name, an anomaly id, an export format.
    details:
        Anything else worth keeping (filters of an export, the client address, ...).
    """
    doc = {
        "at": at or datetime.now(UTC),
        "actor": (actor or "anonymous")[:200],
        "action": str(action)[:100],
        "target": None if target is None else str(target)[:500],
        "details": safe_details(details or {}),
    }
    store.audit.append(doc)
    return doc
