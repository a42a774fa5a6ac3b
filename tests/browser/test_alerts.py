"""Safety alerts in a phone browser: the prescriber's home lists the open alert with a count in
the menu that screen readers hear, acknowledging it through the (htmx-boosted) form, and the
caregiver's alerts switch; no serious accessibility violations on those pages."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser


def test_the_prescriber_acknowledges_the_demo_alert(page: Page, demo, sign_in):
    sign_in(page, "prescriber@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Alerts, 1 open")).to_be_visible()
    alerts = page.get_by_role("region", name="1 open alert")
    expect(alerts).to_contain_text("Riley Chen")
    expect(alerts).to_contain_text("the follow-up suicidality screener is still unanswered")
    # Sam's high-risk screen was reviewed the next morning: the review answered its alert.
    expect(alerts).not_to_contain_text("Sam Whitfield")
    assert serious_violations(page) == []

    # The open alert's note is named for its alert, as its button is.
    alerts.get_by_label("Note (optional) on the alert about Riley Chen").fill(
        "Called Riley; answering the screener now.")
    alerts.get_by_role("button", name="Acknowledge the alert about Riley Chen").click()

    expect(page.get_by_role("status")).to_have_text(
        "Alert acknowledged. Nobody else will be notified about it."
    )
    expect(page).to_have_url(re.compile(r"/patients\?alert=acknowledged$"))
    expect(page.get_by_role("region", name=re.compile("open alert"))).to_have_count(0)

    nav.get_by_role("link", name=re.compile("^Alerts")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    recent = page.get_by_role("region", name="Recently acknowledged")
    expect(recent).to_contain_text("Acknowledged by Dr. Amara Okafor")
    expect(recent).to_contain_text("Called Riley; answering the screener now.")
    assert serious_violations(page) == []


def test_the_caregiver_turns_alerts_off_and_on(page: Page, demo, sign_in):
    sign_in(page, "caregiver@demo.test")
    card = page.locator("#alerts-" + str(demo["patient@demo.test"].id))
    expect(card).to_contain_text("Safety alerts about Jordan Reyes: on.")
    assert serious_violations(page) == []
    card.get_by_role("button", name="Turn alerts off").click()
    expect(page.get_by_role("status")).to_have_text("Safety alerts turned off.")
    expect(card).to_contain_text("Safety alerts about Jordan Reyes: off.")
    card.get_by_role("button", name="Turn alerts on").click()
    expect(page.get_by_role("status")).to_have_text("Safety alerts turned on.")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    # The demo's open alert: Jordan's latest blood-pressure hold.
    expect(page.get_by_text("Blood pressure at or above the hold level before a dose").first
           ).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(1)
    assert serious_violations(page) == []
