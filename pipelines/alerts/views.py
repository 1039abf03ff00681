"""Read side of the watchlist and alert pages: store in, polars tables and small values out.

The watchlist preview (a draft, not saved yet) is answered by the search index: the
exact count of what the watchlist selects over the last 7 days of data, posts per hour,
and the newest posts (read from MongoDB by id). A test compares the count with a direct
``count_documents`` of the watchlist's MongoDB filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from pipelines.alerts.models import Channel, Rule
from pipelines.read.queries import Reader
from pipelines.search import aggregate
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store

PREVIEW_DAYS = 7
PREVIEW_POSTS = 10
HISTORY_LIMIT = 500

DELIVERY_SCHEMA = {
    "at": pl.Datetime("us", "UTC"),
    "status": pl.String,
    "attempts": pl.Int64,
    "channel": pl.String,
    "rule": pl.String,
    "kind": pl.String,
    "severity": pl.String,
    "title": pl.String,
    "last_error": pl.String,
    "sent_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Preview:
    """What a watchlist would match over the last days of data."""

    since: datetime
    until: datetime
    count: int
    hourly: pl.DataFrame
    posts: pl.DataFrame


def preview(reader: Reader, wl: Watchlist, until: datetime, days: int = PREVIEW_DAYS) -> Preview:
    """Matching posts in ``[until - days, until)``: count, posts per hour (zero-filled), newest posts."""
    since = until - timedelta(days=days)
    searcher, query = reader.select(wl.filters(since, until), exclude=wl.exclude)
    count = aggregate.count(searcher, query)
    by_hour = {t: n for t, n in aggregate.histogram(searcher, query, "1h")} if count else {}
    hours = [since + timedelta(hours=i) for i in range(days * 24)]
    hourly = pl.DataFrame(
        {"hour": hours, "n": [by_hour.get(h.astimezone(UTC), 0) for h in hours]},
        schema={"hour": pl.Datetime("us", "UTC"), "n": pl.Int64},
    )
    ids = aggregate.newest_ids(searcher, query, limit=PREVIEW_POSTS) if count else []
    proj = {"ts": 1, "source": 1, "author": 1, "text": 1, "url": 1}
    by_id = {d["_id"]: d for d in reader.store.posts.by_ids(ids, proj)} if ids else {}
    rows = [by_id[i] for i in ids if i in by_id]
    posts = pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in ("ts", "source", "author", "text", "url")},
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "source": pl.String,
            "author": pl.String,
            "text": pl.String,
            "url": pl.String,
        },
    )
    return Preview(since, until, count, hourly, posts)


def visible_watchlists(store: Store, user: str | None, role: str | None) -> list[Watchlist]:
    """Watchlists this user may see (admins: all; others: own, shared, team), by name."""
    out = []
    for doc in store.alerts.list_config("watchlists"):
        try:
            wl = Watchlist.from_doc(doc)
        except ValueError:
            continue
        if wl.visible_to(user, role):
            out.append(wl)
    return sorted(out, key=lambda w: w.name.casefold())


def watchlist_table(reader: Reader | None, watchlists: list[Watchlist]) -> pl.DataFrame:
    """One row per watchlist: definition, sharing, and how many posts it selects (all time).

    The count is what the watchlist's query selects in the search index now (exact);
    empty when the index is not available.
    """
    rows = []
    searcher = reader.index.searcher() if reader is not None else None
    for wl in watchlists:
        posts = None
        if reader is not None and searcher is not None:
            _, query = reader.select(wl.filters(), exclude=wl.exclude)
            posts = aggregate.count(searcher, query)
        rows.append(
            {
                "id": wl.id,
                "name": wl.name,
                "query": wl.query,
                "exclude": wl.exclude,
                "sources": ", ".join(wl.sources),
                "languages": ", ".join(wl.langs),
                "area": f"{wl.geo.km:g} km around {wl.geo.lat:.3f}, {wl.geo.lon:.3f}" if wl.geo else "",
                "owner": wl.owner or "(team)",
                "shared with": ", ".join([*wl.shared_users, *(f"role:{r}" for r in wl.shared_roles)]),
                "posts": posts,
            }
        )
    columns = ("id", "name", "query", "exclude", "sources", "languages", "area", "owner", "shared with")
    return pl.DataFrame(rows, schema={**dict.fromkeys(columns, pl.String), "posts": pl.Int64})


def rules(store: Store) -> list[Rule]:
    out = []
    for doc in store.alerts.list_config("alert_rules"):
        try:
            out.append(Rule.from_doc(doc))
        except ValueError:
            continue
    return out


def channels(store: Store) -> list[Channel]:
    out = []
    for doc in store.alerts.list_config("alert_channels"):
        try:
            out.append(Channel.from_doc(doc))
        except ValueError:
            continue
    return out


def rules_table(rs: list[Rule]) -> pl.DataFrame:
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "on": r.enabled,
            "fires on": r.describe(),
            "channels": ", ".join(r.channels),
            "cooldown (min)": r.cooldown_minutes,
            "quiet hours": f"{r.quiet.start:%H:%M}-{r.quiet.end:%H:%M} {r.tz}" if r.quiet else "",
            "digest": r.digest,
        }
        for r in rs
    ]
    schema = {
        "id": pl.String,
        "name": pl.String,
        "on": pl.Boolean,
        "fires on": pl.String,
        "channels": pl.String,
        "cooldown (min)": pl.Int64,
        "quiet hours": pl.String,
        "digest": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def channels_table(cs: list[Channel]) -> pl.DataFrame:
    rows = [{"name": c.name, "type": c.type, "on": c.enabled, "target": c.target()} for c in cs]
    return pl.DataFrame(
        rows, schema={"name": pl.String, "type": pl.String, "on": pl.Boolean, "target": pl.String}
    )


def deliveries(
    store: Store,
    limit: int = HISTORY_LIMIT,
    status: str | None = None,
    rule: str | None = None,
    channel: str | None = None,
) -> pl.DataFrame:
    """The delivery log, newest first (what was sent where, attempts, the last error)."""
    rows: list[dict[str, Any]] = []
    for d in store.alerts.delivery_log(limit, status=status, rule=rule, channel=channel):
        rows.append(
            {
                "at": d.get("at"),
                "status": d.get("status"),
                "attempts": int(d.get("attempts") or 0),
                "channel": d.get("channel"),
                "rule": d.get("rule_name") or d.get("rule"),
                "kind": d.get("kind"),
                "severity": d.get("severity_label") or "",
                "title": d.get("title"),
                "last_error": d.get("last_error"),
                "sent_at": d.get("sent_at"),
            }
        )
    return pl.DataFrame(rows, schema=DELIVERY_SCHEMA)
