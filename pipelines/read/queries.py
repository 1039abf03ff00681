"""Read side of the dashboard: filters in, polars DataFrames out. Every figure is exact.

The Overview's headline figures read the ingest rollups (hourly counts kept at write
time). Everything that depends on the filters (counts, timelines at any bucket, pages
of posts newest first or by relevance, top terms, breakdowns by source / language /
place, score ranges and means, map points and clusters) is answered by the search index
(:mod:`pipelines.search`) through a :class:`Reader`; the posts themselves are then read
from MongoDB by id. Pages reach these functions only through the cached wrappers in
``components/data.py``; exports (``pipelines/read/reports.py``) select through the same
:meth:`Reader.select`, so they hold exactly what the pages count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import tantivy
from tantivy import Query

from pipelines.read.postcache import PostCache
from pipelines.read.selections import SelectionCache
from pipelines.search import aggregate, areaterms, halves, rollcounts, termroll
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex
from pipelines.search.indexer import read_position
from pipelines.search.select import selection_query
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store

LATEST_POSTS_LIMIT = 50
POST_COLUMNS = ("ts", "source", "author", "title", "text", "url", "lang")
PAGE_SIZE = 50
MAX_PAGES = 200
"""Pages beyond this are refused: narrow the filters (``skip`` costs grow with depth)."""
ARCHIVE_AFTER = timedelta(days=2)
"""A store whose newest post is older than this is treated as an archive (see DataClock)."""

SCORE_COLUMNS = ("sentiment", "threat", "hate", "toxicity")
FRAME_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "source": pl.String,
    "author": pl.String,
    "title": pl.String,
    "text": pl.String,
    "url": pl.String,
    "lang": pl.String,
    "sentiment": pl.Float64,
    "threat": pl.Float64,
    "hate": pl.Float64,
    "toxicity": pl.Float64,
    "topics": pl.String,
    "places": pl.String,
    "scored_language": pl.String,
    "confidence": pl.String,
    "model": pl.String,
    "rationale": pl.String,
    "engagement": pl.Int64,
}
"""Columns of every posts table and export, in order (lists joined with ``"; "``)."""
POST_PROJECTION = {"terms": 0, "content_hash": 0, "meta": 0, "lease_until": 0}


# --------------------------------------------------------------------------- time


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval ``[since, until)``."""

    since: datetime
    until: datetime

    @classmethod
    def last_days_of_data(cls, store: Store, days: int = 7) -> TimeWindow:
        """The ``days`` before the newest post (or before now when the store is empty).

        Anchoring on the newest post rather than on the clock keeps an archive (the
        bundled 2012-2013 sample, say) visible instead of showing an empty week.
        """
        newest = store.rollups.newest_ingest_hour()
        end = newest or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        until = end + timedelta(hours=1)
        return cls(until - timedelta(days=days), until)


@dataclass(frozen=True)
class DataClock:
    """What "now" means for the dashboard's presets.

    A live store is read against the wall clock. A store whose newest post is older
    than :data:`ARCHIVE_AFTER` holds an archive: "today" and "the last 7 days" are then
    relative to its newest hour of posts, otherwise every preset would show an empty
    range. ``end`` is the end of the anchor hour: presets are whole hours ending there.
    """

    end: datetime
    archive: bool
    newest_hour: datetime | None


def data_clock(store: Store, now: datetime | None = None) -> DataClock:
    """The anchor of every time preset (see :class:`DataClock`), from the rollups."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    newest = store.rollups.newest_ingest_hour()
    if newest is not None and now - newest > ARCHIVE_AFTER:
        return DataClock(end=newest + timedelta(hours=1), archive=True, newest_hour=newest)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return DataClock(end=end, archive=False, newest_hour=newest)


PRESETS: dict[str, timedelta | None] = {
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}


def preset_range(clock: DataClock, preset: str) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` of a named preset, whole hours ending with the anchor's hour."""
    if preset not in PRESETS:
        raise ValueError(f"unknown time preset {preset!r}; one of {', '.join(PRESETS)}")
    span = PRESETS[preset]
    if span is None:
        return None, None
    return clock.end - span, clock.end


# --------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class Overview:
    """Headline figures of the Overview page (all from rollups and metadata)."""

    total_posts: int
    sources: int
    window: TimeWindow
    posts_in_window: int
    posts_today: int = 0
    daily_average: float = 0.0


def overview(store: Store, window: TimeWindow) -> Overview:
    """Totals, the last 24 h of ``window`` and the daily average of the 7 days before it.

    Everything comes from the ingest rollups: the total from the per-source totals kept
    at write time (``estimated_document_count`` takes seconds on the embedded server at a
    million posts, and summing every hourly rollup grows with the store's age), the
    three windows from one read of the ingest day documents covering them
    (:meth:`~pipelines.store.rollups.Rollups.ingest_hours`).

    "Today" is the last 24 hours ending at ``window.until`` (the anchor's hour), so it
    is a whole day's worth to compare with the daily average of the previous 7 days.
    """
    per_source = store.rollups.totals()
    day_start = window.until - timedelta(hours=24)
    before_start = day_start - timedelta(days=7)
    hours = store.rollups.ingest_hours(min(window.since, before_start), window.until)

    def posts(since: datetime, until: datetime) -> int:
        return sum(r["n"] for r in hours if since <= r["hour"] < until)

    return Overview(
        total_posts=sum(int(r["n"]) for r in per_source),
        sources=len(per_source),
        window=window,
        posts_in_window=posts(window.since, window.until),
        posts_today=posts(day_start, window.until),
        daily_average=posts(before_start, day_start) / 7.0,
    )


HOURLY_SCHEMA = {"hour": pl.Datetime("us", "UTC"), "source": pl.String, "n": pl.Int64}


def _zero_fill(df: pl.DataFrame, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    if df.is_empty():
        return df
    lo = since or df["hour"].min()
    hi = (until - timedelta(hours=1)) if until else df["hour"].max()
    hours = pl.datetime_range(lo, hi, "1h", time_zone="UTC", eager=True).dt.cast_time_unit("us")
    grid = pl.DataFrame({"hour": hours}).join(df.select("source").unique(), how="cross")
    return (
        grid.join(df, on=["hour", "source"], how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort(["hour", "source"])
    )


def posts_per_hour(store: Store, window: TimeWindow) -> pl.DataFrame:
    """Hourly post counts per source in ``window``, zero-filled (one row per hour x source)."""
    rows = store.rollups.ingest_hours(window.since, window.until)
    return _zero_fill(pl.DataFrame(rows, schema=HOURLY_SCHEMA), window.since, window.until)


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class Reader:
    """The store (the record) and the search index (exact selections) of one process.

    Create one per process (the dashboard caches it) and call the query functions with
    it: each call takes a fresh searcher, which reloads, so it sees the indexer's latest
    commit. Nothing here writes to MongoDB or to the index.
    """

    store: Store
    index: SearchIndex
    posts: PostCache = field(
        default_factory=lambda: PostCache(POST_PROJECTION), compare=False, hash=False, repr=False
    )
    """Post documents by version, shared by this process's reads (the Map's table)."""
    selections: SelectionCache = field(default_factory=SelectionCache, compare=False, hash=False, repr=False)
    """Drawn-area selections' queries per index commit (:mod:`pipelines.read.selections`)."""

    def watchlist(self, wid: str) -> Watchlist | None:
        doc = self.store.alerts.get_config("watchlists", wid)
        return Watchlist.from_doc(doc) if doc is not None else None

    def lag(self) -> int | None:
        """Changes in MongoDB the index has not written yet (``None``: it has never been built).

        Right after an import or a restart the indexer may be behind; pages say so
        instead of presenting a partial index as "no posts match".
        """
        position = read_position(self.index.path)
        return None if position is None else max(0, self.store.feed.current_seq() - position)

    def select(self, filters: Filters, exclude: str = "") -> tuple[tantivy.Searcher, Query]:
        """A searcher and the exact query of ``filters`` (area and watchlist included),
        less the posts matching the keyword query ``exclude`` (a watchlist's exclusions).

        A drawn area's query is kept for the commit it was built on and given again while
        the index is unchanged (:mod:`pipelines.read.selections`).

        Raises :class:`~pipelines.search.index.SearchIndexError` (missing, corrupt) and
        :class:`~pipelines.search.select.SelectError` (unknown watchlist, huge area).
        """
        if filters.area is None or filters.watchlist:
            searcher = self.index.searcher()
            return searcher, selection_query(searcher, self.index.schema, filters, self.watchlist, exclude)
        before = self.index.generation()
        searcher = self.index.searcher()
        if self.index.generation() != before:  # a commit meanwhile: this searcher's is unknown
            return searcher, selection_query(searcher, self.index.schema, filters, self.watchlist, exclude)
        key = (before, filters, exclude)  # the searcher sees exactly that commit
        query = self.selections.get(key)
        if query is None:
            query = selection_query(searcher, self.index.schema, filters, self.watchlist, exclude)
            self.selections.put(key, query)
        return searcher, query


def _ordered_posts(store: Store, ids: list[str], projection: dict[str, Any]) -> list[dict[str, Any]]:
    """Posts by id in the order of ``ids`` (posts gone from MongoDB are left out)."""
    by_id = {d["_id"]: d for d in store.posts.by_ids(ids, projection)} if ids else {}
    return [by_id[i] for i in ids if i in by_id]


def latest_posts(reader: Reader, limit: int = LATEST_POSTS_LIMIT) -> pl.DataFrame:
    """The newest posts, for a limited table."""
    searcher = reader.index.searcher()
    rows = _ordered_posts(
        reader.store, aggregate.newest_ids(searcher, Query.all_query(), limit), POST_PROJECTION
    )
    data = {c: [r.get(c) for r in rows] for c in POST_COLUMNS}
    schema = {c: pl.String for c in POST_COLUMNS} | {"ts": pl.Datetime("us", "UTC")}
    return pl.DataFrame(data, schema=schema)


# --------------------------------------------------------------------------- filtered reads

BUCKETS = {"hour": ("1h", timedelta(hours=1)), "day": ("1d", timedelta(days=1))}
AUTO_DAY_AFTER = timedelta(days=31)
"""``bucket="auto"`` counts per day when the selection spans more than this, else per hour."""


def _floor(t: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t.astimezone(UTC) - epoch) // step) * step


def _zero_fill_every(
    df: pl.DataFrame, since: datetime | None, until: datetime | None, step: timedelta
) -> pl.DataFrame:
    if df.is_empty():
        return df
    lo = _floor(since, step) if since else df["hour"].min()
    hi = _floor(until - timedelta(microseconds=1), step) if until else df["hour"].max()
    every = "1d" if step == timedelta(days=1) else "1h"
    hours = pl.datetime_range(lo, hi, every, time_zone="UTC", eager=True).dt.cast_time_unit("us")
    grid = pl.DataFrame({"hour": hours}).join(df.select("source").unique(), how="cross")
    return (
        grid.join(df, on=["hour", "source"], how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort(["hour", "source"])
    )


def _span(searcher: tantivy.Searcher, query: Query, filters: Filters) -> timedelta:
    if filters.since and filters.until:
        return filters.until - filters.since
    res = searcher.aggregate(query, {"t": {"stats": {"field": "ts"}}})["t"]
    if not res.get("count"):
        return timedelta(0)
    lo = datetime.fromtimestamp(res["min"] / 1e9 if res["min"] > 1e14 else res["min"] / 1e3, UTC)
    hi = datetime.fromtimestamp(res["max"] / 1e9 if res["max"] > 1e14 else res["max"] / 1e3, UTC)
    return (filters.until or hi) - (filters.since or lo)


@dataclass(frozen=True)
class Timeline:
    """Posts per bucket x source for some filters (column ``hour`` holds the bucket start)."""

    hourly: pl.DataFrame
    bucket: str
    """``hour`` or ``day``."""


def timeline(reader: Reader, filters: Filters, bucket: str = "auto") -> Timeline:
    """Posts per ``bucket`` (``hour``, ``day`` or ``auto``) and source, zero-filled, exact."""
    if bucket not in (*BUCKETS, "auto"):
        raise ValueError(f"unknown bucket {bucket!r}; one of hour, day, auto")
    hours, selected = None, None
    if bucket == "auto":
        if not (filters.since and filters.until):
            hours = rollcounts.bucket_counts(reader.index.path, filters, "1h")
        bucket = rollcounts.auto_bucket(filters, hours, AUTO_DAY_AFTER) or ""
        if not bucket:  # the index says (the selection is made once, and used again below)
            selected = reader.select(filters)
            bucket = "day" if _span(*selected, filters) > AUTO_DAY_AFTER else "hour"
    interval, step = BUCKETS[bucket]
    if hours is None or bucket != "hour":
        hours = rollcounts.bucket_counts(reader.index.path, filters, interval)
    if hours is not None:  # whole hours x sources x languages (or one place): the rollup's counts
        rows = [
            {"hour": datetime.fromtimestamp(h * 3600, UTC), "source": src, "n": n}
            for (h, src), n in sorted(hours.items())
            if n and src  # as the aggregation's source buckets: posts without a source are left out
        ]
        df = pl.DataFrame(rows, schema=HOURLY_SCHEMA)
        return Timeline(_zero_fill_every(df, filters.since, filters.until, step), bucket)
    searcher, query = selected or reader.select(filters)
    agg = {
        "h": {
            "date_histogram": {"field": "ts", "fixed_interval": interval, "min_doc_count": 1},
            "aggs": {"s": {"terms": {"field": "source", "size": 1_000}}},
        }
    }
    rows = []
    for b in searcher.aggregate(query, agg)["h"]["buckets"]:
        t = datetime.fromtimestamp(b["key"] / 1000, UTC)
        rows += [{"hour": t, "source": str(s["key"]), "n": int(s["doc_count"])} for s in b["s"]["buckets"]]
    df = pl.DataFrame(rows, schema=HOURLY_SCHEMA)
    return Timeline(_zero_fill_every(df, filters.since, filters.until, step), bucket)


def count_matching(reader: Reader, filters: Filters) -> int:
    """The exact number of posts ``filters`` select (summed from the term rollup's post counts
    where it can answer: whole hours x sources x languages, one place, or a drawn area over all
    time with its rim's points tested)."""
    rolled = rollcounts.post_count(reader.index.path, filters)
    if rolled is None and filters.area is not None:
        rolled = areaterms.area_count(reader.index.path, filters, reader.index.searcher, reader.index.schema)
    if rolled is not None:
        return rolled
    searcher, query = reader.select(filters)
    return aggregate.count(searcher, query)


def _join(values: Any, key: str | None = None) -> str | None:
    if not values:
        return None
    items = [v.get(key) if key and isinstance(v, dict) else v for v in values]
    return "; ".join(str(i) for i in items if i)


def post_row(doc: dict[str, Any]) -> dict[str, Any]:
    """One post document flattened to :data:`FRAME_SCHEMA` (scores inlined, lists joined)."""
    scores = doc.get("scores") or {}
    ts = doc.get("ts")
    return {
        "id": doc.get("_id"),
        "ts": ts.astimezone(UTC) if isinstance(ts, datetime) else None,
        "source": doc.get("source"),
        "author": doc.get("author"),
        "title": doc.get("title"),
        "text": doc.get("text"),
        "url": doc.get("url"),
        "lang": doc.get("lang"),
        "sentiment": scores.get("sentiment"),
        "threat": scores.get("threat"),
        "hate": scores.get("hate"),
        "toxicity": scores.get("toxicity"),
        "topics": _join(scores.get("topics")),
        "places": _join(scores.get("places"), "name"),
        "scored_language": scores.get("language") or scores.get("lang"),
        "confidence": scores.get("confidence"),
        "model": scores.get("model"),
        "rationale": scores.get("rationale"),
        "engagement": doc.get("engagement"),
    }


def posts_frame(docs: list[dict[str, Any]]) -> pl.DataFrame:
    """Post documents as a DataFrame with :data:`FRAME_SCHEMA`."""
    return pl.DataFrame([post_row(d) for d in docs], schema=FRAME_SCHEMA)


ORDERS = ("newest", "relevance")


def posts_page(
    reader: Reader, filters: Filters, page: int = 0, page_size: int = PAGE_SIZE, order: str = "newest"
) -> pl.DataFrame:
    """One page of the posts ``filters`` select, ``newest`` first or by ``relevance`` (BM25)."""
    if not 0 <= page < MAX_PAGES:
        raise ValueError(
            f"page {page + 1} is beyond the last browsable page ({MAX_PAGES}); narrow the filters"
        )
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; one of {', '.join(ORDERS)}")
    searcher, query = reader.select(filters)
    if order == "newest":
        ids = rollcounts.newest_ids(
            searcher, query, reader.index.path, filters, limit=page_size, offset=page * page_size
        )
    else:
        ids = aggregate.relevant_ids(searcher, query, limit=page_size, offset=page * page_size)
    return posts_frame(_ordered_posts(reader.store, ids, POST_PROJECTION))


def post_detail(store: Store, post_id: str) -> dict[str, Any] | None:
    """One post with its full score sub-document (for the detail panel)."""
    doc = store.posts.get(post_id)
    if doc is None:
        return None
    doc.pop("terms", None)
    return doc


def posts_by_ids(store: Store, ids: list[str]) -> pl.DataFrame:
    """Posts by id (a map selection), newest first, as a frame."""
    return posts_frame(store.posts.by_ids(ids, POST_PROJECTION))


BREAKDOWN_FIELDS = {"terms": "term", "source": "source", "lang": "lang", "places": "place", "topics": "topic"}
"""Index fields a page breaks a selection down by, and the column each gets."""


def breakdown(reader: Reader, filters: Filters, field: str, top: int = 20) -> pl.DataFrame:
    """The ``top`` commonest values of ``field`` among the selected posts, exact counts."""
    if field not in BREAKDOWN_FIELDS:
        raise ValueError(f"unknown breakdown {field!r}; one of {', '.join(BREAKDOWN_FIELDS)}")
    rolled = termroll.top_terms(reader.index.path, filters, top) if field == "terms" else None
    if rolled is None and field == "terms" and filters.area is not None:  # inner map cells + rim
        rolled = areaterms.area_top_terms(
            reader.index.path, filters, top, reader.index.searcher, reader.index.schema, reader.select
        )
    if rolled is not None:  # whole hours x sources x languages, or an area: summed from the rollup
        rows = rolled
    else:
        searcher, query = reader.select(filters)
        bound = halves.selection_bound(searcher, filters) if field == "terms" else None
        rows = sorted(
            aggregate.top_values(searcher, query, field, top, reader.index.path, bound),
            key=lambda kv: (-kv[1], kv[0]),
        )
    return pl.DataFrame(rows, schema={BREAKDOWN_FIELDS[field]: pl.String, "n": pl.Int64}, orient="row")


def top_terms(reader: Reader, filters: Filters, top: int = 20) -> pl.DataFrame:
    """Most frequent terms among all the selected posts (posts per term, exact)."""
    return breakdown(reader, filters, "terms", top)


PLACE_SCHEMA = {"place": pl.String, "n": pl.Int64}


def top_places(reader: Reader, filters: Filters, top: int = 15) -> pl.DataFrame:
    """Most named places among all the selected posts (posts per place, exact)."""
    return breakdown(reader, filters, "places", top)


SCORE_EDGES = {
    "threat": [0.2, 0.4, 0.6, 0.8],
    "hate": [0.2, 0.4, 0.6, 0.8],
    "toxicity": [0.2, 0.4, 0.6, 0.8],
    "sentiment": [-0.6, -0.2, 0.2, 0.6],
}
"""Bounds of the score-range buckets (each range ``[lo, hi)``)."""


def score_summary(reader: Reader, filters: Filters) -> pl.DataFrame:
    """Per score: scored posts, mean, min, max over the selection (exact)."""
    searcher, query = reader.select(filters)
    stats = aggregate.score_stats(searcher, query)
    rows = [
        {
            "score": name,
            "posts": int(stats[name].get("count") or 0),
            "mean": stats[name].get("avg") if stats[name].get("count") else None,
            "min": stats[name].get("min") if stats[name].get("count") else None,
            "max": stats[name].get("max") if stats[name].get("count") else None,
        }
        for name in SCORE_COLUMNS
    ]
    schema = {"score": pl.String, "posts": pl.Int64, "mean": pl.Float64, "min": pl.Float64, "max": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def score_ranges(reader: Reader, filters: Filters, score: str) -> pl.DataFrame:
    """Selected posts per range of one score (``[lo, hi)``, open-ended first and last)."""
    if score not in SCORE_EDGES:
        raise ValueError(f"unknown score {score!r}; one of {', '.join(SCORE_EDGES)}")
    searcher, query = reader.select(filters)
    rows = aggregate.score_ranges(searcher, query, score, SCORE_EDGES[score])

    def label(lo: float | None, hi: float | None) -> str:
        return f"< {hi:g}" if lo is None else (f">= {lo:g}" if hi is None else f"{lo:g} to {hi:g}")

    return pl.DataFrame(
        [{"range": label(lo, hi), "n": n} for lo, hi, n in rows], schema={"range": pl.String, "n": pl.Int64}
    )
