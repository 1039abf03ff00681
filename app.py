"""Vigil's dashboard router: page config, the login gate, the shared filters, the page list.

Before login the navigation holds only the login page, so no other page can be reached
by menu or URL; after login it holds the pages the user's role may see, and every page
checks the role again itself (``components/auth.py``). The shared sidebar filters
(``components/filters.py``) are drawn by the pages that use them (Explore, Map, Export:
one component, the same widget keys, so the same values on each); ``keep()`` here holds
their values while a page without them is shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy  # noqa: F401  (see the comment below)
import pandas  # noqa: F401
import streamlit as st

from components import auth
from components.filters import keep

# numpy and pandas are imported above on purpose, by every run of every session: altair
# looks them up in ``sys.modules`` without importing them, so a chart drawn while another
# session's thread was still importing pandas (polars' ``to_pandas``) met a half-built
# module (``AttributeError`` on ``pandas.Timestamp``; seen on a cold server in the browser
# test). A real ``import`` waits until the other thread's import has finished.

# A local icon: a Material-symbol favicon is fetched from Google's font server, and a
# self-hosted dashboard asks nothing of the outside world.
st.set_page_config(
    page_title="Vigil", page_icon=str(Path(__file__).parent / "components" / "icon.png"), layout="wide"
)

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/search:"),
    st.Page("pages/map.py", title="Map", icon=":material/map:"),
    st.Page("pages/anomalies.py", title="Anomalies", icon=":material/warning:"),
    st.Page("pages/sources.py", title="Sources", icon=":material/rss_feed:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
    st.Page("pages/watchlists.py", title="Watchlists", icon=":material/visibility:"),
    st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
]
user = auth.gate(PAGES)
if user is None:  # only the login form, under every page's address (a deep link survives login)
    st.navigation(auth.login_pages(PAGES)).run()
    st.stop()
page = st.navigation(auth.allowed_pages(PAGES, user))
keep()
page.run()
