"""``python -m pipelines.scoring.threat_variants``: cross-validated comparison of threat recipes.

Why: ``train-threat`` picks head ``C``, n-gram ``C`` and the mixing weight on one 5-fold
draw; a variant of the recipe (char n-gram range, clause-level pooling of the n-gram score
for long posts) is only worth shipping if it beats the shipped recipe by more than the
spread between fold draws. This prints, for each variant, the best grid point by the
**mean** out-of-fold macro-F1 over three fold draws (seeds 13, 14, 15), with the per-draw
figures. Training split only (``datasets.label_is_test`` rows are never read).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.ngrams import N_BUCKETS, clauses, ngram_ids
from pipelines.scoring.threat_train import (
    HEAD_BLOCKS,
    HEAD_C,
    NGRAM_C,
    WEIGHTS,
    _oof_head,
    best_threshold,
    threat_rows,
)
from pipelines.scoring.train import _folds, seed_rows

FOLD_SEEDS = (13, 14, 15)
CHAR_RANGES = ((3, 5), (2, 5), (3, 6))


def _logit(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def matrix(texts: Sequence[str], char_n: tuple[int, int]):
    """:func:`.ngrams.sparse_matrix` with another char n-gram range."""
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for t in texts:
        ids = ngram_ids(t, char_n)
        indices.append(ids)
        data.append(np.full(len(ids), 1 / np.sqrt(max(len(ids), 1)), dtype=np.float32))
        indptr.append(indptr[-1] + len(ids))
    return csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.asarray(indptr)), shape=(len(texts), N_BUCKETS)
    )


def _oof_ngram(x, y, xs, ys, folds, c, clause_x=None, clause_of=None):
    """Out-of-fold n-gram probabilities; with clauses, also the max over each post's clauses."""
    from scipy.sparse import vstack
    from sklearn.linear_model import LogisticRegression

    oof, oof_cl = np.zeros(len(y)), np.zeros(len(y))
    for k in range(folds.max() + 1):
        m = folds == k
        clf = LogisticRegression(
            C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=13
        )
        clf.fit(vstack([x[~m], xs]), np.concatenate([y[~m], ys]))
        oof[m] = clf.predict_proba(x[m])[:, 1]
        if clause_x is not None:
            rows = np.flatnonzero(m[clause_of])
            pc = clf.predict_proba(clause_x[rows])[:, 1]
            best = oof.copy()
            np.maximum.at(best, clause_of[rows], pc)
            oof_cl[m] = best[m]
    return oof, oof_cl


def main(argv: list[str] | None = None) -> None:
    from pipelines.core.config import get_settings
    from pipelines.scoring.cpu import FeatureExtractor
    from pipelines.scoring.embcache import DEFAULT_CACHE_DIR, EmbeddingCache
    from pipelines.scoring.embed import MiniLMEmbedder
    from pipelines.scoring.train import Featuriser

    ap = argparse.ArgumentParser()
    ap.add_argument("--fast", action="store_true", help="only the shipped char range and the clause variants")
    ap.add_argument(
        "--blocks", default=None, help="one head block set, e.g. emb,vader,profanity (default: all)"
    )
    ap.add_argument("--head-c", type=float, nargs="*", default=None, help="head C values (default: all)")
    ap.add_argument("--ngram-c", type=float, nargs="*", default=None, help="n-gram C values (default: all)")
    args = ap.parse_args(argv)
    blocks_grid = [tuple(args.blocks.split(","))] if args.blocks else list(HEAD_BLOCKS)
    head_c = args.head_c or list(HEAD_C)
    ngram_c = args.ngram_c or list(NGRAM_C)
    emb = MiniLMEmbedder(threads=get_settings().vigil_score_threads, quantized=True)
    featurise = Featuriser(
        FeatureExtractor(emb), EmbeddingCache(DEFAULT_CACHE_DIR / f"embeddings-{emb.model_id}.npz", emb.embed)
    )
    rows = threat_rows(ds.default_data_dir()).part(test=False)
    seeds = seed_rows("threat")
    y, ys = rows.y, seeds.labels
    feats, fs = featurise(ds.LabelledTexts("threat[train]", rows.texts, y)), featurise(seeds)
    print(f"training rows {len(y)} ({int(y.sum())} threats) + {len(ys)} seed sentences")
    cl_texts, cl_of = [], []
    for i, t in enumerate(rows.texts):
        for c in clauses(t):
            cl_texts.append(c)
            cl_of.append(i)
    cl_of_arr = np.asarray(cl_of)
    print(f"{len(set(cl_of))} posts split into {len(cl_texts)} clauses")
    ranges = CHAR_RANGES[:1] if args.fast else CHAR_RANGES
    # results[variant][(config)] = [f1 per fold seed]
    results: dict[str, dict[tuple, list[float]]] = {}
    for fseed in FOLD_SEEDS:
        folds = _folds(y, 5, fseed)
        heads = {(b, c): _oof_head(feats, y, fs, ys, folds, b, c) for b in blocks_grid for c in head_c}
        for cr in ranges:
            x, xs = matrix(rows.texts, cr), matrix(seeds.texts, cr)
            xc = matrix(cl_texts, cr) if cr == CHAR_RANGES[0] else None
            for nc in ngram_c:
                pn, pcl = _oof_ngram(x, y, xs, ys, folds, nc, xc, cl_of_arr if xc is not None else None)
                variants = {f"char{cr}": pn}
                if xc is not None:
                    variants["clause-max"] = pcl
                    variants["clause-mean"] = 0.5 * (pn + pcl)
                for name, p in variants.items():
                    for (b, hc), ph in heads.items():
                        for w in WEIGHTS:
                            for rule in ("prob", "logit"):
                                if rule == "prob":
                                    mix = w * ph + (1 - w) * p
                                else:
                                    mix = 1 / (1 + np.exp(-(w * _logit(ph) + (1 - w) * _logit(p))))
                                key = ("+".join(b), hc, nc, w, rule)
                                results.setdefault(name, {}).setdefault(key, []).append(
                                    best_threshold(y, mix)[1]
                                )
        print(f"fold draw {fseed} done", flush=True)
        _report(results)


def _report(results: dict[str, dict[tuple, list[float]]]) -> None:
    """Each variant's best grid point by mean CV macro-F1 over the draws so far."""
    ship = ("emb+vader+profanity", 0.005, 64.0, 0.5, "prob")
    print("variant | best config (blocks, head C, n-gram C, w, rule) | CV macro-F1 per draw | mean")
    for name, res in results.items():
        key, vals = max(res.items(), key=lambda kv: np.mean(kv[1]))
        print(f"{name} | {key} | {' / '.join(f'{100 * v:.1f}' for v in vals)} | {100 * np.mean(vals):.1f}")
        if ship in res:
            v = res[ship]
            print(
                f"  {name} at the shipped config: {' / '.join(f'{100 * x:.1f}' for x in v)} | {100 * np.mean(v):.1f}"
            )
    print(flush=True)


if __name__ == "__main__":
    main()
