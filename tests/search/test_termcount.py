"""The term rollup's pure counting helpers (:mod:`pipelines.search.termcount`)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from pipelines.search import termcount
from pipelines.search.termcount import difference, merge_counts


def _reference(ids: list[int], counts: list[int], add: dict[int, int]) -> dict[int, int]:
    out = dict(zip(ids, counts, strict=True))
    for k, v in add.items():
        out[k] = out.get(k, 0) + v
    return {k: v for k, v in sorted(out.items()) if v}


@pytest.mark.parametrize("small", [0, termcount.SMALL_MERGE], ids=["numpy", "dict"])
@pytest.mark.parametrize("seed", range(40))
def test_merge_counts_equals_adding_the_changes_one_by_one(
    seed: int, small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(termcount, "SMALL_MERGE", small)  # both ways of merging
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(0, 2**31 - 1, 7), rng.choice([0, 1, 5, 60, 400])))
    counts = [rng.randint(1, 9) for _ in ids]
    add: dict[int, int] = {}
    for _ in range(rng.randint(1, 30)):
        if ids and rng.random() < 0.5:  # an id already stored: raised, lowered, or cleared
            i = rng.randrange(len(ids))
            add[ids[i]] = rng.choice([rng.randint(1, 5), -counts[i], -rng.randint(1, counts[i])])
        else:  # a new id, below, between or above the stored ones
            add[rng.randrange(0, 2**31 - 1)] = rng.randint(1, 5)
    got_ids, got_n = merge_counts(np.asarray(ids, np.int32), np.asarray(counts, np.int32), add)
    want = _reference(ids, counts, add)
    assert got_ids.tolist() == list(want) and got_n.tolist() == list(want.values())


@pytest.mark.parametrize("small", [0, termcount.SMALL_MERGE], ids=["numpy", "dict"])
def test_merge_counts_reports_a_negative_sum_for_the_caller_to_refuse(
    small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(termcount, "SMALL_MERGE", small)
    ids, n = merge_counts(np.asarray([3, 9], np.int32), np.asarray([1, 2], np.int32), {3: -2, 5: 1})
    assert ids.tolist() == [3, 5, 9] and n.tolist() == [-1, 1, 2]


def test_difference_keeps_changed_counts_only() -> None:
    new = {(1, "s", "en"): {4: 2, 5: 1}, (2, "s", "en"): {4: 1}}
    old = {(1, "s", "en"): {4: 2, 6: 1}, (3, "s", "en"): {7: 1}}
    assert difference(new, old) == {
        (1, "s", "en"): {5: 1, 6: -1},
        (2, "s", "en"): {4: 1},
        (3, "s", "en"): {7: -1},
    }
