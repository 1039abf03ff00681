"""Issue 14: does MiniLM's layer-4 vector help the hate and offensive heads too?

    python bench/heads_layer4.py        # ~10 min on 2 cores: embeds ~27,000 training tweets

The threat head gained from the layer-4 vector (``docs/scoring.md``, "MiniLM's layer 4 for the
threat head"), as the sentiment head had. The hate and offensive heads choose their blocks,
Davidson's extra rows, ``C`` and threshold on 15 % dev splits of their training data
(``train._binary_head``). This runs that very choice three times (dev splits seeded 13, 14,
15) for two families of block sets, training data only (TweetEval ``val`` and Davidson's
held-out rows are never read):

- shipped: ``emb``, ``emb + vader + profanity``;
- layer 4: ``layer4 + vader + profanity``, ``emb + layer4 + vader + profanity``.

Rule, written with this script and committed before it ran: for each head, the layer-4 family
replaces the shipped one only if its best trial's dev macro-F1 (the joint criterion with
Davidson) is ahead on each of the three seeds and at least **1.0 point** higher on their mean.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.scoring import datasets as ds  # noqa: E402
from pipelines.scoring import train  # noqa: E402

FAMILIES = {
    "shipped": train.BINARY_CANDIDATES,
    "layer 4": (("layer4", "vader", "profanity"), ("emb", "layer4", "vader", "profanity")),
}
SEEDS = (13, 14, 15)
MIN_GAIN = 1.0


def main() -> None:
    from pipelines.cli.score_cmd import _featuriser

    data = ds.default_data_dir()
    _, featurise = _featuriser(2)
    cache: dict[tuple[str, int], dict] = {}

    def memo(d: ds.LabelledTexts, blocks: set[str] | None = None) -> dict:
        key = (d.name, len(d.texts))
        if key not in cache:  # every block once per data set
            cache[key] = featurise(d, {"emb", "layer4", "vader", "profanity"})
        return {b: cache[key][b] for b in (blocks or {"emb", "vader", "profanity"})}

    dav = ds.subsample(ds.davidson(data, "train"), ds.DAVIDSON_TRAIN_SAMPLE)
    sets = {
        "hate": (ds.tweeteval(data, "hate", "train"), (dav.labels == 0), "[hate vs rest]"),
        "offensive": (
            ds.tweeteval(data, "offensive", "train"),
            (dav.labels != 2),
            "[hate|offensive vs neither]",
        ),
    }
    for name, (base, extra_y, suffix) in sets.items():
        extra = ds.LabelledTexts(dav.name + suffix, dav.texts, extra_y.astype(np.int64))
        best: dict[str, list[float]] = {}
        for fam, cands in FAMILIES.items():
            for seed in SEEDS:
                report: dict = {}
                train._binary_head(name, base, extra, memo, report, candidates=cands, seed=seed)
                top = max(report[name]["dev_trials"], key=lambda r: r["dev_f1"])
                best.setdefault(fam, []).append(100 * top["dev_f1"])
                print(f"{name} {fam} seed {seed}: {100 * top['dev_f1']:.1f} "
                      f"({'+'.join(top['blocks'])}, extra {top['extra']}, C {top['C']}, t {top['threshold']})", flush=True)  # fmt: skip
        a, b = best["layer 4"], best["shipped"]
        ok = all(x > y for x, y in zip(a, b, strict=True)) and np.mean(a) >= np.mean(b) + MIN_GAIN
        print(f"{name}: shipped {np.mean(b):.1f} ({' / '.join(f'{v:.1f}' for v in b)}), layer 4 {np.mean(a):.1f} "
              f"({' / '.join(f'{v:.1f}' for v in a)}): {'QUALIFIES' if ok else 'stays'}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
