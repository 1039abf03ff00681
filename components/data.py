"""Every ``st.cache_*`` wrapper around :mod:`pipelines.queries` lives here.

Pages never touch the store directly: they call these functions, which cache results
for a short TTL so that a rerun (every widget change) costs no database round trip.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipelines import queries
from pipelines.config import Settings
from pipelines.store import Store

TTL_S = 30


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One client per server process (reruns and sessions share it)."""
    return Store.open(Settings())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def default_window(days: int = 7) -> queries.TimeWindow:
    return queries.TimeWindow.last_days_of_data(get_store(), days)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def overview(window: queries.TimeWindow) -> queries.Overview:
    return queries.overview(get_store(), window)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def posts_per_source(window: queries.TimeWindow | None = None) -> pl.DataFrame:
    return queries.posts_per_source(get_store(), window)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def posts_per_hour(window: queries.TimeWindow) -> pl.DataFrame:
    return queries.posts_per_hour(get_store(), window)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_posts(limit: int = queries.LATEST_POSTS_LIMIT) -> pl.DataFrame:
    return queries.latest_posts(get_store(), limit)
