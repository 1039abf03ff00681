"""The sidebar's choices: sources, languages, places, watchlists and entities.

Why a module of its own: the options are read once per five minutes per dashboard
process (``components/data.py``), but that read was the slowest of a page's cold load
(about 0.6 s at 1M posts: 0.5 s of it the last day's place rollups, one document per hour
and place, and 0.16 s the distinct languages of every score rollup). With the search index
open and current, both come from it instead (an exact ``terms`` aggregation each, ~15 ms);
without it, or while it is rebuilt, makes its first pass or catches up with a large import,
the rollups answer (complete whatever the index holds), so the sidebar always works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tantivy import Query

from pipelines.read.queries import Reader
from pipelines.search import aggregate
from pipelines.search.filters import Filters
from pipelines.store import Store


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
ENTITY_OPTIONS = 200
"""The Entities filter offers the entities most named in the index (any other can be typed in)."""
LANG_OPTIONS = 200
"""The Languages filter offers at most this many languages (the most used)."""
CURRENT_LAG = 500
"""Changes behind the store up to which the index answers the options (the Explore page's
"still catching up" notice starts there too). A rebuild removes the indexer's position
first, so its lag is unknown until it ends and the rollups answer meanwhile."""


def filter_options(store: Store, reader: Reader | None = None) -> FilterOptions:
    """Sources from the per-source totals; languages, places and entities from the index
    when it is open, else languages and places from the rollups (no entities).

    The index answers only when it is current (:data:`CURRENT_LAG`): a partial index would
    leave languages and places out of the sidebar for the five minutes it is cached.

    Places: the :data:`PLACE_OPTIONS` most mentioned in the newest day of data. Why a
    day: listing every place ever mentioned grows with the store's age; a place chosen
    earlier stays offered (``components/filters.py`` adds the selected ones), and links
    may name any place. A language or place of posts scored but not yet indexed appears
    once the indexer has caught up (seconds behind the scorer).
    """
    newest = store.rollups.newest_ingest_hour()
    until = newest + timedelta(hours=1) if newest is not None else None
    entities: tuple[str, ...] = ()
    places: list[str] = []
    if reader is not None and (lag := reader.lag()) is not None and lag < CURRENT_LAG:
        day = Filters(since=until - PLACE_OPTIONS_SPAN, until=until) if until is not None else None
        searcher, query = reader.select(day) if day is not None else (reader.index.searcher(), None)
        langs = {v for v, _ in aggregate.top_values(searcher, Query.all_query(), "lang", LANG_OPTIONS)}
        named = aggregate.top_values(searcher, Query.all_query(), "entities", ENTITY_OPTIONS)
        entities = tuple(sorted(v for v, _ in named))
        if query is not None:
            places = [v for v, _ in aggregate.top_values(searcher, query, "places", PLACE_OPTIONS) if v]
    else:
        langs = set(store.rollups.values("score", "lang"))
        if until is not None:
            rows = store.rollups.sums("place", ["place"], until - PLACE_OPTIONS_SPAN, until)
            top = sorted((r for r in rows if r.get("place")), key=lambda r: (-int(r["n"]), r["place"]))
            places = [r["place"] for r in top[:PLACE_OPTIONS]]
    return FilterOptions(
        sources=tuple(store.rollups.sources()),
        langs=tuple(sorted(langs)),
        places=tuple(sorted(places)),
        watchlists=tuple(
            (str(w["_id"]), str(w.get("name") or w["_id"])) for w in store.alerts.watchlist_names()
        ),
        entities=entities,
    )
