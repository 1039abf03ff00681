"""Recording an analyst's verdict on an incident: checked, stored, audited, fed back.

The page calls :func:`record_verdict` with the logged-in user; the permission
(``anomalies.ack``) is checked here too, so no caller can skip it. A verdict:

1. is appended to the incident (``verdicts``, with who, when, note) and sets its status;
2. writes one ``detector_feedback`` row per member series (see :mod:`.feedback`), which
   the next detector cycle reads;
3. sets the member anomalies' status (``useful`` -> acknowledged) so anomaly lists agree;
4. is written to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipelines.auth.audit import audit
from pipelines.auth.roles import HasRole, require
from pipelines.detect import feedback as F

MAX_NOTE = 500
ANOMALY_STATUS = {
    "useful": "acknowledged",
    "false_positive": "false_positive",
    "not_interesting": "acknowledged",
}


def record_verdict(
    store: Any,
    incident_id: str,
    verdict: str,
    *,
    user: HasRole | None,
    note: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record ``verdict`` on an incident; returns the verdict entry.

    Raises
    ------
    PermissionDenied
        When ``user`` may not acknowledge anomalies (``anomalies.ack``).
    ValueError
        Unknown verdict, unknown incident, or a damping verdict without a note (the note
        says why, for whoever reviews the damping later).
    """
    who = require(user, "anomalies.ack")
    if verdict not in F.VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}: choose one of {', '.join(F.VERDICTS)}")
    note = " ".join(str(note or "").split())[:MAX_NOTE]
    if verdict in F.DAMPING and not note:
        raise ValueError(f"a '{verdict.replace('_', ' ')}' verdict needs a note saying why")
    incident = store.incidents.get(incident_id)
    if incident is None:
        raise ValueError(f"no incident {incident_id!r} (it may have been regrouped; reload the page)")
    at = now or datetime.now(UTC)
    rows = F.feedback_rows(incident, verdict, by=who.username, note=note, at=at)
    entry = {
        "verdict": verdict,
        "by": who.username,
        "at": at,
        "note": note,
        "until": rows[0]["until"] if rows else at,
    }
    store.incidents.add_verdict(incident_id, entry, status=verdict)
    store.detector.add_feedback(rows)
    for m in incident.get("members") or []:
        if m.get("id"):
            store.anomalies.set_status(str(m["id"]), ANOMALY_STATUS[verdict], by=who.username, note=note)
    audit(
        store,
        who.username,
        f"incident.{verdict}",
        incident_id,
        {"note": note, "series": [r["series"] for r in rows]},
        at=at,
    )
    return entry
