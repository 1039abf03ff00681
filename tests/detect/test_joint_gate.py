"""The joint choice of the surge gate's minimum: the written rule on constructed inputs."""

from __future__ import annotations

import numpy as np

from pipelines.detect import joint_gate as J
from pipelines.detect import lofo


def test_rank_sum_then_onset_loss_then_the_smaller_minimum():
    # NAB within 1 point ties; onsets: fewer errors first.
    assert J.choose([78.6, 78.6, 78.8, 80.4], [(7, 0.46), (7, 0.46), (3, 0.43), (3, 0.43)]) == 3
    # A rank-sum tie is broken by the onset loss...
    assert J.choose([80.0, 75.0, 70.0, 60.0], [(5, 0.4), (3, 0.4), (1, 0.4), (9, 0.4)]) == 2
    # ...and a full tie by the smaller minimum.
    assert J.choose([70.0, 70.5, 70.2, 60.0], [(3, 0.4), (3, 0.4), (3, 0.4), (3, 0.4)]) == 0


def test_nab_train_is_the_best_plateau_score_over_the_training_files():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(6, 4, 1, len(lofo.THRESHOLDS)))
    null, perfect = np.full((4, 1), -2.0), np.full((4, 1), 3.0)
    variants, files = np.array([1, 3, 5]), [0, 2, 3]
    score, vi, gi = J.nab_train(c, null, perfect, variants, files)
    # Naive reference: every (variant, threshold) pair, plateau-averaged, the best one.
    best = None
    for v in variants:
        total = lofo.plateau(c[v][files, 0, :].sum(axis=0)[None, :])[0]
        for g in range(len(lofo.THRESHOLDS)):
            if best is None or total[g] > best[0]:
                best = (total[g], v, g)
    assert (vi, gi) == (best[1], best[2])
    raw = c[vi, files, 0, gi].sum()
    assert np.isclose(score, 100 * (raw + 6.0) / (9.0 + 6.0))
