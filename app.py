"""Vigil's dashboard router: page config, then the page list. Nothing else lives here."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Vigil", page_icon=":material/radar:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
]

st.navigation(PAGES).run()
