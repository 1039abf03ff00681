"""Fixtures for dashboard tests: point the app's cached store at the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from pipelines.store import Store

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture()
def app_store(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The per-test store, wired so that ``components.data.get_store`` opens it."""
    monkeypatch.setenv("MONGODB_URI", store.uri)
    monkeypatch.setenv("MONGODB_DB", store.db.name)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield store
    st.cache_resource.clear()
    st.cache_data.clear()
