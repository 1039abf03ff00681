"""Place extraction: names found, ambiguity resolved by country context, then population."""

from __future__ import annotations

import pytest

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
