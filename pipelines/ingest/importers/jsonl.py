"""Generic JSON Lines / NDJSON: one JSON object per line, read through a field mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipelines.ingest.importers import mapping
from pipelines.ingest.importers.base import (
    InputFile,
    Item,
    ReadOptions,
    default_source,
    error_item,
    json_objects,
)
from pipelines.ingest.importers.streams import Line

NAME = "jsonl"


def read(inp: InputFile, lines: Iterator[Line], opts: ReadOptions) -> Iterator[Item]:
    """Items of a JSONL file; the first object fixes the mapping (see :mod:`.mapping`)."""
    source = opts.source or default_source(inp.path)
    resolved: dict[str, str] | None = inp.extra.get("mapping")
    for line, obj, problem in json_objects(lines):
        if obj is None:
            yield error_item(line, problem)
            continue
        if resolved is None:
            resolved = mapping.resolve(
                opts.mapping,
                lambda p, o=obj: p if mapping.get_path(o, p) is not mapping.MISSING else None,
                f"{inp.label}: the first record (line {line.no})",
                obj.keys(),
            )
            inp.extra["mapping"] = resolved
        yield Item(line.no, (line.end, line.no), obj, fields=_fields(obj, resolved, source))


def _fields(obj: dict[str, Any], resolved: dict[str, str], source: str) -> dict[str, Any]:
    return mapping.apply(resolved, lambda p: mapping.get_path(obj, p), source)
