"""Sources: health per source, switch them on or off, add one with a validated form."""

from __future__ import annotations

import streamlit as st

from components import auth, data
from pipelines.core.escape import markdown_text
from pipelines.ingest.sources import KINDS, InvalidSource, parse_param_pairs, validate_source

auth.require_page("sources.view")
st.title("Sources")
health = data.source_health()
if health.is_empty():
    st.info("No sources yet: add one below, or import an archive.")
else:
    st.dataframe(
        health,
        hide_index=True,
        column_config={
            "last_run": st.column_config.DatetimeColumn("last run (UTC)", format="YYYY-MM-DD HH:mm"),
            "last_error": st.column_config.TextColumn("last error", width="medium"),
        },
    )
    st.caption(
        "healthy: last run ok and on time; late: no run for three intervals; degraded: the last run had "
        "errors but fetched something; failing: it fetched nothing; archive: imported posts, no definition."
    )

defined = health.filter(health["kind"].is_not_null()) if not health.is_empty() else health
if not auth.can("sources.edit"):
    st.caption("Only administrators can enable, disable or add sources.")
    st.stop()
if not defined.is_empty():
    st.subheader("Enable or disable")
    store = data.get_store()
    for r in defined.iter_rows(named=True):
        on = st.toggle(r["source"], value=bool(r["enabled"]), key=f"src_on_{r['source']}")
        if on != bool(r["enabled"]):
            auth.require_action("sources.edit", f"source:{r['source']}")
            store.sources.set_enabled(r["source"], on)
            auth.record("source.enable" if on else "source.disable", r["source"])
            data.clear()
            st.rerun()

st.subheader("Add a source")
with st.form("add_source", clear_on_submit=False):
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", placeholder="bbc-world", help="lower-case letters, digits, '.', '_', '-'")
    kind = c2.selectbox("Kind", KINDS)
    url = st.text_input("Feed URL (rss only)", placeholder="https://feeds.bbci.co.uk/news/world/rss.xml")
    params = st.text_area(
        "Parameters, one key=value per line (not for rss)", placeholder="subreddit=worldnews\nlisting=new"
    )
    interval = st.number_input("Interval (seconds)", min_value=10, max_value=7 * 86400, value=900, step=60)
    submitted = st.form_submit_button("Add source", type="primary")
if submitted:
    try:
        pairs = [line.strip() for line in params.splitlines() if line.strip()]
        src = validate_source(
            {
                "name": name.strip(),
                "kind": kind,
                "url": url.strip() or None,
                "params": parse_param_pairs(pairs),
                "interval_s": int(interval),
            }
        )
    except InvalidSource as exc:
        st.error(markdown_text(exc))
    else:
        auth.require_action("sources.edit", f"source:{src.name}")
        store = data.get_store()
        if store.sources.get(src.name) is not None:
            st.error(f"A source named {src.name!r} already exists.")
        else:
            store.sources.upsert(src.to_doc())
            auth.record("source.add", src.name, {"kind": src.kind})
            data.clear()
            st.success(f"Added {src.name!r}; the crawler picks it up on its next cycle.")
