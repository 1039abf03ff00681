"""Pushshift Reddit dumps: NDJSON submissions (``RS_*``) and comments (``RC_*``).

Both kinds may share a file. A submission becomes a post titled with its title and
its self text as text; a comment's text is its body. Ids become Reddit fullnames
(``t3_`` submissions, ``t1_`` comments) because the two id spaces overlap. Removed
or deleted bodies are kept (flagged ``meta.removed``): they still count as activity,
which is what volume anomalies are made of.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipelines.ingest.importers.base import InputFile, Item, ReadOptions, error_item, json_objects
from pipelines.ingest.importers.streams import Line

NAME = "pushshift"
SOURCE = "reddit"
_GONE = ("[removed]", "[deleted]")


def looks_like(obj: dict[str, Any]) -> bool:
    return "subreddit" in obj and "created_utc" in obj and ("title" in obj or "body" in obj)


def _author(obj: dict[str, Any]) -> str | None:
    a = obj.get("author")
    return a if isinstance(a, str) and a not in _GONE else None


def record_fields(obj: dict[str, Any], source: str) -> dict[str, Any]:
    """``build_post`` arguments of one submission or comment."""
    rid = str(obj.get("id") or "").strip()
    sub = obj.get("subreddit")
    is_comment = "body" in obj and "title" not in obj
    meta: dict[str, Any] = {"subreddit": sub, "kind": "comment" if is_comment else "submission"}
    for key in ("subreddit_id", "link_id", "parent_id", "num_comments", "score", "over_18", "domain"):
        if obj.get(key) is not None:
            meta[key] = obj[key]
    permalink = obj.get("permalink")
    if is_comment:
        text, title = obj.get("body"), None
        fullname = f"t1_{rid}"
        if not permalink and sub and str(obj.get("link_id", "")).startswith("t3_"):
            permalink = f"/r/{sub}/comments/{obj['link_id'][3:]}/_/{rid}/"
    else:
        text, title = obj.get("selftext"), obj.get("title")
        fullname = f"t3_{rid}"
        link = obj.get("url")
        if isinstance(link, str) and link.startswith("http") and not obj.get("is_self"):
            meta["link_url"] = link
    if isinstance(text, str) and text.strip() in _GONE:
        meta["removed"] = text.strip()
        text = text.strip() if not title else ""
    url = (
        f"https://www.reddit.com{permalink}"
        if isinstance(permalink, str) and permalink.startswith("/")
        else None
    )
    score = obj.get("score")
    return {
        "source": source,
        "native_id": fullname if rid else "",
        "ts": obj.get("created_utc"),
        "text": text,
        "title": title,
        "author": _author(obj),
        "url": url,
        "engagement": max(0, int(score)) if isinstance(score, int | float) else 0,
        "meta": meta,
    }


def read(inp: InputFile, lines: Iterator[Line], opts: ReadOptions) -> Iterator[Item]:
    source = opts.source or SOURCE
    for line, obj, problem in json_objects(lines):
        if obj is None:
            yield error_item(line, problem)
            continue
        yield Item(line.no, (line.end, line.no), obj, fields=record_fields(obj, source))
