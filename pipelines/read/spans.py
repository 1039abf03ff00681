"""Which time range a first screen shows: the whole archive, or the recent days of live data.

A store that holds an archive (its newest posts are older than
:data:`pipelines.read.queries.ARCHIVE_AFTER`, e.g. the bundled 2013 sample) tells its story over
its whole span: six events on one timeline. The last seven days of its tail hold a couple
of stragglers a day and an empty chart. A live store keeps the recent view. Pure functions
of the :class:`~pipelines.read.queries.DataClock` and the oldest post time, so Overview and
Explore (``components/filters.py``) follow the same rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.read.queries import DataClock, TimeWindow
from pipelines.store import Store

LIVE_DAYS = 7
MAX_SPAN = timedelta(days=400)
"""An archive longer than this shows its last 400 days (hourly charts stay readable and bounded)."""
ARCHIVE_PRESET = "All time"
LIVE_PRESET = "Last 7 days"


def default_preset(clock: DataClock) -> str:
    """The sidebar's default time preset: the whole span for an archive, else the last 7 days."""
    return ARCHIVE_PRESET if clock.archive else LIVE_PRESET


def overview_span(clock: DataClock, oldest: datetime | None, days: int = LIVE_DAYS) -> TimeWindow:
    """The Overview timeline's range: ``[oldest hour, clock.end)`` for an archive, else ``days``."""
    end = clock.end
    if clock.archive and oldest is not None:
        first = oldest.astimezone(UTC) if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        first = first.replace(minute=0, second=0, microsecond=0)
        return TimeWindow(max(first, end - MAX_SPAN), end)
    return TimeWindow(end - timedelta(days=days), end)


def oldest_hour(store: Store, clock: DataClock) -> datetime | None:
    """The oldest hour holding posts within :data:`MAX_SPAN` of an archive's end, from the
    ingest rollups; ``None`` for live data, whose span does not depend on it.

    Why not ``store.posts.ts_range()``: on SecantusDB a sorted ``find_one`` walks the
    whole ``ts`` index, about 110 s per end at 1M posts (issue 13). Overview's first run
    blocked in it, and the page opened next (Explore, in the dashboard bench) waited for
    that run to end: a 108-126 s first load. The per-source totals name each source's
    first hour (one document per source); only an archive longer than :data:`MAX_SPAN`
    reads the hourly ingest rollups of its last 400 days (one document per hour and source).
    """
    if not clock.archive:
        return None
    start = clock.end - MAX_SPAN
    firsts = [t["first"] for t in store.rollups.totals() if t.get("first") is not None]
    if firsts and min(firsts) >= start:
        return min(firsts)
    rows = store.rollups.sums("ingest", ["hour"], start, clock.end)
    hours = [r["hour"] for r in rows if r.get("hour") is not None]
    return min(hours) if hours else None
