"""Source definitions: valid ones pass with defaults, invalid ones are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.sources import (
    KINDS,
    InvalidSource,
    load_sources_file,
    parse_param_pairs,
    validate_source,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("data", "api"),
    [
        ({"name": "bbc-world", "kind": "rss", "url": "https://feeds.bbci.co.uk/news/world/rss.xml"}, ""),
        ({"name": "r.wn", "kind": "reddit", "params": {"subreddit": "worldnews"}}, "https://www.reddit.com"),
        ({"name": "m", "kind": "mastodon", "api_base": "https://fosstodon.org/"}, "https://fosstodon.org"),
        ({"name": "c", "kind": "fourchan", "params": {"board": "news"}}, "https://a.4cdn.org"),
        ({"name": "h", "kind": "hackernews"}, "https://hacker-news.firebaseio.com/v0"),
        ({"name": "b", "kind": "bluesky", "params": {"q": "flood"}}, "https://public.api.bsky.app"),
    ],
)
def test_valid_sources_get_their_platform_default(data: dict, api: str) -> None:
    src = validate_source(data)
    assert src.api == api
    assert src.enabled is True and src.interval_s == 900


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "x", "kind": "rss"}, "kind 'rss' needs url"),
        ({"name": "x", "kind": "rss", "url": "ftp://a/b"}, "url must be an absolute http(s) URL"),
        ({"name": "Bad Name", "kind": "hackernews"}, "name must be 1-64 lower-case"),
        ({"name": "x", "kind": "twitter"}, "kind: Input should be"),
        ({"name": "x", "kind": "reddit", "params": {"listing": "search"}}, "listing 'search' needs q"),
        ({"name": "x", "kind": "reddit", "params": {"subreddit": "a b"}}, "params: subreddit"),
        ({"name": "x", "kind": "reddit", "params": {"subreddit": "news", "limit": 500}}, "limit"),
        ({"name": "x", "kind": "mastodon", "params": {"timeline": "tag"}}, "timeline 'tag' needs tag"),
        ({"name": "x", "kind": "fourchan", "params": {}}, "params: board: Field required"),
        ({"name": "x", "kind": "bluesky", "params": {"endpoint": "getAuthorFeed"}}, "needs actor"),
        ({"name": "x", "kind": "hackernews", "params": {"bogus": 1}}, "bogus: Extra inputs"),
        ({"name": "x", "kind": "hackernews", "interval_s": 1}, "interval_s"),
        ({"name": "x", "kind": "hackernews", "url": "https://x.org"}, "takes params and api_base, not url"),
        ({"name": "x", "kind": "hackernews", "api_base": "not a url"}, "api_base must be"),
    ],
)
def test_invalid_sources_are_refused_with_the_reason(data: dict, reason: str) -> None:
    with pytest.raises(InvalidSource) as exc:
        validate_source(data)
    assert reason in str(exc.value)
    assert str(exc.value).startswith(f"source {data['name']!r}: ")


def test_a_secret_in_auth_env_is_refused_and_never_echoed() -> None:
    with pytest.raises(InvalidSource) as exc:
        validate_source({"name": "m", "kind": "mastodon", "auth_env": "Bearer s3cr3t-t0ken"})
    assert "auth_env must be the NAME of an environment variable" in str(exc.value)
    assert "s3cr3t" not in str(exc.value)


def test_stored_state_and_lock_are_not_part_of_the_definition() -> None:
    src = validate_source(
        {"name": "h", "kind": "hackernews", "state": {"cursor": {}}, "lock": None, "updated": "x"}
    )
    assert "state" not in src.to_doc() and "lock" not in src.to_doc()


def test_defaults_are_not_stored_in_params() -> None:
    src = validate_source({"name": "r", "kind": "reddit", "params": {"subreddit": "news", "limit": 100}})
    assert src.params == {"subreddit": "news"}
    assert src.options.limit == 100 and src.options.raw_json is True


def test_the_shipped_sources_file_is_valid_and_covers_every_kind() -> None:
    good, bad = load_sources_file(REPO / "sources.yaml")
    assert bad == []
    assert {s.kind for s in good} == set(KINDS)
    assert all(s.auth_env is None for s in good)  # nothing in the repo needs a secret
    assert next(s for s in good if s.kind == "fourchan").enabled is False


def test_a_sources_file_reports_each_bad_entry_and_keeps_the_good(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        "sources:\n"
        "  - {name: ok, kind: hackernews}\n"
        "  - {name: nourl, kind: rss}\n"
        "  - {name: ok, kind: hackernews}\n"
    )
    good, bad = load_sources_file(f)
    assert [s.name for s in good] == ["ok"]
    assert len(bad) == 2
    assert "entry 2" in bad[0] and "needs url" in bad[0]
    assert "entry 3" in bad[1] and "duplicate source name 'ok'" in bad[1]


def test_parse_param_pairs_keeps_types() -> None:
    assert parse_param_pairs(["subreddit=news", "limit=50", "raw_json=false", "q=a=b"]) == {
        "subreddit": "news",
        "limit": 50,
        "raw_json": False,
        "q": "a=b",
    }
    with pytest.raises(InvalidSource, match="key=value"):
        parse_param_pairs(["oops"])
