"""``python -m pipelines export``: a dashboard link's selection written to disk, exactly."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import polars as pl
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from pipelines.cli.export_cmd import filter_params
from pipelines.search.filters import Filters
from pipelines.store import Store
from tests.ui.conftest import reindex
from tests.ui.seed import BASE, seed


@pytest.fixture()
def cli(pipelines_cli):
    return pipelines_cli


def _expected(store: Store, f: Filters) -> list[str]:
    return sorted(d["_id"] for d in store.db.posts.find(f.to_mongo(), {"_id": 1}))


def test_a_dashboard_link_exports_exactly_its_selection(cli, store: Store, tmp_path: Path):
    seed(store)
    reindex(store, tmp_path)
    f = Filters.make(query="flood OR calgary", since=BASE - timedelta(days=3), until=BASE + timedelta(days=1))
    want = _expected(store, f)
    assert want and len(want) < store.db.posts.count_documents({})  # the filters do select
    link = "http://localhost:8501/explore?" + urlencode(f.to_params())
    res = cli("export", str(tmp_path / "sel.csv"), "--filters", link)
    assert res.exit_code == 0, res.output
    with (tmp_path / "sel.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["id"] for r in rows) == want
    assert f"{len(want):,} posts" in res.output
    # The bare query string works alike, and the format can come from --format.
    res = cli(
        "export", str(tmp_path / "sel.out"), "--format", "parquet", "--filters", urlencode(f.to_params())
    )
    assert res.exit_code == 0, res.output
    assert sorted(pl.from_arrow(pq.read_table(tmp_path / "sel.out"))["id"]) == want
    # Audited as the command-line user, with the filters.
    (event,) = store.audit.events(5, action="export")[:1]
    assert event["actor"].startswith("cli:") and event["target"] == "cli-parquet"
    assert "filters" in event["details"]


def test_a_missing_index_is_named_with_the_rebuild_command(cli, store: Store, tmp_path: Path):
    seed(store)
    res = cli("export", str(tmp_path / "x.csv"))
    assert res.exit_code == 1
    assert "python -m pipelines index --rebuild" in res.output
    assert not (tmp_path / "x.csv").exists()


def test_pdf_report_and_empty_filters(cli, store: Store, tmp_path: Path):
    seed(store)
    reindex(store, tmp_path)
    res = cli("export", str(tmp_path / "all.pdf"), "--title", "Weekly flood watch")
    assert res.exit_code == 0, res.output
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "all.pdf").pages)
    assert "Weekly flood watch" in text
    assert f"{store.db.posts.count_documents({}):,} posts" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x.txt"], "cannot tell the format"),
        (["x.csv", "--format", "docx"], "unknown format 'docx'"),
        (["x.csv", "--filters", "threat=high"], "threat"),
        (["x.csv", "--filters", "since=yesterday"], "since: not a date and time"),
        (["no/such/folder/x.csv"], "no such folder"),
    ],
)
def test_bad_arguments_get_a_reason_and_write_nothing(cli, store: Store, tmp_path: Path, args, message):
    seed(store)
    before = store.db.posts.count_documents({})
    first = str(tmp_path / args[0])
    res = cli("export", first, *args[1:])
    assert res.exit_code == 2
    assert message in res.output
    assert not Path(first).exists()
    assert store.db.posts.count_documents({}) == before


def test_filter_params_reads_links_and_query_strings():
    assert filter_params("") == {}
    assert filter_params("http://h:8501/explore?q=flood&sources=a,b") == {"q": "flood", "sources": "a,b"}
    assert filter_params("q=%22state+of+emergency%22&q=flood") == {"q": "flood"}
    assert filter_params("/explore?since=2013-06-20T00:00") == {"since": "2013-06-20T00:00"}
