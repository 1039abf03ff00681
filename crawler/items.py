"""What spiders yield: raw fields of one post, before cleaning and validation.

Spiders fill these from what they parsed and nothing more; the item pipeline
(:mod:`crawler.pipelines`) cleans the text, validates with
:func:`pipelines.core.post.build_post` and stores. ``raw`` keeps the parsed record so a
rejected item can be quarantined with its payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TextFormat = Literal["html", "text", "escaped"]
"""How a text field is encoded: HTML markup, plain text, or plain text with HTML entities
(Reddit's public JSON without ``raw_json=1``)."""


@dataclass
class PostItem:
    """One post as a spider read it; ``source`` is the source's name in ``sources``."""

    source: str
    native_id: str
    ts: Any = None
    text: str | None = None
    title: str | None = None
    url: str | None = None
    author: str | None = None
    lang: str | None = None
    lat: Any = None
    lon: Any = None
    engagement: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    text_format: TextFormat = "text"
    title_format: TextFormat = "text"
    ts_fallback: Any = None
    """Used when ``ts`` is missing (a feed without dates): ``meta.ts_estimated`` is set."""
    raw: Any = None


@dataclass
class RejectedItem:
    """Something a spider could not turn into posts at all (e.g. a body that is no feed)."""

    source: str
    reason: str
    raw: Any = None
    origin: str | None = None
