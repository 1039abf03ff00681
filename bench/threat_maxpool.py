"""Would max-pooled MiniLM token vectors help the threat head? (issue 14, a rule written first)

    python bench/threat_maxpool.py            # training split only; ~20 min on 2 cores

Why: the largest group of missed threats is a call to violence inside a long post ("This
traitor should be hung from the nearest light post", docs/scoring.md, "What it still
misses"). The head reads mean-pooled vectors, in which one violent clause is diluted by the
rest of the post; a max over the tokens keeps the strongest value of each dimension wherever
in the post it occurs. Both max-pools come from the model run the scorer already makes (the
last layer's tokens and layer 4's), so they would cost only their pooling at run time.

**The rule (written and committed before the first run):** the candidates are the shipped
head's blocks (emb + layer4 + VADER + profanity) plus ``max`` (the last layer's tokens,
max-pooled, L2-normalised), or plus ``max4`` (layer 4's, the same). Each is scored like
``threat_variants --extra round6``: the training split only, round 6 and the seed sentences
in every training fold, char 3-5 n-grams with clause-max pooling, ``train-threat``'s grids
(head C, n-gram C, quarter weights), out-of-fold macro-F1 at the best threshold, fold draws
13, 14 and 15, each candidate's best grid point by the mean over the draws. A candidate is
built into the scorer only if its mean is at least **1.0 point** above the shipped blocks'
and it is ahead on **each** draw (the bar the layer-4 and round-6 rules used); then
``train-threat`` refits and the test split is read once. Otherwise nothing changes and the
figures go into docs/scoring.md. The test split is never read here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHIPPED = ("emb", "layer4", "vader", "profanity")
CANDIDATES = {"shipped": SHIPPED, "+max": (*SHIPPED, "max"), "+max4": (*SHIPPED, "max4")}
MIN_GAIN = 0.010


def max_pools(embedder, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Last layer's and layer 4's token vectors, max-pooled over the tokens and L2-normalised
    (the quantised model, one text per call, as the scorer runs it)."""
    from pipelines.scoring.embed import LAYER_OUTPUT

    out = np.zeros((2, len(texts), 384), dtype=np.float32)
    for i, t in enumerate(texts):
        enc = embedder.tokenizer.encode(t or " ")
        ids = np.asarray([enc.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        hidden, layer = embedder.session.run(["last_hidden_state", LAYER_OUTPUT], feed)
        for k, h in enumerate((hidden[0], layer[0])):
            v = h.max(axis=0)
            out[k, i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out[0], out[1]


def main() -> int:
    from pipelines.cli.score_cmd import _featuriser
    from pipelines.scoring import datasets as ds
    from pipelines.scoring import threat_train as tt
    from pipelines.scoring.ngrams import sparse_matrix
    from pipelines.scoring.train import _folds

    t0 = time.time()
    fx, featurise = _featuriser(threads=0)  # train-threat's features, the same embedding cache
    rows = tt.threat_rows(ds.default_data_dir()).part(test=False)
    seeds = tt.always_train_rows(ds.default_data_dir(), ("round6",))
    y, ys = rows.y, seeds.labels
    feats = featurise(ds.LabelledTexts("threat[train]", rows.texts, y), set(SHIPPED))
    fs = featurise(seeds, set(SHIPPED))
    feats["max"], feats["max4"] = max_pools(fx.embedder, list(rows.texts))
    fs["max"], fs["max4"] = max_pools(fx.embedder, list(seeds.texts))
    print(
        f"training rows {len(y)} ({int(y.sum())} threats) + {len(ys)} in every fold; features {time.time() - t0:.0f} s"
    )
    # the shipped n-gram recipe exactly as train-threat builds it (char 3-5, clause-max)
    x, xs = (sparse_matrix(t, extras=tt.NGRAM_EXTRAS) for t in (rows.texts, seeds.texts))
    xc, owner = tt._clause_matrix(list(rows.texts))
    results: dict[str, dict[tuple, list[float]]] = {name: {} for name in CANDIDATES}
    for fseed in (13, 14, 15):
        folds = _folds(y, 5, fseed)
        ngram = {nc: tt._oof_ngram(x, y, xs, ys, folds, nc, xc, owner) for nc in tt.NGRAM_C}
        for name, blocks in CANDIDATES.items():
            for hc in tt.HEAD_C:
                ph = tt._oof_head(feats, y, fs, ys, folds, blocks, hc)
                for nc, pn in ngram.items():
                    for w in tt.WEIGHTS:
                        key = (hc, nc, float(w))
                        results[name].setdefault(key, []).append(
                            tt.best_threshold(y, w * ph + (1 - w) * pn)[1]
                        )
        print(f"fold draw {fseed} done ({time.time() - t0:.0f} s)", flush=True)
    best = {name: max(res.items(), key=lambda kv: np.mean(kv[1])) for name, res in results.items()}
    ref = best["shipped"][1]
    print(
        "candidate | best (head C, n-gram C, w) | CV macro-F1 per draw | mean | minus shipped per draw | joins"
    )
    for name, (key, vals) in best.items():
        gains = [a - b for a, b in zip(vals, ref, strict=True)]
        joins = name != "shipped" and np.mean(vals) - np.mean(ref) >= MIN_GAIN and min(gains) > 0
        print(
            f"{name} | {key} | {' / '.join(f'{100 * v:.1f}' for v in vals)} | {100 * np.mean(vals):.1f} | "
            f"{' / '.join(f'{100 * g:+.1f}' for g in gains)} | {'yes' if joins else 'no'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
