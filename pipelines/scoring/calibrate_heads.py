"""Calibrating the hate and toxicity (offensive) heads on held-out data (``train-threat``).

Why a split of TweetEval ``val``: the heads never trained on ``val``, so their outputs
there are honest held-out predictions. Each task's ``val`` is cut in two fixed halves by
``sha1("vigil-calibration:<task>:<line>")``: the **tune** half fits the calibrator (Platt
or isotonic, lower cross-validated Brier) and picks the "high" cut (the calibrated
threshold with the best macro-F1 there); the **eval** half only measures
(:func:`pipelines.scoring.evaluate_threat.calibration_figures`).

Caveat written into the card: a probability is calibrated for the mix it was fitted on
(TweetEval ``val``: 42 % hate, 33 % offensive), which is far richer in abuse than a
general stream; on a quieter stream the same score over-states the rate.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.calibration import fit_best, reliability
from pipelines.scoring.heads import HeadSet

CALIBRATED_HEADS = {"hate": "hate", "offensive": "offensive"}
"""Head name -> TweetEval task whose ``val`` calibrates it."""
SCORE_OF_HEAD = {"hate": "hate", "offensive": "toxicity", "threat": "threat"}


def is_tune(task: str, line: int) -> bool:
    return int(hashlib.sha1(f"vigil-calibration:{task}:{line}".encode()).hexdigest(), 16) % 2 == 0


def _half(data_dir: Path, name: str, tune: bool) -> ds.LabelledTexts:
    task = CALIBRATED_HEADS[name]
    full = ds.tweeteval(data_dir, task, "val")
    idx = [i for i in range(len(full)) if is_tune(task, i) == tune]
    part = "tune" if tune else "eval"
    return ds.LabelledTexts(
        f"tweeteval/{task}/val[{part} half]", [full.texts[i] for i in idx], full.labels[np.asarray(idx)]
    )


def tune_rows(data_dir: Path, name: str) -> ds.LabelledTexts:
    return _half(data_dir, name, True)


def eval_rows(data_dir: Path, name: str) -> ds.LabelledTexts:
    return _half(data_dir, name, False)


def calibrate_heads(hs: HeadSet, data_dir: Path, featurise: Any) -> dict[str, Any]:
    """Fit each head's calibrator and high cut on its tune half; store them in ``hs.card``."""
    from pipelines.scoring.threat_train import best_threshold

    section: dict[str, Any] = {}
    for name in CALIBRATED_HEADS:
        if name not in hs.heads:
            continue
        rows = tune_rows(data_dir, name)
        raw = hs.heads[name].predict_proba(featurise(rows))
        cal, cv = fit_best(raw, rows.labels)
        p = cal(raw)
        high, f1 = best_threshold(rows.labels, p)
        section[name] = {
            "score": SCORE_OF_HEAD[name],
            "data": rows.name,
            "rows": len(rows),
            "calibrator": cal.to_json(),
            "cv_brier": cv,
            "high_threshold": high,
            "tune_macro_f1": round(100 * f1, 1),
            "tune_reliability": reliability(p, rows.labels),
            "note": "calibrated for TweetEval val's class mix; a quieter stream has fewer positives per score",
        }
        hs.card.setdefault("high_thresholds", {})[SCORE_OF_HEAD[name]] = high
    hs.card["calibration"] = section
    return section
