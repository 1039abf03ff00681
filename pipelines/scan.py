"""Bounded reads of posts: which time windows to read, newest first, and how much.

Why this exists (measured on the embedded SecantusDB 0.7 with 100,000 posts, see
``docs/dashboard.md``): a query uses an index only through plain top-level field
predicates, any top-level ``$and`` / ``$or`` / ``$nor`` turns it into a collection scan
(15-18 s), and a sort with a limit still reads the whole matching index range. So:

1. :func:`split_query` splits a ``Filters.to_mongo()`` filter into an *index* part
   (plain predicates, always including a ``ts`` window) and a *residual* part; the
   store runs them as two ``$match`` stages, which keeps the index in use while the
   result is exactly what the whole filter selects.
2. :func:`windows` cuts the filter's time range into consecutive windows, newest
   first, each holding about :data:`CHUNK_POSTS` posts according to the hourly ingest
   rollups. Reading "the newest N matches" walks these windows and stops as soon as it
   has N, or when it has read :data:`SCAN_BUDGET` posts; its cost therefore depends on
   the budget, not on the size of the store.

Pure functions here except :func:`windows` (which reads rollups through the store).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.filters import Filters
from pipelines.store import Store

CHUNK_POSTS = 2_500
"""Target posts per window (one aggregation each)."""
SCAN_BUDGET = 10_000
"""Posts a bounded read may examine before it stops and says how far back it got."""
EPOCH = datetime(2004, 1, 1, tzinfo=UTC)
"""Nothing in Vigil predates 2004 (see ``pipelines.models.EARLIEST_TS``)."""
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


def split_query(query: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(index, residual)``: plain field predicates, and everything else.

    ``{"$and": [{"ts": ..}, {"source": ..}, {"$or": [..]}]}`` becomes
    ``({"ts": .., "source": ..}, {"$or": [..]})``. A field constrained twice keeps its
    first clause in the index part and the next in the residual, so nothing is lost.
    Both parts together select exactly what ``query`` selects.
    """
    clauses = query["$and"] if set(query) == {"$and"} else [query] if query else []
    index: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for clause in clauses:
        plain = {k: v for k, v in clause.items() if not k.startswith("$") and k not in index}
        logical = {k: v for k, v in clause.items() if k not in plain}
        index.update(plain)
        if logical:
            rest.append(logical)
    residual = rest[0] if len(rest) == 1 else {"$and": rest} if rest else {}
    return index, residual


def with_window(index: dict[str, Any], since: datetime, until: datetime) -> dict[str, Any]:
    """The index part restricted to ``[since, until)`` (intersected with any ``ts`` bound)."""
    ts = dict(index.get("ts") or {})
    lo = max(since, ts["$gte"]) if "$gte" in ts else since
    hi = min(until, ts["$lt"]) if "$lt" in ts else until
    return {**index, "ts": {"$gte": lo, "$lt": hi}}


@dataclass(frozen=True)
class Window:
    """A time window to read and how many posts (all sources) the rollups put in it."""

    since: datetime
    until: datetime
    posts: int


def windows(store: Store, filters: Filters, chunk: int = CHUNK_POSTS) -> list[Window]:
    """Consecutive windows covering the filters' time range, newest first.

    Each window is a run of whole hours holding about ``chunk`` posts of the selected
    sources (by the ingest rollups); the first and last are clipped to the range. The
    windows always cover the whole range, so reading all of them reads every post,
    whatever the rollups say.
    """
    since = filters.since or EPOCH
    until = filters.until or FAR_FUTURE
    match = {"source": {"$in": list(filters.sources)}} if filters.sources else None
    rows = store.rollup_sums("ingest", ["hour"], filters.since, filters.until, match=match)
    hours = sorted(((r["hour"].astimezone(UTC), int(r["n"])) for r in rows), reverse=True)
    out: list[Window] = []
    edge, acc = until, 0
    for hour, n in hours:
        acc += n
        if acc >= chunk and hour > since:
            out.append(Window(hour, edge, acc))
            edge, acc = hour, 0
    out.append(Window(since, edge, acc))
    return [w for w in out if w.since < w.until]


@dataclass(frozen=True)
class Reach:
    """How far back a bounded read got: ``complete`` or stopped at ``since``."""

    since: datetime | None
    complete: bool
    examined: int


def bounded(wins: list[Window], budget: int = SCAN_BUDGET) -> Iterator[Window]:
    """Windows until their posts exceed ``budget`` (the first window always runs)."""
    spent = 0
    for i, w in enumerate(wins):
        if i and spent + w.posts > budget:
            return
        spent += w.posts
        yield w


def reach_of(wins: list[Window], read: int) -> Reach:
    """The :class:`Reach` after reading the first ``read`` windows."""
    if not wins:
        return Reach(None, True, 0)
    read = max(1, min(read, len(wins)))
    oldest = wins[read - 1].since
    return Reach(
        since=None if oldest <= EPOCH else oldest,
        complete=read == len(wins),
        examined=sum(w.posts for w in wins[:read]),
    )


def newest_matching(
    store: Store,
    filters: Filters,
    limit: int,
    skip: int = 0,
    projection: dict[str, Any] | None = None,
    budget: int = SCAN_BUDGET,
) -> tuple[list[dict[str, Any]], Reach]:
    """The newest ``skip + limit`` matching posts (returns the last ``limit``), bounded."""
    index, residual = split_query(filters.to_mongo())
    wins = windows(store, filters)
    got: list[dict[str, Any]] = []
    read = 0
    for w in bounded(wins, budget):
        read += 1
        need = skip + limit - len(got)
        got += store.find_posts_in(
            with_window(index, w.since, w.until), residual, limit=need, projection=projection
        )
        if len(got) >= skip + limit:
            break
    return got[skip : skip + limit], reach_of(wins, read)
