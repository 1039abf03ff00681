"""Anomaly verdicts are stored with who/when; "open in Explore" selects the series' posts."""

from __future__ import annotations

import pytest

from pipelines.read import triage
from pipelines.scoring.thresholds import high_thresholds
from pipelines.store import Store
from tests.ui.seed import anomaly_doc, seed


def test_verdicts_are_stored_with_history(store: Store):
    store.db.anomalies.insert_one(anomaly_doc(0))
    assert triage.set_status(store, "an0", "acknowledged", by="ana")
    assert triage.set_status(store, "an0", "false_positive", by="bob", note="a test feed")
    doc = store.db.anomalies.find_one({"_id": "an0"})
    assert doc["status"] == "false_positive" and doc["status_by"] == "bob"
    assert [h["status"] for h in doc["history"]] == ["acknowledged", "false_positive"]
    assert doc["history"][1]["note"] == "a test feed"
    with pytest.raises(ValueError, match="unknown anomaly status 'closed'"):
        triage.set_status(store, "an0", "closed", by="x")
    assert not triage.set_status(store, "missing", "acknowledged", by="x")


def test_explore_filters_select_the_series_window(store: Store):
    seed(store)
    doc = anomaly_doc(0)  # source:alpha|count
    f = triage.explore_filters(doc)
    assert f.sources == ("alpha",) and f.since == doc["start"] and f.until == doc["end"]
    for d in store.db.posts.find(f.to_mongo()):
        assert d["source"] == "alpha" and doc["start"] <= d["ts"] < doc["end"]
    lang = triage.explore_filters(anomaly_doc(1, series="lang:es|high:threat"))
    assert lang.langs == ("es",) and lang.threat == (high_thresholds()["threat"], 1.0)


def test_anomaly_view_reads_evidence_and_stored_context(store: Store):
    seed(store)
    ctx = [{"time": anomaly_doc(0)["start"], "value": 9.0, "expected": 2.0, "lo": 1.0, "hi": 3.0, "mp": 0.4}]
    store.db.anomalies.insert_one(anomaly_doc(0, context=ctx))
    view = triage.anomaly_view(store, "an0")
    assert view is not None and view.context_source == "stored"
    assert view.context["value"].to_list() == [9.0]
    assert view.posts == ["alpha:0", "alpha:3"]
    assert view.terms["term"].to_list() == ["flood"]
    assert triage.anomaly_view(store, "nope") is None
