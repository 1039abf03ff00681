"""Rebuild ``leaflet-bundle.<hash>.js``: Leaflet and the plugins the Map uses, in one file.

Why one file: streamlit-folium's frame loads a map's scripts one after another (each
waits for the previous one's ``onload``), and a component's files are served without
``Last-Modified``/``ETag``, so the browser fetches them again on every visit of the Map.
Four scripts were four round trips in a row before the map could draw (measured in
``docs/search.md``); one file is one. The parts are the vendored files listed in
``README.md``, byte for byte, in the order they must run (Leaflet first: the plugins
extend its global ``L``); each keeps its own licence comment. ``tests/ui/test_geomap.py``
checks that the committed bundle equals what this script writes.

Why the hash in the name (the first 12 hex digits of the bundle's SHA-256): a file named by
its content never changes under that name, so the dashboard serves it as immutable
(``components/assetcache.py``) and the browser keeps it between visits of the Map. Run::

    python -m components.mapassets.make_bundle
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).parent
STEM = "leaflet-bundle"
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


def file_name(data: bytes) -> str:
    """The bundle's file name: its stem and the first 12 hex digits of its SHA-256."""
    return f"{STEM}.{hashlib.sha256(data).hexdigest()[:12]}.js"


def current() -> str:
    """The name of the committed bundle (exactly one ``leaflet-bundle.*.js`` is kept)."""
    found = sorted(p.name for p in HERE.glob(f"{STEM}.*.js"))
    if len(found) != 1:
        raise RuntimeError(
            f"expected one {STEM}.<hash>.js in {HERE}, found {found}: "
            "run `python -m components.mapassets.make_bundle`"
        )
    return found[0]


def main() -> None:
    data = bundle()
    out = HERE / file_name(data)
    for old in HERE.glob(f"{STEM}*.js"):
        if old != out:
            old.unlink()
    out.write_bytes(data)
    print(f"{out}: {out.stat().st_size:,} bytes from {len(PARTS)} files")


if __name__ == "__main__":
    main()
