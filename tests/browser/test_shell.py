"""The app shell in a phone browser: sign in and out, each role's home, the always-reachable
crisis page, the service worker and offline fallback, no JavaScript, accessibility."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import serious_violations
from tests.browser.waiting import until

pytestmark = pytest.mark.browser

WRONG_PASSWORD_ERROR = "That email and password do not match an account."


def _path(path: str) -> re.Pattern[str]:
    """A URL whose path is exactly `path` (any query string)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


def test_patient_signs_in_and_reaches_help(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")

    expect(page).to_have_url(_path("/today"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Today")).to_have_attribute("aria-current", "page")
    # On a phone, Care team and Account wait under More (tests/browser/test_phone_menu.py).
    expect(nav.get_by_role("link", name="More")).to_be_visible()

    help_link = page.get_by_role("banner").get_by_role("link", name="Need help now?")
    expect(help_link).to_be_visible()
    help_link.click()
    expect(page).to_have_url(_path("/help"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Help now")
    expect(page.get_by_role("link", name=re.compile("Call 988"))).to_have_attribute(
        "href", "tel:988"
    )


@pytest.mark.parametrize(
    ("email", "home", "heading", "nav_link"),
    [
        ("patient@demo.test", "/today", "Today", "Today"),
        ("caregiver@demo.test", "/supporting", "People I support", "People I support"),
        ("prescriber@demo.test", "/patients", "Patients", "Patients"),
    ],
)
def test_each_role_lands_on_its_home(page: Page, demo, sign_in, email, home, heading, nav_link):
    sign_in(page, email)

    expect(page).to_have_url(_path(home))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    link = page.get_by_role("navigation", name="Main").get_by_role("link", name=nav_link)
    expect(link).to_have_attribute("aria-current", "page")


def test_wrong_password_shows_error_and_keeps_email(page: Page, demo, sign_in, console_errors):
    # Chromium logs the 401 as "Failed to load resource"; that one is the point of the test.
    console_errors.expect(r"status of 401")
    sign_in(page, "patient@demo.test", "not-the-password")

    expect(page.get_by_role("alert")).to_have_text(WRONG_PASSWORD_ERROR)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_label("Email")).to_have_value("patient@demo.test")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)


def test_works_without_javascript(new_context, demo, sign_in):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, "patient@demo.test")

    expect(page).to_have_url(_path("/today"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.get_by_role("banner").get_by_role("link", name="Need help now?").click()
    expect(page.get_by_role("link", name=re.compile("Call 988"))).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path("/login"))
    page.goto("/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_service_worker_serves_help_and_offline_page(context, page: Page, live_server):
    page.goto("/help")
    expect(page.locator('link[rel="manifest"]')).to_have_attribute("href", "/manifest.webmanifest")
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{live_server}/"
    # clients.claim() in activate: this page is controlled without a reload.
    until(page, "navigator.serviceWorker.controller !== null")

    context.set_offline(True)
    try:
        page.goto("/help")
        expect(page.get_by_role("heading", level=1)).to_have_text("Help now")
        expect(page.get_by_role("link", name=re.compile("Call 988"))).to_be_visible()

        page.goto("/care-team")  # never visited, so not in any cache
        expect(page.get_by_role("heading", level=1)).to_have_text("You are offline")
        expect(page.get_by_role("link", name="More help")).to_be_visible()
    finally:
        context.set_offline(False)


def test_sign_out_ends_the_session(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    page.goto("/today")
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert not [c for c in page.context.cookies() if c["name"] == "tl_session"]


def test_accessibility_of_login_and_today(page: Page, demo, sign_in):
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert serious_violations(page) == []

    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    assert serious_violations(page) == []
