"""Issue 14, third sentiment pass: the variants tried for more signal, by CV on the training half.

    python bench/sentiment_variants.py                       # every variant (~40 min, 2 busy cores)
    python bench/sentiment_variants.py --only weak self      # some of them

Reproduces the "Third pass" table of ``docs/scoring.md`` ("Sentiment toward BERTweet's
level"): 5-fold stratified CV inside the training half of TweetEval sentiment ``val``
(fold seeds 13 / 14 / 15, as ``train-sentiment``'s ``cv_trials``), macro-recall of the
argmax before class biases. The held-out half is never read here. Variants:

- ``ngram``: a 3-class logistic model on :mod:`pipelines.scoring.ngrams`' hashed features,
  alone and averaged with the shipped head (linear or log mix);
- ``weak``: distant supervision (Go et al. 2009; Read 2005): tweets of the unlabelled pools
  that carry a positive or negative emoticon/emoji, the signal removed, as extra rows of
  weight ``w``;
- ``self``: self-training: pool tweets pseudo-labelled, in each fold, by that fold's head
  where its top class has p >= tau and VADER's compound agrees, as extra rows of weight ``w``.

Pools: CrisisLexT26 labelled tweets (training events only), Davidson ``train``, TweetEval
hate and offensive ``train``; no test split. Features are cached under ``--cache`` (the
16,000-tweet pool takes ~12 min to embed on a busy machine).
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.scoring import datasets as ds  # noqa: E402
from pipelines.scoring import ngrams  # noqa: E402
from pipelines.scoring.train import CRISIS_HELDOUT_EVENTS, _folds, macro_recall  # noqa: E402

SEEDS = (13, 14, 15)
BLOCKS = ("layer4", "vader", "profanity")
C_HEAD = 0.0015  # the shipped head's C (card.json, training.sentiment.chosen)
POOL_SIZE = 16000
POS = [":)", ":-)", ":D", ":-D", "=)", ";)", ";-)", ":P", "<3", "xD", "XD", ":]", "(:"] + list(
    "😀😃😄😁😊☺🙂😍🥰😘❤💕💖💗💙💚💛💜👍🎉🙌👏✨😎🤗😉💯🔥😋😌💪🙏"
)
NEG = [":(", ":-(", ":'(", "):", ":/", ":-/", "D:", "</3"] + list(
    "😢😭😞😔😟😠😡🤬💔👎😤😩😫😒🙁☹😣😖😥😰😨🤢🤮😑🙄"
)
_ASCII = [e for e in POS + NEG if e.isascii()]
_EMO = re.compile(
    "|".join(
        [r"(?<!\S)" + re.escape(s) + r"(?!\S)" for s in sorted(_ASCII, key=len, reverse=True)]
        + [re.escape(s) for s in POS + NEG if not s.isascii()]
    )
)
_URL = re.compile(r"https?://\S+|www\.\S+")


def weak_label(text: str) -> tuple[int | None, str]:
    """(0 negative / 2 positive / None, the text without its signal) by emoticons and emoji."""
    t = _URL.sub(" ", html.unescape(text))
    found = _EMO.findall(t)
    if not found:
        return None, t
    pos = sum(f.strip() in POS for f in found)
    if pos and pos != len(found):
        return None, t
    stripped = re.sub(r"\s+", " ", _EMO.sub(" ", t)).strip()
    if len(stripped.split()) < 3:
        return None, t
    return (2 if pos else 0), stripped


def pool_texts(data: Path) -> list[tuple[str, str]]:
    """(source, text) of every unlabelled-pool tweet, in a fixed order."""
    out = []
    for p in sorted((data / "crisislex_t26").glob("*/tweets_labeled.csv")):
        if p.parent.name in CRISIS_HELDOUT_EVENTS:
            continue
        with p.open(encoding="utf-8", errors="replace", newline="") as f:
            out += [("crisis", r.get("Tweet Text") or "") for r in csv.DictReader(f, skipinitialspace=True)]
    out += [("davidson", t) for t in ds.davidson(data, "train").texts]
    for task in ("hate", "offensive"):
        out += [(f"te-{task}", t) for t in ds.tweeteval(data, task, "train").texts]
    return out


def build_cache(data: Path, cache: Path) -> None:
    """Features (layer 4, VADER, profanity) of the gold half, the weak rows and the pool sample."""
    from pipelines.cli.score_cmd import _featuriser

    fx, _ = _featuriser(2)

    def feats(texts: list[str]) -> dict[str, np.ndarray]:
        t0 = time.time()
        _, l4 = fx.embedder.embed_layers(texts)
        print(f"embedded {len(texts)} in {time.time() - t0:.0f} s", flush=True)
        return {"layer4": l4, "vader": fx.vader(texts), "profanity": fx.profanity(texts)}

    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "gold.npz").exists():
        g = ds.tweeteval_sentiment(data, "train")
        np.savez(cache / "gold.npz", y=g.labels, texts=np.array(g.texts, dtype=object), **feats(g.texts))
    if (cache / "weak.npz").exists() and (cache / "pool.npz").exists():
        return
    seen: set[str] = set()
    weak_t, weak_y, weak_src, rest = [], [], [], []
    for src, t in pool_texts(data):
        if t in seen:
            continue
        seen.add(t)
        lab, s = weak_label(t)
        if lab is None:
            rest.append(html.unescape(t))
        else:
            weak_t.append(s), weak_y.append(lab), weak_src.append(src)
    print("weak rows", len(weak_t), "by class", np.bincount(weak_y, minlength=3).tolist(), flush=True)
    np.savez(
        cache / "weak.npz",
        y=np.array(weak_y),
        src=np.array(weak_src),
        texts=np.array(weak_t, dtype=object),
        **feats(weak_t),
    )
    idx = np.random.default_rng(13).permutation(len(rest))[:POOL_SIZE]
    pt = [rest[i] for i in idx]
    np.savez(cache / "pool.npz", texts=np.array(pt, dtype=object), **feats(pt))


def _x(d: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([d[b] for b in BLOCKS], axis=1).astype(np.float64)


def _sample_weight(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row weights times balanced class weights computed on the weighted counts."""
    cw = np.array([w.sum() / (3 * w[y == k].sum()) for k in range(3)])
    return w * cw[y]


class Dense:
    """The shipped head's recipe (train.fit_linear) with row weights; standardised on ``ref``."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        c: float,
        w: np.ndarray | None = None,
        ref: np.ndarray | None = None,
    ) -> None:
        from sklearn.linear_model import LogisticRegression

        ref = x if ref is None else ref
        self.mean, self.scale = ref.mean(0), ref.std(0)
        self.scale[self.scale < 1e-6] = 1.0
        sw = _sample_weight(y, np.ones(len(y)) if w is None else w)
        self.clf = LogisticRegression(C=c, max_iter=3000).fit(
            (x - self.mean) / self.scale, y, sample_weight=sw
        )

    def proba(self, x: np.ndarray) -> np.ndarray:
        return self.clf.predict_proba((x - self.mean) / self.scale)


def cv(fn, y: np.ndarray) -> dict[str, dict[int, np.ndarray]]:
    """Out-of-fold probabilities per variant name and fold seed; ``fn(train, test)`` -> {name: p}."""
    oofs: dict[str, dict[int, np.ndarray]] = {}
    for s in SEEDS:
        folds = _folds(y, 5, s)
        for k in range(5):
            te, tr = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
            for name, p in fn(tr, te).items():
                oofs.setdefault(name, {}).setdefault(s, np.zeros((len(y), 3)))[te] = p
    return oofs


def show(name: str, y: np.ndarray, by_seed: dict[int, np.ndarray]) -> None:
    rec = [100 * macro_recall(y, by_seed[s].argmax(1)) for s in SEEDS]
    print(f"{name:55s} {np.mean(rec):5.1f} ({' / '.join(f'{r:.1f}' for r in rec)})", flush=True)


def run(only: set[str], cache: Path) -> None:
    """Print every chosen variant's CV macro-recall, mean and per fold seed."""
    load = {n: dict(np.load(cache / f"{n}.npz", allow_pickle=True)) for n in ("gold", "weak", "pool")}
    g, wk, pl = load["gold"], load["weak"], load["pool"]
    y, xg, xw, xp = g["y"], _x(g), _x(wk), _x(pl)
    vp = pl["vader"][:, 3]
    vlab = np.where(vp >= 0.05, 2, np.where(vp <= -0.05, 0, 1))
    mg = ngrams.sparse_matrix(list(g["texts"])) if "ngram" in only else None

    def extra(tr, x2, y2, w, scale_c):
        xx, yy = np.vstack([xg[tr], x2]), np.concatenate([y[tr], y2])
        ww = np.concatenate([np.ones(len(tr)), np.full(len(y2), w)])
        c = C_HEAD * len(tr) / ww.sum() if scale_c else C_HEAD
        return Dense(xx, yy, c, ww, ref=xg[tr])

    def fn(tr, te):
        from sklearn.linear_model import LogisticRegression

        base = Dense(xg[tr], y[tr], C_HEAD)
        out = {"shipped head": base.proba(xg[te])}
        if mg is not None:
            for c in (0.3, 1.0, 3.0, 10.0):
                sw = _sample_weight(y[tr], np.ones(len(tr)))
                clf = LogisticRegression(C=c, max_iter=3000).fit(mg[tr], y[tr], sample_weight=sw)
                out[f"ngram C={c}"] = clf.predict_proba(mg[te])
        if "weak" in only:
            for w, sc in ((0.1, False), (0.3, False), (0.02, True), (0.05, True)):
                out[f"weak w={w}{' C scaled' if sc else ''}"] = extra(tr, xw, wk["y"], w, sc).proba(xg[te])
        if "self" in only:
            pp = base.proba(xp)
            for tau, w, sc in (
                (0.6, 0.1, False),
                (0.6, 0.3, False),
                (0.8, 0.1, False),
                (0.8, 0.3, False),
                (0.6, 0.02, True),
                (0.6, 0.05, True),
            ):
                keep = (pp.max(1) >= tau) & (pp.argmax(1) == vlab)
                head = extra(tr, xp[keep], pp.argmax(1)[keep], w, sc)
                out[f"self tau={tau} w={w}{' C scaled' if sc else ''}"] = head.proba(xg[te])
        return out

    oofs = cv(fn, y)
    for name, by in oofs.items():
        show(name, y, by)
    for name in [n for n in oofs if n.startswith("ngram")]:
        for a in (0.9, 0.8, 0.7, 0.6, 0.5):
            lin = {s: a * oofs["shipped head"][s] + (1 - a) * oofs[name][s] for s in SEEDS}
            log = {s: a * np.log(oofs["shipped head"][s]) + (1 - a) * np.log(oofs[name][s]) for s in SEEDS}
            show(f"head {a} + {name} (linear)", y, lin)
            show(f"head {a} + {name} (log)", y, log)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="shared/data (default: ../shared/data)")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "vigil" / "sentiment_variants")
    ap.add_argument("--only", nargs="*", default=["ngram", "weak", "self"], choices=["ngram", "weak", "self"])
    a = ap.parse_args()
    build_cache(a.data or ds.default_data_dir(), a.cache)
    run(set(a.only), a.cache)


if __name__ == "__main__":
    main()
