"""Export: exactly what the sidebar filters select, as CSV, Parquet, XLSX or a PDF report."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from components import auth, data
from components.filters import render_active, render_sidebar
from pipelines.read import reports
from pipelines.search.index import SearchIndexError
from pipelines.search.select import SelectError

auth.require_page("export")
st.title("Export")
filters = render_sidebar()
render_active(filters)
reader = data.require_index()
count = data.count_matching(filters)
st.metric("Posts selected", f"{count:,}")
st.caption("An export holds exactly the posts counted above, newest first, read in batches.")

fmt = st.radio("Format", ["csv", "parquet", "xlsx", "pdf report"], horizontal=True, key="export_fmt")
title = st.text_input("Report title", value="Vigil report", key="export_title") if fmt == "pdf report" else ""
if st.button("Prepare the file", type="primary", key="export_go"):
    bar = st.progress(0.0, text="Reading posts...")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"{done:,} of {total:,} posts written")

    auth.require_action("export", "export")
    auth.record("export", fmt, {"filters": dict(filters.describe())})
    try:
        if fmt == "pdf report":
            pdf, summary = reports.pdf_report(reader, filters, title or "Vigil report", progress)
            st.session_state["export_file"] = (pdf, "vigil-report.pdf", "application/pdf", summary.posts)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"vigil-export.{fmt}"
                result = reports.export(reader, filters, fmt, path, progress)
                mime = {
                    "csv": "text/csv",
                    "parquet": "application/vnd.apache.parquet",
                    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                }[fmt]
                st.session_state["export_file"] = (path.read_bytes(), path.name, mime, result.rows)
        bar.progress(1.0, text="Done")
    except (reports.ExportError, SelectError, SearchIndexError) as exc:
        st.error(str(exc))

ready = st.session_state.get("export_file")
if ready:
    payload, name, mime, rows = ready
    st.success(f"{name}: {rows:,} posts, {len(payload) / 1024:,.0f} KiB")
    st.download_button(
        f"Download {name}", payload, file_name=name, mime=mime, key="export_dl", on_click="ignore"
    )
