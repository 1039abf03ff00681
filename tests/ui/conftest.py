"""Fixtures for dashboard tests: point the app's cached store at the test database, and
log a user in (the dashboard shows nothing but the login page to anonymous visitors).

``app_store`` gives every ``AppTest`` created during the test a logged-in **admin**
session, so page tests need no login code. Use :func:`login` to act as another role
(it replaces the session), or ``app_store_anonymous`` to start logged out.
A session is opened directly in the store (``Auth.open_session``), as the login form
would after password and TOTP; the login form itself is tested in
``tests/ui/test_auth.py`` and in the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from pipelines.auth import Auth, Passwords
from pipelines.search.index import SearchIndex, index_path
from pipelines.search.indexer import Indexer
from pipelines.store import Store

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TOKEN_KEY = "vigil_auth_token"  # components.auth.TOKEN_KEY (not imported: it imports streamlit state)
TEST_PASSWORD = "test password for the ui"
_CHEAP = Passwords(hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def login(at: AppTest, store: Store, role: str = "admin", username: str | None = None) -> str:
    """Make ``at`` a logged-in session of a user with ``role`` (created when missing)."""
    name = username or f"test-{role}"
    auth = Auth(store, passwords=_CHEAP)
    if store.users.get(name) is None:
        auth.add_user(name, TEST_PASSWORD, role, "cli:test")
    token = auth.open_session(name, client="apptest")
    at.session_state[TOKEN_KEY] = token
    return token


def logout(at: AppTest) -> None:
    """Drop the session token from ``at`` (the next run shows the login page)."""
    if TOKEN_KEY in at.session_state:
        del at.session_state[TOKEN_KEY]


def _wire(store: Store, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("MONGODB_URI", store.uri)
    monkeypatch.setenv("MONGODB_DB", store.db.name)
    monkeypatch.setenv("VIGIL_DATA_DIR", str(data_dir))
    st.cache_resource.clear()
    st.cache_data.clear()


def reindex(store: Store, data_dir: Path) -> None:
    """Rebuild the search index of ``data_dir`` from the store (what ``index --rebuild`` does).

    A rebuild rather than a catch-up: tests seed scores with direct updates, which carry
    no change number for the indexer to follow.
    """
    index = SearchIndex.open_or_create(index_path(data_dir))
    indexer = Indexer(store, index)
    try:
        indexer.rebuild()
    finally:
        indexer.close()
        del indexer


@pytest.fixture()
def app_store_anonymous(store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Store]:
    """The per-test store, wired so that ``components.data.get_store`` opens it; logged out.

    Every ``AppTest.run`` first rebuilds the test's search index from the store, so pages
    see what the test seeded (as a running indexer would make them see it).
    """
    data_dir = tmp_path / "vigil-data"
    data_dir.mkdir()
    _wire(store, monkeypatch, data_dir)
    original = AppTest.run

    def run(self: AppTest, *args, **kwargs):
        reindex(store, data_dir)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AppTest, "run", run)
    yield store
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture()
def app_store(app_store_anonymous: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """``app_store_anonymous`` where every new ``AppTest`` starts logged in as an admin."""
    store = app_store_anonymous
    for name in ("from_file", "from_function", "from_string"):
        original = getattr(AppTest, name).__func__

        def logged_in(cls, *args, _original=original, **kwargs):
            at = _original(cls, *args, **kwargs)
            login(at, store, "admin")
            return at

        monkeypatch.setattr(AppTest, name, classmethod(logged_in))
    return store
