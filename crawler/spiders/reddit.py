"""Reddit listings, search and comment threads (``type`` id ``reddit``).

Reads the public JSON Listing format (``/r/NAME/new.json``, ``/search.json``,
``/comments/ID.json``). With ``raw_json=1`` text fields are plain; without it Reddit
escapes ``& < >`` as entities, so those fields are declared ``escaped`` and the
cleaning step decodes them. Submissions (``t3``) and comments (``t1``, walked through
their ``replies``) become posts keyed by their fullname; ``more`` stubs are counted.
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

WEB = "https://www.reddit.com"


def listing_url(src: SourceDef) -> str:
    """The JSON URL of a source's listing."""
    o = src.options
    api = src.api
    query: dict[str, Any] = {"limit": o.limit}
    if o.raw_json:
        query["raw_json"] = 1
    if o.listing == "comments":
        return f"{api}/comments/{o.thread}.json?{urlencode({**query, 'sort': 'new'})}"
    if o.listing == "search":
        query.update({"q": o.q, "sort": "new"})
        if o.subreddit:
            query["restrict_sr"] = 1
            return f"{api}/r/{o.subreddit}/search.json?{urlencode(query)}"
        return f"{api}/search.json?{urlencode(query)}"
    return f"{api}/r/{o.subreddit}/{o.listing}.json?{urlencode(query)}"


def thing_fields(kind: str, d: dict[str, Any], escaped: bool) -> dict[str, Any] | None:
    """Item fields of a ``t3`` submission or ``t1`` comment (pure)."""
    fmt = "escaped" if escaped else "text"
    permalink = d.get("permalink") or ""
    meta: dict[str, Any] = {
        "subreddit": d.get("subreddit"),
        "engagement": {"score": d.get("score"), "replies": d.get("num_comments")},
    }
    if kind == "t3":
        if not d.get("is_self") and d.get("url"):
            meta["link_url"] = d["url"]
        if d.get("over_18"):
            meta["nsfw"] = True
        title, text = d.get("title"), d.get("selftext")
    else:
        meta["parent"] = d.get("parent_id")
        meta["thread"] = d.get("link_id")
        title, text = None, d.get("body")
    return {
        "native_id": d.get("name") or f"{kind}_{d.get('id')}",
        "ts": d.get("created_utc"),
        "title": title,
        "title_format": fmt,
        "text": text,
        "text_format": fmt,
        "url": WEB + permalink if permalink.startswith("/") else permalink or _comment_url(d),
        "author": d.get("author"),
        "engagement": d.get("score") or 0,
        "meta": meta,
    }


def _comment_url(d: dict[str, Any]) -> str | None:
    """Old comment payloads carry no ``permalink``: rebuild it from the thread and comment ids."""
    link_id, cid = str(d.get("link_id") or ""), d.get("id")
    if link_id.startswith("t3_") and cid:
        return f"{WEB}/comments/{link_id[3:]}/_/{cid}/"
    return None


def walk_listing(listing: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(kind, data)`` of every thing in a Listing, comments' replies included."""
    if not isinstance(listing, dict) or listing.get("kind") != "Listing":
        return
    for child in listing.get("data", {}).get("children", []):
        kind, data = child.get("kind"), child.get("data") or {}
        yield kind, data
        if kind == "t1":
            yield from walk_listing(data.get("replies"))


class RedditSpider(SourceSpider):
    name = "reddit"

    def first_requests(self, src: SourceDef, run: SourceRun) -> Iterator[Any]:
        yield self.request(src, listing_url(src), self.parse_listing, conditional=True)

    def parse_listing(self, response: Response, src: SourceDef) -> Iterator[PostItem | RejectedItem]:
        data, rejected = self.load_json(response, src)
        if rejected:
            yield rejected
            return
        listings = data if isinstance(data, list) else [data]
        escaped = not src.options.raw_json
        run = self.runs[src.name]
        for listing in listings:
            for kind, thing in walk_listing(listing):
                if kind == "more":
                    run.skipped += len(thing.get("children") or [])
                    continue
                if kind not in ("t1", "t3"):
                    continue
                run.advance("newest_created", thing.get("created_utc"))
                yield self.item(src, raw=thing, **thing_fields(kind, thing, escaped))
