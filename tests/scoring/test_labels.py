"""The threat/topic label set, the heads trained on it, and the shipped heads."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from pipelines.scoring import datasets as ds
from pipelines.scoring.cpu import CpuScorer
from pipelines.scoring.heads import HeadSet
from pipelines.scoring.thresholds import high_thresholds
from pipelines.scoring.train import LABEL_HEADS, Featuriser, _label_head, seed_rows

HEADER = "source,ref,pool,threat,topics\n"


def test_label_file_parses_and_has_positives_in_both_splits() -> None:
    rows = ds.read_label_rows()
    assert len(rows) == len(ds.LABELS_FILE.read_text().splitlines()) - 1
    test = np.array([ds.label_is_test(r["source"], r["ref"]) for r in rows])
    assert 0.2 < test.mean() < 0.4
    for name in ("threat",) + ds.LABEL_TOPICS:
        if name == "threat":
            y = np.array([r["threat"] == "1" for r in rows])
        else:
            y = np.array([name in r["topics"].split(";") for r in rows])
        assert y[test].sum() >= 10 and y[~test].sum() >= 40, name


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("twitter,1,random,0,\n", "unknown source 'twitter'"),
        ("davidson,1,random,yes,\n", "threat must be 0 or 1, not 'yes'"),
        ("davidson,1,random,0,politics;cooking\n", "unknown topic 'cooking'"),
        ("davidson,1,random,0,\ndavidson,1,random,1,\n", "duplicate row davidson 1"),
    ],
)
def test_malformed_label_rows_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(HEADER + line)
    with pytest.raises(ds.LabelFileError, match=message):
        ds.read_label_rows(path)


def test_every_reference_points_at_the_real_line(shared_dir: Path) -> None:
    """Each ref resolves; spot-check the texts against the raw files read independently."""
    data = shared_dir / "data"
    labels = ds.threat_topic_labels(data)
    assert len(labels) == len(ds.read_label_rows()) and all(t.strip() for t in labels.texts)
    raw = (data / "tweeteval" / "offensive" / "train_text.txt").read_text(encoding="utf-8").split("\n")
    with (data / "davidson_hate_offensive" / "labeled_data.csv").open(encoding="utf-8", newline="") as f:
        dav = {r[""]: r["tweet"] for r in csv.DictReader(f)}
    checked = 0
    for src, ref, text in zip(labels.sources, labels.refs, labels.texts, strict=True):
        if src == "tweeteval/offensive" and ref.startswith("train:"):
            assert raw[int(ref.split(":")[1])].rstrip() == text
            checked += 1
        elif src == "davidson":
            assert dav[ref] == text
            checked += 1
    assert checked > 500


def test_a_reference_to_nowhere_is_an_error(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(HEADER + "tweeteval/hate,train:99999999,random,0,\n")
    with pytest.raises(ds.LabelFileError, match=r"tweeteval/hate 'train:99999999' points at no tweet"):
        ds.threat_topic_labels(shared_dir / "data", path)


class _Direct:
    """Featuriser stand-in for the cache: embeds with the real extractor, no disk cache."""

    def __init__(self, fx: object) -> None:
        self.fx = fx

    def get(self, texts: list[str]) -> np.ndarray:
        return self.fx.embedder.embed(list(texts))  # type: ignore[attr-defined]


def _slice(labels: ds.LabelSet, name: str, pos: int, neg: int) -> ds.LabelledTexts:
    """A small seeded slice of the training split: ``pos`` positives, ``neg`` negatives."""
    y = labels.labels(name)
    rng = np.random.default_rng(5)
    idx = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == 1), pos, replace=False),
            rng.choice(np.flatnonzero(y == 0), neg, replace=False),
        ]
    )
    return ds.LabelledTexts(name, [labels.texts[i] for i in idx], y[idx])


def test_heads_trained_by_the_real_code_path_separate_clear_cases(
    cpu_scorer: CpuScorer, shared_dir: Path
) -> None:
    """``_label_head`` (CV choice of blocks, C, threshold) on ~100 training rows per label."""
    train = ds.threat_topic_labels(shared_dir / "data").part(test=False)
    featurise = Featuriser(cpu_scorer.fx, _Direct(cpu_scorer.fx))
    report: dict = {}
    threat = _label_head("threat", _slice(train, "threat", 45, 70), featurise, report, seed_rows("threat"))
    sports = _label_head(
        "topic:sports", _slice(train, "sports", 40, 70), featurise, report, seed_rows("sports")
    )
    assert report["threat"]["n_train"] == 115 and report["threat"]["positives"] == 45
    assert report["threat"]["seed_rows"]["pos"] == 10
    assert 0.2 <= report["threat"]["chosen"]["threshold"] <= 0.8
    texts = [
        "I swear I'm gonna find you and beat your ass till you bleed",
        "Two men were charged with murder after the stabbing outside the club",
        "Our team totally crushed the presentation today, so proud",
        "Messi scores twice as Barcelona beat Madrid 3-1 in the Clasico",
        "The senate passed the immigration bill this morning",
    ]
    f = cpu_scorer.fx.features(texts)
    t, s = threat.score(f), sports.score(f)
    assert t[0] >= 0.5 and t[1] < 0.5 and t[2] < 0.5
    assert s[3] >= 0.5 and s[4] < 0.5 and s[0] < 0.5


def test_shipped_heads_load_and_cover_threat_and_every_labelled_topic(cpu_scorer: CpuScorer) -> None:
    hs = HeadSet.load()
    for name in LABEL_HEADS:
        key = name if name == "threat" else f"topic:{name}"
        head = hs.heads[key]
        assert head.coef.shape == (
            1,
            sum({"emb": 384, "layer4": 384, "vader": 4, "profanity": 1}[b] for b in head.blocks),
        )
        assert hs.card["training"][key]["data"] == [
            "labels/threat_topics[" + name + "][train split]",
            "prototypes.seed_examples",
        ]
    assert hs.card["labels"]["rows"] == len(ds.read_label_rows())
    assert "topics" in hs.prototypes and "threat" in hs.prototypes  # fallback and baseline
    # Default taxonomy: every topic but "other" has a head, so no prototype is consulted.
    assert cpu_scorer._topic_protos is None
    threat, news, tech, ill = cpu_scorer.score_texts(
        [
            "I will find you and kill you, you better watch your back",
            "Police arrested a man after a stabbing in the city centre",
            "The new iPhone update keeps crashing my apps, Apple please fix this bug",
            "Doctors say the flu outbreak has filled the hospital, get your vaccine",
        ]
    )
    assert threat.threat >= high_thresholds()["threat"] > news.threat
    assert "violence/crime" in news.topics
    assert "technology" in tech.topics
    assert "health" in ill.topics


def test_custom_topic_without_labels_falls_back_to_prototypes(cpu_scorer: CpuScorer) -> None:
    custom = CpuScorer(
        topics=["cooking", "politics", "other"], heads=cpu_scorer.heads, features=cpu_scorer.fx
    )
    assert custom._topic_protos is not None and custom._topic_protos.labels == ("cooking",)
    bake, vote = custom.score_texts(
        [
            "Baking bread tonight: flour, yeast, a pinch of salt and a hot oven",
            "Vote for the senator on election day",
        ]
    )
    assert "cooking" in bake.topics and "politics" not in bake.topics
    assert vote.topics == ["politics"]
