"""Vigil's dashboard router: page config, the login gate, then the page list. Nothing else lives here.

Before login the navigation holds only the login page, so no other page can be reached
by menu or URL; after login it holds the pages the user's role may see, and every page
checks the role again itself (``components/auth.py``).
"""

from __future__ import annotations

import streamlit as st

from components import auth

st.set_page_config(page_title="Vigil", page_icon=":material/radar:", layout="wide")

user = auth.gate()
if user is None:
    st.navigation([st.Page(auth.login_page, title="Log in", icon=":material/login:", url_path="login")]).run()
    st.stop()

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
]

st.navigation(auth.allowed_pages(PAGES, user)).run()
