"""An export downloaded on a phone or laptop the service worker controls: the server builds the
file once (the worker answers with the browser's preloaded request instead of asking again),
and the file is not kept in the worker's page cache (it holds every patient's records)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.server_log import ServerRequests
from tests.browser.waiting import under_the_service_worker

pytestmark = pytest.mark.browser

CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) urls.push(request.url);
  }
  return urls;
}"""


def test_an_export_is_built_once_and_not_kept_by_the_service_worker(page: Page, demo, sign_in):
    sign_in(page, "prescriber@demo.test")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")
    page.goto("/patients")
    under_the_service_worker(page)

    export = page.get_by_role("region", name="Export all your patients' records")
    with ServerRequests() as server:
        with page.expect_download() as download:
            export.get_by_role("button", name="Download CSV (zip)").click()
        assert download.value.path().stat().st_size > 0  # waits for the whole file
        server.wait_for(r"GET /api/v1/export\S*")
    assert download.value.suggested_filename.endswith(".zip")
    built = [r for r in server.seen if re.fullmatch(r"GET /api/v1/export\S*", r)]
    assert len(built) == 1, server.seen
    assert not [u for u in page.evaluate(CACHED_URLS) if "export" in u]


def test_a_patients_own_data_download_is_not_kept_by_the_service_worker(page: Page, demo,
                                                                        sign_in):
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.goto("/account/data")
    under_the_service_worker(page)

    # Tapped (a download link), or opened as an address (a navigation the worker answers).
    address = "/account/data/trochelog-my-data.json"
    for open_it in (lambda: page.get_by_role("link", name="Download as JSON").click(),
                    lambda: page.evaluate(f"location.assign('{address}')")):
        with ServerRequests() as server:
            with page.expect_download() as download:
                open_it()
            assert download.value.path().stat().st_size > 0
            server.wait_for(f"GET {address}")
        assert download.value.suggested_filename.startswith("trochelog-my-data-")
        assert [r for r in server.seen if "my-data" in r] == [f"GET {address}"]
        assert not [u for u in page.evaluate(CACHED_URLS) if "my-data" in u]
