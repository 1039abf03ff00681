"""Hashed word and character n-gram features and a linear model over them (NumPy only).

Why: the MiniLM embedding averages a post into one vector and loses the few words that
make a threat ("catch you", "pull up", "kys", "6 feet"); a sparse n-gram model keeps them,
and the two disagree on different posts, so ``train-threat`` averages them. The features
are hashed (CRC-32 of the n-gram, stable across processes and Python versions, unlike
``hash()``) into ``2**BITS`` buckets, so no vocabulary has to ship: the weights are one
float32 vector (``heads/threat_ngrams.npz``). Scoring one post costs ~0.05-0.2 CPU-ms.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BITS = 18
N_BUCKETS = 1 << BITS
MAX_CHARS = 2000
"""Longer posts are cut: a threat is in the words a person reads first, and a 40,000-character
post must not cost 20 ms."""
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_CLAUSE = re.compile(r"(?<=[.!?;:])\s+|\n+|\s+-\s+|\s+(?:but|and then|or else|otherwise)\s+", re.I)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)
EXTRAS = ("pairs", "neg")
"""Optional feature families (:func:`ngram_ids`), chosen by cross-validation
(:mod:`.threat_variants`) and stored with the weights so scoring uses the same ones."""
PAIR_GAP = (2, 4)
"""``pairs``: word pairs 2-4 positions apart ("you ... dead", "ima ... you")."""
NEG_SCOPE = 3
_NEGATORS = frozenset(
    [
        "not",
        "no",
        "never",
        "nobody",
        "nothing",
        "ain't",
        "aint",
        "don't",
        "dont",
        "won't",
        "wont",
        "wouldn't",
        "wouldnt",
        "can't",
        "cant",
        "didn't",
        "didnt",
        "isn't",
        "isnt",
        "never",
    ]
)


def normalise(text: str) -> str:
    """Lower case, HTML entities decoded, URLs and @mentions replaced by placeholders."""
    t = html.unescape(text[:MAX_CHARS]).lower().replace("’", "'")
    return _MENTION.sub(" @user ", _URL.sub(" url ", t))


def clauses(text: str, min_words: int = 3) -> list[str]:
    """The post's sentences/clauses of at least ``min_words`` words; [] when it has only one.

    Why: a call to violence is often one sentence of a long rant ("... should be hung from
    the nearest light post"); scored over the whole post, the other sentences dilute it.
    """
    parts = [p for p in _CLAUSE.split(text[:MAX_CHARS]) if p and len(p.split()) >= min_words]
    return parts if len(parts) > 1 else []


def _bucket(s: str) -> int:
    return zlib.crc32(s.encode("utf-8", "replace")) & (N_BUCKETS - 1)


def ngram_ids(text: str, char_n: tuple[int, int] = (3, 5), extras: Sequence[str] = ()) -> np.ndarray:
    """Sorted unique bucket ids of the post's word 1-2-grams and in-word char n-grams.

    ``extras``: ``pairs`` adds word pairs 2-4 positions apart (a threat's pronoun and verb
    are often split: "you gonna get ... dropped"); ``neg`` adds a negated copy of each
    word within 3 words after a negator ("I ain't gon shoot you" then differs from "I'm
    gon shoot you"), both named by round 4's error analysis.
    """
    words = _TOKEN.findall(normalise(text))
    grams = {"w:" + w for w in words}
    grams.update("b:" + a + " " + b for a, b in zip(words, words[1:], strict=False))
    if "pairs" in extras:
        lo_gap, hi_gap = PAIR_GAP
        for i, a in enumerate(words):
            grams.update("p:" + a + " " + b for b in words[i + lo_gap : i + hi_gap + 1])
    if "neg" in extras:
        for i, a in enumerate(words):
            if a in _NEGATORS:
                grams.update("n:" + b for b in words[i + 1 : i + 1 + NEG_SCOPE])
    lo, hi = char_n
    for w in set(words):
        if len(w) < 2:
            continue
        p = f" {w} "
        for n in range(lo, hi + 1):
            grams.update("c:" + p[i : i + n] for i in range(len(p) - n + 1))
    if not grams:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.fromiter((_bucket(g) for g in grams), dtype=np.int64, count=len(grams)))


def sparse_matrix(
    texts: Sequence[str], char_n: tuple[int, int] = (3, 5), extras: Sequence[str] = ()
):  # -> scipy.sparse.csr_matrix (training only)
    """Rows of binary features scaled to unit L2 norm (the model's input), as CSR."""
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for t in texts:
        ids = ngram_ids(t, char_n, extras)
        indices.append(ids)
        data.append(np.full(len(ids), 1 / np.sqrt(max(len(ids), 1)), dtype=np.float32))
        indptr.append(indptr[-1] + len(ids))
    ind = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    dat = np.concatenate(data) if data else np.zeros(0, np.float32)
    return csr_matrix((dat, ind, np.asarray(indptr)), shape=(len(texts), N_BUCKETS))


@dataclass
class NgramModel:
    """Logistic regression over :func:`ngram_ids` (unit-norm binary rows)."""

    coef: np.ndarray  # (N_BUCKETS,) float32
    intercept: float
    extras: tuple[str, ...] = ()

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty(len(texts))
        for i, t in enumerate(texts):
            ids = ngram_ids(t, extras=self.extras)
            out[i] = self.intercept + (self.coef[ids].sum() / np.sqrt(len(ids)) if len(ids) else 0.0)
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(texts), -40, 40)))

    def predict_proba_clause_max(self, texts: Sequence[str]) -> np.ndarray:
        """The higher of the whole post's probability and its most threatening clause's."""
        p = self.predict_proba(texts)
        for i, t in enumerate(texts):
            parts = clauses(t)
            if parts:
                p[i] = max(p[i], float(self.predict_proba(parts).max()))
        return p

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            coef=self.coef.astype(np.float32),
            intercept=np.float32(self.intercept),
            extras=np.asarray(self.extras, dtype="U8"),
        )

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        with np.load(path, allow_pickle=False) as z:
            coef = z["coef"].astype(np.float32)
            if coef.shape != (N_BUCKETS,):
                raise ValueError(f"{path}: expected {N_BUCKETS} n-gram weights, found {coef.shape}")
            extras = tuple(str(e) for e in z["extras"]) if "extras" in z.files else ()
            unknown = set(extras) - set(EXTRAS)
            if unknown:
                raise ValueError(
                    f"{path}: unknown n-gram feature families {sorted(unknown)}; known: {EXTRAS}"
                )
            return cls(coef, float(z["intercept"]), extras)


def fit_ngram(texts: Sequence[str], y: np.ndarray, c: float, extras: Sequence[str] = ()) -> NgramModel:
    """Balanced-class logistic regression on the hashed features (scikit-learn, training only)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=13)
    clf.fit(sparse_matrix(texts, extras=extras), y)
    return NgramModel(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), tuple(extras))
