"""The one writer of the search index: follows MongoDB's posts by change number (``seq``).

MongoDB is the record; the index is derived. The store stamps every inserted or
re-scored post with a new ``seq`` (:meth:`pipelines.store.feed.ChangeFeed.next_seq`). The indexer
reads posts with ``seq`` above its position in ``seq`` order, writes each idempotently
(delete by id, then add), commits the batch, and only then stores its position in
``vigil-position.json`` beside the index (atomic rename). A SIGKILL at any moment
therefore converges: a batch committed but not recorded is written again (the same
documents replace themselves), a batch not committed is lost and re-read.

Late writers: change numbers are handed out before the write lands, so a post with a
lower ``seq`` may appear after a higher one was indexed. Missing numbers below the
cursor are kept as *gaps* and looked up again each pass for :data:`GAP_GRACE_S`
seconds (numbers of duplicates or re-scored posts never come back, so gaps expire);
the stored position never passes an open gap, so a restart re-reads it as well.

Term ids: before a batch's documents are built, its new terms get ids in the vocabulary
beside the index (:mod:`pipelines.search.termids`), committed there first; so every ``tid``
a Tantivy commit holds is already named.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tantivy

from pipelines.search import termcount, termids, termroll
from pipelines.search.index import SearchIndex
from pipelines.search.schema import SCHEMA, to_dict, with_term_ids

log = logging.getLogger(__name__)

BATCH = 2_000
GAP_GRACE_S = 10.0
MAX_GAPS = 50_000
REBUILD_OVERLAP = 10_000
"""After a rebuild, the loop re-reads this many change numbers before the rebuild's start
(idempotent), for posts whose number was handed out before and written after it began."""
POSITION_FILE = "vigil-position.json"
REBUILD_CHUNK = 10_000
"""Posts per step of a rebuild: documents built, new term ids committed (one fsync), rollup counted."""
REBUILD_COMMIT = 50_000
"""Posts per index commit of a rebuild. Why not fewer: each commit waits for the indexing
thread and leaves one more segment to merge; at 300,000 bench posts, commits every 10,000
posts cost 5,780 posts per CPU second against ~7,000 every 50,000 (100,000: no better)."""

COLLECT_GENERATION = 1
"""The generations a rebuild's per-commit pass examines: the objects allocated since the
previous pass (survivors move to the oldest generation, where the pass no longer walks
them). Why not a full collection: it walks every object the process holds each time (the
bench's corpus, the accumulator's cells, the caller's own data), 0.2-0.4 s per commit at
1M bench posts, 5.5 s of a ~120 s fill; a cycle made garbage after surviving one pass waits
for the first full collection after the rebuild."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a rebuild (the caller collects once per commit).

    Why: a rebuild allocates ~30 container objects per post, so the collector ran thousands of
    times, each pass walking the batch in hand: off, the fill did 8,050 instead of 6,950 posts
    per CPU second (300,000 bench posts). Nothing a rebuild keeps forms cycles; the one
    young-generation pass per commit (:data:`COLLECT_GENERATION`) bounds what any would hold."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _batched(items: Iterable[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    """``items`` in lists of ``n`` (the last one shorter, none empty)."""
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def read_position(index_dir: Path) -> int | None:
    """The stored position, or ``None`` when there is none (the loop then rebuilds)."""
    try:
        return int(json.loads((index_dir / POSITION_FILE).read_text())["seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_position(index_dir: Path, seq: int) -> None:
    tmp = index_dir / (POSITION_FILE + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(json.dumps({"seq": int(seq)}))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / POSITION_FILE)


class Indexer:
    """Holds the index writer (one per index: :class:`~pipelines.search.index.SearchIndexLocked`
    when another process has it) and the in-memory cursor and gaps."""

    def __init__(self, store: Any, index: SearchIndex, batch: int = BATCH) -> None:
        self.store = store
        self.index = index
        self.writer = index.writer()
        self.vocab = termids.TermIds.open_for_index(index.path, self.writer, index.searcher())
        self.batch = batch
        self.cursor = read_position(index.path) or 0
        self.gaps: dict[int, float] = {}
        self.rollup: termroll.TermRollup | None = termroll.TermRollup(index.path)

    def _rollup_in_step(self) -> bool:
        """Does the term rollup describe the index's last commit (so a difference applies)?"""
        return self.rollup is not None and self.rollup.opstamp == termroll.index_opstamp(self.index.path)

    def _old_contributions(self, ids: list[str]) -> termroll.Counts | None:
        """The batch's posts as the index holds them before it (``None``: rebuild after it)."""
        if not self._rollup_in_step():
            return None
        try:
            return termroll.contributions(self.index.searcher(), self.index.schema, ids)
        except (termroll.RollupError, ValueError, RuntimeError):
            return None

    def _update_rollup(self, docs: list[dict[str, Any]], old: termroll.Counts | None, opstamp: int) -> None:
        """Apply a committed batch (its index documents, in write order) to the term rollup:
        new minus old counts when the rollup was in step before the batch, else a rebuild
        from the index. A failure leaves the rollup behind the index (readers then
        aggregate) and stops its upkeep until restart."""
        if self.rollup is None:
            return
        try:
            if old is None:
                self.rollup.rebuild(self.index.searcher(), self.index.schema, opstamp)
            else:
                final = list({d["id"]: d for d in docs}.values())  # a post written twice: its last version
                self.rollup.apply(termcount.difference(termroll.post_contributions(final), old), opstamp)
        except (termroll.RollupError, ValueError, RuntimeError, sqlite3.Error) as exc:
            log.warning("term rollup left behind the index (%s); top terms aggregate until a restart", exc)
            self.rollup = None

    def _rollup_step(self, step: str, *args: Any) -> None:
        """One step of the rollup's rebuild beside the index's (a failure stops its upkeep)."""
        if self.rollup is None:
            return
        try:
            getattr(self.rollup, step)(*args)
        except (termroll.RollupError, ValueError, RuntimeError, sqlite3.Error) as exc:
            log.warning("term rollup not rebuilt (%s); top terms aggregate until a restart", exc)
            self.rollup.close()
            self.rollup = None

    def _docs(self, posts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Index documents of these posts, their new terms' ids committed first."""
        docs = [to_dict(post) for post in posts]
        known = self.vocab.ids  # the common case, every term known, costs one lookup each
        ids = self.vocab.assign([t for d in docs for t in d.get("terms", ()) if t not in known])
        return [with_term_ids(d, ids) for d in docs]

    def _write(self, posts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        docs = self._docs(posts)
        for d in docs:
            self.writer.delete_documents_by_term("id", d["id"])
            self.writer.add_document(tantivy.Document.from_dict(d, SCHEMA))
        return docs

    def run_once(self) -> int:
        """Index one batch of changed posts (and any late ones); returns posts written."""
        now = time.monotonic()
        fresh = self.store.feed.changed_after(self.cursor, self.batch)
        late = self.store.feed.with_seqs(sorted(self.gaps)) if self.gaps else []
        if not fresh and not late:
            self._expire(now)
            if self.rollup is not None and not self._rollup_in_step():
                self._update_rollup([], None, termroll.index_opstamp(self.index.path) or 0)
            return 0
        ids = list(dict.fromkeys(str(p["_id"]) for p in [*late, *fresh]))
        old = self._old_contributions(ids)
        docs = self._write(late) + self._write(fresh)
        n = len(docs)
        self._update_rollup(docs, old, self.writer.commit())
        for post in late:
            self.gaps.pop(int(post["seq"]), None)
        if fresh:
            seen = {int(p["seq"]) for p in fresh}
            top = max(seen)
            for s in range(self.cursor + 1, top):
                if s not in seen and len(self.gaps) < MAX_GAPS:
                    self.gaps.setdefault(s, now)
            self.cursor = top
        self._expire(now)
        _write_position(self.index.path, self.safe_position())
        return n

    def _expire(self, now: float) -> None:
        old = [s for s, t in self.gaps.items() if now - t > GAP_GRACE_S]
        for s in old:
            del self.gaps[s]
        if old:
            _write_position(self.index.path, self.safe_position())

    def safe_position(self) -> int:
        """Below this every change is indexed: the cursor, or just before the oldest open gap."""
        return min(self.gaps) - 1 if self.gaps else self.cursor

    def catch_up(self) -> int:
        """Run batches until nothing new is left (open gaps may remain); returns posts written."""
        total = 0
        while (n := self.run_once()) > 0:
            total += n
        return total

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Recreate the index from every post in MongoDB; returns the number indexed.

        The stored position is removed first and written last, so a rebuild killed
        half-way is redone by the next ``index --loop``.

        Each index commit runs on a second thread while this one collects garbage and builds
        the next step's documents (Tantivy releases the GIL while it writes the segment; the
        writer is not touched again until the commit returns). Why: a commit waits for the
        indexing thread to write the segment, and the fill used to wait idle for it (300,000
        bench posts: 5.6 of 39.5 s). The last commit likewise runs while the term rollup
        computes its cells (:meth:`~pipelines.search.termroll.TermRollup.finish`).
        """
        (self.index.path / POSITION_FILE).unlink(missing_ok=True)
        start = self.store.feed.current_seq()
        total = self.store.posts.estimated_count()
        self.writer.delete_all_documents()
        self._rollup_step("begin")
        done = committed = 0
        pending: Future[int] | None = None
        with _collector_paused(), ThreadPoolExecutor(1, thread_name_prefix="vigil-commit") as pool:
            for posts in _batched(self.store.posts.iterate({}, batch_size=self.batch), REBUILD_CHUNK):
                documents = self._prepare(posts)
                if pending is not None:
                    pending.result()
                    pending = None
                    if progress:
                        progress(committed, total)
                for doc in documents:
                    self.writer.add_document(doc)
                done += len(documents)
                if done - committed >= REBUILD_COMMIT:
                    pending = pool.submit(self.writer.commit)
                    gc.collect(COLLECT_GENERATION)  # one young pass per commit (_collector_paused)
                    committed = done
            if pending is not None:
                pending.result()
            final = pool.submit(self.writer.commit)
            self._rollup_step("finish", final.result)
            final.result()  # raises here if the commit failed (the rollup then recorded nothing)
        if progress:
            progress(done, max(total, done))
        self.cursor, self.gaps = max(0, start - REBUILD_OVERLAP), {}
        _write_position(self.index.path, self.cursor)
        return done

    def _prepare(self, posts: list[dict[str, Any]]) -> list[tantivy.Document]:
        """These posts' index documents (their new term ids committed first), counted in the
        term rollup; nothing is written to the index yet."""
        docs = self._docs(posts)
        documents = [tantivy.Document.from_dict(d, SCHEMA) for d in docs]
        self._rollup_step("add", docs)
        return documents

    def loop(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Follow the store until ``stop`` is set (rebuilds first when there is no position)."""
        if read_position(self.index.path) is None:
            log.info("search index has no position: rebuilding from MongoDB")
            log.info("rebuilt the search index: %d posts", self.rebuild())
        while not stop.is_set():
            n = self.run_once()
            if n:
                log.info("indexed %d posts (position %d)", n, self.safe_position())
            elif stop.wait(interval_s):
                break

    def close(self) -> None:
        """Wait for merges and release the writer lock."""
        self.writer.wait_merging_threads()
        self.vocab.close()
        if self.rollup is not None:
            self.rollup.close()
