"""How an analyst's verdict on an incident damps the detector (pure, bounded, documented).

Rule (docs/detection.md, "Feedback"):

* ``false_positive`` and ``not_interesting`` on an incident add one *step* to every series
  of its members, in force for :data:`DAMPING_DAYS` days after the verdict;
* a series with ``k`` steps in force (at most :data:`MAX_STEPS`) is scored with
  threshold ``min(THRESHOLD_CAP, base + STEP * k)`` and quiet period
  ``base_quiet x (1 + k)`` (0.46 -> 0.61 -> 0.76; 24 h -> 48 h -> 72 h by default);
* ``useful`` protects: a series with a ``useful`` verdict in force is never damped,
  whatever else was said about it.

Why bounded: a flurry of clicks must not silence a series for good; after two steps a
series still raises what clearly beats its own record, and everything expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pipelines.detect.defaults import DetectConfig

VERDICTS = ("useful", "false_positive", "not_interesting")
DAMPING = ("false_positive", "not_interesting")
DAMPING_DAYS = 14
STEP = 0.15
MAX_STEPS = 2
THRESHOLD_CAP = 0.9


def feedback_rows(
    incident: Mapping[str, Any], verdict: str, *, by: str, note: str, at: datetime
) -> list[dict[str, Any]]:
    """One ``detector_feedback`` row per series of the incident's members."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}: choose one of {', '.join(VERDICTS)}")
    until = at + timedelta(days=DAMPING_DAYS)
    series = sorted({str(m.get("series")) for m in incident.get("members") or [] if m.get("series")})
    return [
        {
            "series": s,
            "verdict": verdict,
            "incident": str(incident.get("_id")),
            "by": by,
            "note": note,
            "at": at,
            "until": until,
        }
        for s in series
    ]


def steps(rows: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, int]:
    """Series -> damping steps in force at ``now`` (0 when a ``useful`` verdict protects it)."""
    damp: dict[str, int] = {}
    protected: set[str] = set()
    for r in rows:
        if r.get("until") is None or _aware(r["until"]) <= _aware(now) or _aware(r["at"]) > _aware(now):
            continue
        s = str(r.get("series"))
        if r.get("verdict") == "useful":
            protected.add(s)
        elif r.get("verdict") in DAMPING:
            damp[s] = min(MAX_STEPS, damp.get(s, 0) + 1)
    return {s: (0 if s in protected else k) for s, k in damp.items() if s not in protected}


def damped(config: DetectConfig, k: int) -> DetectConfig:
    """``config`` with ``k`` damping steps applied (``k = 0`` returns it unchanged)."""
    k = max(0, min(MAX_STEPS, int(k)))
    if k == 0:
        return config
    return config.with_(
        threshold=min(THRESHOLD_CAP, config.threshold + STEP * k),
        quiet_hours=config.quiet_hours * (1 + k),
    )


def describe(k: int, config: DetectConfig) -> str:
    """What damping means for a series, in words for the incident page."""
    if k <= 0:
        return "normal sensitivity"
    d = damped(config, k)
    return f"damped {k} step(s): threshold {d.threshold:.2f}, quiet period {d.quiet_hours:.0f} h"


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
