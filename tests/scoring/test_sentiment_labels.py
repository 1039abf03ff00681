"""The developer sentiment annotation (``labels/sentiment_pool.csv``, ``sentiment_agreement.csv``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.scoring import datasets as ds

HEADER = "source,ref,sentiment\n"


def _held_out_line() -> int:
    return next(i for i in range(100) if ds.sentiment_is_heldout(i))


def _training_line() -> int:
    return next(i for i in range(100) if not ds.sentiment_is_heldout(i))


@pytest.mark.parametrize("path", [ds.SENTIMENT_POOL_FILE, ds.SENTIMENT_AGREEMENT_FILE])
def test_every_row_resolves_to_its_own_line(shared_dir: Path, path: Path) -> None:
    """Each ref resolves to the very line of the raw file (read here independently)."""
    data = shared_dir / "data"
    got = ds.sentiment_labels(data, path)
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    assert len(got.labels) == len(rows) and set(got.labels.tolist()) == {0, 1, 2}
    raw: dict[str, list[str]] = {}
    for row, text, label in zip(rows, got.texts, got.labels.tolist(), strict=True):
        src, ref, value = row.split(",")
        split, _, line = ref.partition(":")
        if src not in raw:
            raw[src] = (data / src / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        assert raw[src][int(line)].rstrip() == text
        assert ds.SENTIMENT_CLASSES[label] == value


def test_the_pool_holds_no_tweeteval_sentiment_row() -> None:
    """The pool trains heads; TweetEval sentiment rows belong to the agreement file only."""
    text = ds.SENTIMENT_POOL_FILE.read_text(encoding="utf-8")
    assert "tweeteval/sentiment," not in text
    agreement = ds.SENTIMENT_AGREEMENT_FILE.read_text(encoding="utf-8").splitlines()[1:]
    assert agreement and all(r.startswith("tweeteval/sentiment,val:") for r in agreement)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tweeteval/hate,train:1,happy\n", "sentiment 'happy' is not one of"),
        ("tweeteval/hate,train:1,\n", "sentiment '' is not one of"),
        ("twitter,1,neutral\n", "unknown source 'twitter'"),
        (
            "tweeteval/hate,train:1,neutral\ntweeteval/hate,train:1,positive\n",
            "duplicate row tweeteval/hate train:1",
        ),
        ("tweeteval/hate,train:99999999,neutral\n", "points at no tweet"),
        (f"tweeteval/sentiment,val:{_held_out_line()},neutral\n", "not in the training half"),
        ("tweeteval/sentiment,train:3,neutral\n", "not in the training half"),
    ],
)
def test_malformed_or_held_out_rows_are_named(
    shared_dir: Path, tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "sentiment.csv"
    path.write_text(HEADER + line)
    with pytest.raises(ds.LabelFileError, match=message):
        ds.sentiment_labels(shared_dir / "data", path)


def test_a_training_half_row_is_accepted(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sentiment.csv"
    path.write_text(HEADER + f"tweeteval/sentiment,val:{_training_line()},positive\n")
    assert ds.sentiment_labels(shared_dir / "data", path).labels.tolist() == [2]
