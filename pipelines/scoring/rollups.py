"""Score and place rollups: what one scored post adds to the hourly aggregates (pure).

The dashboard and the detector read these instead of scanning posts. The shapes are a
contract (``docs/scoring.md``):

- ``kind="score"``, ``_id = "score|<hour ISO>|<source>|<lang>"``:
  ``{hour, source, lang, n, sum: {sentiment, threat, hate, toxicity},
  high: {threat, hate, toxicity}, topics: {<topic>: count}}``;
  ``high`` counts posts with that score at or above its tuned "high" cut
  (:func:`pipelines.scoring.thresholds.high_thresholds`; 0.5 for heads without one).
- ``kind="place"``, ``_id = "place|<hour ISO>|<place key>"``:
  ``{hour, place, country, lat, lon, n, sum: {sentiment, threat, hate, toxicity}}``.

The store applies a batch's contributions with ``$inc`` upserts guarded by the batch's
token (see :meth:`pipelines.store.score_queue.ScoreQueue.apply_rollups`), so they count exactly once
even when a worker dies half-way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pipelines.scoring.thresholds import high_thresholds

SUM_FIELDS = ("sentiment", "threat", "hate", "toxicity")
HIGH_FIELDS = ("threat", "hate", "toxicity")
HIGH_AT = 0.5
"""The old fixed cut; kept for callers that import it. Rollups use the per-score cuts."""


def hour_of(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def field_name(label: str) -> str:
    """A topic name safe as a MongoDB field name (no ``.``, no leading ``$``)."""
    return label.replace(".", "_").replace("$", "_") or "_"


def contributions(posts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rollup increments for scored posts, keyed by rollup ``_id``.

    Each value is ``{"set": {...identity fields}, "inc": {dotted field: number}}``.
    ``posts`` are post documents with ``ts``, ``source`` and ``scores``.
    """
    out: dict[str, dict[str, Any]] = {}
    incs: dict[str, defaultdict[str, float]] = {}
    high_at = high_thresholds()
    for post in posts:
        sc = post.get("scores") or {}
        hour = hour_of(post["ts"])
        lang = sc.get("language") or "und"
        source = post["source"]
        rid = f"score|{hour.isoformat()}|{source}|{lang}"
        if rid not in out:
            out[rid] = {"set": {"kind": "score", "hour": hour, "source": source, "lang": lang}}
            incs[rid] = defaultdict(float)
        inc = incs[rid]
        inc["n"] += 1
        for f in SUM_FIELDS:
            inc[f"sum.{f}"] += float(sc.get(f, 0.0))
        for f in HIGH_FIELDS:
            if float(sc.get(f, 0.0)) >= high_at[f]:
                inc[f"high.{f}"] += 1
        for t in sc.get("topics") or []:
            inc[f"topics.{field_name(t)}"] += 1
        seen: set[str] = set()
        for pl in sc.get("places") or []:
            key = f"{pl.get('country') or '-'}:{pl['name']}:{pl['lat']:.2f},{pl['lon']:.2f}"
            if key in seen:
                continue
            seen.add(key)
            pid = f"place|{hour.isoformat()}|{key}"
            if pid not in out:
                out[pid] = {
                    "set": {
                        "kind": "place",
                        "hour": hour,
                        "place": pl["name"],
                        "country": pl.get("country"),
                        "lat": pl["lat"],
                        "lon": pl["lon"],
                    }
                }
                incs[pid] = defaultdict(float)
            pinc = incs[pid]
            pinc["n"] += 1
            for f in SUM_FIELDS:
                pinc[f"sum.{f}"] += float(sc.get(f, 0.0))
    for rid, inc in incs.items():
        out[rid]["inc"] = {k: (int(v) if not k.startswith("sum.") else v) for k, v in inc.items()}
    return out


def as_documents(contrib: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Contributions turned into full rollup documents (for recounts and comparisons)."""
    docs: dict[str, dict[str, Any]] = {}
    for rid, c in contrib.items():
        doc: dict[str, Any] = {"_id": rid, **c["set"]}
        for k, v in c["inc"].items():
            if "." in k:
                head, tail = k.split(".", 1)
                doc.setdefault(head, {})[tail] = v
            else:
                doc[k] = v
        docs[rid] = doc
    return docs
