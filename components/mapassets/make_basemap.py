"""Rebuild ``countries-110m.geojson`` from world-atlas's ``countries-110m.json`` (TopoJSON).

Leaflet draws GeoJSON, not TopoJSON, and a converter library would be one more
JavaScript file to vendor; the 110m file is small, so it is decoded once here and the
result is committed. Run (after ``npm pack world-atlas@2.0.2`` and unpacking it)::

    python -m components.mapassets.make_basemap package/countries-110m.json

Coordinates are rounded to 2 decimals (about 1 km): far finer than the 1:110 million
source, and it keeps the file small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("countries-110m.geojson")
DECIMALS = 2


def _arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat arcs from quantized, delta-encoded TopoJSON arcs."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((round(x * sx + tx, DECIMALS), round(y * sy + ty, DECIMALS)))
        out.append(pts)
    return out


def _ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    """One ring: arcs joined end to start (``~i`` is arc ``i`` reversed)."""
    ring: list[tuple[float, float]] = []
    for i in indexes:
        pts = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(pts if not ring else pts[1:])
    return _unwrap([list(p) for p in ring])


def _unwrap(ring: list[list[float]]) -> list[list[float]]:
    """Make a ring continuous across the antimeridian for Leaflet's flat map.

    world-atlas keeps the sphere's topology: Russia's and Fiji's rings jump from 180 to
    -180, which Leaflet draws as lines across the whole map. Each longitude is shifted
    by 360 where it jumps, so such a ring extends past 180 instead. A ring around a pole
    (Antarctica) then ends 360 degrees from where it started; it is closed through the pole.
    """
    out = [list(ring[0])]
    for lon, lat in ring[1:]:
        prev = out[-1][0]
        while lon - prev > 180:
            lon -= 360
        while prev - lon > 180:
            lon += 360
        out.append([lon, lat])
    if abs(out[-1][0] - out[0][0]) > 180:
        pole = -90.0 if sum(p[1] for p in out) < 0 else 90.0
        out += [[out[-1][0], pole], [out[0][0], pole], list(out[0])]
    return out


def convert(topo: dict[str, Any], layer: str = "countries") -> dict[str, Any]:
    """The ``layer`` object of a TopoJSON topology as a GeoJSON FeatureCollection."""
    arcs = _arcs(topo)
    features = []
    for geom in topo["objects"][layer]["geometries"]:
        if geom["type"] == "Polygon":
            coords: Any = [_ring(r, arcs) for r in geom["arcs"]]
        elif geom["type"] == "MultiPolygon":
            coords = [[_ring(r, arcs) for r in poly] for poly in geom["arcs"]]
        else:
            continue
        name = (geom.get("properties") or {}).get("name", "")
        features.append(
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": geom["type"], "coordinates": coords},
            }
        )
    return {"type": "FeatureCollection", "features": features}


if __name__ == "__main__":
    src = Path(sys.argv[1])
    OUT.write_text(json.dumps(convert(json.loads(src.read_text())), separators=(",", ":")))
    print(f"{OUT}: {OUT.stat().st_size:,} bytes")
