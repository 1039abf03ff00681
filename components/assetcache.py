"""Let browsers keep content-hashed component files: an ASGI middleware for ``st.App``.

Why: Streamlit (1.67, ``create_component_routes``) serves a custom component's files with
``Cache-Control: public`` and no validator and no lifetime, so a browser fetches and
compiles them again on every visit: streamlit-folium's 225 KB ``main.<hash>.js`` on every
visit of the Map, in the page's own time (``docs/search.md``, "The Map under 0.5 s"). A
file whose name carries its content's hash (``main.521860b0.js``, ``787.1a2b3c4d.chunk.js``)
never changes under that name, so it may be kept for a year without asking again.

A component's ``index.html`` (the map's frame, created anew on every visit of the Map) is
kept for :data:`INDEX_LIFETIME` (5 minutes) instead of Streamlit's ``no-cache``: nothing in
the frame starts before it has come back, and it came back 10-165 ms after the frame was
created at 1M posts (the server is busy with the page's run just then; ``docs/search.md``,
"The Map's own run"). It changes only when the component is upgraded, which restarts the
dashboard; a browser that visited the Map in the 5 minutes before may then draw the old
frame for up to 5 minutes (a reload after that gets the new one). Every other response is
left as Streamlit made it: an un-hashed file (``leaflet-bundle.js``, ``bootstrap.min.css``)
could change with an upgrade.

Started by ``components/launch.py`` (``streamlit run components/launch.py``); a plain
``streamlit run app.py`` serves the same pages without it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

IMMUTABLE = "public, max-age=31536000, immutable"
"""A year (the longest lifetime RFC 9111 advises) and no revalidation on reload."""
INDEX_LIFETIME = "max-age=300"
"""A component's ``index.html``: reused for 5 minutes (the Map's frame on every visit)."""

# A component's file (``/component/NAME/...``, behind any base path) whose last name part
# before ``.js``/``.css`` (or ``.chunk.js``/``.chunk.css``) is 8 or more hex digits: the
# content hashes of create-react-app / webpack / Vite builds.
_HASHED = re.compile(r"/component/[^/]+/(?:[^/]+/)*[^/]*[.-][0-9a-f]{8,}(?:\.chunk)?\.(?:js|css)$")
_INDEX = re.compile(r"/component/[^/]+/index\.html$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_hashed_component_file(path: str) -> bool:
    """Whether ``path`` (a URL path) names a content-hashed file of a custom component."""
    return _HASHED.search(path) is not None


def is_component_index(path: str) -> bool:
    """Whether ``path`` (a URL path) is a custom component's ``index.html`` (its frame)."""
    return _INDEX.search(path) is not None


def cache_control(path: str, status: int, current: str | None) -> str | None:
    """The ``Cache-Control`` a response should carry: immutable for a hashed component
    file answered 200, :data:`INDEX_LIFETIME` for a component's ``index.html`` answered 200,
    else ``current`` unchanged (``None``: no header)."""
    if status == 200 and is_hashed_component_file(path):
        return IMMUTABLE
    if status == 200 and is_component_index(path):
        return INDEX_LIFETIME
    return current


class HashedComponentFilesImmutable:
    """ASGI middleware applying :func:`cache_control` to GET/HEAD responses (the name is
    older than the ``index.html`` lifetime).

    A plain ASGI class rather than Starlette's ``BaseHTTPMiddleware``: it touches only the
    response's first message, so websockets and streamed bodies pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        managed = is_hashed_component_file(path) or is_component_index(path)
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not managed:
            await self.app(scope, receive, send)
            return

        async def send_with_lifetime(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                current = next(
                    (v.decode("latin-1") for k, v in headers if k.lower() == b"cache-control"), None
                )
                wanted = cache_control(path, message["status"], current)
                if wanted != current:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", wanted.encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_lifetime)
