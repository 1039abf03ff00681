"""One cycle of the alerts loop: rules, decisions, summaries, deliveries.

This is the thin I/O layer around the pure parts (:mod:`~pipelines.alerts.rules`,
:mod:`~pipelines.alerts.render`). What a watchlist selects is read from the search index
(:mod:`pipelines.search.signals`): its hourly series, its posts above a score, the places
its posts name for the first time. There is no per-post tagging. A cycle:

1. opens a searcher on the index (rules that need it report an error while it is missing);
2. for each enabled rule, reads what it needs, evaluates it, and records each event
   once in ``alert_events`` (``_id`` = hash of rule and event key) with its decision
   (send, suppress, hold, digest) taken when it is first seen;
3. groups what is to be sent: a single alert per ``send`` event, one summary per digest
   period, one summary per quiet-hours night, and queues one delivery per channel;
4. sends due deliveries (:class:`~pipelines.alerts.notify.Notifier`).

Every step is idempotent: a crash anywhere is repaired by the next cycle without a
duplicate message (events and deliveries have unique ids; ``queued`` flags are set
after the deliveries exist).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pipelines.alerts import rules as R
from pipelines.alerts.models import Event, Message, PostRef, Rule, severity_label
from pipelines.alerts.notify import DeliveryReport, Notifier, delivery_id, message_to_doc
from pipelines.read.queries import Reader
from pipelines.search import aggregate, signals
from pipelines.search.filters import Filters
from pipelines.search.index import SearchIndex, SearchIndexError, index_path
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store, utcnow

log = logging.getLogger(__name__)

MAX_THRESHOLD_POSTS = 50
POST_FIELDS = {"_id": 1, "source": 1, "text": 1, "title": 1, "url": 1, "author": 1, "ts": 1, "scores": 1}
SUMMARY_ITEMS = 50


def event_id(rule: str, key: str) -> str:
    return hashlib.sha256(f"{rule}\x1f{key}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- adapters


def _dt(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return None


def _stored_before(post: Mapping[str, Any], when: datetime | None) -> bool:
    scored = _dt(post.get("scored_at"))
    return when is not None and scored is not None and scored < when


def post_ref(doc: Mapping[str, Any], score_field: str | None = None) -> PostRef:
    """A post document (or an anomaly's evidence entry) as shown in alerts."""
    scores = doc.get("scores") or {}
    score = doc.get("score")
    if score is None and score_field:
        score = scores.get(score_field)
    text = doc.get("text") or doc.get("title") or ""
    return PostRef(
        id=str(doc.get("_id") or doc.get("id") or ""),
        source=str(doc.get("source") or str(doc.get("_id") or "").split(":", 1)[0]),
        text=str(text)[:2000],
        url=doc.get("url"),
        author=doc.get("author"),
        ts=_dt(doc.get("ts")),
        score=float(score) if isinstance(score, int | float) else None,
    )


def incident_ref(doc: Mapping[str, Any] | None) -> R.IncidentRef | None:
    """An incident document (``incidents`` collection) as spike rules see it."""
    if not doc or _dt(doc.get("start")) is None or _dt(doc.get("end")) is None:
        return None
    return R.IncidentRef(
        id=str(doc["_id"]),
        title=str(doc.get("title") or doc["_id"]),
        severity=float(doc.get("severity") or 0.0),
        start=_dt(doc["start"]),  # type: ignore[arg-type]
        end=_dt(doc["end"]),  # type: ignore[arg-type]
        posts=int(doc.get("posts") or 0),
        minor=bool(doc.get("minor")),
        status=str(doc.get("status") or "open"),
        explanation=str(doc.get("explanation") or "")[:2000],
    )


def anomaly_view(
    doc: Mapping[str, Any],
    posts: Mapping[str, Mapping[str, Any]] | None = None,
    incident: Mapping[str, Any] | None = None,
) -> R.AnomalyView | None:
    """The detector's anomaly document as the rules see it (tolerant of missing fields).

    ``series`` may be a bare key (``watch:acme``) or ``key|metric``; the key is kept.
    Evidence posts may be embedded documents or ids (resolved through ``posts``).
    """
    series = str(doc.get("series") or doc.get("key") or "")
    start, end = _dt(doc.get("start")), _dt(doc.get("end"))
    if not series or start is None or end is None:
        return None
    evidence = doc.get("evidence") or {}
    raw_posts = doc.get("posts") or evidence.get("posts") or evidence.get("top_posts") or []
    refs = []
    for p in raw_posts[:5]:
        if isinstance(p, Mapping) and (p.get("text") or p.get("title")):
            refs.append(post_ref(p))
        else:
            pid = p.get("_id") or p.get("id") if isinstance(p, Mapping) else p
            if posts and pid in posts:
                refs.append(post_ref(posts[pid]))
    terms = doc.get("terms") or evidence.get("terms") or []
    return R.AnomalyView(
        id=str(doc["_id"]),
        series=series.split("|", 1)[0],
        start=start,
        end=end,
        severity=float(doc.get("severity") or 0.0),
        observed=doc.get("observed"),
        expected=doc.get("expected"),
        methods=tuple(doc.get("methods") or ()),
        posts=tuple(refs),
        terms=tuple(t if isinstance(t, str) else str(t.get("term", "")) for t in terms[:10]),
        status=str(doc.get("status") or "open"),
        incident=incident_ref(incident),
    )


# --------------------------------------------------------------------------- the cycle


def load_watchlists(store: Store) -> list[Watchlist]:
    """Valid watchlists (an invalid document is logged and skipped)."""
    out = []
    for doc in store.alerts.list_config("watchlists"):
        try:
            out.append(Watchlist.from_doc(doc))
        except ValueError as exc:
            log.error("watchlist %r is invalid and is ignored: %s", doc.get("_id"), exc)
    return out


@dataclass
class CycleReport:
    events: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    delivery: DeliveryReport | None = None
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        d = self.delivery or DeliveryReport()
        return (
            f"alerts cycle {self.seconds:.1f} s: {self.events} new events {dict(self.decisions)}, "
            f"{self.queued} queued, sent {d.sent}, retrying {d.retrying}, failed {d.failed}"
        )


class AlertService:
    """Runs alert cycles over one store. ``clock`` is injectable (tests move time)."""

    def __init__(
        self,
        store: Store,
        *,
        public_url: str = "http://localhost:8501",
        clock: Callable[[], datetime] = utcnow,
        notifier: Notifier | None = None,
        index: SearchIndex | None = None,
        data_dir: Any = None,
    ) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.notifier = notifier or Notifier(store, clock=clock)
        self.notifier.watch_series = self.watch_rollups
        self._index = index
        self._data_dir = data_dir
        self._watchlists: dict[str, Watchlist] = {}

    # ------------------------------------------------------------------ the index

    def reader(self) -> Reader:
        """The search index (opened on first use; :class:`SearchIndexError` while missing)."""
        if self._index is None:
            if self._data_dir is None:
                from pipelines.core.config import get_settings

                self._data_dir = get_settings().vigil_data_dir
            self._index = SearchIndex.open(index_path(self._data_dir))
        return Reader(self.store, self._index)

    def watch_rollups(
        self, wid: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict]:
        """A watchlist's scored posts per hour (``kind="watch"`` rollup shape), from the index."""
        wl = self._watchlists.get(wid) or next((w for w in load_watchlists(self.store) if w.id == wid), None)
        if wl is None:
            return []
        reader = self.reader()
        searcher = reader.index.searcher()
        return signals.watch_rollups(searcher, reader.index.schema, wl, since, until)

    def _matching(self, f: Filters, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` posts ``f`` selects (a watchlist's included), read by id."""
        reader = self.reader()
        searcher, query = reader.select(f)
        ids = aggregate.newest_ids(searcher, query, limit=limit)
        by_id = {d["_id"]: d for d in self.store.posts.by_ids(ids, POST_FIELDS)} if ids else {}
        return [by_id[i] for i in ids if i in by_id]

    # ------------------------------------------------------------------ public

    def cycle(self, deliver: bool = True) -> CycleReport:
        t0 = time.monotonic()
        report = CycleReport()
        now = self.clock()
        rules = self.rules()
        self._watchlists = {w.id: w for w in load_watchlists(self.store)}
        names = {w.id: w.name for w in self._watchlists.values()}
        newest = self.store.posts.newest_ts()
        data_now = min(newest, now) if newest else now
        for rule in rules:
            if rule.watchlist and rule.watchlist not in names:
                report.errors.append(f"rule {rule.id!r}: watchlist {rule.watchlist!r} does not exist")
                continue
            try:
                self._evaluate(rule, data_now, now, names, report)
                self._flush_summaries(rule, now)
                report.queued += self._queue(rule, names, now)
            except SearchIndexError as exc:
                report.errors.append(f"rule {rule.id!r}: {exc}")
            except Exception as exc:
                log.exception("rule %r failed", rule.id)
                report.errors.append(f"rule {rule.id!r}: {type(exc).__name__}: {exc}")
        if deliver:
            report.delivery = self.notifier.deliver_due()
        report.seconds = time.monotonic() - t0
        return report

    def rules(self) -> list[Rule]:
        out = []
        for doc in self.store.alerts.list_config("alert_rules"):
            try:
                rule = Rule.from_doc(doc)
            except ValueError as exc:
                log.error("rule %r is invalid and is skipped: %s", doc.get("_id"), exc)
                continue
            if rule.enabled:
                out.append(rule)
        return out

    # ------------------------------------------------------------------ evaluation

    def inputs(self, rule: Rule, data_now: datetime, names: Mapping[str, str]) -> R.RuleInputs:
        """Read what ``rule`` looks at (and nothing else)."""
        since = R.lookback_start(rule, data_now)
        kw: dict[str, Any] = {"data_now": data_now, "watchlist_name": names.get(rule.watchlist or "")}
        if rule.kind == "spike":
            docs = self.store.anomalies.since(since)
            ids = {
                (p.get("_id") or p.get("id")) if isinstance(p, Mapping) else p
                for d in docs
                for p in (d.get("posts") or (d.get("evidence") or {}).get("posts") or [])[:5]
            }
            ids.discard(None)
            by_id = {p["_id"]: p for p in self.store.posts.by_ids(sorted(ids))} if ids else {}
            incidents = self.store.incidents.of_anomalies([str(d["_id"]) for d in docs])
            kw["anomalies"] = [
                a
                for a in (anomaly_view(d, by_id, incidents.get(str(d["_id"]))) for d in docs)
                if a is not None
            ]
        elif rule.kind == "threshold":
            f = Filters.make(since=since, watchlist=rule.watchlist, **{rule.score: (rule.score_cut, 1.0)})
            docs = self._matching(f, MAX_THRESHOLD_POSTS)
            kw["posts"] = [post_ref(d, rule.score) for d in docs]
        elif rule.kind in ("volume", "sentiment_shift"):
            assert rule.watchlist
            start = data_now - timedelta(days=rule.baseline_days, hours=rule.window_hours * 2 + 2)
            kw["buckets"] = [
                R.HourBucket(
                    hour=d["hour"],
                    n=int(d.get("n") or 0),
                    scored=int(d.get("n") or 0),
                    sentiment=float((d.get("sum") or {}).get("sentiment") or 0.0),
                )
                for d in self.watch_rollups(rule.watchlist, since=start)
            ]
        elif rule.kind == "new_place":
            assert rule.watchlist
            kw["places"] = self._new_places(self._watchlists[rule.watchlist], since)
        return R.RuleInputs(**kw)

    def _new_places(self, wl: Watchlist, since: datetime) -> list[R.PlaceSeen]:
        """Places the watchlist's posts name since ``since`` and never before (from the index).

        A sighting whose post was scored before the watchlist was created counts as
        ``history`` (it was there before anyone watched: no alert), as the back-fill's
        sightings did.
        """
        reader = self.reader()
        searcher = reader.index.searcher()
        seen = signals.first_sightings(searcher, reader.index.schema, wl, since)
        posts = {p["_id"]: p for p in self.store.posts.by_ids([s["post"] for s in seen])} if seen else {}
        doc = self.store.alerts.get_config("watchlists", wl.id) or {}
        created = _dt(doc.get("created"))
        out = []
        for s in seen:
            post = posts.get(s["post"])
            if post is None:
                continue
            named = next(
                (p for p in (post.get("scores") or {}).get("places") or [] if p.get("name") == s["name"]), {}
            )
            country = named.get("country")
            first = post["ts"] if post["ts"].tzinfo else post["ts"].replace(tzinfo=UTC)
            out.append(
                R.PlaceSeen(
                    key=f"{s['name'].casefold()}|{(country or '-').upper()}",
                    name=s["name"],
                    first_seen=first,
                    country=country,
                    history=_stored_before(post, created),
                    post=post_ref(post),
                )
            )
        return out

    def _evaluate(
        self, rule: Rule, data_now: datetime, now: datetime, names: Mapping[str, str], report: CycleReport
    ) -> None:
        events = sorted(R.evaluate(rule, self.inputs(rule, data_now, names)), key=lambda e: (e.at, e.key))
        if rule.kind in ("volume", "sentiment_shift") and events:
            events = [self._with_top_posts(rule, e) for e in events]
        for ev in events:
            eid = event_id(rule.id, ev.key)
            if self.store.alerts.events({"_id": eid}, limit=1):
                continue
            decision = R.decide(rule, now, self.store.alerts.last_sent(rule.id))
            doc = self._event_doc(eid, ev, decision, now)
            if self.store.alerts.insert_event(doc):
                report.events += 1
                report.decisions[decision] = report.decisions.get(decision, 0) + 1

    def _with_top_posts(self, rule: Rule, ev: Event) -> Event:
        """Volume and sentiment events show the most negative posts of their window."""
        from dataclasses import replace

        f = Filters.make(since=ev.window_start, until=ev.window_end, watchlist=rule.watchlist)
        docs = self._matching(f, 200)
        if rule.kind == "sentiment_shift":
            docs.sort(key=lambda d: (d.get("scores") or {}).get("sentiment", 0.0))
        return replace(ev, posts=tuple(post_ref(d, "sentiment") for d in docs[:3]))

    def _event_doc(self, eid: str, ev: Event, decision: str, now: datetime) -> dict[str, Any]:
        doc = asdict(ev)
        doc["posts"] = [asdict(p) for p in ev.posts]
        doc.update(
            _id=eid,
            decision=decision,
            created=now,
            severity_label=severity_label(ev.severity),
            group=ev.key if decision == "send" else None,
            queued=decision not in ("send",),
        )
        return doc

    # ------------------------------------------------------------------ summaries

    def _flush_summaries(self, rule: Rule, now: datetime) -> None:
        """Assign due digest and held events to their summary group (queued next)."""
        pending = self.store.alerts.events(
            {"rule": rule.id, "decision": "digest", "group": None}, limit=10_000
        )
        boundary = R.digest_due(rule, now, [e["created"] for e in pending])
        if boundary is not None:
            ids = [e["_id"] for e in pending if e["created"] < boundary]
            self.store.alerts.update_events(ids, group=f"digest|{boundary.isoformat()}", queued=False)
        held = self.store.alerts.events({"rule": rule.id, "decision": "hold", "group": None}, limit=10_000)
        for end, ids in R.release_held(rule, now, [(e["_id"], e["created"]) for e in held]).items():
            self.store.alerts.update_events(ids, group=f"held|{end.isoformat()}", queued=False)

    def _queue(self, rule: Rule, names: Mapping[str, str], now: datetime) -> int:
        """One delivery per channel for every group of events not queued yet."""
        todo = self.store.alerts.events(
            {"rule": rule.id, "queued": False, "group": {"$ne": None}}, limit=10_000
        )
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in todo:
            groups[e["group"]].append(e)
        queued = 0
        for group, events in groups.items():
            msg, chart = self.message(rule, group, events, names, now)
            for channel in rule.channels:
                doc = {
                    "_id": delivery_id(rule.id, group, channel),
                    "rule": rule.id,
                    "rule_name": rule.name,
                    "group": group,
                    "events": [e["_id"] for e in events],
                    "kind": msg.kind,
                    "watchlist": rule.watchlist,
                    "channel": channel,
                    "title": msg.title,
                    "severity": msg.severity,
                    "severity_label": msg.severity_label,
                    "status": "pending",
                    "attempts": 0,
                    "at": now,
                    "next_try": now,
                    "last_error": None,
                    "payload": message_to_doc(msg),
                    "chart": chart,
                }
                queued += int(self.store.alerts.enqueue_delivery(doc))
            self.store.alerts.update_events([e["_id"] for e in events], queued=True)
        return queued

    def link(self, path: str | None) -> str | None:
        """An absolute dashboard link. Explore links to a watchlist also carry its keywords,
        sources and languages, which Explore's address parameters understand."""
        if not path:
            return None
        page, _, query = path.partition("?")
        params = dict(parse_qsl(query))
        wl = self._watchlists.get(params.get("watchlist", "")) if page == "explore" else None
        if wl is not None:
            if wl.query:
                params["q"] = wl.query
            if wl.sources:
                params["sources"] = ",".join(wl.sources)
            if wl.langs:
                params["langs"] = ",".join(wl.langs)
        return f"{self.public_url}/{page}" + (f"?{urlencode(params, safe=':,')}" if params else "")

    def message(
        self, rule: Rule, group: str, events: list[dict[str, Any]], names: Mapping[str, str], now: datetime
    ) -> tuple[Message, dict[str, Any] | None]:
        """The message of one group (a single event, or a summary) and its chart spec."""
        wname = names.get(rule.watchlist or "") or rule.watchlist
        events = sorted(events, key=lambda e: (-float(e["severity"]), e["at"]))
        if len(events) == 1 and events[0]["decision"] == "send":
            e = events[0]
            msg = Message(
                id=group,
                title=e["title"],
                severity=float(e["severity"]),
                kind=e["kind"],
                rule=rule.name,
                summary=e.get("detail") or "",
                link=self.link(e.get("link_path")),
                watchlist=wname,
                observed=e.get("observed"),
                expected=e.get("expected"),
                window_start=e.get("window_start"),
                window_end=e.get("window_end"),
                posts=tuple(PostRef(**p) for p in e.get("posts") or ()),
                created=now,
            )
            start = e.get("window_start") or e["at"]
            end = e.get("window_end") or e["at"]
        else:
            kind, _, when = group.partition("|")
            if kind == "digest":
                title = f"{rule.digest.capitalize()} digest: {len(events)} alert(s) from {rule.name}"
                summary = f"Events since the last digest, up to {when[:16].replace('T', ' ')} UTC."
            else:
                title = f"{len(events)} alert(s) from {rule.name} held during quiet hours"
                q = rule.quiet
                summary = (
                    f"Quiet hours {q.start:%H:%M}-{q.end:%H:%M} {rule.tz} ended."
                    if q
                    else "Quiet hours ended."
                )
            counts: dict[str, int] = defaultdict(int)
            for e in events:
                counts[e["kind"]] += 1
            summary += " " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items())) + "."
            items = tuple(
                {
                    "title": e["title"],
                    "severity": float(e["severity"]),
                    "severity_label": severity_label(float(e["severity"])),
                    "kind": e["kind"],
                    "at": e["at"].isoformat(),
                    "link": self.link(e.get("link_path")),
                }
                for e in events[:SUMMARY_ITEMS]
            )
            top = events[0]
            msg = Message(
                id=group,
                title=title,
                severity=float(top["severity"]),
                kind=kind,
                rule=rule.name,
                summary=summary,
                link=self.link(f"watchlists?watchlist={rule.watchlist}" if rule.watchlist else "alerts"),
                watchlist=wname,
                posts=tuple(PostRef(**p) for p in (top.get("posts") or ())[:3]),
                items=items,
                created=now,
            )
            start = min(e["at"] for e in events)
            end = max(e["at"] for e in events)
        chart = {
            "watchlist": rule.watchlist,
            "since": start - timedelta(hours=36),
            "until": end + timedelta(hours=12),
            "mark_start": start,
            "mark_end": end if end > start else start + timedelta(hours=1),
        }
        return msg, chart
