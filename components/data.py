"""Every ``st.cache_*`` wrapper around :mod:`pipelines.read.queries` lives here.

Pages never touch the store directly: they call these functions, which cache results so
that a rerun (every widget change) costs no database round trip. Reads of the search index
(Explore's count, timeline, pages, top terms and breakdowns; Overview's newest posts; the
Map's view and table) are cached per selection and index commit (:func:`index_state`):
reused for as long as the index is unchanged, recounted on the first run after a commit.
Reads of MongoDB keep a short TTL.
Cache keys are the arguments: :class:`~pipelines.search.filters.Filters` is frozen and
hashable, so two users with the same filters share one query.

Filtered reads go through the search index, opened once per process
(:func:`get_reader`, a cached :class:`~pipelines.read.queries.Reader` whose searchers reload).
When the index is missing, corrupt or locked, or a selection cannot be answered, the
page says so (with ``python -m pipelines index --rebuild``) and stops; nothing in
MongoDB is touched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl
import streamlit as st

from pipelines.core.config import Settings
from pipelines.read import health, mapview, options, queries, triage
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, SearchIndexError, index_path
from pipelines.search.select import SelectError
from pipelines.store import Store

F = TypeVar("F", bound=Callable[..., Any])
REBUILD_COMMAND = "python -m pipelines index --rebuild"

TTL_S = 30
"""Seconds a MongoDB read's result is reused (rollups, anomalies, sources): new data shows up
at most this late there. Index reads are keyed by the index's commit instead."""
SLOW_TTL_S = 300
"""For what changes rarely (filter options)."""
STATE_TTL_S = 3600
"""Seconds a result keyed by the index's state (:func:`index_state`) is kept unused; it is
never served after the index changed, so this only bounds memory with ``STATE_ENTRIES``."""
STATE_ENTRIES = 64


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One client per server process (reruns and sessions share it)."""
    return Store.open(Settings())


@st.cache_resource(show_spinner=False)
def get_reader() -> queries.Reader:
    """The store and the search index, opened once per server process.

    Raises :class:`SearchIndexError` (not cached: the next rerun tries again, so a
    rebuilt index is picked up without restarting the dashboard).
    """
    return queries.Reader(get_store(), SearchIndex.open(index_path(Settings().vigil_data_dir)))


def index_problem(exc: Exception) -> None:
    """Say why the page cannot be drawn, how to fix it, and stop the page."""
    if isinstance(exc, SearchIndexError):
        st.error(f"The search index cannot be used: {exc}")
        st.caption(
            "Counts, charts and tables come from the search index, derived from MongoDB. Rebuild it with:"
        )
        st.code(REBUILD_COMMAND, language="bash")
        st.caption(
            "(or start the indexer: `python -m pipelines index --loop`, which `pipelines up` runs). "
            "Nothing in MongoDB is changed."
        )
    else:
        st.error(str(exc))
    st.stop()


def guarded(fn: F) -> F:
    """Run ``fn``; on an index problem or an unanswerable selection, :func:`index_problem`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SearchIndexError, SelectError) as exc:
            index_problem(exc)

    return wrapper  # type: ignore[return-value]


LAG_NOTICE = options.CURRENT_LAG
"""Changes behind the store from which a page says the index is still catching up."""


def require_index() -> queries.Reader:
    """The reader, or the page explains the missing/corrupt/locked index and stops.

    When the indexer is far behind the store (just after an import or a restart), the
    page says so: its figures are exact for what is indexed, not yet for the store.
    """
    reader = guarded(get_reader)()
    lag = index_lag()
    if lag is None or lag >= LAG_NOTICE:
        behind = "has not finished its first pass" if lag is None else f"is {lag:,} changes behind the store"
        st.info(
            f"The search index {behind}: counts and charts cover what is indexed so far and "
            "catch up within seconds to minutes while `pipelines up` (or `python -m pipelines index --loop`) runs."
        )
    return reader


@st.cache_data(ttl=5, show_spinner=False)
def index_lag() -> int | None:
    """Changes the index has not written yet (checked every few seconds, not every rerun)."""
    return get_reader().lag()


def clear() -> None:
    """Forget cached results (after an action that changed the store)."""
    st.cache_data.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def data_clock() -> queries.DataClock:
    return queries.data_clock(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def default_window(days: int = 7) -> queries.TimeWindow:
    return queries.TimeWindow.last_days_of_data(get_store(), days)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def overview(window: queries.TimeWindow) -> queries.Overview:
    return queries.overview(get_store(), window)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def posts_per_hour(window: queries.TimeWindow) -> pl.DataFrame:
    return queries.posts_per_hour(get_store(), window)


@guarded
def latest_posts(limit: int = queries.LATEST_POSTS_LIMIT) -> pl.DataFrame:
    """Overview's newest posts (from the index), cached per index commit like the reads below."""
    return _latest_posts(limit, get_reader().index.generation())


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _latest_posts(limit: int, state: str) -> pl.DataFrame:
    return queries.latest_posts(get_reader(), limit)


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def filter_options() -> options.FilterOptions:
    try:
        reader: queries.Reader | None = get_reader()
    except SearchIndexError:
        reader = None  # the sidebar still works; the page itself says what is wrong
    return options.filter_options(get_store(), reader)


@guarded
def timeline(filters: Filters, bucket: str = "auto") -> queries.Timeline:
    """Explore's timeline, cached per selection and index state (:func:`index_state`)."""
    return _timeline(filters, bucket, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _timeline(filters: Filters, bucket: str, state: str) -> queries.Timeline:
    return queries.timeline(get_reader(), filters, bucket)


@guarded
def count_matching(filters: Filters) -> int:
    """The exact number of posts matching ``filters``, cached per index state."""
    return _count_matching(filters, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _count_matching(filters: Filters, state: str) -> int:
    return queries.count_matching(get_reader(), filters)


@guarded
def posts_page(
    filters: Filters, page: int, page_size: int = queries.PAGE_SIZE, order: str = "newest"
) -> pl.DataFrame:
    """A page of matching posts, cached per index state."""
    return _posts_page(filters, page, page_size, order, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _posts_page(filters: Filters, page: int, page_size: int, order: str, state: str) -> pl.DataFrame:
    return queries.posts_page(get_reader(), filters, page, page_size, order)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def post_detail(post_id: str) -> dict[str, Any] | None:
    return queries.post_detail(get_store(), post_id)


@guarded
def top_terms(filters: Filters, top: int = 20) -> pl.DataFrame:
    """The commonest terms of the matching posts, cached per index state."""
    return _top_terms(filters, top, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _top_terms(filters: Filters, top: int, state: str) -> pl.DataFrame:
    return queries.top_terms(get_reader(), filters, top=top)


@guarded
def breakdown(filters: Filters, field: str, top: int = 20) -> pl.DataFrame:
    """Matching posts per source, language, place ..., cached per index state."""
    return _breakdown(filters, field, top, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _breakdown(filters: Filters, field: str, top: int, state: str) -> pl.DataFrame:
    return queries.breakdown(get_reader(), filters, field, top)


@guarded
def score_summary(filters: Filters) -> pl.DataFrame:
    """Score means and counts of the matching posts, cached per index state."""
    return _score_summary(filters, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _score_summary(filters: Filters, state: str) -> pl.DataFrame:
    return queries.score_summary(get_reader(), filters)


@guarded
def score_ranges(filters: Filters, score: str) -> pl.DataFrame:
    """Matching posts per range of one score, cached per index state."""
    return _score_ranges(filters, score, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _score_ranges(filters: Filters, score: str, state: str) -> pl.DataFrame:
    return queries.score_ranges(get_reader(), filters, score)


def index_state(filters: Filters) -> str:
    """What a selection's result depends on besides ``filters``: the index's commit
    (:meth:`~pipelines.search.index.SearchIndex.generation`) and, for a watchlist filter,
    the watchlist's stored definition (edited without touching the index).

    Why: the Map's view and table, and Explore's figures, were recounted every 30 s (the
    TTL) even when nothing had changed, and shown up to 30 s stale when something had.
    Keyed by this state, a repeat
    visit of the same selection reuses the result for as long as the index is unchanged,
    and the first run after a commit recounts. Read before the query, so a result is never
    stored under a newer state than the one it was computed on. Post documents shown in the
    table change only through the change feed, whose indexer commits move this state too.
    """
    reader = get_reader()
    state = reader.index.generation()
    if filters.watchlist:
        state += "|" + repr(reader.watchlist(filters.watchlist))
    return state


@guarded
def map_view(filters: Filters, limit: int | None = None) -> mapview.MapView:
    """The Map's points or clusters (:func:`pipelines.read.mapview.map_view`), cached per
    selection and index state (:func:`index_state`)."""
    return _map_view(filters, limit or mapview.MAP_POINTS_LIMIT, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _map_view(filters: Filters, limit: int, state: str) -> mapview.MapView:
    return mapview.map_view(get_reader(), filters, limit)


@guarded
def located_posts(
    filters: Filters, limit: int, within: Any = None, offset: int = 0
) -> tuple[int, pl.DataFrame]:
    """A page of the Map's table (:func:`pipelines.read.mapview.located_posts`), cached per
    selection, page and index state (:func:`index_state`)."""
    return _located_posts(filters, limit, within, offset, index_state(filters))


@st.cache_data(ttl=STATE_TTL_S, max_entries=STATE_ENTRIES, show_spinner=False)
def _located_posts(
    filters: Filters, limit: int, within: Any, offset: int, state: str
) -> tuple[int, pl.DataFrame]:
    return mapview.located_posts(get_reader(), filters, limit, within, offset)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def posts_by_ids(ids: tuple[str, ...]) -> pl.DataFrame:
    return queries.posts_by_ids(get_store(), list(ids))


# --------------------------------------------------------------------------- anomalies


@st.cache_data(ttl=TTL_S, show_spinner=False)
def anomalies(statuses: tuple[str, ...] = (), limit: int = triage.LIST_LIMIT) -> pl.DataFrame:
    return triage.anomaly_list(get_store(), statuses, limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def anomaly(anomaly_id: str) -> triage.AnomalyView | None:
    return triage.anomaly_view(get_store(), anomaly_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def anomaly_markers(window: queries.TimeWindow) -> pl.DataFrame:
    return triage.anomaly_markers(get_store(), window.since, window.until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_alerts(limit: int = 10) -> pl.DataFrame:
    return triage.latest_alerts(get_store(), limit)


# --------------------------------------------------------------------------- sources


@st.cache_data(ttl=TTL_S, show_spinner=False)
def source_health() -> pl.DataFrame:
    return health.source_health(get_store())


def today_filters(window: queries.TimeWindow) -> Filters:
    """The last 24 hours of ``window`` as filters (Overview's top terms)."""
    from datetime import timedelta

    return Filters.make(since=window.until - timedelta(hours=24), until=window.until)


# --------------------------------------------------------------------------- incidents (issue 12)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incidents(statuses: tuple[str, ...] = (), include_minor: bool = False) -> pl.DataFrame:
    from pipelines.read import incident_views

    return incident_views.incident_list(get_store(), statuses, include_minor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incident(incident_id: str) -> Any:
    from pipelines.read import incident_views

    return incident_views.incident_view(get_store(), incident_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incident_markers(window: queries.TimeWindow) -> pl.DataFrame:
    from pipelines.read import incident_views

    return incident_views.incident_markers(get_store(), window.since, window.until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def overview_span() -> queries.TimeWindow:
    """Overview's timeline: the whole archive, or the last 7 days of live data (pipelines.read.spans)."""
    from pipelines.read import spans

    clock = data_clock()
    return spans.overview_span(clock, spans.oldest_hour(get_store(), clock))
