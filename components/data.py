"""Every ``st.cache_*`` wrapper around :mod:`pipelines.queries` lives here.

Pages never touch the store directly: they call these functions, which cache results
for a short TTL so that a rerun (every widget change) costs no database round trip.
Cache keys are the arguments: :class:`~pipelines.filters.Filters` is frozen and
hashable, so two users with the same filters share one query.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from pipelines import health, queries, triage
from pipelines.config import Settings
from pipelines.filters import Filters
from pipelines.store import Store

TTL_S = 30
"""Seconds a query result is reused; new posts show up at most this late."""
SLOW_TTL_S = 300
"""For what changes rarely (filter options)."""


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One client per server process (reruns and sessions share it)."""
    return Store.open(Settings())


def clear() -> None:
    """Forget cached results (after an action that changed the store)."""
    st.cache_data.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def data_clock() -> queries.DataClock:
    return queries.data_clock(get_store())


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


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def filter_options() -> queries.FilterOptions:
    return queries.filter_options(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def timeline(filters: Filters) -> queries.Timeline:
    return queries.timeline(get_store(), filters)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def count_matching(filters: Filters) -> queries.Count:
    return queries.count_matching(get_store(), filters)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def posts_page(filters: Filters, page: int, page_size: int = queries.PAGE_SIZE) -> pl.DataFrame:
    return queries.posts_page(get_store(), filters, page, page_size)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def post_detail(post_id: str) -> dict[str, Any] | None:
    return queries.post_detail(get_store(), post_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def top_terms(filters: Filters, top: int = 20) -> pl.DataFrame:
    return queries.top_terms(get_store(), filters, top=top)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def top_places(filters: Filters, top: int = 15) -> pl.DataFrame:
    return queries.top_places(get_store(), filters, top=top)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def map_points(filters: Filters, limit: int = queries.MAP_POINTS_LIMIT) -> pl.DataFrame:
    return queries.map_points(get_store(), filters, limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def posts_by_ids(ids: tuple[str, ...]) -> pl.DataFrame:
    return queries.posts_by_ids(get_store(), list(ids))


# --------------------------------------------------------------------------- anomalies


@st.cache_data(ttl=TTL_S, show_spinner=False)
def anomalies(statuses: tuple[str, ...] = (), limit: int = triage.LIST_LIMIT) -> pl.DataFrame:
    return triage.anomaly_list(get_store(), statuses, limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def anomaly(anomaly_id: str) -> triage.AnomalyView | None:
    return triage.anomaly_view(get_store(), anomaly_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def anomaly_markers(window: queries.TimeWindow) -> pl.DataFrame:
    return triage.anomaly_markers(get_store(), window.since, window.until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_alerts(limit: int = 10) -> pl.DataFrame:
    return triage.latest_alerts(get_store(), limit)


# --------------------------------------------------------------------------- sources


@st.cache_data(ttl=TTL_S, show_spinner=False)
def source_health() -> pl.DataFrame:
    return health.source_health(get_store())


def today_filters(window: queries.TimeWindow) -> Filters:
    """The last 24 hours of ``window`` as filters (Overview's top terms)."""
    from datetime import timedelta

    return Filters.make(since=window.until - timedelta(hours=24), until=window.until)


# --------------------------------------------------------------------------- incidents (issue 12)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incidents(statuses: tuple[str, ...] = (), include_minor: bool = False) -> pl.DataFrame:
    from pipelines import incident_views

    return incident_views.incident_list(get_store(), statuses, include_minor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incident(incident_id: str) -> Any:
    from pipelines import incident_views

    return incident_views.incident_view(get_store(), incident_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incident_markers(window: queries.TimeWindow) -> pl.DataFrame:
    from pipelines import incident_views

    return incident_views.incident_markers(get_store(), window.since, window.until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def overview_span() -> queries.TimeWindow:
    """Overview's timeline: the whole archive, or the last 7 days of live data (pipelines.spans)."""
    from pipelines import spans

    return spans.overview_span(data_clock(), get_store().ts_range()[0])
