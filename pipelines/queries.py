"""Read side of the dashboard: filters in, polars DataFrames out.

Charts read rollups (hourly counts maintained at write time), never a scan of posts,
whenever the filters allow it (time, sources). A filter rollups cannot answer (keywords,
languages, score ranges, places, an area) reads posts through :mod:`pipelines.scan`:
indexed windows, newest first, stopping after a budget of posts examined; the result
says how far back it got (:class:`~pipelines.scan.Reach`). Pages reach these functions only through the cached
wrappers in ``components/data.py``; exports (``pipelines/reports.py``) use the same
``Filters.to_mongo()`` so they select exactly what the pages show.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from pipelines import scan
from pipelines.filters import Filters
from pipelines.store import Store

LATEST_POSTS_LIMIT = 50
POST_COLUMNS = ("ts", "source", "author", "title", "text", "url", "lang")
PAGE_SIZE = 50
MAX_PAGES = 200
"""Pages beyond this are refused: narrow the filters (``skip`` costs grow with depth)."""
TERMS_BUDGET = 5_000
"""Top terms and places are counted over the matches among about this many newest posts."""
MAP_POINTS_LIMIT = 3_000
"""The map shows at most this many of the newest geolocated posts."""
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
        newest = store.newest_ingest_hour()
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
    newest = store.newest_ingest_hour(now)
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

    Everything comes from the ingest rollups (the total too: ``estimated_document_count``
    takes seconds on the embedded server at a million posts).

    "Today" is the last 24 hours ending at ``window.until`` (the anchor's hour), so it
    is a whole day's worth to compare with the daily average of the previous 7 days.
    """
    per_source = store.rollup_sums("ingest", ["source"])
    in_window = store.rollup_sums("ingest", [], window.since, window.until)
    day_start = window.until - timedelta(hours=24)
    today = store.rollup_sums("ingest", [], day_start, window.until)
    before = store.rollup_sums("ingest", [], day_start - timedelta(days=7), day_start)
    return Overview(
        total_posts=sum(int(r["n"]) for r in per_source),
        sources=len(per_source),
        window=window,
        posts_in_window=int(in_window[0]["n"]) if in_window else 0,
        posts_today=int(today[0]["n"]) if today else 0,
        daily_average=(float(before[0]["n"]) / 7.0) if before else 0.0,
    )


def posts_per_source(store: Store, window: TimeWindow | None = None) -> pl.DataFrame:
    """Post counts per source (all time, or within ``window``), largest first."""
    since, until = (window.since, window.until) if window else (None, None)
    rows = store.rollup_sums("ingest", ["source"], since, until)
    df = pl.DataFrame(rows, schema={"source": pl.String, "n": pl.Int64})
    return df.sort(["n", "source"], descending=[True, False])


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
    rows = store.rollup_sums("ingest", ["hour", "source"], window.since, window.until)
    return _zero_fill(pl.DataFrame(rows, schema=HOURLY_SCHEMA), window.since, window.until)


def _newest_posts(store: Store, limit: int, projection: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``limit`` newest posts; reads the rollups of the newest day only when it holds them.

    Without a time bound :func:`scan.windows` sums every hour's rollups of the whole store
    (seconds once it spans months); the newest ``limit`` posts lie in the newest day
    whenever that day holds at least ``limit`` posts, so that day is tried first.
    """
    newest = store.newest_ingest_hour()
    if newest is not None:
        day = Filters.make(since=newest - timedelta(hours=23), until=newest + timedelta(hours=1))
        rows, _ = scan.newest_matching(store, day, limit, projection=projection)
        if len(rows) >= limit:
            return rows
    rows, _ = scan.newest_matching(store, Filters(), limit, projection=projection)
    return rows


def latest_posts(store: Store, limit: int = LATEST_POSTS_LIMIT) -> pl.DataFrame:
    """The newest posts, for a limited table."""
    rows = _newest_posts(store, limit, POST_PROJECTION)
    data = {c: [r.get(c) for r in rows] for c in POST_COLUMNS}
    schema = {c: pl.String for c in POST_COLUMNS} | {"ts": pl.Datetime("us", "UTC")}
    return pl.DataFrame(data, schema=schema)


# --------------------------------------------------------------------------- filtered reads


def _whole_hour(t: datetime | None) -> bool:
    return t is None or (t.minute == 0 and t.second == 0 and t.microsecond == 0)


def rollup_answers(filters: Filters) -> bool:
    """True when the ingest rollups hold the exact answer (only time and sources set).

    Rollups are hourly, so the time bounds must be whole hours.
    """
    rest = filters.replace(since=None, until=None, sources=())
    return rest == Filters() and _whole_hour(filters.since) and _whole_hour(filters.until)


@dataclass(frozen=True)
class Timeline:
    """Posts per hour x source for some filters, and how it was computed."""

    hourly: pl.DataFrame
    from_rollups: bool
    reach: scan.Reach
    """How far back posts were read (always complete for rollups)."""


def timeline(store: Store, filters: Filters, budget: int = scan.SCAN_BUDGET) -> Timeline:
    """Hourly counts of the posts ``filters`` select: rollups when exact, else bounded posts."""
    if rollup_answers(filters):
        match = {"source": {"$in": list(filters.sources)}} if filters.sources else None
        rows = store.rollup_sums("ingest", ["hour", "source"], filters.since, filters.until, match=match)
        df = pl.DataFrame(rows, schema=HOURLY_SCHEMA)
        return Timeline(
            _zero_fill(df, filters.since, filters.until), True, scan.Reach(filters.since, True, 0)
        )
    index, residual = scan.split_query(filters.to_mongo())
    wins = scan.windows(store, filters)
    rows, read = [], 0
    for w in scan.bounded(wins, budget):
        read += 1
        rows += store.hourly_counts_in(scan.with_window(index, w.since, w.until), residual)
    for r in rows:
        r["hour"] = r["hour"].astimezone(UTC)
    reach = scan.reach_of(wins, read)
    df = pl.DataFrame(rows, schema=HOURLY_SCHEMA)
    df = df.group_by(["hour", "source"]).agg(pl.col("n").sum()) if not df.is_empty() else df
    return Timeline(_zero_fill(df, reach.since or filters.since, filters.until), False, reach)


@dataclass(frozen=True)
class Count:
    """How many posts the filters select; when not ``complete``, "at least ``n``"."""

    n: int
    reach: scan.Reach

    @property
    def complete(self) -> bool:
        return self.reach.complete

    def label(self) -> str:
        return f"{self.n:,}" if self.complete else f"{self.n:,}+"


def count_matching(store: Store, filters: Filters, budget: int = scan.SCAN_BUDGET) -> Count:
    """Exact from rollups when they answer; else the sum of the bounded timeline.

    The page caches the timeline, so the count costs nothing more than the chart.
    """
    if rollup_answers(filters):
        match = {"source": {"$in": list(filters.sources)}} if filters.sources else None
        rows = store.rollup_sums("ingest", [], filters.since, filters.until, match=match)
        return Count(int(rows[0]["n"]) if rows else 0, scan.Reach(filters.since, True, 0))
    tl = timeline(store, filters, budget)
    return Count(int(tl.hourly["n"].sum() or 0) if not tl.hourly.is_empty() else 0, tl.reach)


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


@dataclass(frozen=True)
class Page:
    """One page of posts and how far back the search for it reached."""

    posts: pl.DataFrame
    reach: scan.Reach


def posts_page(store: Store, filters: Filters, page: int = 0, page_size: int = PAGE_SIZE) -> Page:
    """One page (newest first) of the posts ``filters`` select."""
    if not 0 <= page < MAX_PAGES:
        raise ValueError(
            f"page {page + 1} is beyond the last browsable page ({MAX_PAGES}); narrow the filters"
        )
    docs, reach = scan.newest_matching(
        store, filters, page_size, skip=page * page_size, projection=POST_PROJECTION
    )
    return Page(posts_frame(docs), reach)


def post_detail(store: Store, post_id: str) -> dict[str, Any] | None:
    """One post with its full score sub-document (for the detail panel)."""
    doc = store.get_post(post_id)
    if doc is None:
        return None
    doc.pop("terms", None)
    return doc


def posts_by_ids(store: Store, ids: list[str]) -> pl.DataFrame:
    """Posts by id (a map selection), newest first, as a frame."""
    return posts_frame(store.posts_by_ids(ids, POST_PROJECTION))


def top_terms(store: Store, filters: Filters, top: int = 20, budget: int = TERMS_BUDGET) -> pl.DataFrame:
    """Most frequent terms among the matching posts of the newest windows (``budget`` posts)."""
    index, residual = scan.split_query(filters.to_mongo())
    counts: dict[str, int] = {}
    for w in scan.bounded(scan.windows(store, filters), budget):
        for term, n in store.term_counts_in(scan.with_window(index, w.since, w.until), residual).items():
            counts[term] = counts.get(term, 0) + n
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return pl.DataFrame(rows, schema={"term": pl.String, "n": pl.Int64}, orient="row")


PLACE_SCHEMA = {"place": pl.String, "country": pl.String, "n": pl.Int64}


def top_places(store: Store, filters: Filters, top: int = 15, budget: int = TERMS_BUDGET) -> pl.DataFrame:
    """Most mentioned places: place rollups when they answer exactly, else the newest posts."""
    if rollup_answers(filters) and not filters.sources:
        rows = store.rollup_sums("place", ["place", "country"], filters.since, filters.until)
        df = pl.DataFrame(
            [{"place": r.get("place"), "country": r.get("country"), "n": r.get("n")} for r in rows],
            schema=PLACE_SCHEMA,
        )
        if not df.is_empty():
            return df.sort(["n", "place"], descending=[True, False]).head(top)
    index, residual = scan.split_query(filters.to_mongo())
    counts: dict[tuple[str, str | None], int] = {}
    for w in scan.bounded(scan.windows(store, filters), budget):
        for r in store.place_counts_in(scan.with_window(index, w.since, w.until), residual):
            key = (r["place"], r["country"])
            counts[key] = counts.get(key, 0) + r["n"]
    rows = sorted(((p, c, n) for (p, c), n in counts.items()), key=lambda r: (-r[2], r[0] or ""))[:top]
    return pl.DataFrame(rows, schema=PLACE_SCHEMA, orient="row")


MAP_SCHEMA = {
    "id": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "source": pl.String,
    "text": pl.String,
    "lat": pl.Float64,
    "lon": pl.Float64,
    "where": pl.String,
    "threat": pl.Float64,
    "sentiment": pl.Float64,
}
LOCATED = {"$or": [{"geo": {"$exists": True}}, {"scores.places.0": {"$exists": True}}]}


@dataclass(frozen=True)
class MapPoints:
    points: pl.DataFrame
    reach: scan.Reach


def map_points(store: Store, filters: Filters, limit: int = MAP_POINTS_LIMIT) -> MapPoints:
    """The newest ``limit`` located posts the filters select, one point each.

    A post's point is its own coordinates (``geo``) when it has them, else the first
    place its text names (``scores.places``, ranked by the scorer).
    """
    proj = {"_id": 1, "ts": 1, "source": 1, "text": 1, "geo": 1, "scores": 1}
    docs, reach = _newest_located(store, filters, limit, proj)
    rows = []
    for d in docs:
        scores = d.get("scores") or {}
        places = scores.get("places") or []
        if d.get("geo"):
            lon, lat = d["geo"]["coordinates"][:2]
            where = "coordinates"
        elif places:
            lat, lon, where = places[0].get("lat"), places[0].get("lon"), places[0].get("name")
        else:
            continue
        rows.append(
            {
                "id": d["_id"],
                "ts": d["ts"].astimezone(UTC),
                "source": d.get("source"),
                "text": (d.get("text") or "")[:280],
                "lat": float(lat),
                "lon": float(lon),
                "where": where,
                "threat": scores.get("threat"),
                "sentiment": scores.get("sentiment"),
            }
        )
    return MapPoints(pl.DataFrame(rows, schema=MAP_SCHEMA), reach)


def _newest_located(
    store: Store, filters: Filters, limit: int, projection: dict[str, Any]
) -> tuple[list[dict[str, Any]], scan.Reach]:
    index, residual = scan.split_query(filters.to_mongo())
    residual = {"$and": [residual, LOCATED]} if residual else LOCATED
    wins = scan.windows(store, filters)
    got: list[dict[str, Any]] = []
    read = 0
    for w in scan.bounded(wins):
        read += 1
        got += store.find_posts_in(
            scan.with_window(index, w.since, w.until), residual, limit=limit - len(got), projection=projection
        )
        if len(got) >= limit:
            break
    return got, scan.reach_of(wins, read)


# --------------------------------------------------------------------------- filter options


@dataclass(frozen=True)
class FilterOptions:
    """Choices offered by the sidebar filters."""

    sources: tuple[str, ...]
    langs: tuple[str, ...]
    places: tuple[str, ...]
    watchlists: tuple[tuple[str, str], ...]
    """``(id, name)`` pairs."""
    entities: tuple[str, ...] = ()
    """``type:name`` of the entities most named in the newest posts (issue 14)."""


PLACE_OPTIONS = 500
"""The Places filter offers at most this many places (see :func:`filter_options`)."""
PLACE_OPTIONS_SPAN = timedelta(hours=24)


def filter_options(store: Store) -> FilterOptions:
    """Sources from ingest rollups; languages from score rollups and the newest posts;
    places: the :data:`PLACE_OPTIONS` most mentioned in the newest day of data.

    Why a day for places: place rollups hold one document per hour and place, so listing
    every place ever mentioned reads them all (33,000 documents at 100,000 posts over
    30 days: 1.4-7 s on the embedded store) and grows with the store's age; a day's
    place rollups are a few thousand at most. A place chosen earlier stays offered
    (``components/filters.py`` adds the selected ones), and links may name any place.
    """
    recent = _newest_posts(store, 500, {"lang": 1, "scores.entities": 1})
    langs = set(store.rollup_values("score", "lang")) | {d["lang"] for d in recent if d.get("lang")}
    newest = store.newest_ingest_hour()
    places: list[str] = []
    if newest is not None:
        until = newest + timedelta(hours=1)
        rows = store.rollup_sums("place", ["place"], until - PLACE_OPTIONS_SPAN, until)
        top = sorted((r for r in rows if r.get("place")), key=lambda r: (-int(r["n"]), r["place"]))
        places = sorted(r["place"] for r in top[:PLACE_OPTIONS])
    return FilterOptions(
        sources=tuple(store.rollup_values("ingest", "source")),
        langs=tuple(sorted(langs)),
        places=tuple(places),
        watchlists=tuple((str(w["_id"]), str(w.get("name") or w["_id"])) for w in store.watchlist_names()),
        entities=_entity_options(recent),
    )


ENTITY_OPTIONS = 200
"""The Entities filter offers at most this many (any other can be typed in)."""


def _entity_options(posts: list[dict[str, Any]]) -> tuple[str, ...]:
    """The :data:`ENTITY_OPTIONS` entities most named in ``posts``, as ``type:name``."""
    counts: Counter[str] = Counter()
    for p in posts:
        for e in (p.get("scores") or {}).get("entities") or []:
            if isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("type"), str):
                counts[f"{e['type']}:{e['name']}"] += 1
    return tuple(sorted(k for k, _ in counts.most_common(ENTITY_OPTIONS)))
