"""Load the bundled sample into a store and score it, live or from recorded scores.

The detector's end-to-end checks (``bench/sample_incidents.py`` and the sample test)
need the sample scored: the CPU scorer takes minutes on two shared cores, so its
outcomes are recorded once (``record_scores``) and replayed through the real
:class:`~pipelines.scoring.worker.ScoringWorker` (claims, ``store.score_queue.complete``, rollups)
by :class:`ReplayScorer`. Everything downstream (rollups, detector, incidents) is the
production code on a real store.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipelines.core.scores import Scores
from pipelines.scoring import Outcome, PostText


class ReplayScorer:
    """A scorer answering with recorded ``posts.scores`` documents (by post id).

    A post missing from the recording is an error outcome, so a stale recording shows
    up as failed posts rather than silently wrong scores.
    """

    kind = "replay"

    def __init__(self, recorded: Mapping[str, Mapping[str, Any]]) -> None:
        self.recorded = recorded

    def score(self, posts: Sequence[PostText]) -> list[Outcome]:
        out = []
        for p in posts:
            doc = self.recorded.get(p.id)
            if doc is None:
                out.append(Outcome(p.id, error=f"no recorded scores for {p.id}"))
            else:
                out.append(Outcome(p.id, scores=_scores(doc)))
        return out


def _scores(doc: Mapping[str, Any]) -> Scores:
    """Recorded scores as today's model; entities recorded under an older schema are dropped
    (the detector and incidents never read them)."""
    try:
        return Scores.model_validate(dict(doc))
    except ValidationError:
        return Scores.model_validate({k: v for k, v in doc.items() if k != "entities"})


def load_scores(path: Path) -> dict[str, dict[str, Any]]:
    """Recorded scores (``{post id: scores doc}``, gzip JSON)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
        raise ValueError(f"{path}: not a recorded-scores file (expected {{'scores': {{id: doc}}}})")
    return data["scores"]


def record_scores(store: Any, path: Path, note: str = "") -> int:
    """Write every scored post's scores to ``path`` (compact, deterministic order)."""
    scores: dict[str, Any] = {}
    for p in store.score_queue.iter_scored():
        sc = dict(p.get("scores") or {})
        sc.pop("rationale", None)
        scores[str(p["_id"])] = sc
    body = {"note": note, "scores": dict(sorted(scores.items()))}
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(json.dumps(body, separators=(",", ":"), default=str).encode())
    return len(scores)


def load_sample(store: Any, sample_dir: Path) -> int:
    """Import the bundled sample (idempotent); returns posts inserted."""
    from pipelines.ingest.archive import run_import

    stats = run_import(store, sample_dir)
    if stats.failed:
        raise ValueError(f"sample import failed: {'; '.join(stats.failed[:3])}")
    return stats.inserted


class _ScoredPosts:
    """The posts repository, but ``insert`` attaches recorded scores (status ``scored``) first.

    Why: on SecantusDB every post update is its own commit (~40 s per 1,000 posts on two
    busy cores), while inserts are batched; writing recorded scores at import time and
    recounting the score rollups (:func:`pipelines.scoring.worker.rebuild_rollups`, the
    production recount) costs seconds. Everything else is the wrapped repository.
    """

    def __init__(self, posts: Any, recorded: Mapping[str, Mapping[str, Any]]) -> None:
        self._posts = posts
        self._recorded = recorded

    def __getattr__(self, name: str) -> Any:
        return getattr(self._posts, name)

    def insert(self, docs: Sequence[dict[str, Any]]) -> Any:
        for d in docs:
            rec = self._recorded.get(str(d.get("_id")))
            if rec is not None:
                d["scores"] = _scores(rec).to_doc()
                d["status"] = "scored"
        return self._posts.insert(docs)


class _ScoredInserts:
    """A store whose ``posts`` is :class:`_ScoredPosts`; everything else is the wrapped store."""

    def __init__(self, store: Any, recorded: Mapping[str, Mapping[str, Any]]) -> None:
        self._store = store
        self.posts = _ScoredPosts(store.posts, recorded)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def load_scored(store: Any, sample_dir: Path, recorded: Mapping[str, Mapping[str, Any]]) -> int:
    """Import ``sample_dir`` with recorded scores and recount the score/place rollups.

    Returns posts inserted. Posts without a recording stay ``new`` (a scorer can take them).
    """
    from pipelines.scoring.worker import rebuild_rollups

    n = load_sample(_ScoredInserts(store, recorded), sample_dir)
    rebuild_rollups(store)
    return n


def score_all(store: Any, scorer: Any, batch: int = 256) -> int:
    """Score every new post with ``scorer`` through the real worker; returns posts scored."""
    from pipelines.scoring.worker import ScoringWorker

    worker = ScoringWorker(store, scorer, batch=batch, worker_id="sample-run")
    return worker.drain().scored
