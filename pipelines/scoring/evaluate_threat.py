"""Held-out figures of the threat ensemble and of the calibrated scores (``eval-scorer``).

Threat: macro-F1 on the **test split** of both label files (never trained on, never used
to choose anything) at the "high threat" cut chosen on the training split's out-of-fold
predictions, with a bootstrap 95 % interval (2,000 resamples of the test rows, seed 13),
beside each half of the ensemble alone. Calibration: the reliability table (mean
predicted probability vs observed rate per bin) and the expected calibration error on
rows the calibrator never saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.calibration import Calibrator, expected_calibration_error, reliability
from pipelines.scoring.evaluate import _f1
from pipelines.scoring.heads import prototype_threat

BOOT = 2000


def bootstrap_ci(y: np.ndarray, pred: np.ndarray, n: int = BOOT, seed: int = 13) -> list[float]:
    """95 % percentile interval of binary macro-F1 over resampled rows, in points."""
    rng = np.random.default_rng(seed)
    vals = np.empty(n)
    for i in range(n):
        idx = rng.integers(0, len(y), len(y))
        vals[i] = _f1(y[idx], pred[idx])
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return [round(100 * float(lo), 1), round(100 * float(hi), 1)]


def _figures(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Macro-F1 (with its bootstrap interval), precision and recall of ``pred``, in points."""
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "macro_f1": round(100 * _f1(y, pred), 1),
        "macro_f1_ci95": bootstrap_ci(y, pred),
        "precision": round(100 * float(pred[y == 1].sum() / max(pred.sum(), 1)), 1),
        "recall": round(100 * float(pred[y == 1].mean()), 1) if y.sum() else 0.0,
    }


def evaluate_threat(scorer: Any, data_dir: Path, featurise: Any, errors: int = 0) -> dict[str, Any]:
    """Threat figures on the held-out test rows; ``errors`` > 0 lists that many misses each way."""
    from pipelines.scoring.threat_train import threat_rows

    test = threat_rows(data_dir).part(test=True)
    y = test.y
    feats = featurise(ds.LabelledTexts("threat[test]", test.texts, y), scorer.heads.needed_blocks())
    card = scorer.heads.card
    high = float(card.get("high_thresholds", {}).get("threat", 0.5))
    p = scorer.threat(feats, test.texts)
    pred = (p >= high).astype(int)
    origin = np.asarray(test.origin)
    out: dict[str, Any] = {
        **_figures(y, pred),
        "rows_round3": int((origin == "round3").sum()),
        "rows_round4": int((origin == "round4").sum()),
        "rows_round5": int((origin == "round5").sum()),
        "high_threshold": high,
        "reliability": reliability(p, y),
        "ece": round(expected_calibration_error(p, y), 3),
    }
    # Round 5's test rows were never read before the model was fixed: the honest figure.
    # Round 4's and the earlier rows (threat_topics + round 3) were read for earlier models.
    for name, mask in (
        ("round5_only", origin == "round5"),
        ("round4_only", origin == "round4"),
        ("earlier_rows", ~np.isin(origin, ["round4", "round5"])),
    ):
        if mask.any():
            out[name] = _figures(y[mask], pred[mask])
    head = scorer.heads.heads.get("threat")
    ens = card.get("threat_ensemble")
    if head is not None and ens and scorer._threat_ngram is not None:
        ph, pn = head.predict_proba(feats), scorer.threat_ngram_proba(test.texts)
        for name, part in (("minilm_head_alone", ph), ("ngrams_alone", pn)):
            out[name] = round(100 * max(_f1(y, part >= t) for t in (0.5,)), 1)
        out["parts_note"] = "each part alone at 0.5 of its own (uncalibrated) probability"
        out["uncalibrated_mix_ece"] = round(
            expected_calibration_error(ens["weight"] * ph + (1 - ens["weight"]) * pn, y), 3
        )
    proto = scorer.heads.prototypes.get("threat")
    if proto is not None:
        out["zero_shot_prototypes"] = round(100 * _f1(y, prototype_threat(proto, feats["emb"]) >= 0.5), 1)
    if errors:
        order = np.argsort(-p)
        out["false_negatives"] = [
            (round(float(p[i]), 3), test.texts[i][:200]) for i in order[::-1] if y[i] == 1 and pred[i] == 0
        ][:errors]
        out["false_positives"] = [
            (round(float(p[i]), 3), test.texts[i][:200]) for i in order if y[i] == 0 and pred[i] == 1
        ][:errors]
    return out


def calibration_figures(scorer: Any, data_dir: Path, featurise: Any) -> dict[str, Any]:
    """Reliability of the calibrated hate and toxicity scores on the halves they were not fitted on."""
    from pipelines.scoring.calibrate_heads import CALIBRATED_HEADS, eval_rows

    out: dict[str, Any] = {}
    cal = scorer.heads.card.get("calibration", {})
    for name in CALIBRATED_HEADS:
        if name not in cal or name not in scorer.heads.heads:
            continue
        rows = eval_rows(data_dir, name)
        f = featurise(rows)
        raw = scorer.heads.heads[name].predict_proba(f)
        p = Calibrator.from_json(cal[name]["calibrator"])(raw)
        high = float(cal[name]["high_threshold"])
        pred = (p >= high).astype(int)
        out[name] = {
            "rows": len(rows),
            "data": rows.name,
            "high_threshold": high,
            "macro_f1": round(100 * _f1(rows.labels, pred), 1),
            "macro_f1_ci95": bootstrap_ci(rows.labels, pred),
            "ece_raw": round(expected_calibration_error(raw, rows.labels), 3),
            "ece": round(expected_calibration_error(p, rows.labels), 3),
            "reliability": reliability(p, rows.labels),
        }
    return out


def sentiment_figures(scorer: Any, data_dir: Path, featurise: Any) -> dict[str, Any]:
    """Macro-recall on the held-out half of TweetEval sentiment ``val``, with a bootstrap CI.

    Also the head without the card's class biases and VADER alone, on the same rows.
    """
    from pipelines.scoring.evaluate import _vader_label
    from pipelines.scoring.heads import SENTIMENT_BLOCKS
    from pipelines.scoring.train import macro_recall

    rows = ds.tweeteval_sentiment(data_dir, "heldout")
    f = featurise(rows, SENTIMENT_BLOCKS)
    y = rows.labels
    pred = scorer.sentiment_label(f)
    rng = np.random.default_rng(13)
    boots = []
    for _ in range(BOOT):
        idx = rng.integers(0, len(y), len(y))
        boots.append(macro_recall(y[idx], pred[idx]))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    head = scorer.heads.heads.get("sentiment")
    out = {
        "rows": len(y),
        "data": rows.name,
        "macro_recall": round(100 * macro_recall(y, pred), 1),
        "macro_recall_ci95": [round(100 * float(lo), 1), round(100 * float(hi), 1)],
        "vader_only": round(100 * macro_recall(y, _vader_label(f["vader"][:, 3])), 1),
        "log_bias": scorer.heads.card.get("sentiment", {}).get("log_bias"),
    }
    if head is not None:
        out["head_without_bias"] = round(100 * macro_recall(y, head.predict_proba(f).argmax(axis=1)), 1)
    return out


def format_threat(
    res: dict[str, Any], cal: dict[str, Any] | None = None, sent: dict[str, Any] | None = None
) -> str:
    """The threat and calibration figures as text."""
    r = res
    lines = [
        f"threat (labels test split: {r['rows']} rows, {r['positives']} threats, {r['rows_round3']} from round 3, {r.get('rows_round4', 0)} from round 4, "
        f"{r.get('rows_round5', 0)} from round 5)",
        f"  ensemble, calibrated, high >= {r['high_threshold']}: macro-F1 {r['macro_f1']:.1f} "
        f"[{r['macro_f1_ci95'][0]:.1f}, {r['macro_f1_ci95'][1]:.1f}]  P {r['precision']:.1f}  R {r['recall']:.1f}  ECE {r['ece']}",
    ]
    for k in ("round5_only", "round4_only", "earlier_rows"):
        if k in r:
            s = r[k]
            lines.append(
                f"  {k:<22} ({s['rows']} rows, {s['positives']} threats) macro-F1 {s['macro_f1']:.1f} "
                f"[{s['macro_f1_ci95'][0]:.1f}, {s['macro_f1_ci95'][1]:.1f}]  P {s['precision']:.1f}  R {s['recall']:.1f}"
            )
    for k in ("minilm_head_alone", "ngrams_alone", "zero_shot_prototypes"):
        if k in r:
            lines.append(f"  {k:<22} macro-F1 {r[k]:.1f}")
    lines.append(
        "  reliability (bin: rows, mean p, observed): "
        + "; ".join(f"{b['bin']}: {b['n']}, {b['mean_p']}, {b['observed']}" for b in r["reliability"])
    )
    for k in ("false_negatives", "false_positives"):
        for p, t in r.get(k, []):
            lines.append(f"  {k[:-1]} {p:.3f}  {t!r}")
    for name, c in (cal or {}).items():
        lines.append(
            f"{name} calibrated ({c['data']}, {c['rows']} rows): macro-F1 {c['macro_f1']:.1f} "
            f"[{c['macro_f1_ci95'][0]:.1f}, {c['macro_f1_ci95'][1]:.1f}] at high >= {c['high_threshold']}, "
            f"ECE {c['ece_raw']} raw -> {c['ece']}"
        )
        lines.append(
            "  reliability: "
            + "; ".join(f"{b['bin']}: {b['n']}, {b['mean_p']}, {b['observed']}" for b in c["reliability"])
        )
    if sent:
        lines.append(
            f"sentiment ({sent['data']}, {sent['rows']} rows): macro-recall {sent['macro_recall']:.1f} "
            f"[{sent['macro_recall_ci95'][0]:.1f}, {sent['macro_recall_ci95'][1]:.1f}]; without class biases "
            f"{sent.get('head_without_bias', float('nan')):.1f}; VADER alone {sent['vader_only']:.1f}"
        )
    return "\n".join(lines)
