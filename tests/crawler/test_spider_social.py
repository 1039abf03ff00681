"""Reddit, Mastodon, 4chan, Hacker News and Bluesky spiders for real, on recorded responses.

Each platform is one ``scrapy crawl`` against the fixture server (several sources per
run); the module runs them once and the tests check counts and fields.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.spiders.mastodon import status_fields
from pipelines.store import Store
from tests.crawler.conftest import add_sources, run_crawl
from tests.crawler.fixture_server import FIXTURES, FixtureServer, Route, fixture_route

HN_IDS = sorted(
    (int(p.name.split("_")[2]) for p in (FIXTURES / "hackernews").glob("firebase_item_*.json")), reverse=True
)


def _routes(server: FixtureServer) -> None:
    r = server.routes
    r["/r/askreddit/new.json"] = fixture_route("reddit/r_askreddit_new_2016-03-01.json")
    r["/r/popular/hot.json"] = fixture_route("reddit/r_popular_hot_2026-04-13.json")
    r["/comments/2gmzqe.json"] = fixture_route("reddit/comments_redditdev_2gmzqe_2016-03-21.json")
    r["/comments/ablzuq.json"] = fixture_route("reddit/comments_askreddit_ablzuq_limit1_2020-01-09.json")
    r["/api/v1/timelines/public"] = fixture_route("mastodon/mastodon.social_timelines_public_2016-10-20.json")
    r["/v4/api/v1/timelines/public"] = fixture_route(
        "mastodon/mastodonpy-testserver_timelines_public_anonymous_2026-08-01.json"
    )
    r["/api/v1/timelines/tag/hoot"] = fixture_route(
        "mastodon/mastodonpy-testserver_timelines_tag_hoot_2026-08-01.json"
    )
    r["/vg/catalog.json"] = fixture_route("fourchan/vg_catalog_2018-09-06.json")
    r["/po/threads.json"] = fixture_route("fourchan/po_threads_docs-example-trimmed.json")
    r["/po/thread/570368.json"] = fixture_route("fourchan/po_thread_570368_docs-example.json")
    r["/ck/thread/3856791.json"] = fixture_route("fourchan/ck_thread_3856791_2012-09-06.json")
    for p in (FIXTURES / "hackernews").glob("firebase_item_*.json"):
        r[f"/v0/item/{p.name.split('_')[2]}.json"] = fixture_route(f"hackernews/{p.name}")
    # The id list is the only route not recorded: Firebase's newstories.json is just the ids.
    r["/v0/newstories.json"] = Route(json.dumps(HN_IDS).encode(), "application/json")
    r["/xrpc/app.bsky.feed.searchPosts"] = fixture_route(
        "bluesky/app.bsky.feed.searchPosts_q-redistricting_2025-05-19.json"
    )
    r["/xrpc/app.bsky.feed.getAuthorFeed"] = fixture_route(
        "bluesky/app.bsky.feed.getAuthorFeed_chriskenny.bsky.social_2025-05-19.json"
    )


def _sources(base: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "reddit": [
            {"name": "r-ask", "kind": "reddit", "api_base": base, "params": {"subreddit": "askreddit"}},
            {
                "name": "r-pop",
                "kind": "reddit",
                "api_base": base,
                "params": {"subreddit": "popular", "listing": "hot"},
            },
            {
                "name": "r-c1",
                "kind": "reddit",
                "api_base": base,
                "params": {"listing": "comments", "thread": "2gmzqe"},
            },
            {
                "name": "r-c2",
                "kind": "reddit",
                "api_base": base,
                "params": {"listing": "comments", "thread": "ablzuq"},
            },
        ],
        "mastodon": [
            {"name": "m-2016", "kind": "mastodon", "api_base": base},
            {"name": "m-now", "kind": "mastodon", "api_base": base + "/v4"},
            {
                "name": "m-tag",
                "kind": "mastodon",
                "api_base": base,
                "params": {"timeline": "tag", "tag": "hoot"},
            },
        ],
        "fourchan": [
            {"name": "c-vg", "kind": "fourchan", "api_base": base, "params": {"board": "vg"}},
            {
                "name": "c-po",
                "kind": "fourchan",
                "api_base": base,
                "params": {"board": "po", "endpoint": "threads"},
            },
            {
                "name": "c-ck",
                "kind": "fourchan",
                "api_base": base,
                "params": {"board": "ck", "endpoint": "thread", "thread": 3856791},
            },
        ],
        "hackernews": [{"name": "hn", "kind": "hackernews", "api_base": base + "/v0"}],
        "bluesky": [
            {"name": "b-search", "kind": "bluesky", "api_base": base, "params": {"q": "redistricting"}},
            {
                "name": "b-author",
                "kind": "bluesky",
                "api_base": base,
                "params": {"endpoint": "getAuthorFeed", "actor": "chriskenny.bsky.social"},
            },
        ],
    }


@pytest.fixture(scope="module")
def crawled(db_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = Store(db_server.uri, f"t_{uuid.uuid4().hex[:12]}")
    store.schema.ensure()
    server = FixtureServer().start()
    _routes(server)
    tmp = tmp_path_factory.mktemp("social")
    runs: dict[str, Any] = {}
    for kind, defs in _sources(server.base).items():
        add_sources(store, *defs)
        runs.update(run_crawl(store, kind, [d["name"] for d in defs], tmp))
    runs["hn-again"] = run_crawl(store, "hackernews", ["hn"], tmp)["hn"]
    yield {"store": store, "server": server, "runs": runs}
    server.stop()
    store.client.drop_database(store.db.name)
    store.client.close()


@pytest.mark.parametrize(
    ("source", "posts", "dropped"),
    [
        ("r-ask", 100, 0),
        ("r-pop", 100, 0),
        ("r-c1", 3, 0),  # the submission and its 2 comments
        ("r-c2", 2, 0),  # the submission and 1 comment; 2 "more" stubs are not fetched
        ("m-2016", 19, 0),  # 20 statuses, one a boost of another status on the same page
        ("m-now", 8, 0),
        ("m-tag", 1, 0),
        ("c-vg", 576, 20),  # 150 threads + 446 last replies; 20 image-only replies have no text
        ("c-ck", 38, 0),
        ("hn", 6, 0),
        ("b-search", 25, 0),
        ("b-author", 50, 0),
    ],
)
def test_exact_post_counts(crawled: Any, source: str, posts: int, dropped: int) -> None:
    run = crawled["runs"][source]
    assert run["status"] == "ok", run
    assert (run["inserted"], run["dropped"]) == (posts, dropped)
    assert len(crawled["store"].posts.find({"source": source}, limit=1000)) == posts


def _get(crawled: Any, post_id: str) -> dict[str, Any]:
    doc = crawled["store"].posts.get(post_id)
    assert doc is not None, post_id
    return doc


def test_reddit_submission(crawled: Any) -> None:
    doc = _get(crawled, "r-ask:t3_48fbm9")
    assert doc["author"] == "RedHeadQc"
    assert (
        doc["title"]
        == "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
    )
    assert doc["ts"] == datetime(2016, 3, 1, 8, 37, 38, tzinfo=UTC)
    assert (
        doc["url"]
        == "https://www.reddit.com/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/"
    )
    assert doc["meta"]["kind"] == "reddit" and doc["meta"]["subreddit"] == "AskReddit"
    hits = crawled["server"].hits_for("/r/askreddit/new.json")
    assert "raw_json=1" in hits[0].path and "limit=100" in hits[0].path


def test_reddit_comment_tree(crawled: Any) -> None:
    doc = _get(crawled, "r-c2:t1_ed1czme")
    assert doc["author"] == "sweatybeard" and doc["engagement"] == 12165
    assert doc["text"] == "But when I finally do, it'll be the years biggest shit ^^^^^so ^^^^^far"
    assert doc["meta"]["parent"] == "t3_ablzuq"
    old = crawled["store"].posts.find({"source": "r-c1", "_id": {"$regex": "t1_"}}, limit=5)
    assert len(old) == 2 and all(
        d["url"].startswith("https://www.reddit.com/comments/2gmzqe/_/") for d in old
    )


def test_mastodon_old_schema_and_boost(crawled: Any) -> None:
    first = _get(crawled, "m-2016:36034")
    assert first["author"] == "doctorow@quitter.no"
    assert first["ts"] == datetime(2016, 10, 20, 16, 16, 53, tzinfo=UTC)
    assert first["url"] == "https://quitter.no/notice/2501910"
    assert "<a" not in first["text"] and "doctorow" in first["text"]
    # 36019 is rw's boost of 36018, which the page also lists: one post, the original's.
    boosted = _get(crawled, "m-2016:36018")
    assert boosted["author"] == "why@shitposter.club"
    assert crawled["store"].posts.get("m-2016:36019") is None


def test_mastodon_boost_fields_name_the_booster() -> None:
    statuses = json.loads(
        (FIXTURES / "mastodon/mastodon.social_timelines_public_2016-10-20.json").read_text()
    )
    boost = next(s for s in statuses if s["id"] == 36019)
    fields = status_fields(boost)
    assert fields["native_id"] == "36018" and fields["author"] == "why@shitposter.club"
    assert fields["meta"]["boosted_by"] == "rw@shitposter.club"


def test_mastodon_current_schema_and_hashtag(crawled: Any) -> None:
    doc = _get(crawled, "m-tag:117020593741189701")
    assert doc["text"] == "#hoot (hashtag toot)"
    assert doc["ts"] == datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=UTC)
    assert doc["lang"] == "ja" and doc["author"] == "mastodonpy_test_2"
    assert doc["meta"]["tags"] == ["hoot"] and "hoot" in doc["terms"]
    assert _get(crawled, "m-now:117020593134559451")["text"] == "Toot, finally!"


def test_fourchan_thread_html_and_metadata(crawled: Any) -> None:
    op = _get(crawled, "c-ck:ck.3856791")
    assert op["text"] == (
        "All industrial food is based on something real you can make at home, and some people used to "
        "make at home.\n\nHow do I make white bread?"
    )
    assert op["ts"] == datetime(2012, 9, 6, 22, 0, 17, tzinfo=UTC)
    assert op["meta"]["board"] == "ck" and op["meta"]["thread"] == 3856791 and op["meta"]["op"] is True
    assert op["url"] == "https://boards.4chan.org/ck/thread/3856791#p3856791"


def test_fourchan_catalog_quarantines_image_only_replies(crawled: Any) -> None:
    q = [r for r in crawled["store"].quarantine.recent("crawl", limit=100) if r.get("source") == "c-vg"]
    assert len(q) == 20
    assert {r["reason"] for r in q} == {"empty text"}
    assert all(r["origin"].startswith("c-vg:vg.") and '"no"' in r["raw"] for r in q)


def test_fourchan_threads_list_survives_missing_threads(crawled: Any) -> None:
    run = crawled["runs"]["c-po"]
    # threads.json lists 9 threads; only 570368 is recorded, the 8 others answer 404.
    assert run["status"] == "partial" and run["inserted"] == 3
    assert run["error_count"] == 8 and all(e.startswith("HTTP 404 from ") for e in run["errors"])


def test_hackernews_items_and_incremental_second_run(crawled: Any) -> None:
    doc = _get(crawled, "hn:8863")
    assert doc["title"] == "My YC app: Dropbox - Throw away your USB drive"
    assert doc["author"] == "dhouston" and doc["engagement"] == 111
    assert doc["ts"] == datetime(2007, 4, 4, 19, 16, 40, tzinfo=UTC)
    assert doc["meta"]["link_url"] == "http://www.getdropbox.com/u/2/screencast.html"
    again = crawled["runs"]["hn-again"]
    assert (again["inserted"], again["items"], again["not_modified"]) == (0, 0, 1)
    ids = crawled["server"].hits_for("/v0/newstories.json")
    assert "if-none-match" in ids[1].headers
    assert len(crawled["server"].hits_for("/v0/item/8863.json")) == 1  # not fetched again


def test_bluesky_search_and_author_feed(crawled: Any) -> None:
    doc = _get(crawled, "b-search:did_plc_kkergqgbhb56ptpwj2wenkje/3lpk2u6qo222m")
    assert doc["author"] == "socpaperbot.bsky.social"
    assert doc["ts"] == datetime(2025, 5, 19, 17, 10, 9, 561000, tzinfo=UTC)
    assert doc["url"] == "https://bsky.app/profile/socpaperbot.bsky.social/post/3lpk2u6qo222m"
    assert doc["text"].startswith("Ends Versus Means: Public Opinion on Congressional Redistricting")
    reposts = crawled["store"].posts.find(
        {"source": "b-author", "meta.reposted_by": {"$exists": True}}, limit=50
    )
    assert len(reposts) == 7
    hits = crawled["server"].hits_for("/xrpc/app.bsky.feed.searchPosts")
    assert "q=redistricting" in hits[0].path and "sort=latest" in hits[0].path


def test_engagement_breakdown_is_kept(crawled: Any) -> None:
    doc = _get(crawled, "r-ask:t3_48fbm9")
    assert doc["meta"]["engagement"] == {"score": 1, "replies": 1}
    b = _get(crawled, "b-search:did_plc_kkergqgbhb56ptpwj2wenkje/3lpk2u6qo222m")
    assert set(b["meta"]["engagement"]) == {"likes", "reposts", "replies", "quotes"}
