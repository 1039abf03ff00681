"""The dashboard in a real browser on the real stack (bundled sample): open Explore, set a
filter, draw an area on the Map and filter every page to it, drill into an anomaly,
download a CSV of the selection; a screenshot of every page goes to ``tests/artifacts/``
for a person to look at.

The page may reach nothing but the dashboard: every other request is refused and
recorded, so the map must draw from the dashboard's own files (Leaflet, its plugins, the
country outlines), as it would on an install without internet access.

The Map needs scored posts (places come from the scorer): the test scores the newest
posts of its filter with the real CPU scorer before it opens the Map.

When the stack has raised no anomaly on the sample yet (the detector needs its history),
the test inserts one into the stack's store, over the busiest hour of one sample source,
so the drill-down has something to open.
"""

from __future__ import annotations

import csv
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect

from pipelines.search.filters import Filters
from tests.browser.conftest import ARTIFACTS, Stack, create_user, login
from tests.browser.test_stack import _wait_import_settled

pytestmark = pytest.mark.browser


def _ensure_anomaly(stack: Stack) -> str:
    store = stack.store()
    try:
        have = store.db.anomalies.find_one({}, sort=[("severity", -1)])
        if have is not None:
            return str(have["_id"])
        busiest = max(store.rollups.sums("ingest", ["hour", "source"]), key=lambda r: r["n"])
        start = busiest["hour"]
        posts = store.db.posts.find({"source": busiest["source"], "ts": {"$gte": start}}, {"_id": 1}).limit(5)
        store.db.anomalies.insert_one(
            {
                "_id": "e2e-anomaly",
                "series": f"source:{busiest['source']}|count",
                "start": start,
                "end": start + timedelta(hours=1),
                "peak": start,
                "observed": float(busiest["n"]),
                "expected": 2.0,
                "lo": 0.0,
                "hi": 5.0,
                "severity": 0.9,
                "methods": ["robust"],
                "status": "open",
                "evidence": {"posts": [p["_id"] for p in posts], "terms": [{"term": "flood", "lift": 3.0}]},
            }
        )
        return "e2e-anomaly"
    finally:
        store.client.close()


LOCATED = {"$or": [{"geo": {"$exists": True}}, {"scores.places.0": {"$exists": True}}]}


def _score_newest(stack: Stack, f: Filters, n: int = 200) -> int:
    """Score the newest ``n`` posts of ``f`` now, with the real CPU scorer; return how many got places.

    The stack's own scorer gets through the whole sample only after many minutes on a
    busy machine (it claims posts in store order), so the Map would show nothing yet.
    The scores are what the scorer process would store (``Scores.to_doc()``); the score
    rollups are not updated (the Map and Explore read posts, not those rollups), and a
    post the stack's scorer claimed meanwhile keeps that scorer's result.
    """
    from pipelines.core.config import Settings
    from pipelines.scoring import PostText
    from pipelines.scoring.worker import build_scorer

    store = stack.store()
    try:
        docs = list(store.db.posts.find(f.to_mongo()).sort("ts", -1).limit(n))
        outcomes = build_scorer(Settings(), "cpu").score([PostText.from_doc(d) for d in docs])
        for o in outcomes:
            if o.scores is not None:
                # A new change number, as store.score_queue.complete gives: the stack's
                # indexer follows it, so the pages (which read the search index) see the scores.
                store.db.posts.update_one(
                    {"_id": o.post_id, "status": "new"},
                    {
                        "$set": {
                            "scores": o.scores.to_doc(),
                            "status": "scored",
                            "seq": store.feed.next_seq(1),
                        }
                    },
                )
        located = store.db.posts.count_documents({"$and": [f.to_mongo(), LOCATED]})
        _wait_indexed(stack, f, located)
        return located
    finally:
        store.client.close()


def _wait_indexed(stack: Stack, f: Filters, located: int, timeout_s: float = 90) -> None:
    """Wait until the stack's indexer has written the located posts of ``f``."""
    from pipelines.read.queries import Reader
    from pipelines.search import aggregate, select
    from pipelines.search.index import SearchIndex, SearchIndexError, index_path

    store = stack.store()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                searcher, query = Reader(store, SearchIndex.open(index_path(stack.data_dir))).select(f)
                if aggregate.count(searcher, select.located(query)) >= located:
                    return
            except SearchIndexError:
                pass
            time.sleep(0.5)
    finally:
        store.client.close()


def _wait_index_holds_store(stack: Stack, timeout_s: float = 240) -> int:
    """Wait until the stack's indexer has written every post of the store; return that count.

    The pages read the index, so an exact count equal to the store's only holds once the
    indexer has caught up with the sample import (it lags by a few seconds, more on a busy
    machine); a page drawn before that caches a partial figure for its TTL.
    """
    from pipelines.read.queries import Reader
    from pipelines.search import aggregate
    from pipelines.search.index import SearchIndex, SearchIndexError, index_path

    store = stack.store()
    deadline = time.monotonic() + timeout_s
    indexed = stored = -1
    try:
        while time.monotonic() < deadline:
            stored = store.db.posts.count_documents({})
            try:
                searcher, query = Reader(store, SearchIndex.open(index_path(stack.data_dir))).select(
                    Filters()
                )
                indexed = aggregate.count(searcher, query)
            except SearchIndexError:
                indexed = -1
            if indexed == stored > 0:
                return stored
            time.sleep(0.5)
    finally:
        store.client.close()
    raise AssertionError(
        f"the index holds {indexed} posts, the store {stored}\n{stack.log.read_text()[-3000:]}"
    )


def _wait_chart(page, what: str, timeout_ms: int = 60_000) -> None:
    """Wait for the page's first chart; on timeout, fail with what the page shows instead."""
    try:
        page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=timeout_ms)
    except Exception as exc:
        _shot(page, f"{what}-no-chart")
        shown = page.locator("body").inner_text()[-3000:]
        raise AssertionError(f"{what}: no chart after {timeout_ms} ms; the page shows:\n{shown}") from exc


def _offline(page, stack: Stack) -> list[tuple[str, str]]:
    """Refuse every request that is not for the dashboard; return ``(url, frame url)`` refused."""
    refused: list[tuple[str, str]] = []

    def route(r) -> None:
        url = r.request.url
        if url.startswith(stack.url) or url.startswith(("data:", "blob:", "about:")):
            r.continue_()
            return
        try:
            frame = r.request.frame.url
        except Exception:  # a request without a frame (a worker's)
            frame = ""
        refused.append((url, frame))
        r.abort()

    page.route("**/*", route)
    return refused


def _address_filters(page) -> Filters:
    """The filters the page's address carries."""
    return Filters.from_params(dict(parse_qsl(urlsplit(page.url).query)))


def _settle(page) -> None:
    """Wait until Streamlit's run is over (the status widget is gone)."""
    page.wait_for_timeout(800)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)


def _go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    _settle(page)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_explore_filter_anomaly_drilldown_and_csv_download(stack: Stack, browser):
    _wait_import_settled(stack)
    _wait_index_holds_store(stack)
    _ensure_anomaly(stack)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    refused = _offline(page, stack)
    create_user(stack, "e2e-admin", "admin")
    page.goto(f"{stack.url}/explore", wait_until="networkidle")
    page.get_by_label("Username").wait_for(timeout=120_000)  # a cold server is slow to draw
    login(page, stack, "e2e-admin", "admin", path="/explore")
    page.screenshot(path=str(ARTIFACTS / "dashboard-after-login.png"), full_page=True)
    _go(page, "Explore")
    # An archive (the 2013 sample) opens on its whole span: no filter, every post counted.
    expect(page.get_by_text("Filters: none (all posts)")).to_have_count(1, timeout=60_000)
    _settle(page)
    _wait_chart(page, "explore")
    _shot(page, "explore")

    # A keyword filter: the caption names it and the exact count drops.
    before = page.get_by_test_id("stMetric").filter(has_text="Matching posts").get_by_test_id("stMetricValue")
    total = before.inner_text()
    store = stack.store()
    try:
        assert int(total.replace(",", "")) == store.db.posts.count_documents({})
    finally:
        store.client.close()
    box = page.get_by_label("Keywords", exact=True).and_(page.get_by_test_id("stTextInputField"))
    box.fill("flood")
    box.press("Enter")
    expect(page.get_by_text("keywords: flood")).to_have_count(1, timeout=60_000)
    expect(before).not_to_have_text(total, timeout=60_000)
    _settle(page)
    assert 0 < int(before.inner_text().replace(",", "").rstrip("+")) < int(total.replace(",", "").rstrip("+"))
    _shot(page, "explore-filtered")

    _go(page, "Overview")
    _shot(page, "overview")

    # The Map, offline: clusters, the heat layer and the country outlines are drawn.
    assert _score_newest(stack, Filters.make(query="flood")) >= 10
    _go(page, "Map")
    page.get_by_text("located posts").first.wait_for(timeout=60_000)
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    expect(frame.locator(".marker-cluster, path.leaflet-interactive").first).to_be_visible(timeout=60_000)
    expect(frame.locator("canvas.leaflet-heatmap-layer")).to_have_count(1)
    outlines = frame.locator(".leaflet-overlay-pane path:not(.leaflet-interactive)")
    expect(outlines.nth(100)).to_be_attached(timeout=30_000)  # 177 countries, from the bundled file
    page.wait_for_timeout(1500)
    _shot(page, "map")

    # Draw a rectangle over the middle of the map and make it the sidebar's area filter.
    page.get_by_text("drawn area", exact=True).click()
    _settle(page)
    frame.locator(".leaflet-draw-draw-rectangle").click()
    box = frame.locator(".leaflet-container").bounding_box()
    assert box is not None
    x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.6, y0 + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.get_by_text("posts in the drawn area").wait_for(timeout=60_000)
    page.get_by_role("button", name="Filter every page to this area").click()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Area:")).to_have_count(1, timeout=60_000)
    page.get_by_text("posts in the area filter").wait_for(timeout=60_000)
    _settle(page)
    expect(frame.locator('path[stroke-dasharray="6 4"]')).to_have_count(
        1, timeout=60_000
    )  # the area, outlined
    expect(frame.locator(".marker-cluster, path.leaflet-interactive").first).to_be_visible(timeout=60_000)
    page.wait_for_timeout(1000)
    _shot(page, "map-area")
    # The Map's CSV (read on the server when clicked): the newest located posts of the area,
    # once each; and the click loses no filter (it once dropped the keyword on the next page).
    heading = page.get_by_role("heading").filter(has_text="posts in the area filter").first.inner_text()
    n_located = int(heading.split()[0].replace(",", ""))
    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").first.get_by_role("button").click()
    with open(info.value.path(), encoding="utf-8", newline="") as fh:
        map_rows = list(csv.DictReader(fh))
    assert len(map_rows) == min(n_located, 1_000) > 0
    assert len({r["id"] for r in map_rows}) == len(map_rows)
    _settle(page)

    # Explore honours it: its address carries the area, its count is the store's.
    _go(page, "Explore")
    caption = page.get_by_test_id("stCaptionContainer").filter(
        has_text="keywords: flood; area: polygon of 4 corners"
    )
    expect(caption).to_have_count(1, timeout=60_000)
    _settle(page)
    in_area = _address_filters(page)
    assert in_area.area is not None and in_area.query == "flood"
    store = stack.store()
    try:
        n_area = store.db.posts.count_documents(in_area.to_mongo())
    finally:
        store.client.close()
    shown = page.get_by_test_id("stMetric").filter(has_text="Matching posts").get_by_test_id("stMetricValue")
    assert int(shown.inner_text().replace(",", "").rstrip("+")) == n_area
    _shot(page, "explore-area")
    sidebar.get_by_role("button", name="Remove the area filter").click()
    expect(sidebar.get_by_text("Area:")).to_have_count(0, timeout=60_000)
    _settle(page)
    assert _address_filters(page) == Filters.make(query="flood")

    _go(page, "Sources")
    _shot(page, "sources")

    # Anomaly drill-down: pick the most severe one.
    _go(page, "Anomalies")
    page.get_by_test_id("stSelectbox").filter(has_text="Drill down into").click()
    page.get_by_role("option").first.click()
    page.wait_for_timeout(3000)
    _shot(page, "anomaly-picked")
    page.get_by_text("What fired and why").wait_for(timeout=120_000)
    _wait_chart(page, "anomaly-drilldown")
    page.wait_for_timeout(1000)
    _shot(page, "anomaly-drilldown")

    # Export: the CSV holds exactly the posts the (still active) filters select.
    _go(page, "Export")
    expect(page.get_by_text("keywords: flood")).to_have_count(1, timeout=60_000)
    page.get_by_role("button", name="Prepare the file").click()
    dl_button = page.get_by_role("button", name="Download vigil-export.csv")
    dl_button.wait_for(timeout=120_000)
    _shot(page, "export")
    with page.expect_download() as info:
        dl_button.click()
    with open(info.value.path(), encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    store = stack.store()
    try:
        f = Filters.make(query="flood")
        want = sorted(d["_id"] for d in store.db.posts.find(f.to_mongo(), {"_id": 1}))
    finally:
        store.client.close()
    assert want, "the sample has flood posts"
    assert sorted(r["id"] for r in rows) == want
    # Nothing came from outside: not the map's files, not the page's icon or fonts.
    from_map = [u for u, frame in refused if "streamlit_folium" in frame]
    assert from_map == [], f"the map asked for files outside the dashboard: {from_map[:5]}"
    assert refused == [], f"the dashboard asked for files outside it: {refused[:5]}"
    page.close()
