"""Hacker News through the official Firebase API (``type`` id ``hackernews``).

``/v0/newstories.json`` (or top/best/ask/show/job) gives item ids, newest first; items
newer than the saved cursor are fetched one by one (``/v0/item/ID.json``), at most
``max_items`` per run. Deleted and dead items are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawler.items import PostItem, RejectedItem
from crawler.spiders.base import SourceSpider
from crawler.state import SourceRun
from pipelines.ingest.sources import SourceDef

WEB = "https://news.ycombinator.com"


def item_fields(item: dict[str, Any]) -> dict[str, Any]:
    """Item fields of one HN item (story, ask, job, poll, pollopt, comment) (pure)."""
    hn_id = item.get("id")
    meta: dict[str, Any] = {
        "hn_type": item.get("type"),
        "engagement": {"score": item.get("score"), "replies": item.get("descendants")},
    }
    if item.get("url"):
        meta["link_url"] = item["url"]
    for key in ("parent", "poll"):
        if item.get(key):
            meta[key] = item[key]
    return {
        "native_id": str(hn_id),
        "ts": item.get("time"),
        "title": item.get("title"),
        "text": item.get("text") or "",
        "text_format": "html",
        "url": f"{WEB}/item?id={hn_id}",
        "author": item.get("by"),
        "engagement": item.get("score") or 0,
        "meta": meta,
    }


class HackernewsSpider(SourceSpider):
    name = "hackernews"

    def first_requests(self, src: SourceDef, run: SourceRun) -> Iterator[Any]:
        url = f"{src.api}/{src.options.list}.json"
        yield self.request(src, url, self.parse_ids, conditional=True)

    def parse_ids(self, response: Response, src: SourceDef) -> Iterator[Any]:
        data, rejected = self.load_json(response, src)
        if rejected:
            yield rejected
            return
        run = self.runs[src.name]
        since = int(run.cursor.get("max_id") or 0)
        ids = [i for i in data or [] if isinstance(i, int) and i > since][: src.options.max_items]
        run.skipped += len(data or []) - len(ids)
        for hn_id in ids:
            yield self.request(src, f"{src.api}/item/{hn_id}.json", self.parse_item)

    def parse_item(self, response: Response, src: SourceDef) -> Iterator[PostItem | RejectedItem]:
        data, rejected = self.load_json(response, src)
        if rejected:
            yield rejected
            return
        run = self.runs[src.name]
        if not isinstance(data, dict) or data.get("deleted") or data.get("dead"):
            run.skipped += 1
            return
        run.advance("max_id", data.get("id"))
        yield self.item(src, raw=data, **item_fields(data))
