"""Vigil's dashboard router: page config, the auth gate, the shared filters, the page list."""

from __future__ import annotations

import streamlit as st

from components.filters import keep, render_sidebar

st.set_page_config(page_title="Vigil", page_icon=":material/radar:", layout="wide")

# ---- auth gate (issue 8): log in and check the role here, before any page runs;
# ---- st.stop() for anyone not allowed. Nothing below runs for them.

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/search:"),
    st.Page("pages/map.py", title="Map", icon=":material/map:"),
    st.Page("pages/anomalies.py", title="Anomalies", icon=":material/warning:"),
    st.Page("pages/sources.py", title="Sources", icon=":material/rss_feed:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]
FILTERED = {"Explore", "Map", "Export"}
"""Pages that read the shared sidebar filters (the others show the whole store)."""

page = st.navigation(PAGES)
keep()
if page.title in FILTERED:
    render_sidebar()
page.run()
