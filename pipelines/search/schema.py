"""The index schema and how a stored post becomes one index document.

Why these fields: every read a page needs (counts, timelines, breakdowns, score ranges,
map points, newest pages) is answered from the index alone, so each filterable or
aggregated value is indexed *and* a fast field. Text-like keys (``id``, ``source``,
``lang``, ``terms``, ``places``, ``topics``, ``entities``, ``watchlists``) use the
``raw`` tokenizer: one value, one token, exactly as MongoDB stores it. ``terms`` is the
post's own ``terms`` array, so a keyword ``Term``/``Prefix`` means exactly what
:func:`pipelines.search.matches` means. ``words`` is the post's text split by
:func:`pipelines.core.text.tokenize` (already lowercased and normalised), joined by single
spaces and indexed with Tantivy's ``whitespace`` tokenizer with positions: the tokens and
their positions are exactly ``tokenize``'s (its tokens never contain whitespace), and
phrase queries run on it. MongoDB stays the record: only ``id`` is stored, everything
else is read back from MongoDB by id.

``tid`` (schema version 3) holds the same terms as ids of one append-only vocabulary kept
beside the index (:mod:`pipelines.search.termids`), ascending: top terms aggregate it uncut,
exact in one request with no string dictionary read, and turn only the top ids into terms.
Documents built without a vocabulary (:func:`to_dict` with no ids) have no ``tid``.

Speed (schema version 2): documents are built with one ``Document.from_dict`` call
instead of one ``add_*`` call per value, and ``words`` is one string instead of a
Python ``Token`` object per word; this doubled ``to_document``'s rate (37,000 -> 63,000
posts/s on the development machine), which bounds the indexer's rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import tantivy

from pipelines.core.text import tokenize
from pipelines.search import cellindex

SCHEMA_VERSION = 5
"""Bumped when fields or their tokenizers change; an index of another version is rebuilt
(:meth:`pipelines.search.index.SearchIndex.open_or_create` recreates it, the indexer refills it).

Version 2: ``words`` is whitespace-tokenized text instead of pre-tokenized tokens.
Version 3: ``tid``, the post's terms as ids of :mod:`pipelines.search.termids`.
Version 4: ``map_cell``/``geo_cell``, the grid cells of each point as indexed integers
(:mod:`pipelines.search.cellindex`: drawn areas read from the inverted index).
Version 5: those cells at a fourth level, 0.001 degree (``geocells.INDEX_LEVELS``)."""

SCORE_FIELDS = ("threat", "hate", "toxicity", "sentiment")
KEYWORD_FIELDS = ("source", "lang", "author", "terms", "places", "topics", "entities", "watchlists")
"""Raw, multi-valued text fields usable in term filters and ``terms`` breakdowns."""
ENTITY_TYPES = ("person", "org", "place", "product")


def build_schema() -> tantivy.Schema:
    """The one schema of Vigil's index (see the module docstring for why each field)."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, fast=True, tokenizer_name="raw")
    for name in KEYWORD_FIELDS:
        b.add_text_field(name, fast=True, tokenizer_name="raw")
    b.add_text_field("words", tokenizer_name="whitespace", index_option="position")
    b.add_integer_field("tid", fast=True)  # fast only: aggregated, never searched nor stored
    b.add_date_field("ts", indexed=True, fast=True)
    b.add_integer_field("seq", indexed=True, fast=True)
    for name in SCORE_FIELDS:
        b.add_float_field(name, indexed=True, fast=True)
    for name in ("geo_lon", "geo_lat", "map_lon", "map_lat"):
        b.add_float_field(name, indexed=True, fast=True)
    for name in cellindex.FIELDS.values():  # indexed only: read as term sets of the inverted index
        b.add_integer_field(name, indexed=True)
    return b.build()


def _num(v: Any) -> float | None:
    # "+ 0.0" turns -0.0 into 0.0: Tantivy orders -0.0 below 0.0, Python compares them equal.
    return float(v) + 0.0 if isinstance(v, int | float) and not isinstance(v, bool) else None


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _geo(post: dict[str, Any]) -> tuple[float, float] | None:
    coords = (post.get("geo") or {}).get("coordinates") if isinstance(post.get("geo"), dict) else None
    if isinstance(coords, list | tuple) and len(coords) == 2:
        lon, lat = _num(coords[0]), _num(coords[1])
        if lon is not None and lat is not None:
            return lon, lat
    return None


def map_point(post: dict[str, Any]) -> tuple[float, float] | None:
    """Where the Map draws a post (lon, lat): its own coordinates, else its first named place."""
    own = _geo(post)
    if own is not None:
        return own
    places = (post.get("scores") or {}).get("places") or []
    if places and isinstance(places[0], dict):
        lon, lat = _num(places[0].get("lon")), _num(places[0].get("lat"))
        if lon is not None and lat is not None:
            return lon, lat
    return None


SCHEMA = build_schema()
"""The schema, built once (documents are converted against it)."""


def to_dict(post: dict[str, Any], term_ids: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The index fields of one stored post as plain values (values of the wrong type are left out).

    A keyword field's values are handed to Tantivy distinct and in code-point (= UTF-8 byte)
    order, the order of the field's term dictionary. Why: a ``terms`` aggregation sorts each
    post's values to count a value once per post (Tantivy's column block reader,
    ``dedup_docid_val_pairs``), and already-ordered values sort in one pass (issue 13, ``bench/terms_order_ab.py``: 1M bench posts, every post selected, 287 ->
    204 ms CPU p50 for the top 20 terms; ``docs/search.md``). The values mean the same in any
    order.

    With ``term_ids`` (the indexer's vocabulary, holding every term of the post), ``tid`` is
    the post's distinct terms as ids, ascending (see :func:`with_term_ids`).
    """
    scores = post.get("scores") or {}
    d: dict[str, Any] = {"id": str(post["_id"])}
    for name in ("source", "lang", "author"):  # one value each: no set to build
        v = post.get(name)
        if isinstance(v, str) and v:
            d[name] = [v]
    lists = {  # only the lists a post has are built (most posts lack most of them)
        "terms": post.get("terms"),
        "places": scores.get("places") and [p.get("name") for p in scores["places"] if isinstance(p, dict)],
        "topics": scores.get("topics"),
        "entities": scores.get("entities")
        and [
            f"{e.get('type')}:{e.get('name')}"
            for e in scores["entities"]
            if isinstance(e, dict) and e.get("type") in ENTITY_TYPES
        ],
        "watchlists": post.get("watchlists"),
    }
    for name, vals in lists.items():
        if vals and isinstance(vals, list | tuple):
            kept = sorted({v for v in vals if isinstance(v, str) and v})
            if kept:
                d[name] = kept
    words = tokenize(post.get("text") or "")
    if words:
        d["words"] = " ".join(words)
    if isinstance(post.get("ts"), datetime):
        d["ts"] = _utc(post["ts"])
    if isinstance(post.get("seq"), int) and not isinstance(post.get("seq"), bool):
        d["seq"] = post["seq"]
    for name in SCORE_FIELDS:
        v = _num(scores.get(name))
        if v is not None:
            d[name] = v
    own, shown = _geo(post), map_point(post)
    for prefix, point in (("geo", own), ("map", shown)):
        if point is not None:
            d[f"{prefix}_lon"], d[f"{prefix}_lat"] = point
            cells = cellindex.point_values(*point)
            if cells:
                d[cellindex.FIELDS[prefix]] = cells
    return d if term_ids is None else with_term_ids(d, term_ids)


def with_term_ids(d: dict[str, Any], term_ids: Mapping[str, int]) -> dict[str, Any]:
    """``d`` (:func:`to_dict`'s output) with ``tid``: its terms as ids, ascending (sorted
    values sort in one pass when aggregated, as for ``terms``). A term missing from
    ``term_ids`` is a KeyError: ids are assigned before documents are built."""
    if d.get("terms"):
        d["tid"] = sorted(map(term_ids.__getitem__, d["terms"]))
    return d


def to_document(post: dict[str, Any]) -> tantivy.Document:
    """One stored post as an index document (values of the wrong type are left out)."""
    return tantivy.Document.from_dict(to_dict(post), SCHEMA)
