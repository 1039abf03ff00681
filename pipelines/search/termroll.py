"""A rollup of term counts per time cell x source x language (x place), kept beside the index.

Why: exact top terms cost one read of every selected post's ~12 terms, which grows with
the selection (1M posts, everything selected: 245 ms CPU; 6.6M: 1.4 s, ``docs/search.md``).
The dashboard's default views select whole hours x sources x languages and nothing else,
or one named place; for those the answer is a sum of precomputed counts. This module keeps
those counts and answers from them, and says ``None`` for every other selection (the exact
aggregation of :func:`pipelines.search.aggregate.top_values` answers those).

**What is stored** (SQLite, ``search-index/vigil-terms.sqlite``): for each cell
``(level, start, source, lang)`` the number of posts carrying each term, as two packed
arrays (term ids ascending, counts). The term ids are the index's own (``tid``, of the one
append-only vocabulary :mod:`pipelines.search.termids`; version 3 kept a vocabulary of its
own, cleared by each rebuild): the counts are aggregated from the ``tid`` field uncut, with no
term strings in the indexer's path, and a rebuild leaves the ids alone. Levels are cells of 1, 24 and 384 hours aligned on
the epoch, one cell of the whole span (:data:`SPAN`, so "everything" reads one cell per
source x language) and one for posts without a time (:data:`NO_TIME`), so a range of whole
hours is covered by at most ~23 + 15 + n + 15 + 23 cells per source x language instead of
one per hour (:func:`cover`). A post naming places counts again, once per distinct place,
in cells whose ``source`` column is ``MARK place MARK source`` (:func:`_source_key`): a
selection of one place reads those (a post naming two places counts in both, so only a
selection of *one* place is a sum of cells).

**Map cells** (version 5, for drawn areas): a post with a map point counts once more per
level of the map grid (:mod:`pipelines.search.geocells`: 1, 0.1 and 0.01 degree cells), in
the cell of its ``map_lon``/``map_lat`` floats, keyed ``GEO_MARK + cell_key`` with language
"", stored at the :data:`SPAN` level only (:data:`NO_TIME` for a post without a time): a
drawn area is answered over all time only. They enter through :func:`post_cells` like every
other cell, as the post's finest map cell only (keeping only whether the post has a time, so
the accumulator holds one cell per grid cell, not per hour); :func:`cells_of` names its
coarser cells, and the fill sums those from the finer ones. :func:`area_top_terms` sums the cells provably
inside the area (coarse where they fit) and adds the *full* term counts of the rim posts
that test inside, read from the index, before cutting the top ``size``: exact, and its cost
grows with the rim (a ~0.01 degree band along the area's edge), not the area.

**Why it stays exact.** Every count comes from one function, :func:`post_cells`: the cells
(plain, place and map) and term ids of one index document. The indexer counts a batch's new
documents with it, and the versions those posts replace with it too: :func:`contributions`
reads each replaced post back from the index (one aggregation by id: its ``tid``, source,
language, places, time and map point, uncut; a cut raises) and counts it the same way. The
difference is applied, so a re-indexed or re-scored post replaces its counts, never adds to
them (a batch of posts none of which is indexed reads nothing). The rollup records the
index's *opstamp* (Tantivy's commit number, in ``meta.json``)
it describes, in the same SQLite transaction as the counts. Readers use it only when that
opstamp equals the index's, read before and after the rollup (:func:`top_terms`); the
indexer rebuilds it from the index (:meth:`TermRollup.rebuild`, every post read back the same
way, in chunks) when they differ at start-up, as after a kill between Tantivy's
commit and the rollup's. An index rebuild ends with that rebuild too.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import tantivy
from tantivy import Order, Query

from pipelines.search import geocells, termcount, termids
from pipelines.search.filters import Filters

ROLLUP_FILENAME = "vigil-terms.sqlite"
LEVELS = (384, 24, 1)
"""Cell sizes in hours, largest first (16 days, a day, an hour)."""
NO_TIME = 0
"""The level of the one cell per source x language for posts without a time."""
SPAN = -1
"""The level of the one cell per source x language holding every timed post (start 0): a
selection of all time reads a handful of cells (issue 13: 1M posts, everything selected,
41 ms CPU summing the 16-day and end cells before it)."""
ROLLUP_VERSION = 6
"""Bumped when what is stored changes (2: the :data:`SPAN` level, 3: place cells, 4: the index's
term ids instead of the rollup's own, 5: map cells, 6: post counts, :data:`POSTS_ID`); a rollup of another
version counts as out of step (readers aggregate, the indexer rebuilds it)."""
CHUNK = 1_000
"""Posts per :func:`contributions` request (bounds its buckets under Tantivy's 65,000)."""
TERMS_CAP = 60_000

POSTS_ID = 2**31 - 1
"""A term id no vocabulary reaches (ids are dense from 0 and stay below 2^30,
``aggregate.ID_UNCUT``) that every post carries once in each of its cells: so a cell's
number of posts is counted by the one path that counts its terms (fill, upkeep, rebuild)
and is exact for the same reasons. It is the last id of every stored cell; the readers of
terms drop it, and each cell's count is also kept in the small ``posts`` table, read by
:mod:`pipelines.search.rollcounts` for counts and timelines without the term blobs."""

Cell = termcount.Cell
"""``(hour since the epoch or None, source, lang)``."""
Counts = termcount.Counts
"""Posts per term id per cell (one definition, :mod:`pipelines.search.termcount`'s)."""
READ_MMAP_BYTES = 2**31
"""How much of the rollup a reader maps into memory (SQLite caps it at ~2 GB, a 10M-post
rollup is 1.4 GB): a cell's blobs span overflow pages, each a ``pread`` through SQLite's
2 MB page cache otherwise; mapped, a drawn area's ~750 map cells (25 MB) read in ~40 ms
instead of ~125 ms at 10M posts (issue 13). The file is never truncated under a reader (a
rebuild unlinks it; SQLite's own deletes leave its size), so the mapping stays valid."""


class RollupError(RuntimeError):
    """The rollup cannot be brought up to date (readers then fall back to the aggregation)."""


def rollup_path(index_dir: Path) -> Path:
    return Path(index_dir) / ROLLUP_FILENAME


def index_opstamp(index_dir: Path) -> int | None:
    """The opstamp of the index's last commit (``meta.json``); ``None`` when unreadable."""
    try:
        return int(json.loads((Path(index_dir) / "meta.json").read_text())["opstamp"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def contributions(searcher: tantivy.Searcher, schema: tantivy.Schema, ids: list[str]) -> Counts:
    """Posts per term per cell among the indexed posts with these ids (exact, from the index).

    Each indexed post is read back as the fields :func:`post_cells` needs (:func:`indexed_docs`)
    and counted by :func:`post_contributions`, the same function that counts new documents:
    one definition of a post's cells (plain, place and map cells alike) for both sides of
    the indexer's difference and for a rebuild from the index."""
    if not ids or not searcher.search(Query.term_set_query(schema, "id", ids), limit=1, count=True).count:
        return {}  # none indexed yet (the follow loop's usual batch of new posts): nothing to read
    return post_contributions(indexed_docs(searcher, schema, ids))


def _doc_agg(n: int) -> dict:
    """Per post id: its term ids, source, language, places, time and map point."""
    keywords = {
        k: {"terms": {"field": f, "size": TERMS_CAP, "segment_size": TERMS_CAP}}
        for k, f in (("t", termids.ID_FIELD), ("s", "source"), ("l", "lang"), ("p", "places"))
    }
    points = {k: {"min": {"field": f}} for k, f in (("ts", "ts"), ("la", "map_lat"), ("lo", "map_lon"))}
    return {"i": {"terms": {"field": "id", "size": n, "segment_size": n}, "aggs": keywords | points}}


def indexed_docs(searcher: tantivy.Searcher, schema: tantivy.Schema, ids: list[str]) -> list[dict]:
    """The indexed posts among ``ids`` as :func:`post_cells` reads documents: ``ts``, ``source``,
    ``lang``, ``places``, ``tid``, ``map_lat``/``map_lon``, from one aggregation by id per
    :data:`CHUNK` ids (halved while a chunk's buckets exceed Tantivy's limit, as posts with
    thousands of terms can). Times come back as nanoseconds in a float; the index keeps
    seconds, so rounding to the second is exact and gives the hour the new document had."""
    out: list[dict] = []
    pending = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    while pending:
        part = pending.pop()
        try:
            res = searcher.aggregate(Query.term_set_query(schema, "id", part), _doc_agg(len(part)))
        except ValueError as exc:
            if len(part) == 1:
                raise RollupError(f"post {part[0]!r} cannot be read back from the index ({exc})") from exc
            pending += [part[: len(part) // 2], part[len(part) // 2 :]]
            continue
        for b in res["i"]["buckets"]:
            doc: dict = {"id": b["key"]}
            for k, field in (("t", termids.ID_FIELD), ("s", "source"), ("l", "lang"), ("p", "places")):
                t = b[k]
                if t.get("sum_other_doc_count") or t.get("doc_count_error_upper_bound"):
                    raise RollupError(f"post {b['key']!r} holds more values than one aggregation returns")
                if t["buckets"]:
                    doc[field] = [x["key"] for x in t["buckets"]]
            if b["ts"]["value"] is not None:
                doc["ts"] = datetime.fromtimestamp(round(b["ts"]["value"] / 1e9), UTC)
            for k, field in (("la", "map_lat"), ("lo", "map_lon")):
                if b[k]["value"] is not None:
                    doc[field] = float(b[k]["value"])
            out.append(doc)
    return out


PLACE_MARK = "\x1f"
"""Starts (and ends) the place in a place cell's ``source`` column: ``MARK place MARK source``.
Filters refuse control characters in names, so no selectable source or place holds it."""


GEO_MARK = "\x1e"
"""Starts a map cell's ``source`` column: ``MARK`` and :func:`pipelines.search.geocells.cell_key`."""


def _source_key(source: str, place: str | None) -> str:
    """The ``source`` column of a cell: the source, or for a place cell ``MARK place MARK source``."""
    if any(m in source or (place is not None and m in place) for m in (PLACE_MARK, GEO_MARK)):
        raise RollupError("a source or place name holds a control character; the rollup cannot key it")
    return source if place is None else f"{PLACE_MARK}{place}{PLACE_MARK}{source}"


def cells_of(cell: Cell) -> list[tuple[int, int, str, str]]:
    """The stored cells ``(level, start, source, lang)`` an hour cell counts in."""
    hour, src, lang = cell
    if src.startswith(GEO_MARK):  # map cells: all time only (area_top_terms); the finest cell
        level = NO_TIME if hour is None else SPAN  # counts in its coarser cells too, finest first
        return [
            (level, 0, GEO_MARK + k, lang) for k in reversed(geocells.keys_from_fine(src[len(GEO_MARK) :]))
        ]
    if hour is None:
        return [(NO_TIME, 0, src, lang)]
    return [(SPAN, 0, src, lang)] + [(size, hour - hour % size, src, lang) for size in LEVELS]


def cover(first: int, last: int) -> list[tuple[int, int]]:
    """Cells ``(level, start)`` exactly covering hours ``first .. last - 1``: at each step the
    largest aligned cell that fits (a few small cells at each end, large ones between)."""
    out = []
    h = first
    while h < last:
        size = next(s for s in LEVELS if h % s == 0 and h + s <= last)
        out.append((size, h))
        h += size
    return out


_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v INTEGER);
CREATE TABLE IF NOT EXISTS cells (level INTEGER, start INTEGER, source TEXT, lang TEXT,
    ids BLOB, counts BLOB, PRIMARY KEY (level, start, source, lang)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS posts (level INTEGER, start INTEGER, source TEXT, lang TEXT,
    n INTEGER, PRIMARY KEY (level, source, lang, start)) WITHOUT ROWID;
"""


class TermRollup:
    """The indexer's handle: apply a batch's difference, or rebuild everything from the index."""

    def __init__(self, index_dir: Path) -> None:
        self.path = rollup_path(index_dir)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA_SQL)

    @property
    def opstamp(self) -> int | None:
        """The index commit this rollup describes (``None``: none, or another version's rollup)."""
        return _stored_opstamp(self.db)

    def _rollback(self) -> None:
        """Undo the open transaction."""
        self.db.execute("ROLLBACK")

    def _set_opstamp(self, opstamp: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO state (k, v) VALUES ('opstamp', ?)", (int(opstamp),))
        self.db.execute("INSERT OR REPLACE INTO state (k, v) VALUES ('version', ?)", (ROLLUP_VERSION,))

    def apply(self, delta: Counts, opstamp: int) -> None:
        """Add ``delta`` (a batch's new minus old contributions) and record ``opstamp``, atomically.

        The touched cells are read in a few statements, merged with
        :func:`pipelines.search.termcount.merge_counts` and written with one statement per
        table, instead of a read, a sort of the whole cell and two writes per cell (on the 1M
        bench index, 267 new posts: 435-510 -> 404-410 ms CPU). What is left is writing each
        touched cell whole; the all-time and 16-day cells are large (``docs/search.md``)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            grouped: dict[tuple[int, int, str, str], dict[int, int]] = defaultdict(dict)
            for cell, counts in delta.items():
                for key in cells_of(cell):
                    g = grouped[key]
                    for tid, n in counts.items():
                        g[tid] = g.get(tid, 0) + n
            stored, rows, gone = self._stored(list(grouped)), [], []
            for key, g in grouped.items():
                old = stored.get(key, (b"", b""))
                ids, n = termcount.merge_counts(
                    np.frombuffer(old[0], np.int32), np.frombuffer(old[1], np.int32), g
                )
                if (n < 0).any():
                    raise RollupError(f"cell {key} would hold a negative count: the rollup is out of step")
                if len(ids):
                    rows.append((*key, ids.astype(np.int32), n.astype(np.int32)))
                else:
                    gone.append(key)
            for table in ("cells", "posts"):
                self.db.executemany(
                    f"DELETE FROM {table} WHERE level=? AND start=? AND source=? AND lang=?", gone
                )
            self.db.executemany(
                "INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?)",
                [(*r[:4], r[4].tobytes(), r[5].tobytes()) for r in rows],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?, ?)",
                [(*r[:4], _posts_of(r[4], r[5])) for r in rows],
            )
            self._set_opstamp(opstamp)
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _stored(
        self, keys: list[tuple[int, int, str, str]]
    ) -> dict[tuple[int, int, str, str], tuple[bytes, bytes]]:
        """The stored ``ids`` and ``counts`` blobs of those of ``keys`` that have a row."""
        out = {}
        for i in range(0, len(keys), 200):  # 800 bound values a statement, under every SQLite's limit
            part = keys[i : i + 200]
            marks = ", ".join(["(?, ?, ?, ?)"] * len(part))
            for *key, ids, counts in self.db.execute(
                f"SELECT level, start, source, lang, ids, counts FROM cells "
                f"WHERE (level, start, source, lang) IN (VALUES {marks})",
                [v for k in part for v in k],
            ):
                out[tuple(key)] = (ids, counts)
        return out

    def rebuild(self, searcher: tantivy.Searcher, schema: tantivy.Schema, opstamp: int) -> None:
        """Replace everything with the contributions of every post the searcher sees (the
        repair after a kill between the two commits; slow: ~0.1 ms per post)."""
        self.begin()
        try:
            for ids in _chunks(ids_by_time(searcher), 20 * CHUNK):
                for cell, counts in contributions(searcher, schema, ids).items():
                    self._acc.add(cell, list(counts), list(counts.values()))
        except BaseException:
            self._rollback()
            raise
        self.finish(opstamp)

    def begin(self) -> None:
        """Start replacing everything (then :meth:`add` posts and :meth:`finish`)."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM cells")
        self.db.execute("DELETE FROM posts")
        self._acc = _new_accumulator()

    def add(self, docs: Iterable[dict]) -> None:
        """Count index documents (:func:`pipelines.search.schema.to_dict`) added since :meth:`begin`."""
        self._acc.add_posts(docs)

    def finish(self, opstamp: int | Callable[[], int]) -> None:
        """Write what :meth:`add` counted and record ``opstamp``, in one transaction.

        ``opstamp`` may be a call that returns it (the index's commit running on another
        thread, :meth:`~pipelines.search.indexer.Indexer.rebuild`): the cells are computed and
        written meanwhile, and it is called only to record it; if it raises, nothing is kept."""
        posts: list[tuple[int, int, str, str, int]] = []

        def rows() -> Iterable[tuple[int, int, str, str, bytes, bytes]]:
            for key, ids, counts in self._acc.cells():
                ids, counts = ids.astype(np.int32), counts.astype(np.int32)
                posts.append((*key, _posts_of(ids, counts)))
                yield (*key, ids.tobytes(), counts.tobytes())

        try:  # one statement per table for all cells (one execute each was ~70 us)
            self.db.executemany("INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?)", rows())
            self.db.executemany("INSERT OR REPLACE INTO posts VALUES (?, ?, ?, ?, ?)", posts)
            self._set_opstamp(opstamp() if callable(opstamp) else opstamp)
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            self._acc = _new_accumulator()

    def close(self) -> None:
        self.db.close()


def _posts_of(ids: np.ndarray, counts: np.ndarray) -> int:
    """A stored cell's number of posts: the count of :data:`POSTS_ID`, its last id."""
    if not len(ids) or ids[-1] != POSTS_ID:
        raise RollupError("a rollup cell lacks its post count")
    return int(counts[-1])


def _stored_opstamp(db: sqlite3.Connection) -> int | None:
    """The opstamp a rollup records, ``None`` when absent or of another :data:`ROLLUP_VERSION`."""
    state = dict(db.execute("SELECT k, v FROM state WHERE k IN ('opstamp', 'version')"))
    if state.get("version") != ROLLUP_VERSION or state.get("opstamp") is None:
        return None
    return int(state["opstamp"])


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def post_cells(doc: dict) -> tuple[list[Cell], set[int]]:
    """The hour cells (the plain one, then one per named place, then the finest map cell of
    its map point) and distinct term ids of one index document (``to_dict``'s output with
    ``tid``): the same values the index aggregates (``missing`` source or language is "")."""
    ts = doc.get("ts")
    hour = math.floor(ts.timestamp()) // 3600 if isinstance(ts, datetime) else None
    src, lang = (doc.get("source") or [""])[0], (doc.get("lang") or [""])[0]
    cells: list[Cell] = [(hour, _source_key(src, None), lang)]
    cells += [(hour, _source_key(src, p), lang) for p in dict.fromkeys(doc.get("places") or ())]
    timed = None if hour is None else 0  # map cells are all-time: only "has a time" is kept
    cells += [(timed, key, "") for key in _map_keys(doc)]
    return cells, {*(doc.get(termids.ID_FIELD) or ()), POSTS_ID}


def _map_keys(doc: dict) -> list[str]:
    """The ``source`` column of the map cell of a document's map point (none without one):
    the finest cell of the float the index holds (:func:`cells_of` adds its coarser cells, so
    a post is counted once here, not once per level: a third of the map cells' fill work)."""
    lon, lat = (_first(doc.get(f)) for f in ("map_lon", "map_lat"))
    if not isinstance(lon, float) or not isinstance(lat, float) or not geocells.valid_point(lon, lat):
        return []
    return [GEO_MARK + geocells.fine_key(lon, lat)]


def _first(value: object) -> object:
    return value[0] if isinstance(value, list | tuple) and value else value


def post_contributions(docs: Iterable[dict]) -> Counts:
    """Posts per term per cell among these index documents."""
    out: Counts = {}
    for cells, terms in map(post_cells, docs):
        for cell in cells:
            target = out.setdefault(cell, {})
            for t in terms:
                target[t] = target.get(t, 0) + 1
    return out


def _new_accumulator() -> termcount.Accumulator:
    return termcount.Accumulator(post_cells, cells_of, (*sorted(LEVELS), SPAN, NO_TIME))


def ids_by_time(searcher: tantivy.Searcher) -> list[str]:
    """Every indexed post id, oldest first."""
    n = searcher.num_docs
    if n == 0:
        return []
    hits = searcher.search(Query.all_query(), limit=n, order_by_field="ts", order=Order.Asc).hits
    if len(hits) != n:  # posts without a time left out of the ordering: take them all unordered
        hits = searcher.search(Query.all_query(), limit=n).hits
    return [searcher.doc(addr).get_first("id") for _, addr in hits]


# ----------------------------------------------------------------------- readers


def eligible(filters: Filters) -> bool:
    """A selection of whole hours x sources x languages (x one named place) and nothing else."""
    plain = Filters.make(
        since=filters.since,
        until=filters.until,
        sources=filters.sources,
        langs=filters.langs,
        places=filters.places[:1],
    )
    return filters == plain and all(
        t is None or (t.minute, t.second, t.microsecond) == (0, 0, 0) for t in (filters.since, filters.until)
    )


def _hour(t: datetime) -> int:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return int(t.timestamp()) // 3600


def top_terms(index_dir: Path, filters: Filters, size: int) -> list[tuple[str, int]] | None:
    """The ``size`` commonest terms of the selection with exact post counts (commonest first,
    ties in term order), or ``None`` when the rollup cannot answer it exactly: another kind
    of selection, no rollup, or a rollup not describing the index's latest commit."""
    if not eligible(filters) or (snap := snapshot(index_dir)) is None:
        return None
    db, before = snap
    try:
        blobs = _cells(db, filters)
        if index_opstamp(index_dir) != before:
            return None
    except sqlite3.Error:
        return None
    finally:
        db.close()
    if not blobs:
        return []
    ids = np.concatenate([np.frombuffer(b[0], np.int32) for b in blobs])
    counts = np.concatenate([np.frombuffer(b[1], np.int32) for b in blobs])
    return top_named(index_dir, ids, counts, size)


def snapshot(index_dir: Path) -> tuple[sqlite3.Connection, int] | None:
    """A read-only transaction on the rollup, open only when the rollup describes the index's
    latest commit, with that commit's opstamp (read before; the caller reads it again after
    its reads: unchanged, what it read describes that commit). ``None``: no usable rollup."""
    db_file = rollup_path(index_dir)
    if not db_file.is_file():
        return None
    before = index_opstamp(index_dir)
    try:
        # Not shared at once: a reader may hand it to a worker thread while it waits
        # (:func:`pipelines.search.areaterms.area_top_terms`).
        db = sqlite3.connect(
            f"file:{db_file}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error:
        return None
    try:
        db.execute(f"PRAGMA mmap_size={READ_MMAP_BYTES}")
        db.execute("BEGIN")  # one snapshot: the opstamp and the cells agree
        stored = _stored_opstamp(db)
    except sqlite3.Error:
        stored = None
    if stored is None or before is None or stored != before:
        db.close()
        return None
    return db, before


def top_named(
    index_dir: Path, ids: np.ndarray, counts: np.ndarray, size: int
) -> list[tuple[str, int]] | None:
    """The ``size`` largest summed counts named, ties in term order (every id tying with the
    ``size``-th named before the cut); ``None`` when the vocabulary cannot name them (readers
    then aggregate, which names the problem and the fix)."""
    terms = ids != POSTS_ID
    ids, counts = ids[terms], counts[terms]
    if not len(ids):
        return []
    return top_summed(index_dir, np.bincount(ids, weights=counts).astype(np.int64), size)


def top_summed(index_dir: Path, sums: np.ndarray, size: int) -> list[tuple[str, int]] | None:
    """:func:`top_named` of counts already summed per term id (``sums[id]``)."""
    present = np.flatnonzero(sums)
    if len(present) > size:
        kth = np.partition(sums[present], len(present) - size)[len(present) - size]
        present = present[sums[present] >= kth]  # ties at the cut are resolved by term
    try:
        names = termids.names(index_dir, present.tolist())
    except termids.TermIdsError:
        return None
    rows = sorted(((names[i], int(sums[i])) for i in present.tolist()), key=lambda kv: (-kv[1], kv[0]))
    return rows[:size]


def _cells(db: sqlite3.Connection, filters: Filters) -> list[tuple[bytes, bytes]]:
    where, args = _where(filters)
    # One index seek each (MIN and MAX apart, no other condition): a filter here would read
    # every hour cell's blobs, which live in the table's rows.
    first = db.execute("SELECT MIN(start) FROM cells WHERE level=1").fetchone()[0]
    last = db.execute("SELECT MAX(start) FROM cells WHERE level=1").fetchone()[0]
    out: list[tuple[bytes, bytes]] = []
    if filters.since is None and filters.until is None:
        out += _all_time(db, NO_TIME, filters)
    if first is None:
        return out
    lo = max(first, _hour(filters.since)) if filters.since else first
    hi = min(last + 1, _hour(filters.until)) if filters.until else last + 1
    if (lo, hi) == (first, last + 1):  # every timed post: the whole-span cells
        return out + _all_time(db, SPAN, filters)
    runs: dict[int, list[int]] = defaultdict(list)
    for size, start in cover(lo, hi):
        runs[size].append(start)
    for size, starts in runs.items():
        out += db.execute(
            f"SELECT ids, counts FROM cells WHERE level=? AND start IN ({','.join('?' * len(starts))}){where}",
            [size, *starts, *args],
        ).fetchall()
    return out


def _all_time(
    db: sqlite3.Connection, level: int, filters: Filters, columns: str = "ids, counts", table: str = "cells"
) -> list:
    """The cells of an all-time level (start 0) for ``filters``, by index ranges of ``source``.
    Why not :func:`_where` alone: these levels also hold the map cells (one per located grid
    cell, tens of thousands), which a plain selection's ``substr`` test would read row by row;
    plain sources are "" or start at " " or above, below and above the marks."""
    where, args = _where(filters)
    if filters.sources or filters.places:
        return db.execute(
            f"SELECT {columns} FROM {table} WHERE level=? AND start=0{where}", [level, *args]
        ).fetchall()
    langs = f" AND lang IN ({','.join('?' * len(filters.langs))})" if filters.langs else ""
    out: list[tuple[bytes, bytes]] = []
    for cond, bound in ((" AND source < ?", GEO_MARK), (" AND source >= ?", " ")):
        out += db.execute(
            f"SELECT {columns} FROM {table} WHERE level=? AND start=0{cond}{langs}",
            [level, bound, *filters.langs],
        ).fetchall()
    return out


def _where(filters: Filters) -> tuple[str, list[str]]:
    """The cells' source (or place and source, :func:`_source_key`) and language condition."""
    place = filters.places[0] if filters.places else None
    if filters.sources:
        keys = [_source_key(s, place) for s in filters.sources]
        where, args = f" AND source IN ({','.join('?' * len(keys))})", keys
    elif place is not None:  # every source of that place: MARK place MARK ... sorts below MARK place " "
        where, args = " AND source >= ? AND source < ?", [_source_key("", place), f"{PLACE_MARK}{place} "]
    else:  # plain cells only
        where, args = " AND substr(source, 1, 1) NOT IN (?, ?)", [PLACE_MARK, GEO_MARK]
    if filters.langs:
        where += f" AND lang IN ({','.join('?' * len(filters.langs))})"
        args += list(filters.langs)
    return where, args
