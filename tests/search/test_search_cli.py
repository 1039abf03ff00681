"""``python -m pipelines search`` and ``index``: every query form, every bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipelines.search import matches, parse
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, index_path
from pipelines.store import Store
from tests.search.conftest import make_posts

POSTS = make_posts(600)


@pytest.fixture
def cli(store: Store, pipelines_cli, tmp_path: Path):
    store.posts.insert([dict(p) for p in POSTS])
    res = pipelines_cli("index", "--rebuild")
    assert res.exit_code == 0, res.output
    return pipelines_cli


def _expected(query: str, **kw) -> int:
    f = Filters.make(query=query, **kw)
    return sum(
        matches(parse(f.query), p["terms"], p["text"])
        and (not f.sources or p["source"] in f.sources)
        and (not f.langs or p["lang"] in f.langs)
        and (not f.since or p["ts"] >= f.since)
        for p in POSTS
    )


@pytest.mark.parametrize(
    "query",
    ["flood", '"state of emergency"', "evacuat*", "flood -calgary", "flood NOT river", "fire OR flood",
     "(fire OR flood) AND calgary", "#abflood", "@cityofcalgary", ""],
)  # fmt: skip
def test_count_is_exact_for_every_query_form(cli, query: str) -> None:
    res = cli("search", query, "--count", "--limit", "3")
    assert res.exit_code == 0, res.output
    assert int(res.output.strip().splitlines()[-1]) == _expected(query)


def test_filters_and_breakdowns(cli) -> None:
    res = cli(
        "search",
        "flood",
        "--source",
        "rss",
        "--lang",
        "en",
        "--since",
        "2013-06-21",
        "--count",
        "--limit",
        "0",
    )
    assert int(res.output.strip().splitlines()[-1]) == _expected(
        "flood", sources=["rss"], langs=["en"], since=Filters.make(since=None).since or _dt("2013-06-21")
    )
    res = cli("search", "flood", "--by", "source", "--format", "json", "--count")
    lines = res.output.strip().splitlines()
    rows = json.loads(lines[0])
    assert sum(r["posts"] for r in rows) == int(lines[-1]) == _expected("flood")
    res = cli("search", "flood", "--by", "day", "--format", "csv")
    body = res.output.strip().splitlines()
    assert body[0] == "day,posts" and sum(int(line.split(",")[1]) for line in body[1:]) == _expected("flood")


def test_rows_are_newest_first_and_match(cli) -> None:
    res = cli("search", "calgary", "--limit", "5", "--format", "json")
    rows = json.loads(res.output)
    assert len(rows) == 5 and [r["ts"] for r in rows] == sorted((r["ts"] for r in rows), reverse=True)
    by_id = {p["_id"]: p for p in POSTS}
    assert all("calgary" in by_id[r["id"]]["terms"] for r in rows)


def _dt(s: str):
    from datetime import UTC, datetime

    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        (" ".join(["flood"] * 10_000), "longer than"),
        ("(" * 200 + "flood" + ")" * 200, "deeper"),
        ('"', "empty phrase"),
        ("a*", "prefix"),
        ("flood AND (", "position"),
        ("fl\x00ood )", "position"),
        ('flood "', "position 6"),
    ],
)
def test_bad_queries_are_refused_quickly_with_a_reason(cli, query: str, needle: str) -> None:
    start = time.monotonic()
    res = cli("search", query, "--count")
    assert res.exit_code == 2 and "invalid query" in res.output and needle in res.output
    assert time.monotonic() - start < 5


def test_control_characters_and_long_prefixes_are_bounded(cli) -> None:
    res = cli("search", "flood\x01\x02", "--count", "--limit", "0")
    assert res.exit_code == 0 and int(res.output.strip().splitlines()[-1]) == _expected("flood")
    res = cli("search", "eva" + "c" * 400 + "*", "--count", "--limit", "0")
    assert res.exit_code != 0 or int(res.output.strip().splitlines()[-1]) == 0


def test_unknown_field_and_format(cli) -> None:
    res = cli("search", "flood", "--by", "colour")
    assert res.exit_code != 0 and "unknown field 'colour'" in res.output
    res = cli("search", "flood", "--format", "xml")
    assert res.exit_code != 0 and "unknown format" in res.output


def test_missing_index_says_how_to_build_it(store: Store, pipelines_cli) -> None:
    res = pipelines_cli("search", "flood", "--count")
    assert res.exit_code == 1 and "python -m pipelines index --rebuild" in res.output


def test_corrupt_index_is_reported_and_the_store_untouched(cli, store: Store, tmp_path: Path) -> None:
    before = store.posts.all_ids()
    meta = index_path(tmp_path) / "meta.json"
    meta.write_text("{not json")
    res = cli("search", "flood", "--count")
    assert res.exit_code == 1 and "unreadable" in res.output and "index --rebuild" in res.output
    assert store.posts.all_ids() == before
    assert cli("index", "--rebuild").exit_code == 0
    res = cli("search", "flood", "--count")
    assert int(res.output.strip().splitlines()[-1]) == _expected("flood")


def test_locked_index_names_the_other_writer(cli, tmp_path: Path) -> None:
    held = SearchIndex.open(index_path(tmp_path)).writer()
    res = cli("index")
    assert res.exit_code == 1 and "locked by another indexer" in res.output
    del held


ENTITIES = [
    ("org", "Red Cross"),
    ("person", "Naheed Nenshi"),
    ("place", "Calgary"),
    ("org", "City of Calgary"),
]


def _with_entities(seed: int = 11) -> list[dict]:
    """The POSTS with zero to two random named entities each under ``scores.entities``."""
    import random

    rnd = random.Random(seed)
    out = []
    for p in POSTS:
        p = dict(p)
        picked = rnd.sample(ENTITIES, k=rnd.randint(0, 2))
        if picked:
            p["scores"] = {**(p.get("scores") or {}), "entities": [{"type": t, "name": n} for t, n in picked]}
        out.append(p)
    return out


def test_entity_filter_narrows_the_exact_count(store: Store, pipelines_cli) -> None:
    posts = _with_entities()
    store.posts.insert(posts)
    assert pipelines_cli("index", "--rebuild").exit_code == 0

    def expected(query: str, *keys: str) -> int:  # repeated --entity values: any of them
        return sum(
            matches(parse(query), p["terms"], p["text"])
            and (
                not keys
                or any(
                    k in {f"{e['type']}:{e['name']}" for e in p.get("scores", {}).get("entities", [])}
                    for k in keys
                )
            )
            for p in posts
        )

    def counted(*args: str) -> int:
        res = pipelines_cli("search", *args, "--count", "--limit", "0")
        assert res.exit_code == 0, res.output
        return int(res.output.strip().splitlines()[-1])

    one = counted("flood", "--entity", "org:Red Cross")
    assert one == expected("flood", "org:Red Cross") and 0 < one < expected("flood")
    either = counted("flood", "--entity", "org:Red Cross", "--entity", "place:Calgary")
    assert one < either == expected("flood", "org:Red Cross", "place:Calgary") < expected("flood")
    assert counted("flood", "--entity", "product:Nothing") == 0


@pytest.mark.parametrize("value", ["Red Cross", "team:Red Cross", "org:", "org:a|b"])
def test_malformed_entity_is_refused_naming_it(cli, value: str) -> None:
    res = cli("search", "flood", "--entity", value, "--count")
    assert res.exit_code == 2 and "invalid --entity" in res.output and repr(value) in res.output


def test_top_terms_by_id_and_a_lost_vocabulary(cli, store: Store, tmp_path: Path) -> None:
    """``--by terms`` of a keyword selection aggregates ``tid``; without its vocabulary it says
    which file and the rebuild command, and ``index --rebuild`` brings it back."""
    from collections import Counter

    from pipelines.search import termids

    chosen = [p for p in POSTS if matches(parse("flood"), p["terms"], p["text"])]
    want = sorted(Counter(t for p in chosen for t in set(p["terms"])).items(), key=lambda kv: (-kv[1], kv[0]))
    res = cli("search", "flood", "--by", "terms", "--limit", "5", "--format", "json")
    assert res.exit_code == 0, res.output
    assert [(r["terms"], r["posts"]) for r in json.loads(res.output)] == want[:5]
    vocab = termids.vocab_path(index_path(tmp_path))
    vocab.unlink()
    before = store.posts.all_ids()
    res = cli("search", "flood", "--by", "terms", "--limit", "5")
    assert (
        res.exit_code == 1
        and vocab.name in res.output
        and "python -m pipelines index --rebuild" in res.output
    )
    assert store.posts.all_ids() == before
    assert cli("index", "--rebuild").exit_code == 0
    res = cli("search", "flood", "--by", "terms", "--limit", "5", "--format", "json")
    assert [(r["terms"], r["posts"]) for r in json.loads(res.output)] == want[:5]
