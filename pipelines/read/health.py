"""Source health for the dashboard: each source's definition next to its recent crawls.

A source is *healthy* when its last run ended ``ok`` recently, *late* when its last
run is older than three of its intervals (the scheduler is stopped or stuck),
*failing* when the last run ended ``error`` / ``abandoned``, *degraded* on ``partial``,
*never run* before its first crawl and *disabled* when switched off. Archive sources
(posts in the store that no ``sources`` definition names, e.g. an import) are listed
as ``archive``. No I/O beyond the store; no streamlit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from pipelines.store import Store

RECENT = timedelta(days=7)
LATE_INTERVALS = 3

HEALTH_SCHEMA: dict[str, Any] = {
    "source": pl.String,
    "kind": pl.String,
    "enabled": pl.Boolean,
    "health": pl.String,
    "last_run": pl.Datetime("us", "UTC"),
    "last_status": pl.String,
    "last_items": pl.Int64,
    "last_error": pl.String,
    "runs_7d": pl.Int64,
    "failed_runs_7d": pl.Int64,
    "items_7d": pl.Int64,
    "errors_7d": pl.Int64,
    "interval_s": pl.Int64,
}


def classify(defn: dict[str, Any] | None, run: dict[str, Any], now: datetime) -> str:
    """The health word of one source (see the module docstring)."""
    if defn is None:
        return "archive"
    if not defn.get("enabled", True):
        return "disabled"
    status = run.get("last_status")
    started = run.get("last_started")
    if status is None or started is None:
        return "never run"
    if status in ("error", "abandoned"):
        return "failing"
    interval = int(defn.get("interval_s") or 900)
    if status != "running" and now - started.astimezone(UTC) > timedelta(seconds=LATE_INTERVALS * interval):
        return "late"
    if status == "partial":
        return "degraded"
    return "healthy"


def source_health(store: Store, now: datetime | None = None) -> pl.DataFrame:
    """One row per source: definition, health word, last run and 7-day totals."""
    now = now or datetime.now(UTC)
    defs = {d["name"]: d for d in store.sources.list_all()}
    runs = {r["source"]: r for r in store.crawl_runs.health(now - RECENT)}
    archive = set(store.rollups.sources()) - set(defs)
    rows = []
    for name in sorted(set(defs) | set(runs) | archive):
        d = defs.get(name)
        r = runs.get(name, {})
        last = r.get("last_started")
        rows.append(
            {
                "source": name,
                "kind": d.get("kind") if d else None,
                "enabled": bool(d.get("enabled", True)) if d else None,
                "health": classify(d, r, now),
                "last_run": last.astimezone(UTC) if last else None,
                "last_status": r.get("last_status"),
                "last_items": r.get("last_items"),
                "last_error": r.get("last_error"),
                "runs_7d": r.get("runs", 0),
                "failed_runs_7d": r.get("failed_runs", 0),
                "items_7d": r.get("items", 0),
                "errors_7d": r.get("errors", 0),
                "interval_s": d.get("interval_s") if d else None,
            }
        )
    return pl.DataFrame(rows, schema=HEALTH_SCHEMA)
