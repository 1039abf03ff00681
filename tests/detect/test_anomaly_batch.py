"""``store.anomalies.upsert_many`` (the detector's batched write) merges exactly like ``upsert``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.store import Store

T = datetime(2024, 3, 1, tzinfo=UTC)


def _doc(series: str, start_h: int, end_h: int, severity: float) -> dict:
    return {
        "series": series,
        "key": series.split("|")[0],
        "metric": "count",
        "start": T + timedelta(hours=start_h),
        "end": T + timedelta(hours=end_h),
        "peak": T + timedelta(hours=start_h),
        "severity": severity,
        "observed": 10 * severity,
        "methods": ["robust"] if severity > 0.4 else ["stumpy"],
    }


CYCLES = [
    [(0, 2, 0.5), (10, 12, 0.4)],  # two new windows
    [(1, 3, 0.6), (9, 10, 0.3), (20, 21, 0.7)],  # grows both (one more severe), one new
    [(2, 11, 0.5)],  # overlaps both stored windows: merges into the earlier one
]


def _strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("_id", "series", "key", "created", "updated")}


def test_upsert_many_matches_upsert_one_by_one(store: Store) -> None:
    one, many = "source:a|count", "source:b|count"
    for cycle in CYCLES:
        got_one = [store.anomalies.upsert(_doc(one, *w)) for w in cycle]
        got_many = store.anomalies.upsert_many([_doc(many, *w) for w in cycle])
        assert [i for _, i in got_one] == [i for _, i in got_many]
        assert [a.split("|", 2)[2] for a, _ in got_one] == [a.split("|", 2)[2] for a, _ in got_many]
    a = sorted(store.db.anomalies.find({"series": one}), key=lambda d: d["start"])
    b = sorted(store.db.anomalies.find({"series": many}), key=lambda d: d["start"])
    assert [_strip(d) for d in a] == [_strip(d) for d in b]
    assert len(a) == 3


def test_upsert_many_takes_one_series(store: Store) -> None:
    with pytest.raises(ValueError, match="one series"):
        store.anomalies.upsert_many([_doc("x|count", 0, 1, 0.5), _doc("y|count", 0, 1, 0.5)])
    assert store.anomalies.upsert_many([]) == []
