"""The query language: table-driven parses, hostile input, and a property test that the
compiled MongoDB filter selects exactly what the Python evaluator matches."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.post import build_post
from pipelines.core.text import extract_terms
from pipelines.search import (
    MAX_QUERY_CHARS,
    And,
    Not,
    Or,
    Phrase,
    Prefix,
    QuerySyntaxError,
    Term,
    compile_query,
    matches,
    parse,
    positive_words,
)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("flood", Term("flood")),
        ("Flood Calgary", And((Term("flood"), Term("calgary")))),
        ("flood AND calgary", And((Term("flood"), Term("calgary")))),
        ("flood OR fire", Or((Term("flood"), Term("fire")))),
        ("flood or fire", Or((Term("flood"), Term("fire")))),
        ("flood -drill", And((Term("flood"), Not(Term("drill"))))),
        ("flood NOT drill", And((Term("flood"), Not(Term("drill"))))),
        ('"state of emergency"', Phrase(("state", "of", "emergency"))),
        ("#abflood", Term("#abflood")),
        ("@CBCAlerts", Term("@cbcalerts")),
        ("evacuat*", Prefix("evacuat")),
        ("(fire OR blaze) AND NOT drill", And((Or((Term("fire"), Term("blaze"))), Not(Term("drill"))))),
        ("a OR b", None),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_table(query, tree):
    if query.strip() and tree is None:
        with pytest.raises(QuerySyntaxError, match="too common"):
            parse(query)
    else:
        assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("(flood", "missing '\\)'"),
        ("flood)", "unexpected"),
        ("flood OR", "ends where a word"),
        ("NOT", "ends where a word"),
        ("ev*", "at least 3 letters"),
        ("x" * (MAX_QUERY_CHARS + 1), "longer than"),
        (" ".join(f"w{i}x" for i in range(40)), "more than 32 words"),
        ("(" * 20 + "flood" + ")" * 20, "nested deeper"),
        ('""', "empty phrase"),
        ("the", "too common"),
    ],
)
def test_parse_errors_name_the_problem(query, reason):
    with pytest.raises(QuerySyntaxError, match=reason):
        parse(query)


@pytest.mark.parametrize(
    "hostile",
    [
        '{"$where": "sleep(1000)"}',
        "$where",
        "$function",
        "{'$expr': {'$eq': [1, 1]}}",
        "text: {$regex: '.*'}",
        "(a+)+$",
        ".*.*.*.*.*.*.*.*!",
        "<script>alert(1)</script>",
    ],
)
def test_hostile_queries_become_plain_words(hostile):
    try:
        flt = compile_query(hostile)
    except QuerySyntaxError:
        return  # refused with a reason is fine too
    dumped = json.dumps(flt)
    # The only operators are ours; no key comes from the user's string.
    keys = set()

    def walk(x):
        if isinstance(x, dict):
            keys.update(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(flt)
    assert keys <= {"$and", "$or", "$nor", "terms", "text", "$regex", "$options"}
    assert "$where" not in keys and "$function" not in keys and "$expr" not in keys
    assert dumped  # serialisable


def test_phrase_regex_is_linear_on_pathological_text():
    flt = compile_query('"aaaa aaaa aaaa aaaa b"')
    pattern = flt["$and"][-1]["text"]["$regex"]
    import re

    start = time.perf_counter()
    re.search(pattern, "aaaa " * 20000, re.IGNORECASE)
    assert time.perf_counter() - start < 1.0


def test_positive_words_skip_negations():
    assert positive_words(parse('flood "state of emergency" -drill NOT (fire)')) == [
        "flood",
        "state of emergency",
    ]


TEXTS = [
    "Flood warning for Calgary, evacuation ordered #abflood",
    "State of emergency declared in High River after the flood",
    "Fire drill at the school today, no flood",
    "@CBCAlerts: evacuating downtown Calgary now",
    "Blaze near Canmore, residents told to evacuate",
    "Sunny day in Toronto",
]


def test_compiled_filter_selects_what_matches_says(store):
    docs = [
        build_post(source="t", native_id=str(i), ts="2013-06-20T00:00:00Z", text=t).to_doc()
        for i, t in enumerate(TEXTS)
    ]
    store.posts.upsert(docs)
    for q in [
        "flood",
        "flood -drill",
        "calgary OR canmore",
        '"state of emergency"',
        "evacuat*",
        "#abflood",
        "@cbcalerts",
        "NOT flood",
    ]:
        node = parse(q)
        want = {d["_id"] for d in docs if matches(node, d["terms"], d["text"])}
        got = {d["_id"] for d in store.posts.find(compile_query(q), limit=100)}
        assert got == want, q
        assert want, f"{q} should match something in the table"


VOCAB = ["flood", "calgary", "fire", "evacuation", "river", "#abflood", "storm"]
words = st.sampled_from(VOCAB)


@st.composite
def queries(draw, depth=0):
    kind = draw(st.sampled_from(["term", "phrase", "not", "and", "or", "prefix"] if depth < 3 else ["term"]))
    if kind == "term":
        return draw(words)
    if kind == "prefix":
        return draw(words).lstrip("#")[:4] + "*"
    if kind == "phrase":
        return '"' + " ".join(draw(st.lists(words, min_size=2, max_size=3))) + '"'
    if kind == "not":
        return "NOT " + draw(queries(depth=depth + 1))
    parts = draw(st.lists(queries(depth=depth + 1), min_size=2, max_size=3))
    return "(" + f" {kind.upper()} ".join(parts) + ")"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.lists(words, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=8),
    q=queries(),
)
def test_property_mongo_filter_equals_python_evaluator(store, texts, q):
    store.db.posts.delete_many({})
    docs = [{"_id": str(i), "text": t, "terms": extract_terms(t)} for i, t in enumerate(texts)]
    store.db.posts.insert_many(docs)
    node = parse(q)
    want = {d["_id"] for d in docs if matches(node, d["terms"], d["text"])}
    got = {d["_id"] for d in store.db.posts.find(compile_query(q), {"_id": 1})}
    assert got == want


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_property_parser_never_crashes_otherwise(q):
    with contextlib.suppress(QuerySyntaxError):
        compile_query(q)
