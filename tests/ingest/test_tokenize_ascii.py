"""``tokenize``'s ASCII path (lower once, URL pattern only where one could be, no per-token
trimming without ``'``/``-``) gives exactly the general path's tokens.

The general path is reproduced here as the reference (NFKC, URL removal, then each token
casefolded and trimmed), and both run on real posts from the bundled sample plus random
strings built from the characters each shortcut depends on."""

from __future__ import annotations

import csv
import gzip
import random
import unicodedata
from pathlib import Path

from pipelines.core import text as T

REPO = Path(__file__).resolve().parents[2]


def reference(text: str) -> list[str]:
    text = T._URL_RE.sub(" ", unicodedata.normalize("NFKC", text))
    out = []
    for tok in T._TOKEN_RE.findall(text):
        tok = tok.casefold().rstrip("'’-").replace("’", "'").removesuffix("'s")
        if tok:
            out.append(tok)
    return out


def _sample_texts() -> list[str]:
    """Every tweet text of the bundled sample (six 2013 crisis events, ~6,000 posts)."""
    texts = []
    for path in sorted((REPO / "data" / "sample").glob("*/tweets_labeled.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            texts += [row[1] for row in csv.reader(fh) if len(row) > 1][1:]
    return texts


EDGE = ["it's", "'s", "-'s", "a-'S", "HTTP://X.COM y", "WWW.A.B c", "wwW.a b", "HtTpS://q r",
        "Rock'S-", "--", "x'", "_a", "a_b-c'd's'", "", "   ", "#Tag @User's", "ss\u00df", "\u0130stanbul"]  # fmt: skip


def test_ascii_path_equals_the_general_path() -> None:
    rng = random.Random(7)
    alphabet = "aAzZ09_-'#@ .,:/HTTPSWhttpsw\t\n\u2019\u00e9"
    randoms = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    texts = _sample_texts() + randoms + EDGE
    assert sum(t.isascii() for t in _sample_texts()) > 3_000  # real posts take the shortcut
    for text in texts:
        assert T.tokenize(text) == reference(text), text
