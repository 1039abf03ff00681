"""Anomalies and alerts as the dashboard shows them: lists, drill-downs, analyst actions.

The detector (:mod:`pipelines.detect`) writes ``anomalies``; this module reads them
into polars frames, rebuilds the observed-vs-expected context of one anomaly when the
document does not carry it, turns an anomaly into the :class:`Filters` that "open in
Explore" applies, and records an analyst's verdict (acknowledged, false positive) on
the document, with who and when, so the detector can be tuned on it. No streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from pipelines.scoring.thresholds import high_cut
from pipelines.search.filters import Filters
from pipelines.store import Store

LIST_LIMIT = 500
STATUSES = ("open", "acknowledged", "false_positive")
"""``open`` until an analyst acts; ``false_positive`` verdicts are kept for tuning."""
CONTEXT_BEFORE = timedelta(days=3)
CONTEXT_AFTER = timedelta(days=1)

LIST_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "series": pl.String,
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "severity": pl.Float64,
    "observed": pl.Float64,
    "expected": pl.Float64,
    "methods": pl.String,
    "status": pl.String,
}


def _utc(t: Any) -> datetime | None:
    if not isinstance(t, datetime):
        return None
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def series_of(doc: dict[str, Any]) -> str:
    """The ``key|metric`` series id of an anomaly document (string or sub-document)."""
    s = doc.get("series")
    if isinstance(s, str):
        return s if "|" in s else f"{s}|{doc.get('metric') or 'count'}"
    if isinstance(s, dict):
        return f"{s.get('key', 'all')}|{s.get('metric', 'count')}"
    return f"{doc.get('key', 'all')}|{doc.get('metric') or 'count'}"


def interval_of(doc: dict[str, Any]) -> tuple[float | None, float | None]:
    """``(lo, hi)`` of the expected interval, from ``lo``/``hi`` or ``interval``."""
    iv = doc.get("interval")
    if isinstance(iv, dict):
        return iv.get("lo"), iv.get("hi")
    if isinstance(iv, list | tuple) and len(iv) == 2:
        return iv[0], iv[1]
    return doc.get("lo"), doc.get("hi")


def list_row(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc.get("_id")),
        "series": series_of(doc),
        "start": _utc(doc.get("start")),
        "end": _utc(doc.get("end")),
        "severity": doc.get("severity"),
        "observed": doc.get("observed"),
        "expected": doc.get("expected"),
        "methods": ", ".join(doc.get("methods") or []),
        "status": doc.get("status") or "open",
    }


def anomaly_list(store: Store, statuses: tuple[str, ...] = (), limit: int = LIST_LIMIT) -> pl.DataFrame:
    """Anomalies, newest first (sorting by severity or status happens in the table)."""
    docs = store.anomalies.find(list(statuses), limit=limit)
    return pl.DataFrame([list_row(d) for d in docs], schema=LIST_SCHEMA)


def anomaly_markers(store: Store, since: datetime, until: datetime) -> pl.DataFrame:
    """Anomalies overlapping ``[since, until)`` for the Overview timeline's markers."""
    docs = store.anomalies.find([], since=since, until=until, limit=LIST_LIMIT)
    return pl.DataFrame([list_row(d) for d in docs], schema=LIST_SCHEMA)


def active_count(store: Store) -> int:
    """Anomalies nobody has acted on yet."""
    return len(store.anomalies.find(["open"], limit=LIST_LIMIT))


@dataclass(frozen=True)
class AnomalyView:
    """Everything the drill-down shows about one anomaly."""

    row: dict[str, Any]
    doc: dict[str, Any]
    context: pl.DataFrame
    """``time, value, expected, lo, hi, mp`` around the window (empty when unavailable)."""
    context_source: str
    """``stored`` (the detector saved it), ``recomputed`` or a reason it is missing."""
    posts: list[str] = field(default_factory=list)
    terms: pl.DataFrame = field(default_factory=pl.DataFrame)
    places: pl.DataFrame = field(default_factory=pl.DataFrame)
    entities: pl.DataFrame = field(default_factory=pl.DataFrame)
    """People, organisations and products most named in the window (issue 14)."""


CONTEXT_SCHEMA = {
    "time": pl.Datetime("us", "UTC"),
    "value": pl.Float64,
    "expected": pl.Float64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "mp": pl.Float64,
}


def _evidence_frame(items: Any, name: str) -> pl.DataFrame:
    """Evidence lists come as strings or dicts; normalise to a frame with ``name`` first."""
    rows = []
    for it in items or []:
        if isinstance(it, str):
            rows.append({name: it})
        elif isinstance(it, dict):
            label = it.get(name) or it.get("name") or it.get("term") or it.get("place")
            rows.append({name: label, **{k: v for k, v in it.items() if k not in (name, "name")}})
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={name: pl.String})


def stored_context(doc: dict[str, Any]) -> pl.DataFrame | None:
    """The context series if the detector stored one on the document."""
    ctx = doc.get("context")
    if not isinstance(ctx, list) or not ctx:
        return None
    rows = [{k: (_utc(r.get(k)) if k == "time" else r.get(k)) for k in CONTEXT_SCHEMA} for r in ctx]
    return pl.DataFrame(rows, schema=CONTEXT_SCHEMA)


def _rollup_query(series: str) -> tuple[list[str], dict[str, Any]]:
    key = series.partition("|")[0]
    kind, _, value = key.partition(":")
    return {
        "all": (["ingest", "score"], {}),
        "source": (["ingest"], {"source": value}),
        "lang": (["score"], {"lang": value}),
        "place": (["place"], {"place": value}),
        "watch": (["watch"], {"watchlist": value}),
    }.get(kind, (["ingest"], {}))


def recompute_context(store: Store, doc: dict[str, Any]) -> tuple[pl.DataFrame, str]:
    """Rebuild observed, expected band and matrix profile around the window from rollups.

    Runs the detector's own scorer (:func:`pipelines.detect.detector.score_series`) on
    the series, so the band is the one the detector compared against.
    """
    try:
        from pipelines.detect.detector import score_series
        from pipelines.detect.series import SeriesId, build_series
    except ImportError as exc:  # detection not installed
        return pl.DataFrame(schema=CONTEXT_SCHEMA), f"the detector is not available ({exc})"
    start, end = _utc(doc.get("start")), _utc(doc.get("end"))
    if start is None or end is None:
        return pl.DataFrame(schema=CONTEXT_SCHEMA), "the anomaly has no window"
    sid = SeriesId.parse(series_of(doc))
    try:
        from pipelines.detect.defaults import DetectConfig

        config = DetectConfig() if sid.is_count else DetectConfig().with_(transform="none", direction="both")
    except (ImportError, AttributeError, TypeError):
        config = None
    train = timedelta(days=float(getattr(config, "train_days", 28)))
    kinds, match = _rollup_query(str(sid))
    docs = store.rollups.docs(kinds, start - CONTEXT_BEFORE - train, end + CONTEXT_AFTER, match)
    built = build_series(docs, min_total=0).get(sid)
    if built is None or built.is_empty():
        return pl.DataFrame(schema=CONTEXT_SCHEMA), f"no rollups for series {sid}"
    times = built["time"].dt.replace_time_zone(None).to_numpy()
    first = int((built["time"] < start - CONTEXT_BEFORE).sum())
    scored = score_series(times, built["value"].to_numpy(), config, start=first)
    ctx = scored.select(
        pl.col("time").dt.replace_time_zone("UTC"), "value", "expected", "lo", "hi", "mp"
    ).cast(CONTEXT_SCHEMA)
    return ctx, "recomputed"


def anomaly_view(store: Store, anomaly_id: str, recompute: bool = True) -> AnomalyView | None:
    """One anomaly with its context and evidence, or ``None`` if it does not exist."""
    doc = store.anomalies.get(anomaly_id)
    if doc is None:
        return None
    ctx = stored_context(doc)
    source = "stored"
    if ctx is None:
        ctx, source = (
            recompute_context(store, doc) if recompute else (pl.DataFrame(schema=CONTEXT_SCHEMA), "skipped")
        )
    ev = doc.get("evidence") or {}
    posts = [p if isinstance(p, str) else str(p.get("_id") or p.get("id")) for p in ev.get("posts") or []]
    return AnomalyView(
        row=list_row(doc),
        doc=doc,
        context=ctx,
        context_source=source,
        posts=[p for p in posts if p and p != "None"],
        terms=_evidence_frame(ev.get("terms"), "term"),
        places=_evidence_frame(ev.get("places"), "place"),
        entities=_evidence_frame(ev.get("entities"), "entity"),
    )


def explore_filters(doc_or_row: dict[str, Any], pad: timedelta = timedelta(0)) -> Filters:
    """The Explore filters of an anomaly: its window and its series' slice of posts.

    ``source:X`` -> sources, ``lang:xx`` -> languages, ``place:P`` -> places,
    ``watch:W`` -> watchlist; a ``high:threat`` metric adds threat >= the high cut.
    """
    series = series_of(doc_or_row) if "_id" in doc_or_row else str(doc_or_row.get("series") or "all|count")
    key, _, metric = series.partition("|")
    kind, _, value = key.partition(":")
    start, end = _utc(doc_or_row.get("start")), _utc(doc_or_row.get("end"))
    values: dict[str, Any] = {
        "since": start - pad if start else None,
        "until": end + pad if end else None,
    }
    if kind == "source" and value:
        values["sources"] = [value]
    elif kind == "lang" and value:
        values["langs"] = [value]
    elif kind == "place" and value:
        values["places"] = [value]
    elif kind == "watch" and value:
        values["watchlist"] = value
    if metric in ("high:threat", "high:hate"):
        # the cut the rollups counted with (tuned per score), so Explore shows those posts
        name = metric.split(":")[1]
        values[name] = (high_cut(name), 1.0)
    return Filters.make(**values)


def set_status(store: Store, anomaly_id: str, status: str, by: str, note: str = "") -> bool:
    """Record an analyst's verdict; refuses unknown statuses with the allowed ones."""
    if status not in STATUSES:
        raise ValueError(f"unknown anomaly status {status!r}; one of {', '.join(STATUSES)}")
    return store.anomalies.set_status(anomaly_id, status, by=by, note=note[:500])


ALERT_SCHEMA = {"at": pl.Datetime("us", "UTC"), "rule": pl.String, "message": pl.String, "status": pl.String}


def latest_alerts(store: Store, limit: int = 10) -> pl.DataFrame:
    """Newest alerts (empty, not an error, until the alerts loop has written any)."""
    rows = []
    for a in store.alerts.latest(limit):
        rows.append(
            {
                "at": _utc(a.get("at") or a.get("created")),
                "rule": str(a.get("rule") or a.get("rule_id") or a.get("watchlist") or ""),
                "message": str(a.get("message") or a.get("title") or a.get("summary") or ""),
                "status": str(a.get("status") or ""),
            }
        )
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)
