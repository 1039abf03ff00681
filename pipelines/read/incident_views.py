"""Incidents as the dashboard shows them: a ranked list and one incident's drill-down data.

Reads through :class:`~pipelines.store.Store` only; ranking is
:func:`pipelines.detect.incidents.rank_key` (non-minor, volume-led, impact). No streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipelines.detect import feedback as F
from pipelines.detect import incidents as I
from pipelines.detect.defaults import DetectConfig

STATUSES = ("open", *F.VERDICTS)
"""``open`` until an analyst gives a verdict; the verdict is then the status."""
VERDICT_LABELS = {
    "useful": "Useful",
    "false_positive": "False positive",
    "not_interesting": "Not interesting",
}
LIST_LIMIT = 500

LIST_SCHEMA: dict[str, Any] = {
    "rank": pl.Int64,
    "id": pl.String,
    "title": pl.String,
    "posts": pl.Int64,
    "excess": pl.Float64,
    "severity": pl.Float64,
    "series": pl.Int64,
    "status": pl.String,
    "minor": pl.Boolean,
    "start": pl.Datetime("us", "UTC"),
}


def _utc(t: Any) -> datetime | None:
    if not isinstance(t, datetime):
        return None
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def ranked(
    store: Any, statuses: tuple[str, ...] = (), include_minor: bool = False, limit: int = LIST_LIMIT
) -> list[dict[str, Any]]:
    """Incident documents, best first."""
    docs = store.incidents.find(statuses, include_minor=include_minor, limit=limit)
    return sorted(docs, key=I.rank_key)


def incident_list(
    store: Any, statuses: tuple[str, ...] = (), include_minor: bool = False, limit: int = LIST_LIMIT
) -> pl.DataFrame:
    """The Anomalies page's table: one row per incident, ranked (``rank`` 1 = most impact)."""
    rows = [
        {
            "rank": i + 1,
            "id": str(d["_id"]),
            "title": str(d.get("title") or ""),
            "posts": int(d.get("posts") or 0),
            "excess": float(d.get("excess") or 0.0),
            "severity": float(d.get("severity") or 0.0),
            "series": len(d.get("members") or []),
            "status": str(d.get("status") or "open"),
            "minor": bool(d.get("minor")),
            "start": _utc(d.get("start")),
        }
        for i, d in enumerate(ranked(store, statuses, include_minor, limit))
    ]
    return pl.DataFrame(rows, schema=LIST_SCHEMA)


@dataclass
class IncidentView:
    """What the incident drill-down shows."""

    doc: dict[str, Any]
    members: pl.DataFrame
    terms: pl.DataFrame
    places: pl.DataFrame
    post_ids: list[str] = field(default_factory=list)
    damping: dict[str, str] = field(default_factory=dict)


def incident_view(
    store: Any, incident_id: str, now: datetime | None = None, config: DetectConfig | None = None
) -> IncidentView | None:
    """One incident with its members, evidence and the damping its series are under now."""
    doc = store.incidents.get(incident_id)
    if doc is None:
        return None
    now = now or datetime.now(UTC)
    config = config or DetectConfig()
    steps = F.steps(store.detector.feedback(now), now)
    members = pl.DataFrame(
        [
            {
                "series": m.get("series"),
                "severity": m.get("severity"),
                "posts": m.get("posts"),
                "observed_total": m.get("observed_total"),
                "expected_total": m.get("expected_total"),
                "anomaly": m.get("id"),
            }
            for m in doc.get("members") or []
        ],
        schema={
            "series": pl.String,
            "severity": pl.Float64,
            "posts": pl.Int64,
            "observed_total": pl.Float64,
            "expected_total": pl.Float64,
            "anomaly": pl.String,
        },
    )
    terms = pl.DataFrame(
        doc.get("terms") or [], schema={"term": pl.String, "n": pl.Int64, "series": pl.Int64}
    )
    places = pl.DataFrame(
        doc.get("places") or [], schema={"place": pl.String, "country": pl.String, "n": pl.Int64}
    )
    damping = {s: F.describe(steps.get(s, 0), config) for s in doc.get("series") or []}
    post_ids = [str(p["_id"]) for p in doc.get("posts_evidence") or [] if p.get("_id")]
    return IncidentView(
        doc=doc, members=members, terms=terms, places=places, post_ids=post_ids, damping=damping
    )


MARKER_SCHEMA: dict[str, Any] = {
    "series": pl.String,
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "severity": pl.Float64,
    "status": pl.String,
}


def incident_markers(store: Any, since: datetime, until: datetime) -> pl.DataFrame:
    """Non-minor incidents overlapping ``[since, until)`` for a timeline (``series`` = title)."""
    docs = store.incidents.find(since=since, until=until, limit=LIST_LIMIT)
    rows = [
        {
            "series": str(d.get("title") or d["_id"]),
            "start": _utc(d.get("start")),
            "end": _utc(d.get("end")),
            "severity": float(d.get("severity") or 0.0),
            "status": str(d.get("status") or "open"),
        }
        for d in docs
    ]
    return pl.DataFrame(rows, schema=MARKER_SCHEMA)
