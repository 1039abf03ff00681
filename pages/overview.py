"""Overview: today against the week, the incidents on the data's timeline, collection health.

An archive (the bundled sample) is shown over its whole span, incidents shaded, so its
events are visible at once (``pipelines.read.spans``); live data shows its last 7 days.
"""

from __future__ import annotations

import streamlit as st

from components import auth, charts, data
from components.filters import current
from components.tables import render_posts_table
from pipelines.core.escape import markdown_text

auth.require_page("read")
st.title("Overview")
selection = current().describe()
if selection:  # say so rather than let a reader think these figures are the selection's
    st.caption(
        "This page shows the whole store. Your filters ("
        + "; ".join(f"{k}: {markdown_text(v)}" for k, v in selection)
        + ") apply to Explore, Map and Export."
    )

clock = data.data_clock()
window = data.default_window()
stats = data.overview(window)
active = data.anomalies(("open",))
incidents = data.incidents(("open",))

delta = None
if stats.daily_average > 0:
    delta = f"{(stats.posts_today - stats.daily_average) / stats.daily_average:+.0%} vs 7-day average"
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Posts today", f"{stats.posts_today:,}", delta=delta, help="The last 24 hours of data.")
c2.metric("7-day daily average", f"{stats.daily_average:,.0f}")
c3.metric(
    "Active anomalies",
    f"{active.height:,}",
    help=f"Grouped into {incidents.height:,} open incident(s) (minor ones, under 20 posts, not counted).",
)
c4.metric("Total posts", f"{stats.total_posts:,}")
c5.metric("Sources", f"{stats.sources:,}")

if stats.total_posts == 0:
    st.info(
        "The store is empty. `make run` imports the bundled sample on first start; "
        "`python -m pipelines import PATH` imports an archive."
    )
    st.stop()
if clock.archive:
    st.caption(
        f'This store holds an archive: "today" is the last 24 hours before its newest posts '
        f"({window.until:%Y-%m-%d %H:00} UTC), compared with the 7 days before."
    )

span = data.overview_span()
st.subheader("Posts per hour, " + ("the whole archive" if clock.archive else "last 7 days of data"))
hourly = data.posts_per_hour(span)
markers = data.incident_markers(span)
if hourly.is_empty():
    st.info("No posts in this window.")
else:
    st.altair_chart(charts.volume_with_anomalies(hourly, markers), width="stretch")
    st.caption(
        f"{span.since:%Y-%m-%d %H:%M} to {span.until:%Y-%m-%d %H:%M} UTC; "
        f"red bands: {markers.height} incident{'' if markers.height == 1 else 's'} in this period."
    )

left, mid, right = st.columns(3)
with left:
    st.subheader("Top incidents")
    if incidents.is_empty() and active.is_empty():
        st.success("No open anomalies.")
    elif incidents.is_empty():
        st.dataframe(
            active.sort("severity", descending=True).head(8).select("series", "start", "severity", "methods"),
            hide_index=True,
            column_config={
                "start": st.column_config.DatetimeColumn("start (UTC)", format="MM-DD HH:mm"),
                "severity": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
            },
        )
    else:
        st.dataframe(
            incidents.head(8).select("title", "posts"),
            hide_index=True,
            column_config={"title": st.column_config.TextColumn("incident", width="large")},
        )
    if not (incidents.is_empty() and active.is_empty()):
        st.page_link("pages/anomalies.py", label="Review incidents", icon=":material/warning:")
with mid:
    st.subheader("Source health")
    health = data.source_health()
    st.dataframe(
        health.select("source", "health", "last_run", "items_7d", "errors_7d"),
        hide_index=True,
        column_config={"last_run": st.column_config.DatetimeColumn("last run", format="MM-DD HH:mm")},
    )
with right:
    st.subheader("Top terms, last 24 h")
    terms = data.top_terms(data.today_filters(window))
    if terms.is_empty():
        st.info("No terms.")
    else:
        st.altair_chart(
            charts.bar_chart(terms.head(12), "term", height=22 * min(12, terms.height) + 20), width="stretch"
        )

a_col, p_col = st.columns([1, 2])
with a_col:
    st.subheader("Latest alerts")
    alerts = data.latest_alerts()
    if alerts.is_empty():
        st.info("No alerts yet: watchlists and alert rules send them.")
    else:
        st.dataframe(
            alerts,
            hide_index=True,
            column_config={"at": st.column_config.DatetimeColumn("time (UTC)", format="MM-DD HH:mm")},
        )
with p_col:
    st.subheader("Latest posts")
    render_posts_table(data.latest_posts(), height=320)
