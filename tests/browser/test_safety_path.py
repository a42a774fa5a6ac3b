"""The suicidality safety path and the trend charts, in a phone browser."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.checkins.models import QuestionnaireResponse, SafetyEvent
from app.db import engine
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("demo-pass-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")


def _answer(page: Page, item: str, label: str) -> None:
    page.locator(f"#item-{item}").get_by_label(label, exact=True).check()


def test_phq9_item9_leads_to_screener_then_crisis_screen(page: Page, demo):
    _sign_in(page, "patient@demo.test")
    page.goto("/questionnaires/phq9")
    expect(page.get_by_role("heading", level=1)).to_have_text("PHQ-9")
    for n in range(1, 9):
        _answer(page, f"q{n}", "Several days")
    _answer(page, "q9", "More than half the days")
    page.get_by_role("button", name="Submit").click()

    # Straight on to the screener; questions 3–5 appear only after a yes to question 2.
    expect(page).to_have_url(re.compile(r"/questionnaires/cssrs\?follows="))
    expect(page.locator("#item-q3")).to_be_hidden()
    _answer(page, "q1", "Yes")
    _answer(page, "q2", "Yes")
    expect(page.locator("#item-q3")).to_be_visible()
    _answer(page, "q3", "Yes")
    _answer(page, "q4", "Yes")
    _answer(page, "q5", "No")
    _answer(page, "q6", "No")
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Please reach out now")
    expect(page.get_by_text("may not see your answers right away")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Call 988"))).to_have_attribute(
        "href", "tel:988")
    expect(page.get_by_role("link", name=re.compile("741741"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("911"))).to_be_visible()
    assert serious_violations(page) == []

    with Session(engine) as db:
        screener = db.exec(select(QuestionnaireResponse).where(
            QuestionnaireResponse.instrument == "cssrs", QuestionnaireResponse.risk == "high"
        )).one()
        assert screener.follows_id is not None
        event = db.exec(select(SafetyEvent).where(SafetyEvent.source_id == screener.id)).one()
        assert event.level == "high"


def test_prescriber_sees_the_positive_screen(page: Page, demo):
    _sign_in(page, "prescriber@demo.test")
    page.get_by_role("link", name="Jordan Reyes").click()
    events = page.get_by_role("region", name="Safety events")
    expect(events).to_contain_text("Positive suicidality screen")


def test_trend_charts_are_accessible(page: Page, demo):
    _sign_in(page, "patient@demo.test")
    page.goto("/trends?range=all")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trends")
    expect(page.locator("svg[role=img]")).to_have_count(5)
    page.get_by_text("Show the numbers").first.click()
    expect(page.locator(".chart-mood table tbody tr").first).to_be_visible()
    assert serious_violations(page) == []
