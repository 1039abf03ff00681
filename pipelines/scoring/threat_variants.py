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
from pipelines.scoring.ngrams import clauses, sparse_matrix
from pipelines.scoring.threat_train import (
    EXTRA_FILES,
    HEAD_BLOCKS,
    HEAD_C,
    NGRAM_C,
    WEIGHTS,
    _oof_head,
    always_train_rows,
    best_threshold,
    threat_rows,
)
from pipelines.scoring.train import _folds

FOLD_SEEDS = (13, 14, 15)
VARIANTS: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {
    "char3-5": ((3, 5), ()),
    "char2-5": ((2, 5), ()),
    "char3-6": ((3, 6), ()),
    "pairs": ((3, 5), ("pairs",)),
    "neg": ((3, 5), ("neg",)),
    "pairs+neg": ((3, 5), ("pairs", "neg")),
}
"""n-gram feature variants (char range, extra families); each is scored post-level and
clause-max. ``char3-5`` clause-max is the recipe shipped after round 4."""
FINE_WEIGHTS = tuple(np.round(np.arange(0.0, 1.001, 0.1), 1))
REFERENCE = "char3-5/clause-max"
SHIPPED_BLOCKS = "emb+layer4+vader+profanity"
"""The shipped head's block set (issue 14's layer-4 rule): the reference under ``--by-blocks``."""


def matrix(texts: Sequence[str], char_n: tuple[int, int], extras: Sequence[str] = ()):
    """:func:`.ngrams.sparse_matrix` with another char n-gram range or extra feature families."""
    return sparse_matrix(texts, char_n, extras)


def _oof_ngram(x, y, xs, ys, folds, c, clause_x, clause_of):
    """Out-of-fold n-gram probabilities: post-level, and the max over each post's clauses."""
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
        rows = np.flatnonzero(m[clause_of])
        best = oof.copy()
        np.maximum.at(best, clause_of[rows], clf.predict_proba(clause_x[rows])[:, 1])
        oof_cl[m] = best[m]
    return oof, oof_cl


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    """The command line: the grids and variants to compare (default: all of them)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast", action="store_true", help="only the shipped features and pairs/neg")
    ap.add_argument(
        "--blocks",
        nargs="*",
        default=None,
        help="head block sets, e.g. emb,vader,profanity layer4,vader,profanity (default: train-threat's)",
    )
    ap.add_argument(
        "--by-blocks", action="store_true", help="report each head block set apart (a variant per set)"
    )
    ap.add_argument("--head-c", type=float, nargs="*", default=None, help="head C values (default: all)")
    ap.add_argument("--ngram-c", type=float, nargs="*", default=None, help="n-gram C values (default: all)")
    ap.add_argument("--fine-weights", action="store_true", help="weights 0, 0.1 ... 1 instead of quarters")
    ap.add_argument(
        "--seeds", type=int, nargs="*", default=list(FOLD_SEEDS), help="fold draws (default 13 14 15)"
    )
    ap.add_argument(
        "--variants", nargs="*", default=None, help=f"n-gram variants (default all: {list(VARIANTS)})"
    )
    ap.add_argument(
        "--extra",
        nargs="*",
        default=[],
        choices=sorted(EXTRA_FILES),
        help="training-only rounds added to every training fold (default: none)",
    )
    ap.add_argument("--save", default=None, help="write every grid point's per-draw figures here (JSON)")
    return ap.parse_args(argv), ap


def main(argv: list[str] | None = None) -> None:
    from pipelines.core.config import get_settings
    from pipelines.scoring.cpu import FeatureExtractor
    from pipelines.scoring.embcache import DEFAULT_CACHE_DIR, EmbeddingCache
    from pipelines.scoring.embed import MiniLMEmbedder
    from pipelines.scoring.train import Featuriser

    args, ap = _parse(argv)
    blocks_grid = [tuple(b.split(",")) for b in args.blocks] if args.blocks else list(HEAD_BLOCKS)
    head_c = args.head_c or list(HEAD_C)
    ngram_c = args.ngram_c or list(NGRAM_C)
    weights = FINE_WEIGHTS if args.fine_weights else WEIGHTS
    keep = args.variants or (["char3-5", "pairs", "neg", "pairs+neg"] if args.fast else list(VARIANTS))
    if set(keep) - set(VARIANTS):
        ap.error(f"unknown variants {sorted(set(keep) - set(VARIANTS))}; known: {list(VARIANTS)}")
    variants = {k: v for k, v in VARIANTS.items() if k in keep}
    emb = MiniLMEmbedder(threads=get_settings().vigil_score_threads, quantized=True)
    featurise = Featuriser(
        FeatureExtractor(emb), EmbeddingCache(DEFAULT_CACHE_DIR / f"embeddings-{emb.model_id}.npz", emb.embed)
    )
    rows = threat_rows(ds.default_data_dir()).part(test=False)
    seeds = always_train_rows(ds.default_data_dir(), tuple(args.extra))
    y, ys = rows.y, seeds.labels
    need = {b for bs in blocks_grid for b in bs}  # layer4 only when asked: it embeds the texts again
    feats = featurise(ds.LabelledTexts("threat[train]", rows.texts, y), need)
    fs = featurise(seeds, need)
    print(f"training rows {len(y)} ({int(y.sum())} threats) + {len(ys)} in every fold ({seeds.name})")
    cl_texts, cl_of = [], []
    for i, t in enumerate(rows.texts):
        for c in clauses(t):
            cl_texts.append(c)
            cl_of.append(i)
    cl_of_arr = np.asarray(cl_of)
    print(f"{len(set(cl_of))} posts split into {len(cl_texts)} clauses")
    mats = {
        name: (matrix(rows.texts, cr, ex), matrix(seeds.texts, cr, ex), matrix(cl_texts, cr, ex))
        for name, (cr, ex) in variants.items()
    }
    # results[variant][(config)] = [f1 per fold seed]
    results: dict[str, dict[tuple, list[float]]] = {}
    for fseed in args.seeds:
        folds = _folds(y, 5, fseed)
        heads = {(b, c): _oof_head(feats, y, fs, ys, folds, b, c) for b in blocks_grid for c in head_c}
        for name, (x, xs, xc) in mats.items():
            for nc in ngram_c:
                pn, pcl = _oof_ngram(x, y, xs, ys, folds, nc, xc, cl_of_arr)
                for pool, p in (("post", pn), ("clause-max", pcl)):
                    for (b, hc), ph in heads.items():
                        for w in weights:
                            key = ("+".join(b), hc, nc, float(w))
                            group = f"{name}/{pool}" + (f"/{key[0]}" if args.by_blocks else "")
                            results.setdefault(group, {}).setdefault(key, []).append(
                                best_threshold(y, w * ph + (1 - w) * p)[1]
                            )
        print(f"fold draw {fseed} done", flush=True)
        _report(results)
    if args.save:
        import json

        with open(args.save, "w", encoding="utf-8") as f:
            json.dump({name: [[list(k), v] for k, v in res.items()] for name, res in results.items()}, f)


def _report(results: dict[str, dict[tuple, list[float]]]) -> None:
    """Each variant's best grid point by mean CV macro-F1 over the draws so far, and its
    per-draw difference from the reference recipe's best grid point."""
    best = {name: max(res.items(), key=lambda kv: np.mean(kv[1])) for name, res in results.items()}
    ref = best.get(REFERENCE, best.get(f"{REFERENCE}/{SHIPPED_BLOCKS}", (None, None)))[1]
    print(
        "variant | best config (blocks, head C, n-gram C, w) | CV macro-F1 per draw | mean | minus reference per draw"
    )
    for name, (key, vals) in sorted(best.items(), key=lambda kv: -np.mean(kv[1][1])):
        diff = " / ".join(f"{100 * (a - b):+.1f}" for a, b in zip(vals, ref, strict=False)) if ref else ""
        print(
            f"{name} | {key} | {' / '.join(f'{100 * v:.1f}' for v in vals)} | {100 * np.mean(vals):.1f} | {diff}"
        )
    print(flush=True)


if __name__ == "__main__":
    main()
