"""Field mappings: which field of a record becomes which part of a post.

``--map text=body --map ts=created_at --map meta.label=class`` names the record
field (a dotted path into JSON, or a CSV column) for each post field; ``meta.NAME``
keeps any extra field under the post's ``meta``. Post fields the user does not map
are looked up among common names (``created_at``, ``full_text``, ``body`` ...) in the
first record, so most exports import with no ``--map`` at all. The resolved mapping
is then fixed for the whole file: records are read the same way throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipelines.ingest.importers.streams import InputError

TARGETS = ("id", "ts", "text", "title", "url", "author", "lang", "lat", "lon", "engagement", "source")
"""Post fields a mapping can fill (plus ``meta.NAME``)."""

CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "id_str", "_id", "native_id", "post_id", "tweet_id", "uuid", "guid"),
    "ts": (
        "ts",
        "created_at",
        "created_utc",
        "timestamp",
        "time",
        "date",
        "datetime",
        "published",
        "published_at",
        "pubdate",
    ),
    "text": ("text", "full_text", "body", "content", "message", "selftext", "description", "tweet"),
    "title": ("title", "subject", "headline"),
    "url": ("url", "link", "permalink", "uri"),
    "author": ("author", "user.screen_name", "username", "screen_name", "user.username", "user_name"),
    "lang": ("lang", "language"),
    "lat": ("lat", "latitude", "coordinates.coordinates.1", "geo.lat"),
    "lon": ("lon", "lng", "longitude", "coordinates.coordinates.0", "geo.lon"),
    "engagement": ("engagement", "score", "likes", "like_count", "favorite_count"),
}
"""Names tried, in order, for post fields left unmapped. ``source`` is never guessed:
a tweet's ``source`` is the client app, not where the post was collected."""

_KWARG = {"id": "native_id"}
MISSING = object()


def parse_map_options(items: Iterable[str]) -> dict[str, str]:
    """``["text=body", "meta.label=class"]`` -> ``{"text": "body", "meta.label": "class"}``."""
    out: dict[str, str] = {}
    for item in items:
        target, sep, path = item.partition("=")
        target, path = target.strip(), path.strip()
        if not sep or not target or not path:
            raise InputError(f"--map {item!r} is not FIELD=PATH (for example --map text=body)")
        if target not in TARGETS and not (target.startswith("meta.") and len(target) > 5):
            raise InputError(
                f"--map {item!r}: unknown post field {target!r}; use one of {', '.join(TARGETS)} or meta.NAME"
            )
        out[target] = path
    return out


def get_path(obj: Any, path: str) -> Any:
    """Follow a dotted path through dicts and lists (``a.b.0``); ``MISSING`` when absent."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    cur = obj
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return MISSING
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            i = int(part)
            if not -len(cur) <= i < len(cur):
                return MISSING
            cur = cur[i]
        else:
            return MISSING
    return cur


def resolve(
    user_map: Mapping[str, str],
    has: Callable[[str], str | None],
    what: str,
    present: Iterable[str],
    noun: str = "fields",
) -> dict[str, str]:
    """Fix the mapping for a file from the user's ``--map`` and its first record.

    ``has(path)`` returns the actual field name when the record has it (CSV column
    names match case-insensitively), else ``None``. Fields the user mapped but the
    record lacks, or a record with no id, time or text, refuse the file up front,
    naming what is missing and what is there.
    """
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for target, path in user_map.items():
        actual = has(path)
        if actual is None:
            missing.append(f"{path!r} (mapped to {target})")
        else:
            resolved[target] = actual
    for target, names in CANDIDATES.items():
        if target in resolved:
            continue
        for name in names:
            actual = has(name)
            if actual is not None:
                resolved[target] = actual
                break
    for target in ("id", "ts"):
        if target not in resolved and target not in user_map:
            missing.append(
                f"a {target} field (tried {', '.join(CANDIDATES[target])}; or --map {target}=FIELD)"
            )
    if "text" not in resolved and "title" not in resolved and "text" not in user_map:
        missing.append(f"a text field (tried {', '.join(CANDIDATES['text'])}; or --map text=FIELD)")
    if missing:
        shown = ", ".join(list(present)[:40]) or "none"
        raise InputError(f"{what} lacks {' and '.join(missing)}; {noun} present: {shown}")
    return resolved


def apply(mapping: Mapping[str, str], get: Callable[[str], Any], default_source: str) -> dict[str, Any]:
    """Keyword arguments of :func:`~pipelines.core.post.build_post` for one record."""
    fields: dict[str, Any] = {"source": default_source}
    meta: dict[str, Any] = {}
    for target, path in mapping.items():
        value = get(path)
        if value is MISSING or value is None or value == "":
            continue
        if target.startswith("meta."):
            meta[target[5:]] = value
        elif target in ("text", "title", "author", "url", "lang", "source"):
            fields[target] = value if isinstance(value, str) else str(value)
        else:
            fields[_KWARG.get(target, target)] = value
    if meta:
        fields["meta"] = meta
    return fields
