"""Twitter / X API v2 exports as JSON Lines.

Three line shapes occur in real exports and are all read:

* a response page, ``{"data": [tweet, ...], "includes": {"users": [...], ...}, "meta": ...}``
  (``twarc2 search`` and most scripts that save raw responses);
* a single-tweet response or stream message, ``{"data": {tweet}, "includes": ...}``;
* one bare tweet per line (``twarc2 flatten``), possibly with the author already
  expanded under ``"author"``.

Authors come from the ``includes.users`` expansion (``author_id`` -> ``username``),
exact coordinates from ``geo.coordinates``, places from ``includes.places``. Long
tweets keep their full text (``note_tweet.text``). A tweet without ``created_at``
gets its time from its Snowflake id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipelines.ingest.importers.base import InputFile, Item, ReadOptions, error_item, json_objects
from pipelines.ingest.importers.streams import Line

NAME = "twitter-v2"
SOURCE = "twitter"


def looks_like(obj: dict[str, Any]) -> bool:
    """A v2 page/response, or a bare v2 tweet (``edit_history_tweet_ids``, ``author_id``)."""
    data = obj.get("data")
    if isinstance(data, list | dict) and ("includes" in obj or "meta" in obj or "matching_rules" in obj):
        return True
    if isinstance(data, list | dict):
        first = data[0] if isinstance(data, list) and data else data
        return isinstance(first, dict) and "id" in first and "text" in first and "user" not in first
    return "id" in obj and "text" in obj and ("edit_history_tweet_ids" in obj or "author_id" in obj)


def _index(objs: Any, key: str = "id") -> dict[str, dict[str, Any]]:
    return {str(o[key]): o for o in objs or () if isinstance(o, dict) and key in o}


def tweet_fields(
    tweet: dict[str, Any], users: dict[str, Any], places: dict[str, Any], source: str
) -> dict[str, Any]:
    """``build_post`` arguments of one v2 tweet object."""
    tid = str(tweet.get("id", ""))
    author_id = str(tweet.get("author_id") or "")
    user = tweet.get("author") if isinstance(tweet.get("author"), dict) else users.get(author_id, {})
    username = user.get("username")
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and note.get("text") else tweet.get("text")
    metrics = tweet.get("public_metrics") or {}
    engagement = sum(
        int(metrics.get(k) or 0) for k in ("retweet_count", "reply_count", "like_count", "quote_count")
    )
    lat = lon = None
    geo = tweet.get("geo") or {}
    coords = geo.get("coordinates") if isinstance(geo, dict) else None
    if isinstance(coords, dict) and coords.get("type") == "Point":
        pair = coords.get("coordinates") or []
        if len(pair) == 2:
            lon, lat = pair
    place = places.get(str(geo.get("place_id"))) if isinstance(geo, dict) else None
    if place is None and isinstance(geo, dict) and isinstance(geo.get("place"), dict):
        place = geo["place"]
    meta: dict[str, Any] = {
        "author_id": author_id or None,
        "conversation_id": tweet.get("conversation_id"),
        "referenced": [
            {"type": r.get("type"), "id": str(r.get("id"))}
            for r in tweet.get("referenced_tweets") or ()
            if isinstance(r, dict)
        ]
        or None,
        "public_metrics": metrics or None,
        "place": (place or {}).get("full_name"),
        "place_country": (place or {}).get("country_code"),
        "possibly_sensitive": tweet.get("possibly_sensitive"),
    }
    path = f"{username}/status/{tid}" if username else f"i/web/status/{tid}"
    ts = tweet.get("created_at")
    if not ts and tid.isdigit():
        ts = (int(tid) >> 22) + 1288834974657
    return {
        "source": source,
        "native_id": tid,
        "ts": ts,
        "text": text,
        "author": username or user.get("name") or author_id or None,
        "lang": tweet.get("lang") if tweet.get("lang") not in ("und", "zxx", "qme", "qht") else None,
        "lat": lat,
        "lon": lon,
        "url": f"https://twitter.com/{path}",
        "engagement": engagement,
        "meta": {k: v for k, v in meta.items() if v is not None},
    }


def read(inp: InputFile, lines: Iterator[Line], opts: ReadOptions) -> Iterator[Item]:
    """Items of a v2 export, one per tweet (a page line yields every tweet it holds)."""
    source = opts.source or SOURCE
    for line, obj, problem in json_objects(lines):
        if obj is None:
            yield error_item(line, problem)
            continue
        start, end = (line.start, line.no - 1), (line.end, line.no)
        if "data" in obj:
            data = obj["data"]
            tweets = data if isinstance(data, list) else [data]
            inc = obj.get("includes") or {}
            users, places = _index(inc.get("users")), _index(inc.get("places"))
        elif "id" in obj and "text" in obj:
            tweets, users, places = [obj], {}, {}
        else:
            errors = obj.get("errors")
            if errors:
                first = errors[0] if isinstance(errors, list) and errors else errors
                detail = first.get("detail") or first.get("title") if isinstance(first, dict) else first
                yield Item(line.no, end, obj, error=f"API error response, no tweets: {str(detail)[:200]}")
            elif not obj.get("meta"):
                yield Item(line.no, end, obj, error="no 'data' and no tweet fields (id, text) in this line")
            continue
        for i, tweet in enumerate(tweets):
            # Resume only after the whole line: a page split across batches is re-read.
            resume = end if i == len(tweets) - 1 else start
            if not isinstance(tweet, dict):
                yield Item(line.no, resume, tweet, error="tweet in 'data' is not an object")
                continue
            yield Item(line.no, resume, tweet, fields=tweet_fields(tweet, users, places, source))
