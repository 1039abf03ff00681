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
    "positive_words",
    "to_mongo",
]
