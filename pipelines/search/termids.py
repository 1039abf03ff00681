"""The one vocabulary of term ids behind the index's ``tid`` fast field.

Why ids: the exact top terms of a large selection cost a ``terms`` aggregation of the
``terms`` string field cut per segment, plus a count and a recount of the candidates,
and every string ordinal a segment hands on reads a dictionary block. The same counts
from an integer fast field holding each post's terms as ids are exact in one uncut
request and need no dictionary (issue 13, ``docs/search.md``); only the top ``size``
ids are turned back into strings, here.

**Where**: SQLite beside the index (``search-index/vigil-term-ids.sqlite``), one table
``vocab (id, term)``. Ids are dense (0, 1, 2 ... in first-seen order) so the fast field
bitpacks small, and **append-only**: a term keeps its id for the life of the file, across
restarts, re-indexing, re-scoring and ``index --rebuild`` (terms no post carries any more
stay; they cost a row).

**Crash order**: the one writer (the indexer) assigns the ids of a batch's terms and
commits them here (``synchronous=FULL``) *before* it builds the batch's documents, hence
before Tantivy's commit. A kill between the two leaves ids no document uses, which is
harmless; an id in the index without its term cannot happen. Should the file still be
missing or unreadable while the index holds documents, the indexer empties the index
first (it is derived) and then starts a new vocabulary (:meth:`TermIds.open_for_index`),
so no reader ever resolves an old id against a new vocabulary.

Readers (dashboard, CLI, detector; any number of processes) open the file read-only per
call and resolve only the ids they show (:func:`names`); a missing or damaged vocabulary is
a :class:`TermIdsError` naming the file and the rebuild command.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import tantivy
from tantivy import Query

from pipelines.search.index import POSITION_FILENAME, REBUILD_HINT, SearchIndexCorrupt

log = logging.getLogger(__name__)

VOCAB_FILENAME = "vigil-term-ids.sqlite"
ID_FIELD = "tid"
"""The integer fast field holding a post's terms as ids (:mod:`pipelines.search.schema`)."""


class TermIdsError(SearchIndexCorrupt):
    """The vocabulary is missing, unreadable or lacks an id the index holds."""


def vocab_path(index_dir: Path | str) -> Path:
    """Where the vocabulary of an index folder lives."""
    return Path(index_dir) / VOCAB_FILENAME


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def max_indexed_id(searcher: tantivy.Searcher) -> int | None:
    """The largest term id any indexed post carries (``None``: none carries one)."""
    if searcher.num_docs == 0:
        return None
    value = searcher.aggregate(Query.all_query(), {"m": {"max": {"field": ID_FIELD}}})["m"].get("value")
    return None if value is None else int(value)


class TermIds:
    """The writer's handle: ids by term, and :meth:`assign` for a batch's new terms."""

    def __init__(self, index_dir: Path | str) -> None:
        self.path = vocab_path(index_dir)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # durable before Tantivy's commit
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS vocab (id INTEGER PRIMARY KEY, term TEXT UNIQUE NOT NULL)"
            )
            self.ids: dict[str, int] = dict(self.db.execute("SELECT term, id FROM vocab"))
        except sqlite3.Error as exc:
            raise TermIdsError(
                f"term-id vocabulary {self.path} is unreadable ({exc}); {REBUILD_HINT}"
            ) from exc
        if self.ids and max(self.ids.values()) != len(self.ids) - 1:
            self.db.close()
            raise TermIdsError(f"term-id vocabulary {self.path} has gaps in its ids; {REBUILD_HINT}")

    @classmethod
    def open_for_index(
        cls, index_dir: Path | str, writer: tantivy.IndexWriter, searcher: tantivy.Searcher
    ) -> TermIds:
        """The indexer's way in: the vocabulary, checked against what the index holds.

        When it is missing or unusable while the index holds ids (or holds an id beyond
        it), the index is emptied and committed first, then a new vocabulary started: the
        caller then refills the index (its stored position is removed here too, so
        ``index --loop`` rebuilds). Never the other way round: a new vocabulary beside old
        documents would name their ids wrongly.
        """
        path = vocab_path(index_dir)
        top = max_indexed_id(searcher)
        try:
            vocab = cls(index_dir) if path.is_file() or top is None else None
        except TermIdsError:
            vocab = None
        if vocab is not None and (top is None or top < len(vocab.ids)):
            return vocab
        if vocab is not None:
            vocab.close()
        if searcher.num_docs:
            log.warning(
                "term-id vocabulary %s is missing, unreadable or behind the index: emptying the index "
                "to refill it from MongoDB",
                path,
            )
            writer.delete_all_documents()
            writer.commit()
        (Path(index_dir) / POSITION_FILENAME).unlink(missing_ok=True)
        _remove(path)
        return cls(index_dir)

    def assign(self, terms: Iterable[str]) -> dict[str, int]:
        """Give the terms not seen before the next ids (first-seen order) and commit them;
        returns ids by term. Call before building documents that carry these terms."""
        new = [t for t in dict.fromkeys(terms) if t not in self.ids]
        if new:
            start = len(self.ids)
            rows = [(start + i, t) for i, t in enumerate(new)]
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT INTO vocab (id, term) VALUES (?, ?)", rows)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.ids.update((t, i) for i, t in rows)
        return self.ids

    def close(self) -> None:
        self.db.close()


def names(index_dir: Path | str, ids: Iterable[int]) -> dict[int, str]:
    """The terms of these ids, read-only (readers): :class:`TermIdsError` when the vocabulary
    is missing, unreadable, or lacks one of them (it never should: ids are committed first)."""
    wanted = sorted(set(ids))
    path = vocab_path(index_dir)
    if not wanted:
        return {}
    if not path.is_file():
        raise TermIdsError(f"term-id vocabulary {path} is missing; {REBUILD_HINT}")
    out: dict[int, str] = {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            for i in range(0, len(wanted), 900):
                part = wanted[i : i + 900]
                marks = ",".join("?" * len(part))
                out |= dict(db.execute(f"SELECT id, term FROM vocab WHERE id IN ({marks})", part))
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise TermIdsError(f"term-id vocabulary {path} is unreadable ({exc}); {REBUILD_HINT}") from exc
    if len(out) < len(wanted):
        missing = [i for i in wanted if i not in out][:5]
        raise TermIdsError(f"term-id vocabulary {path} lacks ids the index holds ({missing}); {REBUILD_HINT}")
    return out
