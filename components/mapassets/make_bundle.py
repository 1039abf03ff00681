"""Rebuild ``leaflet-bundle.js``: Leaflet and the plugins the Map uses, in one file.

Why one file: streamlit-folium's frame loads a map's scripts one after another (each
waits for the previous one's ``onload``), and a component's files are served without
``Last-Modified``/``ETag``, so the browser fetches them again on every visit of the Map.
Four scripts were four round trips in a row before the map could draw (measured in
``docs/search.md``); one file is one. The parts are the vendored files listed in
``README.md``, byte for byte, in the order they must run (Leaflet first: the plugins
extend its global ``L``); each keeps its own licence comment. ``tests/ui/test_geomap.py``
checks that the committed bundle equals what this script writes. Run::

    python -m components.mapassets.make_bundle
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "leaflet-bundle.js"
PARTS = (
    "leaflet/leaflet.js",
    "markercluster/leaflet.markercluster.js",
    "heat/leaflet-heat.min.js",
    "draw/leaflet.draw.js",
)


def bundle() -> bytes:
    """The parts, each introduced by its path and ended by ``;`` (a part may lack one)."""
    out = [
        b"/* Vigil's map scripts in one file (components/mapassets/make_bundle.py): "
        + b", ".join(p.encode() for p in PARTS)
        + b". Each part keeps its licence comment; licences in the parts' folders. */\n"
    ]
    for part in PARTS:
        out.append(f"\n/* ---- {part} ---- */\n".encode())
        out.append((HERE / part).read_bytes())
        out.append(b"\n;\n")
    return b"".join(out)


def main() -> None:
    OUT.write_bytes(bundle())
    print(f"{OUT}: {OUT.stat().st_size:,} bytes from {len(PARTS)} files")


if __name__ == "__main__":
    main()
