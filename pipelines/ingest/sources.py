"""Source definitions: what the crawler collects, validated before it is stored. No I/O.

A source is one feed or one API query (a subreddit's new posts, a Mastodon hashtag
timeline, ...). Its definition lives in the ``sources`` collection; the crawler's
per-source state (cursor, ETag / Last-Modified validators, last run, lock) lives in
the same document under ``state`` and ``lock`` and is never part of the definition.

A definition that cannot work is refused here, with the field and the offending
value in a one-line reason, so a typo never turns into a crawl that fails every
15 minutes. Secrets are never stored: ``auth_env`` names an environment variable
whose value the crawler sends as the ``auth_header`` at request time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

KINDS: tuple[str, ...] = ("rss", "reddit", "mastodon", "fourchan", "hackernews", "bluesky")
"""Source kinds; each is the ``type`` id (and Scrapy spider name) of one spider module."""

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
"""The same rule as a post's ``source`` (posts are stored as ``<name>:<native id>``)."""

ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")

MIN_INTERVAL_S = 10
MAX_INTERVAL_S = 7 * 86_400


class InvalidSource(ValueError):
    """A source definition that cannot be used; ``str(exc)`` is the one-line reason."""


# --------------------------------------------------------------------------- per-kind parameters


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_api: ClassVar[str | None] = None


class RssParams(_Params):
    """RSS 0.9x/1.0/2.0 and Atom: everything is in the source's ``url``."""


class RedditParams(_Params):
    default_api: ClassVar[str] = "https://www.reddit.com"
    listing: Literal["new", "hot", "top", "rising", "search", "comments"] = "new"
    subreddit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{2,21}$")
    q: str | None = Field(default=None, min_length=1, max_length=512)
    thread: str | None = Field(default=None, pattern=r"^[a-z0-9]{1,12}$")
    raw_json: bool = True
    limit: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _needs(self) -> RedditParams:
        if self.listing == "search" and not self.q:
            raise ValueError("listing 'search' needs q")
        if self.listing == "comments" and not self.thread:
            raise ValueError("listing 'comments' needs thread (the base-36 post id)")
        if self.listing in ("new", "hot", "top", "rising") and not self.subreddit:
            raise ValueError(f"listing {self.listing!r} needs subreddit")
        return self


class MastodonParams(_Params):
    default_api: ClassVar[str] = "https://mastodon.social"
    timeline: Literal["public", "tag", "account"] = "public"
    tag: str | None = Field(default=None, pattern=r"^\w{1,100}$")
    account_id: str | None = Field(default=None, pattern=r"^\d{1,30}$")
    local: bool = False
    limit: int = Field(default=40, ge=1, le=40)

    @model_validator(mode="after")
    def _needs(self) -> MastodonParams:
        if self.timeline == "tag" and not self.tag:
            raise ValueError("timeline 'tag' needs tag (without the #)")
        if self.timeline == "account" and not self.account_id:
            raise ValueError("timeline 'account' needs account_id (numeric)")
        return self


class FourchanParams(_Params):
    default_api: ClassVar[str] = "https://a.4cdn.org"
    board: str = Field(pattern=r"^[a-z0-9]{1,10}$")
    endpoint: Literal["catalog", "threads", "thread"] = "catalog"
    thread: int | None = Field(default=None, ge=1)
    follow_threads: bool = False
    max_threads: int = Field(default=20, ge=1, le=200)

    @model_validator(mode="after")
    def _needs(self) -> FourchanParams:
        if self.endpoint == "thread" and not self.thread:
            raise ValueError("endpoint 'thread' needs thread (the OP number)")
        return self


class HackernewsParams(_Params):
    default_api: ClassVar[str] = "https://hacker-news.firebaseio.com/v0"
    list: Literal["newstories", "topstories", "beststories", "askstories", "showstories", "jobstories"] = (
        "newstories"
    )
    max_items: int = Field(default=100, ge=1, le=500)


class BlueskyParams(_Params):
    default_api: ClassVar[str] = "https://public.api.bsky.app"
    endpoint: Literal["searchPosts", "getAuthorFeed"] = "searchPosts"
    q: str | None = Field(default=None, min_length=1, max_length=512)
    actor: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.:\-]{3,253}$")
    sort: Literal["latest", "top"] = "latest"
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")
    limit: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _needs(self) -> BlueskyParams:
        if self.endpoint == "searchPosts" and not self.q:
            raise ValueError("endpoint 'searchPosts' needs q")
        if self.endpoint == "getAuthorFeed" and not self.actor:
            raise ValueError("endpoint 'getAuthorFeed' needs actor (a handle or DID)")
        return self


PARAMS: dict[str, type[_Params]] = {
    "rss": RssParams,
    "reddit": RedditParams,
    "mastodon": MastodonParams,
    "fourchan": FourchanParams,
    "hackernews": HackernewsParams,
    "bluesky": BlueskyParams,
}


# --------------------------------------------------------------------------- the definition


def _http_url(value: str, field: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE) or any(c.isspace() for c in value):
        raise ValueError(f"{field} must be an absolute http(s) URL")
    return value


class SourceDef(BaseModel):
    """One source as stored in ``sources`` (without its crawl ``state`` and ``lock``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["rss", "reddit", "mastodon", "fourchan", "hackernews", "bluesky"]
    url: str | None = Field(default=None, description="Feed URL (rss only).")
    api_base: str | None = Field(default=None, description="API host; the kind's public default if unset.")
    params: dict[str, Any] = Field(default_factory=dict)
    interval_s: int = Field(default=900, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    enabled: bool = True
    timeout_s: int = Field(default=600, ge=5, le=3600, description="A run is killed after this long.")
    obey_robots: bool = True
    auth_env: str | None = Field(default=None, description="Environment variable holding the header value.")
    auth_header: str = "Authorization"
    description: str | None = Field(default=None, max_length=500)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("name must be 1-64 lower-case letters, digits, '.', '_' or '-'")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _http_url(v, "url")

    @field_validator("api_base")
    @classmethod
    def _api(cls, v: str | None) -> str | None:
        return None if v is None else _http_url(v, "api_base").rstrip("/")

    @field_validator("auth_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not ENV_RE.match(v):
            raise ValueError(
                "auth_env must be the NAME of an environment variable (A-Z, 0-9, _);"
                " never put the secret itself in a source"
            )
        return v

    @field_validator("auth_header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not HEADER_RE.match(v):
            raise ValueError("auth_header must be an HTTP header name")
        return v

    @model_validator(mode="after")
    def _kind_rules(self) -> SourceDef:
        if self.kind == "rss" and not self.url:
            raise ValueError("kind 'rss' needs url (the feed address)")
        if self.kind != "rss" and self.url:
            raise ValueError(f"kind {self.kind!r} takes params and api_base, not url")
        model = PARAMS[self.kind]
        try:
            self.params = model.model_validate(self.params).model_dump(exclude_defaults=True)
        except ValidationError as exc:
            raise ValueError(f"params: {_first_error(exc)}") from None
        return self

    @property
    def options(self) -> Any:
        """The kind's parameters with defaults filled in (a ``*Params`` model)."""
        return PARAMS[self.kind].model_validate(self.params)

    @property
    def api(self) -> str:
        """``api_base`` or the kind's public default (``""`` for rss, which has ``url``)."""
        return self.api_base or PARAMS[self.kind].default_api or ""

    def to_doc(self) -> dict[str, Any]:
        """The stored definition (``state`` and ``lock`` are written by the crawler only)."""
        return self.model_dump()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    value = err.get("input")
    # Never echo what was given for auth_env: it may be the secret pasted by mistake.
    hidden = isinstance(value, dict | list) or value is None or "auth_env" in loc
    shown = "" if hidden else f" (got {str(value)[:80]!r})"
    return f"{loc + ': ' if loc else ''}{msg}{shown}"


def validate_source(data: dict[str, Any]) -> SourceDef:
    """A :class:`SourceDef` from a plain mapping, or :class:`InvalidSource` with the reason."""
    if not isinstance(data, dict):
        raise InvalidSource(f"a source must be a mapping, got {type(data).__name__}")
    clean = {k: v for k, v in data.items() if k not in ("state", "lock", "updated", "_id")}
    name = clean.get("name", "?")
    try:
        return SourceDef.model_validate(clean)
    except ValidationError as exc:
        raise InvalidSource(f"source {name!r}: {_first_error(exc)}") from None


def load_sources_file(path: Path) -> tuple[list[SourceDef], list[str]]:
    """Read a ``sources.yaml``: the valid definitions and one reason per refused one.

    The file is ``sources: [ {name, kind, ...}, ... ]`` (a bare list also works).
    A refused entry does not stop the others.
    """
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidSource(f"cannot read sources file {path}: {exc}") from exc
    entries = data.get("sources", []) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InvalidSource(f"{path}: expected a list under 'sources', got {type(entries).__name__}")
    good: list[SourceDef] = []
    bad: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            src = validate_source(entry)
        except InvalidSource as exc:
            bad.append(f"{path} entry {i + 1}: {exc}")
            continue
        if src.name in seen:
            bad.append(f"{path} entry {i + 1}: duplicate source name {src.name!r}")
            continue
        seen.add(src.name)
        good.append(src)
    return good, bad


def parse_param_pairs(pairs: list[str]) -> dict[str, Any]:
    """``["subreddit=worldnews", "limit=50", "raw_json=false"]`` to a dict (CLI helper).

    Values are read as YAML scalars so numbers and booleans keep their types.
    """
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidSource(f"parameter must look like key=value, got {pair!r}")
        try:
            parsed = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            parsed = value
        out[key.strip()] = parsed if isinstance(parsed, int | float | bool) else value
    return out
