"""What every archive reader produces, and the options they share.

A reader turns one input file into :class:`Item` s: either the keyword arguments of
:func:`pipelines.core.post.build_post` or a one-line reason why the record was
rejected, always with the raw payload (so the caller can quarantine it) and the
position a re-run may resume from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.ingest.importers.streams import MAX_LINE_BYTES, Line


@dataclass(slots=True)
class Item:
    """One record read from a file (valid or not)."""

    line: int
    """Physical line where the record starts (for the ``file:line`` origin)."""
    resume: tuple[int, int]
    """(byte offset, line number) from which a re-run can start once this item is stored."""
    raw: Any
    fields: dict[str, Any] | None = None
    error: str | None = None


@dataclass(slots=True)
class InputFile:
    """One file to import and how: its format and anything the format needs."""

    path: Path
    fmt: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The path as shown in origins and messages (relative when under the cwd)."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(self.path)


@dataclass(slots=True)
class ReadOptions:
    """Options of ``python -m pipelines import`` that readers see."""

    mapping: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    max_line_bytes: int = MAX_LINE_BYTES
    encoding: str = "utf-8"


def json_objects(lines: Iterator[Line]) -> Iterator[tuple[Line, dict[str, Any] | None, str | None]]:
    """Parse JSON Lines: ``(line, object, None)`` or ``(line, None, reason)``; blank lines skipped."""
    for line in lines:
        if line.text is None:
            yield line, None, line.problem
            continue
        s = line.text.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            yield line, None, f"invalid JSON at column {exc.colno}: {exc.msg}"
            continue
        except RecursionError:
            yield line, None, "invalid JSON: nested too deeply"
            continue
        if not isinstance(obj, dict):
            kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
                type(obj), "a number"
            )
            yield line, None, f"JSON value is {kind}, not an object"
            continue
        yield line, obj, None


def error_item(line: Line, reason: str | None) -> Item:
    """An item for a line that could not be read, keeping its text or its bounded head."""
    raw = line.text if line.text is not None else line.raw
    return Item(line.no, (line.end, line.no), raw, error=reason or "unreadable line")


def default_source(path: Path) -> str:
    """A valid source name from a file name: ``Tweets 2020.jsonl.gz`` -> ``tweets-2020``."""
    stem = path.name.lower()
    for _ in range(3):
        stem = re.sub(r"\.(gz|gzip|zst|zstd|bz2|xz|jsonl|ndjson|json|csv|tsv|txt)$", "", stem)
    name = re.sub(r"[^a-z0-9_.\-]+", "-", stem).strip("-._")[:64]
    return name or "import"
