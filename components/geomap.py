"""The folium map of geolocated posts: clustered markers, a heat layer, a draw tool.

Works without internet access: folium and streamlit-folium would fetch Leaflet and its
plugins from public CDNs and the background from OpenStreetMap's tile servers, so a
self-hosted install without a way out (and CI) drew a blank map. Every script and style
sheet is served by the dashboard itself from ``components/mapassets/`` (registered as a
component's files, see :func:`asset_base`), and the background is the
bundled Natural Earth 1:110m country outlines. ``VIGIL_MAP_TILES`` adds a tile layer
for those who have network access.

Marker tooltips show post text, which is untrusted and which Leaflet renders as HTML:
it is escaped with :func:`html.escape` before it goes into the map. Markers use
``FastMarkerCluster`` (one JS array instead of thousands of folium objects), which keeps
the page small enough to draw a few thousand points quickly.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import folium
import polars as pl
from branca.colormap import LinearColormap
from branca.element import MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import FitBounds, Layer
from jinja2 import Template
from streamlit.components.v1 import declare_component

from components.mapassets import make_bundle
from pipelines.search.filters import GeoArea

ASSETS = Path(__file__).with_name("mapassets")
ASSET_COMPONENT = "vigil_map_assets"
THREAT_COLOURS = LinearColormap(["#2ca02c", "#ffbf00", "#d62728"], vmin=0.0, vmax=1.0, caption="threat")
SENTIMENT_COLOURS = LinearColormap(
    ["#d62728", "#bbbbbb", "#1f77b4"], vmin=-1.0, vmax=1.0, caption="sentiment"
)
UNSCORED = "#7f7f7f"
TOOLTIP_CHARS = 140
SEA = "#d4e6f1"
"""Background of the offline basemap (the sea); countries are drawn over it."""

# The files each folium element needs, relative to the asset folder (replacing its CDN links).
# Every script is in one bundle (mapassets/make_bundle.py): the map's frame loads scripts one
# after another, so one file is one round trip instead of four before the map can draw.
# Named by its content's hash, so the dashboard serves it as immutable (components/assetcache.py).
BUNDLE = make_bundle.current()
LOCAL_JS = {
    "Map": [BUNDLE],
    "FastMarkerCluster": [BUNDLE],
    "MarkerCluster": [BUNDLE],
    "HeatMap": [BUNDLE],
    "Draw": [BUNDLE],
}
LOCAL_CSS = {
    "Map": ["leaflet/leaflet.css"],
    "FastMarkerCluster": ["markercluster/MarkerCluster.css", "markercluster/MarkerCluster.Default.css"],
    "MarkerCluster": ["markercluster/MarkerCluster.css", "markercluster/MarkerCluster.Default.css"],
    "HeatMap": [],
    "Draw": ["draw/leaflet.draw.css"],
}

_MARKER_JS = """
function (row) {
    var m = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 7, color: row[2], fillColor: row[2], fillOpacity: 0.85, weight: 1});
    m.bindTooltip(row[3]);
    return m;
}
"""


def asset_base() -> str:
    """The URL of the map's assets as seen from the map's frame.

    Served as a component's files (Streamlit's static file serving takes only a top-level
    ``static/`` folder, which the project's fixed layout does not have). Streamlit sends a
    component's files without a lifetime or validator; the script bundle's name carries its
    content's hash, so the dashboard's launcher marks it immutable and browsers keep it
    between visits of the Map (``components/assetcache.py``; measured in ``docs/search.md``).
    The style sheets, un-hashed, are fetched again on each visit. The URL is relative to the frame
    (``/component/streamlit_folium.st_folium/``), so it works behind any base path or proxy.
    """
    comp = declare_component(ASSET_COMPONENT, path=str(ASSETS))
    return f"../{comp.name}/"


def localise(fmap: folium.Map, base: str) -> folium.Map:
    """Point every element's scripts and style sheets at the bundled copies.

    Raises
    ------
    ValueError
        When the map holds an element whose files are not bundled (adding a new folium
        plugin must come with its files, or the map would be blank offline).
    """

    def walk(el: Any) -> Any:
        yield el
        for child in getattr(el, "_children", {}).values():
            yield from walk(child)

    for el in walk(fmap):
        if isinstance(el, LinearColormap):
            raise ValueError("branca colormaps need d3 from a CDN: use the map's own legend")
        if not isinstance(el, JSCSSMixin):
            continue
        kind = type(el).__name__
        if kind not in LOCAL_JS:
            raise ValueError(f"no bundled scripts for the map element {kind}")
        # Named by file: folium's own page header then holds each file once (the bundle too).
        el.default_js = [(f"vigil-{p}", base + p) for p in LOCAL_JS[kind]]
        el.default_css = [(f"{kind}-css-{i}", base + p) for i, p in enumerate(LOCAL_CSS[kind])]
    return fmap


class Basemap(MacroElement):
    """The bundled country outlines under everything else, loaded by the browser."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.getContainer().style.background = {{ this.sea|tojson }};
        fetch({{ this.url|tojson }}).then(function (r) { return r.json(); }).then(function (g) {
            var layer = L.geoJSON(g, {interactive: false, style: {
                color: "#9a9a9a", weight: 0.6, fillColor: "#f4f1ea", fillOpacity: 1}});
            layer.addTo({{ this._parent.get_name() }});
            layer.bringToBack();
        });
        {% endmacro %}
        """
    )

    def __init__(self, url: str, sea: str = SEA) -> None:
        super().__init__()
        self._name = "Basemap"
        self.url = url
        self.sea = sea


class Legend(MacroElement):
    """A colour-scale legend drawn by Leaflet itself (branca's needs d3 from a CDN)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "vigil-legend");
                div.style.cssText = "background:rgba(255,255,255,.9);padding:4px 8px;"
                    + "border-radius:4px;font:12px sans-serif;line-height:1.4";
                div.innerHTML = {{ this.html|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, caption: str, scale: LinearColormap) -> None:
        super().__init__()
        self._name = "Legend"
        stops = ", ".join(
            scale.rgba_hex_str(scale.vmin + (scale.vmax - scale.vmin) * t / 4) for t in range(5)
        )
        self.html = (
            f"<b>{html.escape(caption)}</b><br>"
            f'<span style="display:inline-block;width:140px;height:10px;'
            f'background:linear-gradient(to right, {stops})"></span><br>'
            f'<span style="float:left">{scale.vmin:g}</span><span style="float:right">{scale.vmax:g}</span>'
            f'<br><span style="color:{UNSCORED}">&#9679;</span> not scored'
        )


def tile_layer(spec: str) -> folium.TileLayer | None:
    """A tile layer from ``VIGIL_MAP_TILES`` ("URL-template [attribution]"), or None when empty."""
    spec = (spec or "").strip()
    if not spec:
        return None
    url, _, attribution = spec.partition(" ")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "{z}" not in url:
        raise ValueError(
            f"VIGIL_MAP_TILES must be an http(s) URL template with {{z}}/{{x}}/{{y}}, got {url!r}"
        )
    if not attribution:
        host = parts.hostname or ""
        attribution = (
            "&copy; OpenStreetMap contributors" if "openstreetmap" in host else f"Tiles: {html.escape(host)}"
        )
    return folium.TileLayer(tiles=url, attr=attribution.strip(), name="tiles", max_zoom=19)


def area_layer(area: GeoArea) -> folium.Element:
    """The active sidebar area, outlined (dashed) so the user sees what filters the pages."""
    style = {"color": "#6a3d9a", "weight": 2, "dashArray": "6 4", "fill": False, "interactive": False}
    if area.ring is not None:
        return folium.Polygon([(lat, lon) for lon, lat in area.ring], **style)
    assert area.center is not None and area.radius_km is not None
    return folium.Circle((area.center[1], area.center[0]), radius=float(area.radius_km) * 1000, **style)


def marker_rows(points: pl.DataFrame, colour_by: str) -> list[list[Any]]:
    """``[lat, lon, colour, escaped tooltip]`` per point (the JS callback's rows)."""
    scale = THREAT_COLOURS if colour_by == "threat" else SENTIMENT_COLOURS
    rows = []
    for r in points.iter_rows(named=True):
        value = r.get(colour_by)
        colour = scale(value) if value is not None else UNSCORED
        label = f"{r['source']} · {r['ts']:%Y-%m-%d %H:%M}<br>{(r.get('where') or '')}: {(r.get('text') or '')[:TOOLTIP_CHARS]}"
        # Escape everything that came from the post, keep only Vigil's own <br>.
        safe = "<br>".join(html.escape(part) for part in label.split("<br>"))
        rows.append([r["lat"], r["lon"], colour, safe])
    return rows


def build_map(
    points: pl.DataFrame,
    colour_by: str = "threat",
    heat: bool = True,
    *,
    area: GeoArea | None = None,
    tiles: str = "",
    base: str = "",
    clusters: pl.DataFrame | None = None,
) -> folium.Map:
    """A map of ``points`` (``lat``, ``lon``, ``source``, ``ts``, ``text``, scores).

    ``base`` is the URL of the bundled assets (:func:`asset_base` on a running server);
    ``tiles`` the ``VIGIL_MAP_TILES`` setting; ``area`` the active sidebar area, outlined.
    ``clusters`` (``lat``, ``lon``, ``n``, mean scores; see :mod:`pipelines.read.mapview`) are
    drawn as circles sized by their post count, when a selection is too large for points.
    """
    fmap = folium.Map(location=[20, 0], zoom_start=2, tiles=None, world_copy_jump=True)
    # Without a tile layer the map itself must bound the zoom (markercluster needs maxZoom).
    fmap.options.update(minZoom=1, maxZoom=18)
    Basemap(base + "countries-110m.geojson").add_to(fmap)
    layer = tile_layer(tiles)
    if layer is not None:
        layer.add_to(fmap)
    if not points.is_empty():
        fit_view(fmap, points)
        plugins.FastMarkerCluster(marker_rows(points, colour_by), callback=_MARKER_JS, name="posts").add_to(
            fmap
        )
        if heat:
            weights = points[colour_by].fill_null(0.0)
            if colour_by == "sentiment":
                weights = (-weights).clip(0.0, 1.0)  # heat shows negativity
            data = [
                [la, lo, max(0.05, float(w))]
                for la, lo, w in zip(points["lat"], points["lon"], weights, strict=True)
            ]
            plugins.HeatMap(data, name="heat", radius=18, blur=22, min_opacity=0.3, show=True).add_to(fmap)
        scale = THREAT_COLOURS if colour_by == "threat" else SENTIMENT_COLOURS
        Legend(colour_by, scale).add_to(fmap)
    if clusters is not None and not clusters.is_empty():
        _add_clusters(fmap, clusters, colour_by, heat)
    if area is not None:
        area_layer(area).add_to(fmap)
    plugins.Draw(
        export=False,
        draw_options={"polyline": False, "marker": False, "circlemarker": False},
        edit_options={"edit": False, "remove": True},
    ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return localise(fmap, base)


def fit_view(fmap: folium.Map, frame: pl.DataFrame) -> None:
    """Fit the map's view to the rows' ``lat``/``lon`` at once, without Leaflet's zoom animation.

    Why not animated (folium's ``fit_bounds``): the map is created at the world view and the
    fit runs while it loads, so Leaflet animated a zoom and, at its end, projected and drew
    again every layer added meanwhile: the countries, the circles and the heat layer (a
    third of Leaflet's sampled time on a Map load at 1M posts, and the map settled 0.25 s
    later; ``docs/search.md``, "The browser's share of a warm load"). Unanimated, the view is set before the posts' layers exist and
    each is drawn once, at its final zoom.
    """
    fit = FitBounds(
        [[frame["lat"].min(), frame["lon"].min()], [frame["lat"].max(), frame["lon"].max()]],
        max_zoom=9,
        padding=(30, 30),
    )
    fit.options["animate"] = False
    fmap.add_child(fit)


def cluster_rows(clusters: pl.DataFrame, colour_by: str) -> list[list[Any]]:
    """``[lat, lon, colour, radius px, tooltip]`` per cluster (numbers only: nothing to escape)."""
    scale = THREAT_COLOURS if colour_by == "threat" else SENTIMENT_COLOURS
    rows = []
    for r in clusters.iter_rows(named=True):
        value = r.get(colour_by)
        colour = scale(value) if value is not None else UNSCORED
        mean = f"mean {colour_by} {value:.2f}" if value is not None else "not scored"
        radius = 5 + 4 * math.log10(max(1, int(r["n"])))
        rows.append([r["lat"], r["lon"], colour, radius, f"{int(r['n']):,} posts ({mean})"])
    return rows


class ClusterLayer(Layer):
    """Every cluster as one JS array drawn by one loop (circles sized by count, with a tooltip).

    Why not one ``folium.CircleMarker`` per cluster: each folium element compiles a Jinja
    template of its own on every render, so ~120 clusters cost ~0.2 s of Python per page
    run and ~90 KB of generated JS; one array costs a few milliseconds and ~10 KB. Rows are
    :func:`cluster_rows` (numbers and Vigil's own text only; tooltips escaped all the same).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var group = L.featureGroup();
            var rows = {{ this.rows|tojson }};
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i];
                L.circleMarker([r[0], r[1]], {radius: r[3], color: r[2], fillColor: r[2],
                    fill: true, fillOpacity: 0.6, weight: 1}).bindTooltip(r[4]).addTo(group);
            }
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]], name: str = "clusters") -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "ClusterLayer"
        self.rows = [[*r[:4], html.escape(str(r[4]))] for r in rows]


def _add_clusters(fmap: folium.Map, clusters: pl.DataFrame, colour_by: str, heat: bool) -> None:
    fit_view(fmap, clusters)
    ClusterLayer(cluster_rows(clusters, colour_by)).add_to(fmap)
    if heat:
        top = max(1, int(clusters["n"].max()))
        data = [
            [la, lo, max(0.05, n / top)]
            for la, lo, n in zip(clusters["lat"], clusters["lon"], clusters["n"], strict=True)
        ]
        plugins.HeatMap(data, name="heat", radius=18, blur=22, min_opacity=0.3, show=True).add_to(fmap)
    scale = THREAT_COLOURS if colour_by == "threat" else SENTIMENT_COLOURS
    Legend(colour_by, scale).add_to(fmap)


def asset_paths(fmap: folium.Map, base: str) -> list[str]:
    """Every script and style sheet the map will ask for, relative to ``base`` (for checks)."""
    out: list[str] = []
    for el in [fmap, *_descendants(fmap)]:
        for _, url in [*getattr(el, "default_js", []), *getattr(el, "default_css", [])]:
            out.append(url[len(base) :] if url.startswith(base) else url)
    return out


def _descendants(el: Any) -> list[Any]:
    out = []
    for child in getattr(el, "_children", {}).values():
        out += [child, *_descendants(child)]
    return out
