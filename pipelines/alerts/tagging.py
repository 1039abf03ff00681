"""The watch pass: tag posts with the watchlists they match and keep ``kind="watch"`` rollups.

Two paths, both safe to repeat after a crash at any point:

- **Live**: scored posts without a ``watched`` mark are matched in Python against every
  watchlist (:class:`~pipelines.watchlists.Matcher`), tagged (``$addToSet`` on
  ``watchlists``) and marked ``watched``: one write per post.
- **Back-fill**: a new or edited watchlist (its ``fingerprint`` changed) first loses its old
  tags, rollups and place sightings, then walks the already-watched history oldest first,
  one time window at a time (each holding about one batch of posts by the ingest rollups,
  read through the ``ts`` index with :mod:`pipelines.scan`), with the cursor (a time)
  saved on the watchlist after each window. Posts not watched yet are the live pass's.

Exactly once: each step computes, *before* touching a post, the tags it will add and what
its newly tagged posts add to the ``kind="watch"`` rollups, and writes both to a journal in
``meta`` with a fresh token. Then it tags the posts, then applies the contributions with
``$inc`` guarded by the token (:meth:`~pipelines.store.Store.inc_watch_rollups`), then
clears the journal. A crash before the journal leaves nothing done; a crash after it is
finished by the next pass, which replays the journal: the tags again (``$addToSet`` is
idempotent) and the counts (the token stops a second application). So every post counts once, and the
rollups equal a recount (:func:`rebuild_watch_rollups`, a test checks it). Only scored
posts are tagged: the rollups carry the score sums the detector and the sentiment-shift
rule read, in the scorer's shape (``n``, ``sum.<score>``, ``high.<score>`` at >= 0.5).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.filters import Filters
from pipelines.scan import Window, split_query, windows, with_window
from pipelines.store import Store, hour_floor, utcnow
from pipelines.watchlists import Matcher, Watchlist

log = logging.getLogger(__name__)

JOURNAL_KEY = "watch_journal"
DEFAULT_BATCH = 500
SUM_FIELDS = ("sentiment", "threat", "hate", "toxicity")
HIGH_FIELDS = ("threat", "hate", "toxicity")
HIGH_AT = 0.5
"""The scorer's rollup shape and high cut (pipelines/scoring/rollups.py), so the detector
reads ``watch:<id>`` series exactly like the other keys."""


@dataclass
class TagReport:
    """What one pass did (logged by the alerts loop, asserted by tests)."""

    live_seen: int = 0
    live_tagged: int = 0
    backfilled: dict[str, int] = field(default_factory=dict)
    reset: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    disagreements: int = 0
    done: bool = True
    seconds: float = 0.0


def load_watchlists(store: Store) -> tuple[list[Watchlist], dict[str, dict[str, Any]]]:
    """Valid watchlists and their raw documents (an invalid document is logged and skipped)."""
    out, docs = [], {}
    for doc in store.list_config("watchlists"):
        try:
            wl = Watchlist.from_doc(doc)
        except ValueError as exc:
            log.error("watchlist %r is invalid and is ignored: %s", doc.get("_id"), exc)
            continue
        out.append(wl)
        docs[wl.id] = doc
    return out, docs


def place_rows(watchlist: str, post: Mapping[str, Any], history: bool) -> list[dict[str, Any]]:
    """First-sighting rows for the places a post names (deduplicated by name and country)."""
    rows, seen = [], set()
    for pl in (post.get("scores") or {}).get("places") or []:
        name = str(pl.get("name") or "").strip()
        if not name:
            continue
        key = f"{name.casefold()}|{(pl.get('country') or '-').upper()}"
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "watchlist": watchlist,
                "key": key,
                "name": name,
                "country": pl.get("country"),
                "first_seen": post["ts"],
                "post": post["_id"],
                "history": history,
            }
        )
    return rows


def _earliest(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        k = (r["watchlist"], r["key"])
        if k not in best or r["first_seen"] < best[k]["first_seen"]:
            best[k] = r
    return list(best.values())


def contributions(watchlist: str, posts: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """What newly tagged posts add to a watchlist's hourly rollups, keyed by rollup ``_id``."""
    out: dict[str, dict[str, Any]] = {}
    for p in posts:
        hour = hour_floor(p["ts"])
        rid = f"watch|{hour.isoformat()}|{watchlist}"
        c = out.setdefault(
            rid, {"set": {"kind": "watch", "hour": hour, "watchlist": watchlist}, "inc": defaultdict(float)}
        )
        sc = p.get("scores") or {}
        c["inc"]["n"] += 1
        for f in SUM_FIELDS:
            c["inc"][f"sum.{f}"] += float(sc.get(f) or 0.0)
        for f in HIGH_FIELDS:
            c["inc"][f"high.{f}"] += int(float(sc.get(f) or 0.0) >= HIGH_AT)
    for c in out.values():
        c["inc"] = {k: (v if k.startswith("sum.") else int(v)) for k, v in c["inc"].items()}
    return out


def _encode(contrib: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    # Dotted keys cannot be field names of a stored document: keep them as pairs.
    return [
        {"rid": rid, "set": c["set"], "inc": [[k, v] for k, v in c["inc"].items()]}
        for rid, c in contrib.items()
    ]


def _decode(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["rid"]: {"set": r["set"], "inc": dict(r["inc"])} for r in rows}


class WatchTagger:
    """Runs the watch pass over a store within a time budget."""

    def __init__(self, store: Store, batch: int = DEFAULT_BATCH, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.batch = batch
        self.clock = clock

    # ------------------------------------------------------------------ the pass

    def run(self, budget_s: float = 20.0) -> TagReport:
        """Repair, reset edited watchlists, back-fill, then tag new posts, until done or out of time."""
        t0 = time.monotonic()
        deadline = t0 + budget_s
        report = TagReport()
        self._replay_journal()
        watchlists, docs = load_watchlists(self.store)
        report.orphans = self._drop_orphans({w.id for w in watchlists})
        for wl in watchlists:
            state = docs[wl.id].get("tagging") or {}
            if state.get("fingerprint") != wl.fingerprint:
                docs[wl.id]["tagging"] = self._reset(wl)
                report.reset.append(wl.id)
        for wl in watchlists:
            state = docs[wl.id]["tagging"]
            if state["phase"] == "backfill":
                windows = self._windows(wl, state.get("cursor"))
                while state["phase"] == "backfill" and time.monotonic() < deadline:
                    state = self._backfill_batch(wl, state, windows, report)
            if state["phase"] == "backfill":
                report.done = False
        matchers = [w.matcher() for w in watchlists]
        since = {w.id: docs[w.id]["tagging"].get("since") for w in watchlists}
        # Without watchlists there is nothing to tag and no mark to write: posts stay
        # unwatched and the first watchlist's live pass takes them all, once.
        while matchers and time.monotonic() < deadline:
            n = self._live_batch(matchers, since, report)
            if n < self.batch:
                break
        else:
            report.done = False
        report.seconds = time.monotonic() - t0
        return report

    def _state(
        self, fp: str, phase: str, cursor: datetime | None, done: int, since: datetime | None
    ) -> dict[str, Any]:
        """``since``: when this definition started being watched (posts scored before it
        are history); ``cursor``: the back-fill has covered posts older than it."""
        return {
            "fingerprint": fp,
            "phase": phase,
            "cursor": cursor,
            "tagged": done,
            "since": since,
            "at": self.clock(),
        }

    def _replay_journal(self) -> None:
        """Finish a step a crash interrupted: redo its tags (idempotent), then its counts (once)."""
        journal = self.store.get_meta(JOURNAL_KEY) or {}
        if journal.get("token"):
            self.store.apply_watch_tags(
                dict(journal.get("tags") or []), mark_watched=journal.get("mark") or []
            )
            self.store.inc_watch_rollups(journal["token"], _decode(journal.get("contrib") or []))
            self.store.set_meta(JOURNAL_KEY, token=None, tags=[], mark=[], contrib=[])
            log.warning("watch pass: finished a step interrupted at %s", journal.get("at"))

    def _commit(
        self,
        tags: Mapping[str, list[str]],
        mark: list[str],
        contrib: Mapping[str, Mapping[str, Any]],
        places: list[dict[str, Any]],
    ) -> None:
        """Journal the step (tags, marks, counts), tag, count once, clear the journal.

        Tags and counts go together in the journal: a replay after a crash redoes both,
        so a post is never counted without being tagged (it would be counted again by the
        batch that re-finds it) nor tagged without being counted.
        """
        self.store.add_watch_places(_earliest(places))  # idempotent: the earliest post wins
        token = uuid.uuid4().hex
        if contrib:
            self.store.set_meta(
                JOURNAL_KEY,
                token=token,
                tags=[[pid, wids] for pid, wids in tags.items()],
                mark=list(mark),
                contrib=_encode(contrib),
                at=self.clock(),
            )
        self.store.apply_watch_tags(tags, mark_watched=mark)
        if contrib:
            self.store.inc_watch_rollups(token, contrib)
            self.store.set_meta(JOURNAL_KEY, token=None, tags=[], mark=[], contrib=[])

    def _drop_orphans(self, known: set[str]) -> list[str]:
        """Tags and rollups of watchlists that no longer exist (deleted ones)."""
        orphans = [w for w in self.store.watch_rollup_watchlists() if w not in known]
        for wid in orphans:
            self.store.remove_watch_tag(wid)
            self.store.delete_watch_data(wid)
            log.info("watch pass: removed the tags and rollups of deleted watchlist %r", wid)
        return orphans

    def _reset(self, wl: Watchlist) -> dict[str, Any]:
        """A new or edited watchlist: clear what an older definition left, then back-fill."""
        self.store.remove_watch_tag(wl.id)
        self.store.delete_watch_data(wl.id)
        state = self._state(wl.fingerprint, "backfill", None, 0, self.clock())
        self.store.set_watch_tagging(wl.id, state)
        log.info("watch pass: back-filling watchlist %r (fingerprint %s)", wl.id, wl.fingerprint)
        return state

    def _windows(self, wl: Watchlist, cursor: datetime | None) -> list[Window]:
        """History from ``cursor`` on, oldest first, in windows of about one batch of posts."""
        f = Filters.make(since=cursor, sources=list(wl.sources))
        return list(reversed(windows(self.store, f, chunk=self.batch)))

    def _backfill_batch(
        self, wl: Watchlist, state: dict[str, Any], wins: list[Window], report: TagReport
    ) -> dict[str, Any]:
        """Tag the watched history of one time window (an index range on ``ts``)."""
        if not wins:
            return self._finish(wl, state)
        win = wins.pop(0)
        index, residual = split_query(wl.to_mongo())
        index = {**with_window(index, win.since, win.until), "watched": True, "status": "scored"}
        posts = self.store.find_posts_in(
            index, residual, limit=10_000_000, projection=self.store.WATCH_PROJECTION
        )
        match = wl.matcher()
        new: list[Mapping[str, Any]] = []
        places: list[dict[str, Any]] = []
        for p in posts:
            if not match(p):  # the filter and the matcher mean the same; count any drift
                report.disagreements += 1
                continue
            if wl.id not in (p.get("watchlists") or ()):
                new.append(p)
                places += place_rows(wl.id, p, history=True)
        self._commit({p["_id"]: [wl.id] for p in new}, [], contributions(wl.id, new), places)
        report.backfilled[wl.id] = report.backfilled.get(wl.id, 0) + len(new)
        state = self._state(
            wl.fingerprint,
            "backfill",
            win.until,
            int(state.get("tagged") or 0) + len(new),
            state.get("since"),
        )
        self.store.set_watch_tagging(wl.id, state)
        return state if wins else self._finish(wl, state)

    def _finish(self, wl: Watchlist, state: dict[str, Any]) -> dict[str, Any]:
        done = self._state(
            wl.fingerprint, "live", state.get("cursor"), int(state.get("tagged") or 0), state.get("since")
        )
        self.store.set_watch_tagging(wl.id, done)
        log.info("watch pass: watchlist %r back-filled (%d posts)", wl.id, done["tagged"])
        return done

    def _live_batch(
        self, matchers: list[Matcher], since: Mapping[str, datetime | None], report: TagReport
    ) -> int:
        posts = self.store.unwatched_posts(self.batch)
        if not posts:
            return 0
        tags: dict[str, list[str]] = {}
        new: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        places: list[dict[str, Any]] = []
        for p in posts:
            already = set(p.get("watchlists") or ())
            hits = [m.id for m in matchers if m(p) and m.id not in already]
            if hits:
                tags[p["_id"]] = hits
            for wid in hits:
                new[wid].append(p)
                # Scored before the watchlist (version) existed: part of its history.
                start, scored = since.get(wid), p.get("scored_at")
                places += place_rows(wid, p, history=bool(start and scored and scored < start))
        contrib: dict[str, dict[str, Any]] = {}
        for wid, ps in new.items():
            contrib.update(contributions(wid, ps))
        self._commit(tags, [p["_id"] for p in posts], contrib, places)
        report.live_seen += len(posts)
        report.live_tagged += len(tags)
        return len(posts)


def rebuild_watch_rollups(store: Store) -> int:
    """Recount every watchlist's rollups from its tagged posts (repair tool; run it with the
    alerts loop stopped, e.g. after posts were re-scored)."""
    watchlists, _ = load_watchlists(store)
    return sum(store.recount_watch_rollups(wl.id) for wl in watchlists)
