"""Watchlists: saved queries Vigil watches. Create and edit with a live preview."""

from __future__ import annotations

import streamlit as st

from components import alerts as ui
from components import auth, data
from components.tables import render_posts_table
from pipelines.core.escape import markdown_text
from pipelines.search.watchlists import ROLES, Watchlist, WatchlistError

user = auth.require_page("read")
st.title("Watchlists")
store = data.get_store()
mine = ui.visible_watchlists(user.username, user.role)
by_id = {w.id: w for w in mine}
NEW = "+ New watchlist"

if saved := st.session_state.pop("wl_saved", None):
    st.success(
        f"Saved {saved!r}. Explore, the alerts loop and the detector select its posts from now on, history included."
    )
if mine:
    st.dataframe(ui.watchlist_table(user.username, user.role), hide_index=True)
else:
    st.info(
        "No watchlist yet. Create one below: a keyword query (the same syntax as Explore), "
        "sources, languages or an area. Its posts, counts and hourly series then come from the search index."
    )

options = [NEW, *by_id]
if "wl_pick_next" in st.session_state:  # set by Save / Delete before the rerun
    st.session_state["wl_pick"] = st.session_state.pop("wl_pick_next")
elif "wl_pick" not in st.session_state and st.query_params.get("watchlist") in by_id:
    st.session_state["wl_pick"] = st.query_params["watchlist"]
if st.session_state.get("wl_pick") not in options:
    st.session_state["wl_pick"] = NEW
pick = st.selectbox(
    "Watchlist", options, format_func=lambda k: k if k == NEW else by_id[k].name, key="wl_pick"
)
current = by_id.get(pick)
may_edit = auth.can("watchlists.edit") and (current is None or current.editable_by(user.username, user.role))
k = current.id if current else "new"  # one set of widget keys per watchlist
opts = data.filter_options()

c1, c2 = st.columns([2, 3])
name = c1.text_input("Name", value=current.name if current else "", key=f"wl_name_{k}", disabled=not may_edit)
query = c2.text_input(
    "Keywords",
    value=current.query if current else "",
    key=f"wl_query_{k}",
    help='AND / OR / NOT, "quoted phrases", prefix*, #hashtags, @mentions',
    disabled=not may_edit,
)
exclude = st.text_input(
    "Exclude posts matching",
    value=current.exclude if current else "",
    key=f"wl_excl_{k}",
    disabled=not may_edit,
)
c3, c4 = st.columns(2)
sources = c3.multiselect(
    "Sources (all when empty)",
    sorted(set(opts.sources) | set(current.sources if current else ())),
    default=list(current.sources) if current else [],
    key=f"wl_src_{k}",
    disabled=not may_edit,
)
langs = c4.multiselect(
    "Languages (all when empty)",
    sorted(set(opts.langs) | set(current.langs if current else ())),
    default=list(current.langs) if current else [],
    key=f"wl_lang_{k}",
    disabled=not may_edit,
)
entities = st.multiselect(
    "Entities (any of them; all posts when empty)",
    sorted(set(getattr(opts, "entities", ())) | set(current.entities if current else ())),
    default=list(current.entities) if current else [],
    key=f"wl_ent_{k}",
    accept_new_options=True,
    placeholder="person:Obama, org:Red Cross ...",
    disabled=not may_edit,
)
use_geo = st.toggle(
    "Only posts within a circle",
    value=bool(current and current.geo),
    key=f"wl_geo_{k}",
    disabled=not may_edit,
)
geo = None
if use_geo:
    g1, g2, g3 = st.columns(3)
    g = current.geo if current and current.geo else None
    lat = g1.number_input(
        "Latitude", -90.0, 90.0, g.lat if g else 0.0, key=f"wl_lat_{k}", disabled=not may_edit
    )
    lon = g2.number_input(
        "Longitude", -180.0, 180.0, g.lon if g else 0.0, key=f"wl_lon_{k}", disabled=not may_edit
    )
    km = g3.number_input(
        "Radius (km)", 1.0, 20_000.0, g.km if g else 50.0, key=f"wl_km_{k}", disabled=not may_edit
    )
    geo = {"lat": lat, "lon": lon, "km": km}
with st.expander("Sharing"):
    owner = current.owner if current else user.username
    st.caption(f"Owner: {markdown_text(owner or 'the team')}")
    shared_users = st.text_input(
        "Share with users (comma separated)",
        value=", ".join(current.shared_users) if current else "",
        key=f"wl_users_{k}",
        disabled=not may_edit,
    )
    shared_roles = st.multiselect(
        "Share with roles",
        list(ROLES),
        default=list(current.shared_roles) if current else [],
        key=f"wl_roles_{k}",
        disabled=not may_edit,
    )

try:
    draft = Watchlist.make(
        id=current.id if current else None,
        name=name,
        query=query,
        exclude=exclude,
        sources=sources,
        langs=langs,
        entities=entities,
        geo=geo,
        owner=owner,
        shared_users=shared_users,
        shared_roles=shared_roles,
    )
except WatchlistError as exc:
    draft = None
    if name or query or sources or langs or entities or use_geo:
        st.error(markdown_text(exc))

if draft is not None:
    clock = data.data_clock()
    pv = ui.preview(draft, clock.end)
    st.subheader("Preview")
    st.metric("Matching posts in the last 7 days of data", f"{pv.count:,}")
    st.caption(f"{pv.since:%Y-%m-%d %H:%M} to {pv.until:%Y-%m-%d %H:%M} UTC")
    st.altair_chart(ui.sparkline(pv.hourly), use_container_width=True)
    if pv.count:
        render_posts_table(pv.posts, height=300)
    else:
        st.caption("No post in this window matches yet.")

if not may_edit:
    st.caption("You can read this watchlist; only its owner, analysts (team watchlists) and admins edit it.")
    st.stop()

b1, b2, _ = st.columns([1, 1, 4])
if b1.button("Save", type="primary", disabled=draft is None, key=f"wl_save_{k}"):
    auth.require_action("watchlists.edit", f"watchlist:{draft.id if draft else ''}")
    assert draft is not None
    if current is None and store.alerts.get_config("watchlists", draft.id) is not None:
        st.error(f"A watchlist with the id {draft.id!r} exists already: choose another name.")
    else:
        doc = draft.to_doc()
        doc.pop("created", None)
        doc.pop("updated", None)
        store.alerts.put_config("watchlists", doc)
        auth.record("watchlist.save", draft.id, {"query": draft.query, "fingerprint": draft.fingerprint})
        data.clear()
        st.session_state["wl_saved"] = draft.id
        st.session_state["wl_pick_next"] = draft.id
        st.rerun()
if current is not None and b2.button("Delete", key=f"wl_del_{k}"):
    auth.require_action("watchlists.edit", f"watchlist:{current.id}")
    store.alerts.delete_config("watchlists", current.id)
    auth.record("watchlist.delete", current.id)
    data.clear()
    st.session_state["wl_pick_next"] = NEW
    st.rerun()
