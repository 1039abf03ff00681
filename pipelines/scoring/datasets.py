"""Readers for the labelled tweet sets in ``../shared/data`` used to train and evaluate heads.

Every split used for evaluation is fixed here, in code, so ``train-heads`` and
``eval-scorer`` can never disagree about which rows are held out.

- TweetEval ``hate`` / ``offensive``: ``train`` trains, ``val`` only evaluates.
  TweetEval ``sentiment`` ships only ``val`` here: it is never trained on.
- Davidson et al. 2017: a row is **held out** when ``sha1("davidson:<row id>")`` read as an
  integer is divisible by 5 (about 20 %, 4,9xx rows, independent of any RNG or library
  version). Only the other rows may be used for training.
- CrisisLexT26: every labelled tweet; ``Related ...`` is crisis, ``Not related`` is not
  (``Not applicable`` rows are dropped).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.core.config import REPO_ROOT
from pipelines.core.scores import DEFAULT_TOPICS


@dataclass
class LabelledTexts:
    """Texts with integer labels and the name of where they came from."""

    name: str
    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def default_data_dir() -> Path:
    """``../shared/data`` beside the checkout."""
    return REPO_ROOT.parent / "shared" / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path} (pass --data-dir pointing at shared/data)")
    return path


def tweeteval(data_dir: Path, task: str, split: str) -> LabelledTexts:
    """TweetEval ``task`` (hate, offensive, sentiment) ``split`` (train, val)."""
    base = data_dir / "tweeteval" / task
    texts = _require(base / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = _require(base / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = [t.rstrip() for t in texts[: len(labels)]]
    if len(texts) != len(labels):
        raise ValueError(f"{base}: {len(texts)} texts but {len(labels)} labels in split {split!r}")
    return LabelledTexts(f"tweeteval/{task}/{split}", texts, np.asarray(labels, dtype=np.int64))


def davidson_is_heldout(row_id: str) -> bool:
    """The documented held-out rule: sha1 of ``davidson:<row id>`` divisible by 5."""
    return int(hashlib.sha1(f"davidson:{row_id}".encode()).hexdigest(), 16) % 5 == 0


def davidson(data_dir: Path, split: str) -> LabelledTexts:
    """Davidson ``train`` or ``heldout`` rows; labels 0 hate, 1 offensive, 2 neither."""
    if split not in ("train", "heldout"):
        raise ValueError(f"davidson split must be 'train' or 'heldout', not {split!r}")
    path = _require(data_dir / "davidson_hate_offensive" / "labeled_data.csv")
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if davidson_is_heldout(row[""]) == (split == "heldout"):
                texts.append(row["tweet"])
                labels.append(int(row["class"]))
    return LabelledTexts(f"davidson/{split}", texts, np.asarray(labels, dtype=np.int64))


def crisislex(data_dir: Path) -> LabelledTexts:
    """CrisisLexT26 labelled tweets: 1 = related to the crisis, 0 = not related."""
    texts, labels = [], []
    for path in sorted((data_dir / "crisislex_t26").glob("*/tweets_labeled.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            for row in csv.DictReader(f, skipinitialspace=True):
                info = (row.get("Informativeness") or "").strip()
                if info.startswith("Related"):
                    labels.append(1)
                elif info == "Not related":
                    labels.append(0)
                else:
                    continue
                texts.append(row.get("Tweet Text") or "")
    if not texts:
        raise FileNotFoundError(f"no CrisisLexT26 tweets under {data_dir / 'crisislex_t26'}")
    return LabelledTexts("crisislex_t26", texts, np.asarray(labels, dtype=np.int64))


def subsample(data: LabelledTexts, per_label: dict[int, int], seed: int = 13) -> LabelledTexts:
    """At most ``per_label[label]`` rows of each label (all of a label not listed), seeded.

    Embedding every training tweet takes long on two cores; a fixed seeded sample keeps
    ``train-heads`` reproducible and its cache hits stable.
    """
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for label in np.unique(data.labels):
        idx = np.flatnonzero(data.labels == label)
        cap = per_label.get(int(label))
        if cap is not None and len(idx) > cap:
            idx = np.sort(rng.choice(idx, size=cap, replace=False))
        keep.extend(idx.tolist())
    keep.sort()
    return LabelledTexts(
        f"{data.name}[sample]", [data.texts[i] for i in keep], data.labels[np.asarray(keep, dtype=np.int64)]
    )


CRISIS_SAMPLE = {1: 2500}
"""CrisisLex: every 'Not related' tweet (2,149) and 2,500 of the 17,131 related ones."""
DAVIDSON_TRAIN_SAMPLE = {1: 2500, 2: 2500}
"""Davidson training rows: every hate row (1,154), 2,500 offensive, 2,500 'neither'."""


def sentiment_is_heldout(line_no: int) -> bool:
    """TweetEval sentiment ``val`` rows kept for evaluation: sha1 of the line number is even.

    ``shared/data`` has no sentiment training split, so ``val`` is cut in two fixed
    halves: the sentiment head trains on one, and is evaluated on the other only.
    """
    return int(hashlib.sha1(f"tweeteval-sentiment:{line_no}".encode()).hexdigest(), 16) % 2 == 0


def tweeteval_sentiment(data_dir: Path, part: str) -> LabelledTexts:
    """TweetEval sentiment ``val`` half: ``train`` or ``heldout`` (labels 0 neg, 1 neu, 2 pos)."""
    if part not in ("train", "heldout"):
        raise ValueError(f"sentiment part must be 'train' or 'heldout', not {part!r}")
    full = tweeteval(data_dir, "sentiment", "val")
    idx = [i for i in range(len(full)) if sentiment_is_heldout(i) == (part == "heldout")]
    return LabelledTexts(
        f"tweeteval/sentiment/val[{part} half]", [full.texts[i] for i in idx], full.labels[np.asarray(idx)]
    )


# --------------------------------------------------------------------------- threat / topic labels

LABELS_DIR = Path(__file__).parent / "labels"
LABELS_FILE = LABELS_DIR / "threat_topics.csv"
LABEL_TOPICS = tuple(t for t in DEFAULT_TOPICS if t != "other")
"""Topics annotated in ``labels/threat_topics.csv`` (``other`` = none of them)."""
LABEL_SOURCES = ("tweeteval/hate", "tweeteval/offensive", "tweeteval/sentiment", "davidson", "crisislex")
LABEL_TEST_SHARE = 3
"""``sha1("vigil-labels:<source>:<ref>") % 10 < 3``: the row is in the held-out test split (~30 %)."""


@dataclass
class LabelSet:
    """The hand-annotated threat/topic rows, with their tweet texts read from ``shared/data``."""

    sources: list[str]
    refs: list[str]
    pools: list[str]
    texts: list[str]
    threat: np.ndarray  # (n,) 0/1
    topics: np.ndarray  # (n, len(LABEL_TOPICS)) 0/1
    test: np.ndarray  # (n,) bool: held-out test row

    def __len__(self) -> int:
        return len(self.texts)

    def labels(self, name: str) -> np.ndarray:
        """``threat`` or a topic name -> its 0/1 column."""
        if name == "threat":
            return self.threat
        return self.topics[:, LABEL_TOPICS.index(name)]

    def part(self, test: bool) -> LabelSet:
        idx = np.flatnonzero(self.test == test)
        return LabelSet(
            [self.sources[i] for i in idx],
            [self.refs[i] for i in idx],
            [self.pools[i] for i in idx],
            [self.texts[i] for i in idx],
            self.threat[idx],
            self.topics[idx],
            self.test[idx],
        )

    def as_labelled(self, name: str) -> LabelledTexts:
        return LabelledTexts(f"labels/threat_topics[{name}]", self.texts, self.labels(name))


def label_is_test(source: str, ref: str) -> bool:
    """Fixed held-out test rows of the label set (independent of any RNG or library)."""
    return int(hashlib.sha1(f"vigil-labels:{source}:{ref}".encode()).hexdigest(), 16) % 10 < LABEL_TEST_SHARE


class LabelFileError(ValueError):
    """A row of the labels file is malformed or points at no tweet."""


def _checked_rows(path: Path, flags: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """``(line, row)`` of a labels CSV, checked: known source, each of ``flags`` 0 or 1, no
    duplicate ``(source, ref)``; one reader so every labels file fails the same way."""
    rows = []
    seen: set[tuple[str, str]] = set()
    with _require(path).open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            src, ref = row.get("source", ""), row.get("ref", "")
            if src not in LABEL_SOURCES:
                raise LabelFileError(f"{path}:{n}: unknown source {src!r}")
            for col in flags:
                if row.get(col) not in ("0", "1"):
                    raise LabelFileError(f"{path}:{n}: {col} must be 0 or 1, not {row.get(col)!r}")
            if (src, ref) in seen:
                raise LabelFileError(f"{path}:{n}: duplicate row {src} {ref}")
            seen.add((src, ref))
            rows.append((n, row))
    return rows


def read_label_rows(path: Path = LABELS_FILE) -> list[dict[str, str]]:
    """Rows of the labels CSV, checked: known source, 0/1 threat, known topics, no duplicates."""
    rows = []
    for n, row in _checked_rows(path, ("threat",)):
        for t in filter(None, (row.get("topics") or "").split(";")):
            if t not in LABEL_TOPICS:
                raise LabelFileError(f"{path}:{n}: unknown topic {t!r}")
        rows.append(row)
    return rows


def _label_texts(data_dir: Path, rows: list[dict[str, str]]) -> list[str]:
    """Resolve every row's ``ref`` to its tweet text; a ref that points nowhere is an error."""
    lines: dict[str, list[str]] = {}
    davidson_rows: dict[str, str] | None = None
    crisis: dict[str, dict[str, str]] = {}
    out = []
    for row in rows:
        src, ref = row["source"], row["ref"]
        text: str | None = None
        if src.startswith("tweeteval/"):
            split, _, line = ref.partition(":")
            key = f"{src}/{split}"
            if key not in lines:
                path = _require(data_dir / src / f"{split}_text.txt")
                lines[key] = [t.rstrip() for t in path.read_text(encoding="utf-8").split("\n")]
            if line.isdigit() and int(line) < len(lines[key]):
                text = lines[key][int(line)]
        elif src == "davidson":
            if davidson_rows is None:
                path = _require(data_dir / "davidson_hate_offensive" / "labeled_data.csv")
                with path.open(encoding="utf-8", newline="") as f:
                    davidson_rows = {r[""]: r["tweet"] for r in csv.DictReader(f)}
            text = davidson_rows.get(ref)
        else:
            event, _, tweet_id = ref.partition(":")
            if event not in crisis:
                path = _require(data_dir / "crisislex_t26" / event / "tweets_labeled.csv")
                with path.open(encoding="utf-8", errors="replace", newline="") as f:
                    crisis[event] = {
                        r["Tweet ID"]: r.get("Tweet Text") or ""
                        for r in csv.DictReader(f, skipinitialspace=True)
                    }
            text = crisis[event].get(tweet_id)
        if text is None:
            raise LabelFileError(f"label row {src} {ref!r} points at no tweet in {data_dir}")
        out.append(text)
    return out


def threat_topic_labels(data_dir: Path, path: Path = LABELS_FILE) -> LabelSet:
    """The annotated rows with texts from ``data_dir`` and the fixed test split."""
    rows = read_label_rows(path)
    texts = _label_texts(data_dir, rows)
    topics = np.zeros((len(rows), len(LABEL_TOPICS)), dtype=np.int64)
    for i, row in enumerate(rows):
        for t in filter(None, (row["topics"] or "").split(";")):
            topics[i, LABEL_TOPICS.index(t)] = 1
    return LabelSet(
        sources=[r["source"] for r in rows],
        refs=[r["ref"] for r in rows],
        pools=[r["pool"] for r in rows],
        texts=texts,
        threat=np.asarray([int(r["threat"]) for r in rows], dtype=np.int64),
        topics=topics,
        test=np.asarray([label_is_test(r["source"], r["ref"]) for r in rows]),
    )


# --------------------------------------------------------------------------- threat round 3

ROUND3_FILE = LABELS_DIR / "threat_round3.csv"
ROUND4_FILE = LABELS_DIR / "threat_round4.csv"
ROUND5_FILE = LABELS_DIR / "threat_round5.csv"
"""Rounds 4 and 5 have the same columns and rules as round 3: read them with :func:`threat_round3_labels`."""
ROUND6_FILE = LABELS_DIR / "threat_round6.csv"
TEST_PASS3_FILE = LABELS_DIR / "threat_test_pass3.csv"


def threat_round3_labels(data_dir: Path, path: Path = ROUND3_FILE) -> LabelSet:
    """``labels/threat_round3.csv``: threat-only rows (topics all zero, never read for topics).

    Same checks and the same fixed test rule as :func:`threat_topic_labels`; ``self_harm``
    must be 0 or 1 (it is recorded, not modelled).
    """
    rows = [row for _, row in _checked_rows(path, ("threat", "self_harm"))]
    texts = _label_texts(data_dir, rows)
    return LabelSet(
        sources=[r["source"] for r in rows],
        refs=[r["ref"] for r in rows],
        pools=[r["pool"] for r in rows],
        texts=texts,
        threat=np.asarray([int(r["threat"]) for r in rows], dtype=np.int64),
        topics=np.zeros((len(rows), len(LABEL_TOPICS)), dtype=np.int64),
        test=np.asarray([label_is_test(r["source"], r["ref"]) for r in rows]),
    )


def threat_round6_labels(data_dir: Path, path: Path = ROUND6_FILE) -> LabelSet:
    """``labels/threat_round6.csv``: round 3's columns and checks, **training-only**.

    Every row is marked training whatever its hash: round 6 was drawn after the test split
    was fixed at round 5's 1,143 rows, and keeping it out keeps the held-out figure comparable
    with every earlier model's (``labels/README.md``, "Round 6").
    """
    rows = threat_round3_labels(data_dir, path)
    rows.test[:] = False
    return rows


def threat_test_pass3(path: Path = TEST_PASS3_FILE) -> dict[tuple[str, str], int]:
    """The independent pass over the test split: ``(source, ref) -> threat`` (0/1).

    Read only to measure agreement (``bench/threat_agreement.py``); a row outside the test
    split is an error, so the file cannot leak into training by mistake.
    """
    out = {}
    for n, row in _checked_rows(path, ("threat_pass3", "self_harm_pass3")):
        key = (row["source"], row["ref"])
        if not label_is_test(*key):
            raise LabelFileError(f"{path}:{n}: {key[0]} {key[1]} is not a test-split row")
        out[key] = int(row["threat_pass3"])
    return out


# --------------------------------------------------------------------------- sentiment annotation

SENTIMENT_POOL_FILE = LABELS_DIR / "sentiment_pool.csv"
SENTIMENT_AGREEMENT_FILE = LABELS_DIR / "sentiment_agreement.csv"
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
"""The annotation's values, in the order of TweetEval's sentiment labels (0, 1, 2)."""


def sentiment_labels(data_dir: Path, path: Path = SENTIMENT_POOL_FILE) -> LabelledTexts:
    """Developer-annotated sentiment (``source,ref,sentiment``; ``labels/README.md``) with
    texts from ``data_dir``; labels 0 negative, 1 neutral, 2 positive as TweetEval's.

    A row of TweetEval sentiment's held-out half is an error, not a skipped row: that half
    is only ever scored, and an annotation of it must not reach a training set."""
    rows = [row for _, row in _checked_rows(path, ())]
    labels = []
    for row in rows:
        value = row.get("sentiment")
        if value not in SENTIMENT_CLASSES:
            raise LabelFileError(
                f"{path}: {row['source']} {row['ref']}: sentiment {value!r} is not one of {SENTIMENT_CLASSES}"
            )
        if row["source"] == "tweeteval/sentiment":
            split, _, line = row["ref"].partition(":")
            if split != "val" or not line.isdigit() or sentiment_is_heldout(int(line)):
                raise LabelFileError(
                    f"{path}: {row['ref']} is not in the training half of TweetEval sentiment val"
                )
        labels.append(SENTIMENT_CLASSES.index(value))
    return LabelledTexts(
        f"labels/{path.name}", _label_texts(data_dir, rows), np.asarray(labels, dtype=np.int64)
    )
