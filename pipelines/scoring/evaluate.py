"""``python -m pipelines eval-scorer``: the CPU scorer's quality on held-out labelled data.

Metrics (the TweetEval paper's): macro-F1 for hate and offensive on TweetEval ``val``;
macro-recall for sentiment on the held-out half of TweetEval sentiment ``val`` (the other
half is the only sentiment training data there is; VADER alone is also reported on the
full ``val``); hate / offensive macro-F1 on Davidson's held-out rows
(:func:`pipelines.scoring.datasets.davidson_is_heldout`); crisis-topic macro-F1 on three
CrisisLex events held out of training; threat and topic macro-F1 on the held-out test
split of the developer-annotated ``labels/threat_topics.csv``, next to the zero-shot
prototype baseline on the same rows. Nothing here was trained on.

The numbers go through the same code as scoring: feature blocks from
:class:`~pipelines.scoring.cpu.FeatureExtractor`, decisions at score >= 0.5.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.heads import SENTIMENT_BLOCKS, prototype_threat
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
    f = featurise(sent, SENTIMENT_BLOCKS)
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
    res["labels_test"] = evaluate_labels(scorer, data_dir, featurise)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["heads_version"] = scorer.heads.version
    return res


def evaluate_labels(scorer: Any, data_dir: Path, featurise: Any) -> dict[str, dict[str, Any]]:
    """Threat / topic macro-F1 on the labels' test split: shipped heads vs zero-shot prototypes.

    Returns ``{label: {rows, positives, head, prototype, prototype_tuned, diff_ci95}}``
    (percentages). ``head`` is what the CPU scorer uses now (a label-trained head; for
    crisis/disaster the CrisisLex head); ``prototype`` the zero-shot scorer with its
    hand-set threshold; ``prototype_tuned`` the same similarity scores with the threshold
    that maximises macro-F1 on the labels' *training* split (a fairer baseline: the heads
    had that split too); ``diff_ci95`` a paired bootstrap 95 % interval of head minus
    ``prototype_tuned`` over the test rows (2,000 resamples, seed 13), since 26-178
    positives leave wide error bars.
    """
    labels = ds.threat_topic_labels(data_dir)
    parts = {}
    for name, part in (("train", labels.part(test=False)), ("test", labels.part(test=True))):
        f = featurise(ds.LabelledTexts(f"labels/threat_topics[{name}]", part.texts, part.threat))
        parts[name] = (part, f, _prototype_scores(scorer, f))
    test, feats, proto_test = parts["test"]
    train, _, proto_train = parts["train"]
    heads = scorer.heads.heads
    out: dict[str, dict[str, Any]] = {}
    for name in ("threat",) + ds.LABEL_TOPICS:
        y = test.labels(name)
        row: dict[str, Any] = {"rows": len(y), "positives": int(y.sum())}
        key = name if name == "threat" else f"topic:{name}"
        pred = (heads[key].score(feats) >= 0.5).astype(int) if key in heads else None
        row["head"] = 100 * macro_f1(y, pred) if pred is not None else None
        if name in proto_test:
            row["prototype"] = 100 * macro_f1(y, (proto_test[name] >= 0.5).astype(int))
            t = max(
                np.linspace(0.01, 0.99, 99), key=lambda t: _f1(train.labels(name), proto_train[name] >= t)
            )
            tuned = (proto_test[name] >= t).astype(int)
            row["prototype_tuned"] = 100 * macro_f1(y, tuned)
            row["prototype_tuned_threshold"] = round(float(t), 2)
            if pred is not None:
                row["diff_ci95"] = _bootstrap_diff(y, pred, tuned)
        out[name] = row
    return out


def _prototype_scores(scorer: Any, feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Zero-shot scores (0.5 = the hand-set threshold) of every label with prototypes."""
    protos = scorer.heads.prototypes
    out: dict[str, np.ndarray] = {}
    if "threat" in protos:
        out["threat"] = prototype_threat(protos["threat"], feats["emb"])
    if "topics" in protos:
        sc = protos["topics"].scores(feats["emb"])
        for j, t in enumerate(protos["topics"].labels):
            out[t] = sc[:, j]
    return out


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Binary macro-F1 in NumPy (the bootstrap calls it thousands of times)."""
    y = y.astype(bool)
    pred = pred.astype(bool)
    tp, fp, fn = np.sum(y & pred), np.sum(~y & pred), np.sum(y & ~pred)
    tn = len(y) - tp - fp - fn
    f_pos = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f_neg = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    return float((f_pos + f_neg) / 2)


def _bootstrap_diff(y: np.ndarray, a: np.ndarray, b: np.ndarray, n: int = 2000) -> list[float]:
    """Paired bootstrap 95 % interval of macro-F1(a) - macro-F1(b), in points."""
    rng = np.random.default_rng(13)
    diffs = np.empty(n)
    for i in range(n):
        idx = rng.integers(0, len(y), len(y))
        diffs[i] = _f1(y[idx], a[idx]) - _f1(y[idx], b[idx])
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return [round(100 * float(lo), 1), round(100 * float(hi), 1)]


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
    lab = res.get("labels_test") or {}
    if lab:
        first = next(iter(lab.values()))
        lines.append(
            f"  labels/threat_topics.csv test split ({first['rows']} rows), macro-F1: shipped head vs "
            "zero-shot prototypes (hand-set / threshold tuned on the train split), "
            "95% CI of head - tuned"
        )
        for name, r in lab.items():
            cells = []
            for k in ("head", "prototype", "prototype_tuned"):
                cells.append("   -  " if r.get(k) is None else f"{r[k]:6.1f}")
            ci = r.get("diff_ci95")
            ci_s = f"[{ci[0]:+5.1f}, {ci[1]:+5.1f}]" if ci else ""
            lines.append(
                f"    {name:<16} pos {r['positives']:4d}  head {cells[0]}  "
                f"prototypes {cells[1]} / {cells[2]}  {ci_s}"
            )
    for name, a in ANCHORS.items():
        lines.append(
            f"  anchor {name}: hate {a['hate']}  offensive {a['offensive']}  sentiment {a['sentiment']}"
        )
    return "\n".join(lines)
