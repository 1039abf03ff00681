"""Importing the real CrisisLexT26 files (../shared) and the bundled sample built from them."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from pipelines.core.post import build_post
from pipelines.ingest.importers import open_items, plan
from pipelines.ingest.importers.base import ReadOptions
from pipelines.store import Store
from tests.ingest.conftest import REPO, do_import, post_count, quarantined

EVENT = "2013_Alberta_floods"


def _rows(csv_file: Path) -> list[dict[str, str]]:
    """The labelled tweets as the csv module reads them (the expected values)."""
    raw = csv_file.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""), skipinitialspace=True)
    return list(reader)


def test_one_event_folder_imports_every_labelled_tweet(store: Store, shared_dir: Path):
    folder = shared_dir / "data" / "crisislex_t26" / EVENT
    rows = _rows(folder / "tweets_labeled.csv")
    stats = do_import(store, folder)
    assert (stats.read, stats.inserted, stats.present, stats.quarantined) == (len(rows), len(rows), 0, 0)
    assert post_count(store) == len({r["Tweet ID"] for r in rows})

    row = rows[len(rows) // 2]
    post = store.posts.get(f"crisislex:{row['Tweet ID']}")
    ms = (int(row["Tweet ID"]) >> 22) + 1288834974657
    assert post["ts"] == datetime.fromtimestamp(ms / 1000, tz=UTC)
    assert post["text"] == " ".join(row["Tweet Text"].split())
    assert post["meta"]["info_source"] == row["Information Source"]
    assert post["meta"]["info_type"] == row["Information Type"]
    assert post["meta"]["informativeness"] == row["Informativeness"]
    assert post["meta"]["event"] == EVENT
    desc = json.loads((folder / "event_description.json").read_text())
    assert post["meta"]["event_name"] == desc["name"]
    assert post["source"] == "crisislex" and post["status"] == "new"
    # The ingest rollups count exactly what was inserted.
    assert sum(r["n"] for r in store.rollups.ingest()) == len(rows)


def test_parent_folder_of_several_events_and_reimport(store: Store, shared_dir: Path, tmp_path: Path):
    parent = tmp_path / "events"
    parent.mkdir()
    names = ("2013_NY_train_crash", "2012_Venezuela_refinery")
    expected = 0
    for name in names:
        (parent / name).symlink_to(shared_dir / "data" / "crisislex_t26" / name, target_is_directory=True)
        expected += len(_rows(parent / name / "tweets_labeled.csv"))
    first = do_import(store, parent)
    assert (first.files, first.read, first.inserted, first.quarantined) == (2, expected, expected, 0)
    assert {d["_id"] for d in store.db.posts.aggregate([{"$group": {"_id": "$meta.event"}}])} == set(names)
    again = do_import(store, parent)
    assert (again.read, again.inserted, again.present) == (expected, 0, expected)
    assert post_count(store) == expected
    assert sum(r["n"] for r in store.rollups.ingest()) == expected


def test_bundled_sample_reads_whole_and_is_within_budget():
    """Every row of every sample file becomes a valid post (read + post model, no database)."""
    sample = REPO / "data" / "sample"
    assert sum(p.stat().st_size for p in sample.rglob("*") if p.is_file()) <= 5 * 1024 * 1024
    assert (sample / "LICENSE").read_text().startswith("The MIT License")
    files, skipped = plan(sample)
    assert len(files) >= 3 and {f.fmt for f in files} == {"crisislex"}
    assert {sample / "LICENSE", sample / "README.md", sample / "build_sample.py"} <= set(skipped)
    days, n = set(), 0
    for inp in files:
        expected = _rows(inp.path)
        with open_items(inp, ReadOptions()) as items:
            posts = [build_post(**item.fields) for item in items if item.error is None]
        assert len(posts) == len(expected)
        assert [p.native_id for p in posts] == [r["Tweet ID"] for r in expected]
        days |= {p.ts.date() for p in posts}
        n += len(posts)
    assert n > 5000 and len(days) > 30  # a timeline of weeks, not one burst


def test_import_command_on_a_sample_event_twice(store: Store, cli):
    event = REPO / "data" / "sample" / "2013_NY_train_crash"
    n = len(_rows(event / "tweets_labeled.csv.gz"))
    first = cli(str(event), "--quiet")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(f"read {n:,}, inserted {n:,}, already present 0, quarantined 0")
    again = cli(str(event), "--quiet")
    assert again.exit_code == 0
    assert again.stdout.startswith(f"read {n:,}, inserted 0, already present {n:,}, quarantined 0")
    assert post_count(store) == n and quarantined(store) == []
