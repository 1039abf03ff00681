"""CSV (and TSV) through a column mapping, with rows bounded in size.

The header names the columns; ``--map text=Tweet Text`` picks them (names match
case-insensitively, surrounding blanks ignored). A mapped column the header lacks
refuses the file before anything is written, naming the missing and the present
columns. Rows are parsed by the :mod:`csv` module from bounded lines: a row whose
quoted field never closes is cut at ``--max-line-bytes`` and quarantined, and
parsing restarts on the next line rather than swallowing the rest of the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from pipelines.ingest.importers import mapping
from pipelines.ingest.importers.base import InputFile, Item, ReadOptions, default_source
from pipelines.ingest.importers.streams import RAW_HEAD_BYTES, InputError, Line

NAME = "csv"


class _RowTooLong(Exception):
    pass


@dataclass(slots=True)
class Row:
    """One parsed CSV row, or the reason it could not be parsed."""

    line: int
    end: int
    end_line: int
    values: list[str] | None
    problem: str | None = None
    raw: object = None


def sniff_delimiter(header: str) -> str:
    """The most frequent of ``, \\t ; |`` in the header line (comma on a tie)."""
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def rows(lines: Iterator[Line], delimiter: str, max_bytes: int) -> Iterator[Row]:
    """Parse CSV rows from bounded lines, reporting problems per row instead of failing."""
    # The module-wide limit only ever grows: lowering it would break every other CSV reader in
    # the process. Our own row cap below fires first, with a clearer reason.
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes + 1))
    state = {"first": 0, "end": 0, "no": 0, "bytes": 0, "problem": None, "raw": None}

    def feed() -> Iterator[str]:
        for line in lines:
            if state["first"] == 0:
                state["first"] = line.no
            state["end"], state["no"] = line.end, line.no
            if line.text is None:
                state["problem"] = state["problem"] or line.problem
                state["raw"] = state["raw"] or line.raw
                yield "\n"
                continue
            state["bytes"] += len(line.text) + 1
            if state["bytes"] > max_bytes:
                raise _RowTooLong
            if state["raw"] is None:
                state["raw"] = line.text[:RAW_HEAD_BYTES]
            yield line.text + "\n"

    def reset() -> None:
        state.update(first=0, bytes=0, problem=None, raw=None)

    while True:
        reader = csv.reader(feed(), delimiter=delimiter)
        try:
            for values in reader:
                row = Row(state["first"], state["end"], state["no"], values, state["problem"], state["raw"])
                reset()
                if row.problem:
                    row.values = None
                if row.values == [] and row.problem is None:
                    continue  # blank line
                yield row
            return
        except _RowTooLong:
            yield Row(
                state["first"],
                state["end"],
                state["no"],
                None,
                f"row spans more than {max_bytes:,} bytes (an unclosed quote?)",
                state["raw"],
            )
        except csv.Error as exc:
            yield Row(state["first"], state["end"], state["no"], None, f"CSV error: {exc}", state["raw"])
        reset()


@dataclass(slots=True)
class Header:
    """A CSV header: column names (blanks stripped), delimiter, and where the data starts."""

    columns: list[str]
    delimiter: str
    end: int
    end_line: int


def read_header(lines: Iterator[Line], label: str) -> Header:
    """The first non-blank line as a header; refuses a file that has none."""
    for line in lines:
        if line.text is None:
            raise InputError(f"{label}: cannot read the header line: {line.problem}")
        if line.text.strip():
            delimiter = sniff_delimiter(line.text)
            columns = next(csv.reader([line.text], delimiter=delimiter))
            return Header([c.strip() for c in columns], delimiter, line.end, line.no)
    raise InputError(f"{label}: no header line: the file holds no records")


def column_lookup(header: list[str]) -> dict[str, int]:
    """Column name (as written, and casefolded) -> index."""
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        out.setdefault(h, i)
        out.setdefault(h.casefold(), i)
    return out


def read(inp: InputFile, lines: Iterator[Line], opts: ReadOptions, head: Header) -> Iterator[Item]:
    """Items of a CSV file whose header has been read already."""
    header, delimiter = head.columns, head.delimiter
    cols = column_lookup(header)

    def has(name: str) -> str | None:
        i = cols.get(name, cols.get(name.strip().casefold()))
        return None if i is None else header[i]

    resolved = mapping.resolve(opts.mapping, has, f"{inp.label}: the CSV header", header, "columns")
    source = opts.source or default_source(inp.path)
    index = {target: cols[col] for target, col in resolved.items()}
    width = len(header)
    for row in rows(lines, delimiter, opts.max_line_bytes):
        resume = (row.end, row.end_line)
        if row.values is None:
            yield Item(row.line, resume, row.raw, error=row.problem)
            continue
        values = row.values
        if len(values) != width:
            yield Item(
                row.line,
                resume,
                dict(zip(header, values, strict=False)) or values,
                error=f"row has {len(values)} fields, the header has {width}",
            )
            continue
        record = dict(zip(header, values, strict=True))
        fields = mapping.apply(index, lambda i, v=values: v[i], source)
        yield Item(row.line, resume, record, fields=fields)
