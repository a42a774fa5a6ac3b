"""A repeat visit to Today asks the network for the page alone: its stylesheet, scripts, icons
and manifest come from the service worker's cache or the HTTP cache (hashed, immutable
addresses, app/web/assets.py), so one bar of signal carries only the HTML."""

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.web.access_log import AccessLogMiddleware
from tests.browser.server_log import ServerRequests
from tests.browser.waiting import under_the_service_worker, until

pytestmark = pytest.mark.browser


@pytest.fixture
def page_headers(monkeypatch) -> list[dict[str, str]]:
    """The headers of each page request (GET /today) that reaches the live server."""
    seen: list[dict[str, str]] = []
    real = AccessLogMiddleware.__call__

    async def noting(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/today":
            seen.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        await real(self, scope, receive, send)

    monkeypatch.setattr(AccessLogMiddleware, "__call__", noting)
    return seen


def test_repeat_visit_to_today_fetches_only_the_html(
    context: BrowserContext, page: Page, demo, sign_in, page_headers
):
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    under_the_service_worker(page)
    # The worker's warm-up has finished: nothing of the first visit is still in flight.
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    page.close()

    with ServerRequests() as server:
        repeat = context.new_page()
        repeat.goto("/today")
        expect(repeat.get_by_role("heading", level=1)).to_have_text("Today")
        # Everything the page needs is there: the stylesheet applies, the scripts ran.
        until(
            repeat,
            "getComputedStyle(document.querySelector('.site-nav')).position !== "
            "'static' && typeof window.htmx === 'object'",
        )
        expect(repeat.locator("html[data-offline-ready]")).to_have_count(1)
    static = [r for r in server.seen if re.search(r"/static/|manifest|/favicon", r)]
    assert static == [], server.seen
    # Besides the page: only data (the outbox asks who is signed in, the offline snapshot is
    # refreshed) and the browser's update check of the worker script itself.
    pages = [r for r in server.seen if not r.startswith("GET /api/") and r != "GET /sw.js"]
    assert pages == ["GET /today"], server.seen
    # That one request was the browser's navigation preload, sent while the worker started, and
    # the worker answered with it rather than asking again.
    assert page_headers[-1].get("service-worker-navigation-preload") == "true", page_headers[-1]
