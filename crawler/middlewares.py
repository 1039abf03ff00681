"""Downloader and spider middlewares: politeness, conditional requests, auth, accounting.

* :class:`SourceAuthMiddleware` adds a source's auth header, read from the environment
  variable it names, and only on requests to that source's own API host.
* :class:`ConditionalRequestMiddleware` sends ``If-None-Match`` / ``If-Modified-Since``
  from the validators saved last run, turns a 304 into :class:`NotModified` and keeps
  the new validators for saving.
* :class:`PoliteRetryMiddleware` replaces Scrapy's retry: a 429/503 waits for its
  ``Retry-After`` (capped; longer waits give up instead of holding the crawl), other
  retryable failures back off exponentially with jitter, and the retry count is small,
  so a struggling server never sees a storm.
* :class:`SharedRobotsTxtMiddleware` fixes robots.txt for concurrent requests: in Scrapy
  2.19 only the first request waiting for a host's robots.txt gets the parser, later
  ones get ``None`` and are let through unchecked (seen in ``tests/crawler``).
* :class:`ErrorAccountingMiddleware` turns an exception inside a spider callback into a
  run error instead of a lost traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.spiders.base import NotModified

log = logging.getLogger(__name__)


def _run(crawler: Any, request: Request) -> Any:
    spider = crawler.spider
    runs = getattr(spider, "runs", None) or {}
    return runs.get(request.meta.get("vigil_source", ""))


def _origin_url(request: Request) -> str:
    """The URL the spider asked for, before redirects (validators are saved under it)."""
    return (request.meta.get("redirect_urls") or [request.url])[0]


def parse_retry_after(value: str | bytes | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    import time

    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Every request waiting for a host's robots.txt is checked against it."""

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        if isinstance(self._parsers.get(netloc), Deferred):
            # Another request is downloading it: wait without consuming the Deferred's result.
            while isinstance(self._parsers.get(netloc), Deferred):
                await asyncio.sleep(0.02)
            return self._parsers[netloc]
        return await super().robot_parser(request)


class SourceAuthMiddleware:
    """Adds ``auth_header: $auth_env`` to requests for a source's own host."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.warned: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> SourceAuthMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        src = getattr(spider, "sources", {}).get(request.meta.get("vigil_source", ""))
        if src is None or not src.auth_env:
            return
        home = urlsplit(src.url or src.api).netloc
        if urlsplit(request.url).netloc != home:
            return  # never leak a credential to another host (a feed's links, a redirect)
        value = os.environ.get(src.auth_env)
        if not value:
            run = _run(self.crawler, request)
            if run is not None and src.name not in self.warned:
                self.warned.add(src.name)
                run.error(f"environment variable {src.auth_env} is not set: sending no {src.auth_header}")
            return
        request.headers[src.auth_header] = value


class ConditionalRequestMiddleware:
    """ETag / Last-Modified revalidation for requests marked ``vigil_conditional``."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ConditionalRequestMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        run = _run(self.crawler, request)
        if run is None or not request.meta.get("vigil_conditional"):
            return
        prev = run.prev_validators.get(_origin_url(request))
        if not prev:
            return
        if prev.get("etag"):
            request.headers["If-None-Match"] = prev["etag"]
        if prev.get("last_modified"):
            request.headers["If-Modified-Since"] = prev["last_modified"]

    def process_response(self, request: Request, response: Response) -> Response:
        run = _run(self.crawler, request)
        if run is None:
            return response
        conditional = request.meta.get("vigil_conditional")
        key = _origin_url(request)
        if response.status == 304 and conditional:
            run.not_modified += 1
            if key in run.prev_validators:
                run.validators[key] = run.prev_validators[key]
            raise NotModified(f"not modified: {request.url}")
        if 200 <= response.status < 300:
            run.responses += 1
            if conditional:
                etag = response.headers.get("ETag")
                modified = response.headers.get("Last-Modified")
                if etag or modified:
                    run.validators[key] = {
                        "url": key,
                        "etag": etag.decode("latin-1") if etag else "",
                        "last_modified": modified.decode("latin-1") if modified else "",
                    }
        return response


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's retry with ``Retry-After`` honoured and exponential backoff between tries."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.retry_after_max = settings.getfloat("VIGIL_RETRY_AFTER_MAX", 120.0)
        self.backoff_base = settings.getfloat("VIGIL_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("VIGIL_BACKOFF_MAX", 30.0)

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        tries = request.meta.get("retry_times", 0)
        if tries >= request.meta.get("max_retry_times", self.max_retry_times):
            return response  # HttpError reaches the errback with the status
        wait = None
        if response.status in (429, 503):
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.retry_after_max:
                run = _run(self.crawler, request)
                if run is not None:
                    run.error(
                        f"HTTP {response.status} with Retry-After {wait:.0f} s (over the "
                        f"{self.retry_after_max:.0f} s cap): giving up until the next run: {request.url}"
                    )
                request.meta["dont_retry"] = True
                return response
        if wait is None:
            wait = min(self.backoff_max, self.backoff_base * 2**tries) * random.uniform(0.8, 1.2)
        log.info("HTTP %d from %s: retrying in %.1f s", response.status, request.url, wait)
        await asyncio.sleep(wait)
        return self._retry(request, response_status_message(response.status)) or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:  # type: ignore[override]
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        if isinstance(exception, CannotResolveHostError | DNSLookupError):
            return None  # an unknown host (or no network) will not resolve a second later
        tries = request.meta.get("retry_times", 0)
        if tries >= request.meta.get("max_retry_times", self.max_retry_times):
            return None
        await asyncio.sleep(min(self.backoff_max, self.backoff_base * 2**tries) * random.uniform(0.8, 1.2))
        return self._retry(request, exception)


class ErrorAccountingMiddleware:
    """A callback that raises becomes one run error; the crawl of other pages goes on."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ErrorAccountingMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception) -> list[Any]:
        run = _run(self.crawler, response.request) if response.request else None
        message = f"cannot parse {response.url}: {type(exception).__name__}: {str(exception)[:200]}"
        if run is not None:
            run.error(message)
        log.warning("%s", message)
        return []
