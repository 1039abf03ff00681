"""Mastodon public, hashtag and account timelines (``type`` id ``mastodon``).

Any instance (``api_base``). ``since_id`` is the saved newest status id, so a second
run asks only for newer statuses. Reads both the current Status schema and the 2016
one (integer ids, no ``replies_count``). A boost becomes the boosted status (same id
as the original, so it is stored once) with ``meta.boosted_by``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Response

from crawler.items import PostItem, RejectedItem
from crawler.spiders.base import SourceSpider
from crawler.state import SourceRun
from pipelines.ingest.sources import SourceDef


def timeline_url(src: SourceDef, since_id: Any = None) -> str:
    o = src.options
    query: dict[str, Any] = {"limit": o.limit}
    if since_id is not None:
        query["since_id"] = since_id
    if o.timeline == "tag":
        path = f"/api/v1/timelines/tag/{o.tag}"
    elif o.timeline == "account":
        path = f"/api/v1/accounts/{o.account_id}/statuses"
    else:
        path = "/api/v1/timelines/public"
    if o.local and o.timeline != "account":
        query["local"] = "true"
    return f"{src.api}{path}?{urlencode(query)}"


def status_fields(status: dict[str, Any]) -> dict[str, Any]:
    """Item fields of one Status; a boost yields the boosted status (pure)."""
    boosted_by = None
    if isinstance(status.get("reblog"), dict):
        boosted_by = (status.get("account") or {}).get("acct")
        status = status["reblog"]
    account = status.get("account") or {}
    likes = status.get("favourites_count") or 0
    reblogs = status.get("reblogs_count") or 0
    replies = status.get("replies_count") or 0
    meta: dict[str, Any] = {
        "engagement": {"likes": likes, "reblogs": reblogs, "replies": replies},
        "uri": status.get("uri"),
    }
    if boosted_by:
        meta["boosted_by"] = boosted_by
    if tags := [t.get("name") for t in status.get("tags") or [] if t.get("name")]:
        meta["tags"] = tags[:20]
    if media := [m.get("url") for m in status.get("media_attachments") or [] if m.get("url")]:
        meta["media"] = media[:10]
    if status.get("sensitive"):
        meta["sensitive"] = True
    if status.get("in_reply_to_id") is not None:
        meta["in_reply_to"] = str(status["in_reply_to_id"])
    return {
        "native_id": str(status.get("id", "")),
        "ts": status.get("created_at"),
        "title": status.get("spoiler_text") or None,
        "text": status.get("content"),
        "text_format": "html",
        "url": status.get("url") or status.get("uri"),
        "author": account.get("acct") or account.get("username"),
        "lang": status.get("language"),
        "engagement": likes + reblogs + replies,
        "meta": meta,
    }


class MastodonSpider(SourceSpider):
    name = "mastodon"

    def first_requests(self, src: SourceDef, run: SourceRun) -> Iterator[Any]:
        yield self.request(src, timeline_url(src, run.cursor.get("since_id")), self.parse_timeline)

    def parse_timeline(self, response: Response, src: SourceDef) -> Iterator[PostItem | RejectedItem]:
        data, rejected = self.load_json(response, src)
        if rejected:
            yield rejected
            return
        if not isinstance(data, list):
            reason = f"expected a list of statuses from {response.url}, got {type(data).__name__}"
            self.runs[src.name].error(reason)
            yield RejectedItem(src.name, reason, response.text[:64_000], origin=response.url)
            return
        run = self.runs[src.name]
        for status in data:
            run.advance("since_id", str(status.get("id")))  # the timeline's own ids, boosts included
            yield self.item(src, raw=status, **status_fields(status))
