"""Keyword syntax trees and :class:`~pipelines.search.filters.Filters` compiled to Tantivy queries.

Every query is built from constructors (term, term-set, phrase, regex on an escaped
stem, range, exists, boolean): **no user string ever reaches Tantivy's query parser**,
and the keyword parser's limits (:data:`~pipelines.search.query.MAX_TERMS`,
``MAX_DEPTH``, ``MAX_QUERY_CHARS``, ``MIN_PREFIX_CHARS``) bound every query's size.
Meaning matches :func:`pipelines.search.matches`: ``Term``/``Prefix`` test the post's
``terms`` array, a ``Phrase`` needs its indexable words in ``terms`` and the words
consecutive in the text (as split by :func:`pipelines.core.text.tokenize`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import tantivy
from tantivy import FieldType, Occur, Query

from pipelines.core.text import STOP_WORDS
from pipelines.search.filters import SCORE_FIELDS, Filters
from pipelines.search.query import And, Node, Not, Or, Phrase, Prefix, Term, parse


class SearchCompileError(ValueError):
    """A selection the index cannot answer exactly (the message names the field)."""


def _must(queries: list[Query]) -> Query:
    if not queries:
        return Query.all_query()
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Must, q) for q in queries])


def node_query(schema: tantivy.Schema, node: Node | None) -> Query:
    """One syntax tree as a Tantivy query (``all_query`` for an empty query)."""
    if node is None:
        return Query.all_query()
    match node:
        case Term(word):
            return Query.term_query(schema, "terms", word)
        case Prefix(stem):
            return Query.regex_query(schema, "terms", re.escape(stem) + ".*")
        case Phrase(words):
            indexed = [w for w in words if len(w.lstrip("#@")) >= 2 and w not in STOP_WORDS]
            parts = [Query.term_query(schema, "terms", w) for w in indexed]
            parts.append(Query.phrase_query(schema, "words", list(words)))
            return _must(parts)
        case Not(inner):
            return Query.boolean_query(
                [(Occur.Must, Query.all_query()), (Occur.MustNot, node_query(schema, inner))]
            )
        case And(nodes):
            return _must([node_query(schema, n) for n in nodes])
        case Or(nodes):
            return Query.boolean_query([(Occur.Should, node_query(schema, n)) for n in nodes])
    raise TypeError(f"not a query node: {node!r}")


def keyword_query(schema: tantivy.Schema, query: str) -> Query:
    """Parse (raises :class:`~pipelines.search.QuerySyntaxError`) and compile a keyword query."""
    return node_query(schema, parse(query))


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def filters_query(schema: tantivy.Schema, filters: Filters) -> Query:
    """The whole selection of a :class:`Filters` as one Tantivy query.

    Raises :class:`SearchCompileError` for a map area (not compiled yet: a circle or
    polygon test needs a geo step the index does not have; bounding boxes would not be
    exact) and for ``extra`` clauses.
    """
    parts: list[Query] = []
    if filters.since or filters.until:
        parts.append(
            Query.range_query(
                schema,
                "ts",
                FieldType.Date,
                _utc(filters.since) if filters.since else tantivy.MIN_DATETIME,
                _utc(filters.until) if filters.until else tantivy.MAX_DATETIME,
                include_lower=True,
                include_upper=filters.until is None,
            )
        )
    for field, values in (
        ("source", filters.sources),
        ("lang", filters.langs),
        ("places", filters.places),
        ("entities", filters.entities),  # stored as "type:name", as Filters holds them
    ):
        if values:
            parts.append(Query.term_set_query(schema, field, list(values)))
    for name in SCORE_FIELDS:
        rng = getattr(filters, name)
        if rng is not None:
            parts.append(
                Query.range_query(schema, name, FieldType.Float, float(rng[0]) + 0.0, float(rng[1]) + 0.0)
            )
    if filters.watchlist:
        parts.append(Query.term_query(schema, "watchlists", filters.watchlist))
    if filters.area is not None:
        raise SearchCompileError("area: map areas are not compiled to the search index yet")
    if filters.geo_only:
        parts.append(Query.exists_query("geo_lat"))
    if filters.extra:
        raise SearchCompileError(f"extra: clauses {[k for k, _ in filters.extra]} have no index equivalent")
    if filters.query:
        parts.append(keyword_query(schema, filters.query))
    return _must(parts)
