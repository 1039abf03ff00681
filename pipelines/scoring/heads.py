"""Small classification heads over post features, stored as plain NumPy arrays.

A head is a logistic regression (or softmax regression) over a feature vector built
from the MiniLM sentence embedding, VADER's four scores and alt-profanity-check's
probability. Weights live in ``heads/heads.npz`` next to ``heads/card.json`` (how they
were made, on which data, when, with which held-out metrics); both are written by
``python -m pipelines train-heads`` and committed. Loading them needs NumPy only: no
pickle, no scikit-learn version coupling.

Threat and the default topics have heads trained on developer-annotated tweets
(``labels/``). Prototype-sentence centroids, also stored in ``heads.npz``, score only
topics without labels (custom ``VIGIL_TOPICS``) and serve as the zero-shot baseline that
``eval-scorer`` measures the heads against.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HEADS_DIR = Path(__file__).parent / "heads"
FEATURE_BLOCKS = ("emb", "vader", "profanity", "layer4")
"""Feature blocks in concatenation order; a head uses a subset (``layer4``, MiniLM's
mean-pooled layer-4 output, only the sentiment head)."""
SENTIMENT_BLOCKS = frozenset(FEATURE_BLOCKS)
"""What training and evaluation compute for sentiment rows (``layer4`` is not cached on disk:
it is computed for the ~2,000 sentiment rows only)."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def recentre(p: np.ndarray, threshold: float) -> np.ndarray:
    """Map probabilities so that the tuned decision ``threshold`` lands on 0.5.

    Piecewise linear and monotone: ``[0, t] -> [0, 0.5]``, ``[t, 1] -> [0.5, 1]``.
    Downstream code (rollups' ``high`` counts, alert rules) can then always read
    "score >= 0.5" as "the head says yes" whatever threshold training chose.
    """
    t = float(np.clip(threshold, 1e-6, 1 - 1e-6))
    return np.where(p < t, p / (2 * t), 0.5 + (p - t) / (2 * (1 - t)))


@dataclass
class Head:
    """One linear head: standardise the chosen feature blocks, then a linear layer."""

    name: str
    blocks: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (k, d); k == 1 for binary heads
    intercept: np.ndarray  # (k,)
    threshold: float = 0.5
    classes: tuple[str, ...] = ()

    def logits(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        x = np.concatenate([feats[b] for b in self.blocks], axis=1)
        x = (x - self.mean) / self.scale
        return x @ self.coef.T + self.intercept

    def predict_proba(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Binary: ``(n,)`` positive-class probability; multi-class: ``(n, k)``."""
        z = self.logits(feats)
        if z.shape[1] == 1:
            return _sigmoid(z[:, 0])
        return _softmax(z)

    def score(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Binary heads: probability re-centred on the tuned threshold (0.5 = decision)."""
        return recentre(self.predict_proba(feats), self.threshold)

    def arrays(self) -> dict[str, np.ndarray]:
        p = f"head.{self.name}."
        return {
            p + "mean": self.mean,
            p + "scale": self.scale,
            p + "coef": self.coef,
            p + "intercept": self.intercept,
        }

    def meta(self) -> dict[str, Any]:
        return {"blocks": list(self.blocks), "threshold": self.threshold, "classes": list(self.classes)}


@dataclass
class PrototypeSet:
    """Zero-shot scorer: cosine similarity with centroids of prototype sentences."""

    name: str
    labels: tuple[str, ...]
    centroids: np.ndarray  # (k, 384), L2-normalised
    threshold: float  # cosine similarity at which a label is assigned
    temperature: float = 0.05  # width of the sigmoid that turns similarity into a score

    def similarity(self, emb: np.ndarray) -> np.ndarray:
        return emb @ self.centroids.T

    def scores(self, emb: np.ndarray) -> np.ndarray:
        """(n, k) scores in 0..1, 0.5 exactly at ``threshold``."""
        return _sigmoid((self.similarity(emb) - self.threshold) / self.temperature)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"proto.{self.name}.centroids": self.centroids}

    def meta(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "threshold": self.threshold, "temperature": self.temperature}


@dataclass
class HeadSet:
    """Everything ``train-heads`` produces: heads, prototype sets and the card."""

    heads: dict[str, Head] = field(default_factory=dict)
    prototypes: dict[str, PrototypeSet] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    directory: Path = HEADS_DIR
    """Where the heads were loaded from (the threat n-gram weights sit beside them)."""

    @property
    def version(self) -> str:
        return str(self.card.get("version", "untrained"))

    def needed_blocks(self) -> set[str]:
        return {b for h in self.heads.values() for b in h.blocks} | {"emb"}

    def save(self, directory: Path = HEADS_DIR) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for h in self.heads.values():
            arrays.update({k: v.astype(np.float32) for k, v in h.arrays().items()})
        for p in self.prototypes.values():
            arrays.update({k: v.astype(np.float32) for k, v in p.arrays().items()})
        np.savez_compressed(directory / "heads.npz", **arrays)
        card = dict(self.card)
        card["heads"] = {n: {**card.get("heads", {}).get(n, {}), **h.meta()} for n, h in self.heads.items()}
        card["prototypes"] = {
            n: {**card.get("prototypes", {}).get(n, {}), **p.meta()} for n, p in self.prototypes.items()
        }
        (directory / "card.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")

    @classmethod
    def load(cls, directory: Path = HEADS_DIR) -> HeadSet:
        """Read ``heads.npz`` + ``card.json``; a clear error names a missing file."""
        npz, card_path = directory / "heads.npz", directory / "card.json"
        for p in (npz, card_path):
            if not p.is_file():
                raise FileNotFoundError(f"scoring heads missing: {p} (run `python -m pipelines train-heads`)")
        card = json.loads(card_path.read_text())
        heads: dict[str, Head] = {}
        protos: dict[str, PrototypeSet] = {}
        with np.load(npz, allow_pickle=False) as z:
            for name, meta in card.get("heads", {}).items():
                p = f"head.{name}."
                heads[name] = Head(
                    name=name,
                    blocks=tuple(meta["blocks"]),
                    mean=z[p + "mean"],
                    scale=z[p + "scale"],
                    coef=z[p + "coef"],
                    intercept=z[p + "intercept"],
                    threshold=float(meta.get("threshold", 0.5)),
                    classes=tuple(meta.get("classes", ())),
                )
            for name, meta in card.get("prototypes", {}).items():
                protos[name] = PrototypeSet(
                    name=name,
                    labels=tuple(meta["labels"]),
                    centroids=z[f"proto.{name}.centroids"],
                    threshold=float(meta["threshold"]),
                    temperature=float(meta.get("temperature", 0.05)),
                )
        return cls(heads=heads, prototypes=protos, card=card, directory=directory)


def prototype_threat(proto: PrototypeSet, emb: np.ndarray) -> np.ndarray:
    """Zero-shot threat score (the fallback without a ``threat`` head, and the baseline).

    Column 0 of ``proto`` is the threat centroid, the others are violent-but-not-threatening
    counter-examples (news of an attack, figurative "killing it"): a threat must be close
    to the threat centroid *and* beat every counter-example.
    """
    sims = proto.similarity(emb)
    margin = sims[:, 0] - (sims[:, 1:].max(axis=1) if sims.shape[1] > 1 else 0.0)
    gate = _sigmoid((sims[:, 0] - proto.threshold) / proto.temperature)
    return gate * _sigmoid(margin / 0.03)


def centroids(emb_by_label: Sequence[np.ndarray]) -> np.ndarray:
    """L2-normalised mean vector of each label's prototype embeddings."""
    rows = [e.mean(axis=0) for e in emb_by_label]
    c = np.vstack(rows)
    return c / np.linalg.norm(c, axis=1, keepdims=True)
