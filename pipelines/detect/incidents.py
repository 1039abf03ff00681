"""Incidents: anomalies of one event grouped, titled, explained and ranked (pure).

One real event moves many series at once: ``all|count``, its source, its language, the
places it names, the watchlists that match it, sometimes a mean score. An analyst wants
one entry per event ("Surge: #prayforbohol, Bohol — 1,240 posts vs 31 expected, ..."),
not five series keys, so the detector's anomalies are grouped here:

* two anomalies belong together when their windows overlap (within ``SLACK``) **and**
  they share evidence: a post, two lifted terms, or a term and a place, or one is the
  ``place:`` series of a place the other's posts name (:func:`related`);
* groups are the connected components of that relation (single linkage);
* an incident's numbers come from its *lead* member: the volume series with the largest
  excess of posts over its baseline (``all|count`` for a broad event); a group without
  any volume series is led by its most severe member;
* impact = excess posts x severity, and volume-led incidents rank before score-led ones
  (a shifted mean is news only once many posts back it);
* an incident backed by fewer than :data:`MINOR_POSTS` posts is ``minor`` and hidden by
  default.

Nothing here touches the database: anomaly documents in, incident documents out.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.detect.title_words import fit_for_title

SLACK = timedelta(hours=1)
"""Windows closer than this still count as overlapping (hourly buckets, late posts)."""

MINOR_POSTS = 20
"""An incident backed by fewer posts is ``minor``: listed only on request, never alerted."""

MIN_MEAN_POSTS = 30
"""A ``mean:`` anomaly needs this many posts in its window to be raised at all.

A mean score over a handful of posts swings with a single post: with scores spread
like the scorer's (standard deviation about 0.2), the standard error of a mean of 30
posts is 0.04, of 3 posts 0.12, which is the size of the shifts the detector flags.
30 is also where a mean's sampling distribution is near normal for such bounded scores.
"""

TITLE_TERMS = 2
EXPLAIN_TERMS = 5
KIND_RANK = {"all": 0, "source": 1, "watch": 2, "lang": 3, "place": 4}
METRIC_WORDS = {
    "threat": "threat",
    "hate": "hate",
    "toxicity": "toxicity",
    "sentiment": "sentiment",
}


# ---------------------------------------------------------------------- small readers


def _utc(t: Any) -> datetime:
    if not isinstance(t, datetime):
        raise ValueError(f"anomaly time must be a datetime, got {t!r}")
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def is_volume(a: Mapping[str, Any]) -> bool:
    """Counts of posts (``count``, ``high:*``) rather than mean scores."""
    return not str(a.get("metric") or "count").startswith("mean:")


def posts_of(a: Mapping[str, Any]) -> float:
    """Posts that back an anomaly: its window's post count (stored as ``posts``).

    Older anomaly documents lack ``posts``: a count series' observed total is its
    posts; a mean series without a count is treated as unbacked (0).
    """
    if a.get("posts") is not None:
        return float(a["posts"])
    if is_volume(a):
        return float(a.get("observed_total") or 0.0)
    return 0.0


def backing_posts(members: Iterable[Mapping[str, Any]]) -> float:
    """Posts behind a group: per series the sum over its (disjoint) windows, then the largest.

    One series' windows never overlap (the store merges them), so their posts add up;
    different series count the same posts again, so only the largest is taken.
    """
    per_series: Counter[str] = Counter()
    for m in members:
        per_series[str(m.get("series"))] += posts_of(m)
    return max(per_series.values(), default=0.0)


def excess_of(a: Mapping[str, Any]) -> float:
    """Posts above the baseline over the window (volume series only; never negative)."""
    if not is_volume(a):
        return 0.0
    return max(0.0, float(a.get("observed_total") or 0.0) - float(a.get("expected_total") or 0.0))


def terms_of(a: Mapping[str, Any]) -> set[str]:
    return {str(t["term"]) for t in (a.get("evidence") or {}).get("terms") or [] if t.get("term")}


def places_of(a: Mapping[str, Any]) -> set[str]:
    out = {str(p["place"]) for p in (a.get("evidence") or {}).get("places") or [] if p.get("place")}
    if a.get("kind") == "place" and a.get("value"):
        out.add(str(a["value"]))
    return out


def post_ids_of(a: Mapping[str, Any]) -> set[str]:
    return {str(p["_id"]) for p in (a.get("evidence") or {}).get("posts") or [] if p.get("_id")}


def overlaps(a: Mapping[str, Any], b: Mapping[str, Any], slack: timedelta = SLACK) -> bool:
    """Windows ``[start, end)`` overlap, or are at most ``slack`` apart."""
    return _utc(a["start"]) <= _utc(b["end"]) + slack and _utc(b["start"]) <= _utc(a["end"]) + slack


@dataclass(frozen=True)
class _Keys:
    """What :func:`related` compares, read once per anomaly (grouping compares pairs)."""

    start: datetime
    end: datetime
    is_place: bool
    posts: frozenset[str]
    terms: frozenset[str]
    places: frozenset[str]

    @classmethod
    def of(cls, a: Mapping[str, Any]) -> _Keys:
        return cls(
            _utc(a["start"]),
            _utc(a["end"]),
            a.get("kind") == "place",
            frozenset(post_ids_of(a)),
            frozenset(terms_of(a)),
            frozenset(places_of(a)),
        )


def _related_keys(a: _Keys, b: _Keys) -> bool:
    if not (a.start <= b.end + SLACK and b.start <= a.end + SLACK):
        return False
    if not a.posts.isdisjoint(b.posts):
        return True
    shared_terms = len(a.terms & b.terms)
    shared_places = len(a.places & b.places)
    return (
        shared_terms >= 2
        or (shared_terms >= 1 and shared_places >= 1)
        or (shared_places >= 1 and (a.is_place or b.is_place))
    )


def related(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same event: overlapping windows and shared evidence (see the module docstring)."""
    return _related_keys(_Keys.of(a), _Keys.of(b))


# ---------------------------------------------------------------------- grouping


def group(anomalies: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indices of ``anomalies`` grouped into connected components of :func:`related`.

    Groups come back sorted by their earliest start; members by start then series.
    Each anomaly's evidence sets are read once (a first cycle groups thousands).
    """
    keys = [_Keys.of(a) for a in anomalies]
    parent = list(range(len(anomalies)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(anomalies)), key=lambda i: keys[i].start)
    # Sweep in start order: only windows that can still overlap are compared.
    active: list[int] = []
    for i in order:
        start = keys[i].start
        active = [j for j in active if keys[j].end + SLACK >= start]
        for j in active:
            if find(i) != find(j) and _related_keys(keys[i], keys[j]):
                parent[find(i)] = find(j)
        active.append(i)
    groups: dict[int, list[int]] = {}
    for i in order:
        groups.setdefault(find(i), []).append(i)
    out = [sorted(g, key=lambda i: (keys[i].start, str(anomalies[i].get("series")))) for g in groups.values()]
    return sorted(out, key=lambda g: keys[g[0]].start)


def lead_of(members: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The member whose numbers speak for the incident (see the module docstring)."""
    volume = [m for m in members if is_volume(m) and str(m.get("metric") or "count") == "count"]
    volume = volume or [m for m in members if is_volume(m)]
    if volume:
        return max(
            volume,
            key=lambda m: (
                excess_of(m),
                -KIND_RANK.get(str(m.get("kind")), 9),
                float(m.get("severity") or 0),
            ),
        )
    return max(members, key=lambda m: (float(m.get("severity") or 0), posts_of(m)))


# ---------------------------------------------------------------------- evidence merge


def merged_terms(members: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Terms across members, each once, ranked by how many members name it, then lift x log n."""
    best: dict[str, dict[str, Any]] = {}
    seen: Counter[str] = Counter()
    for m in members:
        for t in (m.get("evidence") or {}).get("terms") or []:
            term = str(t.get("term") or "")
            if not term:
                continue
            seen[term] += 1
            rank = float(t.get("lift") or 1.0) * math.log1p(float(t.get("n") or 0))
            if term not in best or rank > best[term]["_rank"]:
                best[term] = {"term": term, "n": int(t.get("n") or 0), "_rank": rank}
    rows = sorted(best.values(), key=lambda r: (-seen[r["term"]], -r["_rank"], r["term"]))
    return [{"term": r["term"], "n": r["n"], "series": seen[r["term"]]} for r in rows]


def merged_places(members: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Places across members, by the largest count any member's sample gave them."""
    best: dict[str, dict[str, Any]] = {}
    for m in members:
        for p in (m.get("evidence") or {}).get("places") or []:
            name = str(p.get("place") or "")
            if name and (name not in best or int(p.get("n") or 0) > best[name]["n"]):
                best[name] = {"place": name, "country": p.get("country"), "n": int(p.get("n") or 0)}
    return sorted(best.values(), key=lambda r: (-r["n"], r["place"]))


def merged_entities(members: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """People, organisations and products across members, by the largest count any
    member's sample gave them (the incident's entity breakdown, issue 14)."""
    best: dict[str, dict[str, Any]] = {}
    for m in members:
        for e in (m.get("evidence") or {}).get("entities") or []:
            key = str(e.get("entity") or "")
            if key and (key not in best or int(e.get("n") or 0) > best[key]["n"]):
                best[key] = {
                    "entity": key,
                    "type": e.get("type"),
                    "name": e.get("name"),
                    "n": int(e.get("n") or 0),
                }
    return sorted(best.values(), key=lambda r: (-r["n"], r["entity"]))


def merged_posts(members: Iterable[Mapping[str, Any]], top: int = 5) -> list[dict[str, Any]]:
    """Evidence posts across members, each once, by engagement then score."""
    best: dict[str, dict[str, Any]] = {}
    for m in members:
        for p in (m.get("evidence") or {}).get("posts") or []:
            pid = str(p.get("_id") or "")
            if pid and pid not in best:
                best[pid] = dict(p)
    rows = sorted(
        best.values(),
        key=lambda p: (int(p.get("engagement") or 0), float(p.get("score") or 0.0), str(p["_id"])),
        reverse=True,
    )
    return rows[:top]


def sources_of(members: Iterable[Mapping[str, Any]]) -> list[str]:
    """Sources named by ``source:`` members or by the evidence posts, most frequent first."""
    counts: Counter[str] = Counter()
    for m in members:
        if m.get("kind") == "source" and m.get("value"):
            counts[str(m["value"])] += 10
        for p in (m.get("evidence") or {}).get("posts") or []:
            if p.get("source"):
                counts[str(p["source"])] += 1
    return [s for s, _ in counts.most_common()]


# ---------------------------------------------------------------------- words


def _n(x: float) -> str:
    return f"{round(x):,}"


def slice_label(a: Mapping[str, Any]) -> str:
    """``all`` -> "all posts", ``source:bbc`` -> "source bbc", ``place:Bohol`` -> "posts naming Bohol"."""
    kind, value = str(a.get("kind") or "all"), a.get("value")
    if kind == "all" or not value:
        return "all posts"
    return {
        "source": f"source {value}",
        "lang": f"posts in language {value}",
        "place": f"posts naming {value}",
        "watch": f"watchlist {value}",
    }.get(kind, f"{kind} {value}")


def _bare(word: str) -> str:
    return word.lstrip("#@").casefold()


def headline(lead: Mapping[str, Any]) -> str:
    """The title's first word(s): what kind of change the lead member is."""
    metric = str(lead.get("metric") or "count")
    name = METRIC_WORDS.get(metric.split(":", 1)[-1], metric.split(":", 1)[-1])
    if metric == "count":
        return "Surge"
    if metric.startswith("high:"):
        return f"High-{name} posts surge"
    up = float(lead.get("observed") or 0) >= float(lead.get("expected") or 0)
    if name == "sentiment":
        return "Mood brightens" if up else "Mood darkens"
    return f"Mean {name} {'up' if up else 'down'}"


def time_span(start: datetime, end: datetime) -> str:
    """``15 Oct 2013 02:00–08:00 UTC`` (one day) or ``15 Oct 2013 02:00 – 16 Oct 10:00 UTC``."""
    s, e = _utc(start), _utc(end)
    day = f"{s.day} {s:%b %Y}"
    last = e - timedelta(microseconds=1)
    if last.date() == s.date():
        end_clock = "24:00" if e.date() != s.date() else f"{e:%H:%M}"
        return f"{day} {s:%H:%M}–{end_clock} UTC"
    return f"{day} {s:%H:%M} – {e.day} {e:%b} {e:%H:%M} UTC"


def title(
    lead: Mapping[str, Any],
    terms: Sequence[Mapping[str, Any]],
    places: Sequence[Mapping[str, Any]],
    start: datetime,
    end: datetime,
) -> str:
    """ "Surge: #prayforbohol, Bohol — 1,240 posts vs 31 expected, 15 Oct 2013 02:00–08:00 UTC"."""
    words: list[str] = []
    for t in terms:  # "#nswfires" and "nswfires" are one word in a title; "14" is no word
        if len(words) == TITLE_TERMS:
            break
        if not fit_for_title(str(t["term"])):  # numbers and function words (title_words.py)
            continue
        if _bare(str(t["term"])) not in {_bare(w) for w in words}:
            words.append(str(t["term"]))
    if places and _bare(str(places[0]["place"])) not in {_bare(w) for w in words}:
        words.append(str(places[0]["place"]))
    if not words:
        words = [slice_label(lead)]
    if is_volume(lead):
        numbers = f"{_n(float(lead.get('observed_total') or 0))} posts vs {_n(float(lead.get('expected_total') or 0))} expected"
    else:
        numbers = (
            f"{float(lead.get('observed') or 0):.2f} vs {float(lead.get('expected') or 0):.2f} expected "
            f"over {_n(posts_of(lead))} posts"
        )
    return f"{headline(lead)}: {', '.join(words)} — {numbers}, {time_span(start, end)}"


def explanation(
    lead: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    terms: Sequence[Mapping[str, Any]],
    places: Sequence[Mapping[str, Any]],
    sources: Sequence[str],
    posts: Sequence[Mapping[str, Any]],
) -> str:
    """One paragraph: what rose, against what baseline, driven by which terms, places, sources, posts."""
    obs, exp = float(lead.get("observed_total") or 0), float(lead.get("expected_total") or 0)
    if is_volume(lead):
        what = "posts" if lead.get("metric") == "count" else f"{headline(lead).split()[0].lower()} posts"
        ratio = f" ({obs / exp:,.0f}× the usual)" if exp >= 1 and obs / exp >= 2 else ""
        parts = [
            f"{slice_label(lead).capitalize()}: {_n(obs)} {what} in this window against "
            f"{_n(exp)} expected from the series' own baseline{ratio}; peak hour {float(lead.get('observed') or 0):,.0f} "
            f"vs {float(lead.get('expected') or 0):,.0f} expected."
        ]
    else:
        parts = [
            f"{slice_label(lead).capitalize()}: mean {str(lead.get('metric')).split(':', 1)[-1]} "
            f"{float(lead.get('observed') or 0):.2f} at the peak against {float(lead.get('expected') or 0):.2f} "
            f"expected, over {_n(posts_of(lead))} posts."
        ]
    if terms:
        parts.append(
            "Driven by " + ", ".join(f"{t['term']} ({t['n']} posts)" for t in terms[:EXPLAIN_TERMS]) + "."
        )
    if places:
        parts.append(
            "Places named: "
            + ", ".join(
                f"{p['place']}" + (f" ({p['country']})" if p.get("country") else "") for p in places[:3]
            )
            + "."
        )
    if sources:
        parts.append("Sources: " + ", ".join(sources[:3]) + ".")
    others = list(
        dict.fromkeys(str(m.get("series")) for m in members if m.get("series") != lead.get("series"))
    )
    if others:
        parts.append(
            f"Also seen in {len(others)} other series: "
            + ", ".join(others[:6])
            + ("…" if len(others) > 6 else "")
            + "."
        )
    if posts:
        text = " ".join(str(posts[0].get("text") or "").split())[:160]
        parts.append(f"Top post: “{text}”.")
    return " ".join(parts)


# ---------------------------------------------------------------------- incidents


def incident_id(lead_anomaly_id: str) -> str:
    """A short stable id from an anomaly id (``inc-<12 hex>``)."""
    return "inc-" + hashlib.sha1(lead_anomaly_id.encode()).hexdigest()[:12]


def build(members: Sequence[Mapping[str, Any]], *, minor_posts: int = MINOR_POSTS) -> dict[str, Any]:
    """One incident document from a group of related anomalies (no ``_id`` choice here)."""
    if not members:
        raise ValueError("an incident needs at least one anomaly")
    lead = lead_of(members)
    same = [m for m in members if m.get("series") == lead.get("series")]
    if len(same) > 1:  # the lead series' windows together (they are disjoint)
        lead = {
            **lead,
            "observed_total": sum(float(m.get("observed_total") or 0.0) for m in same),
            "expected_total": sum(float(m.get("expected_total") or 0.0) for m in same),
        }
    start = min(_utc(m["start"]) for m in members)
    end = max(_utc(m["end"]) for m in members)
    terms, places = merged_terms(members), merged_places(members)
    sources, posts = sources_of(members), merged_posts(members)
    backing = backing_posts(members)
    severity = max(float(m.get("severity") or 0.0) for m in members)
    excess = excess_of(lead)
    volume = is_volume(lead)
    # Mean-led incidents rank after every volume-led one: impact there is posts x severity
    # scaled down, so among themselves the best-backed shift comes first.
    impact = excess * severity if volume else 1e-3 * backing * severity
    statuses = {str(m.get("status") or "open") for m in members}
    return {
        "title": title(lead, terms, places, start, end),
        "explanation": explanation(lead, members, terms, places, sources, posts),
        "start": start,
        "end": end,
        "peak": _utc(lead.get("peak") or lead["start"]),
        "lead": str(lead.get("_id") or ""),
        "lead_series": str(lead.get("series") or ""),
        "volume": volume,
        "posts": round(backing),
        "observed_total": round(float(lead.get("observed_total") or 0.0), 2),
        "expected_total": round(float(lead.get("expected_total") or 0.0), 2),
        "excess": round(excess, 2),
        "severity": round(severity, 4),
        "impact": round(impact, 4),
        "minor": backing < minor_posts,
        "members": [
            {
                "id": str(m.get("_id") or ""),
                "series": str(m.get("series") or ""),
                "severity": round(float(m.get("severity") or 0.0), 4),
                "observed_total": round(float(m.get("observed_total") or 0.0), 2),
                "expected_total": round(float(m.get("expected_total") or 0.0), 2),
                "posts": round(posts_of(m)),
            }
            for m in members
        ],
        "series": sorted({str(m.get("series") or "") for m in members}),
        "terms": terms[:10],
        "places": places[:5],
        "entities": merged_entities(members)[:5],
        "sources": sources[:5],
        "posts_evidence": posts,
        "anomaly_status": "open" if "open" in statuses else sorted(statuses)[0],
    }


def rank_key(inc: Mapping[str, Any]) -> tuple[int, int, float, float]:
    """Sort key, best first: non-minor, volume-led, impact, severity."""
    return (
        int(bool(inc.get("minor"))),
        int(not inc.get("volume", True)),
        -float(inc.get("impact") or 0.0),
        -float(inc.get("severity") or 0.0),
    )


def build_incidents(
    anomalies: Sequence[Mapping[str, Any]],
    previous: Mapping[str, str] | None = None,
    *,
    minor_posts: int = MINOR_POSTS,
) -> list[dict[str, Any]]:
    """Group ``anomalies`` into ranked incident documents with stable ids.

    Parameters
    ----------
    anomalies:
        Anomaly documents (``_id``, ``series``, ``kind``, ``value``, ``metric``, ``start``,
        ``end``, ``peak``, totals, ``severity``, ``evidence``, optional ``posts``).
    previous:
        ``anomaly id -> incident id`` from the incidents stored before: a group keeps
        the id of an incident it already contains (the one with most members), so
        verdicts, links and alerts stay attached as the group grows.
    minor_posts:
        Incidents backed by fewer posts are ``minor``.

    Returns
    -------
    list of dict
        Incident documents with ``_id``, best first (:func:`rank_key`).
    """
    previous = previous or {}
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for g in group(anomalies):
        members = [anomalies[i] for i in g]
        inc = build(members, minor_posts=minor_posts)
        known = Counter(previous[str(m.get("_id"))] for m in members if str(m.get("_id")) in previous)
        chosen = next((i for i, _ in known.most_common() if i not in used), None)
        inc["_id"] = chosen or incident_id(min(str(m.get("_id") or "") for m in members))
        used.add(inc["_id"])
        out.append(inc)
    return sorted(out, key=rank_key)


def same_as_stored(doc: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """Whether a rebuilt incident equals its stored version (no write needed).

    Compares the fields :func:`build` computes; what the store or an analyst adds
    (``status``, ``verdicts``, ``created``, ``updated``) is not the detector's.
    """
    if stored is None:
        return False
    return all(k in ("status", "verdicts", "created") or stored.get(k) == v for k, v in doc.items())
