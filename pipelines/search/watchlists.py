"""Watchlists: saved queries (a brand, a person, a place, a topic) that Vigil watches for you.

A watchlist is a keyword query in the boolean syntax of Explore (:mod:`pipelines.search`),
an optional exclusion query, sources, languages and an optional circle on the map. This
module is pure: it validates a watchlist, compiles it to a MongoDB filter, and decides in
Python whether one post matches; both mean the same thing (a test checks they select the
same posts). What a watchlist selects on the pages, in the alerts loop and for the
detector is its definition compiled for the search index
(:func:`pipelines.search.select.watchlist_query`), which tests compare with these two;
``Filters(watchlist=...)`` means that selection (no tags on posts).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.search import Node, compile_query, matches, parse
from pipelines.search.filters import (
    EARTH_RADIUS_M,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    Filters,
    GeoArea,
    validate_entities,
)

ROLES = ("admin", "analyst", "viewer")
"""The roles of issue 8; a watchlist can be shared with any of them."""
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


class WatchlistError(ValueError):
    """A watchlist that cannot be saved; the message names the field and the value."""


def slugify(name: str) -> str:
    """A readable id from a name (``"ACME Corp."`` -> ``"acme-corp"``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-")
    return slug or "watchlist"


class GeoRadius(BaseModel):
    """A circle on the map: posts whose ``geo`` point lies within ``km`` of the centre."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    km: float = Field(gt=0, le=20_000)

    def area(self) -> GeoArea:
        return GeoArea(center=(self.lon, self.lat), radius_km=self.km)

    def contains(self, lon: float, lat: float) -> bool:
        """Great-circle distance on the sphere MongoDB's ``$centerSphere`` uses."""
        return _haversine_km(self.lon, self.lat, lon, lat) <= self.km


def _haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * (EARTH_RADIUS_M / 1000) * math.asin(min(1.0, math.sqrt(a)))


def _clean_names(field: str, value: Any, lower: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"{field} must be a list of names, not {type(value).__name__}")
    if len(value) > MAX_LIST_ITEMS:
        raise ValueError(f"{field} has more than {MAX_LIST_ITEMS} items")
    out = set()
    for v in value:
        if not isinstance(v, str):
            raise ValueError(f"{field} items must be text, not {type(v).__name__}")
        v = v.strip().lower() if lower else v.strip()
        if not v:
            continue
        if len(v) > MAX_NAME_CHARS or v.startswith("$"):
            raise ValueError(f"invalid {field} item {v[:40]!r}")
        out.add(v)
    return tuple(sorted(out))


class Watchlist(BaseModel):
    """A saved query with an owner and a sharing list. Validated on construction.

    ``fingerprint`` covers only what decides matching (query, exclusions, sources,
    languages, area): renaming or re-sharing a watchlist does not re-tag history, editing
    its query does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=1000)
    query: str = ""
    exclude: str = ""
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    """``type:name`` entities (issue 14); a post matches when it names any of them."""
    geo: GeoRadius | None = None
    owner: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    shared_users: tuple[str, ...] = ()
    shared_roles: tuple[str, ...] = ()
    created: datetime | None = None
    updated: datetime | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not isinstance(v, str) or not ID_RE.match(v):
            raise ValueError(f"id {str(v)[:60]!r} must be 1-48 lowercase letters, digits, '-' or '_'")
        return v

    @field_validator("query", "exclude")
    @classmethod
    def _query(cls, v: str) -> str:
        parse(v)  # QuerySyntaxError (a ValueError) says where the problem is
        return v.strip()

    @field_validator("sources", "shared_users", mode="before")
    @classmethod
    def _names(cls, v: Any, info: Any) -> tuple[str, ...]:
        return _clean_names(info.field_name, v, lower=info.field_name == "sources")

    @field_validator("langs", mode="before")
    @classmethod
    def _langs(cls, v: Any) -> tuple[str, ...]:
        return _clean_names("langs", v, lower=True)

    @field_validator("entities", mode="before")
    @classmethod
    def _entities(cls, v: Any) -> tuple[str, ...]:
        return validate_entities(v)  # FilterError is a ValueError: pydantic reports it

    @field_validator("shared_roles", mode="before")
    @classmethod
    def _roles(cls, v: Any) -> tuple[str, ...]:
        roles = _clean_names("shared_roles", v, lower=True)
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ValueError(f"unknown role {bad[0]!r}; roles are {', '.join(ROLES)}")
        return roles

    @model_validator(mode="after")
    def _something_to_match(self) -> Watchlist:
        if not (self.query or self.sources or self.langs or self.geo or self.entities):
            raise ValueError(
                "a watchlist needs keywords, sources, languages or an area to match, or entities"
            )
        return self

    @classmethod
    def make(cls, **values: Any) -> Watchlist:
        """Validate untrusted values (form, CLI, YAML); one-line :class:`WatchlistError`."""
        values = dict(values)
        if not str(values.get("name") or "").strip():
            raise WatchlistError("name: a watchlist needs a name")
        if not values.get("id"):
            values["id"] = slugify(str(values["name"]))
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            raise WatchlistError(first_error(exc)) from exc

    @property
    def fingerprint(self) -> str:
        """Hash of the matching definition; tags and rollups belong to one fingerprint."""
        spec = {
            "query": self.query,
            "exclude": self.exclude,
            "sources": self.sources,
            "langs": self.langs,
            "geo": self.geo.model_dump() if self.geo else None,
        }
        if self.entities:  # only when set: older watchlists keep their fingerprints
            spec["entities"] = self.entities
        return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def series_key(self) -> str:
        """The detector's series for this watchlist."""
        return f"watch:{self.id}"

    def filters(self, since: datetime | None = None, until: datetime | None = None) -> Filters:
        """The shared :class:`Filters` for this watchlist's definition (without exclusions)."""
        return Filters.make(
            since=since,
            until=until,
            sources=list(self.sources),
            langs=list(self.langs),
            query=self.query,
            entities=list(self.entities),
            area=self.geo.area() if self.geo else None,
        )

    def to_mongo(self, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
        """The ``posts`` filter of the definition, exclusions included (for previews)."""
        base = self.filters(since, until).to_mongo()
        excl = compile_query(self.exclude)
        if not excl:
            return base
        nor = {"$nor": [excl]}
        return {"$and": [base, nor]} if base else nor

    def matcher(self) -> Matcher:
        return Matcher.of(self)

    def to_doc(self) -> dict[str, Any]:
        """The ``watchlists`` document (``_id`` = id, fingerprint stored for readers)."""
        doc = self.model_dump(exclude={"id"}, mode="python")
        doc["_id"] = self.id
        doc["fingerprint"] = self.fingerprint
        doc["sources"], doc["langs"] = list(self.sources), list(self.langs)
        doc["entities"] = list(self.entities)
        doc["shared_users"], doc["shared_roles"] = list(self.shared_users), list(self.shared_roles)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Watchlist:
        values = {k: v for k, v in doc.items() if k in cls.model_fields}
        values["id"] = doc["_id"]
        return cls.model_validate(values)

    # ---------------------------------------------------------------- sharing

    def visible_to(self, user: str | None, role: str | None) -> bool:
        """Admins see everything; others see their own, shared and unowned (team) watchlists."""
        if role == "admin" or self.owner is None:
            return True
        return (
            user == self.owner
            or (user is not None and user in self.shared_users)
            or (role is not None and role in self.shared_roles)
        )

    def editable_by(self, user: str | None, role: str | None) -> bool:
        """Admins and the owner edit; analysts edit team watchlists; viewers never edit."""
        if role == "admin":
            return True
        if role == "viewer":
            return False
        return self.owner is None or user == self.owner


def first_error(exc: ValueError, what: str = "watchlist") -> str:
    """The first pydantic error as ``field: reason`` (or ``what: reason`` for the whole model)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or what
        msg = str(first.get("msg", exc)).removeprefix("Value error, ")
        return f"{loc}: {msg}"
    return str(exc)


@dataclass(frozen=True)
class Matcher:
    """A watchlist compiled once for matching many posts in Python."""

    id: str
    node: Node | None
    exclude: Node | None
    sources: frozenset[str]
    langs: frozenset[str]
    geo: GeoRadius | None
    entities: frozenset[str] = frozenset()

    @classmethod
    def of(cls, wl: Watchlist) -> Matcher:
        return cls(
            id=wl.id,
            node=parse(wl.query),
            exclude=parse(wl.exclude),
            sources=frozenset(wl.sources),
            langs=frozenset(wl.langs),
            geo=wl.geo,
            entities=frozenset(wl.entities),
        )

    def __call__(self, post: Mapping[str, Any]) -> bool:
        """Whether ``post`` (a posts document) matches; the same meaning as :meth:`to_mongo`."""
        if self.sources and post.get("source") not in self.sources:
            return False
        if self.langs and post.get("lang") not in self.langs:
            return False
        if self.entities and not self.entities & _entity_keys(post):
            return False
        if self.geo is not None:
            point = _point(post.get("geo"))
            if point is None or not self.geo.contains(*point):
                return False
        terms = post.get("terms") or ()
        text = post.get("text") or ""
        if self.node is not None and not matches(self.node, terms, text):
            return False
        return not (self.exclude is not None and matches(self.exclude, terms, text))


def _entity_keys(post: Mapping[str, Any]) -> set[str]:
    """``type:name`` of the entities in a post's scores (none before it is scored)."""
    ents = (post.get("scores") or {}).get("entities") or []
    return {f"{e.get('type')}:{e.get('name')}" for e in ents if isinstance(e, Mapping)}


def _point(geo: Any) -> tuple[float, float] | None:
    if not isinstance(geo, Mapping) or geo.get("type") != "Point":
        return None
    coords = geo.get("coordinates")
    if not isinstance(coords, list | tuple) or len(coords) != 2:
        return None
    return float(coords[0]), float(coords[1])


def match_post(watchlist: Watchlist, post: Mapping[str, Any]) -> bool:
    """Whether one post matches one watchlist (convenience over :class:`Matcher`)."""
    return Matcher.of(watchlist)(post)
