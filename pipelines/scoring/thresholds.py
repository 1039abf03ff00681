"""The "high" cut of each probability score, as the shipped heads card records it.

Why a lookup and not 0.5: the threat, hate and toxicity scores are calibrated
probabilities (:mod:`.calibration`), and the cut that best separates yes from no
(macro-F1) is chosen on a tune split by ``train-threat`` (threat: the labels' training
split, out of fold; hate and toxicity: a tune half of TweetEval ``val``). Everything that
says "high" reads these cuts: rollups' ``high`` counts, the watchlist series of the index,
an anomaly's "open in Explore" filter and alert rules without their own ``min_score``.
A card without them (older heads) gives 0.5, the old rule; ``VIGIL_HIGH_CUTS`` overrides
them (a team that tuned its own cut on its own labelled posts).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pipelines.scoring.heads import HEADS_DIR

HIGH_FIELDS = ("threat", "hate", "toxicity")
DEFAULT_HIGH = 0.5


@lru_cache(maxsize=4)
def card_thresholds(heads_dir: Path = HEADS_DIR) -> dict[str, float]:
    """``{score: cut}`` from the heads card (0.5 where the card names none)."""
    path = heads_dir / "card.json"
    card = json.loads(path.read_text()) if path.is_file() else {}
    cuts = card.get("high_thresholds") or {}
    return {f: float(cuts.get(f, DEFAULT_HIGH)) for f in HIGH_FIELDS}


def high_thresholds(heads_dir: Path = HEADS_DIR) -> dict[str, float]:
    """``{score: cut}`` for threat, hate and toxicity: the card's, then ``VIGIL_HIGH_CUTS``."""
    from pipelines.core.config import get_settings

    return {**card_thresholds(heads_dir), **get_settings().vigil_high_cuts}


def high_cut(score: str) -> float:
    """The "high" cut of one score; ``ValueError`` naming the score if it has none."""
    cuts = high_thresholds()
    if score not in cuts:
        raise ValueError(f"no high cut for score {score!r}; one of {', '.join(HIGH_FIELDS)}")
    return cuts[score]
