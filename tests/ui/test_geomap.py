"""The map draws from the dashboard's own files: every script, style sheet and the basemap
it asks for is bundled, nothing points at a CDN, and post text stays escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from streamlit_folium import _get_map_string

from components.geomap import ASSETS, BUNDLE, asset_paths, build_map, tile_layer
from components.mapassets import make_bundle
from pipelines.search.filters import GeoArea

BASE = "../components.geomap.vigil_map_assets/"


def _points() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["a", "b"],
            "ts": [datetime(2013, 6, 20, tzinfo=UTC)] * 2,
            "source": ["s", "s"],
            "text": ["<img src=x onerror=alert(1)> flood", "calm"],
            "lat": [51.05, -33.87],
            "lon": [-114.07, 151.21],
            "where": ["Calgary", "coordinates"],
            "threat": [0.9, None],
            "sentiment": [-0.5, 0.2],
        }
    )


def test_every_asset_is_bundled_and_nothing_comes_from_outside():
    fmap = build_map(_points(), area=GeoArea(center=(-114.0, 51.0), radius_km=50, by_place=True), base=BASE)
    paths = asset_paths(fmap, BASE)
    assert BUNDLE in paths and [p for p in paths if p.endswith(".js")] == [BUNDLE] * 4  # one file
    assert {"leaflet/leaflet.css", "draw/leaflet.draw.css", "markercluster/MarkerCluster.css"} <= set(paths)
    for p in paths:
        assert not p.startswith(("http:", "https:", "//")), p
        assert (ASSETS / p).is_file(), p
    fmap.render()
    script = _get_map_string(fmap)
    assert "https://" not in script and "http://" not in script
    assert json.dumps(BASE + "countries-110m.geojson") in script
    # The tooltip's post text is HTML-escaped (then JSON-escaped into the script).
    assert "<img src=x" not in script and "\\u0026lt;img src=x onerror" in script
    basemap = json.loads((ASSETS / "countries-110m.geojson").read_text())
    assert len(basemap["features"]) > 150


def test_the_script_bundle_is_the_vendored_files_in_order():
    """``leaflet-bundle.<hash>.js`` is exactly what make_bundle writes from the vendored files (so
    an updated plugin cannot be forgotten in it), Leaflet first, each part's licence kept."""
    committed = (ASSETS / BUNDLE).read_bytes()
    assert committed == make_bundle.bundle()
    # Its name carries its hash (served immutable: components/assetcache.py), and is one file.
    assert BUNDLE == make_bundle.file_name(committed) == make_bundle.current()
    assert sorted(p.name for p in ASSETS.glob("leaflet-bundle*")) == [BUNDLE]
    starts = [committed.index((ASSETS / part).read_bytes()) for part in make_bundle.PARTS]
    assert starts == sorted(starts) and make_bundle.PARTS[0] == "leaflet/leaflet.js"
    assert b"Leaflet 1.9.4" in committed[: starts[0] + 200] and b"Leaflet.draw 1.0.2" in committed


def test_tile_setting():
    assert tile_layer("") is None
    layer = tile_layer("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert layer is not None and "OpenStreetMap contributors" in layer.options["attribution"]
    mine = tile_layer("https://tiles.example.org/{z}/{x}/{y}.png  My tiles")
    assert mine is not None and mine.options["attribution"] == "My tiles"
    with_tiles = build_map(_points(), tiles="https://tiles.example.org/{z}/{x}/{y}.png", base=BASE)
    with_tiles.render()
    assert "tiles.example.org" in _get_map_string(with_tiles)
    with pytest.raises(ValueError, match="VIGIL_MAP_TILES must be an http"):
        tile_layer("file:///etc/passwd")


def test_clusters_are_one_array_with_every_count():
    """Clusters go into the map as one JS array (not one folium element each): every
    cluster's position, count and radius is in it, and the layer is listed as "clusters"."""
    from components.geomap import cluster_rows

    clusters = pl.DataFrame(
        {
            "lat": [51.0, -33.9, 10.0],
            "lon": [-114.1, 151.2, 0.0],
            "n": [12_345, 7, 1],
            "threat": [0.8, None, 0.1],
            "sentiment": [-0.2, 0.1, None],
        }
    )
    fmap = build_map(pl.DataFrame(), clusters=clusters, base=BASE)
    fmap.render()
    script = _get_map_string(fmap)
    assert script.count("L.circleMarker(") == 1  # one loop, not one call per cluster
    start = script.index("var rows = ") + len("var rows = ")
    rows = json.JSONDecoder().raw_decode(script[start:])[0]
    assert [r[:4] for r in rows] == [r[:4] for r in cluster_rows(clusters, "threat")]
    assert [r[4] for r in rows] == [
        "12,345 posts (mean threat 0.80)",
        "7 posts (not scored)",
        "1 posts (mean threat 0.10)",
    ]
    assert '"clusters"' in script  # named in the layer control


def test_st_folium_without_its_page_render_sends_the_same_map(monkeypatch):
    """The Map calls ``st_folium(..., render=False)`` (the page around the map is not rendered
    first: half of st_folium's time): the frame must get exactly what ``render=True`` sends."""
    import re

    import streamlit_folium

    sent: list[dict] = []
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: sent.append(kw))
    clusters = pl.DataFrame(
        {"lat": [1.0, 2.0], "lon": [3.0, 4.0], "n": [5, 600], "threat": [0.1, None], "sentiment": [0.2, -0.3]}
    )
    for points, cl in ((_points(), None), (_points().clear(), clusters)):
        for render in (True, False):
            fmap = build_map(points, "threat", True, base=BASE, clusters=cl)
            streamlit_folium.st_folium(fmap, key="m", returned_objects=["all_drawings"], render=render)
        # folium names elements with random 32-hex ids: compare with those names masked
        a, b = (
            {k: re.sub("[0-9a-f]{32}", "ID", str(v)) for k, v in kw.items() if k != "on_change"}
            for kw in sent[-2:]
        )
        assert a == b and "L.circleMarker" in a["script"]


@pytest.mark.parametrize("kind", ["points", "clusters"])
def test_the_view_is_fitted_once_unanimated_before_the_posts_layers(kind: str):
    """The map opens on the posts' bounds without Leaflet's zoom animation, set before the
    circles and the heat layer exist (animated, every layer was projected and drawn twice)."""
    rows = {"lat": [51.0, -33.9, 10.0], "lon": [-114.1, 151.2, 0.0], "threat": [0.8, None, 0.1]}
    if kind == "points":
        extra = {"source": ["a"] * 3, "ts": [datetime(2013, 6, 20)] * 3, "text": ["x"] * 3, "where": [""] * 3}
        fmap = build_map(pl.DataFrame({**rows, **extra, "sentiment": [0.0] * 3}), base=BASE)
    else:
        frame = pl.DataFrame({**rows, "n": [5, 6, 7], "sentiment": [0.0] * 3})
        fmap = build_map(pl.DataFrame(), clusters=frame, base=BASE)
    fmap.render()
    script = _get_map_string(fmap)
    assert script.count(".fitBounds(") == 1
    start = script.index(".fitBounds(") + len(".fitBounds(")
    bounds, options = json.loads("[" + script[start : script.index(");", start)] + "]")
    assert bounds == [[-33.9, -114.1], [51.0, 151.2]]
    assert options == {"animate": False, "maxZoom": 9, "padding": [30, 30]}
    assert start < script.index("L.heatLayer(")
    assert start < script.index("L.circleMarker(" if kind == "clusters" else "L.markerClusterGroup(")
