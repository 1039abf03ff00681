"""Politeness and failure isolation, crawled for real: robots.txt, 429 + Retry-After,
500s, over-long Retry-After, auth headers from the environment."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from pipelines.store import Store
from tests.crawler.conftest import add_sources, run_crawl
from tests.crawler.fixture_server import FixtureServer, fixture_route

FEED = "rss/nrcan_earthquakes_en_2018-10-01.georss.rss.xml"


@pytest.fixture(scope="module")
def crawled(db_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = Store(db_server.uri, f"t_{uuid.uuid4().hex[:12]}")
    store.schema.ensure()
    server = FixtureServer(robots="User-agent: *\nDisallow: /private/\n").start()
    r = server.routes
    r["/ok.xml"] = fixture_route(FEED)
    r["/busy.xml"] = fixture_route(FEED, fail_times=1, fail_status=429, retry_after="1")
    r["/broken.xml"] = fixture_route(FEED, fail_times=99, fail_status=500)
    r["/private/feed.xml"] = fixture_route(FEED)
    r["/capped.xml"] = fixture_route(FEED, fail_times=99, fail_status=429, retry_after="3600")
    r["/auth.xml"] = fixture_route(FEED)
    r["/noauth.xml"] = fixture_route(FEED)
    defs = [
        {"name": "ok", "url": "/ok.xml"},
        {"name": "busy", "url": "/busy.xml"},
        {"name": "broken", "url": "/broken.xml"},
        {"name": "blocked", "url": "/private/feed.xml"},
        {"name": "capped", "url": "/capped.xml"},
        {"name": "auth", "url": "/auth.xml", "auth_env": "VIGIL_TEST_FEED_TOKEN", "auth_header": "X-Api-Key"},
        {"name": "noauth", "url": "/noauth.xml", "auth_env": "VIGIL_TEST_UNSET_TOKEN"},
    ]
    add_sources(store, *({**d, "kind": "rss", "url": server.url(d["url"])} for d in defs))
    runs = run_crawl(
        store,
        "rss",
        [d["name"] for d in defs],
        tmp_path_factory.mktemp("polite"),
        env={"VIGIL_TEST_FEED_TOKEN": "k-123"},
    )
    yield {"store": store, "server": server, "runs": runs}
    server.stop()
    store.client.drop_database(store.db.name)
    store.client.close()


def test_a_failing_source_does_not_stop_the_others(crawled: Any) -> None:
    runs = crawled["runs"]
    assert runs["ok"]["status"] == "ok" and runs["ok"]["inserted"] == 6
    assert runs["broken"]["status"] == "error" and runs["broken"]["inserted"] == 0
    assert runs["broken"]["error"] == f"HTTP 500 from {crawled['server'].url('/broken.xml')}"


def test_500_is_retried_a_bounded_number_of_times(crawled: Any) -> None:
    hits = crawled["server"].hits_for("/broken.xml")
    assert len(hits) == 3  # the request and RETRY_TIMES=2 retries, no storm
    gaps = [b.at - a.at for a, b in zip(hits, hits[1:], strict=False)]
    assert all(g >= 0.08 for g in gaps)  # exponential backoff (base 0.1 s in tests), not immediate


def test_429_is_retried_after_retry_after(crawled: Any) -> None:
    hits = crawled["server"].hits_for("/busy.xml")
    assert [h.status for h in hits] == [429, 200]
    assert hits[1].at - hits[0].at >= 1.0
    assert crawled["runs"]["busy"]["status"] == "ok" and crawled["runs"]["busy"]["inserted"] == 6


def test_an_over_long_retry_after_ends_the_run_instead_of_waiting(crawled: Any) -> None:
    hits = crawled["server"].hits_for("/capped.xml")
    assert len(hits) == 1
    run = crawled["runs"]["capped"]
    assert run["status"] == "error"
    assert "Retry-After 3600 s (over the 120 s cap)" in run["error"]


def test_robots_txt_disallow_is_respected(crawled: Any) -> None:
    assert crawled["server"].hits_for("/private/feed.xml") == []
    run = crawled["runs"]["blocked"]
    assert run["status"] == "error"
    assert run["error"] == f"blocked by robots.txt: {crawled['server'].url('/private/feed.xml')}"


def test_auth_header_comes_from_the_named_environment_variable(crawled: Any) -> None:
    hit = crawled["server"].hits_for("/auth.xml")[0]
    assert hit.headers["x-api-key"] == "k-123"
    assert all("x-api-key" not in h.headers for h in crawled["server"].hits_for("/ok.xml"))
    assert all("x-api-key" not in h.headers for h in crawled["server"].hits_for("/robots.txt"))
    stored = crawled["store"].sources.get("auth")
    assert "k-123" not in repr(stored)


def test_a_missing_auth_variable_is_reported_and_the_feed_still_read(crawled: Any) -> None:
    run = crawled["runs"]["noauth"]
    assert run["status"] == "partial" and run["inserted"] == 6
    assert run["error"] == "environment variable VIGIL_TEST_UNSET_TOKEN is not set: sending no Authorization"
    assert "authorization" not in crawled["server"].hits_for("/noauth.xml")[0].headers


def test_same_text_from_two_sources_is_a_cross_post(crawled: Any) -> None:
    # Several sources serve the same feed: the posts are all kept, later ones flagged.
    store = crawled["store"]
    ok_ids = {d["_id"] for d in store.posts.find({"source": "ok"}, limit=10)}
    flagged = store.posts.find({"cross_post": True}, limit=100)
    assert len(flagged) > 0
    assert all(d["cross_post_of"].split(":")[0] != d["source"] for d in flagged)
    total = sum(r["inserted"] for k, r in crawled["runs"].items() if not k.startswith("_"))
    assert total == 6 * 4 and len(ok_ids) == 6
