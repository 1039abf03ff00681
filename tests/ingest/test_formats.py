"""Each archive format, compressed inputs and format detection, against the real store.

Twitter v2 and Pushshift records are built here in the shapes the two APIs document
(v2: ``data`` / ``includes.users`` / ``public_metrics`` / ``geo``; Pushshift:
``created_utc``, ``subreddit``, ``link_id`` ...), with made-up ids and texts.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backports import zstd

from pipelines.ingest.importers import detect
from pipelines.ingest.importers.base import ReadOptions
from pipelines.store import Store
from tests.ingest.conftest import do_import, post_count, quarantined, write_jsonl

USERS = [
    {"id": "2244994945", "username": "XDevelopers", "name": "Developers"},
    {"id": "783214", "username": "X", "name": "X"},
]


def _tweet(tid: str, author: str, text: str, created: str, **extra: object) -> dict:
    return {
        "id": tid,
        "text": text,
        "author_id": author,
        "created_at": created,
        "lang": "en",
        "edit_history_tweet_ids": [tid],
        "public_metrics": {"retweet_count": 3, "reply_count": 1, "like_count": 10, "quote_count": 0},
        **extra,
    }


def test_twitter_v2_pages_single_responses_and_bare_tweets(store: Store, tmp_path: Path):
    page = {
        "data": [
            _tweet(
                "1460323737035677698",
                "2244994945",
                "Introducing a new era #TwitterAPI",
                "2021-11-15T19:08:05.000Z",
            ),
            _tweet(
                "1460323737035677699",
                "783214",
                "Flooding reported downtown",
                "2021-11-15T19:09:00.000Z",
                geo={
                    "place_id": "01a9a39529b27f36",
                    "coordinates": {"type": "Point", "coordinates": [-73.99, 40.73]},
                },
            ),
        ],
        "includes": {
            "users": USERS,
            "places": [{"id": "01a9a39529b27f36", "full_name": "Manhattan, NY", "country_code": "US"}],
        },
        "meta": {"result_count": 2, "newest_id": "1460323737035677699"},
    }
    long_text = "word " * 100
    single = {
        "data": _tweet(
            "1460323737035677700",
            "2244994945",
            "truncated…",
            "2021-11-15T20:00:00.000Z",
            note_tweet={"text": long_text},
        ),
        "includes": {"users": USERS[:1]},
    }
    bare = {  # twarc2 flatten: the author is inlined, no created_at: time from the id
        "id": "1460323737035677701",
        "text": "RT @X: flat",
        "author_id": "783214",
        "author": {"id": "783214", "username": "X"},
        "edit_history_tweet_ids": ["1460323737035677701"],
    }
    f = write_jsonl(tmp_path / "export.jsonl", [page, single, bare, {"errors": [{"detail": "Not Found"}]}])
    assert detect(f) == "twitter-v2"
    stats = do_import(store, f)
    assert (stats.read, stats.inserted, stats.quarantined) == (5, 4, 1)

    first = store.posts.get("twitter:1460323737035677698")
    assert first["author"] == "XDevelopers"
    assert first["ts"] == datetime(2021, 11, 15, 19, 8, 5, tzinfo=UTC)
    assert first["url"] == "https://twitter.com/XDevelopers/status/1460323737035677698"
    assert first["engagement"] == 14 and first["lang"] == "en"
    assert "#twitterapi" in first["terms"]
    geo = store.posts.get("twitter:1460323737035677699")
    assert geo["geo"] == {"type": "Point", "coordinates": [-73.99, 40.73]}
    assert geo["meta"]["place"] == "Manhattan, NY"
    assert store.posts.get("twitter:1460323737035677700")["text"] == long_text.strip()
    flat = store.posts.get("twitter:1460323737035677701")
    assert flat["author"] == "X"
    ms = (1460323737035677701 >> 22) + 1288834974657
    assert flat["ts"] == datetime.fromtimestamp(ms / 1000, tz=UTC)
    assert "Not Found" in quarantined(store)[0]["reason"]


def test_pushshift_submissions_and_comments(store: Store, tmp_path: Path):
    submission = {
        "id": "k8u2ab",
        "title": "Road closures after the storm",
        "selftext": "Main St is under water.",
        "subreddit": "Calgary",
        "subreddit_id": "t5_2qhbq",
        "author": "someone",
        "created_utc": 1607000000,
        "permalink": "/r/Calgary/comments/k8u2ab/road_closures_after_the_storm/",
        "score": 42,
        "num_comments": 7,
        "is_self": True,
        "url": "https://www.reddit.com/r/Calgary/comments/k8u2ab/road_closures_after_the_storm/",
    }
    comment = {
        "id": "k8u2ab",  # same base36 id as the submission: fullnames keep them apart
        "body": "Stay safe everyone",
        "subreddit": "Calgary",
        "author": "[deleted]",
        "created_utc": "1607000100",
        "link_id": "t3_k8u2ab",
        "parent_id": "t3_k8u2ab",
        "score": -2,
    }
    removed = {**comment, "id": "gew1x9q", "body": "[removed]", "created_utc": 1607000200}
    f = write_jsonl(tmp_path / "RC_2020-12", [submission, comment, removed], opener=zstd.open)
    assert detect(f) == "pushshift"
    stats = do_import(store, f)
    assert (stats.inserted, stats.quarantined) == (3, 0)
    s = store.posts.get("reddit:t3_k8u2ab")
    assert s["title"] == "Road closures after the storm" and s["text"] == "Main St is under water."
    assert s["url"] == "https://www.reddit.com/r/Calgary/comments/k8u2ab/road_closures_after_the_storm/"
    assert s["engagement"] == 42 and s["meta"]["kind"] == "submission" and s["meta"]["num_comments"] == 7
    c = store.posts.get("reddit:t1_k8u2ab")
    assert c["text"] == "Stay safe everyone" and "author" not in c and c["engagement"] == 0
    assert c["url"] == "https://www.reddit.com/r/Calgary/comments/k8u2ab/_/k8u2ab/"
    assert c["ts"] == datetime.fromtimestamp(1607000100, tz=UTC)
    assert store.posts.get("reddit:t1_gew1x9q")["meta"]["removed"] == "[removed]"


def test_generic_jsonl_with_mapping_and_meta(store: Store, tmp_path: Path):
    records = [
        {
            "uid": "a1",
            "when": "2013-06-21 08:30:00",
            "msg": {"body": "Bow river rising"},
            "cls": "flood",
            "who": "ann",
        },
        {"uid": "a2", "when": 1371803400, "msg": {"body": "Evacuate now"}, "cls": "alert", "who": "bob"},
    ]
    f = write_jsonl(tmp_path / "My Export.ndjson", records)
    read = ReadOptions(mapping={"id": "uid", "ts": "when", "text": "msg.body", "meta.label": "cls"})
    stats = do_import(store, f, read=read)
    assert (stats.inserted, stats.quarantined) == (2, 0)
    p = store.posts.get("my-export:a1")  # source from the file name
    assert p["text"] == "Bow river rising" and p["meta"] == {"label": "flood"}
    assert p["ts"] == datetime(2013, 6, 21, 8, 30, tzinfo=UTC)
    assert store.posts.get("my-export:a2")["ts"] == datetime.fromtimestamp(1371803400, tz=UTC)
    # Unmapped fields found by their common names: "who" is not one, "author" would be.
    assert "author" not in p


def test_generic_jsonl_guesses_common_field_names(store: Store, tmp_path: Path):
    v11 = {  # a Twitter v1.1 status: id_str, created_at, full_text, user.screen_name, coordinates
        "id": 347686624563429378,
        "created_at": "Thu Jun 20 12:05:25 +0000 2013",
        "full_text": "Canmore declares state of emergency",
        "user": {"screen_name": "CBCAlerts"},
        "coordinates": {"type": "Point", "coordinates": [-115.35, 51.09]},
        "lang": "en",
    }
    f = write_jsonl(tmp_path / "statuses.jsonl", [v11])
    stats = do_import(store, f, read=ReadOptions(source="twitter"))
    assert stats.inserted == 1
    p = store.posts.get("twitter:347686624563429378")
    assert p["author"] == "CBCAlerts" and p["text"] == "Canmore declares state of emergency"
    assert p["geo"]["coordinates"] == [-115.35, 51.09]
    assert p["ts"] == datetime(2013, 6, 20, 12, 5, 25, tzinfo=UTC)


def test_csv_with_column_mapping_tsv_and_multiline_fields(store: Store, tmp_path: Path):
    f = tmp_path / "posts.csv"
    f.write_text(
        'Post Id,Posted At,Message,Likes\n1,2013-06-20T10:00:00Z,"line one\nline two",5\n2,2013-06-20T11:00:00Z,plain,x\n',
        encoding="utf-8",
    )
    read = ReadOptions(mapping={"id": "post id", "ts": "Posted At", "text": "message", "engagement": "Likes"})
    stats = do_import(store, f, read=read, batch_size=1)
    assert (stats.read, stats.inserted) == (2, 2)
    assert store.posts.get("posts:1")["text"] == "line one\nline two"
    assert store.posts.get("posts:1")["engagement"] == 5
    t = tmp_path / "more.tsv"
    t.write_text("id\tcreated_at\ttext\n9\t2013-06-20 12:00\ttab separated, with a comma\n", encoding="utf-8")
    assert do_import(store, t).inserted == 1
    assert store.posts.get("more:9")["text"] == "tab separated, with a comma"


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("a.jsonl.gz", gzip.compress),
        ("b.jsonl.zst", zstd.compress),
        ("c.jsonl.bz2", bz2.compress),
        ("d.jsonl.xz", lzma.compress),
        ("e.jsonl", gzip.compress),  # misnamed: gzip inside a plain-looking name
        ("f.data.jsonl", zstd.compress),
    ],
)
def test_compressed_inputs_are_recognised_by_magic_bytes(store: Store, tmp_path: Path, name: str, compress):
    lines = b"".join(
        b'{"id": "%d", "created_at": "2013-06-20T10:%02d:00Z", "text": "post %d"}\n' % (i, i, i)
        for i in range(50)
    )
    f = tmp_path / name
    f.write_bytes(compress(lines))
    stats = do_import(store, f, read=ReadOptions(source="x"), batch_size=7)
    assert (stats.read, stats.inserted, stats.failed) == (50, 50, [])
    assert post_count(store) == 50


def test_detection_table(tmp_path: Path):
    cases = {
        "t.jsonl": '{"data": [{"id": "1", "text": "a"}], "meta": {}}\n',
        "p.json": '{"id": "x", "subreddit": "a", "created_utc": 1, "body": "b"}\n',
        "g.jsonl": '{"id": 1, "ts": 2, "text": "c"}\n',
        "c.csv": "id,ts,text\n1,2,3\n",
        "crisis.csv": "Tweet ID, Tweet Text, Information Source, Information Type, Informativeness\n",
    }
    expected = {
        "t.jsonl": "twitter-v2",
        "p.json": "pushshift",
        "g.jsonl": "jsonl",
        "c.csv": "csv",
        "crisis.csv": "crisislex",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert detect(tmp_path / name) == expected[name], name
