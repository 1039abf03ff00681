"""What a user selected (time, sources, languages, keywords, score ranges, places, area),
validated and compiled to a MongoDB filter over ``posts``.

One :class:`Filters` value is shared by every dashboard page, the exports (which must
select exactly what the page shows) and watchlists. It is frozen and hashable, so the
dashboard can cache query results keyed on it. Every field is type-checked: a dict, an
operator string or an oversized list from a URL or a form is refused with a reason
before anything reaches MongoDB (see :mod:`pipelines.search` for the keyword syntax).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from pipelines.search import compile_query, parse

MAX_LIST_ITEMS = 200
MAX_NAME_CHARS = 200
SCORE_FIELDS = {"threat": (0.0, 1.0), "hate": (0.0, 1.0), "toxicity": (0.0, 1.0), "sentiment": (-1.0, 1.0)}
EARTH_RADIUS_M = 6_378_100.0


class FilterError(ValueError):
    """A filter value of the wrong type or size; the message names the field."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""Control characters (NUL included) have no place in a name and are refused."""


def _names(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise FilterError(f"{name} must be a list of names, not {type(value).__name__}")
    if len(value) > MAX_LIST_ITEMS:
        raise FilterError(f"{name} has more than {MAX_LIST_ITEMS} items")
    out = []
    for v in value:
        if not isinstance(v, str):
            raise FilterError(f"{name} items must be text, not {type(v).__name__}")
        v = v.strip()
        if not v:
            continue
        if len(v) > MAX_NAME_CHARS or v.startswith("$") or _CONTROL.search(v):
            raise FilterError(f"invalid {name} item {v[:40]!r}")
        out.append(v)
    return tuple(sorted(set(out)))


def _range(name: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    lo_ok, hi_ok = SCORE_FIELDS[name]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise FilterError(f"{name} range must be two numbers")
    try:
        lo, hi = float(value[0]), float(value[1])
    except (TypeError, ValueError) as exc:
        raise FilterError(f"{name} range must be two numbers, got {value!r}") from exc
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi or lo < lo_ok or hi > hi_ok:
        raise FilterError(f"{name} range {lo}..{hi} is outside {lo_ok}..{hi_ok} or reversed")
    if (lo, hi) == (lo_ok, hi_ok):
        return None  # the full range filters nothing, and must not drop unscored posts
    return (lo, hi)


def _flag(name: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FilterError(f"{name} must be true or false, not {type(value).__name__}")
    return value


def _time(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise FilterError(f"{name} must be a datetime, not {type(value).__name__}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class GeoArea:
    """A circle (``center`` + ``radius_km``) or a polygon (``ring`` of lon/lat pairs)."""

    center: tuple[float, float] | None = None  # (lon, lat)
    radius_km: float | None = None
    ring: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        # Coordinates are stored as floats checked here, so nothing but numbers reaches
        # the $geoWithin clause (a dict or a string in a point is refused).
        if self.ring is not None:
            if not isinstance(self.ring, list | tuple) or not 4 <= len(self.ring) <= 1000:
                raise FilterError("an area polygon needs 4 to 1000 points and must be closed")
            ring = tuple(_check_lonlat(*_pair(p)) for p in self.ring)
            if ring[0] != ring[-1]:
                raise FilterError("an area polygon needs 4 to 1000 points and must be closed")
            object.__setattr__(self, "ring", ring)
        elif self.center is not None and self.radius_km is not None:
            object.__setattr__(self, "center", _check_lonlat(*_pair(self.center)))
            radius = _number("radius_km", self.radius_km)
            if not 0 < radius <= 20_000:
                raise FilterError(f"radius {self.radius_km} km must be between 0 and 20,000")
            object.__setattr__(self, "radius_km", radius)
        else:
            raise FilterError("an area is a circle (center and radius) or a polygon")

    def to_mongo(self) -> dict[str, Any]:
        if self.ring is not None:
            poly = {"type": "Polygon", "coordinates": [[list(p) for p in self.ring]]}
            return {"geo": {"$geoWithin": {"$geometry": poly}}}
        assert self.center is not None and self.radius_km is not None
        radians = float(self.radius_km) * 1000 / EARTH_RADIUS_M
        return {"geo": {"$geoWithin": {"$centerSphere": [list(self.center), radians]}}}


def _pair(point: Any) -> tuple[Any, Any]:
    if not isinstance(point, list | tuple) or len(point) != 2:
        raise FilterError(f"a point must be a (lon, lat) pair, got {str(point)[:40]!r}")
    return point[0], point[1]


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        raise FilterError(f"{name} must be a number, got {str(value)[:40]!r}")
    try:
        return float(value)
    except ValueError as exc:
        raise FilterError(f"{name} must be a number, got {value[:40]!r}") from exc


def _check_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    try:
        lo, la = _number("longitude", lon), _number("latitude", lat)
    except FilterError as exc:
        raise FilterError(f"coordinates must be numbers, got {str(lon)[:40]!r}, {str(lat)[:40]!r}") from exc
    if not (-180 <= lo <= 180 and -90 <= la <= 90):
        raise FilterError(f"coordinates out of range: lon={lo}, lat={la}")
    return (lo, la)


@dataclass(frozen=True)
class Filters:
    """A validated selection of posts. Build with :meth:`make` from untrusted values."""

    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    query: str = ""
    threat: tuple[float, float] | None = None
    hate: tuple[float, float] | None = None
    toxicity: tuple[float, float] | None = None
    sentiment: tuple[float, float] | None = None
    places: tuple[str, ...] = ()
    watchlist: str | None = None
    area: GeoArea | None = None
    geo_only: bool = False
    extra: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    @classmethod
    def make(cls, **values: Any) -> Filters:
        """Validate untrusted values (from widgets, URLs, saved watchlists) into Filters."""
        unknown = set(values) - {f.name for f in fields(cls)} - {"extra"}
        if unknown:
            raise FilterError(f"unknown filter fields: {', '.join(sorted(unknown))}")
        query = values.get("query") or ""
        if not isinstance(query, str):
            raise FilterError(f"query must be text, not {type(query).__name__}")
        parse(query)  # raises QuerySyntaxError with the position of the problem
        since, until = _time("since", values.get("since")), _time("until", values.get("until"))
        if since and until and since >= until:
            raise FilterError(
                f"the time range is empty: {since:%Y-%m-%d %H:%M} is not before {until:%Y-%m-%d %H:%M}"
            )
        watch = values.get("watchlist")
        if watch is not None and (
            not isinstance(watch, str) or len(watch) > MAX_NAME_CHARS or watch.startswith("$")
        ):
            raise FilterError("watchlist must be a watchlist id")
        area = values.get("area")
        if area is not None and not isinstance(area, GeoArea):
            raise FilterError("area must be a GeoArea")
        return cls(
            since=since,
            until=until,
            sources=_names("sources", values.get("sources")),
            langs=_names("langs", values.get("langs")),
            query=query.strip(),
            threat=_range("threat", values.get("threat")),
            hate=_range("hate", values.get("hate")),
            toxicity=_range("toxicity", values.get("toxicity")),
            sentiment=_range("sentiment", values.get("sentiment")),
            places=_names("places", values.get("places")),
            watchlist=watch,
            area=area,
            geo_only=_flag("geo_only", values.get("geo_only", False)),
        )

    def replace(self, **changes: Any) -> Filters:
        """A copy with some fields changed (validated again)."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        current.update(changes)
        return Filters.make(**current)

    def to_mongo(self) -> dict[str, Any]:
        """The ``posts`` filter. Uses indexed fields first (``ts``, ``source``, ``terms``)."""
        clauses: list[dict[str, Any]] = []
        if self.since or self.until:
            clauses.append({"ts": {k: v for k, v in (("$gte", self.since), ("$lt", self.until)) if v}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.langs:
            clauses.append({"lang": {"$in": list(self.langs)}})
        for name in SCORE_FIELDS:
            rng = getattr(self, name)
            if rng is not None:
                clauses.append({f"scores.{name}": {"$gte": rng[0], "$lte": rng[1]}})
        if self.places:
            clauses.append({"scores.places.name": {"$in": list(self.places)}})
        if self.watchlist:
            clauses.append({"watchlists": self.watchlist})
        if self.area is not None:
            clauses.append(self.area.to_mongo())
        elif self.geo_only:
            clauses.append({"geo": {"$exists": True}})
        keyword = compile_query(self.query)
        if keyword:
            clauses.append(keyword)
        if not clauses:
            return {}
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def describe(self) -> list[tuple[str, str]]:
        """Human-readable (label, value) pairs of the active filters, for reports."""
        out: list[tuple[str, str]] = []
        if self.since:
            out.append(("from", f"{self.since:%Y-%m-%d %H:%M} UTC"))
        if self.until:
            out.append(("until", f"{self.until:%Y-%m-%d %H:%M} UTC"))
        for label, value in (("sources", self.sources), ("languages", self.langs), ("places", self.places)):
            if value:
                out.append((label, ", ".join(value)))
        if self.query:
            out.append(("keywords", self.query))
        for name in SCORE_FIELDS:
            rng = getattr(self, name)
            if rng is not None:
                out.append((name, f"{rng[0]:g} to {rng[1]:g}"))
        if self.watchlist:
            out.append(("watchlist", self.watchlist))
        if self.area is not None:
            out.append(("area", "drawn polygon" if self.area.ring else f"{self.area.radius_km:g} km radius"))
        return out
