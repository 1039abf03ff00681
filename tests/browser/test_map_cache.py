"""In a real browser on the real stack (``pipelines up``, which serves ``app.py`` through
``components/launch.py``'s ``st.App``): the Map's content-hashed scripts (streamlit-folium's
``main.<hash>.js``, the Leaflet bundle) come over the network once and from the browser's
cache on the next visit of the Map in the same tab, served ``immutable``; the frame's
``index.html`` is sent with a 5-minute lifetime (``max-age=300``; whether Chromium reuses it is
its choice, so only the header is asserted). Without the launcher's middleware every
visit fetches every file again (Streamlit sends them with no lifetime).

The launcher also keeps what ``streamlit run app.py`` gave: ``.streamlit/config.toml`` is
read (the theme's primary colour on the login button), login and its cookie-less session
over the websocket, ``st.navigation``'s page addresses, the map drawn in its frame.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from components.assetcache import IMMUTABLE, INDEX_LIFETIME
from tests.browser.conftest import Stack, create_user, login

pytestmark = pytest.mark.browser

MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
WATCHED = {
    "main.js": re.compile(r"/component/streamlit_folium\.st_folium/static/js/main\.[0-9a-f]{8,}\.js$"),
    "bundle": re.compile(
        r"/component/components\.geomap\.vigil_map_assets/leaflet-bundle\.[0-9a-f]{12}\.js$"
    ),
    "index.html": re.compile(r"/component/streamlit_folium\.st_folium/index\.html"),
}


def _visit(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)


def test_hashed_map_scripts_are_fetched_once_over_two_map_visits(stack: Stack, browser):
    create_user(stack, "e2e-admin", "admin")  # with no user the page shows no login form
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(stack.url, wait_until="networkidle")
    # config.toml's [theme] primaryColor = "#b4232a" on the login form's primary button.
    # A cold start can take longer than expect's 5 s default to draw the form.
    expect(page.get_by_role("button", name="Log in")).to_have_css(
        "background-color", "rgb(180, 35, 42)", timeout=60_000
    )
    login(page, stack)

    # Chromium's own record of each response: from the network, or from its cache.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    responses: dict[str, list[dict]] = {name: [] for name in WATCHED}
    from_memory: set[str] = set()

    def on_response(event: dict) -> None:
        for name, pattern in WATCHED.items():
            if pattern.search(event["response"]["url"].split("?")[0]):
                responses[name].append(event)

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.requestServedFromCache", lambda e: from_memory.add(e["requestId"]))

    def network(name: str) -> list[dict]:
        return [
            e
            for e in responses[name]
            if not e["response"].get("fromDiskCache") and e["requestId"] not in from_memory
        ]

    for visit in range(2):
        _visit(page, "Map")
        assert page.url.rstrip("/").endswith("/map")  # st.navigation's address for the page
        page.frame_locator(MAP_FRAME).locator(".leaflet-container").first.wait_for(timeout=120_000)
        expect(page.frame_locator(MAP_FRAME).locator(".leaflet-draw-toolbar").first).to_be_visible()
        page.wait_for_timeout(500)
        if visit == 0:
            for name in ("main.js", "bundle"):
                assert len(network(name)) == 1, (name, responses[name])
                headers = {k.lower(): v for k, v in network(name)[0]["response"]["headers"].items()}
                assert headers.get("cache-control") == IMMUTABLE, (name, headers)
        _visit(page, "Anomalies")
    # The second visit drew the map from the cached scripts and the cached frame's page.
    for name in ("main.js", "bundle"):
        assert len(network(name)) == 1, (name, [e["response"].get("fromDiskCache") for e in responses[name]])
    frames = [e for e in responses["index.html"] if e["type"] == "Document"]
    assert len(frames) == 2  # the frame was loaded on both visits, and may be reused for 5 minutes
    # (whether Chromium reuses the frame's document from its cache is its choice: a clean-clone
    # run once fetched it twice, so only the header that allows it is asserted here).
    headers = {k.lower(): v for k, v in frames[0]["response"]["headers"].items()}
    assert headers.get("cache-control") == INDEX_LIFETIME
    page.close()
