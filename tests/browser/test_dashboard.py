"""The dashboard in a real browser on the real stack (bundled sample): open Explore, set a
filter, drill into an anomaly, download a CSV of the selection; a screenshot of every page
goes to ``tests/artifacts/`` for a person to look at.

When the stack has raised no anomaly on the sample yet (the detector needs its history),
the test inserts one into the stack's store, over the busiest hour of one sample source,
so the drill-down has something to open.
"""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from pipelines.filters import Filters
from tests.browser.conftest import ARTIFACTS, Stack, create_user, login
from tests.browser.test_stack import _wait_import_settled

pytestmark = pytest.mark.browser


def _ensure_anomaly(stack: Stack) -> str:
    store = stack.store()
    try:
        have = store.db.anomalies.find_one({}, sort=[("severity", -1)])
        if have is not None:
            return str(have["_id"])
        busiest = max(store.rollup_sums("ingest", ["hour", "source"]), key=lambda r: r["n"])
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
    _ensure_anomaly(stack)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    create_user(stack, "e2e-admin", "admin")
    page.goto(f"{stack.url}/explore", wait_until="networkidle")
    page.get_by_label("Username").wait_for(timeout=120_000)  # a cold server is slow to draw
    login(page, stack, "e2e-admin", "admin", path="/explore")
    page.screenshot(path=str(ARTIFACTS / "dashboard-after-login.png"), full_page=True)
    _go(page, "Explore")
    page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=60_000)
    _shot(page, "explore")

    # The whole archive, then a keyword filter: the caption names it and the count drops.
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="All time").click()
    before = page.get_by_test_id("stMetric").filter(has_text="Matching posts").get_by_test_id("stMetricValue")
    expect(page.get_by_text("Filters: none (all posts)")).to_have_count(1, timeout=60_000)
    _settle(page)
    total = before.inner_text()
    box = page.get_by_label("Keywords", exact=True).and_(page.get_by_test_id("stTextInputField"))
    box.fill("flood")
    box.press("Enter")
    expect(page.get_by_text("keywords: flood")).to_have_count(1, timeout=60_000)
    expect(before).not_to_have_text(total, timeout=60_000)
    _settle(page)
    assert 0 < int(before.inner_text().replace(",", "").rstrip("+")) < int(total.replace(",", "").rstrip("+"))
    _shot(page, "explore-filtered")

    for title in ("Overview", "Map", "Sources"):
        _go(page, title)
        if title == "Map":
            # The map is a component iframe; Leaflet's plugins and tiles come from CDNs, so
            # offline (as here) it may stay blank: only its presence is checked.
            page.locator("iframe").first.wait_for(state="attached", timeout=60_000)
            page.wait_for_timeout(3000)
        _shot(page, title.lower())

    # Anomaly drill-down: pick the most severe one.
    _go(page, "Anomalies")
    page.get_by_test_id("stSelectbox").filter(has_text="Drill down into").click()
    page.get_by_role("option").first.click()
    page.wait_for_timeout(3000)
    _shot(page, "anomaly-picked")
    page.get_by_text("What fired and why").wait_for(timeout=120_000)
    page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=60_000)
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
    page.close()
