"""The login flow and user administration, on top of the store.

``Auth`` ties the pieces together: password check (:mod:`.passwords`), throttling
(:mod:`.throttle`), second factor (:mod:`.totp`), sessions (:mod:`.sessions`) and the
audit log (:mod:`.audit`). The dashboard and the CLI both go through it, so the rules
hold whichever door is used. The clock is injected, so tests can walk through
lockouts, expiries and TOTP steps without sleeping.

Login, step by step::

    step = auth.login_password(name, password, client)      # -> LoginStep(token, "totp"|"enrol")
    token = auth.verify_second_factor(step.token, code, client)       # "totp": code or recovery code
    enrol = auth.start_enrolment(step.token)                          # "enrol": secret, URI, QR PNG
    token, codes = auth.finish_enrolment(step.token, code, client)    # shows recovery codes once
    user = auth.current(token)                                        # every request; None = log in
    auth.logout(token)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pipelines.auth import sessions, throttle, totp
from pipelines.auth.admin import UserAdmin, UserError
from pipelines.auth.audit import audit
from pipelines.auth.passwords import Passwords, normalise
from pipelines.auth.roles import PermissionDenied
from pipelines.auth.sessions import CurrentUser, SessionPolicy
from pipelines.auth.throttle import ThrottlePolicy
from pipelines.auth.users import InvalidUsername, check_username, normalise_username
from pipelines.core.config import Settings
from pipelines.store import Store


class LoginError(ValueError):
    """A refused login step; the message is safe to show (it never says which part was wrong
    between username and password)."""


@dataclass(frozen=True)
class LoginStep:
    """A correct password; the second factor is next (``totp``) or must be set up (``enrol``)."""

    token: str
    next: Literal["totp", "enrol"]
    username: str


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment screen shows: the secret (for manual entry), its URI and QR code."""

    secret: str
    uri: str
    png: bytes


@dataclass(frozen=True)
class AuthPolicy:
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    password_min_chars: int = 12
    issuer: str = "Vigil"

    @classmethod
    def from_settings(cls, s: Settings) -> AuthPolicy:
        return cls(
            sessions=SessionPolicy(
                idle=timedelta(minutes=s.vigil_session_idle_minutes),
                absolute=timedelta(hours=s.vigil_session_max_hours),
            ),
            throttle=ThrottlePolicy(
                user_max_failures=s.vigil_login_max_failures,
                client_max_failures=s.vigil_login_client_max_failures,
                lockout=timedelta(minutes=s.vigil_login_lockout_minutes),
            ),
            password_min_chars=s.vigil_password_min_chars,
            issuer=s.vigil_totp_issuer,
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Auth(UserAdmin):
    """Users, logins and sessions over one store.

    Parameters
    ----------
    store:
        The Vigil store.
    policy:
        Limits and timeouts (:meth:`AuthPolicy.from_settings` for the configured ones).
    clock:
        Returns the current UTC time; tests pass a controllable one.
    passwords:
        The hasher; tests pass a cheaper Argon2 profile.
    """

    def __init__(
        self,
        store: Store,
        policy: AuthPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        passwords: Passwords | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or AuthPolicy()
        self.clock = clock or _utcnow
        self.passwords = passwords or Passwords(min_chars=self.policy.password_min_chars)

    # ------------------------------------------------------------------ login

    def _fail(self, name: str, client: str | None, reason: str, now: datetime) -> None:
        pol = self.policy.throttle
        details = {"reason": reason, "client": client or "unknown"}
        audit(self.store, name or "anonymous", "login.failed", name or None, details, at=now)
        for key in (throttle.user_key(name), throttle.client_key(client)):
            if throttle.record_failure(self.store, key, now, pol):
                audit(
                    self.store,
                    name or "anonymous",
                    "login.locked",
                    key,
                    {"minutes": pol.lockout.total_seconds() / 60, "client": client or "unknown"},
                    at=now,
                )

    def login_password(self, username: str, password: str, client: str | None = None) -> LoginStep:
        """First step: check the password. Raises :class:`LoginError` or ``Throttled``."""
        now = self.clock()
        name = normalise_username(username)
        throttle.check(self.store, [throttle.user_key(name), throttle.client_key(client)], now)
        try:
            user = self.store.users.get(check_username(username))
        except InvalidUsername:
            user = None
        verdict = self.passwords.verify(user.get("password_hash") if user else None, password)
        if user is None or not verdict.ok:
            self._fail(name, client, "unknown user" if user is None else "wrong password", now)
            raise LoginError("wrong username or password")
        if verdict.needs_rehash:
            self.store.users.update(
                user["_id"], {"password_hash": self.passwords.hasher.hash(normalise(password))}
            )
            audit(self.store, user["_id"], "user.rehash", user["_id"], {}, at=now)
        if not user.get("active"):
            audit(self.store, user["_id"], "login.failed", user["_id"], {"reason": "disabled"}, at=now)
            raise LoginError("this account is disabled: ask an administrator")
        self.store.sessions.purge(now)
        stage: Literal["totp", "enrol"] = "totp" if user.get("totp_secret") else "enrol"
        token = sessions.create(self.store, user["_id"], stage, now, self.policy.sessions, client)
        return LoginStep(token, stage, user["_id"])

    def _pending(self, token: str, stage: str, now: datetime) -> dict[str, Any]:
        doc = sessions.load(self.store, token, now, self.policy.sessions, stage=stage)
        if doc is None:
            raise LoginError("this login has expired: enter your username and password again")
        return doc

    def _complete(self, pending: dict[str, Any], client: str | None, method: str, now: datetime) -> str:
        name = pending["user"]
        self.store.sessions.delete(pending["_id"])
        throttle.clear(self.store, throttle.user_key(name))
        token = sessions.create(self.store, name, "full", now, self.policy.sessions, client)
        self.store.users.update(name, {"last_login": now})
        audit(self.store, name, "login", name, {"method": method, "client": client or "unknown"}, at=now)
        return token

    def verify_second_factor(self, token: str, code: str, client: str | None = None) -> str:
        """Second step: a TOTP code or a recovery code. Returns the session token."""
        now = self.clock()
        pending = self._pending(token, "totp", now)
        name = pending["user"]
        throttle.check(self.store, [throttle.user_key(name), throttle.client_key(client)], now)
        user = self.store.users.get(name)
        if user is None or not user.get("active") or not user.get("totp_secret"):
            self.store.sessions.delete(pending["_id"])
            raise LoginError("this login has expired: enter your username and password again")
        c = totp.normalise_code(code)
        if totp.looks_like_totp(c):
            step = totp.matching_step(user["totp_secret"], c, now)
            if step is not None and self.store.users.advance_totp_step(name, step):
                return self._complete(pending, client, "totp", now)
            reason = "wrong code" if step is None else "code already used"
        elif totp.looks_like_recovery(c):
            if self.store.users.consume_recovery_code(name, totp.recovery_hash(c)):
                left = len((self.store.users.get(name) or {}).get("recovery_codes") or [])
                audit(self.store, name, "recovery.used", name, {"left": left}, at=now)
                return self._complete(pending, client, "recovery", now)
            reason = "wrong recovery code"
        else:
            reason = "malformed code"
        self._fail(name, client, reason, now)
        raise LoginError("wrong code: enter the 6 digits your app shows now, or a recovery code")

    def start_enrolment(self, token: str) -> Enrolment:
        """The secret to enrol (the same one on every rerun of the same login)."""
        now = self.clock()
        pending = self._pending(token, "enrol", now)
        secret = pending.get("enrol_secret")
        if not secret:
            secret = totp.new_secret()
            self.store.sessions.update(pending["_id"], {"enrol_secret": secret}, stage="enrol")
        uri = totp.provisioning_uri(secret, pending["user"], self.policy.issuer)
        return Enrolment(secret, uri, totp.qr_png(uri))

    def finish_enrolment(self, token: str, code: str, client: str | None = None) -> tuple[str, list[str]]:
        """Confirm the app works with one code; returns the session token and the
        recovery codes (to show once: only their hashes are kept)."""
        now = self.clock()
        pending = self._pending(token, "enrol", now)
        name = pending["user"]
        throttle.check(self.store, [throttle.user_key(name), throttle.client_key(client)], now)
        secret = pending.get("enrol_secret")
        user = self.store.users.get(name)
        if not secret or user is None or not user.get("active") or user.get("totp_secret"):
            self.store.sessions.delete(pending["_id"])
            raise LoginError("this login has expired: enter your username and password again")
        step = totp.matching_step(secret, totp.normalise_code(code), now)
        if step is None:
            self._fail(name, client, "wrong enrolment code", now)
            raise LoginError("wrong code: check the time on your phone and enter the code shown now")
        codes = totp.new_recovery_codes()
        self.store.users.update(
            name,
            {
                "totp_secret": secret,
                "totp_last_step": step,
                "recovery_codes": list(codes.hashes),
                "totp_enrolled": now,
            },
        )
        audit(self.store, name, "totp.enrolled", name, {"recovery_codes": len(codes.codes)}, at=now)
        return self._complete(pending, client, "enrolment", now), list(codes.codes)

    def new_recovery_codes(self, user: CurrentUser) -> list[str]:
        """Replace the signed-in user's recovery codes (old ones stop working)."""
        codes = totp.new_recovery_codes()
        self.store.users.update(user.username, {"recovery_codes": list(codes.hashes)})
        audit(self.store, user.username, "recovery.renewed", user.username, {}, at=self.clock())
        return list(codes.codes)

    # ------------------------------------------------------------------ sessions

    def current(self, token: Any) -> CurrentUser | None:
        """The user of a live full session, re-read now; ``None`` means "log in"."""
        now = self.clock()
        doc = sessions.load(self.store, token, now, self.policy.sessions)
        if doc is None:
            return None
        user = self.store.users.get(doc["user"])
        if user is None or not user.get("active"):
            self.store.sessions.delete(doc["_id"])
            return None
        expires = min(doc["expires"], doc["last_seen"] + self.policy.sessions.idle)
        return CurrentUser(user["_id"], user["role"], doc["_id"], expires)

    def logout(self, token: Any) -> bool:
        """End the session of ``token``."""
        user = self.current(token)
        done = sessions.revoke(self.store, token)
        if user is not None:
            audit(self.store, user.username, "logout", user.username, {}, at=self.clock())
        return done

    def open_session(self, username: str, client: str = "direct") -> str:
        """A full session for an existing, active user without the login steps.

        For tooling that already holds database access (tests, scripted checks): it
        grants nothing the database credentials did not already grant.
        """
        user = self._get(username)
        if not user.get("active"):
            raise UserError(f"{username!r} is disabled")
        now = self.clock()
        token = sessions.create(self.store, user["_id"], "full", now, self.policy.sessions, client)
        audit(self.store, user["_id"], "session.opened", user["_id"], {"client": client}, at=now)
        return token

    def deny(self, user: CurrentUser | None, permission: str, where: str) -> PermissionDenied:
        """Record a refused permission in the audit log and return the error to raise."""
        exc = PermissionDenied(user.username if user else None, user.role if user else None, permission)
        audit(
            self.store,
            user.username if user else None,
            "permission.denied",
            where,
            {"permission": permission, "role": user.role if user else None},
            at=self.clock(),
        )
        return exc
