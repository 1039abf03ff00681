"""How the candidates of ``threat_topics.csv`` were drawn (run once; kept for the record).

``python -m pipelines.scoring.labels.select_candidates [--out FILE]`` rebuilds the same
candidate list (seeded) from ``../shared/data`` and the embedding cache; the labels
themselves were then written by hand (see ``README.md`` in this folder).

Why three pools: threat and most topics are rare in these data sets (a random sample of
1,500 tweets holds a handful of threats), so most candidates are *retrieved* by the old
zero-shot scorer and by keywords; a random pool keeps the set from being only
keyword-shaped and gives every label honest negatives.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import sys
from pathlib import Path

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.embcache import DEFAULT_CACHE_DIR, text_key
from pipelines.scoring.heads import HeadSet

SEED = 2026
RANDOM_PER_SOURCE = {
    "tweeteval/hate": 120,
    "tweeteval/offensive": 120,
    "davidson": 80,
    "crisislex": 100,
    "tweeteval/sentiment": 100,
}
THREAT_TOP = 220
THREAT_KEYWORD = 160
TOPIC_PER = 70
TOPIC_TOP = 400
ROUND2_THREAT_RANKS = (220, 900)
ROUND2_THREAT = 230
ROUND2_INTENT = 110
ROUND2_TOPIC = {"health": 70, "technology": 70}
"""Round 2 (after round 1 was annotated: 67 threats, health 55, technology 52): more of the
prototype ranking below round 1's cut, first-person intent phrases, and the thin topics."""
INTENT_WORDS = re.compile(
    r"\b(i'?ll|ima|imma|i'?m (?:gonna|going to|about to|finna)|i will|i wanna|i want to|gonna|"
    r"we will|we'?ll|should be|needs? (?:a|to be))\b.{0,30}\b(kill|shoot|hang|beat|punch|slap|stab|"
    r"burn|murder|choke|smack|whoop|hurt|rape|slit|bomb|hit|fight|lynch|execute)\w*",
    re.I,
)
THREAT_WORDS = re.compile(
    r"\b(kill|killed|shoot|shot|hang|hanged|lynch|beat|punch|slap|stab|burn|bomb|murder|die|dead|"
    r"gun|bullet|choke|destroy|hurt|smack|whoop|fight|execute|deport)\w*\b",
    re.I,
)


def pool_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    """Every candidate tweet as ``(source, ref, text)``; refs are read back by ``datasets.label_ref_text``."""
    rows: list[tuple[str, str, str]] = []
    for task in ("hate", "offensive"):
        for split in ("train", "val"):
            te = ds.tweeteval(data_dir, task, split)
            rows += [(f"tweeteval/{task}", f"{split}:{i}", t) for i, t in enumerate(te.texts)]
    te = ds.tweeteval(data_dir, "sentiment", "val")
    rows += [("tweeteval/sentiment", f"val:{i}", t) for i, t in enumerate(te.texts)]
    with (data_dir / "davidson_hate_offensive" / "labeled_data.csv").open(encoding="utf-8", newline="") as f:
        rows += [("davidson", r[""], r["tweet"]) for r in csv.DictReader(f)]
    for path in sorted((data_dir / "crisislex_t26").glob("*/tweets_labeled.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            for r in csv.DictReader(f, skipinitialspace=True):
                rows.append(("crisislex", f"{path.parent.name}:{r['Tweet ID']}", r.get("Tweet Text") or ""))
    return rows


def write_candidates(
    out: Path, rows: list[tuple[str, str, str]], chosen: dict[int, str], order: np.ndarray
) -> None:
    """Write the drawn rows (``source, ref, pool, text``) in ``order`` and print how many per pool.

    Shared by the later rounds' scripts so that every candidate file has the same columns.
    """
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "ref", "pool", "text"])
        for i in order.tolist():
            w.writerow([*rows[i][:2], chosen[i], rows[i][2]])
    print(f"wrote {len(order)} candidates to {out}: {collections.Counter(chosen[i] for i in order.tolist())}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/vigil_candidates.csv"))
    args = ap.parse_args(argv)
    data_dir = ds.default_data_dir()
    rows = pool_rows(data_dir)
    # Only tweets already in the embedding cache (train-heads / eval-scorer embedded them),
    # one row per distinct text.
    with np.load(DEFAULT_CACHE_DIR / "embeddings-minilm.npz") as z:
        index = {str(k): i for i, k in enumerate(z["keys"])}
        vectors = z["vectors"]
    seen: set[str] = set()
    keep, emb_idx = [], []
    for r in rows:
        k = text_key(r[2])
        if k in index and k not in seen and len(r[2].strip()) > 15:
            seen.add(k)
            keep.append(r)
            emb_idx.append(index[k])
    emb = vectors[emb_idx]
    src = np.array([r[0] for r in keep])
    hs = HeadSet.load()
    rng = np.random.default_rng(SEED)
    chosen: dict[int, str] = {}

    def add(idx: np.ndarray, pool: str) -> None:
        for i in idx.tolist():
            chosen.setdefault(int(i), pool)

    for s, n in RANDOM_PER_SOURCE.items():
        add(rng.choice(np.flatnonzero(src == s), size=n, replace=False), "random")
    abusive = np.isin(src, ["tweeteval/hate", "tweeteval/offensive", "davidson"])
    tp = hs.prototypes["threat"]
    sims = emb @ tp.centroids.T
    threat = (
        1
        / (1 + np.exp(-(sims[:, 0] - tp.threshold) / tp.temperature))
        * (1 / (1 + np.exp(-(sims[:, 0] - sims[:, 1:].max(axis=1)) / 0.03)))
    )
    order = np.argsort(-np.where(abusive, threat, -1))
    add(order[:THREAT_TOP], "threat:prototype")
    kw = np.flatnonzero(abusive & np.array([bool(THREAT_WORDS.search(r[2])) for r in keep]))
    add(rng.choice(kw, size=min(THREAT_KEYWORD, len(kw)), replace=False), "threat:keyword")
    top = hs.prototypes["topics"]
    tsims = emb @ top.centroids.T
    for j, name in enumerate(top.labels):
        if name == "crisis/disaster":
            continue
        best = np.argsort(-tsims[:, j])[:TOPIC_TOP]
        add(rng.choice(best, size=TOPIC_PER, replace=False), f"topic:{name}")
    round1 = set(chosen)
    lo, hi = ROUND2_THREAT_RANKS
    pool2 = np.array([i for i in order[lo:hi].tolist() if i not in round1])
    add(rng.choice(pool2, size=ROUND2_THREAT, replace=False), "r2:threat:prototype")
    intent = np.flatnonzero(abusive & np.array([bool(INTENT_WORDS.search(r[2])) for r in keep]))
    intent = np.array([i for i in intent.tolist() if i not in chosen])
    add(rng.choice(intent, size=min(ROUND2_INTENT, len(intent)), replace=False), "r2:threat:intent")
    for name, n in ROUND2_TOPIC.items():
        j = top.labels.index(name)
        best = np.array([i for i in np.argsort(-tsims[:, j])[:TOPIC_TOP].tolist() if i not in chosen])
        add(rng.choice(best, size=n, replace=False), f"r2:topic:{name}")
    out = sorted(chosen.items(), key=lambda kv: (keep[kv[0]][0], kv[0]))
    with args.out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "ref", "pool", "text"])
        for i, pool in out:
            w.writerow([keep[i][0], keep[i][1], pool, keep[i][2]])
    print(f"{len(out)} candidates from {len(keep)} cached tweets -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
