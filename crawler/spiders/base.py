"""What every Vigil spider shares: sources in, requests out, errors accounted.

A spider is started as ``scrapy crawl KIND -a source=NAME[,NAME...]``; it loads
those source definitions (all of its kind) and their saved state, issues each
source's first requests through :meth:`SourceSpider.request` (which tags them with
the source, its robots.txt choice and conditional-request wish) and parses
responses into :class:`~crawler.items.PostItem`. It does no cleaning, validation or
storage: the item pipeline does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    NoRouteError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler.items import PostItem, RejectedItem
from crawler.runtime import load_sources
from crawler.state import SourceRun
from pipelines.ingest.sources import InvalidSource, SourceDef


class NotModified(scrapy.exceptions.IgnoreRequest):
    """A conditional request answered 304: nothing new, not an error."""


def describe_failure(failure: Failure, url: str) -> str:
    """One line saying what went wrong with a request, naming the URL or host."""
    host = urlsplit(url).netloc
    if failure.check(HttpError):
        resp = failure.value.response
        return f"HTTP {resp.status} from {url}"
    if failure.check(DNSLookupError, CannotResolveHostError):
        return f"DNS lookup failed for {host} (no network or unknown host): {url}"
    if failure.check(ConnectionRefusedError, DownloadConnectionRefusedError):
        return f"connection refused by {host}: {url}"
    if failure.check(NoRouteError):
        return f"no route to {host} (network unreachable): {url}"
    if failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
        return f"timed out talking to {host}: {url}"
    if failure.check(DownloadFailedError):
        return f"download failed from {host} ({str(failure.value)[:160]}): {url}"
    if failure.check(scrapy.exceptions.IgnoreRequest):
        msg = str(failure.value) or "request ignored"
        if "robots.txt" in msg:
            return f"blocked by robots.txt: {url}"
        return f"{msg}: {url}"
    exc = failure.value
    return f"{type(exc).__name__}: {str(exc)[:200]} ({url})"


class SourceSpider(scrapy.Spider):
    """Base class: subclasses set ``name`` (the source kind) and :meth:`first_requests`."""

    name: ClassVar[str] = ""  # no name: Scrapy's spider loader skips this base class

    def __init__(self, source: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source_names = [s.strip() for s in str(source).split(",") if s.strip()]
        self.sources: dict[str, SourceDef] = {}
        self.runs: dict[str, SourceRun] = {}
        self.setup_error: str | None = None
        self.fetched_at = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not spider.source_names:
            spider.setup_error = f"no source given: run `scrapy crawl {cls.name} -a source=NAME`"
            return spider
        try:
            spider.sources, states = load_sources(spider.source_names, cls.name)
        except InvalidSource as exc:
            spider.setup_error = str(exc)
            spider.runs = {n: SourceRun(n) for n in spider.source_names}
            for run in spider.runs.values():
                run.error(str(exc))
            return spider
        for name, state in states.items():
            prev = {v["url"]: v for v in state.get("validators") or [] if isinstance(v, dict) and "url" in v}
            spider.runs[name] = SourceRun(name, cursor=dict(state.get("cursor") or {}), prev_validators=prev)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if self.setup_error:
            self.logger.error("%s", self.setup_error)
            return
        for name, src in self.sources.items():
            for req in self.first_requests(src, self.runs[name]):
                yield req

    def first_requests(self, src: SourceDef, run: SourceRun) -> Iterable[scrapy.Request]:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers for subclasses

    def request(
        self,
        src: SourceDef,
        url: str,
        callback: Callable[..., Any],
        *,
        conditional: bool = False,
        cb_kwargs: dict[str, Any] | None = None,
        priority: int = 0,
    ) -> scrapy.Request:
        """A request tagged with its source (for auth, validators, robots.txt and accounting)."""
        self.runs[src.name].requests += 1
        meta: dict[str, Any] = {"vigil_source": src.name, "vigil_conditional": conditional}
        if not src.obey_robots:
            meta["dont_obey_robotstxt"] = True
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta=meta,
            cb_kwargs={"src": src, **(cb_kwargs or {})},
            priority=priority,
            dont_filter=True,
        )

    def on_error(self, failure: Failure) -> None:
        """Errback of every request: a 304 is counted, anything else is a run error."""
        request = failure.request  # type: ignore[attr-defined]
        run = self.runs.get(request.meta.get("vigil_source", ""))
        if failure.check(NotModified):
            return
        message = describe_failure(failure, request.url)
        if run is not None:
            run.error(message)
        self.logger.warning("%s", message)

    def load_json(self, response: Response, src: SourceDef) -> tuple[Any, RejectedItem | None]:
        """The JSON body, or ``None`` and a rejected item saying why (quarantined by the pipeline)."""
        try:
            return json.loads(response.body), None
        except (ValueError, UnicodeDecodeError) as exc:
            reason = f"response from {response.url} is not JSON: {exc}"
            self.runs[src.name].error(reason)
            return None, RejectedItem(src.name, reason, response.body[:64_000], origin=response.url)

    def item(self, src: SourceDef, **fields: Any) -> PostItem:
        """A post item of this source; ``meta.kind`` records the platform."""
        meta = fields.pop("meta", {}) or {}
        meta.setdefault("kind", self.name)
        self.runs[src.name].items += 1
        return PostItem(source=src.name, meta=meta, **fields)
