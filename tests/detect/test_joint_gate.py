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


def test_v2_configs_come_in_one_block_per_candidate():
    cands = J.CANDIDATE_SETS["v2"]
    configs = J.nab_configs(cands)
    per = len(configs) // len(cands)
    assert per * len(cands) == len(configs) and per == len(lofo.grid(lofo.DEFAULT_BASE, lofo.DEFAULT_GRID))
    for k, g in enumerate(cands):
        block = configs[k * per : (k + 1) * per]
        assert {(c.min_hour_excess, c.gate_ratio, c.gate_alpha) for c in block} == {g}
        # Each block holds the whole grid of the other settings.
        assert len({(c.min_record, c.record_days, c.quiet_hours, c.cold_start_hours) for c in block}) == per


def test_a_full_tie_goes_to_the_earlier_candidate_and_labels_name_the_active_terms():
    assert J.choose([80.0, 80.0, 80.0], [(3, 0.4), (3, 0.4), (3, 0.4)]) == 0
    assert J.label((20.0, 0.0, 0.0)) == "m=20"
    assert J.label((10.0, 0.5, 0.0)) == "m=10 b=0.5"
    assert J.label((20.0, 0.0, 1e-6)) == "m=20 a=1e-06"
    assert J.gate_fields((10.0, 1.0, 0.001)) == {
        "min_hour_excess": 10.0,
        "gate_ratio": 1.0,
        "gate_alpha": 0.001,
    }
