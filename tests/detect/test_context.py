"""Sequence novelty (``context`` methods): naive reference, causality, a change of behaviour, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.detect import context
from pipelines.detect import detector as det
from pipelines.detect.defaults import DetectConfig
from tests.detect.conftest import hourly_times

CONTEXT = DetectConfig(method="context", transform="none", direction="both", context_warm_hours=24 * 10)
ROBUST = DetectConfig(method="robust", transform="none", direction="both")


def naive_novelty(
    x: np.ndarray, warm: int, bins: int, orders: int, levels: int, min_seen: int, soft: bool = False
) -> np.ndarray:
    """The statistic spelled out with loops over the past (no NaN, no gaps)."""
    head = x[:warm]
    width = (head.max() - head.min()) / bins
    sym = [int(np.floor((v - head.min()) / width)) for v in x]
    out = np.zeros(len(x))
    for t in range(warm, len(x)):
        predicting = failed = 0
        for j in range(levels):
            s = [v // 2**j for v in sym]
            for k in range(1, orders + 1):
                if t - k < 0:
                    continue
                ctx = s[t - k : t]
                # earlier occurrences of the context, each followed by a point before t
                followers = [s[u] for u in range(k, t) if s[u - k : u] == ctx]
                if len(followers) >= min_seen:
                    predicting += 1
                    if soft:
                        failed += sum(f != s[t] for f in followers) / len(followers)
                    else:
                        failed += s[t] not in followers
        out[t] = failed / predicting if predicting else 0.0
    return out


@pytest.mark.parametrize(("bins", "orders", "levels", "min_seen"), [(4, 3, 2, 1), (8, 2, 3, 2), (3, 4, 1, 1)])
def test_novelty_matches_naive_reference(bins: int, orders: int, levels: int, min_seen: int) -> None:
    rng = np.random.default_rng(bins * 10 + orders)
    x = np.concatenate([np.tile([0.0, 1.0, 3.0, 2.0], 10), rng.normal(1.5, 1.2, 40)])
    got = context.novelty(x, 12, bins=bins, orders=orders, levels=levels, min_seen=min_seen)
    want = naive_novelty(x, 12, bins, orders, levels, min_seen)
    np.testing.assert_allclose(got, want)
    assert got.max() > 0  # the random tail surprises the learned cycle


@pytest.mark.parametrize(("bins", "orders", "levels", "min_seen"), [(4, 3, 2, 1), (8, 2, 3, 2)])
def test_soft_novelty_matches_naive_reference(bins: int, orders: int, levels: int, min_seen: int) -> None:
    rng = np.random.default_rng(bins + orders)
    x = np.concatenate([np.tile([0.0, 1.0, 3.0, 2.0], 10), rng.normal(1.5, 1.2, 40)])
    got = context.novelty(x, 12, bins=bins, orders=orders, levels=levels, min_seen=min_seen, soft=True)
    want = naive_novelty(x, 12, bins, orders, levels, min_seen, soft=True)
    np.testing.assert_allclose(got, want)
    crisp = context.novelty(x, 12, bins=bins, orders=orders, levels=levels, min_seen=min_seen)
    assert (got >= crisp - 1e-12).all() and (got > crisp).any()  # a rare continuation now counts


def test_values_beyond_the_warm_up_range_are_new_symbols() -> None:
    q = context.symbols(np.array([0.0, 1.0, 2.0, 4.0, 10.0, -5.0, -0.4, -0.6, np.nan]), 4, 4)
    assert list(q[:8]) == [0, 1, 2, 4, 10, -5, -1, -1]
    assert np.isnan(q[8])


def cycle_then(days: int, change: str, rng_seed: int = 1) -> np.ndarray:
    """An hourly daily cycle for ``days`` days, then two days of ``change``, then the cycle again."""
    hours = np.arange(24 * (days + 4))
    base = 50 + 30 * np.clip(2 * np.sin(2 * np.pi * hours / 24), -1, 1)  # busy days, quiet nights
    wobble = np.random.default_rng(rng_seed).random(len(hours)) < 0.05  # rare +1 wobbles, range kept
    x = np.clip(np.round(base) + wobble, 20, 80)
    span = slice(24 * days, 24 * (days + 2))
    if change == "flat":
        x[span] = 46.0  # mid-range, where the cycle never stays
    elif change == "faster":
        h = np.arange(48)
        x[span] = 50 + 30 * np.sin(2 * np.pi * h / 6)  # the same range, a 6-hour cycle
    return x


@pytest.mark.parametrize("change", ["flat", "faster"])
def test_context_flags_a_change_of_behaviour_the_robust_method_misses(change: str) -> None:
    x = cycle_then(21, change)
    t = hourly_times(len(x))
    assert (
        x[24 * 21 : 24 * 23].min() >= x[: 24 * 21].min() and x[24 * 21 : 24 * 23].max() <= x[: 24 * 21].max()
    )
    ctx = det.find_anomalies(det.score_series(t, x, CONTEXT), CONTEXT)
    rob = det.find_anomalies(det.score_series(t, x, ROBUST), ROBUST)
    change_start = t[24 * 21].astype("datetime64[s]").item()
    # A window within the change's first 6 hours (its first hour, 50 at midnight, is still normal).
    hits = [w for w in ctx if 0 <= (w.start.replace(tzinfo=None) - change_start).total_seconds() <= 6 * 3600]
    assert hits, f"context raised {[(w.start, w.end, w.severity) for w in ctx]}"
    assert "context" in hits[0].methods
    # Before the change the cycle is learned: nothing raised in its last 10 days.
    settled = t[24 * 11].astype("datetime64[s]").item()
    assert not [w for w in ctx if settled <= w.peak.replace(tzinfo=None) < change_start]
    assert not [
        w for w in rob if abs((w.peak.replace(tzinfo=None) - change_start).total_seconds()) <= 48 * 3600
    ], "the robust method was expected to miss a change within the old range"


def test_context_is_causal_a_prefix_scores_the_same() -> None:
    x = cycle_then(14, "faster", rng_seed=5)
    t = hourly_times(len(x))
    full = det.score_series(t, x, CONTEXT)
    for cut in (24 * 10 + 3, 24 * 14 + 5, 24 * 15, len(x) - 1):
        part = det.score_series(t[:cut], x[:cut], CONTEXT)
        np.testing.assert_allclose(
            part["severity"].fill_null(0).to_numpy(), full["severity"].fill_null(0).to_numpy()[:cut]
        )
        np.testing.assert_allclose(
            part["mp"].fill_null(-1).to_numpy(), full["mp"].fill_null(-1).to_numpy()[:cut]
        )


def test_ensemble_is_the_larger_opinion_and_weight_zero_is_robust() -> None:
    x = cycle_then(21, "flat")
    x[24 * 24 + 5] = 400.0  # a spike the robust method sees
    t = hourly_times(len(x))
    robust = det.score_series(t, x, ROBUST)["severity"].fill_null(0).to_numpy()
    ens = DetectConfig(method="robust+context", transform="none", direction="both", context_warm_hours=240)
    off = det.score_series(t, x, ens.with_(context_weight=0.0))["severity"].fill_null(0).to_numpy()
    on = det.score_series(t, x, ens)["severity"].fill_null(0).to_numpy()
    np.testing.assert_allclose(off, robust)
    assert on.max() >= robust.max() - 1e-12
    assert on[24 * 21 : 24 * 21 + 6].max() > robust[24 * 21 : 24 * 21 + 6].max()


@pytest.mark.parametrize(
    "values",
    [
        np.full(400, np.nan),
        np.full(400, 7.0),
        np.array([3.0]),
        np.array([]),
        np.where(np.arange(400) % 7 == 0, np.nan, 5.0),
    ],
    ids=["all-nan", "constant", "single", "empty", "constant-with-nans"],
)
def test_bad_input_no_crash_no_anomaly(values: np.ndarray) -> None:
    t = hourly_times(len(values))
    for cfg in (CONTEXT, CONTEXT.with_(method="robust+context")):
        scores = det.score_series(t, values, cfg)
        assert det.find_anomalies(scores, cfg) == []
    assert not context.novelty(values, 10).any()


def test_gaps_break_the_sequence_instead_of_surprising_it() -> None:
    x = cycle_then(21, "none")
    t = hourly_times(len(x)).astype(np.int64)
    keep = np.ones(len(x), dtype=bool)
    keep[24 * 15 + 3 : 24 * 15 + 8] = False  # five hours missing: the cycle resumes at another phase
    keep[24 * 18 + 10 : 24 * 19 + 1] = False
    t, x = t[keep], x[keep]
    s = context.novelty(x, 240, t_s=t)
    assert s.max() < 0.34
    times = t.astype("datetime64[s]")
    assert det.find_anomalies(det.score_series(times, x, CONTEXT), CONTEXT) == []


def test_nab_probation_sets_the_warm_up() -> None:
    t = np.arange(4000) * 300
    cfg = context.with_nab_probation(DetectConfig(method="context"), t)
    assert cfg.context_warm_hours == pytest.approx(600 * 300 / 3600)
    assert context.with_nab_probation(DetectConfig(method="robust"), t) == DetectConfig(method="robust")


def test_production_knob_offers_robust_and_the_ensemble_only() -> None:
    from pipelines.detect.defaults import COUNT_CONFIG, production_config

    assert production_config() == COUNT_CONFIG
    ens = production_config("robust+context")
    assert ens.method == "robust+context" and 0 < ens.context_weight <= 1
    assert production_config("robust+context", 0.6).threshold == 0.6
    with pytest.raises(ValueError, match="stumpy"):
        production_config("stumpy")


def test_trim_keeps_one_warm_up_spike_from_coarsening_every_bin() -> None:
    warm = np.concatenate([np.tile(np.arange(11.0), 10), [1000.0]])  # 0..10 cycles and one spike
    x = np.concatenate([warm, [3.0, 7.0, 2000.0]])
    plain = context.symbols(x, len(warm), 8)
    trimmed = context.symbols(x, len(warm), 8, trim=0.02)
    assert plain[-3] == plain[-2] == 0  # the spike's range puts 3 and 7 in one bin
    lo, hi = np.quantile(warm, [0.02, 0.98])
    want = np.floor((x[-3:] - lo) / ((hi - lo) / 8))
    np.testing.assert_allclose(trimmed[-3:], want)
    assert trimmed[-3] != trimmed[-2] and trimmed[-1] > 8  # beyond the trimmed range: a new symbol
    with pytest.raises(ValueError, match="trim"):
        context.symbols(x, len(warm), 8, trim=0.5)


def test_quantile_edges_give_the_bulk_of_a_skewed_series_its_own_symbols() -> None:
    rng = np.random.default_rng(2)
    warm = np.concatenate([rng.exponential(1.0, 399), [100.0]])  # the bulk near 0, one spike
    x = np.concatenate([warm, [-30.0, 0.5, 2.0, 100.0, 160.0]])
    width = context.symbols(x, 400, 8)
    quant = context.symbols(x, 400, 8, edges="quantile")
    assert np.mean(width[:400] == 0) > 0.9  # equal widths: one symbol for nearly everything
    inner = np.quantile(warm, np.linspace(0, 1, 9)[1:-1])
    np.testing.assert_allclose(quant[:400], np.searchsorted(inner, warm, side="right"))
    assert len(np.unique(quant[:400])) == 8
    step = (warm.max() - warm.min()) / 8
    assert quant[400] == np.floor((-30.0 - warm.min()) / step) < 0  # below the range: new symbols
    assert quant[401] < quant[402] <= 7 == quant[403]
    assert quant[404] == 8 + np.floor(60.0 / step)  # above: new symbols after the last bin
    with pytest.raises(ValueError, match="edges"):
        context.symbols(x, 400, 8, edges="median")


def test_refresh_renews_bins_and_memory_from_the_last_warm_up() -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([np.tile([0.0, 1.0, 3.0, 2.0], 30), np.tile([10.0, 14.0, 12.0], 40)])
    x = x + rng.normal(0, 0.05, len(x))
    warm, k = 40, 2
    got = context.novelty(x, warm, bins=6, refresh=k, min_seen=2)
    # the same thing spelled out: one plain pass per segment, each with its own warm-up
    want = context.novelty(x[: warm + k * warm], warm, bins=6, min_seen=2)
    for a in range(warm + k * warm, len(x), k * warm):
        want = np.concatenate(
            [want, context.novelty(x[a - warm : a + k * warm], warm, bins=6, min_seen=2)[warm:]]
        )
    np.testing.assert_allclose(got, want)
    plain = context.novelty(x, warm, bins=6, min_seen=2)
    np.testing.assert_allclose(context.novelty(x, warm, bins=6, min_seen=2, refresh=100), plain)
    for cut in (50, 130, 201, len(x) - 1):
        np.testing.assert_allclose(context.novelty(x[:cut], warm, bins=6, min_seen=2, refresh=k), got[:cut])


def test_both_edges_is_the_mean_of_the_two_views() -> None:
    rng = np.random.default_rng(8)
    x = np.concatenate(
        [rng.exponential(1.0, 200), [40.0], rng.exponential(1.0, 100) + 3 * (rng.random(100) < 0.1)]
    )
    t = np.arange(len(x)) * 300
    views = [context.novelty(x, 120, t_s=t, min_seen=2, edges=e) for e in ("width", "quantile", "both")]
    np.testing.assert_allclose(views[2], 0.5 * (views[0] + views[1]))
    assert not np.allclose(views[0], views[1])
