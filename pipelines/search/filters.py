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
from collections.abc import Mapping
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


ENTITY_KEY = re.compile(r"^(person|org|place|product):\S")
"""An entities filter item is ``type:name`` as the search index stores it ("org:Red Cross")."""


def validate_entities(value: Any) -> tuple[str, ...]:
    items = _names("entities", value)
    for v in items:
        if not ENTITY_KEY.match(v) or "|" in v:
            raise FilterError(
                f"entities item {v[:40]!r} must be type:name, type one of person, org, place, product"
            )
    return items


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
    """A circle (``center`` + ``radius_km``) or a polygon (``ring`` of lon/lat pairs).

    ``by_place`` says which point of a post is tested. False (watchlists): only the
    post's own coordinates (``geo``). True (an area drawn on the Map, the dashboard's
    sidebar filter): the point where the Map draws the post, its own coordinates else
    the first place its text names (``scores.places[0]``). Place coordinates are plain
    numbers that ``$geoWithin`` cannot test, so that test is an ``$expr``: the same
    arithmetic as :mod:`pipelines.search.areas` (haversine for circles, even-odd ray casting
    on lon/lat for polygons), which any MongoDB 5+ and SecantusDB evaluate.
    """

    center: tuple[float, float] | None = None  # (lon, lat)
    radius_km: float | None = None
    ring: tuple[tuple[float, float], ...] | None = None
    by_place: bool = False

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
        object.__setattr__(self, "by_place", _flag("by_place", self.by_place))

    def to_mongo(self) -> dict[str, Any]:
        """The ``posts`` clause selecting the posts whose point lies in the area."""
        if self.by_place:
            return {"$expr": _point_test(self._inside)}
        if self.ring is not None:
            poly = {"type": "Polygon", "coordinates": [[list(p) for p in self.ring]]}
            return {"geo": {"$geoWithin": {"$geometry": poly}}}
        assert self.center is not None and self.radius_km is not None
        radians = float(self.radius_km) * 1000 / EARTH_RADIUS_M
        return {"geo": {"$geoWithin": {"$centerSphere": [list(self.center), radians]}}}

    def describe(self) -> str:
        """A short label: "drawn polygon (5 points)" or "20 km around 51.05, -114.07"."""
        if self.ring is not None:
            return f"polygon of {len(self.ring) - 1} corners"
        assert self.center is not None and self.radius_km is not None
        return f"{self.radius_km:g} km around {self.center[1]:.4g}, {self.center[0]:.4g}"

    def _inside(self, x: str, y: str) -> dict[str, Any]:
        """Aggregation expression: is (lon ``x``, lat ``y``) inside? (see :mod:`pipelines.search.areas`)."""
        if self.ring is not None:
            return _in_ring(self.ring, x, y)
        assert self.center is not None and self.radius_km is not None
        return _in_circle(self.center, float(self.radius_km), x, y)


_MAP_POINT = {
    "$cond": [
        {"$isArray": "$geo.coordinates"},
        "$geo.coordinates",
        {
            "$let": {
                "vars": {"p": {"$arrayElemAt": [{"$ifNull": ["$scores.places", []]}, 0]}},
                "in": ["$$p.lon", "$$p.lat"],
            }
        },
    ]
}
"""Where the Map draws a post: its own coordinates, else its first named place (lon, lat)."""


def _point_test(inside: Any) -> dict[str, Any]:
    """``$expr`` body: the post has a map point and ``inside("$$x", "$$y")`` holds for it."""
    return {
        "$let": {
            "vars": {"pt": _MAP_POINT},
            "in": {
                "$let": {
                    "vars": {"x": {"$arrayElemAt": ["$$pt", 0]}, "y": {"$arrayElemAt": ["$$pt", 1]}},
                    "in": {"$and": [{"$isNumber": "$$x"}, {"$isNumber": "$$y"}, inside("$$x", "$$y")]},
                }
            },
        }
    }


def _rad(expr: Any) -> dict[str, Any]:
    return {"$degreesToRadians": expr}


def _in_circle(center: tuple[float, float], radius_km: float, x: str, y: str) -> dict[str, Any]:
    """Haversine: ``sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2) <= sin²(r / 2R)``."""
    clon, clat = center
    limit = math.sin(min(math.pi / 2, radius_km * 1000 / EARTH_RADIUS_M / 2)) ** 2
    s_lat = {"$sin": {"$divide": [_rad({"$subtract": [y, clat]}), 2]}}
    s_lon = {"$sin": {"$divide": [_rad({"$subtract": [x, clon]}), 2]}}
    a = {
        "$add": [
            {"$multiply": [s_lat, s_lat]},
            {"$multiply": [math.cos(math.radians(clat)), {"$cos": _rad(y)}, s_lon, s_lon]},
        ]
    }
    return {"$lte": [a, limit]}


def _in_ring(ring: tuple[tuple[float, float], ...], x: str, y: str) -> dict[str, Any]:
    """Even-odd ray casting, one term per edge (as :func:`pipelines.search.areas.point_in_ring`).

    An edge (x1, y1)-(x2, y2) is crossed when ``(y1 > y) != (y2 > y)`` and
    ``x < x1 + (y - y1) * (x2 - x1) / (y2 - y1)``; the point is inside when an odd number
    of edges is crossed. The bounding box is tested first (it changes no answer).
    """
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    terms = []
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if y1 == y2:
            continue  # a horizontal edge is never crossed
        crossing = {
            "$and": [
                {"$ne": [{"$gt": [y1, y]}, {"$gt": [y2, y]}]},
                {
                    "$lt": [
                        x,
                        {
                            "$add": [
                                x1,
                                {"$divide": [{"$multiply": [{"$subtract": [y, y1]}, x2 - x1]}, y2 - y1]},
                            ]
                        },
                    ]
                },
            ]
        }
        terms.append({"$cond": [crossing, 1, 0]})
    return {
        "$and": [
            {"$gte": [x, min(xs)]},
            {"$lte": [x, max(xs)]},
            {"$gte": [y, min(ys)]},
            {"$lte": [y, max(ys)]},
            {"$eq": [{"$mod": [{"$add": terms or [0]}, 2]}, 1]},
        ]
    }


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
    entities: tuple[str, ...] = ()
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
            entities=validate_entities(values.get("entities")),
            watchlist=watch,
            area=area,
            geo_only=_flag("geo_only", values.get("geo_only", False)),
        )

    # ------------------------------------------------------------------ URLs

    def to_params(self) -> dict[str, str]:
        """Every active filter as URL query parameters (see :func:`from_params`).

        ``since=2013-06-20T00:00&until=...&q=...&sources=a,b&langs=en&places=Calgary&
        threat=0.5,1&sentiment=-1,0&watchlist=acme&area=circle:-114.07,51.05,20``;
        a polygon is ``area=poly:lon,lat;lon,lat;...`` (closed). Numbers are written in
        their shortest exact form, so ``Filters.from_params(f.to_params()) == f``.
        """
        out: dict[str, str] = {}
        for name in ("since", "until"):
            t = getattr(self, name)
            if t is not None:
                t = t.astimezone(UTC).replace(tzinfo=None)
                out[name] = t.strftime("%Y-%m-%dT%H:%M") if t.second == t.microsecond == 0 else t.isoformat()
        if self.query:
            out["q"] = self.query
        for name in ("sources", "langs", "places"):
            if getattr(self, name):
                out[name] = ",".join(getattr(self, name))
        for name in SCORE_FIELDS:
            rng = getattr(self, name)
            if rng is not None:
                out[name] = f"{_num(rng[0])},{_num(rng[1])}"
        if self.entities:
            out["entities"] = "|".join(self.entities)
        if self.watchlist:
            out["watchlist"] = self.watchlist
        if self.area is not None:
            out["area"] = area_to_param(self.area)
        if self.geo_only:
            out["located"] = "1"
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Filters:
        """Filters from URL query parameters written by :meth:`to_params` (untrusted).

        Raises
        ------
        FilterError, QuerySyntaxError
            With the parameter and the offending value, for anything malformed.
        """

        def split(name: str) -> list[str]:
            return [v for v in (params.get(name) or "").split(",") if v.strip()]

        values: dict[str, Any] = {}
        for name in ("since", "until"):
            raw = params.get(name)
            if raw:
                try:
                    values[name] = datetime.fromisoformat(raw)
                except ValueError as exc:
                    raise FilterError(f"{name}: not a date and time: {raw[:40]!r}") from exc
        values["query"] = params.get("q") or ""
        for name in ("sources", "langs", "places"):
            values[name] = split(name)
        for name in SCORE_FIELDS:
            raw = params.get(name)
            if raw:
                parts = raw.split(",")
                if len(parts) != 2:
                    raise FilterError(f"{name}: a range is two numbers, low,high; got {raw[:40]!r}")
                values[name] = (_number(name, parts[0]), _number(name, parts[1]))
        values["entities"] = [v for v in (params.get("entities") or "").split("|") if v.strip()]
        values["watchlist"] = params.get("watchlist") or None
        if params.get("area"):
            values["area"] = area_from_param(params["area"])
        values["geo_only"] = params.get("located") == "1"
        return cls.make(**values)

    def replace(self, **changes: Any) -> Filters:
        """A copy with some fields changed (validated again)."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        current.update(changes)
        return Filters.make(**current)

    def to_mongo(self) -> dict[str, Any]:
        """The ``posts`` filter (recounts, repairs). Uses indexed fields first (``ts``, ``source``).

        Raises :class:`FilterError` for a watchlist selection (see below).
        """
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
        if self.entities:
            clauses.append({"$or": [entity_clause(key) for key in self.entities]})
        if self.watchlist:
            # Posts carry no watchlist tags since the index answers watchlists (issue 13); a
            # ``{"watchlists": id}`` clause would silently match nothing.
            raise FilterError(
                f"watchlist {self.watchlist!r}: a watchlist selection is answered by the search index; "
                "for a MongoDB filter use the watchlist's own definition (Watchlist.to_mongo)"
            )
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
        if self.entities:
            out.append(("entities", ", ".join(self.entities)))
        if self.query:
            out.append(("keywords", self.query))
        for name in SCORE_FIELDS:
            rng = getattr(self, name)
            if rng is not None:
                out.append((name, f"{rng[0]:g} to {rng[1]:g}"))
        if self.watchlist:
            out.append(("watchlist", self.watchlist))
        if self.area is not None:
            out.append(("area", self.area.describe()))
        return out


URL_PARAMS = (
    "since",
    "until",
    "q",
    "sources",
    "langs",
    "places",
    "entities",
    *SCORE_FIELDS,
    "watchlist",
    "area",
    "located",
)
"""Every query parameter :meth:`Filters.to_params` may write."""
MAX_AREA_PARAM = 40_000
"""Characters of an ``area=`` parameter (1,000 points at most, as :class:`GeoArea`)."""


def entity_clause(key: str) -> dict[str, Any]:
    """The ``posts`` clause of one ``type:name`` entity: any post naming it with that type."""
    etype, _, name = key.partition(":")
    return {"scores.entities": {"$elemMatch": {"type": etype, "name": name}}}


def _num(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (``1.0`` -> ``1``)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def area_to_param(area: GeoArea) -> str:
    """``circle:lon,lat,km`` or ``poly:lon,lat;lon,lat;...``; ``geo`` prefix when own coordinates only."""
    prefix = "" if area.by_place else "geo"
    if area.ring is not None:
        return f"{prefix}poly:" + ";".join(f"{_num(lo)},{_num(la)}" for lo, la in area.ring)
    assert area.center is not None and area.radius_km is not None
    lon, lat = area.center
    return f"{prefix}circle:{_num(lon)},{_num(lat)},{_num(float(area.radius_km))}"


def area_from_param(raw: str) -> GeoArea:
    """The :class:`GeoArea` of an ``area=`` parameter (see :func:`area_to_param`)."""
    if len(raw) > MAX_AREA_PARAM:
        raise FilterError(f"area: more than {MAX_AREA_PARAM:,} characters")
    kind, _, body = raw.partition(":")
    by_place = not kind.startswith("geo")
    kind = kind.removeprefix("geo")
    try:
        nums = [[_number("area", v) for v in pair.split(",")] for pair in body.split(";")]
    except FilterError as exc:
        raise FilterError(f"area: numbers expected in {raw[:40]!r}") from exc
    if kind == "circle" and len(nums) == 1 and len(nums[0]) == 3:
        lon, lat, km = nums[0]
        return GeoArea(center=(lon, lat), radius_km=km, by_place=by_place)
    if kind == "poly" and all(len(p) == 2 for p in nums):
        return GeoArea(ring=tuple((p[0], p[1]) for p in nums), by_place=by_place)
    raise FilterError(f"area: expected circle:lon,lat,km or poly:lon,lat;lon,lat;..., got {raw[:40]!r}")
