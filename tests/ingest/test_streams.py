"""Line reading (offsets for resume, BOM, CRLF, bounded lines), CSV rows and mappings: no database."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from pipelines.ingest.importers import CHOICES, FORMATS, plan
from pipelines.ingest.importers.csvfile import rows
from pipelines.ingest.importers.mapping import MISSING, get_path, parse_map_options
from pipelines.ingest.importers.streams import InputError, Opened, iter_lines


def _lines(data: bytes, **kw):
    return list(iter_lines(io.BytesIO(data), **kw))


def test_offsets_let_a_reader_resume_exactly_after_any_line(tmp_path: Path):
    data = "\ufeffé one\r\ntwo\n\nthree without newline".encode()
    lines = _lines(data)
    assert [x.text for x in lines] == ["é one", "two", "", "three without newline"]  # BOM and CR gone
    assert [x.no for x in lines] == [1, 2, 3, 4]
    assert lines[-1].end == len(data)
    for plain in (True, False):
        f = tmp_path / ("p.txt" if plain else "c.txt")
        f.write_bytes(data if plain else gzip.compress(data))
        for i, line in enumerate(lines[:-1]):
            with Opened(f, line.end) as opened:
                rest = list(iter_lines(opened.stream, start_offset=line.end, start_line=line.no))
            assert [x.text for x in rest] == [x.text for x in lines[i + 1 :]]
            assert [x.end for x in rest] == [x.end for x in lines[i + 1 :]]


def test_oversized_and_undecodable_lines_are_reported_not_raised():
    data = b"ok\n" + b"y" * 5000 + b"\nbad \xff byte\nok again\n"
    lines = _lines(data, max_bytes=1024)
    assert [x.text for x in lines] == ["ok", None, None, "ok again"]
    assert lines[1].problem.startswith("line is 5,001 bytes, over the 1,024-byte limit")
    assert lines[1].raw == "y" * 1025  # the head read before the cap
    assert lines[2].problem.startswith("not valid utf-8: byte 4 is b'\\xff by'")
    assert lines[2].raw == "bad \xff byte"
    assert lines[3].end == len(data)


def test_csv_rows_recover_after_an_unclosed_quote():
    text = 'a,b\n1,"never closed\n' + "filler\n" * 50 + "2,fine\n"
    parsed = list(rows(iter(_lines(text.encode(), max_bytes=4096)), ",", 200))
    assert parsed[0].values == ["a", "b"]
    assert parsed[1].values is None and "more than 200 bytes" in parsed[1].problem
    assert parsed[-1].values == ["2", "fine"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a", 1),
        ("b.c", [1, 2]),
        ("b.c.1", 2),
        ("b.c.-1", 2),
        ("b.c.5", None),
        ("x.y", None),
        ("d.e", "dotted"),
    ],
)
def test_get_path(path: str, expected: object):
    obj = {"a": 1, "b": {"c": [1, 2]}, "d.e": "dotted"}
    got = get_path(obj, path)
    assert (None if got is MISSING else got) == expected


def test_map_options_are_checked():
    assert parse_map_options(["text=body", "meta.label=class"]) == {"text": "body", "meta.label": "class"}
    for bad in ("text", "=body", "colour=red", "meta.=x"):
        with pytest.raises(InputError):
            parse_map_options([bad])


def test_every_registered_format_has_a_reader_and_plan_skips_non_data(tmp_path: Path):
    assert set(CHOICES) == {"auto", *FORMATS}
    for name, module in FORMATS.items():
        assert name == module.NAME and callable(module.read)
    for name in ("a.jsonl", "b.csv.gz", "RS_2019-01.zst", "README.md", "build.py", ".hidden.jsonl"):
        (tmp_path / name).write_text("x")
    files, skipped = plan(tmp_path)
    assert sorted(f.path.name for f in files) == ["RS_2019-01.zst", "a.jsonl", "b.csv.gz"]
    assert sorted(p.name for p in skipped) == [".hidden.jsonl", "README.md", "build.py"]
