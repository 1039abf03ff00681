"""Fill a store with N resampled real posts for the dashboard benchmark (not for tests).

Base posts are the labelled CrisisLexT26 tweets in ``../shared/data``, else the bundled
sample (``data/sample``, a subset of the same). Each copy gets a new id, a new time
(the last 30 days before now, with a daily cycle) and the scores of its base post:
sentiment from VADER and toxicity from alt-profanity-check (both real, offline, fast),
hate and threat from the same toxicity and a short word list, places from
:func:`pipelines.scoring.geo.extract_places` when the scoring package is there. This is
a benchmark fixture: the scores only need a realistic spread, not the scorer's quality.
Posts go in already scored with large unordered ``insert_many`` batches (no per-post
round trip; the server's cost is its index maintenance, about 1 ms of server CPU per post
for the 10 indexes on ``posts``), and the rollups (``ingest``, ``score``, ``place``) are
counted in Python in the same pass and written at the end. The fill is resumable: its
parameters and progress live in ``meta`` (:data:`FILL_META`), see :func:`fill`.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import re
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.core.post import build_post, tweet_id_to_datetime
from pipelines.store import Store, hour_floor

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "crisislex_t26"
THREAT_WORDS = re.compile(
    r"\b(kill|killed|bomb|bombing|shoot|shooting|attack|explosion|dead|die|threat|gun)\b", re.I
)
SCORE_KEYS = ("sentiment", "threat", "hate", "toxicity")
HIGH = {"sentiment": -0.5, "threat": 0.5, "hate": 0.5, "toxicity": 0.5}
FILL_META = "bench_fill"
"""``meta`` key of the fill's parameters and progress (what makes it resumable)."""


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


def _times(n: int, end: datetime, days: int, rng: random.Random) -> list[datetime]:
    """``n`` times in the ``days`` before ``end`` with a daily cycle, oldest first.

    Sorted because posts reach a live store roughly in time order (the crawler and the
    importers insert what they fetch), so the store's physical order follows time as it
    would in production.
    """
    span = days * 86_400
    out: list[datetime] = []
    while len(out) < n:
        t = end - timedelta(seconds=rng.random() * span)
        # A daily cycle: twice as many posts in the afternoon as at night.
        if rng.random() < 0.5 + 0.5 * math.sin(math.pi * ((t.hour + 18) % 24) / 24):
            out.append(t)
    out.sort()
    return out


class _Rollups:
    """The ``ingest`` / ``score`` / ``place`` rollups of the generated posts, counted in Python."""

    def __init__(self) -> None:
        self.ingest: dict[tuple[datetime, str], int] = defaultdict(int)
        self.score: dict[tuple[datetime, str, str], dict[str, Any]] = {}
        self.place: dict[tuple[datetime, str, str | None], dict[str, Any]] = {}

    def add(self, ts: datetime, source: str, lang: str, sc: dict[str, Any]) -> None:
        h = hour_floor(ts)
        self.ingest[(h, source)] += 1
        agg = self.score.get((h, source, lang))
        if agg is None:
            agg = self.score[(h, source, lang)] = {
                "n": 0,
                "sum": dict.fromkeys(SCORE_KEYS, 0.0),
                "high": dict.fromkeys(SCORE_KEYS, 0),
                "topics": {},
            }
        agg["n"] += 1
        for k in SCORE_KEYS:
            agg["sum"][k] += sc[k]
            hit = sc[k] <= HIGH[k] if k == "sentiment" else sc[k] >= HIGH[k]
            agg["high"][k] += int(hit)
        for tp in sc["topics"]:
            key = tp.replace("/", "_")
            agg["topics"][key] = agg["topics"].get(key, 0) + 1
        for p in sc["places"]:
            pa = self.place.get((h, p["name"], p.get("country")))
            if pa is None:
                pa = self.place[(h, p["name"], p.get("country"))] = {
                    "lat": p["lat"],
                    "lon": p["lon"],
                    "n": 0,
                    "sum": dict.fromkeys(SCORE_KEYS, 0.0),
                }
            pa["n"] += 1
            for k in SCORE_KEYS:
                pa["sum"][k] += sc[k]

    def docs(self) -> list[dict[str, Any]]:
        out = [
            {"_id": f"ingest|{h.isoformat()}|{s}", "kind": "ingest", "hour": h, "source": s, "n": c}
            for (h, s), c in self.ingest.items()
        ]
        out += [
            {
                "_id": f"score|{h.isoformat()}|{s}|{lang}",
                "kind": "score",
                "hour": h,
                "source": s,
                "lang": lang,
                **a,
            }
            for (h, s, lang), a in self.score.items()
        ]
        out += [
            {
                "_id": f"place|{h.isoformat()}|{p}|{c}",
                "kind": "place",
                "hour": h,
                "place": p,
                "country": c,
                **a,
            }
            for (h, p, c), a in self.place.items()
        ]
        return out


def _insert_ignoring_duplicates(coll: Any, docs: list[dict[str, Any]]) -> int:
    """``insert_many`` (unordered); ids already stored (a resumed batch) are skipped."""
    from pymongo.errors import BulkWriteError

    try:
        return len(coll.insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        other = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
        if other:
            raise
        return int(exc.details.get("nInserted", 0))


def fill_state(store: Store) -> dict[str, Any] | None:
    """The fill's progress record (``meta`` ``bench_fill``), or None for a store never filled."""
    return store.meta.get(FILL_META)


def fill(
    store: Store,
    n: int,
    days: int = 30,
    batch: int = 20_000,
    seed: int = 7,
    log: Any = print,
) -> dict[str, float]:
    """Insert ``n`` posts and their rollups, resuming an interrupted fill; returns timings.

    Every post is a deterministic function of ``(seed, n, days, end)``; ``end`` (the
    newest possible time) and the number of posts already inserted are kept in
    ``meta`` after each batch, so a second call on the same store regenerates the same
    posts, skips those stored (cheap: no database work) and inserts the rest. The
    rollups are counted over all ``n`` posts during that one pass and written at the
    end (replacing any ``ingest`` / ``score`` / ``place`` rollups), so a store whose
    ``meta.bench_fill.complete`` is true holds exactly consistent posts and rollups.
    """
    t0 = time.perf_counter()
    state = fill_state(store) or {}
    same = all(state.get(k) == v for k, v in (("n", n), ("days", days), ("seed", seed)))
    if state and not same:
        raise SystemExit(
            f"the store holds a fill of n={state.get('n')} days={state.get('days')} seed={state.get('seed')}, "
            f"not n={n} days={days} seed={seed}: use another --data-dir or drop --reuse"
        )
    done = int(state.get("done", 0)) if same else 0
    end = state["end"].replace(tzinfo=UTC) if same and state.get("end") else datetime.now(UTC)
    if not state:
        store.meta.set(FILL_META, n=n, days=days, seed=seed, end=end, done=0, complete=False)
    rng = random.Random(seed)
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
        d["status"] = "scored"
        docs0.append((d, b))
    score_bases([b for _, b in docs0])
    for d, b in docs0:
        d["scores"] = b["scores"]
    times = _times(n, end, days, rng)
    picks = [rng.randrange(len(docs0)) for _ in range(n)]
    t_prep = time.perf_counter() - t0
    if done:
        log(f"resuming: {done:,} of {n:,} posts already stored")
    roll = _Rollups()
    t1 = time.perf_counter()
    buf: list[dict[str, Any]] = []
    inserted = 0
    last_log = time.perf_counter()
    for i in range(n):
        base, _ = docs0[picks[i]]
        ts = times[i]
        roll.add(ts, base["source"], base["lang"], base["scores"])
        if i < done:
            continue
        d = dict(base)
        d["_id"] = f"{base['source']}:bench{i}"
        d["native_id"] = f"bench{i}"
        d["ts"] = ts
        buf.append(d)
        if len(buf) >= batch or i == n - 1:
            inserted += _insert_ignoring_duplicates(store.db.posts, buf)
            buf = []
            store.meta.set(FILL_META, done=i + 1)
            if time.perf_counter() - last_log > 30 or i == n - 1:
                rate = (i + 1 - done) / (time.perf_counter() - t1)
                log(f"  {i + 1:,} / {n:,} posts ({rate:,.0f} posts/s this run)")
                last_log = time.perf_counter()
    t_posts = time.perf_counter() - t1
    t2 = time.perf_counter()
    rollups = roll.docs()
    store.db.rollups.delete_many({"kind": {"$in": ["ingest", "score", "place"]}})
    for i in range(0, len(rollups), batch):
        store.db.rollups.insert_many(rollups[i : i + batch], ordered=False)
    store.rollups.rebuild_days()  # the detector's day documents (issue 12), packed from these
    store.rollups.rebuild_totals()  # the per-source totals (issue 13), recounted from these
    store.meta.set(FILL_META, done=n, complete=True)
    return {
        "base_posts": len(docs0),
        "resumed_from": done,
        "inserted": inserted,
        "prepare_s": round(t_prep, 1),
        "insert_posts_s": round(t_posts, 1),
        "posts_per_s": round(inserted / t_posts, 1) if t_posts else 0.0,
        "insert_rollups_s": round(time.perf_counter() - t2, 1),
        "rollup_docs": len(rollups),
    }
