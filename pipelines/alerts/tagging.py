"""The watch pass: tag posts with the watchlists they match and keep ``kind="watch"`` rollups.

Two paths, both safe to repeat after a crash at any point:

- **Live**: scored posts without a ``watched`` mark are matched in Python against every
  watchlist (:class:`~pipelines.watchlists.Matcher`), tagged (``$addToSet`` on
  ``watchlists``) and marked ``watched``. The hours they fall in are written to a journal
  in ``meta`` *before* the posts are touched and recounted after, so a crash between the
  two is repaired by the next pass.
- **Back-fill**: a new or edited watchlist (its ``fingerprint`` changed) first loses its old
  tags, rollups and place sightings, then walks history through its MongoDB filter in
  ``_id`` order, in bounded batches, with the cursor saved on the watchlist after each
  batch. Redoing a batch re-adds tags that are already there and recounts the same hours.

Rollups are never incremented: each touched ``(watchlist, hour)`` is *recounted* from the
tagged posts (:meth:`~pipelines.store.Store.recount_watch_rollups`), so every post counts
exactly once and the rollups always equal a recount. Only scored posts are tagged: the
rollups carry score sums that the detector and the sentiment-shift rule read.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.store import Store, hour_floor, utcnow
from pipelines.watchlists import Matcher, Watchlist

log = logging.getLogger(__name__)

JOURNAL_KEY = "watch_journal"
DEFAULT_BATCH = 500


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
                self._reset(wl)
                report.reset.append(wl.id)
                docs[wl.id]["tagging"] = self._state(wl.fingerprint, "backfill", None, 0)
        for wl in watchlists:
            state = docs[wl.id]["tagging"]
            while state["phase"] == "backfill" and time.monotonic() < deadline:
                state = self._backfill_batch(wl, state, report)
            if state["phase"] == "backfill":
                report.done = False
        matchers = [w.matcher() for w in watchlists]
        while time.monotonic() < deadline:
            n = self._live_batch(matchers, report)
            if n < self.batch:
                break
        else:
            report.done = False
        report.seconds = time.monotonic() - t0
        return report

    def _state(self, fp: str, phase: str, cursor: str | None, done: int) -> dict[str, Any]:
        return {"fingerprint": fp, "phase": phase, "cursor": cursor, "tagged": done, "at": self.clock()}

    def _replay_journal(self) -> None:
        journal = self.store.get_meta(JOURNAL_KEY) or {}
        pending = journal.get("buckets") or {}
        for wid, hours in pending.items():
            self.store.recount_watch_rollups(wid, hours)
        if pending:
            log.warning("watch pass: repaired rollups of %d watchlist(s) after an interruption", len(pending))
            self.store.set_meta(JOURNAL_KEY, buckets={})

    def _drop_orphans(self, known: set[str]) -> list[str]:
        """Tags and rollups of watchlists that no longer exist (deleted ones)."""
        orphans = [w for w in self.store.watch_rollup_watchlists() if w not in known]
        for wid in orphans:
            self.store.remove_watch_tag(wid)
            self.store.delete_watch_data(wid)
            log.info("watch pass: removed the tags and rollups of deleted watchlist %r", wid)
        return orphans

    def _reset(self, wl: Watchlist) -> None:
        """A new or edited watchlist: clear what an older definition left, then back-fill."""
        self.store.remove_watch_tag(wl.id)
        self.store.delete_watch_data(wl.id)
        self.store.set_watch_tagging(wl.id, self._state(wl.fingerprint, "backfill", None, 0))
        log.info("watch pass: back-filling watchlist %r (fingerprint %s)", wl.id, wl.fingerprint)

    def _backfill_batch(self, wl: Watchlist, state: dict[str, Any], report: TagReport) -> dict[str, Any]:
        posts = self.store.backfill_posts(wl.to_mongo(), state.get("cursor"), self.batch)
        match = wl.matcher()
        tags: dict[str, list[str]] = {}
        places: list[dict[str, Any]] = []
        hours = set()
        for p in posts:
            if not match(p):  # the filter and the matcher mean the same; count any drift
                report.disagreements += 1
                continue
            tags[p["_id"]] = [wl.id]
            hours.add(hour_floor(p["ts"]))
            if wl.id not in (p.get("watchlists") or ()):
                places += place_rows(wl.id, p, history=True)
        self.store.add_watch_places(_earliest(places))
        self.store.apply_watch_tags(tags)
        self.store.recount_watch_rollups(wl.id, hours)
        done = int(state.get("tagged") or 0) + len(tags)
        report.backfilled[wl.id] = report.backfilled.get(wl.id, 0) + len(tags)
        phase = "backfill" if len(posts) >= self.batch else "live"
        cursor = posts[-1]["_id"] if posts else state.get("cursor")
        new_state = self._state(wl.fingerprint, phase, cursor, done)
        self.store.set_watch_tagging(wl.id, new_state)
        if phase == "live":
            log.info("watch pass: watchlist %r back-filled (%d posts)", wl.id, done)
        return new_state

    def _live_batch(self, matchers: list[Matcher], report: TagReport) -> int:
        posts = self.store.unwatched_posts(self.batch)
        if not posts:
            return 0
        tags: dict[str, list[str]] = {}
        dirty: dict[str, set[datetime]] = defaultdict(set)
        places: list[dict[str, Any]] = []
        for p in posts:
            already = set(p.get("watchlists") or ())
            hits = [m.id for m in matchers if m(p)]
            if hits:
                tags[p["_id"]] = hits
            for wid in hits:
                if wid not in already:
                    dirty[wid].add(hour_floor(p["ts"]))
                    places += place_rows(wid, p, history=False)
        self.store.add_watch_places(_earliest(places))
        if dirty:
            self.store.set_meta(
                JOURNAL_KEY, buckets={w: sorted(h) for w, h in dirty.items()}, at=self.clock()
            )
        self.store.apply_watch_tags(tags, mark_watched=[p["_id"] for p in posts])
        for wid, hours in dirty.items():
            self.store.recount_watch_rollups(wid, hours)
        if dirty:
            self.store.set_meta(JOURNAL_KEY, buckets={})
        report.live_seen += len(posts)
        report.live_tagged += len(tags)
        return len(posts)


def rebuild_watch_rollups(store: Store) -> int:
    """Recount every watchlist's rollups from its tagged posts (repair tool)."""
    watchlists, _ = load_watchlists(store)
    n = 0
    for wl in watchlists:
        hours = {hour_floor(p["ts"]) for p in store.iter_posts({"watchlists": wl.id}, projection={"ts": 1})}
        hours |= {d["hour"] for d in store.watch_rollups(wl.id)}
        n += store.recount_watch_rollups(wl.id, hours)
    return n
