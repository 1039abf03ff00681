"""Issue 14: how well an independent annotation agrees with the threat test split's labels.

    python bench/threat_agreement.py        # seconds; reads ../shared/data for nothing but refs

``labels/threat_test_pass3.csv`` holds a second, independent reading of every row of the
threat test split (six annotator sessions that never saw the first labels, the model or its
scores; ``labels/README.md``, "Round 6"). This prints Cohen's kappa between the two passes,
and the independent labels' macro-F1 scored against the first labels (the figure the model's
72.0 is measured with), with ``eval-scorer``'s bootstrap interval (``evaluate_threat.bootstrap_ci``: 2,000 resamples, seed 13), over the whole
split and per label file. Never used to train or to choose anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.scoring import datasets as ds  # noqa: E402
from pipelines.scoring.evaluate_threat import bootstrap_ci  # noqa: E402
from pipelines.scoring.train import macro_f1  # noqa: E402


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
    """One table row: the eval-scorer's macro-F1 and bootstrap interval, sklearn's kappa."""
    from sklearn.metrics import cohen_kappa_score

    lo, hi = bootstrap_ci(gold, got)
    print(
        f"{name} | {len(gold)} ({int(gold.sum())}) | {int(got.sum())} | {int(np.sum(gold == got))} | "
        f"{cohen_kappa_score(gold, got):.3f} | {100 * macro_f1(gold, got):.1f} [{lo}, {hi}]"
    )


if __name__ == "__main__":
    main()
