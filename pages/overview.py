"""Overview: how much Vigil holds and what arrived lately."""

from __future__ import annotations

import streamlit as st

from components import auth, charts, data
from components.tables import render_posts_table

auth.require_page("read")
st.title("Overview")

window = data.default_window()
stats = data.overview(window)

c1, c2, c3 = st.columns(3)
c1.metric("Total posts", f"{stats.total_posts:,}")
c2.metric("Sources", f"{stats.sources:,}")
c3.metric("Posts in the last 7 days of data", f"{stats.posts_in_window:,}")

if stats.total_posts == 0:
    st.info(
        "The store is empty. `make run` imports the bundled sample on first start; "
        "`python -m pipelines import PATH` imports an archive."
    )
    st.stop()

st.subheader("Posts per hour")
st.caption(
    f"{window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC (the 7 days before the newest post)"
)
hourly = data.posts_per_hour(window)
if hourly.is_empty():
    st.info("No posts in this window.")
else:
    st.altair_chart(charts.volume_chart(hourly), use_container_width=True)

left, right = st.columns([1, 2])
with left:
    st.subheader("Posts per source")
    per_source = data.posts_per_source()
    st.altair_chart(charts.source_bar_chart(per_source), use_container_width=True)
with right:
    st.subheader("Latest posts")
    render_posts_table(data.latest_posts())
