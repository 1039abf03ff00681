"""The post model: validation and normalisation of one collected post, no I/O.

Every collector (archive import, Scrapy spiders) turns what it read into a
:class:`Post` through :func:`build_post`. Anything that cannot become a valid post
raises :class:`InvalidPost` with a one-line reason, which the caller writes to the
``quarantine`` collection together with the raw payload, so nothing is silently lost.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TEXT_CHARS = 40_000
"""Longer texts are truncated (and flagged), not rejected: a huge post is still a post."""
MAX_TITLE_CHARS = 1_000
MAX_AUTHOR_CHARS = 300
MAX_TERMS = 256
MAX_URL_CHARS = 2_048
EARLIEST_TS = datetime(2004, 1, 1, tzinfo=UTC)
"""Nothing Vigil collects predates 2004; an earlier date is a parsing error upstream."""
FUTURE_SLACK = timedelta(days=1)
"""Clock skew allowed for posts dated in the future."""


class InvalidPost(ValueError):
    """A record that cannot become a post. ``str(exc)`` is the one-line reason."""


# --------------------------------------------------------------------------- dates

_TWITTER_FMT = "%a %b %d %H:%M:%S %z %Y"  # Fri Nov 01 07:38:11 +0000 2013
_EXTRA_FMTS = (
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%Y/%m/%d %H:%M:%S",
)


def _from_epoch(value: float) -> datetime:
    # Seconds, milliseconds or microseconds: pick by magnitude (2004 in ms is 1.07e12).
    if abs(value) >= 1e14:
        value /= 1e6
    elif abs(value) >= 1e11:
        value /= 1e3
    return datetime.fromtimestamp(value, tz=UTC)


def parse_ts(value: Any) -> datetime:
    """Parse the common timestamp forms to an aware UTC datetime.

    Accepts datetimes (naive ones are taken as UTC), epoch seconds / milliseconds /
    microseconds as numbers or digit strings, ISO 8601 (``Z`` or offsets), RFC 822 /
    2822 (RSS), Twitter's ``created_at`` and a few plain forms. Raises
    :class:`InvalidPost` naming the value when none fits.
    """
    if value is None or value == "":
        raise InvalidPost("missing timestamp")
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, bool):
        raise InvalidPost(f"unparseable timestamp {value!r}")
    elif isinstance(value, int | float):
        try:
            dt = _from_epoch(float(value))
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidPost(f"timestamp out of range: {value!r}") from exc
    elif isinstance(value, str):
        dt = _parse_ts_string(value.strip())
    else:
        raise InvalidPost(f"unparseable timestamp of type {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _parse_ts_string(s: str) -> datetime:
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        try:
            return _from_epoch(float(s))
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidPost(f"timestamp out of range: {s[:60]!r}") from exc
    iso = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    for fmt in (_TWITTER_FMT, *_EXTRA_FMTS):
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    try:
        # RFC 822/2822 as used by RSS; tolerant of a wrong weekday and "Z"/"GMT" zones.
        rfc = re.sub(r"\s+Z$", " +0000", s)
        rfc = re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", rfc)  # "+01:00" as some feeds write it
        dt = parsedate_to_datetime(rfc)
        if dt is not None:
            return dt
    except (TypeError, ValueError, IndexError):
        pass
    raise InvalidPost(f"unparseable timestamp {s[:60]!r}")


def check_ts(ts: datetime, now: datetime | None = None) -> datetime:
    """Reject dates before 2004 or more than a day in the future, with the reason."""
    now = now or datetime.now(UTC)
    if ts < EARLIEST_TS:
        raise InvalidPost(f"timestamp {ts.isoformat()} is before 2004")
    if ts > now + FUTURE_SLACK:
        raise InvalidPost(f"timestamp {ts.isoformat()} is more than a day in the future")
    return ts


# --------------------------------------------------------------------------- text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL_RE = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[#@]?[^\W_][\w'’-]*", re.UNICODE)

STOP_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "rt",
        "via",
        "amp",
        "http",
        "https",
        "www",
        "co",
        "com",
        "just",
        "get",
        "got",
        "will",
        "also",
        "like",
        "le",
        "la",
        "les",
        "de",
        "des",
        "du",
        "et",
        "en",
        "un",
        "une",
        "el",
        "los",
        "las",
        "y",
        "que",
        "der",
        "die",
        "das",
        "und",
        "ist",
    ]
)
"""English stop words plus the most frequent French, Spanish and German function words
and Twitter noise (``rt``, ``amp``): they would make the ``terms`` index useless."""


def clean_text(text: str | None) -> str:
    """Normalise Unicode (NFC), drop control characters and collapse runs of blanks."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r"\s*\n\s*(\n\s*)+", "\n\n", text)
    return text.strip()


def normalise_for_hash(text: str) -> str:
    """Casefolded text with URLs, ``RT @user:`` prefixes and punctuation removed.

    Two posts that differ only in those (a retweet, a cross-post with another
    shortened link) get the same :func:`content_hash`.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"^rt\s+@\w+:?\s*", "", text)
    text = _URL_RE.sub(" ", text)
    text = re.sub(r"[^\w#@]+", " ", text)
    return " ".join(text.split())


def content_hash(text: str) -> str:
    """SHA-1 of :func:`normalise_for_hash` (for cross-post detection, not security)."""
    return hashlib.sha1(normalise_for_hash(text).encode("utf-8")).hexdigest()


def tokenize(text: str) -> list[str]:
    """Lowercased words, ``#hashtags`` and ``@mentions`` in order, URLs removed."""
    text = _URL_RE.sub(" ", unicodedata.normalize("NFKC", text))
    out = []
    for tok in _TOKEN_RE.findall(text):
        tok = tok.casefold().rstrip("'’-")
        tok = tok.replace("’", "'")
        tok = tok.removesuffix("'s")
        if tok:
            out.append(tok)
    return out


def extract_terms(*texts: str | None) -> list[str]:
    """Distinct index terms of the given texts, in first-seen order, at most ``MAX_TERMS``.

    Stop words and one-letter words are dropped; hashtags and mentions keep their sigil
    *and* add the bare word, so ``#abflood`` matches a query for ``abflood``. This
    array, indexed, is what keyword queries use, since the portable MongoDB subset has
    no ``$text``.
    """
    seen: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        for tok in tokenize(text):
            words = [tok, tok[1:]] if tok[0] in "#@" else [tok]
            for w in words:
                if len(w) < 2 or w in STOP_WORDS or w in seen:
                    continue
                seen[w] = None
                if len(seen) >= MAX_TERMS:
                    return list(seen)
    return list(seen)


def check_url(url: str | None) -> str | None:
    """Return the URL if it is an absolute http(s) URL, ``None`` if empty; else raise."""
    if url is None:
        return None
    url = str(url).strip()
    if not url:
        return None
    if len(url) > MAX_URL_CHARS:
        raise InvalidPost(f"url longer than {MAX_URL_CHARS} characters")
    if any(c.isspace() for c in url):
        raise InvalidPost(f"url contains whitespace: {url[:80]!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidPost(f"not an absolute http(s) url: {url[:80]!r}")
    return url


def make_geo(lat: Any, lon: Any) -> dict[str, Any]:
    """A GeoJSON point (``[lon, lat]`` order, as MongoDB's 2dsphere index wants)."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError) as exc:
        raise InvalidPost(f"coordinates are not numbers: {lat!r}, {lon!r}") from exc
    if not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise InvalidPost(f"coordinates out of range: lat={la}, lon={lo}")
    return {"type": "Point", "coordinates": [lo, la]}


# --------------------------------------------------------------------------- the post

_ID_PART = re.compile(r"^[\w.\-~+=/@]{1,200}$")


class Post(BaseModel):
    """One normalised post as stored in ``posts`` (``id`` is stored as ``_id``)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description='"source:native_id", unique across Vigil')
    source: str
    native_id: str
    ts: datetime
    text: str
    title: str | None = None
    url: str | None = None
    author: str | None = None
    lang: str | None = None
    geo: dict[str, Any] | None = None
    terms: list[str]
    content_hash: str
    truncated: bool = False
    engagement: int = 0
    meta: dict[str, Any] = Field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        """The MongoDB document, with the fields the scorer's job queue starts from."""
        doc = self.model_dump(exclude={"id"}, exclude_none=True)
        doc["_id"] = self.id
        doc["status"] = "new"
        doc["attempts"] = 0
        return doc


def build_post(
    *,
    source: str,
    native_id: Any,
    ts: Any,
    text: str | None,
    title: str | None = None,
    url: str | None = None,
    author: str | None = None,
    lang: str | None = None,
    lat: Any = None,
    lon: Any = None,
    engagement: Any = 0,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Post:
    """Validate and normalise one record into a :class:`Post` or raise :class:`InvalidPost`."""
    source = str(source or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]{0,63}", source):
        raise InvalidPost(f"invalid source name {source[:80]!r}")
    nid = str(native_id if native_id is not None else "").strip()
    if not nid:
        raise InvalidPost("missing native id")
    if not _ID_PART.match(nid):
        raise InvalidPost(f"invalid native id {nid[:80]!r}")
    when = check_ts(parse_ts(ts), now)
    body = clean_text(text)
    head = clean_text(title)[:MAX_TITLE_CHARS] or None
    if not body and not head:
        raise InvalidPost("empty text")
    truncated = len(body) > MAX_TEXT_CHARS
    if truncated:
        body = body[:MAX_TEXT_CHARS]
    geo = make_geo(lat, lon) if lat is not None and lon is not None else None
    try:
        eng = max(0, int(engagement or 0))
    except (TypeError, ValueError):
        eng = 0
    who = clean_text(author)[:MAX_AUTHOR_CHARS] or None
    language = (lang or "").strip().lower()[:16] or None
    return Post(
        id=f"{source}:{nid}",
        source=source,
        native_id=nid,
        ts=when,
        text=body,
        title=head,
        url=check_url(url),
        author=who,
        lang=language,
        geo=geo,
        terms=extract_terms(head, body),
        content_hash=content_hash(f"{head or ''} {body}"),
        truncated=truncated,
        engagement=eng,
        meta=meta or {},
    )


def tweet_id_to_datetime(tweet_id: int | str) -> datetime:
    """Creation time encoded in a Snowflake tweet id (ids after November 2010)."""
    ms = (int(tweet_id) >> 22) + 1288834974657
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --------------------------------------------------------------------------- scores (issue 4)

DEFAULT_TOPICS: tuple[str, ...] = (
    "crisis/disaster",
    "violence/crime",
    "politics",
    "business/brand",
    "health",
    "technology",
    "sports",
    "entertainment",
    "other",
)
"""The default topic taxonomy (``VIGIL_TOPICS`` overrides it); ``other`` is the catch-all."""

MAX_TOPICS = 4
MAX_ENTITIES = 12
MAX_PLACES = 8
MAX_RATIONALE_CHARS = 400
ENTITY_TYPES = ("person", "org", "place", "product")
"""Entity types a post can carry (the search index stores them as ``"type:name"``)."""
_OLD_ENTITY_TYPES = {"organization": "org", "organisation": "org", "location": "place", "gpe": "place"}
"""Type names written before issue 14 (and synonyms an LLM may use), read as today's."""


class Place(BaseModel):
    """A place a post mentions, geocoded from the bundled GeoNames tables (never from an LLM)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code")
    population: int | None = Field(default=None, ge=0)
    kind: str = Field(default="city", pattern="^(city|region|country)$")

    @property
    def key(self) -> str:
        """Stable id of the place in rollups: country, name and rounded coordinates."""
        return f"{self.country or '-'}:{self.name}:{self.lat:.2f},{self.lon:.2f}"


class Entity(BaseModel):
    """A named entity as written in the post: a person, organisation, place or product.

    Stored as ``{name, type}`` in ``posts.scores.entities``; the search index keeps
    ``"type:name"`` so Explore can filter on "org:Red Cross". Documents written before
    issue 14 used ``text`` and the types ``organization``/``location``: they still read.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern="^(" + "|".join(ENTITY_TYPES) + ")$")

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "name" not in data and "text" in data:
                data["name"] = data.pop("text")
            t = data.get("type")
            if isinstance(t, str):
                data["type"] = _OLD_ENTITY_TYPES.get(t.lower(), t.lower())
        return data

    @property
    def key(self) -> str:
        """``"type:name"``: how the search index, filters and watchlists name this entity."""
        return f"{self.type}:{self.name}"


class Scores(BaseModel):
    """What a scorer says about one post; stored as ``posts.scores``.

    ``model`` names what produced the scores (``cpu:<embedder>+heads`` or
    ``ollama:<tag>``), so after a circuit-breaker fallback a reader can see which one
    scored a post; ``version`` is the scorer version that makes writes idempotent.
    ``confidence`` is ``"low"`` when the post's language is one the scorer was not
    trained on (or could not be detected): the numbers are then a guess, flagged as such.
    """

    model_config = ConfigDict(frozen=True)

    sentiment: float = Field(ge=-1.0, le=1.0, description="-1 negative .. 1 positive")
    threat: float = Field(ge=0.0, le=1.0, description="intent of violence or harm")
    hate: float = Field(ge=0.0, le=1.0)
    toxicity: float = Field(ge=0.0, le=1.0)
    topics: list[str] = Field(default_factory=list, max_length=MAX_TOPICS)
    entities: list[Entity] = Field(default_factory=list, max_length=MAX_ENTITIES)
    places: list[Place] = Field(default_factory=list, max_length=MAX_PLACES)
    language: str = Field(default="und", max_length=16, description="ISO 639-1, 'und' when unknown")
    confidence: str = Field(default="high", pattern="^(high|low)$")
    model: str = Field(min_length=1, max_length=120)
    version: str = Field(min_length=1, max_length=60)
    rationale: str | None = Field(default=None, max_length=MAX_RATIONALE_CHARS)

    def to_doc(self) -> dict[str, Any]:
        """The ``posts.scores`` sub-document (plain types, ``None`` fields dropped)."""
        return self.model_dump(exclude_none=True)
