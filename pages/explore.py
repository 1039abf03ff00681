"""Explore: the posts the sidebar filters select, a brushable timeline and a post's details."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from components import auth, charts, data
from components.filters import render_active, render_sidebar
from components.tables import render_post_detail, render_selectable_posts
from pipelines.queries import MAX_PAGES, PAGE_SIZE

auth.require_page("read")
st.title("Explore")
filters = render_sidebar()
render_active(filters)

tl = data.timeline(filters)
count = data.count_matching(filters)
c1, c2 = st.columns([1, 3])
c1.metric("Matching posts", count.label())
if not count.complete and count.reach.since is not None:
    c2.caption(
        f"Counted over the newest posts back to {count.reach.since:%Y-%m-%d %H:%M} UTC "
        f"({count.reach.examined:,} posts examined); narrow the time range for an exact count."
    )
elif not tl.from_rollups:
    c2.caption("Counted from the posts (keywords and scores are not in the rollups).")

table_filters = filters
if tl.hourly.is_empty():
    st.info("No posts match these filters.")
else:
    event = st.altair_chart(
        charts.brush_timeline(tl.hourly), width="stretch", on_select="rerun", key="explore_brush"
    )
    brushed = (event or {}).get("selection", {}).get(charts.BRUSH, {}) if event else {}
    span = brushed.get("hour") if isinstance(brushed, dict) else None
    if span and len(span) == 2:
        lo = datetime.fromtimestamp(min(span) / 1000, tz=UTC)
        hi = datetime.fromtimestamp(max(span) / 1000, tz=UTC)
        since = max(lo, filters.since) if filters.since else lo
        until = min(hi, filters.until) if filters.until else hi
        if since < until:
            table_filters = filters.replace(since=since, until=until)
            st.caption(
                f"Table limited to the brushed interval {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC."
            )
    else:
        st.caption("Drag across the chart to limit the table to an interval.")

page_no = st.number_input("Page", min_value=1, max_value=MAX_PAGES, value=1, step=1, key="explore_page") - 1
page = data.posts_page(table_filters, int(page_no))
if page.posts.is_empty():
    st.info("No posts on this page." if page_no else "No posts match these filters.")
    st.stop()
st.caption(f"Posts {page_no * PAGE_SIZE + 1:,} to {page_no * PAGE_SIZE + page.posts.height:,}, newest first.")
selected = render_selectable_posts(page.posts, filters.query, key="explore_table")
if selected is None:
    st.caption("Select a row to see the post with all its scores.")
else:
    doc = data.post_detail(selected)
    if doc is None:
        st.warning("That post is no longer in the store.")
    else:
        st.subheader("Post")
        render_post_detail(doc, filters.query)
