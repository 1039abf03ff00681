"""End to end: `pipelines up` on a temporary folder, the dashboard in headless Chromium,
then Ctrl-C stops every process and a restart reuses the data."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import ARTIFACTS, Stack, group_pids, login, start_stack, stop_stack

pytestmark = pytest.mark.browser


def _wait_import_settled(stack: Stack, timeout_s: float = 240) -> int:
    """Wait until the sample import has finished (count stable and the import logged its summary)."""
    store = stack.store()
    try:
        deadline = time.monotonic() + timeout_s
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = store.db.posts.count_documents({})
            if n != last:
                last, stable_since = n, time.monotonic()
            done = "sample-import finished" in stack.log.read_text()
            if n > 0 and done and time.monotonic() - stable_since > 2:
                return n
            time.sleep(1)
        raise AssertionError(f"sample import did not settle: {last} posts\n{stack.log.read_text()[-2000:]}")
    finally:
        store.client.close()


def _total_posts_shown(page) -> int:
    metric = page.get_by_test_id("stMetric").filter(has_text="Total posts")
    metric.wait_for(timeout=60_000)
    value = metric.get_by_test_id("stMetricValue").inner_text()
    return int(re.sub(r"[^\d]", "", value))


def test_dashboard_shows_the_stores_total_then_ctrl_c_stops_everything(stack: Stack, browser, tmp_path):
    n = _wait_import_settled(stack)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    login(page, stack)
    assert _total_posts_shown(page) == n
    page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    page.close()

    # Ctrl-C: nothing of the process group survives.
    assert stop_stack(stack) == []
    assert group_pids(stack.proc.pid) == []

    # A restart on the same folder reuses the data and imports nothing new.
    again = start_stack(stack.data_dir)
    try:
        assert _wait_import_settled(again) == n
        assert "inserted 0" in again.log.read_text()
    finally:
        assert stop_stack(again) == []
