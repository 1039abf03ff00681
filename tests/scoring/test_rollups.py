"""Rollup contributions (pure) and their exactly-once application in the real store."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.scoring.rollups import as_documents, contributions


def _post(pid: str, ts: datetime, source: str, lang: str, **scores: object) -> dict:
    base = {"sentiment": 0.0, "threat": 0.0, "hate": 0.0, "toxicity": 0.0, "topics": [], "places": []}
    return {"_id": pid, "ts": ts, "source": source, "scores": {**base, "language": lang, **scores}}


POSTS = [
    _post(
        "a",
        datetime(2024, 1, 1, 10, 5, tzinfo=UTC),
        "rss",
        "en",
        sentiment=0.5,
        toxicity=0.7,
        topics=["politics", "other"],
    ),
    _post(
        "b",
        datetime(2024, 1, 1, 10, 55, tzinfo=UTC),
        "rss",
        "en",
        sentiment=-0.25,
        threat=0.9,
        hate=0.5,
        topics=["politics"],
        places=[{"name": "Calgary", "country": "CA", "lat": 51.05, "lon": -114.09}],
    ),
    _post(
        "c",
        datetime(2024, 1, 1, 11, 0, tzinfo=UTC),
        "rss",
        "es",
        hate=0.2,
        places=[
            {"name": "Calgary", "country": "CA", "lat": 51.05, "lon": -114.09},
            {"name": "Calgary", "country": "CA", "lat": 51.05, "lon": -114.09},
        ],
    ),
]


def test_contributions_sum_counts_and_high_flags() -> None:
    docs = as_documents(contributions(POSTS))
    ten = docs["score|2024-01-01T10:00:00+00:00|rss|en"]
    assert ten["n"] == 2
    assert ten["sum"]["sentiment"] == 0.25
    assert ten["high"] == {"toxicity": 1, "threat": 1, "hate": 1}
    assert ten["topics"] == {"politics": 2, "other": 1}
    eleven = docs["score|2024-01-01T11:00:00+00:00|rss|es"]
    assert eleven["n"] == 1 and "high" not in eleven
    # a place named twice in one post counts once
    assert docs["place|2024-01-01T11:00:00+00:00|CA:Calgary:51.05,-114.09"]["n"] == 1
    assert docs["place|2024-01-01T10:00:00+00:00|CA:Calgary:51.05,-114.09"]["sum"]["threat"] == 0.9


def test_apply_is_exactly_once_per_token(store) -> None:
    contrib = contributions(POSTS)
    store.score_queue.apply_rollups("tok-1", contrib)
    store.score_queue.apply_rollups("tok-1", contrib)  # a crashed worker's batch re-applied
    got = {d["_id"]: d for d in store.rollups.score_docs()}
    want = as_documents(contrib)
    assert set(got) == set(want)
    for rid, doc in want.items():
        assert got[rid]["n"] == doc["n"]
        assert got[rid]["sum"] == doc["sum"]
    store.score_queue.apply_rollups("tok-2", contributions(POSTS[:1]))  # another batch adds
    got = {d["_id"]: d for d in store.rollups.score_docs()}
    assert got["score|2024-01-01T10:00:00+00:00|rss|en"]["n"] == 3
