"""Explore: the posts the sidebar filters select, a brushable timeline, breakdowns and a post's details.

Every figure comes from the search index and is exact (see ``components/data.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from components import auth, charts, data
from components.breakdown import BREAKDOWN_TABS, render_breakdown
from components.filters import render_active, render_sidebar
from components.tables import render_post_detail, render_selectable_posts
from pipelines.read.queries import MAX_PAGES, PAGE_SIZE

auth.require_page("read")
st.title("Explore")
filters = render_sidebar()
render_active(filters)

data.require_index()
c1, c2 = st.columns([1, 3])
bucket = c2.radio("Timeline per", ["auto", "hour", "day"], horizontal=True, key="explore_bucket")
tl = data.timeline(filters, bucket)
count = data.count_matching(filters)
c1.metric("Matching posts", f"{count:,}")

table_filters = filters
if tl.hourly.is_empty():
    st.info("No posts match these filters.")
else:
    event = st.altair_chart(
        charts.brush_timeline(tl.hourly, bucket=tl.bucket),
        width="stretch",
        on_select="rerun",
        key="explore_brush",
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

if count:
    # Lazy: the breakdowns are read and drawn only while the expander is open, and only the
    # chosen tab's (closed, it cost six tables and their queries on every run of the page).
    box = st.expander("Breakdown of the matching posts", key="explore_breakdown", on_change="rerun")
    if box.open:
        with box:
            tabs = st.tabs(list(BREAKDOWN_TABS), key="explore_breakdown_tab", on_change="rerun")
            for tab, name in zip(tabs, BREAKDOWN_TABS, strict=True):
                if tab.open:
                    render_breakdown(tab, name, filters)

o1, o2 = st.columns([1, 3])
page_no = o1.number_input("Page", min_value=1, max_value=MAX_PAGES, value=1, step=1, key="explore_page") - 1
order = o2.radio(
    "Order", ["newest", "relevance"], horizontal=True, key="explore_order", disabled=not filters.query
)
order = order if filters.query else "newest"
page = data.posts_page(table_filters, int(page_no), PAGE_SIZE, order)
if page.is_empty():
    st.info("No posts on this page." if page_no else "No posts match these filters.")
    st.stop()
first = page_no * PAGE_SIZE + 1
st.caption(
    f"Posts {first:,} to {page_no * PAGE_SIZE + page.height:,}, "
    + ("newest first." if order == "newest" else "most relevant first.")
)
selected = render_selectable_posts(page, filters.query, key="explore_table")
if selected is None:
    st.caption("Select a row to see the post with all its scores.")
else:
    doc = data.post_detail(selected)
    if doc is None:
        st.warning("That post is no longer in the store.")
    else:
        st.subheader("Post")
        render_post_detail(doc, filters.query)
