"""Fixtures for the auth and hardening tests: a controllable clock and an ``Auth`` over
the per-test store with a cheap Argon2 profile (the real profile costs ~64 MiB and
tens of milliseconds per hash; one test checks that logins upgrade cheap hashes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from pipelines.auth import Auth, AuthPolicy, Passwords
from pipelines.auth.totp import code_at
from pipelines.core.config import get_settings
from pipelines.store import Store

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery staple"


@dataclass
class Clock:
    """A clock tests move by hand (starts on a TOTP step boundary)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self.now += timedelta(seconds=seconds, **kw)
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def auth(store: Store, clock: Clock) -> Auth:
    return Auth(store, AuthPolicy(), clock=clock, passwords=Passwords(hasher=CHEAP))


def enrolled(
    auth: Auth, clock: Clock, name: str = "alice", role: str = "analyst"
) -> tuple[str, str, list[str]]:
    """Create ``name``, log in once through enrolment; returns (secret, token, recovery codes)."""
    auth.add_user(name, PASSWORD, role, "cli:test")
    step = auth.login_password(name, PASSWORD, "10.0.0.1")
    secret = auth.start_enrolment(step.token).secret
    token, codes = auth.finish_enrolment(step.token, code_at(secret, clock()), "10.0.0.1")
    clock.advance(30)  # the next code is a new step
    return secret, token, codes


@pytest.fixture()
def runner(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """In-process CLI on the test database (settings re-read from the patched env)."""
    monkeypatch.setenv("MONGODB_URI", store.uri)
    monkeypatch.setenv("MONGODB_DB", store.db.name)
    monkeypatch.delenv("VIGIL_USER_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
