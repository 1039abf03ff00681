"""``python -m pipelines train-sentiment``: refit only the sentiment head and its class biases.

Why a command of its own: ``train-heads`` refits every head (and ``train-threat`` owns the
threat ensemble and the calibration of hate and toxicity); changing the sentiment head's
features (issue 14 added MiniLM's layer-4 block) should not move any other head's weights or
figures. This loads the shipped heads, replaces the ``sentiment`` head
(:func:`.train._sentiment_head`: blocks and ``C`` by cross-validation inside the training
half of TweetEval sentiment ``val``), re-chooses its class biases (:mod:`.sentiment_bias`) and
writes ``heads.npz`` + ``card.json`` back; every other head's arrays are written unchanged.
The held-out half is never read here. ``train-threat`` re-chooses the class biases by the same
rule (:func:`.sentiment_bias.fit_sentiment_bias`), which gives the same biases again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.scoring import datasets as ds
from pipelines.scoring.heads import HEADS_DIR, HeadSet
from pipelines.scoring.sentiment_bias import fit_sentiment_bias
from pipelines.scoring.train import _sentiment_head

LAYER4_CARD = (
    "MiniLM layer 4 of 6 output (ONNX tensor layer_norm_8), mean pooling, L2; "
    "same model run as emb; sentiment head only"
)


def train_sentiment(data_dir: Path, featurise: Any, heads_dir: Path = HEADS_DIR) -> dict[str, Any]:
    """Refit the sentiment head and its biases in ``heads_dir``; return the card's training entry."""
    hs = HeadSet.load(heads_dir)
    report: dict[str, Any] = {}
    hs.heads["sentiment"] = _sentiment_head(ds.tweeteval_sentiment(data_dir, "train"), featurise, report)
    section = report["sentiment"]
    section["command"] = "python -m pipelines train-sentiment"
    section["trained"] = datetime.now(UTC).isoformat(timespec="seconds")
    hs.card.setdefault("training", {})["sentiment"] = section
    hs.card.setdefault("features", {})["layer4"] = LAYER4_CARD
    fit_sentiment_bias(hs, data_dir, featurise)
    hs.save(heads_dir)
    return section
