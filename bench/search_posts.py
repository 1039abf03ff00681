"""Resampled real posts for the search benchmark, generated in reproducible chunks.

Why chunks of columns: the benchmark must fill an index with 10M posts *and* check every
answer against an independent count, without holding 10M post dicts in memory. Each
chunk of :data:`CHUNK` posts is drawn by its own seeded generator, so the fill (post
dicts, :func:`posts`) and the check (numpy columns, :func:`chunk`) see the same posts.

Texts are real tweets: every CrisisLex T26 event, Davidson et al. and TweetEval from
``../shared/data`` when present (about 80,000 tweets), else the bundled sample
(``data/sample``). Each post draws a text with replacement; its time is uniform over 60
days; source (3), language (2) and scores (``threat`` uniform 0-1, ``sentiment``
uniform -1..1) are *synthetic*, and so are places: 30 % of posts name one of five
Canadian cities with coordinates jittered by up to 0.3 degrees, so filters on them have
a realistic selectivity, not real values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.core.text import extract_terms

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
START = datetime(2020, 9, 13, tzinfo=UTC)
SPAN_S = 60 * 24 * 3600
CHUNK = 100_000
SOURCES = ("twitter", "reddit", "rss")
LANGS = ("en", "fr")
CITIES = (("Calgary", 51.05, -114.07), ("Toronto", 43.65, -79.38), ("Montreal", 45.5, -73.57),
          ("Vancouver", 49.28, -123.12), ("Halifax", 44.65, -63.57))  # fmt: skip
PLACE_SHARE = 0.3
JITTER_DEG = 0.3


def _crisislex(root: Path) -> list[str]:
    out = []
    for f in sorted(root.glob("*/tweets_labeled.csv")):
        reader = csv.reader(io.StringIO(f.read_text(encoding="utf-8"), newline=""), skipinitialspace=True)
        next(reader, None)
        out.extend(r[1] for r in reader if len(r) >= 2)
    return out


def _davidson(f: Path) -> list[str]:
    if not f.is_file():
        return []
    reader = csv.reader(io.StringIO(f.read_text(encoding="utf-8"), newline=""))
    next(reader, None)
    return [r[-1] for r in reader if r]


def _tweeteval(root: Path) -> list[str]:
    return [
        line
        for f in sorted(root.glob("*/*_text.txt"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@dataclass(frozen=True)
class Corpus:
    """Distinct real texts and their ``terms`` (as the store computes them)."""

    texts: tuple[str, ...]
    terms: tuple[tuple[str, ...], ...]
    origin: str


@cache
def corpus() -> Corpus:
    """The real tweets the posts are drawn from (``../shared/data``, else the bundled sample)."""
    texts = _crisislex(SHARED / "crisislex_t26") if SHARED.is_dir() else []
    origin = "../shared/data (CrisisLex T26, Davidson, TweetEval)"
    if texts:
        texts += _davidson(SHARED / "davidson_hate_offensive" / "labeled_data.csv")
        texts += _tweeteval(SHARED / "tweeteval")
    else:
        from bench.ingest import base_rows

        texts, origin = [r[1] for r in base_rows()], "data/sample"
    texts = sorted({t for t in texts if t.strip()})
    return Corpus(tuple(texts), tuple(tuple(extract_terms(t)) for t in texts), origin)


def chunk(k: int, n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Columns of posts ``k * CHUNK`` .. ``min(n, (k + 1) * CHUNK) - 1`` (chunk ``k`` of ``n``)."""
    lo, hi = k * CHUNK, min(n, (k + 1) * CHUNK)
    m = hi - lo
    rng = np.random.default_rng([seed, k])
    place = np.where(rng.random(m) < PLACE_SHARE, rng.integers(0, len(CITIES), m), -1)
    lat = np.array([c[1] for c in CITIES])[np.maximum(place, 0)] + rng.uniform(-JITTER_DEG, JITTER_DEG, m)
    lon = np.array([c[2] for c in CITIES])[np.maximum(place, 0)] + rng.uniform(-JITTER_DEG, JITTER_DEG, m)
    return {
        "i": np.arange(lo, hi, dtype=np.int64),
        "text": rng.integers(0, len(corpus().texts), m),
        "ts": int(START.timestamp()) + rng.integers(0, SPAN_S, m),
        "source": rng.integers(0, len(SOURCES), m),
        "lang": np.where(rng.random(m) < 0.75, 0, 1),
        "threat": rng.random(m),
        "sentiment": rng.uniform(-1.0, 1.0, m),
        "place": place,
        "lat": lat,
        "lon": lon,
    }


def chunks(n: int, seed: int = 7) -> Iterator[dict[str, np.ndarray]]:
    """Every chunk of ``n`` posts, in order."""
    for k in range((n + CHUNK - 1) // CHUNK):
        yield chunk(k, n, seed)


def post_id(i: int) -> str:
    return f"bench:{i}"


def posts_of(cols: dict[str, np.ndarray]) -> Iterator[dict[str, Any]]:
    """The chunk's posts as the store holds them (``seq`` = row + 1)."""
    c = corpus()
    rows = zip(*(cols[k].tolist() for k in ("i", "text", "ts", "source", "lang", "threat", "sentiment",
                                            "place", "lat", "lon")), strict=True)  # fmt: skip
    for i, t, ts, src, lang, threat, sentiment, place, lat, lon in rows:
        scores: dict[str, Any] = {"threat": threat, "sentiment": sentiment}
        if place >= 0:
            scores["places"] = [{"name": CITIES[place][0], "lat": lat, "lon": lon}]
        yield {
            "_id": post_id(i),
            "source": SOURCES[src],
            "lang": LANGS[lang],
            "ts": datetime.fromtimestamp(ts, UTC),
            "text": c.texts[t],
            "terms": list(c.terms[t]),
            "seq": i + 1,
            "scores": scores,
        }


def posts(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """All ``n`` posts in ``seq`` order."""
    for cols in chunks(n, seed):
        yield from posts_of(cols)
