"""The detector process: rollups -> series -> scores -> anomalies with evidence, every cycle.

Which buckets a cycle scores
----------------------------
Everything is relative to the newest data, never to the wall clock, so an archive
import (the bundled 2013 sample) is scored like live data:

* a series scored for the first time is scored over its whole loaded history (up
  to ``max_history_days`` before its newest bucket): the first cycle after ``make run``
  finds the spikes of every imported event;
* afterwards only series whose newest bucket moved are rescored, over the last
  ``lookback_days`` before their newest bucket (late posts in that span are seen);
* a bucket still filling (its hour has not ended) is never scored.

The first cycle reads every rollup; later ones read from the newest hour seen so far
minus the lookback, its context and the training window of its oldest chunk (bounded). Overlapping detections of one series merge into
one anomaly (:meth:`pipelines.store.anomalies.Anomalies.upsert`), so rescoring is idempotent.
"""

from __future__ import annotations

import logging
import resource
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from pipelines.detect import defaults as D
from pipelines.detect import evidence as E
from pipelines.detect import feedback as F
from pipelines.detect import incidents as I
from pipelines.detect.defaults import DetectConfig
from pipelines.detect.detector import AnomalyWindow, Caches, find_anomalies, score_series
from pipelines.detect.series import SeriesId, build_series
from pipelines.search import signals
from pipelines.search.index import SearchIndex, SearchIndexError
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store, utcnow

log = logging.getLogger(__name__)

CONTEXT_BEFORE = timedelta(days=3)
CONTEXT_AFTER = timedelta(days=1)
POST_FIELDS = {
    "_id": 1,
    "source": 1,
    "ts": 1,
    "text": 1,
    "title": 1,
    "url": 1,
    "author": 1,
    "engagement": 1,
    "terms": 1,
    "scores.threat": 1,
    "scores.hate": 1,
    "scores.toxicity": 1,
    "scores.sentiment": 1,
    "scores.places": 1,
    "scores.entities": 1,
}


def config_for(sid: SeriesId, base: DetectConfig) -> DetectConfig:
    """Counts keep ``base``; mean scores use the raw scale and flag both directions."""
    if sid.is_count:
        return base
    return base.with_(transform=D.MEAN_CONFIG.transform, direction=D.MEAN_CONFIG.direction)


@dataclass
class CycleReport:
    """What one cycle did (logged as one line)."""

    series: int = 0
    scored: int = 0
    points: int = 0
    inserted: int = 0
    updated: int = 0
    incidents: int = 0
    damped: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"detect cycle {self.seconds:.1f} s: {self.scored}/{self.series} series scored "
            f"({self.points} points), {self.inserted} new anomalies, {self.updated} updated, "
            f"{self.incidents} incidents written, {self.damped} series damped by feedback, "
            f"peak RSS {self.peak_rss_mb:.0f} MB" + (f", {len(self.errors)} error(s)" if self.errors else "")
        )


class DetectorService:
    """Runs detector cycles over one store, keeping fitted baselines between cycles.

    Parameters
    ----------
    store:
        Where rollups, posts and anomalies live.
    config:
        Detector settings for count series (mean series derive from it).
    lookback_days, max_history_days:
        See the module docstring.
    max_series:
        Busiest series keys kept per cycle (``all`` always), to bound a cycle's cost.
    clock:
        ``now()`` (tests move time).
    index:
        The search index (issue 13): ``watch:<id>`` series are hourly aggregations of
        each watchlist's query, and evidence terms are ranked from exact counts. Without
        it there are no watch series and evidence reads bounded samples of posts.
    index_dir:
        Where to open the index at the start of a cycle while ``index`` is None (it may
        not exist yet when the detector starts beside a first rebuild).
    """

    def __init__(
        self,
        store: Store,
        config: DetectConfig | None = None,
        *,
        lookback_days: float = 2.0,
        max_history_days: float = 400.0,
        max_series: int = 300,
        min_total: float = 20.0,
        clock: Any = utcnow,
        index: SearchIndex | None = None,
        index_dir: Any = None,
    ) -> None:
        self.store = store
        self.index = index
        self.index_dir = index_dir
        self.config = config or DetectConfig()
        self.lookback = timedelta(days=lookback_days)
        self.max_history = timedelta(days=max_history_days)
        self.max_series = max_series
        self.min_total = min_total
        self.clock = clock
        self.caches = Caches()
        self._damping: dict[str, int] = {}
        """Series -> feedback damping steps in force this cycle (:mod:`.feedback`)."""

    # ------------------------------------------------------------------ one cycle

    def run_cycle(self) -> CycleReport:
        """Score every changed series once and store what it finds.

        Long because one cycle is one sequence (read, score with a writer thread storing
        behind, state, incidents, meta) whose steps share the report and the window span.
        """
        started = time.perf_counter()
        report = CycleReport()
        meta = self.store.meta.get("detector") or {}
        newest_seen = meta.get("newest")
        newest_seen = _utc(newest_seen)
        # Enough history for the lookback, its context and the fits of its oldest chunk.
        history = (
            self.lookback
            + CONTEXT_BEFORE
            + timedelta(days=self.config.train_days + self.config.record_days + 2)
        )
        since = newest_seen - history if newest_seen else None
        if self.index is None and self.index_dir is not None:
            try:
                self.index = SearchIndex.open(self.index_dir)
            except SearchIndexError as exc:
                log.warning("detector: no watch series yet: %s", exc)
        docs = self.store.rollups.for_detector(since) + self._watch_docs(since)
        series = build_series(docs, min_total=self.min_total, max_series=self.max_series)
        state = self.store.detector.state()
        now = self.clock()
        self._damping = F.steps(self.store.detector.feedback(now), now)
        report.damped = len(self._damping)
        touched: list[tuple[datetime, datetime]] = []
        done: dict[str, datetime] = {}
        report.series = len(series)
        newest_all: datetime | None = None
        pending: list[tuple[SeriesId, datetime, Future[list[tuple[str, bool]]], list]] = []
        # Scoring is the client's CPU, evidence and writes wait on the server: one writer
        # thread stores series k (in order) while series k + 1 is scored (2 cores, issue 12).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect-store") as writer:
            for sid, frame in self._ordered(series):
                frame = frame.filter(pl.col("time") + pl.duration(hours=1) <= now)
                if frame.height < 2:
                    continue
                newest = frame["time"][-1]
                newest_all = newest if newest_all is None or newest > newest_all else newest_all
                prev = _utc(state.get(str(sid)))
                if prev is not None and prev >= newest:
                    continue
                try:
                    found, points = self._score(sid, frame, prev)
                except Exception as exc:  # one bad series must not stop the others
                    log.exception("detector: series %s failed", sid)
                    report.errors.append(f"{sid}: {type(exc).__name__}: {exc}")
                    continue
                report.scored += 1
                report.points += points
                pending.append((sid, newest, writer.submit(self._store_found, sid, found), found))
            for sid, newest, future, found in pending:
                try:
                    stored = future.result()
                except Exception as exc:  # not marked done: rescored next cycle
                    log.exception("detector: storing series %s failed", sid)
                    report.errors.append(f"{sid}: {type(exc).__name__}: {exc}")
                    continue
                for (window, _), (_id, inserted) in zip(found, stored, strict=True):
                    report.inserted += int(inserted)
                    report.updated += int(not inserted)
                    log.debug("anomaly %s (%s) %s", _id, "new" if inserted else "updated", window)
                    touched.append((window.start, window.end))
                done[str(sid)] = newest
        self.store.detector.set_state(done)
        if touched:
            try:
                report.incidents = self.rebuild_incidents(
                    min(t[0] for t in touched), max(t[1] for t in touched)
                )
            except Exception as exc:  # anomalies are stored; incidents catch up next cycle
                log.exception("detector: incident rebuild failed")
                report.errors.append(f"incidents: {type(exc).__name__}: {exc}")
        report.seconds = time.perf_counter() - started
        report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        newest_meta = max(filter(None, [newest_all, _utc(newest_seen)]), default=None)
        self.store.meta.set(
            "detector",
            newest=newest_meta,
            last_cycle=utcnow(),
            last_seconds=round(report.seconds, 2),
            last_report=report.line(),
        )
        return report

    @staticmethod
    def _ordered(series: dict[SeriesId, pl.DataFrame]) -> list[tuple[SeriesId, pl.DataFrame]]:
        """Counts first (``all``, then sources), then high-score counts, then means.

        Anomalies are stored as each series is scored, so on a first cycle over a long
        history the volume spikes reach the dashboard first. A source that is the only
        one (its series equals ``all``) is skipped: it would repeat every ``all`` anomaly.
        """
        everything = series.get(SeriesId("all", "count"))

        def rank(sid: SeriesId) -> tuple[int, int, str]:
            metric = 0 if sid.metric == "count" else 1 if sid.metric.startswith("high:") else 2
            kind = {"all": 0, "source": 1, "watch": 2, "lang": 3, "place": 4}.get(sid.kind, 5)
            return metric, kind, str(sid)

        out = []
        for sid in sorted(series, key=rank):
            frame = series[sid]
            if (
                sid.kind == "source"
                and sid.metric == "count"
                and everything is not None
                and frame.equals(everything)
            ):
                continue
            out.append((sid, frame))
        return out

    def _score(
        self, sid: SeriesId, frame: pl.DataFrame, prev: datetime | None
    ) -> tuple[list[tuple[AnomalyWindow, dict[str, Any]]], int]:
        config = F.damped(config_for(sid, self.config), self._damping.get(str(sid), 0))
        times = frame["time"].dt.replace_time_zone(None).to_numpy()
        values = frame["value"].to_numpy().astype(float)
        newest = frame["time"][-1]
        # First time: the whole loaded history; later: the lookback before the last scored bucket.
        first = newest - self.max_history if prev is None else prev - self.lookback
        # History before ``first`` is context only; the oldest kept point bounds the fits.
        keep_from = first - timedelta(days=config.train_days + config.record_days + 2)
        offset = int((frame["time"] < keep_from).sum())
        times, values = times[offset:], values[offset:]
        kept = frame["time"][offset:]
        # Scored from 3 days before ``first`` so every anomaly's context comes from the same run.
        start = int((kept < first - CONTEXT_BEFORE).sum())
        scores = score_series(times, values, config, start=start, caches=self.caches, series=sid)
        fresh = scores.filter(pl.col("time") >= first.replace(tzinfo=None))
        out = []
        for w in find_anomalies(fresh, config):
            posts = window_posts(frame, w)
            if not sid.is_count and posts < I.MIN_MEAN_POSTS:
                log.debug("%s: mean anomaly over %d posts < %d, not raised", sid, posts, I.MIN_MEAN_POSTS)
                continue
            doc = self._document(sid, w, scores, with_evidence=False)
            doc["posts"] = posts
            out.append((w, doc))
        return out, len(scores)

    def _store_found(
        self, sid: SeriesId, found: list[tuple[AnomalyWindow, dict[str, Any]]]
    ) -> list[tuple[str, bool]]:
        """Evidence for a series' windows, then one bulk upsert (the writer thread's job)."""
        for w, doc in found:
            doc["evidence"] = self._evidence_or_error(sid, w)
        return self.store.anomalies.upsert_many([doc for _, doc in found])

    # ------------------------------------------------------------------ documents

    def _evidence_or_error(self, sid: SeriesId, w: AnomalyWindow) -> dict[str, Any]:
        try:
            return self.evidence(sid, w)
        except Exception as exc:  # an anomaly without evidence beats no anomaly
            log.warning("evidence for %s failed: %s", sid, exc)
            return {"posts": [], "terms": [], "places": [], "error": str(exc)[:300]}

    def _document(
        self, sid: SeriesId, w: AnomalyWindow, scored: pl.DataFrame | None, *, with_evidence: bool = True
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "series": str(sid),
            "key": sid.key,
            "metric": sid.metric,
            "kind": sid.kind,
            "value": sid.value,
            "start": w.start,
            "end": w.end,
            "peak": w.peak,
            "observed": round(w.observed, 4),
            "expected": round(w.expected, 4),
            "lo": round(w.lo, 4),
            "hi": round(w.hi, 4),
            "interval": {"lo": round(w.lo, 4), "hi": round(w.hi, 4)},
            "observed_total": round(w.observed_total, 4),
            "expected_total": round(w.expected_total, 4),
            "severity": round(w.severity, 4),
            "methods": list(w.methods),
            "detector": {"version": 1, "method": self.config.method, "threshold": self.config.threshold},
        }
        if with_evidence:
            doc["evidence"] = self._evidence_or_error(sid, w)
        if scored is not None:
            doc["context"] = context_rows(scored, w)
        return doc

    # ------------------------------------------------------------------ the search index (issue 13)

    def _watchlists(self) -> dict[str, Watchlist]:
        out = {}
        for doc in self.store.alerts.list_config("watchlists"):
            try:
                wl = Watchlist.from_doc(doc)
            except ValueError:
                continue
            out[wl.id] = wl
        return out

    def _watch_docs(self, since: datetime | None) -> list[dict[str, Any]]:
        """Every watchlist's hourly ``kind="watch"`` documents, aggregated in the index."""
        if self.index is None:
            return []
        searcher = self.index.searcher()
        docs: list[dict[str, Any]] = []
        for wl in self._watchlists().values():
            docs += signals.watch_rollups(searcher, self.index.schema, wl, since)
        return docs

    def _indexed_evidence(self, sid: SeriesId, w: AnomalyWindow) -> dict[str, Any] | None:
        """Evidence through the index: posts of the series near the peak, exact term lift."""
        assert self.index is not None
        searcher, schema = self.index.searcher(), self.index.schema
        query = signals.series_query(searcher, schema, sid.key, self._watchlists(), sid.metric)
        if query is None:
            return None
        window = (max(w.start, w.peak - timedelta(hours=1)), min(w.end, w.peak + timedelta(hours=2)))
        ids = signals.newest_ids_between(searcher, schema, query, *window, D.TERM_SAMPLE)
        if len(ids) < D.EVIDENCE_POSTS:
            window = (w.start, w.end)
            ids = signals.newest_ids_between(searcher, schema, query, *window, D.TERM_SAMPLE)
        posts = self.store.posts.by_ids(ids, POST_FIELDS) if ids else []
        baseline = (w.start - timedelta(days=7), w.start)
        return {
            "posts": E.top_posts(posts, sid.metric, D.EVIDENCE_POSTS),
            "terms": signals.terms_by_lift(
                searcher, schema, query, window, baseline, D.EVIDENCE_TERMS, index_dir=self.index.path
            ),
            "places": E.top_places(posts, D.EVIDENCE_PLACES),
            "sample": {"window": len(posts), "baseline": 0, "exact_terms": True},
        }

    def evidence(self, sid: SeriesId, w: AnomalyWindow) -> dict[str, Any]:
        """Top posts, lifted terms and places around the anomaly's peak (bounded queries)."""
        if self.index is not None:
            found = self._indexed_evidence(sid, w)
            if found is not None:
                return found
        query = E.series_filter(sid.key)
        metric_name = sid.metric.split(":", 1)[1] if ":" in sid.metric else ""
        if sid.metric.startswith("high:") and metric_name:
            query = {**query, f"scores.{metric_name}": {"$gte": 0.5}}
        peak_lo = max(w.start, w.peak - timedelta(hours=1))
        peak_hi = min(w.end, w.peak + timedelta(hours=2))
        window_posts = self.store.posts.sample(query, peak_lo, peak_hi, D.TERM_SAMPLE, POST_FIELDS)
        if len(window_posts) < D.EVIDENCE_POSTS:
            window_posts = self.store.posts.sample(query, w.start, w.end, D.TERM_SAMPLE, POST_FIELDS)
        base_posts = self.store.posts.sample(
            query, w.start - timedelta(days=7), w.start, D.TERM_SAMPLE, {"terms": 1}
        )
        return {
            "posts": E.top_posts(window_posts, sid.metric, D.EVIDENCE_POSTS),
            "terms": E.term_lift(
                (p.get("terms") or [] for p in window_posts),
                (p.get("terms") or [] for p in base_posts),
                D.EVIDENCE_TERMS,
            ),
            "places": E.top_places(window_posts, D.EVIDENCE_PLACES),
            "entities": E.top_entities(window_posts, D.EVIDENCE_PLACES),
            "sample": {"window": len(window_posts), "baseline": len(base_posts)},
        }

    # ------------------------------------------------------------------ incidents (issue 12)

    def rebuild_incidents(self, since: datetime, until: datetime) -> int:
        """Regroup every anomaly near ``[since, until)`` into incidents and store them.

        The span is widened by a day each way (and to the incidents already stored
        there), so a group that straddles the cycle's edge is rebuilt whole.
        """
        lo, hi = since - timedelta(days=1), until + timedelta(days=1)
        stored = {}
        for inc in self.store.incidents.overlapping(lo, hi):
            lo, hi = min(lo, _utc(inc["start"]) or lo), max(hi, _utc(inc["end"]) or hi)
            stored[str(inc["_id"])] = inc
        anomalies = self.store.anomalies.overlapping(lo, hi)
        previous = self.store.incidents.members(lo, hi)
        docs = I.build_incidents(anomalies, previous)
        # Only incidents whose computed fields changed are written (a later cycle touches few).
        changed = [d for d in docs if not I.same_as_stored(d, stored.get(str(d["_id"])))]
        written = {str(d["_id"]) for d in changed}
        kept = [str(d["_id"]) for d in docs if str(d["_id"]) not in written]
        self.store.incidents.replace(changed, lo, hi, unchanged=kept)
        return len(changed)

    # ------------------------------------------------------------------ the loop

    def loop(self, interval_s: float, stop: Any = None, max_cycles: int | None = None) -> None:
        """Run cycles every ``interval_s`` seconds until ``stop`` (a ``threading.Event``) is set."""
        cycles = 0
        while True:
            started = time.monotonic()
            try:
                report = self.run_cycle()
                log.info(report.line())
                for err in report.errors[:5]:
                    log.warning("detect: %s", err)
            except Exception:  # a failed cycle (store down) is retried next time
                log.exception("detect cycle failed; retrying in %.0f s", interval_s)
            cycles += 1
            if max_cycles is not None and cycles >= max_cycles:
                return
            wait = max(0.0, interval_s - (time.monotonic() - started))
            if stop is not None:
                if stop.wait(wait):
                    return
            else:
                time.sleep(wait)


def _utc(t: Any) -> datetime | None:
    if not isinstance(t, datetime):
        return None
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def window_posts(frame: pl.DataFrame, w: AnomalyWindow) -> int:
    """Posts in the series' slice during the window (the frame's ``n`` column)."""
    if "n" not in frame.columns:
        return 0
    part = frame.filter((pl.col("time") >= w.start) & (pl.col("time") < w.end))
    return int(part["n"].sum() or 0)


def context_rows(scored: pl.DataFrame, w: AnomalyWindow) -> list[dict[str, Any]]:
    """Observed, expected band and matrix profile from 3 days before to 1 day after the window."""
    lo = (w.start - CONTEXT_BEFORE).replace(tzinfo=None)
    hi = (w.end + CONTEXT_AFTER).replace(tzinfo=None)
    part = scored.filter((pl.col("time") >= lo) & (pl.col("time") < hi)).tail(500)
    rows = []
    for r in part.select("time", "value", "expected", "lo", "hi", "mp", "severity").iter_rows(named=True):
        rows.append(
            {
                "time": r["time"].replace(tzinfo=UTC),
                **{
                    k: (None if r[k] is None or not np.isfinite(r[k]) else round(float(r[k]), 4))
                    for k in ("value", "expected", "lo", "hi", "mp", "severity")
                },
            }
        )
    return rows
