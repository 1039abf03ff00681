"""Spider registry: one module per source kind, its ``type`` id is the spider's name.

A new platform is one new module here plus its kind in :data:`pipelines.ingest.sources.KINDS`
(a test checks that both lists agree and that every module imports).
"""

from __future__ import annotations

import importlib

SPIDER_TYPES: dict[str, str] = {
    "rss": "crawler.spiders.rss",
    "reddit": "crawler.spiders.reddit",
    "mastodon": "crawler.spiders.mastodon",
    "fourchan": "crawler.spiders.fourchan",
    "hackernews": "crawler.spiders.hackernews",
    "bluesky": "crawler.spiders.bluesky",
}


def spider_class(kind: str) -> type:
    """The spider class of a source kind (raises ``KeyError`` naming the kind)."""
    if kind not in SPIDER_TYPES:
        raise KeyError(f"no spider for source kind {kind!r}; known: {', '.join(SPIDER_TYPES)}")
    module = importlib.import_module(SPIDER_TYPES[kind])
    for obj in vars(module).values():
        if isinstance(obj, type) and obj.__module__ == module.__name__ and getattr(obj, "name", None) == kind:
            return obj
    raise KeyError(f"module {module.__name__} defines no spider named {kind!r}")
