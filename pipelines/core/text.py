"""Text rules shared by every stage: cleaning, tokens, stop words, index terms, hashes.

The archive importer and the crawler clean and hash posts with these functions, and the
search index splits words with the same :func:`tokenize` and :data:`STOP_WORDS`, so a
keyword typed on a page means the same word the writer stored. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_TERMS = 256
"""Most index terms kept per post."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL_RE = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[#@]?[^\W_][\w'’-]*", re.UNICODE)

STOP_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "rt",
        "via",
        "amp",
        "http",
        "https",
        "www",
        "co",
        "com",
        "just",
        "get",
        "got",
        "will",
        "also",
        "like",
        "le",
        "la",
        "les",
        "de",
        "des",
        "du",
        "et",
        "en",
        "un",
        "une",
        "el",
        "los",
        "las",
        "y",
        "que",
        "der",
        "die",
        "das",
        "und",
        "ist",
    ]
)
"""English stop words plus the most frequent French, Spanish and German function words
and Twitter noise (``rt``, ``amp``): they would make the ``terms`` index useless."""


def clean_text(text: str | None) -> str:
    """Normalise Unicode (NFC), drop control characters and collapse runs of blanks."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r"\s*\n\s*(\n\s*)+", "\n\n", text)
    return text.strip()


def normalise_for_hash(text: str) -> str:
    """Casefolded text with URLs, ``RT @user:`` prefixes and punctuation removed.

    Two posts that differ only in those (a retweet, a cross-post with another
    shortened link) get the same :func:`content_hash`.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"^rt\s+@\w+:?\s*", "", text)
    text = _URL_RE.sub(" ", text)
    text = re.sub(r"[^\w#@]+", " ", text)
    return " ".join(text.split())


def content_hash(text: str) -> str:
    """SHA-1 of :func:`normalise_for_hash` (for cross-post detection, not security)."""
    return hashlib.sha1(normalise_for_hash(text).encode("utf-8")).hexdigest()


def tokenize(text: str) -> list[str]:
    """Lowercased words, ``#hashtags`` and ``@mentions`` in order, URLs removed.

    ASCII text takes a shorter path with the same output (the search indexer tokenizes
    every post, and this was a fifth of its time per post): NFKC leaves ASCII alone, the
    token pattern has no case-specific class, and ``casefold`` of ASCII is ``lower``, so the
    text is lowered once, not each token; the URL pattern runs only on text that could hold a
    URL; without ``'`` or ``-`` no token needs trimming.
    """
    if text.isascii():
        low = text.lower()  # the URL pattern ignores case: matching the lowered text is the same
        found = _TOKEN_RE.findall(_URL_RE.sub(" ", low) if "http" in low or "www." in low else low)
        if "'" not in text and "-" not in text:
            return found
        trimmed = (tok.rstrip("'-").removesuffix("'s") for tok in found)
        return [tok for tok in trimmed if tok]
    text = _URL_RE.sub(" ", unicodedata.normalize("NFKC", text))
    out = []
    for tok in _TOKEN_RE.findall(text):
        tok = tok.casefold().rstrip("'’-")
        tok = tok.replace("’", "'")
        tok = tok.removesuffix("'s")
        if tok:
            out.append(tok)
    return out


def extract_terms(*texts: str | None) -> list[str]:
    """Distinct index terms of the given texts, in first-seen order, at most ``MAX_TERMS``.

    Stop words and one-letter words are dropped; hashtags and mentions keep their sigil
    *and* add the bare word, so ``#abflood`` matches a query for ``abflood``. This
    array, indexed, is what keyword queries use, since the portable MongoDB subset has
    no ``$text``.
    """
    seen: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        for tok in tokenize(text):
            words = [tok, tok[1:]] if tok[0] in "#@" else [tok]
            for w in words:
                if len(w) < 2 or w in STOP_WORDS or w in seen:
                    continue
                seen[w] = None
                if len(seen) >= MAX_TERMS:
                    return list(seen)
    return list(seen)
