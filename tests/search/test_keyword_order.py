"""Keyword values reach Tantivy distinct and in term-dictionary (UTF-8 byte) order, so a
``terms`` aggregation's per-post sort is one pass; the values still mean what they did."""

from __future__ import annotations

import tantivy

from pipelines.search import aggregate
from pipelines.search.schema import SCHEMA, to_dict, to_document

POST = {
    "_id": "p1",
    "source": "twitter",
    "terms": ["zebra", "Éclair", "apple", "#flood", "flood", "apple", "", "Zoo", "éa", 7],
    "scores": {"topics": ["b", "a", "b"], "places": [{"name": "Calgary"}, {"name": "Banff"}]},
}


def test_keyword_values_are_distinct_and_in_byte_order() -> None:
    d = to_dict(POST)
    for field in ("terms", "topics", "places"):
        assert d[field] == sorted(set(d[field]), key=lambda v: v.encode())
    assert set(d["terms"]) == {"zebra", "Éclair", "apple", "#flood", "flood", "Zoo", "éa"}


def test_every_value_still_counts_once_per_post() -> None:
    index = tantivy.Index(SCHEMA)
    writer = index.writer(15_000_000, 1)
    writer.add_document(to_document(POST))
    writer.add_document(to_document({"_id": "p2", "terms": ["apple", "zebra"]}))
    writer.commit()
    index.reload()
    got = dict(aggregate.top_values(index.searcher(), tantivy.Query.all_query(), "terms", 20))
    assert got == {"apple": 2, "zebra": 2, "Éclair": 1, "#flood": 1, "flood": 1, "Zoo": 1, "éa": 1}
