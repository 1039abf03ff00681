"""The training code path on a small slice, and the NumPy-only head format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.scoring.heads import Head, HeadSet, PrototypeSet, recentre
from pipelines.scoring.train import best_threshold, fit_linear, stratified_split


def test_recentre_maps_threshold_to_half_and_keeps_order() -> None:
    p = np.linspace(0, 1, 101)
    r = recentre(p, 0.3)
    assert np.all(np.diff(r) >= 0)
    assert r[30] == 0.5 and r[0] == 0.0 and r[-1] == 1.0
    assert np.array_equal(r >= 0.5, p >= 0.3)


def test_stratified_split_is_disjoint_and_proportional() -> None:
    y = np.array([0] * 80 + [1] * 20)
    tr, dev = stratified_split(y, 0.25)
    assert not set(tr) & set(dev) and len(tr) + len(dev) == 100
    assert (y[dev] == 1).sum() == 5 and (y[dev] == 0).sum() == 20


def test_tiny_head_trains_saves_and_reloads(cpu_scorer, tmp_path: Path) -> None:
    """Fit a head on 24 real embeddings, round-trip it through heads.npz + card.json."""
    pos = [
        "you are a disgusting idiot",
        "shut up you stupid moron",
        "what a pathetic loser you are",
        "go to hell you piece of trash",
        "you are so dumb it hurts",
        "nobody likes you, ugly clown",
    ]
    neg = [
        "lovely weather for a picnic",
        "the train arrives at noon",
        "thanks for the birthday wishes",
        "reading a good book tonight",
        "the meeting moved to tuesday",
        "our garden has new flowers",
    ]
    texts = pos * 2 + neg * 2
    y = np.array([1] * 12 + [0] * 12)
    feats = cpu_scorer.fx.features(texts)
    head = fit_linear(feats, y, ("emb", "vader", "profanity"), 1.0, "toy")
    head.threshold, _ = best_threshold(y, head.predict_proba(feats))
    hs = HeadSet(
        heads={"toy": head},
        prototypes={"p": PrototypeSet("p", ("a",), feats["emb"][:1], 0.3)},
        card={"version": "test"},
    )
    hs.save(tmp_path)
    back = HeadSet.load(tmp_path)
    assert back.version == "test" and isinstance(back.heads["toy"], Head)
    np.testing.assert_allclose(back.heads["toy"].score(feats), head.score(feats), atol=1e-5)
    assert np.array_equal(back.heads["toy"].score(feats) >= 0.5, y == 1)
    fresh = cpu_scorer.fx.features(["you absolute idiot, shut up", "see you at the library"])
    assert back.heads["toy"].score(fresh)[0] > back.heads["toy"].score(fresh)[1]
