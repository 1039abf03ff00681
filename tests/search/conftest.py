"""Posts for the search-index tests: random words from a small vocabulary, so queries hit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.core.text import content_hash, extract_terms

WORDS = [
    "flood", "fire", "calgary", "river", "alert", "emergency", "state", "road", "closed",
    "help", "evacuation", "evacuate", "water", "bridge", "#abflood", "@cityofcalgary", "of", "the",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", ", ", "! ", " - ", ". "]
SOURCES = ["twitter", "rss", "reddit"]
LANGS = ["en", "fr"]
START = datetime(2013, 6, 20, tzinfo=UTC)


def make_posts(n: int, seed: int = 7, prefix: str = "p") -> list[dict[str, Any]]:
    """``n`` posts over three days with random words, sources, languages and scores."""
    rnd = random.Random(seed)
    posts = []
    for i in range(n):
        words = rnd.choices(WORDS, k=rnd.randint(1, 9))
        text = words[0] + "".join(rnd.choice(SEPARATORS) + w for w in words[1:])
        source = rnd.choice(SOURCES)
        post: dict[str, Any] = {
            "_id": f"{source}:{prefix}{i}",
            "source": source,
            "native_id": f"{prefix}{i}",
            "ts": START + timedelta(minutes=rnd.randint(0, 3 * 24 * 60)),
            "text": text,
            "terms": extract_terms(text),
            "content_hash": content_hash(text + str(i)),
            "lang": rnd.choice(LANGS),
        }
        if rnd.random() < 0.8:
            post["scores"] = {
                "threat": round(rnd.random() * 0.9, 3),
                "sentiment": round(rnd.uniform(-1, 1), 3),
            }
        posts.append(post)
    return posts
