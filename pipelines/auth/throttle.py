"""Login throttling: an exponential delay after each failure, then a lockout.

Failures (a wrong password *or* a wrong second-factor code) are counted under two
keys: the username (``user:NAME``, whether or not it exists, so probing names and
guessing a real one look the same) and the client (``client:ADDRESS``). After the
second failure of a key the next attempt must wait ``base_delay * 2**(n-2)`` seconds
(capped); at ``max_failures`` the key is locked for the lockout duration. A quiet
period as long as the lockout forgets the count; a successful login clears the user's
count (not the client's, so one valid account cannot reset a guessing client).

The delay is enforced by refusing early attempts with the time to wait, never by
sleeping in a request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.store import Store


class Throttled(RuntimeError):
    """Too many failures: try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: float, locked: bool) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.locked = locked
        if locked:
            mins = math.ceil(self.retry_after_s / 60)
            msg = f"too many failed logins: locked for {mins} more minute{'s' if mins != 1 else ''}"
        else:
            msg = f"too many failed logins: wait {self.retry_after_s} s before the next try"
        super().__init__(msg)


@dataclass(frozen=True)
class ThrottlePolicy:
    """Limits per key kind."""

    user_max_failures: int = 5
    client_max_failures: int = 20
    lockout: timedelta = timedelta(minutes=15)
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def max_failures(self, key: str) -> int:
        return self.client_max_failures if key.startswith("client:") else self.user_max_failures

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 after the first)."""
        if failures < 2:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 2))


def user_key(username: str) -> str:
    return f"user:{username}"


def client_key(client: str | None) -> str:
    return f"client:{(client or 'unknown')[:100]}"


def check(store: Store, keys: list[str], now: datetime) -> None:
    """Raise :class:`Throttled` if any key is locked or still inside its delay."""
    worst: tuple[float, bool] | None = None
    for doc in store.login_throttle.counters(keys).values():
        for field, locked in (("locked_until", True), ("next_allowed", False)):
            until = doc.get(field)
            if until is not None and until > now:
                wait = (until - now).total_seconds()
                if worst is None or (locked, wait) > (worst[1], worst[0]):
                    worst = (wait, locked)
    if worst is not None:
        raise Throttled(*worst)


def record_failure(store: Store, key: str, now: datetime, policy: ThrottlePolicy) -> bool:
    """Count a failure; set the delay or the lock. Returns ``True`` when this locked the key."""
    doc = store.login_throttle.record_failure(key, now, forget_before=now - policy.lockout)
    n = int(doc.get("failures", 1))
    if n >= policy.max_failures(key):
        already = doc.get("locked_until") is not None and doc["locked_until"] > now
        store.login_throttle.set(key, locked_until=now + policy.lockout, next_allowed=None)
        return not already
    delay = policy.delay_after(n)
    store.login_throttle.set(key, next_allowed=now + timedelta(seconds=delay) if delay else None)
    return False


def clear(store: Store, key: str) -> bool:
    """Forget a key's failures (successful login, or an admin's unlock)."""
    return store.login_throttle.clear(key)
