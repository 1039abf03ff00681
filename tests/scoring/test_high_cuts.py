"""Every "high" figure follows the tuned per-score cut: change a cut, the counts change.

The cuts come from the heads card (chosen on tune splits) and ``VIGIL_HIGH_CUTS``
overrides them; rollups, the index's watchlist series, an anomaly's Explore filter and
alert rules without their own ``min_score`` all read the same cut.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import tantivy
from pydantic import ValidationError

from pipelines.alerts import rules as R
from pipelines.alerts.models import PostRef, Rule
from pipelines.core.config import Settings, get_settings
from pipelines.read import triage
from pipelines.scoring.heads import HEADS_DIR
from pipelines.scoring.rollups import contributions
from pipelines.scoring.thresholds import card_thresholds, high_cut, high_thresholds
from pipelines.search import signals
from pipelines.search.schema import build_schema, to_document
from pipelines.search.watchlists import Watchlist

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
THREATS = [0.05, 0.2, 0.3, 0.45, 0.6, 0.9]


@pytest.fixture
def set_cuts(monkeypatch):
    """``set_cuts({"threat": 0.4})`` overrides the cuts for the test (settings cache cleared)."""

    def apply(cuts: dict[str, float] | None) -> None:
        if cuts is None:
            monkeypatch.delenv("VIGIL_HIGH_CUTS", raising=False)
        else:
            monkeypatch.setenv("VIGIL_HIGH_CUTS", json.dumps(cuts))
        get_settings.cache_clear()

    yield apply
    monkeypatch.delenv("VIGIL_HIGH_CUTS", raising=False)
    get_settings.cache_clear()


def _posts() -> list[dict]:
    base = {"sentiment": 0.0, "hate": 0.0, "toxicity": 0.0, "topics": [], "places": [], "language": "en"}
    return [
        {
            "_id": f"rss:{i}",
            "source": "rss",
            "ts": T0 + timedelta(minutes=i),
            "text": f"flood report {i}",
            "title": "",
            "url": f"https://example.org/{i}",
            "author": "a",
            "terms": ["flood"],
            "scores": {**base, "threat": t},
        }
        for i, t in enumerate(THREATS)
    ]


def _expected(cut: float) -> int:
    return sum(t >= cut for t in THREATS)


def test_default_cuts_are_the_cards(set_cuts):
    set_cuts(None)
    card = json.loads((HEADS_DIR / "card.json").read_text())
    assert (
        high_thresholds() == card_thresholds() == {k: card["high_thresholds"][k] for k in card_thresholds()}
    )
    assert high_cut("threat") == card["high_thresholds"]["threat"]
    with pytest.raises(ValueError, match="no high cut for score 'sentiment'"):
        high_cut("sentiment")


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.85])
def test_rollup_high_counts_follow_the_cut(set_cuts, cut):
    set_cuts({"threat": cut})
    (doc,) = contributions(_posts()).values()
    assert doc["inc"]["high.threat"] == _expected(cut)


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.85])
def test_index_watch_series_and_high_query_follow_the_cut(set_cuts, cut):
    set_cuts({"threat": cut})
    ix = tantivy.Index(build_schema())
    writer = ix.writer(15_000_000, 1)
    for p in _posts():
        writer.add_document(to_document(p))
    writer.commit()
    ix.reload()
    searcher, schema = ix.searcher(), ix.schema
    watch = Watchlist.make(name="Flood", query="flood")
    (hour,) = signals.watch_rollups(searcher, schema, watch)
    assert hour["n"] == len(THREATS) and hour["high"]["threat"] == _expected(cut)
    q = signals.series_query(searcher, schema, "source:rss", {}, "high:threat")
    assert searcher.search(q, 100).count == _expected(cut)


def test_anomaly_explore_filter_uses_the_cut(set_cuts):
    doc = {"_id": "a", "series": "lang:en|high:hate", "start": T0, "end": T0 + timedelta(hours=1)}
    set_cuts({"hate": 0.37})
    assert triage.explore_filters(doc).hate == (0.37, 1.0)
    set_cuts({"hate": 0.61})
    assert triage.explore_filters(doc).hate == (0.61, 1.0)


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.85])
def test_threshold_rule_without_min_score_uses_the_cut(set_cuts, cut):
    set_cuts({"threat": cut})
    now = T0 + timedelta(hours=1)
    refs = [PostRef(p["_id"], "rss", p["text"], ts=p["ts"], score=p["scores"]["threat"]) for p in _posts()]
    tuned = Rule.make(name="threats", kind="threshold", score="threat")
    assert tuned.min_score is None and tuned.score_cut == cut
    assert f">= {cut:g} (the tuned high cut)" in tuned.describe()
    events = R.evaluate(tuned, R.RuleInputs(now, posts=refs))
    assert len(events) == _expected(cut) and all(e.expected == cut for e in events)
    own = Rule.make(name="own", kind="threshold", score="threat", min_score=0.7)  # its own cut wins
    assert len(R.evaluate(own, R.RuleInputs(now, posts=refs))) == _expected(0.7)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{"threat": 1.5}', "less than or equal to 1"),
        ('{"danger": 0.3}', "danger"),
        ("0.3", "vigil_high_cuts"),
    ],
)
def test_bad_override_is_named(monkeypatch, value, fragment):
    monkeypatch.setenv("VIGIL_HIGH_CUTS", value)
    with pytest.raises(ValidationError, match=fragment):
        Settings()
