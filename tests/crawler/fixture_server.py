"""A real HTTP server on 127.0.0.1 that replays recorded responses to the crawler.

Routes map a path (query string ignored) to a :class:`Route`: the recorded body, its
content type, and behaviour to test politeness and incrementality: an ETag and a
Last-Modified with 304 answers to conditional requests, a number of failures first
(429 + ``Retry-After``, 500), or a delay (a hanging server). Every request is logged
with its headers and arrival time so tests can assert what the crawler sent.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

CONTENT_TYPES = {
    ".json": "application/json",
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
}


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    validators: bool = True
    last_modified: float = 1_700_000_000.0
    fail_times: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0
    redirect_to: str | None = None
    served: int = 0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


def fixture_route(relpath: str, **kw: object) -> Route:
    """A route serving ``tests/fixtures/<relpath>`` byte for byte."""
    path = FIXTURES / relpath
    return Route(path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"), **kw)  # type: ignore[arg-type]


def redirect_route(location: str) -> Route:
    """A route answering ``301 Moved Permanently`` to ``location``."""
    return Route(b"", redirect_to=location)


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class FixtureServer:
    routes: dict[str, Route] = field(default_factory=dict)
    robots: str = "User-agent: *\nAllow: /\n"
    hits: list[Hit] = field(default_factory=list)

    def start(self) -> FixtureServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body and self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                server.hits.append(hit)
                path = urlsplit(self.path).path
                if path == "/robots.txt":
                    hit.status = 200
                    return self._send(200, server.robots.encode(), {"Content-Type": "text/plain"})
                route = server.routes.get(path)
                if route is None:
                    hit.status = 404
                    return self._send(404, b"not found", {"Content-Type": "text/plain"})
                route.served += 1
                if route.redirect_to:
                    hit.status = 301
                    return self._send(301, b"", {"Location": route.redirect_to})
                if route.delay_s:
                    time.sleep(route.delay_s)
                if route.served <= route.fail_times:
                    hdrs = {"Content-Type": "text/plain"}
                    if route.retry_after is not None:
                        hdrs["Retry-After"] = route.retry_after
                    hit.status = route.fail_status
                    return self._send(route.fail_status, b"try later", hdrs)
                headers = {"Content-Type": route.content_type}
                if route.validators:
                    headers["ETag"] = route.etag
                    headers["Last-Modified"] = formatdate(route.last_modified, usegmt=True)
                    inm = self.headers.get("If-None-Match")
                    ims = self.headers.get("If-Modified-Since")
                    fresh = inm == route.etag if inm else False
                    if not inm and ims:
                        try:
                            fresh = parsedate_to_datetime(ims).timestamp() >= int(route.last_modified)
                        except (TypeError, ValueError):
                            fresh = False
                    if fresh:
                        hit.status = 304
                        return self._send(304, b"", {"ETag": route.etag})
                hit.status = route.status
                return self._send(route.status, route.body, headers)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def hits_for(self, path: str) -> list[Hit]:
        return [h for h in self.hits if urlsplit(h.path).path == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
