"""How the candidates of ``threat_round4.csv`` were drawn (run once; kept for the record).

``python -m pipelines.scoring.labels.select_round4 [--out FILE]`` rebuilds the same
candidate list (seeded) from ``../shared/data`` and the shipped n-gram threat model
(``heads/threat_ngrams.npz`` as of round 3); the labels were then written by hand (see
``README.md`` in this folder).

Why these pools: after round 3 the training split held 112 threats and the error analysis
(``docs/scoring.md``) listed the misses: political incitement as one clause of a long post
("should be hung"), implicit and slang threats ("comin for", "catch you", "pull up"),
calls to harass, second-person and conditional threats. Each pool is a regular expression
(or the n-gram model's ranking) over TweetEval hate/offensive **train**, Davidson and
CrisisLex; never TweetEval ``val``/``test``, never a row already in ``threat_topics.csv`` or
``threat_round3.csv``. The n-gram pool is a random draw from the top of its ranking (not
only the very top) and a random pool keeps the negatives natural.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.heads import HEADS_DIR
from pipelines.scoring.labels.select_candidates import INTENT_WORDS, pool_rows, write_candidates
from pipelines.scoring.ngrams import NgramModel

SEED = 2028
NGRAM_TOP = 1500
"""The n-gram pool draws from this many best-ranked eligible rows."""
_VIOLENT = (
    r"(kill|shoot|shot|hang|hung|lynch|beat|punch|slap|stab|burn|murder|choke|smack|whoop|hurt|"
    r"slit|bomb|execute|behead|gas|torture|strangle|drown|skin|hit|jump|stomp|break|snap|rape|"
    r"cut|fuck (?:him|her|them|you|u) up|murk|merk|smoke|pop|air)\w*"
)
POOLS: dict[str, tuple[re.Pattern[str] | None, int]] = {
    "ngram-high": (None, 220),
    "slang": (
        re.compile(
            r"\b(comin(?:g|')? for|catch (?:you|u|ya|him|her|them|that)|pull(?:in|ing)? up (?:on|to)|slide on|"
            r"run up on|on sight|see (?:you|u|ya) (?:outside|around|soon|when)|wait (?:till|til|until) i (?:see|catch)|"
            r"lay (?:you|u|him|her|them) (?:down|out)|put hands on|hands on (?:you|u|him|her)|fade|"
            r"touch (?:you|u|him|her)|get (?:you|u|him|her|them) touched|"
            r"(?:you|u|he|she)(?:'?re| are| is|'?s) (?:dead|done|next|finished|a dead)|"
            r"(?:on|at) (?:your|ur|yo) (?:door|house|mama)|know where (?:you|u) live|it'?s on sight)\b",
            re.I,
        ),
        150,
    ),
    "conditional-second": (
        re.compile(
            r"\b((?:if|when|next time|one more time|keep)\b.{0,60}\b(?:i'?ll|ima|imma|i will|gonna|i'?m)\b.{0,30}"
            + _VIOLENT
            + r"|(?:you|u|ur)(?:'?ll| will| gonna| better| finna| bout to)\b.{0,40}"
            + r"(get|catch|see|feel|regret|die|bleed|pay)\w*)",
            re.I,
        ),
        120,
    ),
    "incitement": (
        re.compile(
            r"\b(should|needs? to|must|ought to|let'?s|lets|we (?:need|should|must|gotta)|someone|somebody|"
            r"all of them|every one of them|time to)\b.{0,40}\b(be )?" + _VIOLENT,
            re.I,
        ),
        110,
    ),
    "harass": (
        re.compile(
            r"\b(make (?:his|her|their|your|ur) life|dox|find (?:her|his|their) (?:address|house|family)|"
            r"go after|raid|flood (?:her|his|their)|spam (?:her|his|their|him)|everyone (?:report|go|tweet|attack)|"
            r"get (?:him|her|them) fired|ruin (?:him|her|them|his|her|their))\b",
            re.I,
        ),
        60,
    ),
    "random": (re.compile(r""), 140),
}
POOLS_B: dict[str, tuple[re.Pattern[str] | None, int]] = {
    "intent": (INTENT_WORDS, 80),
    "fight": (
        re.compile(
            r"\b(square up|fight me|wanna fight|tryna fight|meet me (?:at|outside)|catch (?:these|this) (?:hands|fade)|"
            r"(?:you|u) (?:want|wanna) (?:smoke|problems|beef)|run (?:yo|your|ur) fade|1v1|one on one)\b",
            re.I,
        ),
        40,
    ),
    "should-be": (
        re.compile(
            r"\b(should|needs? to|ought to|deserves? to) (?:be|get) (?:shot|hung|hanged|lynched|killed|executed|"
            r"beaten|beat|slapped|punched|stabbed|burned|burnt|gassed|raped|murdered|strung up|choked|smacked|"
            r"whooped|deported)\b",
            re.I,
        ),
        20,
    ),
    "self-harm-order": (
        re.compile(
            r"\b(kys|kill (?:yo|your|ur)self|go die|drink bleach|hang (?:yo|your|ur)self|neck (?:yo|your|ur)self)\b",
            re.I,
        ),
        20,
    ),
    "ngram-high": (None, 180),
    "incitement": (POOLS["incitement"][0], 40),
    "random": (re.compile(r""), 40),
}
"""Part b, drawn after part a was labelled (69 threats in 634 rows; random 1 in 140): the
pools that had not been exhausted, plus first-person intent (round 2's pattern), fight
challenges, "should be <violent>" and orders to self-harm."""
SOURCES = ("tweeteval/hate", "tweeteval/offensive", "davidson", "crisislex")


def eligible_rows(data_dir: Path) -> list[tuple[str, str, str]]:
    """Pool rows never labelled, one per distinct text, TweetEval train only, > 15 chars."""
    done = {(r["source"], r["ref"]) for r in ds.read_label_rows()}
    with ds.ROUND3_FILE.open(encoding="utf-8", newline="") as f:
        done |= {(r["source"], r["ref"]) for r in csv.DictReader(f)}
    rows, seen = [], set()
    for src, ref, text in pool_rows(data_dir):
        key = text.strip().lower()
        if src not in SOURCES or ref.startswith(("val:", "test:")) or (src, ref) in done or key in seen:
            continue
        if len(key) > 15:
            seen.add(key)
            rows.append((src, ref, text))
    return rows


def _draw(rows, top, pools, tag, chosen, rng) -> None:
    """Add each pool's seeded random draw (rows not chosen yet) to ``chosen``."""
    for pool, (pattern, n) in pools.items():
        if pattern is None:
            idx = [int(i) for i in top if int(i) not in chosen]
        else:
            idx = [i for i, r in enumerate(rows) if i not in chosen and pattern.search(r[2])]
        for i in rng.choice(idx, size=min(n, len(idx)), replace=False).tolist():
            chosen[int(i)] = f"{tag}:threat:{pool}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("a", "b"), default="a")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out or Path(f"/tmp/vigil_round4{args.part}_candidates.csv")
    rows = eligible_rows(ds.default_data_dir())
    p = NgramModel.load(HEADS_DIR / "threat_ngrams.npz").predict_proba([r[2] for r in rows])
    top = np.argsort(-p, kind="stable")[:NGRAM_TOP]
    rng = np.random.default_rng(SEED)
    chosen: dict[int, str] = {}
    _draw(rows, top, POOLS, "round4", chosen, rng)
    order = rng.permutation(sorted(chosen))
    if args.part == "b":
        part_a = set(chosen)
        _draw(rows, top, POOLS_B, "round4b", chosen, rng)
        order = rng.permutation(sorted(set(chosen) - part_a))
    write_candidates(out, rows, chosen, order)


if __name__ == "__main__":
    main()
