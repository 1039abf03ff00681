"""How the candidates of ``threat_round3.csv`` were drawn (run once; kept for the record).

``python -m pipelines.scoring.labels.select_round3 [--out FILE]`` rebuilds the same
candidate list (seeded) from ``../shared/data``; the threat labels were then written by
hand (see ``README.md`` in this folder).

Why these pools: the error analysis of the first threat head showed the misses are
second-person and conditional threats ("you'll get what's coming", "if you ... I'll") and
threats without violent keywords ("catch you outside", "pull up on you"), which rounds 1
and 2 (retrieved by the zero-shot prototypes and by violent words) rarely hold. Each
pool is a regular expression over the abusive sets plus CrisisLex; a random pool keeps
honest negatives. Rows already in ``threat_topics.csv`` are skipped. Unlike round 1, no
embedding cache is needed: every tweet of the sources is eligible.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.labels.select_candidates import pool_rows

SEED = 2027
POOLS: dict[str, tuple[re.Pattern[str], int]] = {
    "second-person": (
        re.compile(
            r"\b(you'?ll|you will|you(?:'re| are) (?:gonna|going to|next|dead|done|finished)|"
            r"u (?:gonna|will|next)|watch (?:your|ur) back|you better|ur gonna|your days are)\b",
            re.I,
        ),
        70,
    ),
    "conditional": (
        re.compile(
            r"\b(if|next time|one more time|try me|say that again)\b.{0,60}\b(i'?ll|ima|imma|i will|gonna|we'?ll)\b",
            re.I,
        ),
        60,
    ),
    "implicit": (
        re.compile(
            r"\b(pull up|catch (?:you|u|him|her|them)|see (?:you|u) outside|find (?:you|u|him|her|them)|"
            r"coming for|put (?:you|u|him|her|them) (?:in|six|6)|six feet|6 feet|lay hands|"
            r"handle (?:you|u|him|her|them)|take (?:you|u|him|her|them) out|someone should|somebody should|"
            r"deserves? to (?:die|be)|wipe (?:them|em|you) out|get what'?s coming)\b",
            re.I,
        ),
        70,
    ),
    "random": (re.compile(r""), 40),
}
SOURCES = ("tweeteval/hate", "tweeteval/offensive", "davidson", "crisislex")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/vigil_round3_candidates.csv"))
    args = ap.parse_args(argv)
    data_dir = ds.default_data_dir()
    done = {(r["source"], r["ref"]) for r in ds.read_label_rows()}
    rows, seen = [], set()
    for src, ref, text in pool_rows(data_dir):
        key = text.strip().lower()
        # val splits of TweetEval stay evaluation-only for hate/offensive: draw from train.
        if src not in SOURCES or ref.startswith("val:") or (src, ref) in done or key in seen:
            continue
        if len(key) > 15:
            seen.add(key)
            rows.append((src, ref, text))
    rng = np.random.default_rng(SEED)
    chosen: dict[int, str] = {}
    for pool, (pattern, n) in POOLS.items():
        idx = [i for i, r in enumerate(rows) if i not in chosen and pattern.search(r[2])]
        for i in rng.choice(idx, size=min(n, len(idx)), replace=False).tolist():
            chosen[int(i)] = f"round3:threat:{pool}"
    order = rng.permutation(sorted(chosen))
    with args.out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "ref", "pool", "text"])
        for i in order.tolist():
            w.writerow([*rows[i][:2], chosen[i], rows[i][2]])
    print(f"wrote {len(order)} candidates to {args.out}")


if __name__ == "__main__":
    main()
