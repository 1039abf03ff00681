"""Why an anomaly happened: top posts, terms over-represented in the window, places (pure).

The service fetches two bounded samples of posts (the anomaly's peak and the days
before it) and these functions rank them. Nothing here touches the database.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TEXT_CHARS = 280
"""Evidence posts keep this much text (the full post is one click away)."""


def post_rank_key(metric: str) -> str:
    """Which score ranks the evidence posts of a series' metric.

    ``high:threat`` / ``mean:threat`` anomalies rank by threat (hate, toxicity,
    sentiment likewise); count anomalies rank by engagement.
    """
    name = metric.split(":", 1)[1] if ":" in metric else ""
    return name if name in ("threat", "hate", "toxicity", "sentiment") else "engagement"


def top_posts(posts: Sequence[Mapping[str, Any]], metric: str, top: int) -> list[dict[str, Any]]:
    """The ``top`` posts of a sample, by the metric's score (or engagement), then newest.

    Returns small flat dicts (``_id, source, ts, text, url, author, engagement, score``)
    that the dashboard and alerts can show without another query.
    """
    key = post_rank_key(metric)

    def score(p: Mapping[str, Any]) -> float:
        if key == "engagement":
            return float(p.get("engagement") or 0)
        value = float((p.get("scores") or {}).get(key) or 0.0)
        return -value if key == "sentiment" else value  # most negative sentiment first

    ranked = sorted(posts, key=lambda p: (score(p), p.get("ts") or 0), reverse=True)[:top]
    out = []
    for p in ranked:
        sc = p.get("scores") or {}
        out.append(
            {
                "_id": p.get("_id"),
                "source": p.get("source"),
                "ts": p.get("ts"),
                "text": str(p.get("text") or p.get("title") or "")[:TEXT_CHARS],
                "url": p.get("url"),
                "author": p.get("author"),
                "engagement": int(p.get("engagement") or 0),
                "score": float(sc[key]) if key != "engagement" and key in sc else None,
            }
        )
    return out


def term_lift(
    window_terms: Iterable[Iterable[str]],
    baseline_terms: Iterable[Iterable[str]],
    top: int,
    min_count: int = 2,
    prior: float = 1.0,
    min_lift: float = 1.5,
) -> list[dict[str, Any]]:
    """Terms over-represented in the window compared with the baseline period.

    Parameters
    ----------
    window_terms, baseline_terms:
        Per post, its ``terms`` (each post counts a term once: document frequency).
    top:
        How many terms to return.
    min_count:
        A term must appear in at least this many window posts (and in 1 % of them).
    prior:
        Additive smoothing of the baseline share, so a term absent from the baseline
        gets a large but finite lift.
    min_lift:
        Terms not at least this much more frequent than in the baseline are left out.

    Returns
    -------
    list of dict
        ``{"term", "n", "lift"}`` sorted by lift x log(1 + n), descending, where
        ``lift = (n / N_window) / ((n_baseline + prior) / (N_baseline + prior))``.
    """
    w_counts, n_w = _doc_freq(window_terms)
    b_counts, n_b = _doc_freq(baseline_terms)
    if n_w == 0:
        return []
    need = max(min_count, math.ceil(0.01 * n_w))
    rows = []
    for term, n in w_counts.items():
        if n < need:
            continue
        share_w = n / n_w
        share_b = (b_counts.get(term, 0) + prior) / (n_b + prior)
        lift = share_w / share_b
        if lift < min_lift:
            continue
        rows.append({"term": term, "n": n, "lift": round(lift, 3), "_rank": lift * math.log1p(n)})
    rows.sort(key=lambda r: (-r["_rank"], r["term"]))
    for r in rows:
        del r["_rank"]
    return rows[:top]


def _doc_freq(docs: Iterable[Iterable[str]]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    n = 0
    for terms in docs:
        n += 1
        counts.update(set(terms or ()))
    return counts, n


def top_places(posts: Sequence[Mapping[str, Any]], top: int) -> list[dict[str, Any]]:
    """Places most named by a sample of scored posts: ``{"place", "country", "n"}``."""
    counts: Counter[tuple[str, str | None]] = Counter()
    for p in posts:
        seen = set()
        for place in (p.get("scores") or {}).get("places") or []:
            name = place.get("name")
            if not name:
                continue
            key = (str(name), place.get("country"))
            if key not in seen:
                seen.add(key)
                counts[key] += 1
    return [{"place": name, "country": country, "n": n} for (name, country), n in counts.most_common(top)]


def top_entities(posts: Sequence[Mapping[str, Any]], top: int) -> list[dict[str, Any]]:
    """People, organisations and products most named by a sample of scored posts (issue 14):
    ``{"entity": "type:name", "type", "name", "n"}``. Places are left to :func:`top_places`."""
    counts: Counter[tuple[str, str]] = Counter()
    for p in posts:
        seen = set()
        for e in (p.get("scores") or {}).get("entities") or []:
            if not isinstance(e, Mapping):
                continue
            key = (str(e.get("type") or ""), str(e.get("name") or ""))
            if key[0] in ("person", "org", "product") and key[1] and key not in seen:
                seen.add(key)
                counts[key] += 1
    return [
        {"entity": f"{t}:{name}", "type": t, "name": name, "n": n}
        for (t, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    ]


def series_filter(key: str) -> dict[str, Any]:
    """The posts filter of a series key (``source:bbc`` -> ``{"source": "bbc"}`` ...)."""
    kind, _, value = key.partition(":")
    if kind == "source":
        return {"source": value}
    if kind == "lang":
        return {"scores.language": value}
    if kind == "place":
        return {"scores.places.name": value}
    if kind == "watch":  # watchlists are selected through the search index (issue 13)
        return {"_id": {"$in": []}}
    return {}
