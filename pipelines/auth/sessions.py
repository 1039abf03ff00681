"""Server-side dashboard sessions: random tokens, idle and absolute expiry, revocation.

The browser side (``components/auth.py``) keeps only the token, in Streamlit's
per-connection ``st.session_state``. The ``sessions`` collection keeps the record under
the token's SHA-256, so a copy of the database holds no usable token. Every request
re-reads the record and the user, so logout, an admin disabling a user or changing a
role takes effect on the next rerun.

Stages: ``totp`` and ``enrol`` are the short-lived steps between a correct password
and a correct second factor; only ``full`` sessions authorise anything. The token of
the full session is new (the pending one is deleted), so a token seen before the
second factor is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.store import Store

MAX_TOKEN_CHARS = 200
STAGES = ("totp", "enrol", "full")


@dataclass(frozen=True)
class CurrentUser:
    """The user behind a live session, as re-read on this request."""

    username: str
    role: str
    session_id: str
    expires: datetime


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    pending: timedelta = timedelta(minutes=5)
    touch_every: timedelta = timedelta(seconds=30)


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    store: Store,
    username: str,
    stage: str,
    now: datetime,
    policy: SessionPolicy,
    client: str | None = None,
    **extra: Any,
) -> str:
    """Store a new session and return its token (shown to nobody but the browser)."""
    if stage not in STAGES:
        raise ValueError(f"unknown session stage {stage!r}")
    token = new_token()
    lifetime = policy.absolute if stage == "full" else policy.pending
    store.sessions.insert(
        {
            "_id": session_id(token),
            "user": username,
            "stage": stage,
            "created": now,
            "last_seen": now,
            "expires": now + lifetime,
            "client": (client or "unknown")[:100],
            **extra,
        }
    )
    return token


def load(
    store: Store, token: Any, now: datetime, policy: SessionPolicy, stage: str = "full"
) -> dict[str, Any] | None:
    """The live session of ``token`` at ``stage``, or ``None`` (expired ones are deleted)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    sid = session_id(token)
    doc = store.sessions.get(sid)
    if doc is None or doc.get("stage") != stage:
        return None
    idle_limit = policy.idle if stage == "full" else policy.pending
    if now >= doc["expires"] or now - doc["last_seen"] >= idle_limit:
        store.sessions.delete(sid)
        return None
    if stage == "full" and now - doc["last_seen"] >= policy.touch_every:
        store.sessions.update(sid, {"last_seen": now})
        doc["last_seen"] = now
    return doc


def revoke(store: Store, token: Any) -> bool:
    """Delete the session of ``token`` (logout)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return False
    return store.sessions.delete(session_id(token))
