"""Round 6 of the threat labels (training-only) and the independent pass over the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.scoring import datasets as ds
from pipelines.scoring import threat_train

HEADER6 = "source,ref,pool,threat,self_harm\n"
HEADER3 = "source,ref,threat_pass3,self_harm_pass3\n"


def _davidson_ref(test: bool) -> str:
    """A Davidson row id (they run 0, 1, 2 ...) on the chosen side of the label split."""
    return next(str(i) for i in range(200) if ds.label_is_test("davidson", str(i)) == test)


def test_round6_rows_are_training_whatever_their_hash(shared_dir: Path, tmp_path: Path) -> None:
    """A row the hash rule would put in the test split stays training in round 6."""
    path = tmp_path / "r6.csv"
    test_ref, train_ref = _davidson_ref(True), _davidson_ref(False)
    path.write_text(HEADER6 + f"davidson,{test_ref},x,1,0\ndavidson,{train_ref},x,0,0\n", encoding="utf-8")
    rows = ds.threat_round6_labels(shared_dir / "data", path)
    assert rows.threat.tolist() == [1, 0]
    assert not rows.test.any()
    # the same file read as an ordinary round keeps the hash rule: the override is what differs
    assert ds.threat_round3_labels(shared_dir / "data", path).test.tolist() == [True, False]


def test_the_test_pass_refuses_a_training_row(tmp_path: Path) -> None:
    path = tmp_path / "p3.csv"
    path.write_text(HEADER3 + f"davidson,{_davidson_ref(False)},1,0\n", encoding="utf-8")
    with pytest.raises(ds.LabelFileError, match="is not a test-split row"):
        ds.threat_test_pass3(path)
    path.write_text(HEADER3 + f"davidson,{_davidson_ref(True)},2,0\n", encoding="utf-8")
    with pytest.raises(ds.LabelFileError, match="threat_pass3 must be 0 or 1"):
        ds.threat_test_pass3(path)


def test_the_test_pass_covers_exactly_the_test_split(shared_dir: Path) -> None:
    """Every test row of rounds 1-5 is read again once, and nothing else."""
    data = shared_dir / "data"
    sets = [ds.threat_topic_labels(data)] + [
        ds.threat_round3_labels(data, p) for p in (ds.ROUND3_FILE, ds.ROUND4_FILE, ds.ROUND5_FILE)
    ]
    test_keys = {(s.sources[i], s.refs[i]) for s in sets for i in range(len(s)) if s.test[i]}
    assert set(ds.threat_test_pass3()) == test_keys


def test_round6_shares_no_row_or_text_with_the_earlier_rounds(shared_dir: Path) -> None:
    """Round 6 adds new tweets only: no earlier reference and no earlier text (the test split's
    above all), so training on it cannot see a held-out tweet."""
    data = shared_dir / "data"
    r6 = ds.threat_round6_labels(data)
    earlier = threat_train.threat_rows(data)
    keys6 = set(zip(r6.sources, r6.refs, strict=True))
    lines = ds.ROUND6_FILE.read_text(encoding="utf-8").splitlines()[1:]
    assert len(keys6) == len(r6) == len(lines) > 0  # every row of the file read, none twice
    earlier_sets = [ds.threat_topic_labels(data)] + [
        ds.threat_round3_labels(data, p) for p in (ds.ROUND3_FILE, ds.ROUND4_FILE, ds.ROUND5_FILE)
    ]
    earlier_keys = {k for s in earlier_sets for k in zip(s.sources, s.refs, strict=True)}
    assert not keys6 & earlier_keys
    assert not {t.strip().lower() for t in r6.texts} & {t.strip().lower() for t in earlier.texts}
    assert 0 < int(r6.threat.sum()) < len(r6)


def test_always_train_rows_add_round6_to_the_seed_sentences(shared_dir: Path) -> None:
    data = shared_dir / "data"
    seeds = threat_train.always_train_rows(data, ())
    both = threat_train.always_train_rows(data, ("round6",))
    r6 = ds.threat_round6_labels(data)
    assert len(both.texts) == len(seeds.texts) + len(r6)
    assert both.texts[: len(seeds.texts)] == seeds.texts and both.texts[len(seeds.texts) :] == r6.texts
    assert np.array_equal(both.labels, np.concatenate([seeds.labels, r6.threat]))
