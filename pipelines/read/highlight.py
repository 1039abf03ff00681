"""Highlighting keyword matches in untrusted post text, safely.

Post text, titles and authors come from strangers. Anything Vigil turns into HTML is
escaped first (:func:`html.escape`) and only then wrapped in ``<mark>`` tags that Vigil
writes itself, so a post containing ``<script>`` shows as that text. The patterns come
from the same parse tree as the MongoDB filter (:mod:`pipelines.search`), so what is
highlighted is what made the post match. No I/O, no streamlit.
"""

from __future__ import annotations

import html
import re

from pipelines.search import Phrase, Prefix, Term, _phrase_regex, parse, positive_leaves

MARK_OPEN = '<mark style="background:#ffe08a;padding:0 2px;border-radius:2px">'
MARK_CLOSE = "</mark>"


def match_patterns(query: str) -> list[re.Pattern[str]]:
    """Case-insensitive patterns of the words a match must contain (not under a NOT).

    An invalid query gives no patterns (the filter widget reports the syntax error).
    """
    try:
        tree = parse(query)
    except ValueError:
        return []
    out: list[re.Pattern[str]] = []
    for leaf in positive_leaves(tree):
        match leaf:
            case Term(word):
                out.append(re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE))
            case Prefix(stem):
                out.append(re.compile(r"(?<!\w)" + re.escape(stem) + r"\w*", re.IGNORECASE))
            case Phrase(words):
                out.append(re.compile(_phrase_regex(words), re.IGNORECASE))
    return out


def match_spans(text: str, patterns: list[re.Pattern[str]]) -> list[tuple[int, int]]:
    """Sorted, merged ``(start, end)`` character spans of every match in ``text``."""
    spans = sorted((m.start(), m.end()) for p in patterns for m in p.finditer(text) if m.end() > m.start())
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight_html(text: str | None, patterns: list[re.Pattern[str]]) -> str:
    """``text`` as HTML: every character escaped, matches wrapped in ``<mark>``.

    Escaping happens per segment *after* matching on the raw text, so a match never
    splits an entity like ``&amp;`` and no byte of the post is ever emitted unescaped.
    Newlines become ``<br>``.
    """
    text = text or ""
    parts: list[str] = []
    pos = 0
    for start, end in match_spans(text, patterns):
        parts.append(html.escape(text[pos:start]))
        parts.append(MARK_OPEN + html.escape(text[start:end]) + MARK_CLOSE)
        pos = end
    parts.append(html.escape(text[pos:]))
    return "".join(parts).replace("\n", "<br>")


def snippet(text: str | None, patterns: list[re.Pattern[str]], context: int = 50) -> str:
    """Plain-text keyword in context: the first match marked with ``«»``, for tables."""
    text = " ".join((text or "").split())
    spans = match_spans(text, patterns)
    if not spans:
        return text[: 2 * context]
    start, end = spans[0]
    left = max(0, start - context)
    right = min(len(text), end + context)
    return (
        ("…" if left else "")
        + text[left:start]
        + "«"
        + text[start:end]
        + "»"
        + text[end:right]
        + ("…" if right < len(text) else "")
    )
