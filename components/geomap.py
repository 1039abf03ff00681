"""The folium map of geolocated posts: clustered markers, a heat layer, a draw tool.

Marker tooltips show post text, which is untrusted and which Leaflet renders as HTML:
it is escaped with :func:`html.escape` before it goes into the map. Markers use
``FastMarkerCluster`` (one JS array instead of thousands of folium objects), which keeps
the page small enough to draw a few thousand points quickly.
"""

from __future__ import annotations

import html
from typing import Any

import folium
import polars as pl
from branca.colormap import LinearColormap
from folium import plugins

THREAT_COLOURS = LinearColormap(["#2ca02c", "#ffbf00", "#d62728"], vmin=0.0, vmax=1.0, caption="threat")
SENTIMENT_COLOURS = LinearColormap(
    ["#d62728", "#bbbbbb", "#1f77b4"], vmin=-1.0, vmax=1.0, caption="sentiment"
)
UNSCORED = "#7f7f7f"
TOOLTIP_CHARS = 140

_MARKER_JS = """
function (row) {
    var m = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 7, color: row[2], fillColor: row[2], fillOpacity: 0.85, weight: 1});
    m.bindTooltip(row[3]);
    return m;
}
"""


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


def build_map(points: pl.DataFrame, colour_by: str = "threat", heat: bool = True) -> folium.Map:
    """A map of ``points`` (``lat``, ``lon``, ``source``, ``ts``, ``text``, scores)."""
    if points.is_empty():
        fmap = folium.Map(location=[20, 0], zoom_start=2, tiles="OpenStreetMap")
    else:
        fmap = folium.Map(tiles="OpenStreetMap")
        fmap.fit_bounds(
            [[points["lat"].min(), points["lon"].min()], [points["lat"].max(), points["lon"].max()]]
        )
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
        (THREAT_COLOURS if colour_by == "threat" else SENTIMENT_COLOURS).add_to(fmap)
    plugins.Draw(
        export=False,
        draw_options={"polyline": False, "marker": False, "circlemarker": False},
        edit_options={"edit": False, "remove": True},
    ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap
