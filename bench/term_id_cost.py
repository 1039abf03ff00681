"""What the term ids add to building index documents: CPU us per post (best of 7) of
``to_dict`` + ``Document.from_dict`` without ids, and of the indexer's way with them
(:meth:`pipelines.search.indexer.Indexer._docs`: look up or assign ids, then ``tid``), on
bench posts with every term already in the vocabulary (the steady state).

Usage (repository root)::

    python bench/term_id_cost.py [POSTS]   # default 20,000
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tantivy  # noqa: E402

from bench.search import BenchStore  # noqa: E402
from pipelines.search.schema import SCHEMA, to_dict, with_term_ids  # noqa: E402
from pipelines.search.termids import TermIds  # noqa: E402


def _best_us(fn: Any, n: int) -> float:
    best = float("inf")
    for _ in range(7):
        c = time.process_time()
        fn()
        best = min(best, time.process_time() - c)
    return best / n * 1e6


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 20_000
    posts = list(BenchStore(n).posts.iterate({}, batch_size=2000))
    with tempfile.TemporaryDirectory() as tmp:
        vocab = TermIds(tmp)
        vocab.assign(t for p in posts for t in to_dict(p).get("terms", ()))

        def plain() -> None:
            for p in posts:
                tantivy.Document.from_dict(to_dict(p), SCHEMA)

        def with_ids() -> None:  # a batch of 2,000 at a time, as the indexer reads them
            for i in range(0, n, 2000):
                docs = [to_dict(p) for p in posts[i : i + 2000]]
                known = vocab.ids
                ids = vocab.assign([t for d in docs for t in d.get("terms", ()) if t not in known])
                for d in docs:
                    tantivy.Document.from_dict(with_term_ids(d, ids), SCHEMA)

        a, b = _best_us(plain, n), _best_us(with_ids, n)
        print(f"{n:,} posts, {len(vocab.ids):,} terms: documents {a:.1f} us/post without ids, "
              f"{b:.1f} with ids (+{b - a:.1f})")  # fmt: skip
        vocab.close()


if __name__ == "__main__":
    main(sys.argv[1:])
