"""History a page at a time on a phone: "Show older doses" appends the next page in place (htmx)
and moves focus to the first new dose; without JavaScript it is an ordinary link."""

import re

import pytest
from playwright.sync_api import Page, expect

from app.doses.service import HISTORY_PAGE
from app.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _history(page: Page, sign_in) -> None:
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.goto("/doses")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dose history")


def test_show_older_appends_the_next_page_and_focuses_its_first_dose(demo, page: Page,
                                                                     sign_in):
    _history(page, sign_in)
    doses = page.locator("li.card.dose")
    # The demo patient's six weeks are more than a page: the link shows.
    expect(doses).to_have_count(HISTORY_PAGE)
    first_ids = [doses.nth(i).get_attribute("id") for i in range(HISTORY_PAGE)]
    page.get_by_role("link", name="Show older doses").click()
    expect(doses).to_have_count(HISTORY_PAGE + 1)
    # Appended in place: the same page, the earlier doses still there, no link left.
    assert page.url.endswith("/doses")
    assert [doses.nth(i).get_attribute("id") for i in range(HISTORY_PAGE)] == first_ids
    expect(page.get_by_role("link", name="Show older doses")).to_have_count(0)
    expect(doses.nth(HISTORY_PAGE)).to_be_focused()
    # The appended dose's forms open like the others.
    new = doses.nth(HISTORY_PAGE)
    new.get_by_text("Correct this entry").click()
    expect(new.get_by_label("Why the correction?")).to_be_visible()


def test_without_javascript_show_older_is_a_link_to_the_next_page(demo, new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/login")
    page.get_by_label("Email").fill("patient@demo.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/doses")
    page.get_by_role("link", name="Show older doses").click()
    expect(page).to_have_url(re.compile(r"/doses\?before="))
    expect(page.locator("li.card.dose")).to_have_count(1)
    page.get_by_role("link", name="Newest doses").click()
    expect(page.locator("li.card.dose")).to_have_count(HISTORY_PAGE)
