"""Post counts, timelines and the newest page's time window from the term rollup (issue 13).

Why: at 10M bench posts an exact count of a large selection took 70-130 ms and its hourly
histogram 80-130 ms (a pass over every selected post's time), over the 100 ms target, while
the dashboard's default selections (whole hours x sources x languages, or one place; the
same ones :func:`pipelines.search.termroll.top_terms` answers) are sums of a few stored
numbers. The rollup keeps each cell's number of posts (``termroll.POSTS_ID``, copied into
its small ``posts`` table), so these answers read that table and no post.

Same rules as the rollup's top terms: only :func:`~pipelines.search.termroll.eligible`
selections, only while the rollup describes the index's latest commit (the opstamp read
before and after, :func:`~pipelines.search.termroll.snapshot`); ``None`` otherwise, and the
caller aggregates from the index. Every figure equals the aggregation's (tests compare them).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import tantivy
from tantivy import Occur, Query

from pipelines.search import aggregate
from pipelines.search.compile import filters_query
from pipelines.search.filters import Filters
from pipelines.search.schema import SCHEMA
from pipelines.search.termroll import (
    NO_TIME,
    PLACE_MARK,
    SPAN,
    _all_time,
    _hour,
    cover,
    eligible,
    index_opstamp,
    snapshot,
)

T = TypeVar("T")

INTERVAL_HOURS = {"1h": 1, "1d": 24}
"""Buckets these readers give, aligned on the epoch as Tantivy's ``fixed_interval`` is."""


def post_count(index_dir: Path, filters: Filters) -> int | None:
    """The exact number of posts the selection holds, or ``None`` (then count in the index)."""
    return _read(index_dir, filters, _post_count)


def bucket_counts(index_dir: Path, filters: Filters, interval: str) -> dict[tuple[int, str], int] | None:
    """Timed posts of the selection per ``(bucket start hour, source)`` (source "" for posts
    without one), for ``interval`` "1h" or "1d"; ``None`` when the rollup cannot answer.

    A day bucket is its day cell where the selection covers the whole day, else the sum of
    its selected hour cells (a selection starting at 10:00 counts that day from 10:00)."""
    size = INTERVAL_HOURS.get(interval)
    if size is None:
        return None
    return _read(index_dir, filters, lambda db, f: _bucket_counts(db, f, size))


def _read(index_dir: Path, filters: Filters, answer: Callable[[sqlite3.Connection, Filters], T]) -> T | None:
    """``answer`` read in one snapshot of a rollup describing the index's latest commit, or ``None``."""
    if not eligible(filters) or (snap := snapshot(index_dir)) is None:
        return None
    db, before = snap
    try:
        out = answer(db, filters)
        return out if index_opstamp(index_dir) == before else None
    except sqlite3.Error:
        return None
    finally:
        db.close()


def _pairs(db: sqlite3.Connection, filters: Filters) -> dict[tuple[str, str], tuple[int, int]]:
    """The selection's cells ``(source column, lang)`` with their timed and untimed posts (from
    the all-time levels, where every cell of the rollup has a row)."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for level, slot in ((SPAN, 0), (NO_TIME, 1)):
        for source, lang, n in _all_time(db, level, filters, "source, lang, n", "posts"):
            both = list(out.get((source, lang), (0, 0)))
            both[slot] = n
            out[(source, lang)] = (both[0], both[1])
    return out


def _post_count(db: sqlite3.Connection, filters: Filters) -> int:
    pairs = _pairs(db, filters)
    if filters.since is None and filters.until is None:
        return sum(timed + untimed for timed, untimed in pairs.values())
    total = 0
    for source, lang in pairs:
        lo, hi = _hours(db, source, lang, filters)
        runs: dict[int, list[int]] = defaultdict(list)
        for size, start in cover(lo, hi):
            runs[size].append(start)
        for size, starts in runs.items():
            total += db.execute(
                f"SELECT COALESCE(SUM(n), 0) FROM posts WHERE level=? AND source=? AND lang=? "
                f"AND start IN ({','.join('?' * len(starts))})",
                [size, source, lang, *starts],
            ).fetchone()[0]
    return total


def _hours(db: sqlite3.Connection, source: str, lang: str, filters: Filters) -> tuple[int, int]:
    """The selected hours ``[lo, hi)`` of one cell's hour rows (empty when it has none)."""
    key = "FROM posts WHERE level=1 AND source=? AND lang=?"
    first = db.execute(f"SELECT MIN(start) {key}", (source, lang)).fetchone()[0]
    last = db.execute(f"SELECT MAX(start) {key}", (source, lang)).fetchone()[0]
    if first is None:
        return 0, 0
    lo = max(first, _hour(filters.since)) if filters.since else first
    hi = min(last + 1, _hour(filters.until)) if filters.until else last + 1
    return lo, max(lo, hi)


def _bucket_counts(db: sqlite3.Connection, filters: Filters, size: int) -> dict[tuple[int, str], int]:
    out: dict[tuple[int, str], int] = defaultdict(int)
    for (source, lang), (timed, _) in _pairs(db, filters).items():
        lo, hi = _hours(db, source, lang, filters) if timed else (0, 0)
        whole = (-(-lo // size) * size, hi // size * size)  # whole buckets: their own cells
        spans = (
            [(1, lo, hi)]
            if size == 1 or whole[0] >= whole[1]
            else [(1, lo, whole[0]), (size, *whole), (1, whole[1], hi)]
        )
        plain = _plain_source(source)
        for level, a, b in spans:
            rows = db.execute(
                "SELECT start, n FROM posts WHERE level=? AND source=? AND lang=? AND start>=? AND start<?",
                (level, source, lang, a, b),
            )
            for start, n in rows:
                out[(start - start % size, plain)] += n
    return out


def _plain_source(key: str) -> str:
    """The source of a cell's ``source`` column (a place cell's is ``MARK place MARK source``)."""
    return key.rsplit(PLACE_MARK, 1)[-1] if key.startswith(PLACE_MARK) else key


def histogram(index_dir: Path, filters: Filters, interval: str = "1h") -> list[tuple[datetime, int]] | None:
    """What :func:`pipelines.search.aggregate.histogram` returns for the selection (buckets from
    the first to the last non-empty one, empty ones between as 0), or ``None``."""
    counts = bucket_counts(index_dir, filters, interval)
    if counts is None:
        return None
    totals: dict[int, int] = defaultdict(int)
    for (start, _), n in counts.items():
        totals[start] += n
    filled = sorted(h for h, n in totals.items() if n)
    if not filled:
        return []
    size = INTERVAL_HOURS[interval]
    return [
        (datetime.fromtimestamp(h * 3600, UTC), totals.get(h, 0))
        for h in range(filled[0], filled[-1] + 1, size)
    ]


def newest_since(index_dir: Path, filters: Filters, n: int) -> datetime | None:
    """The start of the latest hour from which on the selection holds at least ``n`` posts, or
    ``None`` (fewer posts, posts without a time selected, or no rollup answer).

    Why: the newest ``n`` posts of a selection then all lie at or after it (every post
    before is older than each of them), so a page query limited to that time is the same
    page, and it reads those hours' posts instead of sorting every selected post by time
    (10M bench posts, a week of one source: ~80-130 ms). The hours are read newest first,
    a day's worth, then four times more each round, until they hold ``n`` posts."""
    hour = _read(index_dir, filters, lambda db, f: _newest_hour(db, f, n))
    return None if hour is None else datetime.fromtimestamp(hour * 3600, UTC)


def newest_ids(
    searcher: tantivy.Searcher,
    query: Query,
    index_dir: Path,
    filters: Filters,
    limit: int = 50,
    offset: int = 0,
) -> list[str]:
    """A page of the selection's ids, newest first (``query`` is the compiled ``filters``), asked
    first of the newest hours that hold it by the rollup (:func:`newest_since`), else of all.

    The window is the selection *without* its own time range plus ``[hour, until)`` as a range
    of the time field's inverted index (the hour is never before the selection's ``since``):
    that range leads the intersection, so only those hours' posts are read. A fast-field
    range only filters, and Tantivy still scans it (1M bench posts, a week of one source:
    13.4 ms whole, 13.7 ms with the window as a fast-field range, 2.0 ms as an inverted one;
    at 10M, the window joined to the selection's own range 464 ms, replacing it 3.4 ms).
    :func:`pipelines.search.aggregate.newest_ids` keeps the window's page only when it is full."""
    since = newest_since(index_dir, filters, max(0, offset) + max(1, limit))
    window = None
    if since is not None:
        lower = max(since, _as_utc(filters.since)) if filters.since else since
        upper = _as_utc(filters.until) if filters.until else tantivy.MAX_DATETIME
        recent = Query.range_query(
            SCHEMA, "ts", tantivy.FieldType.Date, lower, upper,
            include_upper=filters.until is None, use_inverted_index=True,
        )  # fmt: skip
        timeless = filters_query(SCHEMA, replace(filters, since=None, until=None))
        window = Query.boolean_query([(Occur.Must, timeless), (Occur.Must, recent)])
    return aggregate.newest_ids(searcher, query, limit, offset, window)


def _as_utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _newest_hour(db: sqlite3.Connection, filters: Filters, n: int) -> int | None:
    pairs = _pairs(db, filters)
    if filters.since is None and filters.until is None and any(u for _, u in pairs.values()):
        return None  # posts without a time are selected too: where they sort is not an hour
    spans = {pair: _hours(db, *pair, filters) for pair, (timed, _) in pairs.items() if timed}
    spans = {pair: (lo, hi) for pair, (lo, hi) in spans.items() if lo < hi}
    if not spans:
        return None
    bottom, top = min(lo for lo, _ in spans.values()), max(hi for _, hi in spans.values())
    width = 24
    while True:
        start = max(bottom, top - width)
        per_hour: dict[int, int] = defaultdict(int)
        for (source, lang), (lo, hi) in spans.items():
            rows = db.execute(
                "SELECT start, n FROM posts WHERE level=1 AND source=? AND lang=? AND start>=? AND start<?",
                (source, lang, max(lo, start), hi),
            )
            for h, k in rows:
                per_hour[h] += k
        seen = 0
        for h in sorted(per_hour, reverse=True):
            seen += per_hour[h]
            if seen >= n:
                return h
        if start == bottom:
            return None
        width *= 4


def auto_bucket(
    filters: Filters, hours: dict[tuple[int, str], int] | None, day_after: timedelta
) -> str | None:
    """A timeline's ``auto`` bucket (by day past ``day_after``) from the rollup's hour counts
    (:func:`bucket_counts`), or ``None`` when they cannot tell.

    The selection's first and last post lie somewhere in its first and last non-empty hour,
    so its span is known to within an hour either way; only a span that close to
    ``day_after`` needs the selection's exact first and last times."""
    if filters.since and filters.until:
        return "day" if filters.until - filters.since > day_after else "hour"
    if hours is None:
        return None
    filled = sorted({h for (h, _), n in hours.items() if n})
    if not filled:
        return "hour"
    hour = timedelta(hours=1)
    first, last = (datetime.fromtimestamp(h * 3600, UTC) for h in (filled[0], filled[-1]))
    shortest = (filters.until or last) - (filters.since or first + hour)
    longest = (filters.until or last + hour) - (filters.since or first)
    if shortest > day_after:
        return "day"
    return "hour" if longest <= day_after else None
