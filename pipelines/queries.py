"""Read side of the dashboard: filters in, polars DataFrames out.

Charts read rollups (hourly counts maintained at write time), never a scan of posts;
tables read posts with an indexed filter and a limit. Pages reach these functions
only through the cached wrappers in ``components/data.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from pipelines.store import Store

LATEST_POSTS_LIMIT = 50
POST_COLUMNS = ("ts", "source", "author", "title", "text", "url", "lang")


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
        _, newest = store.ts_range()
        end = (newest or datetime.now(UTC)).astimezone(UTC)
        until = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return cls(until - timedelta(days=days), until)


@dataclass(frozen=True)
class Overview:
    """Headline figures of the Overview page."""

    total_posts: int
    sources: int
    window: TimeWindow
    posts_in_window: int


def overview(store: Store, window: TimeWindow) -> Overview:
    """Totals from collection metadata and rollups (no scan of posts)."""
    per_source = store.rollup_sums("ingest", ["source"])
    in_window = store.rollup_sums("ingest", [], window.since, window.until)
    return Overview(
        total_posts=store.estimated_post_count(),
        sources=len(per_source),
        window=window,
        posts_in_window=int(in_window[0]["n"]) if in_window else 0,
    )


def posts_per_source(store: Store, window: TimeWindow | None = None) -> pl.DataFrame:
    """Post counts per source (all time, or within ``window``), largest first."""
    since, until = (window.since, window.until) if window else (None, None)
    rows = store.rollup_sums("ingest", ["source"], since, until)
    df = pl.DataFrame(rows, schema={"source": pl.String, "n": pl.Int64})
    return df.sort(["n", "source"], descending=[True, False])


def posts_per_hour(store: Store, window: TimeWindow) -> pl.DataFrame:
    """Hourly post counts per source in ``window``, zero-filled (one row per hour x source)."""
    rows = store.rollup_sums("ingest", ["hour", "source"], window.since, window.until)
    df = pl.DataFrame(rows, schema={"hour": pl.Datetime("us", "UTC"), "source": pl.String, "n": pl.Int64})
    if df.is_empty():
        return df
    hours = pl.datetime_range(
        window.since, window.until - timedelta(hours=1), "1h", time_zone="UTC", eager=True
    )
    grid = pl.DataFrame({"hour": hours}).join(df.select("source").unique(), how="cross")
    return (
        grid.join(df, on=["hour", "source"], how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort(["hour", "source"])
    )


def latest_posts(store: Store, limit: int = LATEST_POSTS_LIMIT) -> pl.DataFrame:
    """The newest posts, for a limited table."""
    rows = store.latest_posts(limit=limit)
    data = {c: [r.get(c) for r in rows] for c in POST_COLUMNS}
    schema = {c: pl.String for c in POST_COLUMNS} | {"ts": pl.Datetime("us", "UTC")}
    return pl.DataFrame(data, schema=schema)
