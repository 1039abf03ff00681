"""Search-index benchmark: N resampled real posts through the indexer, then p50/p95 of
eleven query shapes x (count, hourly timeline, top 20 terms, newest 50), each answer
checked against an independent count.

Usage (repository root)::

    python bench/search.py [-n 1000000] [--repeats 20] [--index-dir DIR [--keep]]

Posts come from :mod:`bench.search_posts` (real tweet texts, synthetic times, sources,
scores and places). MongoDB is skipped: a stand-in store hands the posts to the real
:class:`pipelines.search.indexer.Indexer`: the fill is ``index --rebuild``'s code path
(:meth:`~pipelines.search.indexer.Indexer.rebuild`), and the follow loop's rate
(``run_once``) is measured apart on 20,000 posts. With ``--index-dir``
an index already filled with the same N posts is reused (query timings only); ``--keep``
leaves it on disk. Prints index rate, size on disk, peak RSS, and per cell p50/p95 in ms
of wall time and, in brackets, the p95 of the process's CPU time (what the query cost
apart from waiting for a shared machine's cores), with ``ok`` when the answer equals the independent count (numpy over the regenerated
posts and :func:`pipelines.search.matches` per distinct text) or ``WRONG``. The first
call of each cell is the checked one and is not timed. No target is asserted.

Count, hourly timeline and newest page are answered as the pages and the CLI answer them
(:data:`ROLLED`): a selection of whole hours x sources x languages (or one place) is
counted and binned from the term rollup's post counts, and its newest page is asked of the
newest hours holding it (:mod:`pipelines.search.rollcounts`); ``--no-rollup`` times the
index alone for before/after figures.

The ``area`` shape is a polygon drawn on the Map (:data:`AREA`), selected anew by every
timed call through :func:`pipelines.search.select.selection_query` (its inner map cells and
its tested rim) and its top terms by :func:`pipelines.search.areaterms.area_top_terms`;
``--area-reference`` answers it the way before map cells, for before/after figures. An
index reused from ``--index-dir`` whose rollup is rebuilt from the index
(:meth:`~pipelines.search.termroll.TermRollup.rebuild`) lacks map cells until the upkeep
counts them there: the area's top terms then aggregate (fill a new index to time the rollup).
"""

from __future__ import annotations

import argparse
import functools
import heapq
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import search_posts as sp  # noqa: E402
from pipelines.search import aggregate, areaterms, halves, matches, parse, rollcounts, termroll  # noqa: E402
from pipelines.search.compile import filters_query  # noqa: E402
from pipelines.search.filters import Filters, GeoArea  # noqa: E402
from pipelines.search.index import SearchIndex  # noqa: E402
from pipelines.search.indexer import Indexer  # noqa: E402
from pipelines.search.schema import SCHEMA_VERSION  # noqa: E402
from pipelines.search.select import area_ids, ids_query, selection_query  # noqa: E402

TOP = 20
PAGE = 50
AREA_BOX = {"lat": (50.9, 52.0), "lon": (-114.6, -113.9)}
"""A box cutting through Calgary's jittered points."""
AREA = GeoArea(
    ring=((-114.6, 50.9), (-113.9, 50.9), (-113.9, 52.0), (-114.6, 52.0), (-114.6, 50.9)), by_place=True
)
"""The same box drawn on the Map: a polygon tested on the map point, answered by the real
selection path (:func:`pipelines.search.select.selection_query`; its top terms by
:func:`pipelines.search.areaterms.area_top_terms`). Its even-odd test keeps a point when
``west <= lon < east`` and ``south <= lat < north`` (the independent check says the same)."""
AREA_REFERENCE = False
"""``--area-reference``: answer the area the way before map cells (every point of the box
read and tested, :func:`pipelines.search.select.area_ids`; top terms aggregated)."""

SHAPES: dict[str, dict[str, Any]] = {
    "term": {"query": "flood"},
    "phrase": {"query": '"state of emergency"'},
    "and_not": {"query": "flood -calgary"},
    "prefix": {"query": "evacuat*"},
    "or": {"query": "(fire OR flood OR earthquake) -rescue"},
    "time_range": {
        "query": "flood",
        "since": sp.START + timedelta(days=10),
        "until": sp.START + timedelta(days=20),
    },
    "score_range": {"query": "flood", "threat": (0.7, 1.0)},
    "source_lang": {"query": "flood", "sources": ["twitter"], "langs": ["en"]},
    "week_source": {
        "since": sp.START + timedelta(days=10),
        "until": sp.START + timedelta(days=17),
        "sources": ["twitter"],
    },
    "place": {"places": ["Calgary"]},
    "area": {"area": AREA},
    "everything": {},
}
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "count": lambda s, q: aggregate.count(s, q),
    "hourly": lambda s, q: aggregate.histogram(s, q, "1h"),
    "top_terms": lambda s, q: aggregate.top_values(s, q, "terms", TOP),
    "newest_50": lambda s, q: aggregate.newest_ids(s, q, PAGE),
}
"""Each operation as the index alone answers it (the area's, and every shape's with ``--no-rollup``)."""
ROLLED: dict[str, Callable[[Path, Any, Any, Filters], Any]] = {
    "count": lambda path, s, q, f: (
        n if (n := rollcounts.post_count(path, f)) is not None else aggregate.count(s, q)
    ),
    "hourly": lambda path, s, q, f: (
        h if (h := rollcounts.histogram(path, f, "1h")) is not None else aggregate.histogram(s, q, "1h")
    ),
    "newest_50": lambda path, s, q, f: rollcounts.newest_ids(s, q, path, f, PAGE),
}
"""The same as the pages and the CLI answer them (:func:`pipelines.read.queries.count_matching`,
``timeline``, ``posts_page``): from the term rollup's post counts where the selection is whole
hours x sources x languages (or one place), else as :data:`OPS`."""
NO_ROLLUP = False
"""``--no-rollup``: count, hourly and newest page from the index alone (before/after figures)."""


class BenchStore:
    """The reads the indexer makes of the store, answered from generated posts.

    It stands for both repositories the indexer reads, ``store.feed`` and ``store.posts``.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.feed = self.posts = self
        self.generate_s = 0.0
        self._k: int | None = None
        self._posts: list[dict[str, Any]] = []

    def _post(self, seq: int) -> dict[str, Any]:
        k = (seq - 1) // sp.CHUNK
        if k != self._k:
            t0 = time.perf_counter()
            self._k, self._posts = k, list(sp.posts_of(sp.chunk(k, self.n)))
            self.generate_s += time.perf_counter() - t0
        return self._posts[(seq - 1) % sp.CHUNK]

    def changed_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        return [self._post(s) for s in range(seq + 1, min(self.n, seq + limit) + 1)]

    def with_seqs(self, seqs: list[int]) -> list[dict[str, Any]]:
        return [self._post(s) for s in seqs if 1 <= s <= self.n]

    def current_seq(self) -> int:
        return self.n

    def estimated_count(self) -> int:
        return self.n

    def iterate(self, query: dict[str, Any], batch_size: int = 0) -> Iterator[dict[str, Any]]:
        for k in range((self.n + sp.CHUNK - 1) // sp.CHUNK):
            t0 = time.perf_counter()
            batch = list(sp.posts_of(sp.chunk(k, self.n)))
            self.generate_s += time.perf_counter() - t0
            yield from batch


def fill(index: SearchIndex, n: int) -> dict[str, float]:
    """Index ``n`` posts the way ``index --rebuild`` does (:meth:`Indexer.rebuild`: add,
    commit per 10,000, position file), then wait for merges; seconds in all and generating."""
    store = BenchStore(n)
    indexer = Indexer(store, index)
    spent = {"rollup_s": 0.0, "rollup_cpu_s": 0.0}
    assert indexer.rollup is not None
    for step in ("begin", "add", "finish"):  # the term rollup's share of the fill, reported apart
        setattr(indexer.rollup, step, _timing(getattr(indexer.rollup, step), spent))
    t0, c0 = time.perf_counter(), _cpu_s()
    indexer.rebuild()
    indexer.close()
    return {"total_s": time.perf_counter() - t0, "generate_s": store.generate_s, "cpu_s": _cpu_s() - c0,
            **spent}  # fmt: skip


def _timing(fn: Callable[..., Any], spent: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        t, c = time.perf_counter(), _cpu_s()
        try:
            return fn(*args)
        finally:
            spent["rollup_s"] += time.perf_counter() - t
            spent["rollup_cpu_s"] += _cpu_s() - c

    return timed


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (Tantivy's indexing and merge threads too)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def follow_rate(n: int, sample: int = 20_000, rollup: bool = True) -> float:
    """Posts/s of the follow loop (:meth:`Indexer.run_once`: delete by id, add, commit per
    batch of 2,000, position file, term rollup unless ``rollup`` is false), measured on a
    small separate index of ``sample`` posts."""
    with tempfile.TemporaryDirectory(prefix="vigil-bench-follow-") as tmp:
        store = BenchStore(min(n, sample))
        indexer = Indexer(store, SearchIndex.create(Path(tmp) / "search-index"))
        if not rollup and indexer.rollup is not None:
            indexer.rollup.close()
            indexer.rollup = None
        t0 = time.perf_counter()
        while indexer.run_once():
            pass
        indexer.close()
        return store.n / (time.perf_counter() - t0 - store.generate_s)


def shape_query(schema: Any, kw: dict[str, Any], searcher: Any = None) -> Any:
    """The shape's Tantivy query. The area through the real selection path with a
    ``searcher`` (it reads the rim's points); without one (the older bench scripts), the
    plain inclusive box :data:`AREA_BOX` on the map point, as before map cells."""
    import tantivy
    from tantivy import FieldType, Occur, Query

    area = kw.get("area")
    q = filters_query(schema, Filters.make(**{k: v for k, v in kw.items() if k != "area"}))
    if area is None:
        return q
    if searcher is not None:
        if AREA_REFERENCE:
            return ids_query(schema, area_ids(searcher, schema, q, area))
        return selection_query(searcher, schema, Filters.make(**kw))
    parts = [(Occur.Must, q)] + [
        (Occur.Must, Query.range_query(schema, f"map_{axis}", FieldType.Float, lo, hi))
        for axis, (lo, hi) in AREA_BOX.items()
    ]
    return tantivy.Query.boolean_query(parts)


# ----------------------------------------------------------------------- independent counts


def _mask(cols: dict[str, np.ndarray], kw: dict[str, Any], text_ok: np.ndarray | None) -> np.ndarray:
    m = np.ones(len(cols["i"]), dtype=bool)
    if text_ok is not None:
        m &= text_ok[cols["text"]]
    if kw.get("since"):
        m &= cols["ts"] >= int(kw["since"].timestamp())
    if kw.get("until"):
        m &= cols["ts"] < int(kw["until"].timestamp())
    if kw.get("sources"):
        m &= np.isin(cols["source"], [sp.SOURCES.index(s) for s in kw["sources"]])
    if kw.get("langs"):
        m &= np.isin(cols["lang"], [sp.LANGS.index(s) for s in kw["langs"]])
    if kw.get("threat"):
        lo, hi = kw["threat"]
        m &= (cols["threat"] >= lo) & (cols["threat"] <= hi)
    if kw.get("places"):
        m &= np.isin(cols["place"], [i for i, c in enumerate(sp.CITIES) if c[0] in kw["places"]])
    if kw.get("area"):  # AREA's even-odd test in closed form (lower edges in, upper out)
        (la0, la1), (lo0, lo1) = AREA_BOX["lat"], AREA_BOX["lon"]
        m &= (cols["place"] >= 0) & (cols["lat"] >= la0) & (cols["lat"] < la1)
        m &= (cols["lon"] >= lo0) & (cols["lon"] < lo1)
    return m


@functools.cache
def _texts_matching(corpus: sp.Corpus, query: str) -> np.ndarray:
    """Which distinct texts the keyword query matches (:func:`matches`, the Python evaluator)."""
    tree = parse(query)
    return np.array([matches(tree, list(t), x) for t, x in zip(corpus.terms, corpus.texts, strict=True)])


def expected(n: int) -> dict[str, dict[str, Any]]:
    """Per shape: count, hourly counts, top terms, and the newest ``PAGE`` times, by
    regenerating the posts and testing them in numpy (texts with :func:`matches`)."""
    corpus = sp.corpus()
    text_ok = {
        name: _texts_matching(corpus, kw["query"]) if kw.get("query") else None for name, kw in SHAPES.items()
    }
    hours = sp.SPAN_S // 3600 + 1
    acc = {name: {"count": 0, "hourly": np.zeros(hours, np.int64), "texts": np.zeros(len(corpus.texts), np.int64),
                  "newest": []} for name in SHAPES}  # fmt: skip
    t0 = int(sp.START.timestamp())
    for cols in sp.chunks(n):
        for name, kw in SHAPES.items():
            m, a = _mask(cols, kw, text_ok[name]), acc[name]
            a["count"] += int(m.sum())
            a["hourly"] += np.bincount((cols["ts"][m] - t0) // 3600, minlength=hours)
            a["texts"] += np.bincount(cols["text"][m], minlength=len(corpus.texts))
            ts = cols["ts"][m]
            top = ts[np.argsort(-ts, kind="stable")[:PAGE]].tolist()
            a["newest"] = heapq.nlargest(PAGE, a["newest"] + top)
    out = {}
    for name, a in acc.items():
        terms: Counter[str] = Counter()
        for t in np.nonzero(a["texts"])[0].tolist():
            for term in corpus.terms[t]:
                terms[term] += int(a["texts"][t])
        nz = np.nonzero(a["hourly"])[0]
        hourly = a["hourly"][nz[0] : nz[-1] + 1].tolist() if len(nz) else []
        out[name] = {"count": a["count"], "hourly": hourly, "newest": a["newest"],
                     "top_terms": sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]}  # fmt: skip
    return out


def check(op: str, answer: Any, want: dict[str, Any], n: int, kw: dict[str, Any]) -> bool:
    """Does the index's answer equal the independent count?"""
    if op == "count":
        return answer == want["count"]
    if op == "hourly":
        return [c for _, c in answer] == want["hourly"]
    if op == "top_terms":
        return answer == want["top_terms"]
    # newest: each id is selected, and their times are the selection's newest times
    times = []
    for row in (int(i.split(":")[1]) for i in answer):
        cols = sp.chunk(row // sp.CHUNK, n)
        one = {k: v[row % sp.CHUNK : row % sp.CHUNK + 1] for k, v in cols.items()}
        t = int(one["text"][0])
        said = not kw.get("query") or matches(
            parse(kw["query"]), list(sp.corpus().terms[t]), sp.corpus().texts[t]
        )
        if not (said and _mask(one, kw, None)[0]):
            return False
        times.append(int(one["ts"][0]))
    return times == want["newest"]


# ----------------------------------------------------------------------- main


AGG = "top_terms_aggregation"
"""Extra row: the aggregation alone, for the selections the term rollup answers (before/after)."""


def top_terms(index: SearchIndex, searcher: Any, q: Any, f: Filters) -> list[tuple[str, int]]:
    """Top terms as the pages answer them (``queries.breakdown``): from the term rollup when it
    answers the selection ``f`` (an area: its inner map cells plus the rim), else the
    aggregation (``q``: the selection's query, or a callable building it)."""
    if f.area is not None:
        rolled = (
            None
            if AREA_REFERENCE
            else areaterms.area_top_terms(index.path, f, TOP, index.searcher, index.schema)
        )
    else:
        rolled = termroll.top_terms(index.path, f, TOP)
    if rolled is not None:
        return rolled
    bound = halves.selection_bound(searcher, f)  # a small selection stays on one thread
    return aggregate.top_values(searcher, q() if callable(q) else q, "terms", TOP, index.path, bound)


def _timed(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """p50/p95 wall and p95 CPU in ms of ``fn`` (its first answer kept, not timed)."""
    first = fn()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"p50": statistics.median(times), "p95": _p95(times), "cpu_p95": _p95(cpu), "answer": first}


def _p95(values: list[float]) -> float:
    """The value at 95 % of the sorted values' index range, as ``bench/dashboard.py``'s
    ``pct``. Why not ``int(0.95 * n)``: it is one rank high, the slowest value for up to 20
    repeats (the figures printed with it are marked in ``docs/search.md``)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(path: Path, n: int, read_only: bool = False) -> dict[str, Any]:
    """Fill a new index at ``path``, or reuse one filled with the same ``n`` posts (with
    ``read_only``, only reuse, writing nothing there)."""
    meta_file = path / "bench-meta.json"
    meta = {"n": n, "schema_version": SCHEMA_VERSION, "chunk": sp.CHUNK, "corpus": len(sp.corpus().texts)}
    if meta_file.is_file():
        old = json.loads(meta_file.read_text())
        if {k: old.get(k) for k in meta} == meta:
            print(f"reusing the index at {path} ({n:,} posts; fill figures of {old['filled_at']})")
            if not read_only:
                _rollup_in_step(path)
            return old
    if read_only:
        raise SystemExit(f"--read-only: {path} holds no bench index of {n:,} posts")
    if path.exists():
        if not meta_file.is_file() and any(path.iterdir()):
            raise SystemExit(f"{path} is not empty and holds no bench index; give an empty or new folder")
        shutil.rmtree(path)
    index = SearchIndex.create(path)
    times = fill(index, n)
    meta |= times | {
        "rss_fill_mb": _rss_mb(),
        "size": _size(path),
        "filled_at": datetime.now(UTC).isoformat(),
    }
    meta_file.write_text(json.dumps(meta))
    return meta


def _rollup_in_step(path: Path) -> None:
    """Rebuild a reused index's term rollup from the index when it is of another version or
    behind (as the indexer does at start), and say how long that took."""
    rollup = termroll.TermRollup(path)
    try:
        if rollup.opstamp == termroll.index_opstamp(path):
            return
        index = SearchIndex.open(path)
        t0, c0 = time.perf_counter(), _cpu_s()
        rollup.rebuild(index.searcher(), index.schema, termroll.index_opstamp(path) or 0)
        print(f"term rollup rebuilt from the index (another version or behind): "
              f"{time.perf_counter() - t0:,.1f} s, {_cpu_s() - c0:,.1f} s CPU")  # fmt: skip
    finally:
        rollup.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument(
        "--index-dir", type=Path, help="fill (or reuse) the index here instead of a temporary one"
    )
    ap.add_argument("--keep", action="store_true", help="leave the index in --index-dir")
    ap.add_argument("--ops", default=",".join(OPS), help="operations to time, comma-separated")
    ap.add_argument(
        "--area-reference", action="store_true",
        help="answer the area shape as before map cells (every box point tested; top terms aggregated)",
    )  # fmt: skip
    ap.add_argument(
        "--read-only", action="store_true",
        help="time an index already in --index-dir writing nothing into its folder (no rollup "
             "rebuild: a rollup of another version is not used) and skip the follow-loop rate",
    )  # fmt: skip
    ap.add_argument(
        "--no-rollup", action="store_true",
        help="count, hourly timeline and newest page from the index alone (not the rollup's post counts)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    global AREA_REFERENCE, NO_ROLLUP
    AREA_REFERENCE, NO_ROLLUP = args.area_reference, args.no_rollup
    tmp = None if args.index_dir else tempfile.mkdtemp(prefix="vigil-bench-search-")
    path = args.index_dir or Path(tmp) / "search-index"
    try:
        ops = [op for op in args.ops.split(",") if op]
        if set(ops) - set(OPS):
            raise SystemExit(f"--ops: one or more of {', '.join(OPS)}")
        return run(path, args.n, args.repeats, ops, args.read_only)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        elif not (args.keep or args.read_only) and (path / "bench-meta.json").is_file():
            shutil.rmtree(path, ignore_errors=True)


def run(
    path: Path, n: int, repeats: int, only: list[str] | None = None, read_only: bool = False
) -> dict[str, Any]:
    print(f"posts: {n:,} drawn from {len(sp.corpus().texts):,} real texts ({sp.corpus().origin})")
    meta = prepare(path, n, read_only)
    ops = {op: fn for op, fn in OPS.items() if only is None or op in only}
    secs, gen = meta["total_s"], meta["generate_s"]
    print(f"indexed {n:,} posts in {secs:,.1f} s = {n / secs:,.0f} posts/s "
          f"({n / max(secs - gen, 1e-9):,.0f} posts/s without generating the posts)")  # fmt: skip
    if "rollup_s" in meta:
        size = termroll.rollup_path(path).stat().st_size
        print(f"of which the term rollup (counting the posts, writing its cells) {meta['rollup_s']:,.1f} s "
              f"({meta['rollup_cpu_s']:,.1f} s CPU); its file {size / 1e6:,.1f} MB ({size / n:,.0f} B/post)")  # fmt: skip
    if meta.get("cpu_s"):
        print(f"CPU time of the fill {meta['cpu_s']:,.1f} s = {n / meta['cpu_s']:,.0f} posts per CPU second "
              "(all threads; independent of other load on the machine)")  # fmt: skip
    rates = [0.0] * 4 if read_only else [follow_rate(n, rollup=on) for on in (True, False, True, False)]
    print("follow loop: skipped (--read-only)" if read_only else f"follow loop (index --loop): {max(rates[0::2]):,.0f} posts/s without generating the posts "
          f"({max(rates[1::2]):,.0f} without the term rollup; best of two each)")  # fmt: skip
    print(f"size on disk {meta['size'] / 1e6:,.1f} MB ({meta['size'] / n:,.0f} B/post); "
          f"peak RSS after the fill {meta['rss_fill_mb']:,.0f} MB")  # fmt: skip
    index = SearchIndex.open(path)
    searcher = index.searcher()
    print(f"segments: {searcher.num_segments}")
    results: dict[str, dict[str, Any]] = {}
    for name, kw in SHAPES.items():
        q = shape_query(index.schema, kw, searcher)
        results[name] = {"matches": aggregate.count(searcher, q)}
        f = Filters.make(**kw)
        for op, fn in ops.items():
            if op == "top_terms":
                fn = functools.partial(lambda s, q, f: top_terms(index, s, q, f), f=f)
            elif op in ROLLED and not NO_ROLLUP:
                fn = functools.partial(lambda s, q, f, op: ROLLED[op](path, s, q, f), f=f, op=op)
            if "area" in kw:  # each call selects anew: reading the rim is part of the cost
                select = functools.partial(shape_query, index.schema, kw)
                if op == "top_terms":
                    fn = functools.partial(
                        lambda s, q, f, sel: top_terms(index, s, lambda: sel(s), f), f=f, sel=select
                    )
                elif op == "count" and not AREA_REFERENCE:  # as the pages count it (queries.count_matching)
                    fn = functools.partial(
                        lambda s, q, f, sel: (
                            n
                            if (n := areaterms.area_count(path, f, index.searcher, index.schema)) is not None
                            else OPS["count"](s, sel(s))
                        ),
                        f=f,
                        sel=select,
                    )
                else:
                    fn = functools.partial(lambda s, q, op, sel: OPS[op](s, sel(s)), op=op, sel=select)
            first = fn(searcher, q)
            times, cpu = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                fn(searcher, q)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            results[name][op] = {"p50": statistics.median(times), "p95": _p95(times), "cpu_p95": _p95(cpu),
                                 "answer": first}  # fmt: skip
        rolled = termroll.eligible(f) or (areaterms.area_eligible(f) and not AREA_REFERENCE)
        if rolled and "top_terms" in ops and not read_only:
            results[name][AGG] = _timed(
                lambda q=q, kw=kw: aggregate.top_values(
                    searcher,
                    shape_query(index.schema, kw, searcher) if "area" in kw else q,
                    "terms",
                    TOP,
                    path,
                ),
                repeats,
            )
    rss_q = _rss_mb()
    t0 = time.perf_counter()
    want = expected(n)
    print(
        f"peak RSS after the queries {rss_q:,.0f} MB; independent counts took {time.perf_counter() - t0:,.1f} s"
    )
    print(f"{'shape':<12} {'matches':>10}  " + "  ".join(f"{op + ' p50/p95 (cpu p95)':>30}" for op in ops))
    wrong = 0
    for name, res in results.items():
        cells = []
        for op in ops:
            ok = check(op, res[op].pop("answer"), want[name], n, SHAPES[name])
            res[op]["exact"] = ok
            wrong += not ok
            r = res[op]
            cells.append(
                f"{r['p50']:>7.1f} /{r['p95']:>7.1f} ({r['cpu_p95']:>6.1f}) {'ok' if ok else 'WRONG':>5}"
            )
        print(f"{name:<12} {res['matches']:>10,}  " + "  ".join(cells))
    print(f"top {TOP} terms by the aggregation alone, for the selections the term rollup answers above:")
    for name, res in results.items():
        if AGG in res:
            r = res[AGG]
            ok = r.pop("answer") == want[name]["top_terms"]
            r["exact"] = ok
            wrong += not ok
            print(f"{name:<12} {res['matches']:>10,}  {r['p50']:>7.1f} /{r['p95']:>7.1f} ({r['cpu_p95']:>6.1f}) "
                  f"{'ok' if ok else 'WRONG':>5}")  # fmt: skip
    slow = sum(res[op]["p95"] >= 100 for res in results.values() for op in ops)
    slow_cpu = sum(res[op]["cpu_p95"] >= 100 for res in results.values() for op in ops)
    print(
        f"cells: {len(SHAPES) * len(ops)}, p95 >= 100 ms: {slow} (CPU time: {slow_cpu}), not exact: {wrong}"
    )
    return {"meta": meta, "results": results, "wrong": wrong}


if __name__ == "__main__":
    main()
