"""What a ``u64`` term-id fast field would cost the top-terms aggregation, against the
``terms`` string field, on a small test index of bench posts (issue 13's next step, not built
into the schema): string ordinals turned into strings read a dictionary block each, and an
uncut aggregation of ids needs neither the count nor the recount of ``top_values``.

Usage (repository root)::

    python bench/term_id_field.py [POSTS] [FOLDER]

Fills FOLDER (default: a temporary one, removed after) with POSTS bench posts (default
300,000; terms sorted, as :func:`pipelines.search.schema.to_dict` hands them over, and the
same terms as ids of one vocabulary), then prints CPU ms per call (best of 5 after one
untimed call) of a ``terms`` aggregation (``size`` 100) of either field, cut at 1 and 200 per
segment and uncut, over all posts, a third and a thirtieth of them; and checks that both
fields' uncut counts agree.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import tantivy  # noqa: E402

from bench import search_posts as sp  # noqa: E402
from bench.top_terms_profile import best_cpu_ms  # noqa: E402


def fill(path: Path, n: int) -> tuple[tantivy.Index, dict[str, int]]:
    corpus = sp.corpus()
    vocab: dict[str, int] = {}
    for terms in corpus.terms:
        for term in terms:
            vocab.setdefault(term, len(vocab))
    b = tantivy.SchemaBuilder()
    b.add_text_field("terms", fast=True, tokenizer_name="raw")
    b.add_integer_field("tid", fast=True)
    b.add_integer_field("k", indexed=True, fast=True)
    index = tantivy.Index(b.build(), path=str(path))
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    texts = np.random.default_rng(1).integers(0, len(corpus.texts), n).tolist()
    for i, t in enumerate(texts):
        terms = sorted(corpus.terms[t])
        writer.add_document(tantivy.Document(terms=terms, tid=sorted(vocab[x] for x in terms), k=i % 30))
        if i % 50_000 == 49_999:
            writer.commit()
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index, vocab


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 300_000
    tmp = None if len(argv) > 1 else tempfile.mkdtemp(prefix="vigil-term-id-")
    path = Path(argv[1]) if len(argv) > 1 else Path(tmp or ".")
    path.mkdir(parents=True, exist_ok=True)
    try:
        index, vocab = fill(path, n)
        names = {i: t for t, i in vocab.items()}
        s = index.searcher()
        print(f"{s.num_docs:,} posts, {s.num_segments} segments; CPU ms per call, best of 5", flush=True)
        rng = tantivy.Query.range_query
        for label, q in (("all", tantivy.Query.all_query()),
                         ("1/3", rng(index.schema, "k", tantivy.FieldType.Integer, 0, 9)),
                         ("1/30", rng(index.schema, "k", tantivy.FieldType.Integer, 0, 0))):  # fmt: skip
            cells = []
            for field in ("terms", "tid"):
                for seg in (1, 200, 1_000_000):
                    agg = {"t": {"terms": {"field": field, "size": 100, "segment_size": seg}}}
                    cells.append(
                        f"{field} {'uncut' if seg > 200 else seg}: {best_cpu_ms(lambda a=agg, q=q: s.aggregate(q, a)):6.1f}"
                    )
            res = [
                s.aggregate(q, {"t": {"terms": {"field": f, "size": 100, "segment_size": 1_000_000}}})["t"][
                    "buckets"
                ]
                for f in ("terms", "tid")
            ]
            same = {b["key"]: b["doc_count"] for b in res[0]} == {
                names[int(b["key"])]: b["doc_count"] for b in res[1]
            }
            print(f"{label:<5} " + "  ".join(cells) + ("  same" if same else "  DIFFERENT"), flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
