"""The CPU scorer on real labelled tweets: clear cases land on the right side."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pytest

from pipelines.core.scores import Scores
from pipelines.scoring import PostText
from pipelines.scoring import datasets as ds
from pipelines.scoring.cpu import CpuScorer
from pipelines.scoring.thresholds import high_thresholds


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(random positive scores above random negative): 1 = perfect, 0.5 = chance."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def _unanimous_davidson(shared: Path, label: int, n: int) -> list[str]:
    """Held-out Davidson tweets every annotator put in ``label`` (the clear cases)."""
    col = {0: "hate_speech", 1: "offensive_language", 2: "neither"}[label]
    out = []
    with (shared / "data" / "davidson_hate_offensive" / "labeled_data.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if ds.davidson_is_heldout(row[""]) and row[col] == row["count"] and int(row["count"]) >= 3:
                out.append(row["tweet"])
                if len(out) == n:
                    break
    return out


def test_scores_are_valid_and_flag_the_model(cpu_scorer: CpuScorer) -> None:
    outs = cpu_scorer.score([PostText("a:1", "What a lovely morning in Dublin"), PostText("a:2", "")])
    assert [o.post_id for o in outs] == ["a:1", "a:2"]
    for o in outs:
        assert isinstance(o.scores, Scores)
        assert o.scores.model.startswith("cpu:") and o.scores.version == cpu_scorer.version
    assert outs[0].scores.places[0].name == "Dublin"
    assert outs[0].scores.language == "en" and outs[0].scores.confidence == "high"


def test_untrained_language_is_low_confidence(cpu_scorer: CpuScorer) -> None:
    es, en = cpu_scorer.score_texts(
        ["Terremoto de magnitud 7 sacude Costa Rica, hay daños en San José", "An earthquake shook Costa Rica"]
    )
    assert es.language == "es" and es.confidence == "low"
    assert en.language == "en" and en.confidence == "high"


def test_threat_and_topics_on_plain_cases(cpu_scorer: CpuScorer) -> None:
    threat, calm, flood, match = cpu_scorer.score_texts(
        [
            "I will find you and kill you, you better watch your back",
            "Had a lovely walk in the park with my dog",
            "Flood waters rising, thousands evacuated as the river bursts its banks",
            "What a goal! We won the match 3-1, champions!",
        ]
    )
    assert threat.threat >= high_thresholds()["threat"] > calm.threat
    assert "crisis/disaster" in flood.topics
    assert "sports" in match.topics
    assert calm.sentiment > 0 > threat.sentiment


def test_hate_and_offensive_on_unanimous_davidson(cpu_scorer: CpuScorer, shared_dir: Path) -> None:
    hate = cpu_scorer.score_texts(_unanimous_davidson(shared_dir, 0, 40))
    offensive = cpu_scorer.score_texts(_unanimous_davidson(shared_dir, 1, 60))
    neither = cpu_scorer.score_texts(_unanimous_davidson(shared_dir, 2, 60))
    tox_off = np.array([s.toxicity for s in offensive])
    tox_nei = np.array([s.toxicity for s in neither])
    assert _auc(tox_off, tox_nei) >= 0.85
    cut = high_thresholds()["toxicity"]
    assert np.mean(tox_off >= cut) >= 0.8 and np.mean(tox_nei < cut) >= 0.6
    hate_h = np.array([s.hate for s in hate])
    hate_n = np.array([s.hate for s in neither])
    assert _auc(hate_h, hate_n) >= 0.85


def test_sentiment_on_tweeteval_val(cpu_scorer: CpuScorer, shared_dir: Path) -> None:
    val = ds.tweeteval(shared_dir / "data", "sentiment", "val")
    pos = [t for t, y in zip(val.texts, val.labels, strict=True) if y == 2][:60]
    neg = [t for t, y in zip(val.texts, val.labels, strict=True) if y == 0][:60]
    sp = np.array([s.sentiment for s in cpu_scorer.score_texts(pos)])
    sn = np.array([s.sentiment for s in cpu_scorer.score_texts(neg)])
    assert _auc(sp, sn) >= 0.8
    assert np.mean(sp > 0) >= 0.7 and np.mean(sn < 0) >= 0.6


def _informative(shared: Path, event: str, n: int) -> list[str]:
    path = shared / "data" / "crisislex_t26" / event / "tweets_labeled.csv"
    with path.open(encoding="utf-8", errors="replace") as f:
        rows = csv.DictReader(f, skipinitialspace=True)
        return [r["Tweet Text"] for r in rows if r["Informativeness"] == "Related and informative"][:n]


def test_crisis_topic_on_a_held_out_crisislex_event(cpu_scorer: CpuScorer, shared_dir: Path) -> None:
    # 2013_NY_train_crash is one of the events the crisis head never saw in training
    crisis = cpu_scorer.score_texts(_informative(shared_dir, "2013_NY_train_crash", 60))
    assert np.mean(["crisis/disaster" in s.topics for s in crisis]) >= 0.7
    other = cpu_scorer.score_texts(ds.tweeteval(shared_dir / "data", "offensive", "val").texts[:60])
    assert np.mean(["crisis/disaster" in s.topics for s in other]) <= 0.1


def test_places_on_crisislex_tweets(cpu_scorer: CpuScorer, shared_dir: Path) -> None:
    texts = [
        t
        for t in _informative(shared_dir, "2013_Alberta_floods", 400)
        if re.search(r"(?<![@\w])Calgary\b", t)
    ]
    assert len(texts) >= 10
    found = [
        any(p.name == "Calgary" and p.country == "CA" for p in s.places)
        for s in cpu_scorer.score_texts(texts)
    ]
    assert np.mean(found) >= 0.9


def test_no_hub_access_configured() -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_missing_heads_give_a_clear_error(tmp_path: Path) -> None:
    from pipelines.scoring.heads import HeadSet

    with pytest.raises(FileNotFoundError, match="heads.npz"):
        HeadSet.load(tmp_path)


def test_custom_topics_are_scored_zero_shot(cpu_scorer: CpuScorer) -> None:
    """A taxonomy from VIGIL_TOPICS with a topic nobody wrote prototypes for."""
    custom = CpuScorer(topics=["weather", "sports", "other"], heads=cpu_scorer.heads, features=cpu_scorer.fx)
    rain, goal, tax = custom.score_texts(
        [
            "Heavy rain and strong winds expected tomorrow, temperatures dropping below zero",
            "What a goal! We won the match 3-1",
            "The new tax form is due next month",
        ]
    )
    assert "weather" in rain.topics and "sports" not in rain.topics
    assert goal.topics == ["sports"]
    assert tax.topics == ["other"]
    assert all(t in ("weather", "sports", "other") for s in (rain, goal, tax) for t in s.topics)


def test_text_analysis_beside_the_embedding_gives_each_post_its_own(cpu_scorer: CpuScorer) -> None:
    """Language, places and entities run on their own thread beside the embedding: each post
    still gets exactly what the pieces give it when called one by one, in input order."""
    from pipelines.scoring.entities import extract_batch
    from pipelines.scoring.geo import extract_places

    texts = [
        "Barack Obama spoke in Paris about Google",
        "Terremoto en San José, Costa Rica",
        "",
        "lovely morning",
        "Typhoon Haiyan hits Tacloban; Red Cross sends help",
    ] * 3
    got = cpu_scorer.score_texts(texts)
    for text, s in zip(texts, got, strict=True):
        places = extract_places(text)
        lang = cpu_scorer.lang.detect(text)[0]
        assert s.language == lang
        assert s.places == places
        assert s.entities == extract_batch([text], [places], [lang])[0]
    assert any(e.type == "person" for e in got[0].entities)


def test_a_failing_text_analysis_fails_its_batch_with_a_named_error(
    cpu_scorer: CpuScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(texts: list[str]) -> None:
        raise RuntimeError("gazetteer unreadable")

    monkeypatch.setattr(cpu_scorer, "_text_analysis", broken)
    outs = cpu_scorer.score([PostText("a:1", "Flood in Dublin"), PostText("a:2", "calm")])
    assert [o.scores for o in outs] == [None, None]
    assert all("gazetteer unreadable" in (o.error or "") for o in outs)
