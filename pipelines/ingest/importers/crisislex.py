"""CrisisLexT26 event folders: ``tweets_labeled.csv`` with crowd labels per tweet.

Olteanu, Vieweg & Castillo, "What to Expect When the Unexpected Happens: Social
Media Communications Across Crises", CSCW 2015 (https://crisislex.org). Each event
folder holds ``tweets_labeled.csv`` (``Tweet ID, Tweet Text, Information Source,
Information Type, Informativeness``) and ``event_description.json``. The files
carry no dates, but a tweet id is a Snowflake id whose top bits are its creation
time: ``ms = (id >> 22) + 1288834974657``. Labels and the event go to ``meta``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.ingest.importers import csvfile
from pipelines.ingest.importers.base import InputFile, Item, ReadOptions
from pipelines.ingest.importers.streams import COMPRESSED_SUFFIXES, InputError, Line

NAME = "crisislex"
SOURCE = "crisislex"
LABELED = "tweets_labeled.csv"
COLUMNS = {
    "id": "tweet id",
    "text": "tweet text",
    "info_source": "information source",
    "info_type": "information type",
    "informativeness": "informativeness",
}


def labeled_file(folder: Path) -> Path | None:
    """The labelled tweets of an event folder (plain or compressed), if any."""
    for name in (LABELED, *(LABELED + s for s in COMPRESSED_SUFFIXES)):
        if (folder / name).is_file():
            return folder / name
    return None


def event_files(root: Path) -> list[Path]:
    """Labelled files of ``root`` if it is an event folder, else of its event subfolders."""
    own = labeled_file(root)
    if own is not None:
        return [own]
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        f = labeled_file(sub)
        if f is not None:
            found.append(f)
    return found


def event_info(folder: Path) -> dict[str, Any]:
    """Event folder name plus what ``event_description.json`` says (name, type, place)."""
    info: dict[str, Any] = {"event": folder.name}
    desc = folder / "event_description.json"
    if desc.is_file():
        try:
            d = json.loads(desc.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return info
        info["event_name"] = d.get("name")
        info["event_type"] = (d.get("categorization") or {}).get("type")
        info["event_country"] = (d.get("location") or {}).get("country")
    return {k: v for k, v in info.items() if v}


def read(inp: InputFile, lines: Iterator[Line], opts: ReadOptions, head: csvfile.Header) -> Iterator[Item]:
    """Items of one event's ``tweets_labeled.csv``."""
    header, delimiter = head.columns, head.delimiter
    cols = {h.strip().casefold(): i for i, h in enumerate(header)}
    missing = [name for name in COLUMNS.values() if name not in cols]
    if missing:
        raise InputError(
            f"{inp.label}: not a CrisisLexT26 labelled file: no column {', '.join(map(repr, missing))}; "
            f"columns present: {', '.join(header)}"
        )
    idx = {k: cols[v] for k, v in COLUMNS.items()}
    event = inp.extra.get("event") or event_info(inp.path.parent)
    source = opts.source or SOURCE
    width = len(header)
    for row in csvfile.rows(lines, delimiter, opts.max_line_bytes):
        resume = (row.end, row.end_line)
        if row.values is None:
            yield Item(row.line, resume, row.raw, error=row.problem)
            continue
        v = row.values
        record = dict(zip(header, v, strict=False))
        if len(v) != width:
            yield Item(row.line, resume, record, error=f"row has {len(v)} fields, the header has {width}")
            continue
        tid = v[idx["id"]].strip()
        if not tid.isdigit():
            yield Item(row.line, resume, record, error=f"tweet id {tid[:40]!r} is not a number")
            continue
        ms = (int(tid) >> 22) + 1288834974657
        meta = {
            **event,
            "info_source": v[idx["info_source"]].strip(),
            "info_type": v[idx["info_type"]].strip(),
            "informativeness": v[idx["informativeness"]].strip(),
        }
        fields = {
            "source": source,
            "native_id": tid,
            "ts": ms,
            "text": v[idx["text"]],
            "url": f"https://twitter.com/i/web/status/{tid}",
            "meta": meta,
        }
        yield Item(row.line, resume, record, fields=fields)
