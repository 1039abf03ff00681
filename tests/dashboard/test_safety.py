"""Untrusted post text never becomes markup; map areas select the right points."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from components.geomap import build_map, marker_rows
from pipelines.read.highlight import highlight_html, match_patterns, snippet
from pipelines.search import areas
from pipelines.search.filters import GeoArea


def test_highlight_escapes_everything_then_marks_matches():
    text = "<script>alert('x')</script> Flood & fire in <b>Calgary</b>"
    out = highlight_html(text, match_patterns("flood OR calgary -fire"))
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&amp;" in out
    assert out.count("<mark") == 2 and ">Flood</mark>" in out and ">Calgary</mark>" in out
    assert "fire" in out and ">fire</mark>" not in out  # negated words are not highlighted


def test_phrase_and_prefix_highlight_and_snippet():
    pats = match_patterns('"state of emergency" evacuat*')
    out = highlight_html("A State of Emergency; evacuations begin", pats)
    assert ">State of Emergency</mark>" in out and ">evacuations</mark>" in out
    assert "«State of Emergency»" in snippet("A State of Emergency; evacuations begin", pats)
    assert match_patterns("flood AND (") == []


def test_map_tooltips_are_escaped():
    pts = pl.DataFrame(
        {
            "id": ["a:1"],
            "ts": [datetime(2013, 6, 20, tzinfo=UTC)],
            "source": ["a"],
            "text": ["<img src=x onerror=alert(1)>"],
            "lat": [51.0],
            "lon": [-114.0],
            "where": ["Calgary"],
            "threat": [0.9],
            "sentiment": [-0.5],
        }
    )
    rows = marker_rows(pts, "threat")
    assert "<img" not in rows[0][3] and "&lt;img" in rows[0][3]
    html = build_map(pts).get_root().render()
    assert "<img src=x onerror" not in html


def test_area_selection():
    pts = pl.DataFrame(
        {"id": ["in", "out", "far"], "lat": [51.05, 51.5, -33.8], "lon": [-114.07, -114.0, 151.2]}
    )
    circle = GeoArea(center=(-114.07, 51.05), radius_km=20)
    assert list(areas.in_area(pts, circle)["id"]) == ["in"]
    box = GeoArea(ring=((-115.0, 50.9), (-113.0, 50.9), (-113.0, 51.2), (-115.0, 51.2), (-115.0, 50.9)))
    assert list(areas.in_area(pts, box)["id"]) == ["in"]
    bounds = {"_southWest": {"lat": 50.0, "lng": -120.0}, "_northEast": {"lat": 52.0, "lng": -110.0}}
    assert list(areas.in_bounds(pts, bounds)["id"]) == ["in", "out"]
    drawn = {"geometry": {"type": "Point", "coordinates": [-114.07, 51.05]}, "properties": {"radius": 20000}}
    assert areas.area_from_geojson(drawn) == circle
    assert (
        areas.area_from_geojson({"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}) is None
    )
