"""``OllamaScorer``: scores posts with a local LLM through the official ``ollama`` client.

- The answer is constrained with ``format=`` = the JSON schema of :func:`response_model`
  (topic enum from the taxonomy, bounded arrays), then validated with pydantic again:
  a model can still emit something the schema forbids (a truncated answer, a missing id).
- Several posts per request (``OLLAMA_BATCH_POSTS``), ``AsyncClient`` with a concurrency
  limit (``OLLAMA_CONCURRENCY``), a timeout per request, retries with exponential backoff.
- Several hosts (``OLLAMA_HOST=http://a:11434,http://b:11434``) in round robin, each with
  its own circuit breaker. While no host is usable the batch goes to the fallback
  scorer (the CPU scorer), and back to Ollama once a half-open probe succeeds;
  ``scores.model`` says which one scored each post.
- An answer that never validates is quarantined (``kind="score"``) with the reason and the
  raw answer; the post is then scored by the fallback (``VIGIL_SCORE_INVALID_FALLBACK``)
  or counted as a failed attempt.

Places are taken from the answer as *names* and geocoded with the bundled gazetteer
(:mod:`.geo`), never from coordinates an LLM might invent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError, create_model

from pipelines.core.scores import (
    ENTITY_TYPES,
    MAX_ENTITIES,
    MAX_PLACES,
    MAX_RATIONALE_CHARS,
    MAX_TOPICS,
    Scores,
)
from pipelines.scoring import Outcome, PostText
from pipelines.scoring.entities import llm_entities
from pipelines.scoring.geo import extract_places
from pipelines.scoring.lang import UNKNOWN, LanguageDetector

log = logging.getLogger(__name__)

PROMPT_VERSION = "score_v2"
PROMPT_PATH = Path(__file__).parent / "prompts" / f"{PROMPT_VERSION}.txt"
MAX_POST_CHARS = 2000
"""Posts are cut to this many characters in the prompt (context and latency)."""


# --------------------------------------------------------------------------- schema


def response_model(topics: Sequence[str], max_posts: int) -> type[BaseModel]:
    """The pydantic model of one answer: ``{"results": [<one object per post>]}``."""
    topic_t = Literal[tuple(topics)]  # type: ignore[valid-type]
    entity_t = Literal[ENTITY_TYPES]  # type: ignore[valid-type]
    llm_entity = create_model(
        "LLMEntity",
        name=(str, Field(min_length=1, max_length=100)),
        type=(entity_t, ...),
    )
    llm_post = create_model(
        "LLMPostScores",
        id=(str, Field(min_length=1, max_length=12)),
        sentiment=(float, Field(ge=-1.0, le=1.0)),
        threat=(float, Field(ge=0.0, le=1.0)),
        hate=(float, Field(ge=0.0, le=1.0)),
        toxicity=(float, Field(ge=0.0, le=1.0)),
        topics=(list[topic_t], Field(min_length=1, max_length=MAX_TOPICS)),
        entities=(list[llm_entity], Field(max_length=MAX_ENTITIES)),  # type: ignore[valid-type]
        places=(list[str], Field(max_length=MAX_PLACES)),
        language=(str, Field(min_length=2, max_length=8)),
        rationale=(str, Field(max_length=MAX_RATIONALE_CHARS)),
    )
    return create_model(
        "LLMBatch",
        results=(list[llm_post], Field(min_length=1, max_length=max_posts)),  # type: ignore[valid-type]
    )


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every ``$ref`` to ``$defs`` replaced by its definition.

    Grammar-constrained decoders handle plain nested objects most reliably.
    """
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


class InvalidAnswer(ValueError):
    """The model answered, but not with a valid result for every post."""


# --------------------------------------------------------------------------- breaker


@dataclass
class CircuitBreaker:
    """Closed (use the host) -> open after ``threshold`` failures -> half-open after
    ``reset_after_s`` (one probe request) -> closed on success, open again on failure."""

    threshold: int = 3
    reset_after_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    state: str = "closed"
    opened_at: float = 0.0

    def allow(self) -> bool:
        if self.state == "open" and self.clock() - self.opened_at >= self.reset_after_s:
            self.state = "half-open"
            return True
        return self.state != "open"

    def success(self) -> None:
        if self.state != "closed":
            log.info("Ollama host answers again: circuit closed")
        self.failures, self.state = 0, "closed"

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.threshold:
            if self.state != "open":
                log.warning("Ollama host unreachable %d times: circuit open", self.failures)
            self.state, self.opened_at = "open", self.clock()


# --------------------------------------------------------------------------- scorer


@dataclass
class OllamaConfig:
    hosts: list[str]
    model: str = "qwen2.5:7b-instruct"
    topics: tuple[str, ...] = ()
    timeout_s: float = 60.0
    concurrency: int = 2
    batch_posts: int = 8
    retries: int = 2
    backoff_s: float = 0.5
    breaker_threshold: int = 3
    breaker_reset_s: float = 30.0
    invalid_fallback: bool = True
    options: dict[str, Any] = field(default_factory=lambda: {"temperature": 0})

    @classmethod
    def from_settings(cls, settings: Any) -> OllamaConfig:
        return cls(
            hosts=settings.ollama_hosts,
            model=settings.ollama_model,
            topics=tuple(settings.topics),
            timeout_s=settings.ollama_timeout_s,
            concurrency=settings.ollama_concurrency,
            batch_posts=settings.ollama_batch_posts,
            retries=settings.ollama_retries,
            invalid_fallback=settings.vigil_score_invalid_fallback,
        )


class OllamaScorer:
    """Scores posts through Ollama; ``fallback`` (a callable returning a scorer, loaded
    lazily) takes over while every host's circuit is open.

    ``score()`` is synchronous for the worker; it drives the async client on one
    persistent event loop (:class:`asyncio.Runner`) so connection pools are reused.
    """

    kind = "ollama"

    def __init__(self, config: OllamaConfig, fallback: Callable[[], Any] | None = None) -> None:
        if not config.hosts:
            raise ValueError("OLLAMA_HOST is empty: give at least one Ollama base URL")
        if not config.topics:
            raise ValueError("the topic taxonomy is empty: set VIGIL_TOPICS")
        self.config = config
        self.prompt = PROMPT_PATH.read_text(encoding="utf-8")
        self.schema_model = response_model(config.topics, config.batch_posts)
        self.schema = inline_refs(self.schema_model.model_json_schema())
        self.breakers = {
            h: CircuitBreaker(config.breaker_threshold, config.breaker_reset_s) for h in config.hosts
        }
        self._rr = itertools.cycle(config.hosts)
        self._fallback_factory = fallback
        self._fallback: Any = None
        self._clients: dict[str, Any] = {}
        self._runner: asyncio.Runner | None = None
        self._lang = LanguageDetector()
        self.stats = {"requests": 0, "retries": 0, "fallback_posts": 0, "invalid": 0, "timeouts": 0}

    @property
    def version(self) -> str:
        return f"ollama-{self.config.model}-{PROMPT_VERSION}"

    @property
    def model_id(self) -> str:
        return f"ollama:{self.config.model}"

    # ------------------------------------------------------------------ plumbing

    def _client(self, host: str) -> Any:
        from ollama import AsyncClient

        if host not in self._clients:
            self._clients[host] = AsyncClient(host=host, timeout=httpx.Timeout(self.config.timeout_s))
        return self._clients[host]

    def _pick_host(self) -> str | None:
        """Next host in round robin whose breaker lets a request through."""
        for _ in range(len(self.config.hosts)):
            host = next(self._rr)
            if self.breakers[host].allow():
                return host
        return None

    def fallback(self) -> Any:
        if self._fallback is None and self._fallback_factory is not None:
            log.info("loading the fallback scorer")
            self._fallback = self._fallback_factory()
        return self._fallback

    def close(self) -> None:
        if self._runner is not None:
            for c in self._clients.values():
                self._runner.run(c.close())
            self._runner.close()
            self._runner = None
        self._clients.clear()

    # ------------------------------------------------------------------ public

    def score(self, posts: Sequence[PostText]) -> list[Outcome]:
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self.ascore(posts))

    async def ascore(self, posts: Sequence[PostText]) -> list[Outcome]:
        """One outcome per post, in order; requests run ``concurrency`` at a time."""
        sem = asyncio.Semaphore(self.config.concurrency)
        size = self.config.batch_posts
        chunks = [list(posts[i : i + size]) for i in range(0, len(posts), size)]

        async def run(chunk: list[PostText]) -> list[Outcome]:
            async with sem:
                return await self._score_chunk(chunk)

        results = await asyncio.gather(*(run(c) for c in chunks))
        by_id = {o.post_id: o for chunk in results for o in chunk}
        return [by_id[p.id] for p in posts]

    async def list_models(self, host: str | None = None) -> list[str]:
        """Model tags a host has pulled (``/api/tags``)."""
        resp = await self._client(host or self.config.hosts[0]).list()
        return [m.model or "" for m in resp.models]

    async def embed(self, texts: Sequence[str], model: str, host: str | None = None) -> list[list[float]]:
        """Embeddings from an Ollama embedding model (``/api/embed``)."""
        resp = await self._client(host or self.config.hosts[0]).embed(model=model, input=list(texts))
        return [list(v) for v in resp.embeddings]

    # ------------------------------------------------------------------ one request

    def _messages(self, chunk: Sequence[PostText]) -> list[dict[str, str]]:
        items = [{"id": str(i), "text": p.full_text[:MAX_POST_CHARS]} for i, p in enumerate(chunk)]
        allowed = ", ".join(self.config.topics)
        return [
            {"role": "system", "content": self.prompt + f"\nAllowed topics: {allowed}."},
            {"role": "user", "content": json.dumps(items, ensure_ascii=False)},
        ]

    def _parse(self, raw: str, n: int) -> dict[int, Any]:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidAnswer(f"answer is not JSON ({exc.msg} at char {exc.pos})") from None
        try:
            batch = self.schema_model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise InvalidAnswer(f"answer does not match the schema: {where}: {first.get('msg')}") from None
        out: dict[int, Any] = {}
        for r in batch.results:  # type: ignore[attr-defined]
            if r.id.isdigit() and int(r.id) < n:
                out.setdefault(int(r.id), r)
        return out

    async def _score_chunk(self, chunk: list[PostText]) -> list[Outcome]:
        pending = dict(enumerate(chunk))
        done: dict[str, Outcome] = {}
        unreachable: str | None = None
        invalid: tuple[str, str] | None = None  # (reason, raw answer)
        for attempt in range(self.config.retries + 1):
            if not pending:
                break
            if attempt:
                self.stats["retries"] += 1
                await asyncio.sleep(self.config.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            host = self._pick_host()
            if host is None:
                unreachable = unreachable or "every Ollama host's circuit is open"
                break
            posts = list(pending.values())
            keys = list(pending)
            try:
                self.stats["requests"] += 1
                resp = await self._client(host).chat(
                    model=self.config.model,
                    messages=self._messages(posts),
                    format=self.schema,
                    options=self.config.options,
                    stream=False,
                )
            except (ConnectionError, httpx.TransportError, httpx.HTTPError, OSError) as exc:
                if isinstance(exc, httpx.TimeoutException):
                    self.stats["timeouts"] += 1
                self.breakers[host].failure()
                unreachable = f"ollama {host}: {type(exc).__name__}: {exc}"[:500]
                log.warning("%s", unreachable)
                continue
            except Exception as exc:  # ollama.ResponseError: 404 model missing, 500 ...
                status = getattr(exc, "status_code", -1)
                self.breakers[host].failure()
                unreachable = f"ollama {host}: HTTP {status}: {exc}"[:500]
                log.warning("%s", unreachable)
                continue
            self.breakers[host].success()
            unreachable = None
            raw = resp.message.content or ""
            try:
                parsed = self._parse(raw, len(posts))
            except InvalidAnswer as exc:
                self.stats["invalid"] += 1
                invalid = (str(exc), raw)
                log.warning("invalid Ollama answer (attempt %d): %s", attempt + 1, exc)
                continue
            for j, result in parsed.items():
                post = posts[j]
                done[post.id] = Outcome(post.id, scores=self._to_scores(post, result))
                pending.pop(keys[j], None)
            if pending:
                invalid = (f"answer has no result for {len(pending)} of {len(posts)} posts", raw)
        return [done.get(p.id) or self._give_up(p, unreachable, invalid) for p in chunk]

    def _give_up(self, post: PostText, unreachable: str | None, invalid: tuple[str, str] | None) -> Outcome:
        """No valid LLM answer for ``post``: quarantine what was bad, then fall back or fail."""
        quarantine = None
        if invalid is not None and unreachable is None:
            reason, raw = invalid
            quarantine = {
                "kind": "score",
                "reason": f"LLM answer rejected after {self.config.retries + 1} tries: {reason}",
                "raw": {"post_id": post.id, "model": self.config.model, "answer": raw[:20000]},
                "origin": self.model_id,
            }
            if not self.config.invalid_fallback:
                return Outcome(post.id, error=quarantine["reason"], quarantine=quarantine)
        fb = self.fallback()
        if fb is None:
            return Outcome(post.id, error=unreachable or "no valid answer", quarantine=quarantine)
        self.stats["fallback_posts"] += 1
        out = fb.score([post])[0]
        out.quarantine = quarantine
        return out

    def _to_scores(self, post: PostText, r: Any) -> Scores:
        text = post.full_text
        lang, _ = self._lang.detect(text)
        if lang == UNKNOWN and r.language.lower() not in ("und", ""):
            lang = r.language.lower()[:8]
        places = extract_places(text + "\n" + ", ".join(r.places)) if r.places else extract_places(text)
        topics = list(dict.fromkeys(r.topics))[:MAX_TOPICS]
        return Scores(
            sentiment=r.sentiment,
            threat=r.threat,
            hate=r.hate,
            toxicity=r.toxicity,
            topics=topics,
            entities=llm_entities(r.entities, places),
            places=places,
            language=lang,
            confidence="high",
            model=self.model_id,
            version=self.version,
            rationale=r.rationale.strip()[:MAX_RATIONALE_CHARS] or None,
        )
