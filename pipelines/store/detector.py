"""What the detector keeps between cycles: ``detector_state`` and ``detector_feedback``.

``detector_state``: per series, the newest bucket already scored. ``detector_feedback``:
one document per verdict and series, read by the detector to damp that series for a
while (``pipelines/detect/feedback.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne

from pipelines.store.common import Repository, utcnow


class Detector(Repository):
    """The detector's progress per series and the feedback from verdicts."""

    def state(self) -> dict[str, datetime]:
        """Series id -> newest bucket already scored."""
        return {str(d["_id"]): d["newest"] for d in self.db.detector_state.find({}, {"newest": 1})}

    def set_state(self, newest: Mapping[str, datetime]) -> None:
        if not newest:
            return
        now = utcnow()
        ops = [
            UpdateOne({"_id": sid}, {"$set": {"newest": t, "updated": now}}, upsert=True)
            for sid, t in newest.items()
        ]
        self.db.detector_state.bulk_write(ops, ordered=False)

    def add_feedback(self, docs: Sequence[Mapping[str, Any]]) -> int:
        """Record feedback rows (one per series of a verdict); returns how many."""
        return self._insert_all("detector_feedback", docs, "record detector feedback")

    def feedback(self, now: datetime) -> list[dict[str, Any]]:
        """Feedback rows still in force at ``now`` (``until > now``)."""
        return list(self.db.detector_feedback.find({"until": {"$gt": now}}).sort("at", ASCENDING))
