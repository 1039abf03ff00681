"""A loopback stand-in for an Ollama server: ``/api/tags``, ``/api/chat``, ``/api/embed``.

No Ollama binary or LLM weights can be installed here, so tests run the real ``ollama``
client over real HTTP against this server. Its answers are real computations: the CPU
scorer scores the posts of each chat request, and the answer is built to the JSON
schema sent in ``format`` and checked against it with ``jsonschema`` before it is sent
(a schema the stand-in cannot satisfy is a 500, so a broken schema fails tests).

Faults for tests: ``mode`` = ``"ok"`` | ``"malformed"`` (truncated JSON) |
``"schema"`` (valid JSON breaking the schema) | ``"error"`` (HTTP 500); ``delay_s`` makes
every chat answer late; :meth:`down` / :meth:`up` stop and restart listening on the same
port (connection refused in between).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema


class OllamaStandIn:
    def __init__(
        self, scorer: Any, model: str = "qwen2.5:7b-instruct", port: int = 0, validate: bool = True
    ) -> None:
        self.scorer = scorer
        self.validate = validate  # bench/score.py turns it off to time the client side only
        self.model = model
        self.mode = "ok"
        self.systems: list[str] = []  # the system prompt of every chat request
        self.delay_s = 0.0
        self.requests: Counter[str] = Counter()
        self.formats: list[Any] = []
        self.posts_seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def up(self) -> OllamaStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                standin._conns.add(self.connection)

            def finish(self) -> None:
                standin._conns.discard(self.connection)
                super().finish()

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def do_GET(self) -> None:
                standin.requests[self.path] += 1
                if self.path == "/api/tags":
                    self._send(200, standin.tags())
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                standin.requests[self.path] += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                try:
                    if self.path == "/api/chat":
                        status, answer = standin.chat(body)
                    elif self.path == "/api/embed":
                        status, answer = standin.embed(body)
                    else:
                        status, answer = 404, {"error": "not found"}
                except Exception as exc:  # a stand-in bug must show up as a server error
                    status, answer = 500, {"error": f"stand-in: {type(exc).__name__}: {exc}"}
                self._send(status, answer)

        server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening and cut open keep-alive connections (a dead server, not a busy one)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        self._conns.clear()

    # ------------------------------------------------------------------ endpoints

    def tags(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": self.model,
                    "model": self.model,
                    "modified_at": "2025-01-01T00:00:00Z",
                    "size": 4_683_087_332,
                    "digest": "sha256:" + "0" * 64,
                    "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B"},
                }
            ]
        }

    def embed(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        with self._lock:
            vecs = self.scorer.fx.embedder.embed(texts)
        return 200, {"model": body.get("model"), "embeddings": vecs.tolist()}

    def chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("model") != self.model:
            return 404, {"error": f"model '{body.get('model')}' not found"}
        fmt = body.get("format")
        self.formats.append(fmt)
        self.systems.append(
            next((m["content"] for m in body.get("messages", []) if m.get("role") == "system"), "")
        )
        if not isinstance(fmt, dict):
            return 400, {"error": "this stand-in answers only requests with a JSON schema format"}
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.mode == "error":
            return 500, {"error": "stand-in: simulated server error"}
        items = json.loads(body["messages"][-1]["content"])
        for it in items:
            self.posts_seen[it["text"]] += 1
        if self.mode == "malformed":
            content = '{"results": [{"id": "0", "sentiment": 0.3, "threat": '
        else:
            answer = self._answer(items, fmt)
            if self.mode == "schema":
                answer["results"][0]["sentiment"] = 7.5  # out of the schema's range
            elif self.validate:
                jsonschema.validate(answer, fmt)
            content = json.dumps(answer)
        return 200, {
            "model": self.model,
            "created_at": datetime.now(UTC).isoformat(),
            "message": {"role": "assistant", "content": content},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1,
            "eval_count": len(content) // 4,
        }

    def _answer(self, items: list[dict[str, str]], fmt: dict[str, Any]) -> dict[str, Any]:
        props = fmt["properties"]["results"]["items"]["properties"]
        allowed = props["topics"]["items"]["enum"]
        with self._lock:
            scores = self.scorer.score_texts([it["text"] for it in items])
        results = []
        for it, s in zip(items, scores, strict=True):
            topics = [t for t in s.topics if t in allowed] or [allowed[-1]]
            results.append(
                {
                    "id": it["id"],
                    "sentiment": s.sentiment,
                    "threat": s.threat,
                    "hate": s.hate,
                    "toxicity": s.toxicity,
                    "topics": topics[: props["topics"].get("maxItems", 4)],
                    "entities": [{"name": e.name[:100], "type": e.type} for e in s.entities][
                        : props["entities"].get("maxItems", 12)
                    ],
                    "places": [p.name for p in s.places][: props["places"].get("maxItems", 8)],
                    "language": s.language if len(s.language) >= 2 else "und",
                    "rationale": "stand-in: computed by the CPU scorer",
                }
            )
        return {"results": results}
