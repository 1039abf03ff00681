"""Turning a head's raw output into a probability that means what it says.

Why: a logistic head trained with balanced class weights, or an average of two models,
says 0.7 where the post is a threat perhaps one time in three; a dashboard that shows
"threat 0.7" must mean 70 %. Each calibrator is fitted on **held-out** predictions (the
out-of-fold predictions of the training split, or a tune half of an evaluation set) and
is checked on rows it never saw (``reliability``). Two shapes, chosen by cross-validated
Brier score on the tune rows: Platt (a logistic curve on the logit) and isotonic (a
monotone step curve, stored as breakpoints). Both apply with NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    """``kind`` "platt" (``a``, ``b``: sigmoid(a*logit(p)+b)) or "isotonic" (``x``, ``y`` breakpoints)."""

    kind: str
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if self.kind == "platt":
            return 1.0 / (1.0 + np.exp(-np.clip(self.a * _logit(p) + self.b, -40, 40)))
        if self.kind == "isotonic":
            return np.interp(p, self.x, self.y)
        if self.kind == "identity":
            return p
        raise ValueError(f"unknown calibrator kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        if self.kind == "platt":
            return {"kind": "platt", "a": self.a, "b": self.b}
        if self.kind == "isotonic":
            return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}
        return {"kind": self.kind}

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Calibrator:
        """A card entry; a missing or malformed entry is an error naming the problem."""
        if not d:
            return cls("identity")
        kind = d.get("kind")
        if kind == "platt":
            return cls("platt", a=float(d["a"]), b=float(d["b"]))
        if kind == "isotonic":
            x, y = tuple(map(float, d["x"])), tuple(map(float, d["y"]))
            if len(x) != len(y) or len(x) < 2 or any(b < a for a, b in zip(x, x[1:], strict=False)):
                raise ValueError("isotonic calibrator needs >= 2 increasing breakpoints of equal length")
            return cls("isotonic", x=x, y=y)
        if kind == "identity":
            return cls("identity")
        raise ValueError(f"unknown calibrator kind {kind!r}")


def fit_platt(p: np.ndarray, y: np.ndarray) -> Calibrator:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1e4, max_iter=1000).fit(_logit(p).reshape(-1, 1), y)
    return Calibrator("platt", a=float(clf.coef_[0, 0]), b=float(clf.intercept_[0]))


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
    x, yy = iso.X_thresholds_, iso.y_thresholds_
    if len(x) < 2:
        x, yy = np.array([0.0, 1.0]), np.array([yy[0], yy[0]] if len(yy) else [0.0, 0.0])
    return Calibrator("isotonic", x=tuple(map(float, x)), y=tuple(map(float, yy)))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2))


def fit_best(
    p: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 13
) -> tuple[Calibrator, dict[str, float]]:
    """Platt or isotonic, whichever has the lower Brier score in ``folds``-fold CV on the tune rows."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        fold[idx] = np.arange(len(idx)) % folds
    scores: dict[str, float] = {}
    for name, fit in (("platt", fit_platt), ("isotonic", fit_isotonic)):
        out = np.empty(len(y))
        for k in range(folds):
            m = fold == k
            out[m] = fit(p[~m], y[~m])(p[m])
        scores[name] = brier(out, y)
    best = min(scores, key=lambda k: scores[k])
    return (fit_platt if best == "platt" else fit_isotonic)(p, y), scores


def reliability(
    p: np.ndarray, y: np.ndarray, edges: tuple[float, ...] = (0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)
) -> list[dict[str, Any]]:
    """Per probability bin: rows, mean predicted probability, observed positive rate."""
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        m = (p >= lo) & (p < hi)
        n = int(m.sum())
        out.append(
            {
                "bin": f"{lo:.1f}-{min(hi, 1.0):.1f}",
                "n": n,
                "mean_p": round(float(p[m].mean()), 3) if n else None,
                "observed": round(float(y[m].mean()), 3) if n else None,
            }
        )
    return out


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |predicted - observed| over equal-width bins, weighted by rows."""
    idx = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.sum() * abs(float(p[m].mean()) - float(y[m].mean()))
    return err / max(len(p), 1)
