"""The keyword query language of Explore and watchlists, parsed into a safe syntax tree.

Grammar (case-insensitive operators, implicit AND between adjacent terms)::

    query   := or
    or      := and ( "OR" and )*
    and     := unary ( ["AND"] unary )*
    unary   := ("NOT" | "-") unary | atom
    atom    := WORD | WORD* | "quoted phrase" | "(" query ")"

Examples: ``flood calgary``, ``"state of emergency" OR evacuation``, ``#abflood -rt``,
``(fire OR blaze) AND NOT drill``, ``evacuat*``.

Why a parser of our own: the portable MongoDB subset has no ``$text``, and user input must
never reach MongoDB as an operator. The tree compiles to filters on the indexed ``terms``
array (exact words, anchored prefixes) plus, for quoted phrases, a case-insensitive regex
of the *escaped* phrase (a literal, so no ReDoS). Nothing of the user's string is ever
interpreted as MongoDB syntax. :func:`matches` evaluates the same tree in Python (for
highlighting and tests), and a property test checks both agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipelines.core.text import STOP_WORDS, tokenize

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
MAX_DEPTH = 12
MIN_PREFIX_CHARS = 3


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed or is too large; the message says where and why."""


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Term:
    """One indexed word (``#tag`` and ``@user`` keep their sigil)."""

    word: str


@dataclass(frozen=True)
class Prefix:
    """Words starting with ``stem`` (written ``stem*``)."""

    stem: str


@dataclass(frozen=True)
class Phrase:
    """Consecutive words, matched on the text as a literal."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Prefix | Phrase | Not | And | Or


# --------------------------------------------------------------------------- lexer

_LEX = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<phrase>[^"]*)"?|(?P<minus>-)(?=\S)|(?P<word>[^\s()"]+))')


@dataclass(frozen=True)
class _Tok:
    kind: str
    value: str
    pos: int


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(q):
        m = _LEX.match(q, pos)
        if not m or m.end() == pos:
            if q[pos:].strip() == "":
                break
            raise QuerySyntaxError(f"unexpected character {q[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        value = m.group(kind) if kind else ""
        start = m.start(kind) if kind else pos
        if kind == "phrase":
            start -= 1  # the opening quote
        if kind == "word" and value.upper() in ("AND", "OR", "NOT"):
            kind = value.upper()
        toks.append(_Tok(kind, value, start))
        pos = m.end()
    return toks


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, toks: list[_Tok], end: int = 0) -> None:
        self.toks = toks
        self.end = end
        self.i = 0
        self.terms = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_(0)
        tok = self.peek()
        if tok is not None:
            raise QuerySyntaxError(f"unexpected {tok.value or tok.kind!r} at position {tok.pos}")
        return node

    def or_(self, depth: int) -> Node:
        nodes = [self.and_(depth)]
        while (tok := self.peek()) and tok.kind == "OR":
            self.take()
            nodes.append(self.and_(depth))
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self, depth: int) -> Node:
        nodes = [self.unary(depth)]
        while (tok := self.peek()) and tok.kind not in ("OR", "rp"):
            if tok.kind == "AND":
                self.take()
            nodes.append(self.unary(depth))
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(f"query nested deeper than {MAX_DEPTH} levels")
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError(f"query ends where a word was expected (position {self.end})")
        if tok.kind in ("NOT", "minus"):
            self.take()
            return Not(self.unary(depth + 1))
        return self.atom(depth)

    def atom(self, depth: int) -> Node:
        tok = self.take()
        if tok.kind == "lp":
            node = self.or_(depth + 1)
            close = self.peek()
            if close is None or close.kind != "rp":
                raise QuerySyntaxError(f"missing ')' for '(' at position {tok.pos}")
            self.take()
            return node
        if tok.kind == "phrase":
            words = tuple(tokenize(tok.value))
            if not words:
                raise QuerySyntaxError(f"empty phrase at position {tok.pos}")
            self._count(len(words))
            return Phrase(words) if len(words) > 1 else self._word(words[0], tok.pos)
        if tok.kind == "word":
            return self._word_token(tok)
        raise QuerySyntaxError(f"unexpected {tok.value or tok.kind!r} at position {tok.pos}")

    def _word_token(self, tok: _Tok) -> Node:
        raw = tok.value
        if raw.endswith("*"):
            stem_tokens = tokenize(raw.rstrip("*"))
            if len(stem_tokens) != 1 or len(stem_tokens[0]) < MIN_PREFIX_CHARS:
                raise QuerySyntaxError(
                    f"a prefix needs at least {MIN_PREFIX_CHARS} letters before '*' (position {tok.pos})"
                )
            self._count(1)
            return Prefix(stem_tokens[0])
        words = tokenize(raw)
        if not words:
            raise QuerySyntaxError(f"{raw[:40]!r} at position {tok.pos} contains no searchable word")
        self._count(len(words))
        if len(words) == 1:
            return self._word(words[0], tok.pos)
        return Phrase(tuple(words))  # e.g. "covid-19/vaccine" written without quotes

    def _word(self, word: str, pos: int) -> Node:
        bare = word.lstrip("#@")
        if len(bare) < 2 or bare in STOP_WORDS:
            raise QuerySyntaxError(
                f"{word!r} at position {pos} is too common to search on its own; put it in a quoted phrase"
            )
        return Term(word)

    def _count(self, n: int) -> None:
        self.terms += n
        if self.terms > MAX_TERMS:
            raise QuerySyntaxError(f"query has more than {MAX_TERMS} words")


def parse(query: str) -> Node | None:
    """Parse a user query; ``None`` for an empty one. Raises :class:`QuerySyntaxError`."""
    if not isinstance(query, str):
        raise QuerySyntaxError(f"query must be text, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query longer than {MAX_QUERY_CHARS} characters ({len(query)})")
    if not query.strip():
        return None
    return _Parser(_lex(query), len(query)).parse()


# --------------------------------------------------------------------------- compile


def _phrase_regex(words: tuple[str, ...]) -> str:
    # Escaped words joined by "non-word characters": a literal pattern, linear to match.
    return r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"


def to_mongo(node: Node | None) -> dict[str, Any]:
    """Compile a tree to a MongoDB filter over ``terms`` and ``text`` (``{}`` for none)."""
    if node is None:
        return {}
    match node:
        case Term(word):
            return {"terms": word}
        case Prefix(stem):
            return {"terms": {"$regex": "^" + re.escape(stem)}}
        case Phrase(words):
            indexed = [w for w in words if len(w.lstrip("#@")) >= 2 and w not in STOP_WORDS]
            regex = {"text": {"$regex": _phrase_regex(words), "$options": "i"}}
            # The terms narrow the scan through the index; the regex checks adjacency.
            return {"$and": [*({"terms": w} for w in indexed), regex]} if indexed else regex
        case Not(inner):
            return {"$nor": [to_mongo(inner)]}
        case And(nodes):
            return {"$and": [to_mongo(n) for n in nodes]}
        case Or(nodes):
            return {"$or": [to_mongo(n) for n in nodes]}
    raise TypeError(f"not a query node: {node!r}")


def compile_query(query: str) -> dict[str, Any]:
    """Parse and compile in one step."""
    return to_mongo(parse(query))


# --------------------------------------------------------------------------- evaluate


def matches(node: Node | None, terms: list[str] | set[str], text: str) -> bool:
    """Evaluate a tree against one post's ``terms`` and ``text`` (same meaning as Mongo)."""
    if node is None:
        return True
    match node:
        case Term(word):
            return word in terms
        case Prefix(stem):
            return any(t.startswith(stem) for t in terms)
        case Phrase(words):
            indexed = [w for w in words if len(w.lstrip("#@")) >= 2 and w not in STOP_WORDS]
            return all(w in terms for w in indexed) and bool(
                re.search(_phrase_regex(words), text, re.IGNORECASE)
            )
        case Not(inner):
            return not matches(inner, terms, text)
        case And(nodes):
            return all(matches(n, terms, text) for n in nodes)
        case Or(nodes):
            return any(matches(n, terms, text) for n in nodes)
    raise TypeError(f"not a query node: {node!r}")


def positive_leaves(node: Node | None) -> list[Term | Prefix | Phrase]:
    """The terms, prefixes and phrases a match must contain (those not under a NOT), in order.

    One walk for every reader of "what did the query ask for" (highlighting, its patterns).
    """
    out: list[Term | Prefix | Phrase] = []

    def walk(n: Node | None, negated: bool) -> None:
        match n:
            case Term() | Prefix() | Phrase() if not negated:
                out.append(n)
            case Not(inner):
                walk(inner, not negated)
            case And(nodes) | Or(nodes):
                for c in nodes:
                    walk(c, negated)

    walk(node, False)
    return out


def positive_words(node: Node | None) -> list[str]:
    """Words and phrases a match must contain (not under a NOT), for highlighting."""
    out: list[str] = []
    for leaf in positive_leaves(node):
        match leaf:
            case Term(word) | Prefix(word):
                out.append(word)
            case Phrase(words):
                out.append(" ".join(words))
    return out
