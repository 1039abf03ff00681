"""Reading RSS 0.9x/1.0/2.0 and Atom bodies, whatever their encoding or flaws. Pure.

:mod:`feedparser` does the format and encoding work (declared, HTTP-header and
sniffed charsets, a loose parser for ill-formed XML). Two repairs happen first:
character references to characters XML 1.0 forbids (``&#x1F;``) are removed, since
one such reference otherwise sends the whole feed to the loose parser; and a body
that is not valid UTF-8 and declares no encoding is decoded as windows-1252 (the
usual culprit) instead of being refused.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

# References to C0 controls other than tab, LF, CR (forbidden in XML 1.0).
_BAD_CHARREF = re.compile(
    rb"&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[0-8]|1[12]|1[4-9]|2[0-9]|3[01]));"
)
_XML_DECL_ENC = re.compile(rb"^\s*<\?xml[^>]*encoding=", re.IGNORECASE)


@dataclass
class ParsedFeed:
    """Entries of a feed plus what the crawler needs to judge it."""

    entries: list[Any]
    version: str
    encoding: str | None
    title: str | None = None
    language: str | None = None
    updated: datetime | None = None
    problems: list[str] = field(default_factory=list)


def strip_invalid_charrefs(body: bytes) -> tuple[bytes, int]:
    """Remove references to characters XML 1.0 forbids; returns the body and how many."""
    return _BAD_CHARREF.subn(b"", body)


def struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``time.struct_time``) as an aware datetime."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_feed(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed body; ``problems`` lists the repairs made and parser complaints."""
    problems: list[str] = []
    body, n = strip_invalid_charrefs(body)
    if n:
        problems.append(f"removed {n} character reference(s) XML forbids")
    headers = {"content-type": content_type} if content_type else {}
    if not _XML_DECL_ENC.match(body):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            # Undeclared non-UTF-8 bytes: declare the most likely charset rather than lose the feed.
            problems.append("body is not UTF-8 and declares no encoding: read as windows-1252")
            headers = {"content-type": "application/xml; charset=windows-1252"}
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problems.append(f"{type(exc).__name__}: {str(exc)[:160]}")
    feed = parsed.get("feed", {})
    updated = struct_to_datetime(feed.get("updated_parsed") or feed.get("published_parsed"))
    return ParsedFeed(
        entries=list(parsed.get("entries", [])),
        version=parsed.get("version") or "",
        encoding=parsed.get("encoding"),
        title=feed.get("title"),
        language=feed.get("language"),
        updated=updated,
        problems=problems,
    )
