"""Archive readers, one module per format, and the detection that picks one.

Each format module has a ``NAME`` and a ``read(...)`` that turns one file into
:class:`~pipelines.ingest.importers.base.Item` s; :data:`FORMATS` is the registry (a test
checks every entry imports and reads). :func:`plan` expands the path given to
``python -m pipelines import`` into files and formats; :func:`open_items` opens one
file (decompressing by magic bytes) at a resume position and yields its items.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.ingest.importers import crisislex, csvfile, jsonl, pushshift, twitter_v2
from pipelines.ingest.importers.base import InputFile, Item, ReadOptions
from pipelines.ingest.importers.streams import (
    InputError,
    Opened,
    iter_lines,
    peek_lines,
    strip_compression_suffix,
)

FORMATS = {m.NAME: m for m in (jsonl, csvfile, twitter_v2, pushshift, crisislex)}
"""Format name -> reader module."""
CHOICES = ("auto", *FORMATS)
_DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt")
_PUSHSHIFT_NAME = re.compile(r"^r[sc]_\d{4}-\d{2}", re.IGNORECASE)


def detect(path: Path) -> str:
    """The format of one file, from its name and its first (decompressed) lines."""
    name = strip_compression_suffix(path.name).lower()
    if name == crisislex.LABELED:
        return crisislex.NAME
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes): nothing to import")
    lines = peek_lines(path)
    if not lines:
        raise InputError(f"{path}: the file holds no records (only blank lines)")
    first = lines[0]
    if first is None:  # a first line over the limit: trust the file name
        return csvfile.NAME if name.endswith((".csv", ".tsv")) else jsonl.NAME
    if first[0] in "{[":
        objects = [o for o in map(_json_or_none, lines) if o is not None]
        if not objects:
            raise InputError(
                f"{path}: one JSON document spread over several lines, not JSON Lines "
                f"(one object per line); convert it first, e.g. jq -c '.[]' FILE > FILE.jsonl"
            )
        obj = next((o for o in objects if isinstance(o, dict)), None)
        if obj is not None and twitter_v2.looks_like(obj):
            return twitter_v2.NAME
        if obj is not None and pushshift.looks_like(obj):
            return pushshift.NAME
        return jsonl.NAME
    header = {h.strip().strip('"').casefold() for h in first.split(csvfile.sniff_delimiter(first))}
    if set(crisislex.COLUMNS.values()) <= header:
        return crisislex.NAME
    return csvfile.NAME


def _json_or_none(line: str | None) -> object:
    if line is None:
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


def _wanted(path: Path) -> bool:
    name = strip_compression_suffix(path.name).lower()
    return not name.startswith(".") and (name.endswith(_DATA_SUFFIXES) or bool(_PUSHSHIFT_NAME.match(name)))


def plan(path: Path, fmt: str = "auto") -> tuple[list[InputFile], list[Path]]:
    """Files to import under ``path`` with their formats, and the files left aside.

    A folder is walked in name order: every folder holding ``tweets_labeled.csv`` is
    a CrisisLex event (its other files are part of it); elsewhere files whose names
    end in a data suffix (``.jsonl .ndjson .json .csv .tsv``, optionally compressed)
    or look like Pushshift dumps (``RS_2019-01.zst``) are imported; the rest (READMEs,
    licences, scripts) are skipped and listed.
    """
    if fmt not in CHOICES:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(CHOICES)}")
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        return [InputFile(path, fmt if fmt != "auto" else "auto")], []
    files: list[InputFile] = []
    skipped: list[Path] = []
    seen: set[str] = set()
    for root, dirs, names in os.walk(path, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a symlink loop, or the same folder linked twice
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(root)
        event = crisislex.labeled_file(here)
        if event is not None and fmt in ("auto", crisislex.NAME):
            files.append(InputFile(event, crisislex.NAME, {"event": crisislex.event_info(here)}))
            skipped.extend(here / n for n in sorted(names) if here / n != event)
            continue
        for n in sorted(names):
            p = here / n
            if fmt == crisislex.NAME or not _wanted(p):
                skipped.append(p)
            else:
                files.append(InputFile(p, fmt))
    return files, skipped


@contextmanager
def open_items(
    inp: InputFile, opts: ReadOptions, start: tuple[int, int] = (0, 0)
) -> Iterator[Iterator[Item]]:
    """Open ``inp`` positioned at ``start`` and yield its items (detecting the format if needed).

    Raises :class:`InputError` for a file that cannot be imported at all (empty, a
    CSV without the mapped columns, not JSON Lines ...), before any item is read.
    """
    if inp.fmt == "auto":
        inp.fmt = detect(inp.path)
    reader = FORMATS[inp.fmt]
    header = None
    if inp.fmt in (csvfile.NAME, crisislex.NAME):
        with Opened(inp.path) as f:
            header = csvfile.read_header(
                iter_lines(f.stream, max_bytes=opts.max_line_bytes, encoding=opts.encoding), inp.label
            )
        if start[0] < header.end:
            start = (header.end, header.end_line)
    elif inp.path.stat().st_size == 0:
        raise InputError(f"{inp.label}: empty file (0 bytes): nothing to import")
    opened = Opened(inp.path, start[0])
    try:
        lines = iter_lines(
            opened.stream,
            start_offset=start[0],
            start_line=start[1],
            max_bytes=opts.max_line_bytes,
            encoding=opts.encoding,
        )
        args = (inp, lines, opts) if header is None else (inp, lines, opts, header)
        items = reader.read(*args)
        yield _Positioned(items, opened)
    finally:
        opened.close()


class _Positioned:
    """Items plus ``position()``: compressed bytes read so far (for the progress bar)."""

    def __init__(self, items: Iterator[Item], opened: Opened) -> None:
        self._items = items
        self.opened = opened

    def __iter__(self) -> Iterator[Item]:
        return self._items

    def __next__(self) -> Item:
        return next(self._items)

    def position(self) -> int:
        return self.opened.raw_position()


__all__ = [
    "CHOICES",
    "FORMATS",
    "InputError",
    "InputFile",
    "Item",
    "ReadOptions",
    "detect",
    "open_items",
    "plan",
]
