"""Place extraction: names found, guards against common words, ambiguity resolved by
context (countries and regions named in the post), then population."""

from __future__ import annotations

import pytest

from pipelines.scoring.gazetteer_load import DATA_DIR, gazetteer, region_names
from pipelines.scoring.geo import extract_places

CASES = [
    # text, expected (name, country, kind) in order
    ("Flooding in Calgary this morning #yycflood", [("Calgary", "CA", "city")]),
    ("Paris, Texas is hot today", [("Paris", "US", "city")]),
    ("I love Paris in the spring", [("Paris", "FR", "city")]),
    ("Manila Philippines flooding again", [("Manila", "PH", "city")]),
    ("Typhoon hits the Philippines", [("Philippines", "PH", "country")]),
    ("Train crash near Santiago de Compostela, Spain", [("Santiago de Compostela", "ES", "city")]),
    ("Earthquake in Bogota", [("Bogotá", "CO", "city")]),
    ("Nice weather in Nice, France", [("Nice", "FR", "city")]),
    ("Jackson scored again tonight", []),
    ("I am so happy today", []),
    ("Wildfires across Colorado", [("Colorado", "US", "region")]),
    # regions outside the US
    ("Flood victims across southern Alberta need help", [("Alberta", "CA", "region")]),
    ("Queensland floods: thousands evacuated", [("Queensland", "AU", "region")]),
    ("'Apocalyptic' storm floods Sardinia, 14 dead", [("Sardinia", "IT", "region")]),
    ("Ci state distruggendo la #Sardegna!", [("Sardinia", "IT", "region")]),
    ("Typhoon makes landfall in northern Luzon", [("Luzon", "PH", "region")]),
    ("Let us pray for the Visayas and Mindanao", [("Visayas", "PH", "region"), ("Mindanao", "PH", "region")]),
    # a region named with a city in it adds nothing; a country named with its region neither
    ("State of emergency in Canmore, Alberta", [("Canmore", "CA", "city")]),
    ("Italy declares state of emergency in Sardinia", [("Sardinia", "IT", "region")]),
    # ordinary capitalised words that are also towns somewhere
    ("Mine is bigger than yours", []),
    ("Ring the Bell twice when you arrive", []),
    ("Take a Bow, you earned it", []),
    ("Of course I will come in March", []),
    ("Mobile phones died, Reading glasses lost, Nice try", []),
    ("Federal authorities began righting the car", []),
    ("A Queensland Police Officer rescues a calf", [("Queensland", "AU", "region")]),
    ("LORD SAVE US", []),
    ("Victoria is my best friend", []),
    ("David and Taylor watched Naruto with Leo", []),  # names; Narutō/Léo only with their accents
    ("Earthquake in Bogota, Colombia", [("Bogotá", "CO", "city")]),
    # lower case: only names that are not words, big enough to be meant
    ("so much rain in calgary tonight", [("Calgary", "CA", "city")]),
    ("this mine is deep and the bell rang", []),
    # hashtags: CamelCase, topic prefixes/suffixes, local codes; not country-code suffixes
    ("#PrayForVisayas", [("Visayas", "PH", "region")]),
    ("#prayforbohol", [("Bohol", "PH", "region")]),
    ("Photos from #boulderflood", [("Boulder", "US", "city")]),
    ("Total fire ban #nswfires", [("New South Wales", "AU", "region")]),
    ("Please help #RescuePH", []),
    ("#TODOSDesejamForçasASantaMaria #Brasil", [("Santa Maria", "BR", "city")]),
    # mentions and URLs are accounts and links, not places
    ("thanks @cityofcalgary and @GlobalCalgary http://calgary.example/x", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_extract_places(text: str, expected: list[tuple[str, str, str]]) -> None:
    got = [(p.name, p.country, p.kind) for p in extract_places(text)]
    assert got == expected


def test_places_have_coordinates_of_the_chosen_city() -> None:
    texan = extract_places("Paris, Texas")[0]
    french = extract_places("Paris")[0]
    assert 33 < texan.lat < 34.5 and -96 < texan.lon < -95
    assert 48 < french.lat < 49.5 and 2 < french.lon < 3
    assert french.population and texan.population and french.population > texan.population


def test_place_count_is_bounded() -> None:
    text = " ".join(["London Paris Berlin Madrid Rome Vienna Prague Warsaw Lisbon Dublin Oslo"])
    assert len(extract_places(text)) == 8


def test_alberta_is_the_canadian_province_with_a_point_inside_it() -> None:
    (alberta,) = extract_places("Alberta floods")
    assert (alberta.name, alberta.country, alberta.kind) == ("Alberta", "CA", "region")
    assert 49 < alberta.lat < 60 and -120 < alberta.lon < -110


def test_small_town_needs_its_country_or_region_named() -> None:
    # High River (14,000 people) and Balilihan (3,000) are only places with context.
    assert extract_places("High River is under water") == []
    (hr,) = extract_places("Evacuations ordered in High River, Alberta")
    assert (hr.name, hr.country) == ("High River", "CA")
    assert 50.4 < hr.lat < 50.7 and -114 < hr.lon < -113.7
    (bal,) = extract_places("Magnitude 7.2 quake 5KM E of Balilihan, Bohol, Philippines")
    assert (bal.name, bal.country, bal.kind) == ("Balilihan", "PH", "city")
    assert 9.6 < bal.lat < 10.0 and 123.9 < bal.lon < 124.2


def test_ambiguous_city_follows_the_context() -> None:
    # Santa Maria: the Brazilian one only when Brazil is named
    (br,) = extract_places("Nightclub fire in Santa Maria, Brazil")
    assert (br.name, br.country) == ("Santa Maria", "BR")
    assert br.lat < -29
    # Carmen: a town in Bohol and one in Davao del Norte; the named province decides
    (bohol,) = extract_places("Church collapsed in Carmen, Bohol")
    (davao,) = [p for p in extract_places("Typhoon hits Carmen, Davao del Norte") if p.kind == "city"]
    assert bohol.country == davao.country == "PH"
    assert 9.5 < bohol.lat < 10.2 and 7.0 < davao.lat < 7.8
    # Ontario next to Calgary is the province, not Ontario, California
    got = [(p.name, p.country, p.kind) for p in extract_places("Possibly another Calgary flood in Ontario?")]
    assert got == [("Calgary", "CA", "city"), ("Ontario", "CA", "region")]
    (ca,) = extract_places("Wildfire near Ontario, California")
    assert (ca.name, ca.country, ca.kind) == ("Ontario", "US", "city")


def test_common_word_town_needs_context_even_when_capitalised() -> None:
    assert extract_places("Victoria fires are spreading") == []
    (vic,) = extract_places("Victoria fires are spreading across Australia")
    assert (vic.name, vic.country, vic.kind) == ("Victoria", "AU", "region")


def test_every_listed_region_has_a_point() -> None:
    listed = set()
    for line in (DATA_DIR / "regions.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            cc, _codes, name = line.split("\t")[:3]
            listed.add((name, cc))
    assert listed <= set(region_names())
    assert len(listed) > 250


def test_common_word_list_guards_real_words_but_not_cities() -> None:
    gaz = gazetteer()
    for word in ("mine", "bell", "bow", "march", "mobile", "reading", "nice", "of", "para"):
        assert gaz.is_common(word), word
    for city in ("calgary", "manila", "paris", "london", "cebu"):
        assert not gaz.is_common(city), city
