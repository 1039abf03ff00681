"""Per-source totals of the ingest rollups, kept at write time (pure shapes, no I/O).

Why: Overview's total, the source lists of the sidebar and the Sources page, and the
oldest and newest hour of data each read *every* ingest rollup document (one per hour
and source). On SecantusDB a read costs about 30 µs per document on the server whatever
the query, so these reads grew with the store's age, not its size: 3,605 documents and
about 110 ms per read at the 1M-post, 30-day dashboard bench (issue 13), 43,800 documents
(over a second) for a year of five sources. One document per source answers them all.

Shape (``kind="total"``; no ``hour``, so no hourly reader ever sees it)::

    {_id: "total|ingest|<source>", kind: "total", of: "ingest", source,
     n: <posts>, first: <oldest hour>, last: <newest hour>}

Writers add to it in the same commit as the hourly counters (``$inc`` on ``n``,
``$min``/``$max`` on the hours), so it always equals the sum of the source's ingest
rollups. A store written before it existed is recounted once from the hourly documents
(:meth:`pipelines.store.rollups.Rollups.rebuild_totals`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

TOTALS_META = "rollup_totals"
"""``meta`` document saying the totals match the hourly ingest rollups."""
TOTALS_VERSION = 1


def total_id(source: str) -> str:
    """``bbc`` -> ``total|ingest|bbc``."""
    return f"total|ingest|{source}"


def contributions(counts: Mapping[tuple[datetime, str], int]) -> dict[str, dict[str, Any]]:
    """Total-document updates for new posts counted per ``(hour, source)``.

    Returns ``{_id: {"set": ..., "inc": {"n": k}, "min": {"first": h}, "max": {"last": h}}}``,
    one entry per source, whatever the number of hours in the batch.
    """
    out: dict[str, dict[str, Any]] = {}
    for (hour, source), n in counts.items():
        tid = total_id(source)
        c = out.get(tid)
        if c is None:
            c = out[tid] = {
                "set": {"kind": "total", "of": "ingest", "source": source},
                "inc": {"n": 0},
                "min": {"first": hour},
                "max": {"last": hour},
            }
        c["inc"]["n"] += int(n)
        c["min"]["first"] = min(c["min"]["first"], hour)
        c["max"]["last"] = max(c["max"]["last"], hour)
    return out


def from_hourly(docs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Whole total documents recounted from hourly ingest documents (the migration)."""
    counts: dict[tuple[datetime, str], int] = {}
    for d in docs:
        hour, source = d.get("hour"), d.get("source")
        if not isinstance(hour, datetime) or not isinstance(source, str):
            continue
        counts[(hour, source)] = counts.get((hour, source), 0) + int(d.get("n") or 0)
    out: dict[str, dict[str, Any]] = {}
    for tid, c in contributions(counts).items():
        out[tid] = {**c["set"], **c["inc"], **c["min"], **c["max"]}
    return out


def utc(hour: datetime | None) -> datetime | None:
    """An hour read back from the store, as an aware UTC datetime."""
    if hour is None:
        return None
    return hour.replace(tzinfo=UTC) if hour.tzinfo is None else hour.astimezone(UTC)
