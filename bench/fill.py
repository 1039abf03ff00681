"""Fill a store with N resampled real posts for the dashboard benchmark (not for tests).

Base posts are the labelled CrisisLexT26 tweets in ``../shared/data``, else the bundled
sample (``data/sample``, a subset of the same). Each copy gets a new id, a new time
(the last 30 days before now, with a daily cycle) and the scores of its base post:
sentiment from VADER and toxicity from alt-profanity-check (both real, offline, fast),
hate and threat from the same toxicity and a short word list, places from
:func:`pipelines.scoring.geo.extract_places` when the scoring package is there. This is
a benchmark fixture: the scores only need a realistic spread, not the scorer's quality.
Posts go in with plain ``insert_many`` (it's a bench), and the rollups (``ingest``,
``score``, ``place``) are counted in Python while generating and written at the end.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.models import build_post, tweet_id_to_datetime
from pipelines.store import Store, hour_floor

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "crisislex_t26"
THREAT_WORDS = re.compile(
    r"\b(kill|killed|bomb|bombing|shoot|shooting|attack|explosion|dead|die|threat|gun)\b", re.I
)
SCORE_KEYS = ("sentiment", "threat", "hate", "toxicity")
HIGH = {"sentiment": -0.5, "threat": 0.5, "hate": 0.5, "toxicity": 0.5}


def _source_of(event: str) -> str:
    kind = event.lower().split("_", 2)[-1]
    for word in ("flood", "earthquake", "fire", "bomb", "typhoon", "explosion", "derailment", "collapse"):
        if word in kind:
            return f"cl-{word}"
    return "cl-other"


def base_records() -> list[dict[str, Any]]:
    """``{source, text, lang}`` dicts of real posts to resample.

    The full labelled CrisisLexT26 in ``../shared/data`` when present (19,601 posts),
    else the bundled sample (``data/sample/<event>/tweets_labeled.csv.gz``).
    """
    files = sorted(SHARED.glob("*/tweets_labeled.csv")) if SHARED.is_dir() else []
    if not files:
        files = sorted((REPO / "data" / "sample").glob("*/tweets_labeled.csv.gz"))
    out: list[dict[str, Any]] = []
    for f in files:
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                if len(row) >= 2 and row[1].strip():
                    out.append({"source": _source_of(f.parent.name), "text": row[1], "lang": "en"})
    if not out:
        raise SystemExit(f"no base posts: neither data/sample/*/tweets_labeled.csv.gz nor {SHARED} exists")
    return out


def score_bases(bases: list[dict[str, Any]]) -> None:
    """Attach ``scores`` to every base record (once; copies reuse them)."""
    from profanity_check import predict_prob
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    try:
        from pipelines.scoring.geo import extract_places
    except ImportError:  # scoring not there yet: no places
        extract_places = None
    vader = SentimentIntensityAnalyzer()
    tox = predict_prob([b["text"] for b in bases])
    for b, t in zip(bases, tox, strict=True):
        threat = min(1.0, 0.35 * len(THREAT_WORDS.findall(b["text"])))
        places = []
        if extract_places is not None:
            places = [p.model_dump(exclude_none=True) for p in extract_places(b["text"])]
        b["scores"] = {
            "sentiment": round(vader.polarity_scores(b["text"])["compound"], 4),
            "threat": round(threat, 4),
            "hate": round(float(t) * 0.6, 4),
            "toxicity": round(float(t), 4),
            "topics": ["crisis/disaster"],
            "places": places,
            "language": b.get("lang") or "en",
            "confidence": "high",
            "model": "bench:vader+profanity",
            "version": "bench-1",
        }


def _times(n: int, end: datetime, days: int, rng: random.Random) -> Iterator[datetime]:
    span = days * 86_400
    for _ in range(n):
        while True:
            s = rng.random() * span
            t = end - timedelta(seconds=s)
            # A daily cycle: twice as many posts in the afternoon as at night.
            if rng.random() < 0.5 + 0.5 * math.sin(math.pi * ((t.hour + 18) % 24) / 24):
                yield t
                break


def fill(store: Store, n: int, days: int = 30, batch: int = 10_000, seed: int = 7) -> dict[str, float]:
    """Insert ``n`` posts and their rollups; returns timings."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    bases = base_records()
    docs0 = []
    for i, b in enumerate(bases):
        try:
            p = build_post(
                source=b["source"], native_id=f"base{i}", ts=tweet_id_to_datetime(1 << 60), text=b["text"]
            )
        except Exception:  # a base that is not a valid post is skipped
            continue
        d = p.to_doc()
        d["lang"] = b.get("lang") or "en"
        docs0.append((d, b))
    score_bases([b for _, b in docs0])
    t_prep = time.perf_counter() - t0
    end = datetime.now(UTC)
    ingest: dict[tuple[datetime, str], int] = defaultdict(int)
    score: dict[tuple[datetime, str, str], dict[str, Any]] = {}
    place: dict[tuple[datetime, str, str | None], dict[str, Any]] = {}
    t1 = time.perf_counter()
    buf: list[dict[str, Any]] = []
    for i, ts in enumerate(_times(n, end, days, rng)):
        base, b = docs0[rng.randrange(len(docs0))]
        d = dict(base)
        d["_id"] = f"{d['source']}:bench{i}"
        d["native_id"] = f"bench{i}"
        d["ts"] = ts
        d["status"] = "scored"
        d["scores"] = b["scores"]
        buf.append(d)
        h = hour_floor(ts)
        ingest[(h, d["source"])] += 1
        sc = b["scores"]
        agg = score.setdefault(
            (h, d["source"], d["lang"]),
            {
                "n": 0,
                "sum": dict.fromkeys(SCORE_KEYS, 0.0),
                "high": dict.fromkeys(SCORE_KEYS, 0),
                "topics": {},
            },
        )
        agg["n"] += 1
        for k in SCORE_KEYS:
            agg["sum"][k] += sc[k]
            hit = sc[k] <= HIGH[k] if k == "sentiment" else sc[k] >= HIGH[k]
            agg["high"][k] += int(hit)
        for tp in sc["topics"]:
            agg["topics"][tp.replace("/", "_")] = agg["topics"].get(tp.replace("/", "_"), 0) + 1
        for p in sc["places"]:
            pa = place.setdefault(
                (h, p["name"], p.get("country")),
                {"lat": p["lat"], "lon": p["lon"], "n": 0, "sum": dict.fromkeys(SCORE_KEYS, 0.0)},
            )
            pa["n"] += 1
            for k in SCORE_KEYS:
                pa["sum"][k] += sc[k]
        if len(buf) >= batch:
            store.db.posts.insert_many(buf, ordered=False)
            buf = []
    if buf:
        store.db.posts.insert_many(buf, ordered=False)
    t_posts = time.perf_counter() - t1
    t2 = time.perf_counter()
    rollups = [
        {"_id": f"ingest|{h.isoformat()}|{s}", "kind": "ingest", "hour": h, "source": s, "n": c}
        for (h, s), c in ingest.items()
    ]
    rollups += [
        {
            "_id": f"score|{h.isoformat()}|{s}|{lang}",
            "kind": "score",
            "hour": h,
            "source": s,
            "lang": lang,
            **a,
        }
        for (h, s, lang), a in score.items()
    ]
    rollups += [
        {"_id": f"place|{h.isoformat()}|{p}|{c}", "kind": "place", "hour": h, "place": p, "country": c, **a}
        for (h, p, c), a in place.items()
    ]
    for i in range(0, len(rollups), batch):
        store.db.rollups.insert_many(rollups[i : i + batch], ordered=False)
    return {
        "base_posts": len(docs0),
        "prepare_s": t_prep,
        "insert_posts_s": t_posts,
        "insert_rollups_s": time.perf_counter() - t2,
        "rollup_docs": len(rollups),
    }
