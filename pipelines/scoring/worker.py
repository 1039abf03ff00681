"""The scorer worker: claim posts with a lease, score them, write scores and rollups.

Crash safety, step by step (any step may be the last one a SIGKILL lets run):

1. ``store.score_queue.claim``: posts go ``new -> claimed`` with ``lease_until``, ``worker`` and a fresh
   claim token. A heartbeat thread extends the lease while the batch is being scored.
2. Scoring happens in memory; nothing is written yet. Killed here, the posts stay
   ``claimed`` until the lease expires, then any worker claims them again.
3. ``score_queue.complete``: one conditional update per post (still claimed under *my* token)
   sets ``status="scored"``, the scores and ``rollup_pending=<token>``. A post can be
   moved to ``scored`` once only.
4. ``score_queue.apply_rollups``: ``$inc`` upserts guarded by the token, then the posts' pending
   mark is cleared. Killed between 3 and 4, the next worker's recovery pass
   (:meth:`ScoringWorker.recover_rollups`) re-applies the batch from the marked posts;
   the guard makes a second application a no-op. Rollups therefore count each scored
   post exactly once.
5. Failures: ``score_queue.fail`` counts an attempt; the third failure sets ``failed`` with the
   error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pipelines.scoring import Outcome, PostText
from pipelines.scoring.rollups import as_documents, contributions

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    claimed: int = 0
    scored: int = 0
    retry: int = 0
    failed: int = 0
    quarantined: int = 0
    models: dict[str, int] = field(default_factory=dict)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ScoringWorker:
    """One worker process's loop over the ``posts`` job queue.

    Parameters
    ----------
    store:
        A :class:`pipelines.store.Store`.
    scorer:
        Anything with ``score(list[PostText]) -> list[Outcome]`` (CPU or Ollama scorer).
    """

    def __init__(
        self,
        store: Any,
        scorer: Any,
        *,
        batch: int = 64,
        lease_s: float = 300.0,
        max_attempts: int = 3,
        worker_id: str | None = None,
        max_claims: int = 6,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.batch = batch
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.max_claims = max_claims
        self.worker_id = worker_id or default_worker_id()
        self.totals = BatchReport()

    @contextlib.contextmanager
    def _heartbeat(self, token: str) -> Iterator[None]:
        """Extend the lease every third of its length while a batch is scored."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_s / 3):
                with contextlib.suppress(Exception):
                    self.store.score_queue.extend_lease(token, self.lease_s)

        t = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join(timeout=5)

    def run_once(self) -> BatchReport:
        """Claim one batch and carry it through to scores and rollups."""
        rep = BatchReport()
        token, docs = self.store.score_queue.claim(
            self.worker_id, self.batch, self.lease_s, max_claims=self.max_claims
        )
        rep.claimed = len(docs)
        if not docs:
            return rep
        posts = [PostText.from_doc(d) for d in docs]
        with self._heartbeat(token):
            try:
                outcomes = self.scorer.score(posts)
            except Exception as exc:  # a scorer bug must count attempts, not loop forever
                log.exception("scorer raised on a batch of %d posts", len(posts))
                outcomes = [Outcome(p.id, error=f"scorer error: {type(exc).__name__}: {exc}") for p in posts]
        records = [o.quarantine for o in outcomes if o.quarantine]
        if records:
            self.store.quarantine.add_many(records)
            rep.quarantined = len(records)
        ok = [(o.post_id, o.scores.to_doc()) for o in outcomes if o.scores is not None]
        moved = self.store.score_queue.complete(token, ok)
        self.store.score_queue.apply_rollups(token, contributions(moved))
        rep.scored = len(moved)
        for m in moved:
            name = m["scores"]["model"]
            rep.models[name] = rep.models.get(name, 0) + 1
        failures = [(o.post_id, o.error or "unknown error") for o in outcomes if o.scores is None]
        if failures:
            res = self.store.score_queue.fail(token, failures, self.max_attempts)
            rep.retry, rep.failed = res["retry"], res["failed"]
        self._add(rep)
        log.info(
            "batch: claimed %d, scored %d, retry %d, failed %d, quarantined %d (%s)",
            rep.claimed,
            rep.scored,
            rep.retry,
            rep.failed,
            rep.quarantined,
            ", ".join(f"{k}: {v}" for k, v in rep.models.items()) or "-",
        )
        return rep

    def _add(self, rep: BatchReport) -> None:
        t = self.totals
        t.claimed += rep.claimed
        t.scored += rep.scored
        t.retry += rep.retry
        t.failed += rep.failed
        t.quarantined += rep.quarantined
        for k, v in rep.models.items():
            t.models[k] = t.models.get(k, 0) + v

    def recover_rollups(self, older_than_s: float | None = None) -> int:
        """Apply rollups of batches a dead worker scored but did not count; returns batches."""
        age = self.lease_s if older_than_s is None else older_than_s
        n = 0
        for token in self.store.score_queue.pending_rollup_tokens(age):
            posts = self.store.score_queue.posts_pending_rollup(token)
            self.store.score_queue.apply_rollups(token, contributions(posts))
            n += 1
        if n:
            log.warning("re-applied rollups of %d batch(es) left by a crashed worker", n)
        self.store.score_queue.fail_stuck(self.max_claims)
        return n

    def drain(self, stop: threading.Event | None = None) -> BatchReport:
        """Score until nothing is claimable (``score --once``)."""
        self.recover_rollups()
        while not (stop and stop.is_set()):
            if self.run_once().claimed == 0:
                break
        return self.totals

    def loop(self, stop: threading.Event, idle_s: float = 2.0, recover_every_s: float = 60.0) -> BatchReport:
        """Score forever (``score --loop``) until ``stop`` is set; sleeps ``idle_s`` when idle."""
        last_recover = 0.0
        while not stop.is_set():
            if time.monotonic() - last_recover > recover_every_s:
                with contextlib.suppress(Exception):
                    self.recover_rollups()
                last_recover = time.monotonic()
            try:
                rep = self.run_once()
            except Exception:
                log.exception("scoring batch failed; retrying after a pause")
                stop.wait(min(30.0, idle_s * 5))
                continue
            if rep.claimed == 0:
                stop.wait(idle_s)
        return self.totals


def recount_rollups(store: Any) -> dict[str, dict[str, Any]]:
    """The ``score``/``place`` rollup documents recomputed from every scored post."""
    return as_documents(contributions(store.score_queue.iter_scored()))


def rebuild_rollups(store: Any) -> int:
    """Replace the ``score``/``place`` rollups with a recount (run with workers stopped)."""
    docs = list(recount_rollups(store).values())
    return store.rollups.replace_score(docs)


def build_scorer(settings: Any, kind: str | None = None) -> Any:
    """The scorer ``VIGIL_SCORER`` asks for: ``cpu``, ``ollama`` (no fallback) or ``auto``."""
    kind = kind or settings.vigil_scorer
    topics = settings.topics

    def cpu() -> Any:
        from pipelines.scoring.cpu import CpuScorer

        return CpuScorer(topics=topics, threads=settings.vigil_score_threads)

    if kind == "cpu":
        return cpu()
    from pipelines.scoring.llm import OllamaConfig, OllamaScorer

    return OllamaScorer(OllamaConfig.from_settings(settings), fallback=cpu if kind == "auto" else None)
