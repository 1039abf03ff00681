"""Counting (cell, term id) pairs for a whole rollup at once: the term rollup's fill.

Why a module of its own: the counting is pure numpy over packed keys and knows nothing of
Tantivy or SQLite; :mod:`pipelines.search.termroll` gives it the cells of a document
(``post_cells``), the stored cells each counts in (``cells_of``) and the order of levels,
finest first, and writes what :meth:`Accumulator.cells` yields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain

import numpy as np

Cell = tuple[int | None, str, str]
"""``(hour since the epoch or None, source, lang)``."""
Key = tuple[int, int, str, str]
"""A stored cell: ``(level, start, source, lang)``."""
Counts = dict[Cell, dict[int, int]]
"""Posts per term id per cell (a batch's contributions, or their difference)."""


def difference(new: Counts, old: Counts) -> Counts:
    """``new - old`` per cell and term (zeros kept out): what a re-indexed batch changes."""
    out: Counts = {}
    for sign, side in ((1, new), (-1, old)):
        for cell, counts in side.items():
            target = out.setdefault(cell, {})
            for term, n in counts.items():
                target[term] = target.get(term, 0) + sign * n
    return {c: {t: n for t, n in d.items() if n} for c, d in out.items() if any(d.values())}


class Accumulator:
    """Counts of (hour cell, term id) for a rebuild, packed in int64 keys ``cell << 32 | id``.

    Why this shape: a fill counts ~16 (cell, term) pairs per post; one Python call per pair
    was a third of the fill's time. Each :meth:`add_posts` call turns a batch into one
    numpy array, sorted and counted at once (a *run*). Runs are merged like a binary
    counter: the newest two whenever the newer holds at least half as many pairs as the
    older (a stable sort of two sorted runs, which numpy does by merging them), so each pair
    is merged about log2(runs) times and memory stays near the distinct pairs.
    """

    RUN = 2_000_000
    """Pairs buffered before they are sorted into a run (~130,000 posts; 32 MB): fewer,
    larger runs mean fewer merges (1M bench posts: 100 runs of 10,000 posts merged 5.7 s)."""

    def __init__(
        self,
        post_cells: Callable[[dict], tuple[list[Cell], set[int]]],
        cells_of: Callable[[Cell], list[Key]],
        level_order: tuple[int, ...],
    ) -> None:
        self.post_cells, self.cells_of, self.level_order = post_cells, cells_of, level_order
        self.cell_ids: dict[Cell, int] = {}
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        self.raw: list[np.ndarray] = []
        self.raw_n = 0

    def add_posts(self, docs: Iterable[dict]) -> None:
        """Count each index document's distinct term ids once in each of its cells."""
        cell_of: list[int] = []
        id_lists: list[list[int]] = []
        index = self.cell_ids
        for cells, ids in map(self.post_cells, docs):
            if not ids:
                continue
            ids = sorted(ids)
            for cell in cells:
                cell_of.append(index.setdefault(cell, len(index)))
                id_lists.append(ids)
        if not cell_of:
            return
        lens = np.fromiter(map(len, id_lists), np.int64, len(id_lists))
        ids = np.fromiter(chain.from_iterable(id_lists), np.int64, int(lens.sum()))
        self.raw.append((np.repeat(np.asarray(cell_of, np.int64), lens) << 32) | ids)
        self.raw_n += len(self.raw[-1])
        if self.raw_n >= self.RUN:
            self._flush()

    def _flush(self) -> None:
        """Count the buffered pairs into one run."""
        if self.raw:
            keys = np.concatenate(self.raw)
            self.raw, self.raw_n = [], 0
            self._push(keys, None)

    def add(self, cell: Cell, term_ids: list[int], counts: list[int]) -> None:
        """Count ``counts[i]`` posts for ``term_ids[i]`` in ``cell`` (a rebuild from the index)."""
        if not term_ids:
            return
        c = self.cell_ids.setdefault(cell, len(self.cell_ids))
        keys = (np.int64(c) << 32) | np.asarray(term_ids, np.int64)
        self._push(keys, np.asarray(counts, np.int64))

    def _push(self, keys: np.ndarray, weights: np.ndarray | None) -> None:
        self.runs.append(_count(keys, weights))
        while len(self.runs) > 1 and 2 * len(self.runs[-1][0]) >= len(self.runs[-2][0]):
            self.runs[-2:] = [_merge(self.runs[-2:])]

    def _merged(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        if not self.runs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return _merge(self.runs)

    def cells(self) -> Iterable[tuple[tuple[int, int, str, str], np.ndarray, np.ndarray]]:
        """Every stored cell (all levels) with its term ids ascending and counts.

        Finest level first, and each level from the one before where its cells are unions of
        that level's (a day of 24 hour cells, 16 days of days, the span of 16-day cells; a
        0.1 degree map cell of 0.01 degree cells, a degree of 0.1 degree cells): each
        sum then reads the smaller counts of the level below instead of every hour's again
        (1M bench posts: 6.0 -> ~3 s CPU)."""
        done = self._merged()
        self.runs = []
        hour_cells = [cell for cell, _ in sorted(self.cell_ids.items(), key=lambda kv: kv[1])]
        spans = np.searchsorted(done[0] >> 32, np.arange(len(hour_cells) + 1))  # each hour cell's slice
        stored_of = [_tiers(self.cells_of(cell)) for cell in hour_cells]
        order = {level: i for i, level in enumerate(self.level_order)}
        tiers = sorted({t for stored in stored_of for t in stored}, key=lambda t: (order[t[0]], t[1]))
        prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        for tier in tiers:
            parents: dict[tuple[int, int, str, str], int] = {}
            parent_of = np.full(len(hour_cells), -1, np.int64)
            for i, stored in enumerate(stored_of):
                if tier in stored:
                    parent_of[i] = parents.setdefault(stored[tier], len(parents))
            if not parents:
                prev = None
                continue
            uniq, sums = _level_counts(parent_of, prev, done, spans)
            prev = (parent_of, uniq, sums)
            bounds = np.searchsorted(uniq >> 32, np.arange(len(parents) + 1))
            for key, p in parents.items():
                lo, hi = bounds[p], bounds[p + 1]
                if hi > lo:
                    yield key, uniq[lo:hi] & 0xFFFFFFFF, sums[lo:hi]


def _tiers(keys: list[tuple[int, int, str, str]]) -> dict[tuple[int, int], tuple[int, int, str, str]]:
    """A cell's stored keys by *tier* ``(level, n)``: the ``n``-th key of that level in
    :func:`cells_of`'s order (time cells have one key per level; a map cell has three at
    one level, finest first), so each tier can be summed from the one before."""
    out: dict[tuple[int, int], tuple[int, int, str, str]] = {}
    for key in keys:
        n = 0
        while (key[0], n) in out:
            n += 1
        out[(key[0], n)] = key
    return out


def _level_counts(
    parent_of: np.ndarray,
    prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    done: tuple[np.ndarray, np.ndarray],
    spans: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Keys ``parent << 32 | term`` and counts of one level, from the hour cells' counts
    ``done`` (sorted, so hour cell ``i``'s pairs are ``spans[i]:spans[i + 1]``), or where
    possible from the finer level ``prev`` (its ``parent_of`` and counts).

    A finer cell is summed as a whole into a parent only when every hour cell in it has
    that same parent (checked, not assumed): other hour cells are summed directly, their
    pairs gathered by slice. Why not a mask over ``done``: it holds every (hour cell, term)
    pair (~20M at 1M bench posts) and each level masked and split all of it (a fill's
    largest cost after the index itself: 1M posts, 2.9 of 8.2 s of the cells' sums)."""
    done_keys, done_counts = done
    direct = parent_of >= 0
    keys: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if prev is not None:
        prev_of, prev_keys, prev_counts = prev
        via = direct & (prev_of >= 0)
        up = np.full(int(prev_of.max()) + 1 if len(prev_of) else 0, -1, np.int64)
        up[prev_of[via]] = parent_of[via]
        whole = bool((up[prev_of[via]] == parent_of[via]).all())
        whole &= not (up[prev_of[(prev_of >= 0) & ~direct]] >= 0).any()
        if whole and via.any():
            mapped = up[prev_keys >> 32]
            keep = mapped >= 0
            keys.append((mapped[keep] << 32) | (prev_keys[keep] & 0xFFFFFFFF))
            weights.append(prev_counts[keep])
            direct &= ~via
    if direct.any():
        cells = np.flatnonzero(direct)
        lens = spans[cells + 1] - spans[cells]
        offsets = np.cumsum(lens) - lens  # where each cell's slice starts in the gathered pairs
        take = np.arange(int(lens.sum()), dtype=np.int64) + np.repeat(spans[cells] - offsets, lens)
        owned = parent_of[cells]
        pairs = (np.repeat(owned, lens) << 32) | (done_keys[take] & 0xFFFFFFFF)
        if not keys and (len(owned) < 2 or bool((np.diff(owned) > 0).all())):
            # one parent per hour cell, numbered in the hour cells' order: still sorted, distinct
            return pairs, done_counts[take]
        keys.append(pairs)
        weights.append(done_counts[take])
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return _count(np.concatenate(keys), np.concatenate(weights), kind="stable")


SMALL_MERGE = 256
"""Up to this many stored and changed ids together, :func:`merge_counts` merges in Python
(fewer steps than numpy's per-call cost on a few dozen values)."""


def merge_counts(ids: np.ndarray, counts: np.ndarray, add: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A stored cell (``ids`` ascending and distinct, their ``counts``) plus ``add`` (term id ->
    change, possibly negative): the ids whose sum is not zero, ascending, and the sums (int64;
    a negative sum is for the caller to refuse). Why not ``np.unique`` of both: that sorts the
    whole cell again for every batch, and a cell of all time holds a source's whole vocabulary;
    here the batch's ids are found by binary search and the new ones placed between the old.
    Small cells (most of a batch's: an hour's map cell holds a few posts) merge as a dict."""
    if len(ids) + len(add) <= SMALL_MERGE:
        merged = dict(zip(ids.tolist(), counts.tolist(), strict=True))
        for k, v in add.items():
            merged[k] = merged.get(k, 0) + v
        kept = sorted((k, v) for k, v in merged.items() if v)
        return np.array([k for k, _ in kept], np.int64), np.array([v for _, v in kept], np.int64)
    keys = np.fromiter(sorted(add), np.int64, len(add))
    delta = np.fromiter((add[k] for k in keys.tolist()), np.int64, len(add))
    base = counts.astype(np.int64)
    pos = np.searchsorted(ids, keys)
    hit = pos < len(ids)
    hit[hit] = ids[pos[hit]] == keys[hit]
    base[pos[hit]] += delta[hit]  # distinct keys: distinct positions
    new = ~hit
    at = pos[new] + np.arange(int(new.sum()))  # each new key's place among old and new
    old = np.ones(len(ids) + len(at), bool)
    old[at] = False
    out_ids = np.empty(len(old), np.int64)
    out_n = np.empty(len(old), np.int64)
    out_ids[old], out_n[old] = ids, base
    out_ids[at], out_n[at] = keys[new], delta[new]
    keep = out_n != 0
    return out_ids[keep], out_n[keep]


def _merge(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One run of several (each sorted, distinct keys with counts)."""
    if len(runs) == 1:
        return runs[0]
    keys = np.concatenate([k for k, _ in runs])
    weights = np.concatenate([w for _, w in runs])
    return _count(keys, weights, kind="stable")


def _count(
    keys: np.ndarray, weights: np.ndarray | None, kind: str = "quicksort"
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` ascending with the sum of their ``weights`` (1 each when ``None``)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(keys, kind=kind)
    k = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    if weights is None:
        counts = np.diff(np.append(starts, len(k)))
    else:
        counts = np.add.reduceat(weights[order], starts)
    return k[starts], counts.astype(np.int64)
