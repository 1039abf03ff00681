"""Watchlist and alert widgets: cached reads of :mod:`pipelines.alerts.views`, and renderers.

Kept beside ``components/data.py`` rather than in it, so the alerts pages can evolve
without touching the dashboard's shared cache module; the wrappers follow the same rules
(short TTL, plain values and DataFrames, ``data.clear()`` after a change).
"""

from __future__ import annotations

from datetime import datetime

import altair as alt
import polars as pl
import streamlit as st

from components import data
from pipelines.alerts import views
from pipelines.search.watchlists import Watchlist

TTL_S = 15


@st.cache_data(ttl=TTL_S, show_spinner=False)
def preview(wl: Watchlist, until: datetime) -> views.Preview:
    return data.guarded(views.preview)(data.require_index(), wl, until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def visible_watchlists(user: str | None, role: str | None) -> list[Watchlist]:
    return views.visible_watchlists(data.get_store(), user, role)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def watchlist_table(user: str | None, role: str | None) -> pl.DataFrame:
    store = data.get_store()
    try:
        reader = data.get_reader()
    except data.SearchIndexError:
        reader = None  # the table still lists the definitions; the preview says what is wrong
    return views.watchlist_table(reader, views.visible_watchlists(store, user, role))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def rules_table() -> pl.DataFrame:
    return views.rules_table(views.rules(data.get_store()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def channels_table() -> pl.DataFrame:
    return views.channels_table(views.channels(data.get_store()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def deliveries(
    status: str | None = None, rule: str | None = None, channel: str | None = None
) -> pl.DataFrame:
    return views.deliveries(data.get_store(), status=status, rule=rule, channel=channel)


def sparkline(hourly: pl.DataFrame, height: int = 90) -> alt.Chart:
    """Posts per hour as a small area chart (the watchlist preview)."""
    return (
        alt.Chart(hourly.to_pandas())
        .mark_area(line=True, opacity=0.4, interpolate="step-after")
        .encode(
            x=alt.X("hour:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
            y=alt.Y("n:Q", title=None, axis=alt.Axis(tickCount=3, format="d"), scale=alt.Scale(domainMin=0)),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00"), alt.Tooltip("n:Q", title="posts")],
        )
        .properties(height=height)
    )


def render_deliveries(df: pl.DataFrame, height: int = 420) -> None:
    """The delivery log as a table (text columns are rendered as text, never as HTML)."""
    if df.is_empty():
        st.info("No alert has been sent yet.")
        return
    st.dataframe(
        df.select(
            [
                "at",
                "status",
                "channel",
                "rule",
                "kind",
                "severity",
                "title",
                "attempts",
                "last_error",
                "sent_at",
            ]
        ),
        hide_index=True,
        height=height,
        column_config={
            "at": st.column_config.DatetimeColumn("queued (UTC)", format="YYYY-MM-DD HH:mm"),
            "sent_at": st.column_config.DatetimeColumn("sent (UTC)", format="YYYY-MM-DD HH:mm"),
            "title": st.column_config.TextColumn("alert", width="large"),
            "last_error": st.column_config.TextColumn("last error", width="medium"),
        },
    )
