"""A reference receiver for Vigil's signed webhooks (and ``alerts receiver``, a local demo).

:func:`verify` is what any receiver should do with a request: check the HMAC-SHA256 of the
raw body in constant time, then check that the signed ``timestamp`` is recent and that the
delivery ``id`` was not seen before (replay). docs/alerts.md shows the same in a few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_AGE_S = 300


class Rejected(ValueError):
    """A request that must be refused; the message says why."""


class ReplayGuard:
    """Remembers recent delivery ids (bounded) to refuse a replayed request."""

    def __init__(self, size: int = 10_000) -> None:
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.size = size

    def check(self, delivery_id: str) -> None:
        if delivery_id in self.seen:
            raise Rejected(f"delivery {delivery_id} was already received (replay)")
        self.seen[delivery_id] = None
        while len(self.seen) > self.size:
            self.seen.popitem(last=False)


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float | None = None,
    guard: ReplayGuard | None = None,
) -> dict[str, Any]:
    """The parsed body of a genuine, fresh, first-time delivery; raises :class:`Rejected`."""
    h = {k.lower(): v for k, v in headers.items()}
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, h.get("x-vigil-signature", "")):
        raise Rejected("bad signature")
    payload = json.loads(body)
    ts = int(payload.get("timestamp", 0))
    if str(ts) != h.get("x-vigil-timestamp"):
        raise Rejected("timestamp header does not match the signed body")
    if abs((now if now is not None else time.time()) - ts) > MAX_AGE_S:
        raise Rejected(f"stale request (timestamp {ts})")
    if guard is not None:
        guard.check(str(payload.get("id")))
    return payload


def serve(
    port: int, secret: str, on_alert: Callable[[dict[str, Any]], None], host: str = "127.0.0.1"
) -> None:
    """Listen on ``host:port`` until interrupted; verified alerts go to ``on_alert``."""
    guard = ReplayGuard()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = verify(secret, body, dict(self.headers.items()), guard=guard)
            except (Rejected, ValueError) as exc:
                self.send_response(401)
                self.end_headers()
                self.wfile.write(str(exc).encode())
                return
            on_alert(payload)
            self.send_response(204)
            self.end_headers()

    with ThreadingHTTPServer((host, port), Handler) as server:
        server.serve_forever()
