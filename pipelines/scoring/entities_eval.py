"""Precision / recall / F1 of entity extraction on 300 hand-annotated posts.

The annotation (``labels/entities_gold.csv``, guidelines in ``labels/README.md``) stores
references into ``../shared/data``, never texts. Half the posts are CrisisLexT26 tweets
of the places gold (their places and their tune/test split are taken from it, so the
gazetteer is measured on posts it was not tuned on), half are TweetEval sentiment
``val`` tweets (people, teams, brands and products), split by a hash of their line.

A predicted entity matches a gold one when the types are equal and the folded names
(case, accents, punctuation, "#"/"@") are equal; a gold entity may list alternative
names separated by "/". Figures are micro-averaged per type and overall, with a 95 %
bootstrap interval over posts (2,000 resamples, fixed seed).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.core.scores import ENTITY_TYPES
from pipelines.scoring.entities import fold

GOLD_PATH = Path(__file__).parent / "labels" / "entities_gold.csv"
SOURCES = ("crisislex", "tweeteval-sentiment-val")

Pair = tuple[str, str]  # (name, type)


@dataclass(frozen=True)
class GoldPost:
    """One annotated post: where it comes from, its split, text and gold entities."""

    source: str
    ref: str
    split: str
    text: str
    entities: tuple[tuple[frozenset[str], str], ...]


def _key(name: str) -> str:
    return fold(name.lstrip("#@"))


def parse_entities(cell: str, where: str) -> tuple[tuple[frozenset[str], str], ...]:
    """``type:Name/Alt;type:Name`` as ((names, type), ...); a bad item names the row."""
    out = []
    for item in filter(None, cell.split(";")):
        etype, sep, names = item.partition(":")
        if not sep or etype not in ENTITY_TYPES or not names.strip():
            raise ValueError(f"{where}: bad entity {item!r} (expected type:name, type one of {ENTITY_TYPES})")
        out.append((frozenset(_key(n) for n in names.split("/") if n.strip()), etype))
    return tuple(out)


def _crisislex_texts(data_dir: Path, events: Iterable[str]) -> dict[str, str]:
    from pipelines.scoring.gazetteer_eval import _texts

    return _texts(events, data_dir)


def _tweeteval_lines(data_dir: Path) -> list[str]:
    path = data_dir / "tweeteval" / "sentiment" / "val_text.txt"
    if not path.is_file():
        raise FileNotFoundError(f"TweetEval file not found: {path} (pass --data-dir pointing at shared/data)")
    return path.read_text(encoding="utf-8").split("\n")


def load_gold(data_dir: Path, gold_path: Path = GOLD_PATH) -> list[GoldPost]:
    """Annotated posts with their texts (a reference that points at nothing is an error)."""
    with gold_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    crisis = _crisislex_texts(data_dir, {r["event"] for r in rows if r["source"] == "crisislex"})
    lines = _tweeteval_lines(data_dir) if any(r["source"] != "crisislex" for r in rows) else []
    out = []
    for n, r in enumerate(rows, start=2):
        where = f"{gold_path.name} line {n}"
        if r["source"] == "crisislex":
            text = crisis.get(r["ref"])
        elif r["source"] == "tweeteval-sentiment-val":
            i = int(r["ref"]) if r["ref"].isdigit() else -1
            text = lines[i] if 0 <= i < len(lines) else None
        else:
            raise ValueError(f"{where}: unknown source {r['source']!r} (one of {SOURCES})")
        if not text:
            raise ValueError(f"{where}: {r['source']} {r['ref']} is not in {data_dir}")
        if r["split"] not in ("tune", "test"):
            raise ValueError(f"{where}: split must be tune or test, not {r['split']!r}")
        out.append(GoldPost(r["source"], r["ref"], r["split"], text, parse_entities(r["entities"], where)))
    return out


def tweeteval_split(line: int) -> str:
    """The fixed split of a TweetEval sentiment line (how the gold file was drawn)."""
    h = int(hashlib.sha1(f"vigil-entities:tweeteval-sentiment:{line}".encode()).hexdigest(), 16)
    return "tune" if h % 2 == 0 else "test"


@dataclass
class Counts:
    """True/false positives and misses per type, per post (for the bootstrap)."""

    per_post: list[dict[str, tuple[int, int, int]]] = field(default_factory=list)
    false_pos: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)

    def totals(self, etype: str | None = None, idx: Sequence[int] | None = None) -> tuple[int, int, int]:
        tp = fp = fn = 0
        for i in range(len(self.per_post)) if idx is None else idx:
            for t, (a, b, c) in self.per_post[i].items():
                if etype is None or t == etype:
                    tp, fp, fn = tp + a, fp + b, fn + c
        return tp, fp, fn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (0 when undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(posts: Sequence[GoldPost], predictions: Sequence[Sequence[Pair]]) -> Counts:
    """Match each post's predicted (name, type) pairs against its gold entities."""
    res = Counts()
    for post, pred in zip(posts, predictions, strict=True):
        gold = list(post.entities)
        row: dict[str, list[int]] = {t: [0, 0, 0] for t in ENTITY_TYPES}
        seen: set[tuple[str, str]] = set()
        for name, etype in pred:
            key = (_key(name), etype)
            if key in seen:
                continue
            seen.add(key)
            hit = next((g for g in gold if g[1] == etype and key[0] in g[0]), None)
            if hit is None:
                row[etype][1] += 1
                res.false_pos.append((f"{etype}:{name}", post.text))
            else:
                row[etype][0] += 1
                gold.remove(hit)
        for names, etype in gold:
            row[etype][2] += 1
            res.missed.append((f"{etype}:{'/'.join(sorted(names))}", post.text))
        res.per_post.append({t: (v[0], v[1], v[2]) for t, v in row.items()})
    return res


def bootstrap_f1(counts: Counts, etype: str | None, n: int = 2000, seed: int = 14) -> tuple[float, float]:
    """95 % percentile interval of micro-F1, resampling posts with replacement."""
    rng = np.random.default_rng(seed)
    m = len(counts.per_post)
    if m == 0:
        return 0.0, 0.0
    arr = np.array([counts.totals(etype, [i]) for i in range(m)], dtype=np.int64)
    f1s = []
    for _ in range(n):
        s = arr[rng.integers(0, m, m)].sum(axis=0)
        f1s.append(prf(int(s[0]), int(s[1]), int(s[2]))[2])
    lo, hi = np.percentile(f1s, [2.5, 97.5])
    return float(lo), float(hi)


def shipped_extractor(texts: Sequence[str]) -> list[list[Pair]]:
    """The shipped extractor (spaCy + rules + gazetteer places) as (name, type) pairs."""
    from pipelines.scoring.entities import extract_batch
    from pipelines.scoring.geo import extract_places
    from pipelines.scoring.lang import LanguageDetector

    detect = LanguageDetector().detect
    ents = extract_batch(texts, [extract_places(t) for t in texts], [detect(t)[0] for t in texts])
    return [[(e.name, e.type) for e in es] for es in ents]


def raw_model_extractor(texts: Sequence[str]) -> list[list[Pair]]:
    """The model alone, no rules: spaCy PERSON/ORG/PRODUCT and GPE/LOC as places, on the raw text."""
    from pipelines.scoring.entities import load_model

    labels = {"PERSON": "person", "ORG": "org", "PRODUCT": "product", "GPE": "place", "LOC": "place"}
    docs = load_model().pipe(texts, batch_size=64)
    return [[(e.text, labels[e.label_]) for e in d.ents if e.label_ in labels] for d in docs]


EXTRACTORS: dict[str, Callable[[Sequence[str]], list[list[Pair]]]] = {
    "shipped": shipped_extractor,
    "model-only": raw_model_extractor,
}


def evaluate(
    data_dir: Path, extractor: str = "shipped", splits: Sequence[str] = ("tune", "test")
) -> dict[str, Counts]:
    """Counts of one extractor per split."""
    gold = load_gold(data_dir)
    fn = EXTRACTORS[extractor]
    out = {}
    for s in splits:
        posts = [p for p in gold if p.split == s]
        out[s] = score(posts, fn([p.text for p in posts]))
    return out


def format_report(res: dict[str, Counts], errors: int = 0, ci: bool = True) -> str:
    """Per split and type: gold, predicted, P, R, F1 and the F1 interval."""
    lines = [f"{'split':<5} {'type':<8} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}  95% CI of F1"]
    for split, c in res.items():
        for etype in (None, *ENTITY_TYPES):
            tp, fp, fn = c.totals(etype)
            p, r, f = prf(tp, fp, fn)
            band = "[{:.1f}, {:.1f}]".format(*(100 * x for x in bootstrap_f1(c, etype))) if ci else ""
            lines.append(
                f"{split:<5} {etype or 'micro':<8} {tp + fn:>5} {tp + fp:>5} "
                f"{100 * p:6.1f} {100 * r:6.1f} {100 * f:6.1f}  {band}"
            )
    if errors:
        for split, c in res.items():
            for label, items in (("false", c.false_pos), ("missed", c.missed)):
                for what, text in items[:errors]:
                    lines.append(f"[{split}] {label}: {what}  <- {text[:110]!r}")
    return "\n".join(lines)


def summary(counts: Counts) -> dict[str, dict[str, float | int]]:
    """Per type and micro: gold, predicted, P, R, F1 and the F1 interval (for ``--json``)."""
    out: dict[str, dict[str, float | int]] = {}
    for etype in (None, *ENTITY_TYPES):
        tp, fp, fn = counts.totals(etype)
        p, r, f = prf(tp, fp, fn)
        lo, hi = bootstrap_f1(counts, etype)
        out[etype or "micro"] = {
            "gold": tp + fn,
            "pred": tp + fp,
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "f1_ci95": [round(lo, 4), round(hi, 4)],
        }
    return out
