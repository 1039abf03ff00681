"""4chan boards through the read-only JSON API (``type`` id ``fourchan``).

``catalog`` reads ``/BOARD/catalog.json`` (every thread's opening post and its last
replies); with ``follow_threads`` it also fetches threads changed since the saved
``last_modified``. ``threads`` reads ``/BOARD/threads.json`` and fetches the changed
threads (``/BOARD/thread/NNN.json``, the former ``res/NNN.json``), newest first, at
most ``max_threads``. ``thread`` reads one thread. Comments are HTML; board and
thread go into ``meta``. Every list request is conditional, as the API asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawler.items import PostItem, RejectedItem
from crawler.spiders.base import SourceSpider
from crawler.state import SourceRun
from pipelines.ingest.sources import SourceDef

WEB = "https://boards.4chan.org"


def post_fields(board: str, post: dict[str, Any], thread_no: int) -> dict[str, Any]:
    """Item fields of one 4chan post (pure)."""
    no = post.get("no")
    is_op = not post.get("resto")
    author = post.get("name") or "Anonymous"
    if post.get("trip"):
        author = f"{author} {post['trip']}"
    meta: dict[str, Any] = {"board": board, "thread": thread_no, "op": is_op}
    if is_op:
        meta["engagement"] = {"replies": post.get("replies"), "images": post.get("images")}
    if post.get("tim") and post.get("ext"):
        meta["media"] = [f"https://i.4cdn.org/{board}/{post['tim']}{post['ext']}"]
    return {
        "native_id": f"{board}.{no}",
        "ts": post.get("time"),
        "title": post.get("sub") or None,
        "title_format": "html",
        "text": post.get("com") or "",
        "text_format": "html",
        "url": f"{WEB}/{board}/thread/{thread_no}#p{no}",
        "author": author,
        "engagement": (post.get("replies") or 0) if is_op else 0,
        "meta": meta,
    }


class FourchanSpider(SourceSpider):
    name = "fourchan"

    def first_requests(self, src: SourceDef, run: SourceRun) -> Iterator[Any]:
        o = src.options
        if o.endpoint == "thread":
            yield self.thread_request(src, o.thread)
        elif o.endpoint == "threads":
            yield self.request(src, f"{src.api}/{o.board}/threads.json", self.parse_threads, conditional=True)
        else:
            yield self.request(src, f"{src.api}/{o.board}/catalog.json", self.parse_catalog, conditional=True)

    def thread_request(self, src: SourceDef, no: int) -> Any:
        url = f"{src.api}/{src.options.board}/thread/{no}.json"
        return self.request(src, url, self.parse_thread, conditional=True, cb_kwargs={"no": no})

    def changed_threads(self, src: SourceDef, threads: list[dict[str, Any]]) -> Iterator[Any]:
        """Requests for threads modified since the saved cursor, newest first, bounded."""
        run = self.runs[src.name]
        since = run.cursor.get("last_modified") or 0
        changed = [t for t in threads if (t.get("last_modified") or 0) > since]
        changed.sort(key=lambda t: t.get("last_modified") or 0, reverse=True)
        for t in changed[: src.options.max_threads]:
            run.advance("last_modified", t.get("last_modified"))
            yield self.thread_request(src, t["no"])

    def _pages(self, response: Response, src: SourceDef) -> tuple[list[dict[str, Any]], Any]:
        data, rejected = self.load_json(response, src)
        if rejected or not isinstance(data, list):
            if not rejected:
                reason = f"expected a list of pages from {response.url}, got {type(data).__name__}"
                self.runs[src.name].error(reason)
                rejected = RejectedItem(src.name, reason, response.text[:64_000], origin=response.url)
            return [], rejected
        return [t for page in data if isinstance(page, dict) for t in page.get("threads") or []], None

    def parse_threads(self, response: Response, src: SourceDef) -> Iterator[Any]:
        threads, rejected = self._pages(response, src)
        if rejected:
            yield rejected
        yield from self.changed_threads(src, threads)

    def parse_catalog(self, response: Response, src: SourceDef) -> Iterator[Any]:
        threads, rejected = self._pages(response, src)
        if rejected:
            yield rejected
            return
        board = src.options.board
        for op in threads:
            yield self.item(src, raw=op, **post_fields(board, op, op["no"]))
            for reply in op.get("last_replies") or []:
                yield self.item(src, raw=reply, **post_fields(board, reply, op["no"]))
        if src.options.follow_threads:
            yield from self.changed_threads(src, threads)

    def parse_thread(self, response: Response, src: SourceDef, no: int) -> Iterator[PostItem | RejectedItem]:
        data, rejected = self.load_json(response, src)
        if rejected:
            yield rejected
            return
        board = src.options.board
        for post in (data or {}).get("posts") or []:
            yield self.item(src, raw=post, **post_fields(board, post, no))
