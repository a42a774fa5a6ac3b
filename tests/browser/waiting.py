"""Waiting on the page without page.wait_for_function, whose polling evaluates a string with
eval: the page's CSP refuses that (no unsafe-eval) whenever the first check is false, and the
browser tests fail on any CSP violation."""

import time

from playwright.sync_api import Page

from tests.browser.conftest import TIMEOUT_MS


def until(page: Page, expression: str, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait for `expression` to be true, polling from Python (page.evaluate goes through the
    DevTools protocol, which the page's CSP does not govern)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def under_the_service_worker(page: Page) -> None:
    """Reload the page once the service worker is installed, and wait until it controls it:
    from then on the page's requests go through the worker."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    until(page, "navigator.serviceWorker.controller !== null")
