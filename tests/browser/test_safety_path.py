"""The suicidality safety path and the trend charts, in a phone browser."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.checkins.models import QuestionnaireResponse, SafetyEvent
from app.db import engine
from tests import factories
from tests.browser.a11y import serious_violations
from tests.browser.signing import ANY_PAGE, sign_in

pytestmark = pytest.mark.browser


def _answer(page: Page, item: str, label: str) -> None:
    page.locator(f"#item-{item}").get_by_label(label, exact=True).check()


def _screen_high_risk(phone: Page) -> None:
    """A PHQ-9 with item 9 above 0, then a screener with intent: the crisis screen."""
    phone.goto("/questionnaires/phq9")
    for n in range(1, 9):
        _answer(phone, f"q{n}", "Not at all")
    _answer(phone, "q9", "Several days")
    phone.get_by_role("button", name="Submit").click()
    for item, answer in (("q1", "Yes"), ("q2", "Yes"), ("q3", "No"), ("q4", "Yes"),
                         ("q5", "No"), ("q6", "No")):
        _answer(phone, item, answer)
    phone.get_by_role("button", name="Submit").click()
    expect(phone.get_by_text("Your care team must review your answers before your next "
                             "dose.")).to_be_visible()


def test_phq9_item9_leads_to_screener_then_crisis_screen(page: Page, demo):
    sign_in(page, "patient@demo.test", lands_on=ANY_PAGE)
    page.goto("/questionnaires/phq9")
    expect(page.get_by_role("heading", level=1)).to_have_text("PHQ-9")
    for n in range(1, 9):
        _answer(page, f"q{n}", "Several days")
    _answer(page, "q9", "More than half the days")
    page.get_by_role("button", name="Submit").click()

    # Straight on to the screener; questions 3–5 appear only after a yes to question 2. The
    # demo patient answered one before, so this one asks "since last contact", and its
    # behaviour question has no 3-month follow-up.
    expect(page).to_have_url(re.compile(r"/questionnaires/cssrs$"))
    expect(page.get_by_text("Since last contact:")).to_be_visible()
    expect(page.locator("#item-q6_past_3_months")).to_have_count(0)
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
            QuestionnaireResponse.patient_id == demo["patient@demo.test"].id,
            QuestionnaireResponse.instrument == "cssrs", QuestionnaireResponse.risk == "high"
        )).one()
        assert screener.follows_id is not None
        assert screener.version == "since_last_contact"
        assert screener.answers["q6_past_3_months"] is None
        event = db.exec(select(SafetyEvent).where(SafetyEvent.source_id == screener.id)).one()
        assert event.level == "high"


def test_a_first_screener_asks_about_the_past_3_months_only_after_a_yes_to_q6(page: Page,
                                                                              demo):
    with Session(engine) as db:  # a patient with no screener on record: the recent version
        newcomer = factories.user(db, role="patient")
        email, newcomer_id = newcomer.email, newcomer.id
        db.commit()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")
    page.goto("/questionnaires/cssrs")
    expect(page.get_by_text("In the past month:")).to_be_visible()
    follow_up = page.locator("#item-q6_past_3_months")
    expect(follow_up).to_be_hidden()
    _answer(page, "q1", "No")
    _answer(page, "q2", "No")
    _answer(page, "q6", "Yes")
    expect(follow_up).to_be_visible()
    expect(follow_up).to_contain_text("Was this within the past 3 months?")
    _answer(page, "q6", "No")
    expect(follow_up).to_be_hidden()
    _answer(page, "q6", "Yes")
    _answer(page, "q6_past_3_months", "No")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Submit").click()
    # Behaviour only longer ago is moderate risk: support, not the crisis screen.
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for telling us")
    with Session(engine) as db:
        screener = db.exec(select(QuestionnaireResponse).where(
            QuestionnaireResponse.patient_id == newcomer_id,
            QuestionnaireResponse.instrument == "cssrs")).one()
        assert (screener.version, screener.risk) == ("recent", "moderate")
        assert screener.answers["q6_past_3_months"] is False


def test_prescriber_sees_the_positive_screen(page: Page, demo):
    sign_in(page, "prescriber@demo.test", lands_on=ANY_PAGE)
    page.get_by_role("link", name="Jordan Reyes").click()
    events = page.get_by_role("region", name="Safety events to review")
    expect(events).to_contain_text("Positive suicidality screen")
    # The answers in words, not item keys.
    expect(events).to_contain_text(
        "Have you wished you were dead or wished you could go to sleep and not wake up? Yes")
    expect(events).not_to_contain_text("q1=")


def test_trend_charts_are_accessible(page: Page, demo):
    sign_in(page, "patient@demo.test", lands_on=ANY_PAGE)
    page.goto("/trends?range=all")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trends")
    expect(page.locator("svg[role=img]")).to_have_count(5)
    page.get_by_text("Show the numbers").first.click()
    expect(page.locator(".chart-mood table tbody tr").first).to_be_visible()
    assert serious_violations(page) == []


def test_a_high_risk_screen_holds_dosing_until_the_prescriber_clears_it(new_context, demo):
    phone = new_context().new_page()
    sign_in(phone, "patient@demo.test", lands_on=ANY_PAGE)
    _screen_high_risk(phone)

    # Today: the hold comes first and takes focus; no safety check to fill in.
    phone.goto("/today")
    hold = phone.locator("#gate-result")
    expect(hold).to_be_focused()
    expect(hold.get_by_role("heading", name="Dosing is on hold")).to_be_in_viewport()
    expect(hold).to_contain_text("Your care team must review your recent answers")
    expect(hold.get_by_role("link", name=re.compile("Call 988"))).to_be_visible()
    expect(phone.get_by_label("Upper (systolic)")).to_have_count(0)
    assert serious_violations(phone) == []

    laptop = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(laptop, "prescriber@demo.test", lands_on=ANY_PAGE)
    laptop.get_by_role("link", name="Jordan Reyes").click()
    expect(laptop.get_by_role("alert").first).to_contain_text("needs your review")
    laptop.get_by_label("What you reviewed and decided").first.fill(
        "Called Jordan; no plan or intent; safety plan reviewed.")
    laptop.get_by_role("button", name="Clear the hold").click()
    expect(laptop.get_by_text("Review recorded.")).to_be_visible()
    expect(laptop.get_by_text(re.compile(
        r"^Reviewed by Dr\. Amara Okafor on .*: Called Jordan; no plan or intent"))).to_be_visible()
    # The review answered the screen's alert too, with the same note: nobody else is told.
    acknowledged = r"^Acknowledged by Dr\. Amara Okafor, .*: Called Jordan; no plan or intent"
    expect(laptop.get_by_text(re.compile(acknowledged))).to_be_visible()
    assert serious_violations(laptop) == []

    phone.goto("/today")
    expect(phone.get_by_text("Dosing is on hold")).to_have_count(0)
    expect(phone.get_by_label("Upper (systolic)")).to_be_visible()
    with Session(engine) as db:
        events = db.exec(select(SafetyEvent).where(
            SafetyEvent.holds_dosing, SafetyEvent.patient_id == demo["patient@demo.test"].id)).all()
        assert len(events) == 1 and events[0].reviewed_at is not None


def test_a_high_risk_screen_on_a_phone_whose_clock_runs_fast_holds_today_at_once(new_context,
                                                                                  demo):
    """The phone stamps the answers with its own clock, 3 minutes fast here: Today offered the
    safety check for those 3 minutes, right after the crisis screen."""
    phone = new_context().new_page()
    phone.clock.set_system_time(datetime.now(UTC) + timedelta(minutes=3))
    sign_in(phone, "patient@demo.test", lands_on=ANY_PAGE)
    _screen_high_risk(phone)

    phone.goto("/today")
    hold = phone.locator("#gate-result")
    expect(hold.get_by_role("heading", name="Dosing is on hold")).to_be_visible()
    expect(phone.get_by_label("Upper (systolic)")).to_have_count(0)
