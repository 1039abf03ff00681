"""Table-driven tests of the pure post model: dates, lengths, URLs, terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.core.post import (
    MAX_TEXT_CHARS,
    InvalidPost,
    build_post,
    check_url,
    parse_ts,
    tweet_id_to_datetime,
)
from pipelines.core.text import content_hash, extract_terms

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2013-06-20T03:56:19Z", datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("2013-06-20T05:56:19+02:00", datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("2013-06-20 03:56:19", datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("Thu Jun 20 03:56:19 +0000 2013", datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("Thu, 20 Jun 2013 03:56:19 GMT", datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("Thu, 02 Jul 2015 10:00:00 +01:00", datetime(2015, 7, 2, 9, 0, tzinfo=UTC)),
        ("Thu, 15 May 2014 02:11:21 Z", datetime(2014, 5, 15, 2, 11, 21, tzinfo=UTC)),
        ("Sat, 04 Oct 2013 10:00:00 +0400", datetime(2013, 10, 4, 6, 0, tzinfo=UTC)),  # wrong weekday
        (1371700579, datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        (1371700579000, datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("1371700579", datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        (datetime(2013, 6, 20, 3, 56, 19), datetime(2013, 6, 20, 3, 56, 19, tzinfo=UTC)),
        ("17/06/2013", datetime(2013, 6, 17, tzinfo=UTC)),
    ],
)
def test_parse_ts_common_formats(raw, expected):
    assert parse_ts(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "missing timestamp"),
        (None, "missing timestamp"),
        ("yesterday-ish", "unparseable timestamp"),
        ([2013], "unparseable timestamp of type list"),
        (True, "unparseable timestamp"),
    ],
)
def test_parse_ts_rejects_with_reason(raw, reason):
    with pytest.raises(InvalidPost, match=reason):
        parse_ts(raw)


def _post(**kw):
    base = dict(source="test", native_id="1", ts="2013-06-20T03:56:19Z", text="Flooding in Calgary", now=NOW)
    base.update(kw)
    return build_post(**base)


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("2003-12-31T23:59:59Z", "before 2004"),
        ((NOW + timedelta(days=2)).isoformat(), "more than a day in the future"),
    ],
)
def test_dates_out_of_range_rejected(ts, reason):
    with pytest.raises(InvalidPost, match=reason):
        _post(ts=ts)


def test_slightly_future_date_accepted():
    assert _post(ts=(NOW + timedelta(hours=20)).isoformat()).ts > NOW


@pytest.mark.parametrize(
    ("length", "truncated"),
    [(10, False), (MAX_TEXT_CHARS, False), (MAX_TEXT_CHARS + 1, True), (5 * MAX_TEXT_CHARS, True)],
)
def test_text_is_capped_and_flagged(length, truncated):
    post = _post(text="x" * length)
    assert len(post.text) == min(length, MAX_TEXT_CHARS)
    assert post.truncated is truncated


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/a?b=c", True),
        ("http://t.co/lkA9L9zSvT", True),
        ("", None),
        (None, None),
        ("javascript:alert(1)", False),
        ("ftp://example.org/file", False),
        ("/relative/path", False),
        ("http://exa mple.org", False),
        ("https://" + "a" * 3000 + ".org", False),
    ],
)
def test_check_url(url, ok):
    if ok is False:
        with pytest.raises(InvalidPost):
            check_url(url)
    elif ok is None:
        assert check_url(url) is None
    else:
        assert check_url(url) == url


@pytest.mark.parametrize(
    ("text", "must", "must_not"),
    [
        (
            "RT @CBCAlerts: Canmore declares state of emergency #Alberta",
            {"canmore", "#alberta", "alberta", "@cbcalerts", "emergency"},
            {"rt", "of"},
        ),
        ("The flood is in the city http://t.co/xyz", {"flood", "city"}, {"the", "is", "http", "t.co"}),
        ("Calgary's mayor: DON'T drive!", {"calgary", "mayor"}, {"don't"}),
        ("Überschwemmung in München", {"überschwemmung", "münchen"}, {"in"}),
    ],
)
def test_terms(text, must, must_not):
    terms = set(extract_terms(text))
    assert must <= terms
    assert not (must_not & terms)


def test_content_hash_ignores_retweet_prefix_urls_and_case():
    a = content_hash("RT @x: Flood warning for Calgary http://t.co/AAA")
    b = content_hash("flood warning for CALGARY https://example.org/b")
    c = content_hash("Fire warning for Calgary")
    assert a == b != c


def test_build_post_normalises():
    p = _post(text="  Flood\x00 in\t\tCalgary  ", lat=51.05, lon=-114.07, url="https://x.org/1", lang="EN")
    assert p.id == "test:1"
    assert p.text == "Flood in Calgary"
    assert p.geo == {"type": "Point", "coordinates": [-114.07, 51.05]}
    assert p.lang == "en"
    doc = p.to_doc()
    assert doc["_id"] == "test:1" and doc["status"] == "new" and "id" not in doc


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"text": "   ", "title": None}, "empty text"),
        ({"native_id": ""}, "missing native id"),
        ({"native_id": "a b"}, "invalid native id"),
        ({"source": "Bad Source!"}, "invalid source name"),
        ({"lat": 91, "lon": 0}, "coordinates out of range"),
        ({"lat": "x", "lon": 0}, "coordinates are not numbers"),
    ],
)
def test_build_post_rejections(kw, reason):
    with pytest.raises(InvalidPost, match=reason):
        _post(**kw)


def test_tweet_id_time():
    # A labelled CrisisLex tweet: id 347563538547609602 was collected "Thu Jun 20 03:56:19 +0000 2013".
    assert tweet_id_to_datetime("347563538547609602").replace(microsecond=0) == datetime(
        2013, 6, 20, 3, 56, 19, tzinfo=UTC
    )
