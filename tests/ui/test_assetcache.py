"""The cache header rule of ``components/assetcache.py``, over HTTP, on Streamlit's own
component route (``create_component_routes`` of Streamlit 1.67, the one ``st.App`` serves)
and streamlit-folium's installed files; and that ``streamlit run components/launch.py``
is recognised as an ``st.App`` launcher serving ``app.py``.

The browser half (the file really fetched once over two Map visits) is in
``tests/browser/test_map_cache.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import streamlit_folium
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient
from streamlit.components.lib.local_component_registry import LocalComponentRegistry
from streamlit.components.v1.custom_component import CustomComponent
from streamlit.web.server.app_discovery import discover_asgi_app
from streamlit.web.server.starlette.starlette_routes import create_component_routes

from components import geomap
from components.assetcache import (
    IMMUTABLE,
    INDEX_LIFETIME,
    HashedComponentFilesImmutable,
    cache_control,
    is_component_index,
    is_hashed_component_file,
)
from tests.conftest import REPO

FOLIUM_BUILD = Path(streamlit_folium.__file__).parent / "frontend" / "build"
FOLIUM = "streamlit_folium.st_folium"
ASSETS = "components.geomap.vigil_map_assets"


def _client(middleware: bool) -> TestClient:
    registry = LocalComponentRegistry()
    registry.register_component(CustomComponent(FOLIUM, path=str(FOLIUM_BUILD)))
    registry.register_component(CustomComponent(ASSETS, path=str(geomap.ASSETS)))
    app = Starlette(
        routes=create_component_routes(registry, None),
        middleware=[Middleware(HashedComponentFilesImmutable)] if middleware else [],
    )
    return TestClient(app)


def _main_js() -> str:
    """streamlit-folium's hashed script, as its index.html names it (not hard-coded: an
    upgrade changes the hash)."""
    html = (FOLIUM_BUILD / "index.html").read_text()
    start = html.index("static/js/main.")
    return html[start : html.index('"', start)]


def test_hashed_component_files_become_immutable_and_nothing_else_changes():
    main_js = _main_js()
    with _client(middleware=True) as c, _client(middleware=False) as plain:
        for path in (f"/component/{FOLIUM}/{main_js}", f"/component/{ASSETS}/{geomap.BUNDLE}"):
            r = c.get(path)
            assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE, path
            assert r.content == plain.get(path).content  # the body is untouched
            # Without the middleware Streamlit sends no lifetime: the browser asks again.
            assert plain.get(path).headers["cache-control"] == "public"
        # The frame's index.html is kept 5 minutes (Streamlit: no-cache), its body untouched.
        index = f"/component/{FOLIUM}/index.html"
        r = c.get(index)
        assert r.status_code == 200 and r.headers["cache-control"] == INDEX_LIFETIME
        assert plain.get(index).headers["cache-control"] == "no-cache"
        assert r.content == plain.get(index).content
        # Un-hashed files keep Streamlit's header; a hashed name that does not exist is a
        # 404 that nobody may keep.
        for path, expected in (
            (f"/component/{FOLIUM}/bootstrap.min.css", "public"),
            (f"/component/{ASSETS}/leaflet/leaflet.css", "public"),
            (f"/component/{FOLIUM}/{main_js}.map", "public"),
        ):
            r = c.get(path)
            assert (
                r.status_code == 200
                and r.headers["cache-control"] == expected == plain.get(path).headers["cache-control"]
            ), path
        missing = c.get(f"/component/{FOLIUM}/static/js/main.0123abcd.js")
        assert missing.status_code == 404 and missing.headers.get("cache-control") != IMMUTABLE


@pytest.mark.parametrize(
    ("path", "hashed"),
    [
        ("/component/streamlit_folium.st_folium/static/js/main.521860b0.js", True),
        ("/base/path/component/x.y/static/css/main.0a1b2c3d.chunk.css", True),
        ("/component/x/assets/index-4f2a1b3c9d.js", True),
        ("/component/x/leaflet-bundle.b5c39535760e.js", True),
        ("/component/x/static/js/main.521860b.js", False),  # 7 digits: not a content hash
        ("/component/x/static/js/main.521860g0.js", False),
        ("/component/x/index.html", False),
        ("/component/x/static/js/main.521860b0.js.map", False),
        ("/static/js/main.521860b0.js", False),  # Streamlit's own files: not ours to change
        ("/component/main.521860b0.js", False),  # no component name
    ],
)
def test_which_paths_are_hashed_component_files(path: str, hashed: bool):
    assert is_hashed_component_file(path) is hashed
    index = is_component_index(path)
    assert cache_control(path, 200, "public") == (
        IMMUTABLE if hashed else INDEX_LIFETIME if index else "public"
    )
    assert cache_control(path, 404, None) is None


@pytest.mark.parametrize(
    ("path", "index"),
    [
        ("/component/streamlit_folium.st_folium/index.html", True),
        ("/base/path/component/x.y/index.html", True),
        ("/component/x/static/index.html", False),  # not the frame's page
        ("/index.html", False),  # Streamlit's own page: not ours to change
        ("/component/x/index.html.map", False),
    ],
)
def test_which_paths_are_component_frames(path: str, index: bool):
    assert is_component_index(path) is index
    assert cache_control(path, 200, "no-cache") == (INDEX_LIFETIME if index else "no-cache")
    assert cache_control(path, 404, "no-cache") == "no-cache"


def test_the_launcher_is_an_st_app_serving_app_py():
    launcher = REPO / "components" / "launch.py"
    found = discover_asgi_app(launcher)
    assert found.is_asgi_app and found.import_string == "launch:app"
    # The App is built on the router itself, with the middleware (read, not run: building an
    # App pins Streamlit's process-wide script path).
    calls = [n for n in ast.walk(ast.parse(launcher.read_text())) if isinstance(n, ast.Call)]
    app_call = next(n for n in calls if ast.unparse(n.func) == "st.App")
    assert ast.unparse(app_call.args[0]) == "ROOT / 'app.py'"
    assert "HashedComponentFilesImmutable" in ast.unparse(app_call)
