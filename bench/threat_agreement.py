"""Issue 14: how well an independent annotation agrees with the threat test split's labels.

    python bench/threat_agreement.py        # seconds; reads ../shared/data for nothing but refs

``labels/threat_test_pass3.csv`` holds a second, independent reading of every row of the
threat test split (six annotator sessions that never saw the first labels, the model or its
scores; ``labels/README.md``, "Round 6"). This prints Cohen's kappa between the two passes,
and the independent labels' macro-F1 scored against the first labels (the figure the model's
72.0 is measured with), with a bootstrap interval (2,000 resamples, seed 13), over the whole
split and per label file. Never used to train or to choose anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.scoring import datasets as ds  # noqa: E402


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Mean of the two classes' F1 (threat and not)."""
    out = []
    for c in (1, 0):
        tp = np.sum((pred == c) & (gold == c))
        fp = np.sum((pred == c) & (gold != c))
        fn = np.sum((pred != c) & (gold == c))
        out.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(out))


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two 0/1 labelings."""
    po = float(np.mean(a == b))
    pe = float(np.mean(a) * np.mean(b) + (1 - np.mean(a)) * (1 - np.mean(b)))
    return (po - pe) / (1 - pe)


def interval(gold: np.ndarray, pred: np.ndarray, n: int = 2000, seed: int = 13) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(gold), size=(n, len(gold)))
    vals = [macro_f1(gold[i], pred[i]) for i in idx]
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def main() -> None:
    data = ds.default_data_dir()
    pass3 = ds.threat_test_pass3()
    sets = {"rounds 1-2": ds.threat_topic_labels(data)} | {
        name: ds.threat_round3_labels(data, path)
        for name, path in (
            ("round 3", ds.ROUND3_FILE),
            ("round 4", ds.ROUND4_FILE),
            ("round 5", ds.ROUND5_FILE),
        )
    }
    gold_all, pass_all = [], []
    print(
        "part | test rows (threats) | pass 3 threats | agreement | kappa | pass 3 macro-F1 vs the labels [95 % CI]"
    )
    for name, s in sets.items():
        keys = [(s.sources[i], s.refs[i]) for i in range(len(s)) if s.test[i]]
        gold = np.asarray([int(s.threat[i]) for i in range(len(s)) if s.test[i]])
        got = np.asarray([pass3[k] for k in keys])
        gold_all.append(gold)
        pass_all.append(got)
        _row(name, gold, got)
    gold, got = np.concatenate(gold_all), np.concatenate(pass_all)
    if len(gold) != len(pass3):
        raise SystemExit(f"pass 3 has {len(pass3)} rows, the test split {len(gold)}")
    _row("whole test split", gold, got)


def _row(name: str, gold: np.ndarray, got: np.ndarray) -> None:
    lo, hi = interval(gold, got)
    print(
        f"{name} | {len(gold)} ({int(gold.sum())}) | {int(got.sum())} | {int(np.sum(gold == got))} | "
        f"{kappa(gold, got):.3f} | {100 * macro_f1(gold, got):.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
    )


if __name__ == "__main__":
    main()
