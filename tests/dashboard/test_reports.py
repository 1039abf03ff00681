"""Exports read back and compared with the query: rows, columns, filters honoured."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from pipelines.read import reports
from pipelines.read.queries import FRAME_SCHEMA
from pipelines.search.filters import Filters
from pipelines.store import Store
from tests.ui.seed import BASE, anomaly_doc, seed

FILTERS = [
    Filters(),
    Filters.make(query="flood OR calgary"),
    Filters.make(sources=["beta"], since=BASE - timedelta(days=2), until=BASE),
    Filters.make(threat=(0.3, 1.0), langs=["en"]),
]


def _expected(store: Store, f: Filters) -> list[str]:
    return sorted(d["_id"] for d in store.db.posts.find(f.to_mongo(), {"_id": 1}))


@pytest.mark.parametrize("f", FILTERS, ids=["all", "keywords", "source+time", "threat+lang"])
def test_csv_parquet_xlsx_hold_exactly_the_selection(store: Store, tmp_path, f: Filters, make_reader):
    seed(store)
    reader = make_reader()
    want = _expected(store, f)
    assert want
    got_csv = reports.export(reader, f, "csv", tmp_path / "x.csv")
    with (tmp_path / "x.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert got_csv.rows == len(rows) == len(want)
    assert list(rows[0]) == list(FRAME_SCHEMA)
    assert sorted(r["id"] for r in rows) == want

    reports.export(reader, f, "parquet", tmp_path / "x.parquet")
    table = pl.from_arrow(pq.read_table(tmp_path / "x.parquet"))
    assert table.columns == list(FRAME_SCHEMA) and sorted(table["id"]) == want
    doc = store.db.posts.find_one({"_id": want[0]})
    row = table.filter(pl.col("id") == want[0]).row(0, named=True)
    assert row["text"] == doc["text"] and row["source"] == doc["source"]
    assert row["threat"] == (doc.get("scores") or {}).get("threat")

    reports.export(reader, f, "xlsx", tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx", read_only=True)["posts"]
    cells = list(ws.iter_rows(values_only=True))
    assert list(cells[0]) == list(FRAME_SCHEMA)
    assert sorted(c[0] for c in cells[1:]) == want


def test_formula_text_is_neutralised_in_csv_and_kept_as_text_in_xlsx(store: Store, tmp_path, make_reader):
    from pipelines.core.post import build_post

    store.posts.upsert(
        [build_post(source="evil", native_id="1", ts=BASE, text='=HYPERLINK("http://x")').to_doc()]
    )
    f = Filters.make(sources=["evil"])
    reader = make_reader()
    reports.export(reader, f, "csv", tmp_path / "e.csv")
    row = next(csv.DictReader((tmp_path / "e.csv").open(encoding="utf-8")))
    assert row["text"] == '\'=HYPERLINK("http://x")'
    reports.export(reader, f, "xlsx", tmp_path / "e.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "e.xlsx")["posts"]
    assert ws.cell(2, list(FRAME_SCHEMA).index("text") + 1).data_type == "s"


def test_progress_reaches_the_total(store: Store, tmp_path, make_reader):
    seed(store)
    reader = make_reader()
    seen: list[tuple[int, int]] = []
    reports.export(reader, Filters(), "csv", tmp_path / "p.csv", progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] == store.db.posts.count_documents({})


def test_unknown_format_is_refused(store: Store, tmp_path, make_reader):
    reader = make_reader()
    with pytest.raises(reports.ExportError, match="unknown export format 'docx'"):
        reports.export(reader, Filters(), "docx", tmp_path / "x.docx")


def test_pdf_report_shows_the_selection(store: Store, make_reader):
    seed(store)
    store.db.anomalies.insert_one(anomaly_doc(0))
    reader = make_reader()
    f = Filters.make(query="calgary")
    pdf, data = reports.pdf_report(reader, f, title="Calgary flood brief")
    assert data.posts == store.db.posts.count_documents(f.to_mongo()) > 0
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = "\n".join(p.extract_text() for p in pages)
    assert "Calgary flood brief" in text
    assert "keywords: calgary" in text
    assert f"{data.posts:,}" in text
    assert "source:alpha|count" in text  # the anomaly in the period
    assert "Calgary" in text  # a top place
    newest = store.db.posts.find_one(f.to_mongo(), sort=[("ts", -1)])
    assert newest["text"][:30] in text.replace("\n", " ")
    assert any("/Image" in str(p.get("/Resources", {}).get("/XObject", {})) or p.images for p in pages)
