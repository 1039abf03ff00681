"""The post model: validation and normalisation of one collected post, no I/O.

Every collector (archive import, Scrapy spiders) turns what it read into a
:class:`Post` through :func:`build_post`. Anything that cannot become a valid post
raises :class:`InvalidPost` with a one-line reason, which the caller writes to the
``quarantine`` collection together with the raw payload, so nothing is silently lost.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.text import clean_text, content_hash, extract_terms

MAX_TEXT_CHARS = 40_000
"""Longer texts are truncated (and flagged), not rejected: a huge post is still a post."""
MAX_TITLE_CHARS = 1_000
MAX_AUTHOR_CHARS = 300
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
