"""How the candidates of ``threat_round6.csv`` were drawn (run once; kept for the record).

``python -m pipelines.scoring.labels.select_round6 [--out FILE]`` rebuilds the same
candidate list (seeded) from ``../shared/data`` and the n-gram threat model shipped after
round 5 (``heads/threat_ngrams.npz`` at ``8303cab``, clause-max). The heads were retrained on
round 6 since, so put that file back first (``git show
8303cab:pipelines/scoring/heads/threat_ngrams.npz``; checked: the same 4,795 rows and pools).
The labels were then written by hand by eight annotator sessions reading each tweet
(``README.md``, "Round 6").

Why a larger, **training-only** round: an independent pass over the whole test split
(``threat_test_pass3.csv``) agreed with the first labels at kappa 0.886, and the independent
labels score 94.3 macro-F1 against them, so the labels are not what holds the model at 72;
the lever the error analyses kept naming is more labelled threats (268 in training after
round 5). Round 6 rows never enter the test split (``datasets.threat_round6_labels`` marks
every row training), so the held-out figure stays comparable with every earlier model's.

Pools (same sources and exclusions as rounds 4 and 5: TweetEval hate/offensive **train**,
Davidson, CrisisLex; never TweetEval ``val``/``test``; nothing labelled in any earlier round
or in the test split; one row per distinct text, > 15 characters):

- ``ngram-top``: the shipped n-gram model's top ranks (dense in threats and near-misses);
- the round-5 patterns (``select_round5.POOLS`` and ``POOLS_B``), what is left of them;
- ``ngram-mid``: the band under the top (the model's uncertain region);
- ``random``: natural negatives.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.heads import HEADS_DIR
from pipelines.scoring.labels import select_round5 as r5
from pipelines.scoring.labels.select_candidates import write_candidates
from pipelines.scoring.ngrams import NgramModel

SEED = 2030
TOP = (0, 2600)
"""``ngram-top``: these ranks of the eligible rows, all of them."""
PATTERN_EACH = 150
"""At most this many rows from each round-5 pattern pool (random rows of those not drawn yet)."""
MID = ((2600, 15000), 1400)
"""``ngram-mid``: this many rows drawn from these ranks."""
RANDOM = 600


def labelled_refs() -> set[tuple[str, str]]:
    """Every ``(source, ref)`` already in a label file of rounds 1-5."""
    done = r5.labelled_refs()
    with ds.ROUND5_FILE.open(encoding="utf-8", newline="") as f:
        done |= {(r["source"], r["ref"]) for r in csv.DictReader(f)}
    return done


def eligible_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    """Round 5's eligibility with every round-5 row and text excluded too."""
    return r5.eligible_rows(data_dir, labelled_refs())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/vigil_round6_candidates.csv"))
    args = ap.parse_args(argv)
    rows = eligible_rows(ds.default_data_dir())
    print("eligible", len(rows))
    p = NgramModel.load(HEADS_DIR / "threat_ngrams.npz").predict_proba_clause_max([r[2] for r in rows])
    ranked = np.argsort(-p, kind="stable")
    rng = np.random.default_rng(SEED)
    chosen: dict[int, str] = {int(i): "round6:threat:ngram-top" for i in ranked[TOP[0] : TOP[1]]}
    patterns = {k: (v[0], PATTERN_EACH) for k, v in {**r5.POOLS, **r5.POOLS_B}.items() if v[0] is not None}
    patterns.pop("random", None)
    r5.draw(rows, ranked, rng, patterns, TOP, chosen, "round6")
    (lo, hi), n = MID
    r5.draw(rows, ranked, rng, {"ngram-mid": (None, n)}, (lo, hi), chosen, "round6")
    r5.draw(rows, ranked, rng, {"random": (r5.POOLS["random"][0], RANDOM)}, TOP, chosen, "round6")
    write_candidates(args.out, rows, chosen, rng.permutation(sorted(chosen)))


if __name__ == "__main__":
    main()
