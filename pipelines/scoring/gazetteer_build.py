"""Rebuild ``gazetteer/common_words.txt``: place names that tweets mostly use as words.

``python -m pipelines.scoring.gazetteer_build`` (about 10 s). A name is a *common word*
when, in about 69,000 tweets from ``../shared/data`` (TweetEval, Davidson, CrisisLexT26
without the annotated evaluation tweets), its lower-case form occurs at least
``MIN_LOWER`` times and at least ``RATIO`` times as often as its Capitalised form in the
middle of a sentence ("mine" 94 vs "Mine" 9; "calgary" 5 vs "Calgary" 194 is a place).
Only names that are in the gazetteer are written, so the file stays small; the curated
aliases in ``gazetteer_load.py`` (NYC, NSW, USA ...) are never listed. Hashtags,
mentions and URLs are skipped. Deterministic: same data, same file.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

MIN_LOWER = 5
RATIO = 0.3
_WORD = re.compile(r"[^\W\d_]+")
_SKIP = re.compile(r"@\w+|#\w+|https?://\S+|&\w+;")


def corpus(data_dir: Path) -> list[str]:
    """Tweet texts used to measure how words are written (annotated tweets excluded)."""
    from pipelines.scoring.gazetteer_eval import GOLD_PATH

    with GOLD_PATH.open(encoding="utf-8", newline="") as f:
        gold_ids = {r["tweet_id"] for r in csv.DictReader(f)}
    texts: list[str] = []
    for path in sorted((data_dir / "tweeteval").glob("*/*_text.txt")):
        texts += path.read_text(encoding="utf-8").split("\n")
    with (data_dir / "davidson_hate_offensive" / "labeled_data.csv").open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        col = next(rows).index("tweet")
        texts += [r[col] for r in rows]
    for path in sorted((data_dir / "crisislex_t26").glob("*/tweets_labeled.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            texts += [r[1] for r in csv.reader(f) if r and r[0].isdigit() and r[0] not in gold_ids]
    return texts


def word_counts(texts: list[str]) -> tuple[Counter[str], Counter[str]]:
    """(lower-case uses, Capitalised mid-sentence uses) per lower-cased word."""
    low: Counter[str] = Counter()
    cap: Counter[str] = Counter()
    for text in texts:
        text = _SKIP.sub(" ", text)
        for i, m in enumerate(_WORD.finditer(text)):
            w = m.group()
            if w.islower():
                low[w] += 1
            elif i and w[0].isupper() and w[1:].islower():
                before = text[max(0, m.start() - 2) : m.start()].strip()
                if before not in (".", "!", "?"):
                    cap[w.lower()] += 1
    return low, cap


def common_words(data_dir: Path) -> list[str]:
    """Gazetteer names (lookup keys) that the corpus uses mostly as ordinary words."""
    from pipelines.scoring import gazetteer_load as gl

    low, cap = word_counts(corpus(data_dir))
    gaz = gl.gazetteer()
    curated = {gl.norm(a) for a in [*gl._COUNTRY_ALIASES, *gl._CITY_ALIASES, *gl._TAG_CODES]}
    names = (set(gaz.cities) | set(gaz.areas)) - curated
    return sorted(w for w in names if low[w] >= MIN_LOWER and low[w] >= RATIO * cap[w])


def main(argv: list[str] | None = None) -> int:
    from pipelines.scoring.datasets import default_data_dir
    from pipelines.scoring.gazetteer_load import DATA_DIR

    args = argv if argv is not None else sys.argv[1:]
    data_dir = Path(args[0]) if args else default_data_dir()
    words = common_words(data_dir)
    out = DATA_DIR / "common_words.txt"
    header = (
        "# Place names used mostly as ordinary words in tweets (lower case >= "
        f"{MIN_LOWER} times and >= {RATIO} x Capitalised mid-sentence).\n"
        "# Made by `python -m pipelines.scoring.gazetteer_build`; see gazetteer_build.py.\n"
    )
    out.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} words to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
