"""``python -m pipelines train-threat``: the threat ensemble, its calibration and "high" cut.

Run after ``train-heads`` (it replaces that command's ``threat`` head). Why a separate
step: it needs only the ~2,000 hand-labelled rows (seconds to embed), not the 40,000
training tweets of the other heads, so the threat model can be iterated on alone.

Recipe (every choice on the **training split** of the labels, by 5-fold stratified
cross-validation; the test split, :func:`pipelines.scoring.datasets.label_is_test`, is
never read here):

- rows: ``labels/threat_topics.csv`` (threat column) + ``labels/threat_round3.csv`` +
  ``labels/threat_round4.csv`` + ``labels/threat_round5.csv``;
  the hand-written seed sentences of :mod:`.prototypes` and the training-only rounds of
  :data:`EXTRA_ROUNDS` (``labels/threat_round6.csv``) join every training fold and are never
  predicted out of fold.
- model A: logistic head on the MiniLM embedding (optionally + VADER + profanity);
  model B: logistic regression on hashed word 1-2-grams and char 3-5-grams
  (:mod:`.ngrams`); score = ``w * A + (1 - w) * B``. Blocks, both ``C`` and ``w`` are
  chosen by the macro-F1 of the out-of-fold mix at its best threshold.
- calibration: Platt or isotonic (lower cross-validated Brier) fitted on the out-of-fold
  mix of the chosen candidate, so the shipped score is a probability; the "high threat"
  cut is the calibrated threshold that maximises out-of-fold macro-F1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.calibrate_heads import calibrate_heads
from pipelines.scoring.calibration import fit_best, reliability
from pipelines.scoring.heads import HEADS_DIR, HeadSet
from pipelines.scoring.ngrams import clauses, fit_ngram, sparse_matrix
from pipelines.scoring.sentiment_bias import fit_sentiment_bias
from pipelines.scoring.train import SEED, Featuriser, _folds, concat, fit_linear, seed_rows, take

log = logging.getLogger(__name__)

FOLDS = 5
HEAD_BLOCKS = (
    ("emb",),
    ("emb", "vader", "profanity"),
    ("layer4",),
    ("layer4", "vader", "profanity"),
    ("emb", "layer4", "vader", "profanity"),
)
"""The head's feature block sets. The three with MiniLM's layer-4 vector joined in issue 14 by
a rule written before the run (``threat_variants --by-blocks``, three fold draws: the best
layer-4 set 75.4 against 73.7 mean CV macro-F1, ahead on each draw; ``docs/scoring.md``). It
costs nothing at run time: the scorer computes it for the sentiment head."""
HEAD_C = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.02, 0.05, 0.1, 0.2)
NGRAM_C = (16.0, 64.0, 256.0, 1024.0)
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
NGRAM_FILE = "threat_ngrams.npz"
NGRAM_EXTRAS: tuple[str, ...] = ()
"""Extra n-gram feature families (:data:`.ngrams.EXTRAS`); chosen by :mod:`.threat_variants`."""
NGRAM_POOLING = "clause-max"
"""``post``: the n-gram model scores the whole post; ``clause-max``: the higher of the post's
and its most threatening clause's probability (:func:`.ngrams.clauses`). Chosen by
:mod:`.threat_variants` (three fold draws), see ``docs/scoring.md``."""
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)
EXTRA_FILES = {"round6": ds.ROUND6_FILE}
"""Training-only label rounds (:func:`.datasets.threat_round6_labels`) by name."""
EXTRA_ROUNDS: tuple[str, ...] = ("round6",)
"""Training-only rounds that join **every** training fold, as the seed sentences do: the
out-of-fold figures stay on the rounds 1-5 training rows and folds, so a recipe is comparable
with and without them. Round 6 joins only by the rule in ``docs/scoring.md`` ("Round 6")."""


@dataclass
class ThreatRows:
    """Threat-labelled rows of both label files: texts, 0/1, test flag, origin."""

    texts: list[str]
    y: np.ndarray
    test: np.ndarray
    origin: list[str]

    def part(self, test: bool) -> ThreatRows:
        idx = np.flatnonzero(self.test == test)
        return ThreatRows(
            [self.texts[i] for i in idx], self.y[idx], self.test[idx], [self.origin[i] for i in idx]
        )


def threat_rows(data_dir: Path) -> ThreatRows:
    """``threat_topics.csv`` + rounds 3, 4 and 5, texts from ``data_dir``, fixed test split."""
    base = ds.threat_topic_labels(data_dir)
    rounds = {
        "round3": ds.threat_round3_labels(data_dir),
        "round4": ds.threat_round3_labels(data_dir, ds.ROUND4_FILE),
        "round5": ds.threat_round3_labels(data_dir, ds.ROUND5_FILE),
    }
    return ThreatRows(
        base.texts + [t for r in rounds.values() for t in r.texts],
        np.concatenate([base.threat, *(r.threat for r in rounds.values())]),
        np.concatenate([base.test, *(r.test for r in rounds.values())]),
        ["threat_topics"] * len(base) + [name for name, r in rounds.items() for _ in range(len(r))],
    )


def always_train_rows(data_dir: Path, extras: tuple[str, ...] = EXTRA_ROUNDS) -> ds.LabelledTexts:
    """The seed sentences (:func:`.train.seed_rows`) plus the ``extras`` rounds' rows: what
    joins every training fold and the final fit, never an out-of-fold prediction."""
    seeds = seed_rows("threat")
    texts, labels = list(seeds.texts), [seeds.labels]
    for name in extras:
        part = ds.threat_round6_labels(data_dir, EXTRA_FILES[name])
        texts += part.texts
        labels.append(part.threat)
    return ds.LabelledTexts("+".join(("seeds", *extras)), texts, np.concatenate(labels))


def best_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Threshold on ``THRESHOLDS`` maximising macro-F1 (the lowest on ties), and that F1.

    Vectorised over the grid (one confusion matrix per threshold): the variant search
    (:mod:`.threat_variants`) calls it tens of thousands of times.
    """
    y = np.asarray(y).astype(bool)
    pred = np.asarray(p)[None, :] >= THRESHOLDS[:, None]
    tp = (pred & y).sum(axis=1)
    fp = (pred & ~y).sum(axis=1)
    fn = y.sum() - tp
    tn = len(y) - tp - fp - fn
    with np.errstate(divide="ignore", invalid="ignore"):
        f_pos = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        f_neg = np.where(2 * tn + fp + fn > 0, 2 * tn / (2 * tn + fp + fn), 0.0)
    f1 = (f_pos + f_neg) / 2
    i = int(np.argmax(f1))
    return float(THRESHOLDS[i]), float(f1[i])


def _oof_head(feats, y, fs, ys, folds, blocks, c) -> np.ndarray:
    oof = np.zeros(len(y))
    for k in range(FOLDS):
        m = folds == k
        f_tr, y_tr = concat(take(feats, np.flatnonzero(~m)), fs), np.concatenate([y[~m], ys])
        oof[m] = fit_linear(f_tr, y_tr, blocks, c, "threat").predict_proba(take(feats, np.flatnonzero(m)))
    return oof


def _oof_ngram(x, y, xs, ys, folds, c, clause_x=None, clause_of=None) -> np.ndarray:
    """Out-of-fold n-gram probabilities; with ``clause_x`` (rows of ``clause_of``'s posts),
    each post's probability is the max of its own and its clauses' (``clause-max``)."""
    from scipy.sparse import vstack
    from sklearn.linear_model import LogisticRegression

    oof = np.zeros(len(y))
    for k in range(int(folds.max()) + 1):
        m = folds == k
        clf = LogisticRegression(
            C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=13
        )
        clf.fit(vstack([x[~m], xs]), np.concatenate([y[~m], ys]))
        oof[m] = clf.predict_proba(x[m])[:, 1]
        if clause_x is not None and clause_of is not None:
            rows = np.flatnonzero(m[clause_of])
            if len(rows):
                np.maximum.at(oof, clause_of[rows], clf.predict_proba(clause_x[rows])[:, 1])
    return oof


def _clause_matrix(texts: list[str]):
    """Clauses of every post (:func:`.ngrams.clauses`) as n-gram rows, and each one's post."""
    parts, owner = [], []
    for i, t in enumerate(texts):
        for c in clauses(t):
            parts.append(c)
            owner.append(i)
    return (sparse_matrix(parts, extras=NGRAM_EXTRAS) if parts else None), np.asarray(owner, dtype=np.int64)


def train_threat(data_dir: Path, featurise: Featuriser, heads_dir: Path = HEADS_DIR) -> dict[str, Any]:
    """Choose, fit, calibrate and write the threat ensemble; return the card section."""
    rows = threat_rows(data_dir).part(test=False)
    seeds = always_train_rows(data_dir)
    y, ys = rows.y, seeds.labels
    n_seed = seed_rows("threat").labels
    need = {b for blocks in HEAD_BLOCKS for b in blocks}
    feats = featurise(ds.LabelledTexts("threat[train]", rows.texts, y), need)
    fs = featurise(seeds, need)
    x, xs = sparse_matrix(rows.texts, extras=NGRAM_EXTRAS), sparse_matrix(seeds.texts, extras=NGRAM_EXTRAS)
    folds = _folds(y, FOLDS, SEED)
    head_oof = {(b, c): _oof_head(feats, y, fs, ys, folds, b, c) for b in HEAD_BLOCKS for c in HEAD_C}
    xc, owner = _clause_matrix(rows.texts) if NGRAM_POOLING == "clause-max" else (None, None)
    ngram_oof = {c: _oof_ngram(x, y, xs, ys, folds, c, xc, owner) for c in NGRAM_C}
    trials = []
    for (b, hc), ph in head_oof.items():
        for nc, pn in ngram_oof.items():
            for w in WEIGHTS:
                if (w == 1.0 and nc != NGRAM_C[0]) or (w == 0.0 and (b, hc) != (HEAD_BLOCKS[0], HEAD_C[0])):
                    continue  # the same single model again
                t, f1 = best_threshold(y, w * ph + (1 - w) * pn)
                trials.append(
                    {
                        "blocks": list(b),
                        "head_C": hc,
                        "ngram_C": nc,
                        "weight": w,
                        "threshold": t,
                        "cv_macro_f1": f1,
                    }
                )
    best = max(trials, key=lambda r: r["cv_macro_f1"])
    log.info("threat: chose %s", best)
    blocks, w = tuple(best["blocks"]), best["weight"]
    oof = w * head_oof[(blocks, best["head_C"])] + (1 - w) * ngram_oof[best["ngram_C"]]
    cal, cal_cv = fit_best(oof, y)
    p_cal = cal(oof)
    high, high_f1 = best_threshold(y, p_cal)

    head = fit_linear(concat(feats, fs), np.concatenate([y, ys]), blocks, best["head_C"], "threat")
    head.classes = ("no", "yes")
    head.threshold = best["threshold"]
    ngram = fit_ngram(rows.texts + seeds.texts, np.concatenate([y, ys]), best["ngram_C"], NGRAM_EXTRAS)
    hs = HeadSet.load(heads_dir)
    hs.heads["threat"] = head
    ngram.save(heads_dir / NGRAM_FILE)
    section = {
        "command": "python -m pipelines train-threat",
        "data": {
            "rows_train": len(y),
            "positives_train": int(y.sum()),
            "from_round3": sum(o == "round3" for o in rows.origin),
            "from_round4": sum(o == "round4" for o in rows.origin),
            "from_round5": sum(o == "round5" for o in rows.origin),
            "seed_rows": {"pos": int(n_seed.sum()), "neg": int((n_seed == 0).sum())},
            "always_train": {"rows": seeds.name, "pos": int(ys.sum()), "neg": int((ys == 0).sum())},
        },
        "criterion": f"macro-F1 of out-of-fold predictions, {FOLDS}-fold stratified CV (seed {SEED}), labels train split",
        "chosen": best,
        "weight": w,
        "ngram_file": NGRAM_FILE,
        "ngram_pooling": NGRAM_POOLING,
        "ngram_extras": list(NGRAM_EXTRAS),
        "calibration": cal.to_json(),
        "calibration_cv_brier": cal_cv,
        "high_threshold": high,
        "high_threshold_cv_macro_f1": high_f1,
        "oof_reliability": reliability(p_cal, y),
        "trials": sorted(trials, key=lambda r: -r["cv_macro_f1"])[:25],
    }
    hs.card["threat_ensemble"] = section
    hs.card.setdefault("high_thresholds", {})["threat"] = high
    calibrate_heads(hs, data_dir, featurise)
    fit_sentiment_bias(hs, data_dir, featurise)
    hs.save(heads_dir)
    return section
