"""Search: Vigil's keyword language and the embedded Tantivy index beside MongoDB.

Modules, one job each:

- :mod:`pipelines.search.query`: the keyword language (parser, syntax tree, the
  :func:`matches` Python evaluator). Its names are re-exported here, so
  ``from pipelines.search import parse, matches`` keeps working.
- :mod:`pipelines.search.schema`: the index schema and post -> document.
- :mod:`pipelines.search.index`: open/create the index in ``VIGIL_DATA_DIR``; clear errors.
- :mod:`pipelines.search.compile`: syntax tree + :class:`~pipelines.search.filters.Filters` ->
  Tantivy ``Query`` objects, built programmatically (no user string reaches Tantivy's parser).
- :mod:`pipelines.search.aggregate`: exact counts, timelines, breakdowns, pages of ids.
- :mod:`pipelines.search.indexer`: the one writer (``python -m pipelines index``).
- :mod:`pipelines.search.termids`: the append-only vocabulary of the ``tid`` term-id field.
- :mod:`pipelines.search.termroll`: top-term counts per hour cell x source x language, beside the index.
- :mod:`pipelines.search.filters`: :class:`Filters`, what a user selected, validated.
- :mod:`pipelines.search.areas`: which points lie in a drawn area (pure geometry).
- :mod:`pipelines.search.watchlists`: saved queries that Vigil watches.
- :mod:`pipelines.search.select`: selections with a map area or a watchlist, answered exactly.
- :mod:`pipelines.search.signals`: watchlist series, first sightings of places, anomaly evidence.

``filters``, ``areas`` and ``watchlists`` live here, not in :mod:`pipelines.read`, because
the index compiles and evaluates them and they use the keyword language of this package.
"""

from pipelines.search.query import (
    MAX_DEPTH,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    MIN_PREFIX_CHARS,
    And,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    QuerySyntaxError,
    Term,
    _phrase_regex,
    compile_query,
    matches,
    parse,
    positive_leaves,
    positive_words,
    to_mongo,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "MIN_PREFIX_CHARS",
    "And",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "QuerySyntaxError",
    "Term",
    "_phrase_regex",
    "compile_query",
    "matches",
    "parse",
    "positive_leaves",
    "positive_words",
    "to_mongo",
]
