"""Precision / recall / F1 of place extraction on hand-annotated CrisisLexT26 tweets.

The annotation (``pipelines/scoring/gazetteer/places_gold.csv``, how it was made in the
README beside it) stores tweet ids, never texts: the texts are read from
``../shared/data/crisislex_t26`` at evaluation time. Each tweet belongs to a fixed split
(``tune``: look at errors and adjust the gazetteer; ``test``: report only).

Matching is on (ASCII-folded lower-case name, country): kinds are ignored because the
same name is a city in one gazetteer and a region in another (Singapore, Cebu). A gold
entry may list alternative names separated by ``/`` ("New York City/New York").
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

GOLD_PATH = Path(__file__).parent / "gazetteer" / "places_gold.csv"


@dataclass(frozen=True)
class GoldTweet:
    """One annotated tweet: its id, event, split, text and the places a reader sees in it."""

    tweet_id: str
    event: str
    split: str
    text: str
    places: tuple[tuple[frozenset[str], str], ...]


@dataclass
class PlaceScores:
    """Micro-averaged counts over a set of tweets, with the mistakes kept for reading."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tweets: int = 0
    false_pos: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def norm(name: str) -> str:
    """Fold accents, case and punctuation so "Bogotá" equals "bogota"."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(s.replace(".", " ").replace(",", " ").split())


def _texts(events: Iterable[str], data_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for ev in sorted(set(events)):
        path = data_dir / "crisislex_t26" / ev / "tweets_labeled.csv"
        if not path.is_file():
            raise FileNotFoundError(
                f"CrisisLexT26 file not found: {path} (pass --data-dir pointing at shared/data)"
            )
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                if row and row[0].isdigit():
                    out[row[0]] = row[1].strip()
    return out


def load_gold(data_dir: Path, gold_path: Path = GOLD_PATH) -> list[GoldTweet]:
    """Annotated tweets with their texts (tweets missing from ``data_dir`` are an error)."""
    with gold_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = _texts((r["event"] for r in rows), data_dir)
    out = []
    for r in rows:
        if r["tweet_id"] not in texts:
            raise ValueError(f"tweet {r['tweet_id']} of {r['event']} is not in {data_dir}")
        places = []
        for item in filter(None, r["places"].split(";")):
            names, country, _kind = item.split("|")
            places.append((frozenset(norm(n) for n in names.split("/")), country))
        out.append(GoldTweet(r["tweet_id"], r["event"], r["split"], texts[r["tweet_id"]], tuple(places)))
    return out


def score(
    tweets: Iterable[GoldTweet], extract: Callable[[str], Iterable[tuple[str, str | None]]]
) -> PlaceScores:
    """Micro precision / recall / F1 of ``extract`` (text -> (name, country) pairs)."""
    res = PlaceScores()
    for tw in tweets:
        res.tweets += 1
        gold = list(tw.places)
        for name, country in extract(tw.text):
            hit = next((g for g in gold if g[1] == country and norm(name) in g[0]), None)
            if hit is None:
                res.fp += 1
                res.false_pos.append((f"{name}|{country}", tw.text))
            else:
                res.tp += 1
                gold.remove(hit)
        res.fn += len(gold)
        res.missed.extend(("/".join(sorted(g[0])) + "|" + g[1], tw.text) for g in gold)
    return res


def extract_pairs(text: str) -> list[tuple[str, str | None]]:
    """The shipped extractor, as (name, country) pairs."""
    from pipelines.scoring.geo import extract_places

    return [(p.name, p.country) for p in extract_places(text)]


def pairs_from_file(path: Path) -> Callable[[str], list[tuple[str, str | None]]]:
    """``extract_places`` of another version of ``geo.py`` (e.g. one from git history),
    so a change can be measured against what it replaces on the same tweets."""
    import importlib.util
    import sys

    name = f"vigil_geo_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path) if path.is_file() else None
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"not a python file: {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    if not hasattr(mod, "extract_places"):
        raise ValueError(f"{path} has no extract_places()")
    return lambda text: [(p.name, p.country) for p in mod.extract_places(text)]


def evaluate(
    data_dir: Path,
    splits: tuple[str, ...] = ("tune", "test"),
    extract: Callable[[str], Iterable[tuple[str, str | None]]] = extract_pairs,
) -> dict[str, PlaceScores]:
    """Scores of ``extract`` (default: the shipped extractor) per split and ``all``."""
    gold = load_gold(data_dir)
    out = {s: score([t for t in gold if t.split == s], extract) for s in splits}
    out["all"] = score(gold, extract)
    return out


def format_report(res: dict[str, PlaceScores], errors: int = 0) -> str:
    """A small table, optionally followed by the first ``errors`` mistakes of each split."""
    lines = [f"{'split':<6} {'tweets':>6} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}"]
    for name, s in res.items():
        lines.append(
            f"{name:<6} {s.tweets:>6} {s.tp + s.fn:>5} {s.tp + s.fp:>5} "
            f"{100 * s.precision:6.1f} {100 * s.recall:6.1f} {100 * s.f1:6.1f}"
        )
    if errors:
        for name, s in res.items():
            if name == "all":
                continue
            for label, items in (("false place", s.false_pos), ("missed", s.missed)):
                for what, text in items[:errors]:
                    lines.append(f"[{name}] {label}: {what}  <- {text[:110]!r}")
    return "\n".join(lines)
