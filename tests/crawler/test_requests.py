"""What each spider asks for: URLs built from source parameters and saved cursors (pure)."""

from __future__ import annotations

import pytest

from crawler.middlewares import parse_retry_after
from crawler.spiders.bluesky import query_url
from crawler.spiders.mastodon import timeline_url
from crawler.spiders.reddit import listing_url, thing_fields
from crawler.state import SourceRun
from pipelines.ingest.sources import validate_source


def _src(kind: str, **kw: object) -> object:
    return validate_source({"name": "s", "kind": kind, **kw})


@pytest.mark.parametrize(
    ("params", "url"),
    [
        ({"subreddit": "worldnews"}, "https://www.reddit.com/r/worldnews/new.json?limit=100&raw_json=1"),
        (
            {"subreddit": "news", "raw_json": False, "limit": 25},
            "https://www.reddit.com/r/news/new.json?limit=25",
        ),
        (
            {"listing": "search", "q": "flood warning", "subreddit": "uk"},
            "https://www.reddit.com/r/uk/search.json?limit=100&raw_json=1&q=flood+warning&sort=new&restrict_sr=1",
        ),
        (
            {"listing": "search", "q": "flood"},
            "https://www.reddit.com/search.json?limit=100&raw_json=1&q=flood&sort=new",
        ),
        (
            {"listing": "comments", "thread": "ablzuq"},
            "https://www.reddit.com/comments/ablzuq.json?limit=100&raw_json=1&sort=new",
        ),
    ],
)
def test_reddit_urls(params: dict, url: str) -> None:
    assert listing_url(_src("reddit", params=params)) == url  # type: ignore[arg-type]


def test_reddit_escaped_form_is_declared_for_cleaning() -> None:
    thing = {
        "name": "t3_x",
        "title": "Q&amp;A",
        "selftext": "a &lt; b",
        "created_utc": 1.7e9,
        "permalink": "/r/a/x/",
    }
    escaped = thing_fields("t3", thing, escaped=True)
    assert escaped["title_format"] == escaped["text_format"] == "escaped"
    assert thing_fields("t3", thing, escaped=False)["text_format"] == "text"


@pytest.mark.parametrize(
    ("params", "since", "url"),
    [
        ({}, None, "https://mastodon.social/api/v1/timelines/public?limit=40"),
        (
            {"local": True},
            "36034",
            "https://mastodon.social/api/v1/timelines/public?limit=40&since_id=36034&local=true",
        ),
        (
            {"timeline": "tag", "tag": "news"},
            None,
            "https://mastodon.social/api/v1/timelines/tag/news?limit=40",
        ),
        (
            {"timeline": "account", "account_id": "1"},
            "99",
            "https://mastodon.social/api/v1/accounts/1/statuses?limit=40&since_id=99",
        ),
    ],
)
def test_mastodon_urls(params: dict, since: str | None, url: str) -> None:
    assert timeline_url(_src("mastodon", params=params), since) == url  # type: ignore[arg-type]


def test_bluesky_urls() -> None:
    src = _src("bluesky", params={"q": "flood", "lang": "en"})
    assert (
        query_url(src, "2025-05-19T17:10:09.561Z")  # type: ignore[arg-type]
        == "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=flood&limit=100&sort=latest&lang=en"
        "&since=2025-05-19T17%3A10%3A09.561Z"
    )
    feed = _src("bluesky", params={"endpoint": "getAuthorFeed", "actor": "bsky.app"})
    assert (
        query_url(feed)
        == "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?actor=bsky.app&limit=100"
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "now", "seconds"),
    [
        ("1", None, 1.0),
        (b"120", None, 120.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 1445412480.0, 30.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0, 0.0),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_parse_retry_after(header: str | bytes | None, now: float | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now) == seconds


def test_cursor_only_moves_forward_and_numeric_ids_compare_as_numbers() -> None:
    run = SourceRun("s")
    for value in ("99", "100", "98", None):
        run.advance("since_id", value)
    assert run.cursor["since_id"] == "100"  # "99" > "100" as text, not as ids
    run.advance("max_id", 5)
    run.advance("max_id", 3)
    assert run.cursor["max_id"] == 5


def test_run_status_and_error_cap() -> None:
    run = SourceRun("s")
    assert run.status == "ok"
    for i in range(30):
        run.error(f"e{i}")
    run.error("e0")
    assert run.error_count == 31 and len(run.errors) == 20 and run.status == "error"
    run.responses = 1
    assert run.status == "partial" and run.summary()["error"] == "e0"
