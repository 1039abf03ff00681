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
