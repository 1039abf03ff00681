"""Real receivers on 127.0.0.1 that stand in for Slack, Telegram, webhook endpoints and SMTP.

- :class:`HttpReceiver`: a threaded HTTP server recording every request (path, headers, raw
  body) and answering with scripted status codes (e.g. 500 then 200), optionally slowly.
  Paths under ``/bot<token>/`` answer like the Telegram Bot API (``{"ok": true, ...}``).
- :class:`SmtpReceiver`: an ``aiosmtpd`` server recording each message (with AUTH LOGIN/PLAIN
  accepted for one user), as an SMTP relay would receive it.
"""

from __future__ import annotations

import email
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipelines.core.post import build_post
from pipelines.store import Store
from tests.conftest import free_port


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    script: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    delay_s: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def respond(self, path: str, *codes: int) -> None:
        """Answer the next requests to ``path`` with these codes (then 200)."""
        self.script[path].extend(codes)

    def received(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, path: str, n: int = 1, timeout_s: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: expected {n} request(s), got {len(self.received(path))}")


def _handler(rec: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                rec.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                code = rec.script[self.path].popleft() if rec.script[self.path] else 200
            if rec.delay_s.get(self.path):
                time.sleep(rec.delay_s[self.path])
            if self.path.startswith("/bot"):
                ok = code < 300
                payload = (
                    {"ok": ok, "result": {"message_id": len(rec.requests)}}
                    if ok
                    else {
                        "ok": False,
                        "error_code": code,
                        "description": "Bad Request: chat not found"
                        if code == 400
                        else "Internal Server Error",
                    }
                )
                out = json.dumps(payload).encode()
                ctype = "application/json"
            else:
                out = b"ok" if code < 300 else b"server error"
                ctype = "text/plain"
            try:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@pytest.fixture()
def http_receiver() -> Iterator[HttpReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), BaseHTTPRequestHandler)
    rec = HttpReceiver(server)
    server.RequestHandlerClass = _handler(rec)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield rec
    server.shutdown()
    server.server_close()


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw)


class _Recorder:
    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        )
        return "250 Message accepted for delivery"


SMTP_USER, SMTP_PASSWORD = "vigil", "s3cret-pass"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@dataclass
class SmtpReceiver:
    controller: Controller
    recorder: _Recorder

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def mails(self) -> list[Mail]:
        return self.recorder.mails


@pytest.fixture()
def smtp_receiver() -> Iterator[SmtpReceiver]:
    rec = _Recorder()
    ctl = Controller(rec, hostname="127.0.0.1", port=free_port(), authenticator=_auth, auth_require_tls=False)
    ctl.start()
    yield SmtpReceiver(ctl, rec)
    ctl.stop()


# --------------------------------------------------------------------------- data


class Clock:
    """An injectable wall clock that tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


T0 = datetime(2013, 6, 20, 12, 0, tzinfo=UTC)


def make_post(
    i: int,
    text: str,
    *,
    ts: datetime | None = None,
    source: str = "rss",
    lang: str = "en",
    lat: float | None = None,
    lon: float | None = None,
    scores: dict[str, Any] | None = None,
    status: str = "scored",
    url: str | None = None,
    scored_at: datetime | None = None,
) -> dict[str, Any]:
    """A post document as the scorer leaves it (status scored, ``scores`` set)."""
    doc = build_post(
        source=source,
        native_id=str(i),
        ts=ts or T0 + timedelta(minutes=i),
        text=text,
        lang=lang,
        lat=lat,
        lon=lon,
        url=url or f"https://example.org/{source}/{i}",
        author=f"user{i}",
        now=datetime(2030, 1, 1, tzinfo=UTC),
    ).to_doc()
    doc["status"] = status
    if scored_at is not None:
        doc["scored_at"] = scored_at
    if status == "scored":
        doc["scores"] = {
            "sentiment": 0.0,
            "threat": 0.0,
            "hate": 0.0,
            "toxicity": 0.0,
            "places": [],
            **(scores or {}),
        }
    return doc


def seed(store: Store, docs: list[dict[str, Any]]) -> None:
    store.posts.upsert(docs)
