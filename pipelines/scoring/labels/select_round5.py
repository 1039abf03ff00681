"""How the candidates of ``threat_round5.csv`` were drawn (run once; kept for the record).

``python -m pipelines.scoring.labels.select_round5 [--part a|b] [--out FILE] [--counts]`` rebuilds the
same candidate list (seeded) from ``../shared/data`` and the n-gram threat model shipped
after round 4 (``heads/threat_ngrams.npz``, clause-max); the labels were then written by
hand (see ``README.md`` in this folder). ``--counts`` only prints how many eligible rows
each pool's pattern matches. The heads have been retrained on round 5 since, so to redraw the same rows put that
model back first (``git show c531aa4~1:pipelines/scoring/heads/threat_ngrams.npz``; checked: part a's
646 rows are then all in ``threat_round5.csv``, 375 of them with today's model).

Why these pools: round 4's error analysis (``docs/scoring.md``) said the model still
misses political incitement inside long rants ("should be hung from the nearest light
post", "impeach imprison execute"), slang fight challenges and "coming for you" without a
violent verb, orders to self-harm ("neck yourself", "kys"), quoted calls and coded
threats, and that its false positives are negations ("I ain't gon shoot you"), other
senses of violent words ("I kill these beats") and descriptions of a fight rather than a
challenge. Each pool below is one of these; ``ngram-mid`` draws from the band just under
the shipped model's top 1,500 (its uncertain region) and ``random`` keeps the negatives
natural. Same sources and exclusions as round 4 (TweetEval hate/offensive **train**,
Davidson, CrisisLex; never TweetEval ``val``/``test``; nothing already labelled in any
earlier round; one row per distinct text, > 15 characters).
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np

from pipelines.scoring import datasets as ds
from pipelines.scoring.heads import HEADS_DIR
from pipelines.scoring.labels.select_candidates import pool_rows, write_candidates
from pipelines.scoring.ngrams import NgramModel

SEED = 2029
SOURCES = ("tweeteval/hate", "tweeteval/offensive", "davidson", "crisislex")
NGRAM_BAND = (0, 3000)
"""``ngram-high`` draws from these ranks of the eligible rows (round 4 drew 400 of the
then-model's top 1,500; the rows it labelled are no longer eligible)."""
_V = (
    r"(kill|shoot|shot|hang|hung|lynch|beat|punch|slap|stab|burn|murder|choke|smack|whoop|hurt|"
    r"slit|bomb|execute|behead|gas|torture|strangle|drown|stomp|rape|murk|merk|fight|hit)\w*"
)
POOLS: dict[str, tuple[re.Pattern[str] | None, int]] = {
    "execution": (
        re.compile(
            r"\b(hang(?:ed|ing)?|hung|lynch\w*|execut\w*|firing squad|gallows|noose|guillotine|string(?:ing)? (?:them|him|her|'?em) up|"
            r"strung up|light ?post|lamp ?post|rope|put (?:him|her|them|'?em) down|exterminat\w*|wipe (?:them|'?em) out|"
            r"gas (?:them|'?em|the)|shot on sight|shoot on sight|treason\w*|traitor\w*|death to)\b",
            re.I,
        ),
        130,
    ),
    "come-get": (
        re.compile(
            r"\b(come get (?:me|you|u|it|some)|pop (?:shit )?off|get at me|run (?:it|up)|catch (?:a|the|my|these) "
            r"(?:fade|hands|fists|bullet|fist)|catch hands|tryna (?:get|see) (?:his|her|my|your|ur|yo)|one on one|"
            r"see (?:me|you|u) in (?:person|the streets|traffic)|when i see (?:you|u|him|her|'?em|them)|"
            r"(?:gonna|finna|bout to|about to|ima|imma) (?:pull up|slide|ride|pop|air|spray|light)|"
            r"(?:comin|coming) for (?:yo|your|ur|you|u|him|her|them|'?em)|6 feet|six feet|body ?bag|toe tag|casket|"
            r"catch (?:you|u|him|her) (?:lackin|slippin|outside))\b",
            re.I,
        ),
        110,
    ),
    "self-harm-order": (
        re.compile(
            r"\b(kys|k y s|kill (?:yo|your|ur|ya|you)(?: )?self|off (?:yo|your|ur)self|neck (?:yo|your|ur)self|"
            r"go (?:die|hang|jump|drown|kill)|jump off (?:a|the)|die in a (?:fire|hole|ditch)|slit (?:yo|your|ur) wrists?|"
            r"drink (?:bleach|poison)|eat a (?:bullet|gun)|put a (?:bullet|gun) (?:in|to) (?:yo|your|ur))\b",
            re.I,
        ),
        60,
    ),
    "quoted-call": (
        re.compile(r"[\"“‘'][^\"”’]{0,80}\b(kill|shoot|hang|lynch|burn|gas|beat)\b[^\"”’]{0,80}[\"”’]", re.I),
        50,
    ),
    "coded": (
        re.compile(
            r"(#\w*(?:cookout|purge|rope|racewar|killall|hunt)\w*|\bday of the rope\b|\brace war\b|\bpurge\b|"
            r"\bopen season\b|\bhunting season\b|\bwood ?chipper\b|\bhelicopter ride\b|\bovens?\b|\bgas chambers?\b|"
            r"\bbullets? (?:for|in)\b|\bput (?:a|one) in (?:his|her|their|your|ur)\b)",
            re.I,
        ),
        60,
    ),
    "negation": (
        re.compile(
            r"\b(don'?t|dont|ain'?t|aint|not|never|won'?t|wont|wouldn'?t|wouldnt|no(?:body)?|can'?t|cant)\b"
            r"(?:\s+\w+){0,4}\s+" + _V,
            re.I,
        ),
        90,
    ),
    "ngram-high": (None, 200),
    "random": (re.compile(r""), 100),
}
_V2 = (
    r"(beat|slap|whoop|punch|fight|kill|shoot|stab|knock|smack|choke|murk|merk|pop|hit|jump|drag|stomp|snatch|"
    r"split|bust|body|bodies|cut|shank|strangle|hurt|fuck (?:yo|your|ur|u|you|him|her|them|dat|that) (?:ass )?up)\w*"
)
POOLS_B: dict[str, tuple[re.Pattern[str] | None, int]] = {
    "intent-wide": (
        re.compile(
            r"\b(i'?ma|imma|ima|i'?ll|i will|i'?m (?:gonna|finna|bout to|about to|going to|gon)|i gon|i gone|i finna|"
            r"i boutta|i'?d|we (?:gonna|finna|gon|bout to)|make me|gone make me|gon make me|finna make me|"
            r"about to make me|bout to make me)\b.{0,35}\b" + _V2,
            re.I,
        ),
        60,
    ),
    "you-get-kys": (
        re.compile(
            r"\b((?:you|u|ya|he|she|they)(?:'?re| are| is|'?s)? (?:gonna|finna|bout to|about to|gon|gone|boutta|going to) "
            r"(?:get|catch) (?:beat|slapped|shot|smacked|fucked up|dropped|these hands|this fade|stabbed|popped|knocked|"
            r"hurt|choked|bodied|handled|laid)|kys|kill (?:yo|your|ur|ya|you)\s?(?:self|selves)|killyourself|kill urself|"
            r"go die|please die|pls die|just die|die bitch|die in a|hang (?:yo|your|ur)\s?self)\b",
            re.I,
        ),
        40,
    ),
    "dare": (
        re.compile(
            r"\b(wish a (?:nigga|nigguh|niggah|bitch|hoe|mf|mothafucka|motherfucker) would|try me|catch me outside|"
            r"see me outside|hands on sight|fade on sight|on sight)\b",
            re.I,
        ),
        40,
    ),
    "ngram-top": (None, 250),
}
"""Part b, drawn after part a was labelled (41 threats in 646 rows; the n-gram pool 15 of
200, first-person self-harm orders 5 of 9): the top of the n-gram ranking (ranks below
``NGRAM_TOP_B``), a wider first-person-intent pattern than rounds 2 and 4 ("gone make me
slap", "finna", "i'd"), "you gonna get ..." with orders to die, and dares ("I wish a
nigga would", "on sight")."""
NGRAM_TOP_B = 800


def labelled_refs() -> set[tuple[str, str]]:
    """Every ``(source, ref)`` already in a label file of rounds 1-4."""
    done = {(r["source"], r["ref"]) for r in ds.read_label_rows()}
    for path in (ds.ROUND3_FILE, ds.ROUND4_FILE):
        with path.open(encoding="utf-8", newline="") as f:
            done |= {(r["source"], r["ref"]) for r in csv.DictReader(f)}
    return done


def eligible_rows(data_dir: Path, done: set[tuple[str, str]] | None = None) -> list[tuple[str, str, str]]:
    """Pool rows never labelled (``done``: rounds 1-4 by default), one per distinct text (also
    none equal to a labelled text), TweetEval train only, > 15 characters."""
    done = labelled_refs() if done is None else done
    rows, seen = [], set()
    all_rows = pool_rows(data_dir)
    seen |= {t.strip().lower() for s, r, t in all_rows if (s, r) in done}
    for src, ref, text in all_rows:
        key = text.strip().lower()
        if src not in SOURCES or ref.startswith(("val:", "test:")) or (src, ref) in done or key in seen:
            continue
        if len(key) > 15:
            seen.add(key)
            rows.append((src, ref, text))
    return rows


def draw(
    rows: list[tuple[str, str, str]],
    ranked: np.ndarray,
    rng: np.random.Generator,
    pools: dict[str, tuple[re.Pattern[str] | None, int]] = POOLS,
    band: tuple[int, int] = NGRAM_BAND,
    chosen: dict[int, str] | None = None,
    tag: str = "round5",
) -> dict[int, str]:
    """Each pool's seeded random draw of rows not chosen yet, in the order of ``pools``."""
    chosen = {} if chosen is None else chosen
    for pool, (pattern, n) in pools.items():
        if pattern is None:
            idx = [int(i) for i in ranked[band[0] : band[1]] if int(i) not in chosen]
        else:
            idx = [i for i, r in enumerate(rows) if i not in chosen and pattern.search(r[2])]
        for i in rng.choice(idx, size=min(n, len(idx)), replace=False).tolist():
            chosen[int(i)] = f"{tag}:threat:{pool}"
    return chosen


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("a", "b"), default="a")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--counts", action="store_true")
    args = ap.parse_args(argv)
    out = args.out or Path(f"/tmp/vigil_round5{args.part}_candidates.csv")
    rows = eligible_rows(ds.default_data_dir())
    if args.counts:
        for pool, (pattern, _) in {**POOLS, **POOLS_B}.items():
            if pattern is not None:
                print(pool, sum(bool(pattern.search(r[2])) for r in rows))
        print("eligible", len(rows))
        return
    p = NgramModel.load(HEADS_DIR / "threat_ngrams.npz").predict_proba_clause_max([r[2] for r in rows])
    ranked = np.argsort(-p, kind="stable")
    rng = np.random.default_rng(SEED)
    chosen = draw(rows, ranked, rng)
    order = rng.permutation(sorted(chosen))
    if args.part == "b":
        part_a = set(chosen)
        draw(rows, ranked, rng, POOLS_B, (0, NGRAM_TOP_B), chosen, "round5b")
        order = rng.permutation(sorted(set(chosen) - part_a))
    write_candidates(out, rows, chosen, order)


if __name__ == "__main__":
    main()
