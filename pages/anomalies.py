"""Anomalies: incidents first (titled, ranked by impact, with verdicts), then every anomaly."""

from __future__ import annotations

import streamlit as st

from components import auth, charts, data
from components.tables import render_posts_table
from pipelines.auth.roles import PermissionDenied
from pipelines.core.escape import markdown_text
from pipelines.read import incident_views, triage

auth.require_page("read")
st.title("Anomalies")


def render_incidents() -> None:
    """Incidents ranked by impact; ``?incident=ID`` (alert links) opens one's drill-down."""
    st.subheader("Incidents")
    c1, c2 = st.columns([2, 1])
    statuses = c1.multiselect(
        "Incident status", list(incident_views.STATUSES), default=["open", "useful"], key="inc_status"
    )
    minor = c2.toggle("Show minor (< 20 posts)", key="inc_minor")
    table = data.incidents(tuple(statuses), minor)
    linked = st.query_params.get("incident")
    if linked and st.session_state.get("inc_linked") != linked:
        st.session_state["inc_linked"] = linked  # follow a link once; later picks win
        st.session_state["inc_pick"] = linked
    if table.is_empty() and not linked:
        st.info(
            "No incidents with these statuses: related anomalies are grouped into incidents each detector cycle."
        )
        return
    event = st.dataframe(
        table.select("rank", "title", "posts", "excess", "severity", "series", "status"),
        hide_index=True,
        key="inc_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "title": st.column_config.TextColumn("incident", width="large"),
            "excess": st.column_config.NumberColumn("posts over baseline", format="%.0f"),
            "severity": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
            "series": st.column_config.NumberColumn("series", help="anomalies grouped in this incident"),
        },
    )
    ids = table["id"].to_list()
    rows = event.selection.rows if event is not None else []
    if rows:
        st.session_state["inc_pick"] = ids[rows[0]]
    pick = st.session_state.get("inc_pick")
    options = ids + ([pick] if pick and pick not in ids else [])
    titles = dict(zip(ids, table["title"].to_list(), strict=True))
    if pick not in options:
        st.session_state["inc_pick"] = None
    incident_id = st.selectbox(
        "Incident",
        options,
        key="inc_pick",
        format_func=lambda i: titles.get(i, i),
        placeholder="Select an incident",
    )
    if incident_id is not None:
        render_incident(incident_id)


def render_incident(incident_id: str) -> None:
    """One incident: title, explanation, numbers, chart of its lead series, members, verdicts."""
    view = data.incident(incident_id)
    if view is None:
        st.warning("This incident no longer exists (its anomalies may have been regrouped).")
        return
    doc = view.doc
    st.markdown(f"#### {markdown_text(doc.get('title') or incident_id)}")
    st.write(markdown_text(doc.get("explanation") or ""))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Posts", f"{doc.get('posts') or 0:,}")
    m2.metric(
        "Expected", f"{doc.get('expected_total') or 0:,.0f}", help=f"lead series {doc.get('lead_series')}"
    )
    m3.metric("Severity", f"{doc.get('severity') or 0:.2f}")
    m4.metric("Status", str(doc.get("status") or "open"))
    lead = data.anomaly(str(doc.get("lead") or "")) if doc.get("lead") else None
    if lead is not None and not lead.context.is_empty():
        st.altair_chart(charts.band_chart(lead.context, lead.row["start"], lead.row["end"]), width="stretch")
    st.markdown("**Series in this incident**")
    st.dataframe(view.members, hide_index=True, key="inc_members")
    t1, t2 = st.columns(2)
    for col, frame, what in ((t1, view.terms, "terms"), (t2, view.places, "places")):
        if frame.is_empty():
            col.caption(f"No {what} recorded.")
        else:
            col.dataframe(frame, hide_index=True)
    if view.post_ids:
        render_posts_table(data.posts_by_ids(tuple(view.post_ids)), height=240)
    st.markdown("**Verdict**")
    for v in doc.get("verdicts") or []:
        label = incident_views.VERDICT_LABELS.get(v.get("verdict"), v.get("verdict"))
        st.caption(
            f"{label} by {markdown_text(str(v.get('by')))} on {v.get('at'):%Y-%m-%d %H:%M} UTC"
            + (f": {markdown_text(str(v.get('note')))}" if v.get("note") else "")
        )
    st.caption("Detector sensitivity now: " + "; ".join(f"{s}: {d}" for s, d in view.damping.items()))
    note = st.text_input(
        "Note (needed for 'false positive' and 'not interesting')",
        key=f"inc_note_{incident_id}",
        max_chars=500,
    )
    may_act = auth.can("anomalies.ack")
    cols = st.columns(3)
    for col, (verdict, label) in zip(cols, incident_views.VERDICT_LABELS.items(), strict=True):
        if col.button(label, key=f"inc_{verdict}", disabled=not may_act):
            from pipelines.detect.verdicts import record_verdict

            user = auth.require_action("anomalies.ack", f"incident:{incident_id}")
            try:
                record_verdict(data.get_store(), incident_id, verdict, user=user, note=note)
            except (ValueError, PermissionDenied) as exc:
                st.error(str(exc))
                return
            data.clear()
            st.rerun()


render_incidents()
st.divider()
st.subheader("All anomalies")
c1, c2 = st.columns([2, 1])
statuses = c1.multiselect(
    "Status", list(triage.STATUSES), default=["open", "acknowledged"], key="anom_status"
)
order = c2.selectbox("Sort by", ["severity", "newest", "status"], key="anom_sort")
anoms = data.anomalies(tuple(statuses))
if anoms.is_empty():
    st.info(
        "No anomalies with these statuses. The detector (`python -m pipelines detect --loop`, "
        "part of `make run`) raises them from the hourly rollups."
    )
    st.stop()
sort = {"severity": ("severity", True), "newest": ("start", True), "status": ("status", False)}[order]
anoms = anoms.sort(sort[0], descending=sort[1], nulls_last=True)
event = st.dataframe(
    anoms,
    hide_index=True,
    key="anom_table",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "start": st.column_config.DatetimeColumn("start (UTC)", format="YYYY-MM-DD HH:mm"),
        "end": st.column_config.DatetimeColumn("end (UTC)", format="YYYY-MM-DD HH:mm"),
        "severity": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
        "observed": st.column_config.NumberColumn(format="%.1f"),
        "expected": st.column_config.NumberColumn(format="%.1f"),
    },
)
rows = event.selection.rows if event is not None else []
ids = anoms["id"].to_list()
labels = {
    r["id"]: f"{r['series']} · {r['start']:%Y-%m-%d %H:%M} · severity {r['severity'] or 0:.2f}"
    for r in anoms.iter_rows(named=True)
}
linked = st.query_params.get("anomaly")  # alert links: anomalies?anomaly=<id>
if linked and st.session_state.get("anom_linked") != linked:
    st.session_state["anom_linked"] = linked  # follow a link once; later picks win
    if linked in ids:
        st.session_state["anom_pick"] = linked
if rows:  # a row selected in the table drives the picker
    st.session_state["anom_pick"] = ids[rows[0]]
elif st.session_state.get("anom_pick") not in ids:
    st.session_state["anom_pick"] = None
anomaly_id = st.selectbox(
    "Drill down into",
    ids,
    key="anom_pick",
    format_func=lambda i: labels.get(i, i),
    placeholder="Select an anomaly",
)
if anomaly_id is None:
    st.caption("Select an anomaly in the table or the list to drill down.")
    st.stop()

with st.spinner("Rebuilding the series around the anomaly..."):
    view = data.anomaly(anomaly_id)
if view is None:
    st.warning("This anomaly no longer exists.")
    st.stop()
row = view.row
st.subheader(
    f"{markdown_text(row['series'])} · {row['start']:%Y-%m-%d %H:%M} to {row['end']:%Y-%m-%d %H:%M} UTC"
)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Severity", f"{row['severity'] or 0:.2f}")
m2.metric("Observed (peak)", f"{row['observed'] or 0:,.1f}")
lo, hi = triage.interval_of(view.doc)
m3.metric(
    "Expected (peak)",
    f"{row['expected'] or 0:,.1f}",
    help=f"interval {lo} to {hi}" if lo is not None else None,
)
m4.metric("Status", row["status"])

st.markdown("**What fired and why**")
methods = row["methods"] or "not recorded"
why = view.doc.get("explanation") or view.doc.get("reason")
st.write(
    f"Methods: {methods}. "
    "`prophet`/`robust`: the value left the expected band of its baseline; "
    "`stumpy`: the recent shape is unlike anything in the series' history (matrix-profile discord)."
)
if why:
    st.text(str(why))

if view.context.is_empty():
    st.info(f"No series context: {view.context_source}.")
else:
    st.altair_chart(charts.band_chart(view.context, row["start"], row["end"]), width="stretch")
    st.caption(
        "Red: observed; dashed blue: expected; shaded blue: the expected interval; shaded red: the anomaly "
        f"window ({'stored by the detector' if view.context_source == 'stored' else 'recomputed from rollups'})."
    )
    if view.context["mp"].drop_nulls().len():
        st.altair_chart(charts.matrix_profile_chart(view.context), width="stretch")

t1, t2 = st.columns(2)
with t1:
    st.markdown("**Top terms**")
    if view.terms.is_empty():
        st.caption("No terms recorded.")
    else:
        st.dataframe(view.terms, hide_index=True)
with t2:
    st.markdown("**Top places**")
    if view.places.is_empty():
        st.caption("No places recorded.")
    else:
        st.dataframe(view.places, hide_index=True)
st.markdown("**Top people, organisations and products**")
if view.entities.is_empty():
    st.caption("No entities recorded (posts not scored yet, or scored before entities existed).")
else:
    st.dataframe(
        view.entities.select([c for c in ("entity", "n") if c in view.entities.columns]), hide_index=True
    )
st.markdown("**Top posts**")
if view.posts:
    render_posts_table(data.posts_by_ids(tuple(view.posts)), height=300)
else:
    st.caption("No posts recorded with this anomaly.")

st.markdown("**Verdict**")
note = st.text_input("Note (optional, kept with the verdict)", key=f"anom_note_{anomaly_id}", max_chars=500)
a1, a2, a3 = st.columns(3)
may_act = auth.can("anomalies.ack")
for col, status, label, icon in (
    (a1, "acknowledged", "Acknowledge", ":material/check:"),
    (a2, "false_positive", "False positive", ":material/block:"),
):
    if col.button(label, key=f"anom_{status}", icon=icon, disabled=not may_act):
        user = auth.require_action("anomalies.ack", f"anomaly:{anomaly_id}")
        triage.set_status(data.get_store(), anomaly_id, status, by=user.username, note=note)
        auth.record(f"anomaly.{status}", anomaly_id, {"note": note} if note else None)
        data.clear()
        st.rerun()
if a3.button("Open in Explore", key="anom_explore", icon=":material/search:", type="primary"):
    # The filters travel in the address (every field, see Filters.to_params), so the
    # Explore page it opens is also a link that can be copied and shared.
    st.switch_page("pages/explore.py", query_params=triage.explore_filters(view.doc).to_params())
