"""``python -m pipelines eval-scorer``: the CPU scorer's quality on held-out labelled data.

Metrics (the TweetEval paper's): macro-F1 for hate and offensive on TweetEval ``val``;
macro-recall for sentiment on the held-out half of TweetEval sentiment ``val`` (the other
half is the only sentiment training data there is; VADER alone is also reported on the
full ``val``); hate / offensive macro-F1 on Davidson's held-out rows
(:func:`pipelines.scoring.datasets.davidson_is_heldout`); crisis-topic macro-F1 on three
CrisisLex events held out of training. Nothing here was trained on.

The numbers go through the same code as scoring: feature blocks from
:class:`~pipelines.scoring.cpu.FeatureExtractor`, decisions at score >= 0.5.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.train import _crisis_split, macro_f1, macro_recall

ANCHORS = {
    "FastText (TweetEval test)": {"hate": 50.6, "offensive": 73.4, "sentiment": 62.9},
    "BERTweet (TweetEval test)": {"hate": 56.4, "offensive": 79.5, "sentiment": 73.4},
}


def evaluate(scorer: Any, data_dir: Path, featurise: Any) -> dict[str, Any]:
    """Every metric as a percentage, plus counts; ``featurise(LabelledTexts) -> feats``."""
    heads = scorer.heads.heads
    res: dict[str, Any] = {}
    t0 = time.perf_counter()

    def decide(name: str, feats: dict[str, np.ndarray]) -> np.ndarray:
        return (heads[name].score(feats) >= 0.5).astype(int)

    hate = ds.tweeteval(data_dir, "hate", "val")
    f = featurise(hate)
    res["tweeteval_hate_val_macro_f1"] = 100 * macro_f1(hate.labels, decide("hate", f))

    off = ds.tweeteval(data_dir, "offensive", "val")
    f = featurise(off)
    res["tweeteval_offensive_val_macro_f1"] = 100 * macro_f1(off.labels, decide("offensive", f))

    sent = ds.tweeteval_sentiment(data_dir, "heldout")
    f = featurise(sent)
    res["tweeteval_sentiment_val_heldout_half_macro_recall"] = 100 * macro_recall(
        sent.labels, scorer.sentiment_label(f)
    )
    res["tweeteval_sentiment_val_heldout_half_macro_recall_vader_only"] = 100 * macro_recall(
        sent.labels, _vader_label(f["vader"][:, 3])
    )
    res["sentiment_heldout_rows"] = len(sent)
    full = ds.tweeteval(data_dir, "sentiment", "val")
    f = featurise(full)
    res["tweeteval_sentiment_val_full_macro_recall_vader_only"] = 100 * macro_recall(
        full.labels, _vader_label(f["vader"][:, 3])
    )

    dav = ds.davidson(data_dir, "heldout")
    f = featurise(dav)
    res["davidson_heldout_hate_macro_f1"] = 100 * macro_f1((dav.labels == 0).astype(int), decide("hate", f))
    res["davidson_heldout_offensive_macro_f1"] = 100 * macro_f1(
        (dav.labels != 2).astype(int), decide("offensive", f)
    )
    res["davidson_heldout_rows"] = len(dav)

    if "topic:crisis/disaster" in heads:
        _, held = _crisis_split(data_dir)
        f = featurise(held)
        res["crisislex_heldout_events_crisis_macro_f1"] = 100 * macro_f1(
            held.labels, decide("topic:crisis/disaster", f)
        )
        res["crisislex_heldout_rows"] = len(held)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["heads_version"] = scorer.heads.version
    return res


def _vader_label(compound: np.ndarray) -> np.ndarray:
    """VADER's own convention: compound >= 0.05 positive, <= -0.05 negative."""
    return np.where(compound >= 0.05, 2, np.where(compound <= -0.05, 0, 1))


def format_report(res: dict[str, Any]) -> str:
    """The figures as aligned text, with the published anchors beside them."""
    lines = [f"heads {res.get('heads_version')}  (eval took {res.get('seconds')} s)"]
    for k, v in res.items():
        if isinstance(v, float) and k != "seconds":
            lines.append(f"  {k:<52} {v:6.1f}")
    lines.append(
        f"  held-out rows: davidson {res.get('davidson_heldout_rows')}, sentiment half "
        f"{res.get('sentiment_heldout_rows')}, crisislex {res.get('crisislex_heldout_rows')}"
    )
    for name, a in ANCHORS.items():
        lines.append(
            f"  anchor {name}: hate {a['hate']}  offensive {a['offensive']}  sentiment {a['sentiment']}"
        )
    return "\n".join(lines)
