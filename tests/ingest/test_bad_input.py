"""Every bad input of issue 2 point 7: a one-line reason, and nothing already stored is lost.

Each test first imports a good file, then the bad one, and checks the good posts are
all still there, the reason names the problem, and the exit code of the command.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.ingest.importers.streams import Opened, iter_lines
from pipelines.store import Store
from tests.ingest.conftest import do_import, gz, post_count, quarantined, write_jsonl

GOOD = [
    {"id": str(i), "created_at": f"2013-06-20T10:{i:02d}:00Z", "text": f"good post {i}"} for i in range(20)
]


@pytest.fixture()
def stored(store: Store, tmp_path: Path) -> Store:
    """A store already holding 20 good posts (source "good")."""
    f = write_jsonl(tmp_path / "good.jsonl", GOOD)
    assert do_import(store, f).inserted == 20
    return store


def _intact(store: Store) -> None:
    assert store.db.posts.count_documents({"source": "good"}) == 20


def _lines(n: int, start: int = 0) -> bytes:
    return b"".join(
        b'{"id": "%d", "created_at": "2013-06-21T10:%02d:00Z", "text": "post %d"}\n' % (i, i % 60, i)
        for i in range(start, start + n)
    )


def test_corrupt_gzip_keeps_what_came_before(stored: Store, tmp_path: Path, cli):
    data = gzip.compress(_lines(1000), mtime=0)
    truncated = tmp_path / "trunc.jsonl.gz"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    result = cli(str(truncated), "--batch-size", "100", "--quiet")
    assert result.exit_code == 0  # some records could be read
    assert "corrupt gzip data: the file is truncated" in result.stderr
    assert "read " in result.stdout and "inserted " in result.stdout
    n = stored.db.posts.count_documents({"source": "trunc"})
    assert 0 < n < 1000
    _intact(stored)

    garbage = tmp_path / "garbage.jsonl.gz"
    garbage.write_bytes(data[:10] + bytes(range(256)) * 4 + data[1034:])
    result = cli(str(garbage), "--quiet")
    assert result.exit_code == 1  # nothing could be read
    assert "error: " in result.stderr and "corrupt gzip data" in result.stderr
    _intact(stored)


def test_latin1_bytes_in_utf8_jsonl_are_quarantined_then_importable(stored: Store, tmp_path: Path):
    f = tmp_path / "mixed.jsonl"
    ok = json.dumps({"id": "u1", "created_at": "2013-06-20T10:00:00Z", "text": "Zürich ok"}).encode()
    bad = '{"id": "l1", "created_at": "2013-06-20T11:00:00Z", "text": "Caf\xe9 inondé"}'.encode("latin-1")
    f.write_bytes(ok + b"\n" + bad + b"\n")
    stats = do_import(stored, f)
    assert (stats.inserted, stats.quarantined) == (1, 1)
    q = quarantined(stored)[0]
    assert q["origin"].endswith("mixed.jsonl:2")
    at = bad.index(0xE9)
    assert f"not valid utf-8: byte {at} is {bad[at : at + 4]!r}" in q["reason"]
    assert "--encoding latin-1" in q["reason"]
    assert q["raw"].encode("latin-1") == bad  # the raw bytes are kept exactly
    # Decision: the line is quarantined, not imported with replacement characters; a
    # re-run with the right encoding imports it, and the good line stays as it was.
    from pipelines.ingest.importers.base import ReadOptions

    again = do_import(stored, f, read=ReadOptions(encoding="latin-1"), restart=True)
    assert (again.inserted, again.present) == (1, 1)
    assert stored.posts.get("mixed:l1")["text"] == "Café inondé"
    assert stored.posts.get("mixed:u1")["text"] == "Zürich ok"
    _intact(stored)


def test_a_50_mb_line_is_quarantined_with_its_head_and_bounded_memory(stored: Store, tmp_path: Path):
    f = tmp_path / "huge.jsonl"
    with open(f, "wb") as fh:
        fh.write(_lines(2))
        head = b'{"id": "big", "created_at": "2013-06-20T10:00:00Z", "text": "'
        fh.write(head)
        chunk = b"x" * (1 << 20)
        for _ in range(50):
            fh.write(chunk)
        fh.write(b'"}\n')
        fh.write(_lines(2, start=2))
    stats = do_import(stored, f)
    assert (stats.read, stats.inserted, stats.quarantined) == (5, 4, 1)
    q = quarantined(stored)[0]
    assert q["origin"].endswith("huge.jsonl:3")
    size = len(head) + 50 * 2**20 + 3  # with the closing '"}' and the newline
    assert f"line is {size:,} bytes, over the 5,242,880-byte limit" in q["reason"]
    assert q["raw"].startswith('{"id": "big"') and len(q["raw"]) == 60_000
    _intact(stored)

    # The reader never holds the line: peak allocation stays near the 5 MB cap.
    tracemalloc.start()
    with Opened(f) as opened:
        sizes = [len(line.text or "") for line in iter_lines(opened.stream)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(sizes) == 5 and sizes[2] == 0
    assert peak < 12 * 1024 * 1024, peak


def test_empty_files(stored: Store, tmp_path: Path, cli):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = cli(str(empty))
    assert result.exit_code == 1
    assert "empty.jsonl: empty file (0 bytes): nothing to import" in result.stderr
    assert result.stdout.startswith("read 0, inserted 0, already present 0, quarantined 0")
    blank = gz(tmp_path / "blank.jsonl.gz", b"\n\n  \n")
    result = cli(str(blank))
    assert result.exit_code == 1 and "holds no records" in result.stderr
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_bytes(b"")
    result = cli(str(empty_csv), "--format", "csv")
    assert result.exit_code == 1 and "no header line" in result.stderr
    _intact(stored)


def test_csv_missing_mapped_columns_is_refused_up_front(stored: Store, tmp_path: Path, cli):
    f = tmp_path / "posts.csv"
    f.write_text("id,time,message\n1,2013-06-20,hello\n", encoding="utf-8")
    result = cli(str(f), "--map", "text=body", "--map", "ts=created")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {f}: the CSV header lacks 'body' (mapped to text) and 'created' (mapped to ts); "
        "columns present: id, time, message"
    ]
    assert stored.db.posts.count_documents({"source": "posts"}) == 0
    assert quarantined(stored) == []  # refused before reading a record
    _intact(stored)


def test_json_that_is_not_an_object(stored: Store, tmp_path: Path, cli):
    f = write_jsonl(
        tmp_path / "shapes.jsonl", [GOOD[0] | {"id": "ok"}, "[1, 2]", '"text"', "42", "null", "{broken"]
    )
    result = cli(str(f), "--source", "shapes")
    assert result.exit_code == 0
    reasons = [q["reason"] for q in quarantined(stored)]
    assert reasons == [
        "JSON value is an array, not an object",
        "JSON value is a string, not an object",
        "JSON value is a number, not an object",
        "JSON value is null, not an object",
        "invalid JSON at column 2: Expecting property name enclosed in double quotes",
    ]
    assert [q["raw"] for q in quarantined(stored)][:2] == ["[1, 2]", '"text"']
    assert "quarantined 5" in result.stdout

    doc = tmp_path / "array.json"
    doc.write_text(json.dumps(GOOD[:3], indent=2))
    result = cli(str(doc))
    assert (
        result.exit_code == 1
        and "one JSON document spread over several lines, not JSON Lines" in result.stderr
    )
    _intact(stored)


def test_dates_in_the_future_are_quarantined(stored: Store, tmp_path: Path):
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    f = write_jsonl(
        tmp_path / "future.jsonl",
        [
            {"id": "soon", "created_at": soon, "text": "clock skew is tolerated"},
            {"id": "later", "created_at": later.isoformat(), "text": "from the future"},
            {"id": "old", "created_at": "1999-12-31T00:00:00Z", "text": "too old"},
        ],
    )
    stats = do_import(stored, f)
    assert (stats.inserted, stats.quarantined) == (1, 2)
    reasons = {
        q["raw"]["id"]: q["reason"] for q in (dict(q, raw=json.loads(q["raw"])) for q in quarantined(stored))
    }
    assert reasons["later"] == f"timestamp {later.isoformat()} is more than a day in the future"
    assert reasons["old"] == "timestamp 1999-12-31T00:00:00+00:00 is before 2004"
    _intact(stored)


def test_missing_path_and_unknown_format(stored: Store, tmp_path: Path, cli):
    result = cli(str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1 and "no such file or folder" in result.stderr
    result = cli(str(tmp_path), "--format", "xml")
    assert result.exit_code == 2 and "unknown --format 'xml'" in result.stderr
    result = cli(str(tmp_path), "--map", "colour=red")
    assert result.exit_code == 2 and "unknown post field 'colour'" in result.stderr
    assert post_count(stored) == 20
