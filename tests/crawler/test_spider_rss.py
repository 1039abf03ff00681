"""The rss spider for real: every recorded feed served on 127.0.0.1, crawled twice.

One ``scrapy crawl rss`` run covers all eleven feeds (each its own source), then a
second run must insert nothing and revalidate every feed with its ETag.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pipelines.store import Store
from tests.crawler.conftest import add_sources, run_crawl
from tests.crawler.fixture_server import FixtureServer, fixture_route, redirect_route

FEEDS: dict[str, tuple[str, int]] = {
    # source name: (fixture file, posts expected)
    "techcrunch": ("techcrunch_2011-11-02.rss.xml", 20),
    "dailymail": ("dailymail_2015-07-02.rss.xml", 62),  # 63 items, one article listed twice
    "rue89": ("rue89_2013-04-06.rss.xml", 25),
    "bbc-urdu": ("bbc_urdu_2014-03-16.atom.xml", 53),
    "nrcan": ("nrcan_earthquakes_en_2018-10-01.georss.rss.xml", 6),
    "heise": ("edge_heise_rss090_no-dates_2016-04.rdf", 60),
    "allgemeine": ("edge_allgemeine-zeitung_iso-8859-1_2015-03-01.rss.xml", 10),
    "xakep": ("edge_xakep_windows-1251_2013-10.rss.xml", 25),
    "nextinpact": ("edge_nextinpact_huge-fulltext_invalid-charref_2014-05-15.rss.xml", 45),
    "hamakor": ("edge_hamakor_atom_html-titles_rtl_2014-12-22.atom.xml", 8),
    "cercle-psy": ("edge_cercle-psy_undeclared-latin1_2013-06.rss.xml", 7),
}


@pytest.fixture(scope="module")
def crawled(db_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Both runs once for the module (each ``scrapy crawl`` costs seconds)."""
    import uuid

    store = Store(db_server.uri, f"t_{uuid.uuid4().hex[:12]}")
    store.schema.ensure()
    server = FixtureServer().start()
    tmp = tmp_path_factory.mktemp("rss")
    for name, (fname, _) in FEEDS.items():
        server.routes[f"/feeds/{fname}"] = fixture_route(f"rss/{fname}")
        add_sources(store, {"name": name, "kind": "rss", "url": server.url(f"/feeds/{fname}")})
    # A feed that moved: its validators must be saved under the address the source names.
    server.routes["/old/nrcan.xml"] = redirect_route("/moved/nrcan.xml")
    server.routes["/moved/nrcan.xml"] = fixture_route(f"rss/{FEEDS['nrcan'][0]}")
    add_sources(store, {"name": "moved", "kind": "rss", "url": server.url("/old/nrcan.xml")})
    names = [*FEEDS, "moved"]
    before = datetime.now(UTC)
    first = run_crawl(store, "rss", names, tmp)
    after = datetime.now(UTC)
    second = run_crawl(store, "rss", names, tmp)
    yield {"store": store, "server": server, "first": first, "second": second, "window": (before, after)}
    server.stop()
    store.client.drop_database(store.db.name)
    store.client.close()


def _one(store: Store, source: str, **query: Any) -> dict[str, Any]:
    docs = store.posts.find({"source": source, **query}, limit=2)
    assert len(docs) == 1, (source, query, docs)
    return docs[0]


@pytest.mark.parametrize("name", list(FEEDS))
def test_each_feed_gives_exactly_its_posts(crawled: Any, name: str) -> None:
    expected = FEEDS[name][1]
    run = crawled["first"][name]
    assert run["status"] == "ok", run
    assert run["inserted"] == expected
    assert run["dropped"] == 0
    assert len(crawled["store"].posts.find({"source": name}, limit=1000)) == expected


def test_second_run_inserts_nothing_and_revalidates(crawled: Any) -> None:
    for name, (fname, _) in FEEDS.items():
        run = crawled["second"][name]
        assert (run["status"], run["inserted"], run["items"], run["not_modified"]) == ("ok", 0, 0, 1), name
        hits = crawled["server"].hits_for(f"/feeds/{fname}")
        assert len(hits) == 2
        assert "if-none-match" not in hits[0].headers
        assert hits[1].headers["if-none-match"].startswith('"')
        assert "if-modified-since" in hits[1].headers
        assert hits[1].status == 304


def test_a_redirected_feed_is_revalidated_too(crawled: Any) -> None:
    assert crawled["first"]["moved"]["inserted"] == 6
    # Same items as the nrcan source, same times: all kept, one copy of each flagged as a
    # cross-post of the other (with equal times the tie is broken by source name).
    flagged = crawled["store"].posts.find(
        {"source": {"$in": ["moved", "nrcan"]}, "cross_post": True}, limit=20
    )
    assert len(flagged) == 6
    assert all(d["cross_post_of"].split(":")[0] in {"moved", "nrcan"} - {d["source"]} for d in flagged)
    assert crawled["second"]["moved"]["not_modified"] == 1
    old, new = crawled["server"].hits_for("/old/nrcan.xml"), crawled["server"].hits_for("/moved/nrcan.xml")
    assert [h.status for h in new] == [200, 304]
    assert "if-none-match" in old[1].headers and "if-none-match" in new[1].headers


def test_robots_txt_was_asked_first(crawled: Any) -> None:
    assert crawled["server"].hits[0].path == "/robots.txt"
    assert "Vigil/" in crawled["server"].hits[0].headers["user-agent"]


def test_techcrunch_fields(crawled: Any) -> None:
    doc = _one(
        crawled["store"],
        "techcrunch",
        author="Leena Rao",
        url="http://feedproxy.google.com/~r/Techcrunch/~3/kTeeGj4FnwU/",
    )
    assert doc["title"] == "Angie’s List Sets Price Range IPO At $11 To $13 Per Share; Valued At Over $600M"
    assert doc["ts"] == datetime(2011, 11, 2, 17, 25, 27, tzinfo=UTC)
    assert (
        "http://tctechcrunch2011.files.wordpress.com/2011/11/angies-list.jpeg?w=150" in doc["meta"]["media"]
    )
    assert doc["meta"]["kind"] == "rss" and doc["meta"]["guid"] == "http://techcrunch.com/?p=446154"
    assert "<" not in doc["text"] and doc["lang"] == "en"


def test_georss_gml_points_become_geo(crawled: Any) -> None:
    doc = _one(crawled["store"], "nrcan", title="2018-09-29: M=3.1 - 32 km NNW of Yarmouth, NS - felt")
    assert doc["geo"] == {"type": "Point", "coordinates": [-66.23, 44.11]}
    assert doc["url"] == "http://www.earthquakescanada.nrcan.gc.ca/recent_eq/2018/20180929.1332/index-en.php"
    no_geo = _one(crawled["store"], "nrcan", title="Breaking News")
    assert "geo" not in no_geo


def test_feed_without_dates_gets_fetch_time_flagged_estimated(crawled: Any) -> None:
    before, after = crawled["window"]
    docs = crawled["store"].posts.find({"source": "heise"}, limit=100)
    assert len(docs) == 60
    assert all(d["meta"]["ts_estimated"] is True for d in docs)
    assert all(before.replace(microsecond=0) <= d["ts"] <= after for d in docs)
    # Feeds with dates are not flagged.
    assert crawled["store"].posts.find({"source": "techcrunch", "meta.ts_estimated": True}, limit=1) == []


def test_windows_1251_and_a_wrong_weekday(crawled: Any) -> None:
    doc = _one(crawled["store"], "xakep", title="Руководители разведки США шутят об убийстве Сноудена")
    # "Sat, 04 Oct 2013 02:34:59 +0300": that day was a Friday; the date is still read.
    assert doc["ts"] == datetime(2013, 10, 3, 23, 34, 59, tzinfo=UTC)
    assert doc["lang"] == "ru"


def test_iso_8859_1_and_undeclared_latin1(crawled: Any) -> None:
    store = crawled["store"]
    assert _one(store, "allgemeine", title={"$regex": "^Bad Kreuznach: Ursache für Brand"})["lang"] == "de"
    doc = _one(store, "cercle-psy", title="Stéphane Gumpper : Qu'est-ce que la psychologie des religions ?")
    assert doc["ts"] == datetime(2013, 5, 23, 10, 30, tzinfo=UTC)
    assert all("\ufffd" not in d["title"] for d in store.posts.find({"source": "cercle-psy"}, limit=10))


def test_invalid_charref_and_huge_entries(crawled: Any) -> None:
    docs = crawled["store"].posts.find({"source": "nextinpact"}, limit=100)
    assert len(docs) == 45
    biggest = max(docs, key=lambda d: len(d["text"]))
    assert biggest["truncated"] is True and len(biggest["text"]) == 40_000
    assert all("&eacute;" not in d["text"] and "&rsquo;" not in d["text"] for d in docs)
    assert {d["author"] for d in docs} >= {"kevin@nextinpact.com"}


def test_html_titles_are_text(crawled: Any) -> None:
    titles = {d["title"] for d in crawled["store"].posts.find({"source": "hamakor"}, limit=10)}
    assert "Kindle Paperwhite “Unable to Open Item”" in titles
    assert "סינטרה מודולרית" in titles
    assert not any("&#" in t or "<" in t for t in titles)


def test_atom_times_are_utc(crawled: Any) -> None:
    doc = _one(crawled["store"], "bbc-urdu", title="قزاقستان سے بحرِ ہند تک لاپتہ طیارے کی تلاش جاری")
    assert doc["ts"] == datetime(2014, 3, 16, 8, 22, 25, tzinfo=UTC)  # 13:22:25+05:00


def test_posts_are_queued_for_scoring_and_counted(crawled: Any) -> None:
    store = crawled["store"]
    doc = store.posts.find({"source": "rue89"}, limit=1)[0]
    assert doc["status"] == "new" and doc["attempts"] == 0 and doc["terms"]
    rollup = sum(r["n"] for r in store.rollups.ingest() if r["source"] == "rue89")
    assert rollup == 25
