"""The first screen's range: an archive's whole span, live data's last 7 days (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.read import spans
from pipelines.read.queries import PRESETS, DataClock, data_clock
from pipelines.store import Store

END = datetime(2013, 12, 9, 5, tzinfo=UTC)


def test_an_archive_opens_on_its_whole_span() -> None:
    clock = DataClock(end=END, archive=True, newest_hour=END - timedelta(hours=1))
    w = spans.overview_span(clock, datetime(2013, 9, 8, 3, 27, tzinfo=UTC))
    assert (w.since, w.until) == (datetime(2013, 9, 8, 3, tzinfo=UTC), END)
    assert spans.default_preset(clock) == "All time" and "All time" in PRESETS
    long = spans.overview_span(clock, END - timedelta(days=2000))
    assert long.until - long.since == spans.MAX_SPAN


def test_live_data_opens_on_its_last_week() -> None:
    clock = DataClock(end=END, archive=False, newest_hour=END - timedelta(hours=1))
    w = spans.overview_span(clock, datetime(2013, 1, 1, tzinfo=UTC))
    assert (w.since, w.until) == (END - timedelta(days=7), END)
    assert spans.default_preset(clock) == "Last 7 days" in PRESETS
    assert spans.overview_span(DataClock(END, True, None), None).since == END - timedelta(days=7)


def test_with_the_real_clock_of_a_store(store: Store) -> None:
    from pipelines.core.post import build_post

    store.posts.upsert(
        [
            build_post(source="s", native_id=str(i), ts=END - timedelta(days=i), text=f"t {i}").to_doc()
            for i in range(30)
        ]
    )
    clock = data_clock(store, now=END + timedelta(days=400))
    oldest = spans.oldest_hour(store, clock)
    assert oldest == store.posts.ts_range()[0].replace(minute=0, second=0, microsecond=0)
    w = spans.overview_span(clock, oldest)
    assert clock.archive and w.since == (END - timedelta(days=29)).replace(tzinfo=UTC)
    live = data_clock(store, now=END + timedelta(hours=2))
    assert not live.archive and spans.oldest_hour(store, live) is None
