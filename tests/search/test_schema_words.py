"""Schema v2's ``words`` field (whitespace-tokenized text) holds exactly ``tokenize``'s tokens
at ``tokenize``'s positions, for texts with odd whitespace, URLs, apostrophes and emoji."""

from __future__ import annotations

import tantivy
from tantivy import Query

from pipelines.core.text import tokenize
from pipelines.search.schema import SCHEMA, to_document

TEXTS = [
    "State of\u00a0emergency\tdeclared\nin  Calgary",
    "Calgary's river: flood's peak http://t.co/x at 5pm #ABflood @CityOfCalgary",
    "évacuation\u2003obligatoire — Montréal ROAD closed 🚧 road-closed",
    "rock’n’roll don't STOP\r\nstop",
]


def test_words_are_tokenize_tokens_at_their_positions() -> None:
    index = tantivy.Index(SCHEMA)
    writer = index.writer(15_000_000, 1)
    for i, text in enumerate(TEXTS):
        writer.add_document(to_document({"_id": f"t{i}", "text": text}))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    vocab = sorted({w for t in TEXTS for w in tokenize(t)})
    for i, text in enumerate(TEXTS):
        words = tokenize(text)
        bigrams = set(zip(words, words[1:], strict=False))
        for a in vocab:
            hit = searcher.search(Query.term_query(SCHEMA, "words", a), 10).hits
            assert (f"t{i}" in {searcher.doc(d).get_first("id") for _, d in hit}) == (a in words)
        for a, b in [*bigrams, *((b, a) for a, b in bigrams if (b, a) not in bigrams)]:
            hits = searcher.search(Query.phrase_query(SCHEMA, "words", [a, b]), 10).hits
            found = f"t{i}" in {searcher.doc(d).get_first("id") for _, d in hits}
            assert found == ((a, b) in bigrams), (text, a, b)
