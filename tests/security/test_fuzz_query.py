"""Property-based fuzzing (hypothesis) of the query parser and the filter validation
with adversarial alphabets: operator-looking text, quotes, brackets, regex syntax,
invisible and bidi characters, NUL, and JSON-shaped values instead of text.

Properties: the parser either refuses with one clear line (:class:`QuerySyntaxError`) or
returns a filter made only of Vigil's keys whose regexes are escaped literals; such a
filter runs on the real database and selects exactly what the Python evaluator says.
``Filters.make`` refuses every non-scalar shape with :class:`FilterError`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.text import extract_terms
from pipelines.search import QuerySyntaxError, compile_query, matches, parse
from pipelines.search.filters import FilterError, Filters
from pipelines.store import Store
from tests.security.test_hostile_inputs import assert_safe_filter, keys_of

HOSTILE_BITS = [
    "$where",
    "$function",
    "$expr",
    "$regex",
    "$ne",
    "{",
    "}",
    "[",
    "]",
    ":",
    '"',
    "'",
    "(",
    ")",
    "*",
    "-",
    "+",
    "?",
    "|",
    "\\",
    ".*",
    "(a+)+",
    "^",
    "$",
    "AND",
    "OR",
    "NOT",
    "<script>",
    "</script>",
    "\x00",
    "\u200b",
    "\u202e",
    "\ufeff",
    "ＡＮＤ",
    "＄",
    "İ",
    "ß",
    "flood",
    "fire",
    "calgary",
    " ",
    " ",
    "\t",
    "\n",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=6)), max_size=40).map(
    "".join
)


def _one_line_error(exc: Exception) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg and len(msg) < 300, msg


@settings(max_examples=400, deadline=None)
@given(hostile_text)
def test_parser_refuses_or_compiles_safely(q: str):
    try:
        flt = compile_query(q)
    except QuerySyntaxError as exc:
        _one_line_error(exc)
        return
    assert_safe_filter(flt)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["$where", "$ne", "$gt", "a.b", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_values.filter(lambda v: not isinstance(v, str)))
def test_non_text_queries_are_refused(value: Any):
    try:
        parse(value)
    except QuerySyntaxError as exc:
        assert "query must be text" in str(exc)
    else:
        raise AssertionError(f"accepted {value!r}")


FIELDS = ["sources", "langs", "places", "query", "since", "until", "threat", "sentiment", "watchlist"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4))
def test_filters_refuse_or_stay_ours(values: dict[str, Any]):
    try:
        flt = Filters.make(**values).to_mongo()
    except (FilterError, QuerySyntaxError) as exc:
        _one_line_error(exc)
        return
    assert_safe_filter(flt)
    # No key of the user's values became a key of the filter.
    user_keys = keys_of(values)
    assert not (user_keys & keys_of(flt)) - {"$ne", "$gt", "$where", "x", "a.b"} - user_keys
    assert not {"$where", "$ne", "$gt", "a.b", "x"} & keys_of(flt)


POST_WORDS = [
    "flood",
    "fire",
    "calgary",
    "Flood!",
    "(a+)+",
    "$where",
    "<script>",
    "İstanbul",
    "fi\u200bre",
    "ß",
]
POST_TEXT = st.lists(st.sampled_from(POST_WORDS), min_size=1, max_size=6).map(" ".join)
JUNK = [
    "",
    "",
    "$",
    "\x00",
    "\u200b",
    "\u202e",
    "<",
    ">",
    "'",
    ".*",
    "+",
    "?",
    "|",
    "\\",
    "^",
    "{",
    "}",
    ":",
    "＄",
]
WORDS = ["flood", "fire", "calgary", "istanbul", "script", "where", "strasse", "straße"]


@st.composite
def decorated_queries(draw: st.DrawFn, depth: int = 0) -> str:
    """Grammatical queries whose words carry hostile characters around and inside them."""
    kind = draw(st.sampled_from(["word", "phrase", "prefix", "not", "and", "or"] if depth < 3 else ["word"]))
    if kind == "word":
        return draw(st.sampled_from(JUNK)) + draw(st.sampled_from(WORDS)) + draw(st.sampled_from(JUNK))
    if kind == "prefix":
        return draw(st.sampled_from(JUNK)) + draw(st.sampled_from(WORDS))[:4] + "*"
    if kind == "phrase":
        words = draw(st.lists(st.sampled_from(WORDS), min_size=2, max_size=3))
        return '"' + draw(st.sampled_from(JUNK)).join(words) + '"'
    if kind == "not":
        return draw(st.sampled_from(["NOT ", "-"])) + draw(decorated_queries(depth + 1))
    parts = draw(st.lists(decorated_queries(depth + 1), min_size=2, max_size=3))
    return "(" + f" {kind.upper()} ".join(parts) + ")"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(POST_TEXT, min_size=1, max_size=6), q=decorated_queries())
def test_database_selects_what_the_evaluator_matches(store: Store, texts: list[str], q: str):
    try:
        flt = compile_query(q)
    except QuerySyntaxError as exc:
        _one_line_error(exc)
        return
    assert_safe_filter(flt)
    store.db.posts.delete_many({})
    docs = [{"_id": str(i), "text": t, "terms": extract_terms(t)} for i, t in enumerate(texts)]
    store.db.posts.insert_many(docs)
    node = parse(q)
    want = {d["_id"] for d in docs if matches(node, d["terms"], d["text"])}
    got = {d["_id"] for d in store.posts.find(flt, limit=100)}
    assert got == want, (q, texts)
