"""In a real browser against the real stack (``pipelines up`` + Chromium):

- before login only the login form exists, whatever URL is asked for (the first request
  of a fresh server included: Streamlit then runs a page straight from ``pages/``);
- a viewer is offered neither the admin page nor an export, and asking for their URLs
  shows neither;
- a post carrying a ``<script>`` payload (inserted into the stack's store) is shown as
  literal text: no dialog fires, no injected element exists, no script ran;
- Markdown in a shareable filter URL (the keyword query, a bad source name echoed in an
  error) stays text: no image is fetched from the address it names;
- logout ends the session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from pipelines.core.post import build_post
from tests.browser.conftest import ARTIFACTS, Stack, create_user, login

pytestmark = pytest.mark.browser

PAYLOAD = (
    '<script>window.__vigil_xss=1;alert("xss")</script><img src=x onerror="window.__vigil_xss=2;alert(2)">'
)
AUTHOR = '<b onmouseover="alert(4)">mallory</b>'


def _watch(page) -> list[str]:
    """Record (and dismiss) every alert/confirm/prompt dialog the page opens."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def _login_form_only(page) -> None:
    """The login form and nothing else (waiting out elements of the previous run)."""
    page.get_by_label("Username").wait_for(timeout=60_000)
    expect(page.get_by_label("Password", exact=True)).to_have_count(1)
    for hidden in ("Total posts", "Add a user", "Audit log", "Signed in as"):
        expect(page.get_by_text(hidden)).to_have_count(0, timeout=15_000)
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)


def test_anonymous_sees_only_the_login_form(stack: Stack, browser):
    # `make run` on an empty store says in its log how to create the first user.
    assert "python -m pipelines user add NAME --admin" in stack.log.read_text()
    create_user(stack, "e2e-admin", "admin")  # with no user at all the page explains how to make one
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    # The very first request of this server asks for the admin page directly.
    page.goto(f"{stack.url}/admin", wait_until="networkidle")
    page.wait_for_timeout(1500)
    assert page.get_by_text("Add a user").count() == 0 and page.get_by_text("Audit log").count() == 0
    for path in ("", "/admin", "/export", "/overview"):
        page.goto(f"{stack.url}{path}", wait_until="networkidle")
        _login_form_only(page)
    page.screenshot(path=str(ARTIFACTS / "security-login.png"), full_page=True)
    page.close()


def test_viewer_cannot_reach_admin_or_export(stack: Stack, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    login(page, stack, "e2e-viewer", "viewer")
    page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
    # The menu lists only what a viewer may open (Streamlit hides a one-page menu).
    links = [t.strip() for t in page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts()]
    assert "Admin" not in links and "Export" not in links
    for path in ("/admin", "/export"):
        page.goto(f"{stack.url}{path}", wait_until="networkidle")
        page.wait_for_timeout(1500)
        assert page.get_by_text("Add a user").count() == 0
        assert page.get_by_test_id("stDownloadButton").count() == 0
    page.screenshot(path=str(ARTIFACTS / "security-viewer.png"), full_page=True)
    page.close()


def test_markdown_in_a_filter_url_stays_text(stack: Stack, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "127.0.0.1:9/" in r.url else None)
    # A shared Explore link: the login form first, then the page with the link's filters.
    query = quote('"flood ![pic](http://127.0.0.1:9/vigil-pixel.png)"')
    login(page, stack, "e2e-viewer", "viewer", path=f"/explore?q={query}")
    caption = page.get_by_text("Filters:").first
    caption.wait_for(timeout=60_000)
    expect(caption).to_contain_text("![pic](http://127.0.0.1:9/vigil-pixel.png)")
    assert page.get_by_role("heading", name="Explore").count() == 1
    # A bad source name is echoed in the error: as text too.
    login(
        page, stack, "e2e-viewer", "viewer", path=f"/explore?sources={quote('$![](http://127.0.0.1:9/p2)')}"
    )
    page.get_by_text("Ignoring the filters in the address").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("img[src*='127.0.0.1:9']").count() == 0
    assert fetched == []
    page.screenshot(path=str(ARTIFACTS / "security-filter-url.png"), full_page=True)
    page.close()


def test_script_post_renders_as_text_and_logout(stack: Stack, browser):
    store = stack.store()
    try:
        post = build_post(
            source="hostile",
            native_id="xss-1",
            ts=datetime.now(UTC) - timedelta(minutes=5),  # the newest post: first in "Latest posts"
            text=PAYLOAD,
            author=AUTHOR,
            url="https://example.org/xss",
        )
        store.posts.upsert([post.to_doc()])
    finally:
        store.client.close()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs = _watch(page)
    login(page, stack, "e2e-analyst", "analyst")
    cell = page.locator("td", has_text='<script>window.__vigil_xss=1;alert("xss")</script>')
    # The grid draws on a canvas; its accessible twin (a hidden table) holds the cell text.
    cell.first.wait_for(state="attached", timeout=60_000)
    assert PAYLOAD in (cell.first.text_content() or "")  # the literal text is what is shown
    page.wait_for_timeout(1000)
    assert dialogs == []
    assert page.evaluate("window.__vigil_xss") is None
    assert page.locator("script", has_text="__vigil_xss").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "security-script-post.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    _login_form_only(page)
    page.reload(wait_until="networkidle")
    _login_form_only(page)  # nothing in the browser brings the session back
    page.close()
