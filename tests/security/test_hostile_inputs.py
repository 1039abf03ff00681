"""The hostile-input table: each row feeds one hostile value to the place it would arrive
(a query box, a filter from a URL or a form, a login form, a crawled post, the audit
log, an export, a notification) and states the outcome: a clear error naming the
problem, or a safe result. Queries that compile are also run on the real database
with a post that would match if any operator or pattern leaked through.

Rendering in a real browser (a ``<script>`` post shown as text, nothing executed) is
``tests/browser/test_security.py``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from pipelines.auth import InvalidUsername, audit, check_username
from pipelines.auth.passwords import Passwords
from pipelines.core.escape import html_text, markdown_text, plain_line, slack_text, spreadsheet_cell
from pipelines.core.post import InvalidPost, build_post
from pipelines.search import MAX_QUERY_CHARS, QuerySyntaxError, compile_query
from pipelines.search.filters import FilterError, Filters, GeoArea
from pipelines.store import Store

OUR_KEYS = {
    "$and",
    "$or",
    "$nor",
    "$in",
    "$gte",
    "$lt",
    "$lte",
    "$regex",
    "$options",
    "$exists",
    "$geoWithin",
}
OUR_KEYS |= {"$geometry", "$centerSphere", "terms", "text", "ts", "source", "lang", "geo", "watchlists"}
OUR_KEYS |= {"type", "coordinates"} | {f"scores.{n}" for n in ("threat", "hate", "toxicity", "sentiment")}
OUR_KEYS |= {"scores.places.name"}
_OUR_REGEX_PARTS = re.compile(r"^\^|\(\?<!\\w\)|\(\?!\\w\)|\\W\+")
_META = set(".*+?()[]{}|^$")


def keys_of(x: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(x, dict):
        out |= set(x)
        for v in x.values():
            out |= keys_of(v)
    elif isinstance(x, list):
        for v in x:
            out |= keys_of(v)
    return out


def regexes_of(x: Any) -> list[str]:
    if isinstance(x, dict):
        found = [x["$regex"]] if "$regex" in x else []
        return found + [r for v in x.values() for r in regexes_of(v)]
    if isinstance(x, list):
        return [r for v in x for r in regexes_of(v)]
    return []


def assert_safe_filter(flt: dict[str, Any]) -> None:
    """Only Vigil's keys, and every regex a literal between Vigil's fixed fragments."""
    assert keys_of(flt) <= OUR_KEYS, keys_of(flt) - OUR_KEYS
    for pattern in regexes_of(flt):
        rest = _OUR_REGEX_PARTS.sub("", pattern)
        unescaped = re.sub(r"\\.", "", rest)
        assert not set(unescaped) & _META, f"unescaped metacharacter in {pattern!r}"
        re.compile(pattern)


@dataclass(frozen=True)
class Row:
    """One hostile input: ``run`` feeds it; ``error``/``match`` or ``check`` say what must happen."""

    name: str
    run: Callable[[Store], Any]
    error: type[BaseException] | None = None
    match: str | None = None
    check: Callable[[Any, Store], None] | None = None


def _query_runs(q: str) -> Callable[[Store], Any]:
    def run(store: Store) -> Any:
        flt = compile_query(q)
        assert_safe_filter(flt)
        # The filter runs on MongoDB without error against the bait post.
        return flt, [d["_id"] for d in store.posts.find(flt, limit=10)]

    return run


def _filters(**values: Any) -> Callable[[Store], Any]:
    return lambda store: Filters.make(**values).to_mongo()


def _post(**fields: Any) -> Callable[[Store], Any]:
    def run(store: Store) -> Any:
        post = build_post(source="hostile", native_id="1", ts="2013-06-20T00:00:00Z", **fields)
        store.posts.upsert([post.to_doc()])
        return store.posts.get(post.id)

    return run


_EVAC = {"terms": {"$regex": "^evac"}}
SCRIPT = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
NOW = datetime(2013, 6, 20, tzinfo=UTC)


def _no_match(result: Any, store: Store) -> None:
    _, ids = result
    assert ids == [], f"a hostile query matched {ids}"


TABLE: list[Row] = [
    # ---- operator injection through the keyword query (text in, our syntax tree out)
    Row("query: JSON $where", _query_runs('{"$where": "sleep(1000) || true"}'), QuerySyntaxError, "'{' at"),
    Row("query: quoted $where", _query_runs('"$where: sleep(1000) || true"'), check=_no_match),
    Row(
        "query: $function", _query_runs('{"$function": {"body": "return true"}}'), QuerySyntaxError, "'{' at"
    ),
    Row("query: $expr", _query_runs("{'$expr': {'$eq': [1, 1]}}"), QuerySyntaxError, "too common"),
    Row(
        "query: mongo shell regex",
        _query_runs("text: {$regex: '.*'}"),
        QuerySyntaxError,
        "no searchable word",
    ),
    # ---- dict-shaped parameters (a URL or form giving an object instead of a value)
    Row(
        "filter: query as dict", _filters(query={"$where": "1"}), FilterError, "query must be text, not dict"
    ),
    Row("filter: sources as $ne", _filters(sources={"$ne": None}), FilterError, "sources must be a list"),
    Row(
        "filter: $function in list", _filters(sources=[{"$function": {}}]), FilterError, "items must be text"
    ),
    Row(
        "filter: since as $expr",
        _filters(since={"$expr": {"$gt": 0}}),
        FilterError,
        "since must be a datetime",
    ),
    Row(
        "filter: $where as field", _filters(**{"$where": "1"}), FilterError, r"unknown filter fields: \$where"
    ),
    Row("filter: $-name item", _filters(langs=["$where"]), FilterError, r"invalid langs item '\$where'"),
    Row("filter: watchlist $ne", _filters(watchlist={"$ne": None}), FilterError, "watchlist must be"),
    Row(
        "filter: geo_only dict",
        _filters(geo_only={"$where": "1"}),
        FilterError,
        "geo_only must be true or false",
    ),
    Row("filter: NaN range", _filters(threat=[float("nan"), 1]), FilterError, "outside 0.0..1.0"),
    Row(
        "area: operator in point",
        lambda s: GeoArea(center=({"$near": 1}, 2), radius_km=3),
        FilterError,
        "coordinates must be numbers",
    ),
    Row(
        "area: dict radius", lambda s: GeoArea(center=(0, 0), radius_km={"$gt": 0}), FilterError, "radius_km"
    ),
    Row(
        "area: 3-tuple point",
        lambda s: GeoArea(ring=((0, 0), (1, 0, 9), (1, 1), (0, 0))),
        FilterError,
        r"a point must be a \(lon, lat\) pair",
    ),
    # ---- ReDoS patterns: escaped to literals, linear to match
    Row("query: (a+)+$ ReDoS", _query_runs('"(aaaa+)+$ bbbb" OR (xxxx+xxxx+)+yyyy'), check=_no_match),
    Row("query: .*.*.* ReDoS", _query_runs('".*.*.*.*.*.*.*.* zzzz"'), check=_no_match),
    Row("query: regex after prefix", _query_runs("evac*.*"), check=lambda r, s: _equals(r[0], _EVAC)),
    Row("query: regex in prefix", _query_runs("evac.*(x|y)*"), QuerySyntaxError, "prefix needs at least 3"),
    # ---- huge inputs: refused on size, before any work
    Row("query: 10 MB", lambda s: compile_query("flood " * 2_000_000), QuerySyntaxError, "longer than 500"),
    Row("query: 10k parens", lambda s: compile_query("(" * 400 + "x"), QuerySyntaxError, "nested deeper"),
    Row(
        "filter: 10k sources",
        _filters(sources=[f"s{i}" for i in range(10_000)]),
        FilterError,
        "more than 200",
    ),
    Row(
        "area: 1M points", lambda s: GeoArea(ring=((0.0, 0.0),) * 1_000_000), FilterError, "4 to 1000 points"
    ),
    Row(
        "login: 10 MB password",
        lambda s: Passwords().verify(None, "x" * 10_000_000).ok,
        check=lambda ok, s: (ok is False) or pytest.fail("accepted"),
    ),
    Row("post: 5 MB text", _post(text="flood " * 900_000), check=lambda d, s: _truncated(d)),
    # ---- HTML / JS payloads in posts and in queries
    Row("query: <script>", _query_runs("<script>alert('xss')</script>"), check=lambda r, s: _script_query(r)),
    Row("query: <img onerror>", _query_runs('"<img src=x onerror=alert(document.cookie)>"'), check=_no_match),
    Row(
        "post: <script> stored as text",
        _post(text=SCRIPT, author="<b>x</b>"),
        check=lambda d, s: _verbatim(d),
    ),
    Row("post: javascript: url", _post(text="hi there", url="javascript:alert(1)"), InvalidPost, "http"),
    Row("post: data: url", _post(text="hi there", url="data:text/html,<script>"), InvalidPost, "http"),
    # ---- unicode tricks and NUL bytes
    Row("query: NUL + $where", _query_runs("flood\x00$where"), check=lambda r, s: None),
    Row("query: fullwidth ＄where", lambda s: compile_query("＄where"), QuerySyntaxError, "too common"),
    Row(
        "query: bidi override",
        _query_runs("\u202eflood"),
        check=lambda r, s: _equals(r[0], {"terms": "flood"}),
    ),
    Row("filter: NUL in source", _filters(sources=["alpha\x00"]), FilterError, "invalid sources item"),
    Row("user: Cyrillic homoglyph", lambda s: check_username("аdmin"), InvalidUsername, "invalid username"),
    Row("user: NUL byte", lambda s: check_username("admin\x00"), InvalidUsername, "invalid username"),
    Row("user: $ne dict", lambda s: check_username({"$ne": ""}), InvalidUsername, "must be text"),
    Row(
        "user: fullwidth ＡＤＭＩＮ",
        lambda s: check_username("ＡＤＭＩＮ"),
        check=lambda name, s: _equals(name, "admin"),
    ),
    # ---- hostile keys in the audit log's details
    Row(
        "audit: $where / dotted keys",
        lambda s: (audit(s, "x", "export", "csv", {"$where": "1", "a.b": {"$gt": ""}}), s.audit.events(1)[0]),
        check=lambda r, s: _equals(r[1]["details"], {"＄where": "1", "a·b": {"＄gt": ""}}),
    ),
]


def _equals(got: Any, want: Any) -> None:
    assert got == want


def _truncated(doc: dict[str, Any]) -> None:
    assert doc["truncated"] is True and len(doc["text"]) == 40_000


def _verbatim(doc: dict[str, Any]) -> None:
    # Stored exactly as received (escaping happens where it is shown, per destination).
    assert doc["text"] == SCRIPT and doc["author"] == "<b>x</b>"


def _script_query(result: Any) -> None:
    flt, ids = result
    assert ids == []
    # Only the words remain: no tag, no bracket reaches the filter.
    assert set(re.findall(r'"terms": "([^"]*)"', json.dumps(flt))) == {"script", "alert", "xss"}


@pytest.fixture()
def bait(store: Store) -> Store:
    """Posts a leaked operator or pattern would match (``$where: true`` matches all)."""
    docs = [
        build_post(source="bait", native_id=str(i), ts=NOW, text=t).to_doc()
        for i, t in enumerate(
            ["nothing to see", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "xxxxxxxxxxxxxxxxxxxxy"]
        )
    ]
    store.posts.upsert(docs)
    return store


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_hostile_input(row: Row, bait: Store):
    start = time.perf_counter()
    if row.error is not None:
        with pytest.raises(row.error, match=row.match) as exc:
            row.run(bait)
        message = str(exc.value)
        assert message and "\n" not in message and len(message) < 300  # one clear line
    else:
        result = row.run(bait)
        assert row.check is not None
        row.check(result, bait)
    # Generous bound: a catastrophic regex or an unbounded loop takes minutes, not seconds.
    assert time.perf_counter() - start < 10


def test_table_has_at_least_twenty_rows():
    assert len(TABLE) >= 20 and len({r.name for r in TABLE}) == len(TABLE)


# ---------------------------------------------------------------- escaping per destination

PAYLOADS = [
    SCRIPT,
    "![pixel](https://tracker.example/p.png?u=1) [click](javascript:alert(1))",
    "$\\frac{1}{0}$ :red[alarm] :material/warning: **bold** <b>x</b>",
    '"><svg onload=alert(1)>',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_escaping_leaves_no_tag(payload: str):
    out = html_text(payload)
    assert "<" not in out and ">" not in out and '"' not in out
    assert (
        html_text(payload)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        == payload
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_escaping_leaves_no_syntax(payload: str):
    out = markdown_text(payload)
    # Every Markdown / Streamlit metacharacter is backslash-escaped; unescaping gives the input.
    assert re.sub(r"\\(.)", r"\1", out) == payload
    for ch in "[]()<>!$:*`":
        assert re.search(r"(?<!\\)" + re.escape(ch), out) is None, ch


def test_slack_escaping():
    out = slack_text("<!channel> <https://evil.example|your bank> & co")
    assert out == "&lt;!channel&gt; &lt;https://evil.example|your bank&gt; &amp; co"


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("https://evil.example","invoice")', '\'=HYPERLINK("https://evil.example","invoice")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("flood in calgary", "flood in calgary"),
        (42, 42),
    ],
)
def test_spreadsheet_cells_never_formulas(cell, safe):
    assert spreadsheet_cell(cell) == safe


def test_plain_line_strips_controls_and_bidi():
    assert plain_line("evil\u202etxt.exe\r\nSubject: injected\x00") == "eviltxt.exe Subject: injected"
    assert len(plain_line("x" * 1000, 50)) == 50


def test_queries_longer_than_the_limit_fail_fast():
    # The length check comes before any tokenising: 100 MB is refused at once.
    start = time.perf_counter()
    with pytest.raises(QuerySyntaxError, match=f"longer than {MAX_QUERY_CHARS}"):
        compile_query("a" * 100_000_000)
    assert time.perf_counter() - start < 5
