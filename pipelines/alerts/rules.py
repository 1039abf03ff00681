"""Alert rules as pure functions: state in, events and decisions out. No I/O here.

Two questions are answered separately:

1. *Did something happen?* ``evaluate(rule, inputs)`` turns what the service read (anomalies,
   high-scoring posts, hourly watch rollups, first sightings of places) into
   :class:`~pipelines.alerts.models.Event` values with stable keys.
2. *What do we do with a new event now?* :func:`decide` applies digest mode, quiet hours
   and the cooldown, in that order, given the wall-clock time and when the rule last sent.

Time: rule windows are measured in *data time* (ending at the newest post, so an archive
such as the bundled 2013 sample behaves like live data), while cooldowns, quiet hours and
digests follow the wall clock in the rule's time zone, because they are about people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import quote

from pipelines.alerts.models import Event, PostRef, Rule

Decision = Literal["send", "suppress", "hold", "digest"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AnomalyView:
    """What the alert rules need from one detector anomaly (see ``service.anomaly_view``)."""

    id: str
    series: str
    start: datetime
    end: datetime
    severity: float
    observed: float | None = None
    expected: float | None = None
    methods: tuple[str, ...] = ()
    posts: tuple[PostRef, ...] = ()
    terms: tuple[str, ...] = ()
    status: str = "open"
    """The analyst's verdict (Anomalies page): a ``false_positive`` never alerts."""
    incident: IncidentRef | None = None
    """The incident this anomaly belongs to (issue 12): spike alerts are sent per incident."""


@dataclass(frozen=True)
class IncidentRef:
    """What a spike alert needs of an incident (``pipelines/detect/incidents.py``)."""

    id: str
    title: str
    severity: float
    start: datetime
    end: datetime
    posts: int = 0
    minor: bool = False
    status: str = "open"
    explanation: str = ""


@dataclass(frozen=True)
class HourBucket:
    """One hour of a watchlist's ``kind="watch"`` rollup."""

    hour: datetime
    n: int
    scored: int = 0
    sentiment: float = 0.0


@dataclass(frozen=True)
class PlaceSeen:
    """A place first seen for a watchlist (``history`` when found while back-filling)."""

    key: str
    name: str
    first_seen: datetime
    country: str | None = None
    history: bool = False
    post: PostRef | None = None


@dataclass(frozen=True)
class RuleInputs:
    """Everything a rule may look at in one cycle; the service fills what the rule needs."""

    data_now: datetime
    anomalies: Sequence[AnomalyView] = ()
    posts: Sequence[PostRef] = ()
    buckets: Sequence[HourBucket] = ()
    places: Sequence[PlaceSeen] = ()
    watchlist_name: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def lookback_start(rule: Rule, data_now: datetime) -> datetime:
    """Oldest data time a rule looks at."""
    return data_now - timedelta(hours=rule.lookback_hours)


def _subject(rule: Rule, inputs: RuleInputs) -> str:
    return inputs.watchlist_name or rule.watchlist or "all posts"


# --------------------------------------------------------------------------- evaluation


SILENCED_INCIDENTS = ("false_positive", "not_interesting")


def spike_events(rule: Rule, inputs: RuleInputs) -> list[Event]:
    """Anomalies on the watchlist's series (or any series) at or above ``min_severity``.

    An anomaly that belongs to an incident alerts as that incident, once per rule (so once
    per channel): titled like the incident, linking to its drill-down. Minor incidents
    and incidents judged false positive / not interesting do not alert. An anomaly not
    (yet) grouped alerts on its own, as before incidents existed.
    """
    want = f"watch:{rule.watchlist}" if rule.watchlist else None
    since = lookback_start(rule, inputs.data_now)
    out = []
    seen: set[str] = set()
    for a in inputs.anomalies:
        if (want and a.series != want) or a.severity < rule.min_severity or a.end < since:
            continue
        if a.status == "false_positive":
            continue
        inc = a.incident
        if inc is not None:
            if inc.id in seen or inc.minor or inc.status in SILENCED_INCIDENTS:
                continue
            seen.add(inc.id)
            out.append(
                Event(
                    rule=rule.id,
                    kind="spike",
                    key=f"incident|{inc.id}",
                    title=inc.title,
                    severity=max(inc.severity, a.severity),
                    at=inc.end,
                    watchlist=rule.watchlist,
                    series=a.series,
                    observed=a.observed,
                    expected=a.expected,
                    window_start=inc.start,
                    window_end=inc.end,
                    detail=inc.explanation or f"{inc.posts:,} posts",
                    posts=a.posts[:5],
                    link_path=f"anomalies?incident={quote(inc.id, safe='')}",
                )
            )
            continue
        subject = inputs.watchlist_name if want else a.series
        if a.observed is not None and a.expected is not None:
            what = f"{a.observed:,.0f} vs {a.expected:,.0f} expected"
        else:
            what = "unusual activity"
        out.append(
            Event(
                rule=rule.id,
                kind="spike",
                key=f"anomaly|{a.id}",
                title=f"Spike on {subject}: {what}",
                severity=a.severity,
                at=a.end,
                watchlist=rule.watchlist,
                series=a.series,
                observed=a.observed,
                expected=a.expected,
                window_start=a.start,
                window_end=a.end,
                detail=(
                    f"Detected by {', '.join(a.methods) or 'the detector'}"
                    + (f"; top terms: {', '.join(a.terms[:8])}" if a.terms else "")
                ),
                posts=a.posts[:5],
                link_path=f"anomalies?anomaly={quote(a.id, safe='')}",
            )
        )
    return out


def threshold_events(rule: Rule, inputs: RuleInputs) -> list[Event]:
    """One event per post whose score reaches the rule's cut within the look-back."""
    since = lookback_start(rule, inputs.data_now)
    cut = rule.score_cut
    out = []
    for p in inputs.posts:
        if p.score is None or p.score < cut or (p.ts is not None and p.ts < since):
            continue
        out.append(
            Event(
                rule=rule.id,
                kind="threshold",
                key=f"post|{p.id}",
                title=f"{rule.score.capitalize()} {p.score:.2f} in a post on {_subject(rule, inputs)}",
                severity=float(p.score),
                at=p.ts or inputs.data_now,
                watchlist=rule.watchlist,
                series=f"watch:{rule.watchlist}" if rule.watchlist else None,
                observed=float(p.score),
                expected=cut,
                detail=f"A post from {p.source} scored {rule.score} {p.score:.2f} (threshold {cut:g}).",
                posts=(p,),
                link_path=_explore_path(rule.watchlist, p.ts, p.ts),
            )
        )
    return out


def volume_windows(rule: Rule, data_now: datetime) -> list[tuple[datetime, datetime]]:
    """The current tumbling window (aligned on the UTC epoch) and the one before it."""
    size = timedelta(hours=rule.window_hours)
    k = (_hour(data_now) - EPOCH) // size
    current = EPOCH + k * size
    return [(current - size, current), (current, current + size)]


def volume_events(rule: Rule, inputs: RuleInputs) -> list[Event]:
    """A window (aligned, ``window_hours`` long) holding at least ``min_posts`` posts."""
    out = []
    for start, end in volume_windows(rule, inputs.data_now):
        n = sum(b.n for b in inputs.buckets if start <= b.hour < end)
        if n < rule.min_posts:
            continue
        out.append(
            _window_event(
                rule,
                inputs,
                (start, end),
                kind="volume",
                key=f"volume|{start.isoformat()}",
                title=f"{n:,} posts on {_subject(rule, inputs)} in {rule.window_hours} h (threshold {rule.min_posts:,})",
                severity=min(1.0, 0.5 * n / rule.min_posts),
                observed=float(n),
                expected=float(rule.min_posts),
                detail=f"{n:,} matching posts between {start:%Y-%m-%d %H:%M} and {end:%H:%M} UTC.",
            )
        )
    return out


def _window_event(rule: Rule, inputs: RuleInputs, window: tuple[datetime, datetime], **fields: Any) -> Event:
    """An event about a window of a watchlist's series: the fields every window rule shares.

    Why one place: the event's time (the window's end, never later than the data), its
    series and its Explore link must agree for the volume and sentiment rules alike.
    """
    start, end = window
    return Event(
        rule=rule.id,
        at=min(end, inputs.data_now),
        watchlist=rule.watchlist,
        series=f"watch:{rule.watchlist}",
        window_start=start,
        window_end=end,
        link_path=_explore_path(rule.watchlist, start, end),
        **fields,
    )


def sentiment_means(
    rule: Rule, buckets: Iterable[HourBucket], data_now: datetime
) -> tuple[tuple[float | None, int], tuple[float | None, int], datetime, datetime]:
    """Mean sentiment (and scored posts) of the window and of its baseline before it."""
    end = _hour(data_now) + timedelta(hours=1)
    start = end - timedelta(hours=rule.window_hours)
    base_start = start - timedelta(days=rule.baseline_days)
    win_n = win_s = base_n = base_s = 0.0
    for b in buckets:
        if start <= b.hour < end:
            win_n += b.scored
            win_s += b.sentiment
        elif base_start <= b.hour < start:
            base_n += b.scored
            base_s += b.sentiment
    win = (win_s / win_n if win_n else None, int(win_n))
    base = (base_s / base_n if base_n else None, int(base_n))
    return win, base, start, end


def sentiment_shift_events(rule: Rule, inputs: RuleInputs) -> list[Event]:
    """Mean sentiment of the last window below the baseline mean by at least ``drop``."""
    (win, win_n), (base, base_n), start, end = sentiment_means(rule, inputs.buckets, inputs.data_now)
    if win is None or base is None or win_n < rule.min_scored or base_n < rule.min_scored:
        return []
    fall = base - win
    if fall < rule.drop:
        return []
    return [
        _window_event(
            rule,
            inputs,
            (start, end),
            kind="sentiment_shift",
            key=f"shift|{end.isoformat()}",
            title=f"Sentiment on {_subject(rule, inputs)} fell by {fall:.2f} ({base:+.2f} to {win:+.2f})",
            severity=min(1.0, 0.5 * fall / rule.drop),
            observed=round(win, 4),
            expected=round(base, 4),
            detail=(
                f"Mean sentiment {win:+.2f} over {win_n:,} posts in the last {rule.window_hours} h, "
                f"against {base:+.2f} over {base_n:,} posts in the {rule.baseline_days} days before."
            ),
        )
    ]


def new_place_events(rule: Rule, inputs: RuleInputs) -> list[Event]:
    """Places first seen for the watchlist within the look-back (not while back-filling)."""
    since = lookback_start(rule, inputs.data_now)
    out = []
    for p in inputs.places:
        if p.history or p.first_seen < since:
            continue
        where = f"{p.name} ({p.country})" if p.country else p.name
        out.append(
            Event(
                rule=rule.id,
                kind="new_place",
                key=f"place|{p.key}",
                title=f"First post on {_subject(rule, inputs)} from {where}",
                severity=0.5,
                at=p.first_seen,
                watchlist=rule.watchlist,
                series=f"watch:{rule.watchlist}",
                detail=f"{where} had never appeared in posts on this watchlist before.",
                posts=(p.post,) if p.post else (),
                link_path=_explore_path(rule.watchlist, p.first_seen, p.first_seen),
            )
        )
    return out


EVALUATORS = {
    "spike": spike_events,
    "threshold": threshold_events,
    "volume": volume_events,
    "sentiment_shift": sentiment_shift_events,
    "new_place": new_place_events,
}


def evaluate(rule: Rule, inputs: RuleInputs) -> list[Event]:
    """Every event the rule sees in ``inputs`` (empty for a disabled rule)."""
    if not rule.enabled:
        return []
    return EVALUATORS[rule.kind](rule, inputs)


def _explore_path(watchlist: str | None, start: datetime | None, end: datetime | None) -> str:
    parts = []
    if watchlist:
        parts.append(f"watchlist={watchlist}")
    if start is not None and end is not None:
        lo = _hour(start)
        hi = _hour(end) if _hour(end) == end else _hour(end) + timedelta(hours=1)
        hi = max(hi, lo + timedelta(hours=1))
        parts.append(f"since={lo:%Y-%m-%dT%H:%M}Z&until={hi:%Y-%m-%dT%H:%M}Z")
    return "explore" + ("?" + "&".join(parts) if parts else "")


# --------------------------------------------------------------------------- decisions


def in_quiet_hours(rule: Rule, now: datetime) -> bool:
    """Whether ``now`` falls in the rule's quiet hours, in the rule's time zone."""
    if rule.quiet is None:
        return False
    t = now.astimezone(rule.zone).time().replace(tzinfo=None)
    start, end = rule.quiet.start, rule.quiet.end
    return start <= t < end if start < end else (t >= start or t < end)


def _local_at(rule: Rule, day: datetime, at: time) -> datetime:
    local = datetime.combine(day.date(), at, tzinfo=rule.zone)
    return local.astimezone(UTC)


def quiet_end(rule: Rule, at: datetime) -> datetime:
    """The end (UTC) of the quiet period that holds ``at`` (or of the next one)."""
    assert rule.quiet is not None
    local = at.astimezone(rule.zone)
    end = _local_at(rule, local, rule.quiet.end)
    if end <= at:
        end = _local_at(rule, local + timedelta(days=1), rule.quiet.end)
    return end


def cooling_down(rule: Rule, now: datetime, last_sent: datetime | None) -> bool:
    return last_sent is not None and now - last_sent < timedelta(minutes=rule.cooldown_minutes)


def decide(rule: Rule, now: datetime, last_sent: datetime | None) -> Decision:
    """What to do with a new event: ``digest``, ``hold`` (quiet hours), ``suppress``
    (cooldown) or ``send``. Digest mode wins; quiet hours come before the cooldown, so
    an event held overnight is never lost to a cooldown that ended while it waited."""
    if rule.digest != "off":
        return "digest"
    if in_quiet_hours(rule, now):
        return "hold"
    if cooling_down(rule, now, last_sent):
        return "suppress"
    return "send"


def digest_boundary(rule: Rule, now: datetime) -> datetime:
    """The latest digest period start at or before ``now`` (UTC): the top of the local
    hour for hourly digests, ``digest_hour`` local time for daily ones."""
    local = now.astimezone(rule.zone)
    if rule.digest == "hourly":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    today = _local_at(rule, local, time(rule.digest_hour))
    if today <= now:
        return today
    return _local_at(rule, local - timedelta(days=1), time(rule.digest_hour))


def digest_due(rule: Rule, now: datetime, pending: Sequence[datetime]) -> datetime | None:
    """The period boundary to send a digest for, or ``None``.

    Due when some pending event was created before the latest boundary and ``now`` is
    outside quiet hours; the digest holds every pending event created before it.
    """
    if rule.digest == "off" or not pending or in_quiet_hours(rule, now):
        return None
    boundary = digest_boundary(rule, now)
    return boundary if min(pending) < boundary else None


def release_held(
    rule: Rule, now: datetime, held: Sequence[tuple[str, datetime]]
) -> dict[datetime, list[str]]:
    """Events held in quiet hours that can go now, grouped by the quiet period's end.

    Nothing is released while still in quiet hours. Each group becomes one summary
    message, so a night's alerts arrive as one message, not a morning flood.
    """
    if not held or in_quiet_hours(rule, now):
        return {}
    groups: dict[datetime, list[str]] = defaultdict(list)
    for event_id, created in held:
        end = quiet_end(rule, created) if rule.quiet else now
        groups[min(end, now)].append(event_id)
    return dict(groups)


def retry_delay(attempts: int, base_s: float, cap_s: float = 3600.0) -> timedelta:
    """Exponential backoff: ``base_s`` after the first failure, doubling, capped."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))
