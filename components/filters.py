"""The sidebar filters shared by every page, kept as one :class:`Filters` in session state.

``render_sidebar()`` draws the widgets and stores the validated selection under
``st.session_state["filters"]``; pages read it with :func:`current`. Other code sets a
selection with :func:`request` (e.g. "open in Explore" from an anomaly), which is
applied to the widgets at the start of the next run, before they are drawn (Streamlit
forbids changing a widget's value after it is drawn).

The selection also lives in the page's address: every run writes it to the URL query
(``Filters.to_params``: time, keywords, sources, languages, places, score ranges,
watchlist, area), so the address bar is always a link to exactly this selection, and a
link that arrives with filter parameters (a shared URL, "open in Explore" from an
anomaly) replaces the selection when its parameters differ from the ones this session
last wrote. Moving between pages through the menu drops the query; the session keeps
the selection and the next page writes it back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from components import data
from pipelines.core.escape import markdown_text
from pipelines.read.queries import PRESETS, preset_range
from pipelines.read.spans import default_preset
from pipelines.search import QuerySyntaxError
from pipelines.search.filters import URL_PARAMS, Filters, GeoArea

STATE_KEY = "filters"
PENDING_KEY = "filters_pending"
URL_KEY = "filters_url"
"""The query parameters this session last wrote (a link differing from them is applied)."""
AREA_KEY = "f_area"
CUSTOM = "Custom range"
DEFAULT_PRESET = "Last 7 days"
"""Live data's default; an archive's is "All time" (:func:`pipelines.read.spans.default_preset`)."""
SCORES_OPEN = "f_scores_open"
"""The Scores expander's open state (an ``f_`` key: :func:`keep` holds it across pages)."""
SCORE_SLIDERS = {
    "threat": (0.0, 1.0),
    "hate": (0.0, 1.0),
    "toxicity": (0.0, 1.0),
    "sentiment": (-1.0, 1.0),
}


def current() -> Filters:
    """The selection the sidebar last validated (all posts of the default preset if none)."""
    f = st.session_state.get(STATE_KEY)
    return f if isinstance(f, Filters) else Filters()


def request(filters: Filters) -> None:
    """Ask the sidebar to show ``filters`` on the next run (call ``st.rerun``/``switch_page`` after)."""
    st.session_state[PENDING_KEY] = filters


def keep() -> None:
    """Keep the filter widgets' values while a page without the sidebar is shown.

    Streamlit drops the state of widgets that a run does not draw; re-assigning the
    keys at the start of every run keeps the selection across pages.
    """
    for k in [k for k in st.session_state if str(k).startswith("f_")]:
        st.session_state[k] = st.session_state[k]


def _apply(filters: Filters) -> None:
    """Write a Filters' values into the widget keys (before the widgets exist)."""
    ss = st.session_state
    if filters.since or filters.until:
        ss["f_preset"] = CUSTOM
        since = filters.since or datetime(2004, 1, 1, tzinfo=UTC)
        until = filters.until or datetime.now(UTC)
        ss["f_dates"] = (since.date(), until.date())
        ss["f_from"] = since.time().replace(second=0, microsecond=0)
        ss["f_to"] = until.time().replace(second=0, microsecond=0)
    else:
        ss["f_preset"] = "All time"
    ss["f_sources"] = list(filters.sources)
    ss["f_langs"] = list(filters.langs)
    ss["f_query"] = filters.query
    ss["f_places"] = list(filters.places)
    ss["f_entities"] = list(filters.entities)
    ss["f_watchlist"] = filters.watchlist or ""
    for name, full in SCORE_SLIDERS.items():
        ss[f"f_{name}"] = getattr(filters, name) or full
    if any(getattr(filters, name) not in (None, full) for name, full in SCORE_SLIDERS.items()):
        ss[SCORES_OPEN] = True  # a link that narrows a score shows its sliders
    ss["f_area"] = filters.area


def url_params() -> dict[str, str]:
    """The filter parameters of the current address (others, like ``anomaly=``, are left out)."""
    qp = st.query_params
    return {k: qp[k] for k in URL_PARAMS if k in qp}


def _from_url(params: dict[str, str]) -> Filters | None:
    """A Filters from the address's parameters, or None (with a sidebar error) when malformed."""
    try:
        return Filters.from_params(params)
    except (ValueError, TypeError) as exc:  # FilterError and QuerySyntaxError are ValueErrors
        st.sidebar.error(f"Ignoring the filters in the address: {markdown_text(exc)}")
        return None


def _write_url(filters: Filters) -> None:
    """Make the address a link to ``filters`` (only the filter parameters are touched)."""
    params = filters.to_params()
    qp = st.query_params
    for k in URL_PARAMS:
        if k in qp and k not in params:
            del qp[k]
    for k, v in params.items():
        if qp.get(k) != v:
            qp[k] = v
    st.session_state[URL_KEY] = params


def link(page: str, filters: Filters) -> tuple[str, dict[str, str]]:
    """``(page, query_params)`` for ``st.switch_page``/``st.page_link`` carrying every filter."""
    return page, filters.to_params()


def set_area(area: GeoArea | None) -> None:
    """Make ``area`` (or none) the sidebar's area filter from the next run on (a callback)."""
    st.session_state[AREA_KEY] = area


def _time_range(clock: Any) -> tuple[datetime | None, datetime | None]:
    presets = [*PRESETS, CUSTOM]
    preset = st.selectbox("Time", presets, key="f_preset")
    if preset != CUSTOM:
        return preset_range(clock, preset)
    end = clock.end
    st.session_state.setdefault("f_dates", ((end - timedelta(days=7)).date(), end.date()))
    st.session_state.setdefault("f_from", time(0, 0))
    st.session_state.setdefault("f_to", time(0, 0))
    picked = st.date_input("Dates (UTC)", key="f_dates")
    c1, c2 = st.columns(2)
    t_from = c1.time_input("from", key="f_from", step=3600)
    t_to = c2.time_input("until", key="f_to", step=3600)
    days = list(picked) if isinstance(picked, list | tuple) else [picked]
    if not days or not isinstance(days[0], date):
        return None, None
    d0, d1 = days[0], days[-1]
    since = datetime.combine(d0, t_from or time(0), tzinfo=UTC)
    until = datetime.combine(d1, t_to or time(0), tzinfo=UTC)
    if until <= since:  # "2013-06-20 .. 2013-06-20 at 00:00" means the whole day
        until = datetime.combine(d1, time(0), tzinfo=UTC) + timedelta(days=1)
    return since, until


def render_sidebar() -> Filters:
    """Draw the shared filters in the sidebar; return (and store) the validated selection."""
    ss = st.session_state
    _take_pending()
    clock = data.data_clock()
    # An archive opens on its whole span, live data on the last 7 days (pipelines.read.spans).
    ss.setdefault("f_preset", default_preset(clock))
    opts = data.filter_options()
    with st.sidebar:
        st.header("Filters")
        since, until = _time_range(clock)
        if clock.archive and clock.newest_hour is not None:
            st.caption(
                f"This store holds an archive: times are relative to its newest posts "
                f"({clock.newest_hour:%Y-%m-%d %H:00} UTC), not to today."
            )
        query = st.text_input(
            "Keywords",
            key="f_query",
            placeholder='flood AND (calgary OR "high river") -drill',
            help='AND, OR, NOT (or -word), "exact phrase", prefix*; e.g. evacuat* -test',
        )
        sources = st.multiselect("Sources", list(opts.sources), key="f_sources")
        langs = st.multiselect("Languages", list(opts.langs), key="f_langs")
        places = st.multiselect(
            "Places", sorted(set(opts.places) | set(ss.get("f_places") or [])), key="f_places"
        )
        entities = _entity_picker(opts)
        watchlist = _watchlist_picker(opts)
        ranges = _score_ranges()
        area = _area_box()
        try:
            filters = Filters.make(
                since=since,
                until=until,
                sources=sources,
                langs=langs,
                query=query,
                places=places,
                entities=entities,
                watchlist=watchlist or None,
                area=area,
                **{k: tuple(v) for k, v in ranges.items()},
            )
        except (QuerySyntaxError, ValueError) as exc:
            st.error(f"Filters not applied: {markdown_text(exc)}")
            filters = current()
    ss[STATE_KEY] = filters
    _write_url(filters)
    return filters


def _take_pending() -> None:
    """Apply a selection requested by a link or button (or a changed page address) to the widgets."""
    ss = st.session_state
    pending = ss.pop(PENDING_KEY, None)
    in_url = url_params()
    if pending is None and in_url and in_url != ss.get(URL_KEY):
        pending = _from_url(in_url)
    if pending is not None:
        _apply(pending)
    else:
        _restore_dropped()
    ss["f_initialised"] = True


def _restore_dropped() -> None:
    """Give back the last validated selection's values to widget keys Streamlit dropped.

    Why: after a download button's click on the Map, Streamlit had forgotten the sidebar's
    widget state (``keep()`` re-assigns only the keys still there), so the next page's
    sidebar came up without the keyword and silently selected more posts than before.
    Only keys that are missing are written; a value the user cleared is an empty string or
    list, which stays.
    """
    ss = st.session_state
    last = ss.get(STATE_KEY)
    if not isinstance(last, Filters):
        return
    values: dict[str, Any] = {
        "f_query": last.query,
        "f_sources": list(last.sources),
        "f_langs": list(last.langs),
        "f_places": list(last.places),
        "f_entities": list(last.entities),
        "f_watchlist": last.watchlist or "",
    }
    values |= {f"f_{name}": getattr(last, name) or full for name, full in SCORE_SLIDERS.items()}
    for key, value in values.items():
        if key not in ss:
            ss[key] = value


def _entity_picker(opts: Any) -> list[str]:
    """Entities known to the index plus any already selected (a link may name a new one)."""
    return st.multiselect(
        "Entities",
        sorted(set(getattr(opts, "entities", ())) | set(st.session_state.get("f_entities") or [])),
        key="f_entities",
        accept_new_options=True,
        placeholder="person:Obama, org:Red Cross ...",
        help="People (person:), organisations (org:), places (place:) and products (product:) "
        "named in posts; type one as type:name. Any of them matches.",
    )


def _watchlist_picker(opts: Any) -> str:
    ss = st.session_state
    watch_ids = [""] + [w for w, _ in opts.watchlists]
    names = dict(opts.watchlists)
    if ss.get("f_watchlist") and ss["f_watchlist"] not in watch_ids:
        # A link may name a watchlist the (5-minute cached) options do not list yet:
        # keep it; an unknown id simply matches no post, which the count shows.
        watch_ids.append(ss["f_watchlist"])
    elif not ss.get("f_watchlist"):
        ss["f_watchlist"] = ""
    return st.selectbox(
        "Watchlist",
        watch_ids,
        key="f_watchlist",
        format_func=lambda w: names.get(w, w) if w else "(any)",
        disabled=len(watch_ids) == 1,
    )


def _score_ranges() -> dict[str, tuple[float, float]]:
    """The score ranges: sliders in an expander that are drawn only while it is open.

    Why lazy: closed sliders are still sent and laid out by the browser on every run of
    every page with the sidebar (the Slider's forced layouts were the largest of Explore's:
    ``docs/search.md``, "The browser's share of a warm load"). Closed, the ranges are read
    from the widget keys, which :func:`keep` holds across runs, so a narrowed range still
    filters (and every page names it in :func:`render_active`'s line); a link that narrows
    one opens the expander (:func:`_apply`), and the user may close it again.
    """
    ss = st.session_state
    ranges: dict[str, tuple[float, float]] = {}
    for name, full in SCORE_SLIDERS.items():
        value = ss.setdefault(f"f_{name}", full)
        ranges[name] = (float(value[0]), float(value[1]))
    box = st.expander("Scores", key=SCORES_OPEN, on_change="rerun")
    if box.open:
        with box:
            for name, full in SCORE_SLIDERS.items():
                ranges[name] = st.slider(name, full[0], full[1], key=f"f_{name}", step=0.05)
            st.caption("A range narrower than the full scale keeps only scored posts.")
    return ranges


def _area_box() -> GeoArea | None:
    """The area drawn on the map, if any, with the button that removes it."""
    ss = st.session_state
    area = ss.get(AREA_KEY)
    if not isinstance(area, GeoArea):
        area = ss[AREA_KEY] = None
    if area is not None:
        st.markdown(f"**Area:** {markdown_text(area.describe())}")
        st.caption(
            "Posts whose own coordinates, or else first named place, lie in the area drawn on the map."
        )
        st.button(
            "Remove the area filter",
            key="f_clear_area",
            icon=":material/close:",
            on_click=set_area,
            args=(None,),
        )
    return area


def render_active(filters: Filters) -> None:
    """One caption line naming the active filters (what every page shows is this selection)."""
    # Values come from users and from shareable URLs: escaped, so Markdown in them stays text.
    parts = [f"{k}: {markdown_text(v)}" for k, v in filters.describe()]
    st.caption("Filters: " + ("; ".join(parts) if parts else "none (all posts)"))
