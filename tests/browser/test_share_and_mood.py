"""Issue 12, helper G4, in a phone's browser: Copy puts the invite link on the clipboard, a
tap on a mood number saves it (online, and into the outbox offline)."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.accounts.models import Role, User
from app.checkins.models import CheckIn
from app.db import engine
from tests import factories
from tests.browser.signing import ANY_PAGE, sign_in
from tests.browser.waiting import under_the_service_worker

pytestmark = pytest.mark.browser


def _user(role: Role) -> str:
    with Session(engine, expire_on_commit=False) as db:
        user = factories.user(db, role=role, timezone="UTC")
        db.commit()
    return user.email


def _checkins(email: str) -> list[dict]:
    with Session(engine) as db:
        user = db.exec(select(User).where(User.email == email)).one()
        return [c.values for c in db.exec(select(CheckIn).where(CheckIn.patient_id == user.id))]


def test_copy_puts_the_invite_link_on_the_clipboard(new_context, live_server):
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    sign_in(page, _user(Role.PRESCRIBER), factories.PASSWORD, lands_on=ANY_PAGE)
    page.goto("/patients/new")
    page.locator("#display_name").fill("Robin Example")
    page.locator("#email").fill("robin@example.test")
    page.get_by_role("button", name="Add patient and create invite").click()
    link = page.locator("#invite-url")
    expect(link).to_have_value(re.compile(r"/invite/"))
    expect(page.locator("svg.qr")).to_be_visible()
    box = page.locator("svg.qr").bounding_box()
    assert box and box["width"] >= 150 and abs(box["width"] - box["height"]) < 2
    status = page.get_by_role("status").filter(has_text="Copied")
    expect(status).to_have_count(0)
    page.get_by_role("button", name="Copy link").click()
    expect(status).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link.input_value()
    # Share shows only where the browser has the Web Share API.
    has_share = page.evaluate("typeof navigator.share === 'function'")
    share = page.get_by_role("button", name="Share link")
    (expect(share).to_be_visible() if has_share else expect(share).to_be_hidden())


def test_without_javascript_the_link_is_there_and_the_buttons_are_not(new_context):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, _user(Role.PRESCRIBER), factories.PASSWORD, lands_on=ANY_PAGE)
    page.goto("/patients/new")
    page.locator("#display_name").fill("Robin Example")
    page.locator("#email").fill("robin@example.test")
    page.get_by_role("button", name="Add patient and create invite").click()
    expect(page.locator("#invite-url")).to_have_value(re.compile(r"/invite/"))
    expect(page.locator("svg.qr")).to_be_visible()
    expect(page.get_by_role("button", name="Copy link")).to_be_hidden()
    expect(page.get_by_role("button", name="Share link")).to_be_hidden()


def test_a_tap_on_a_mood_saves_it(page: Page):
    email = _user(Role.PATIENT)
    sign_in(page, email, factories.PASSWORD, lands_on=ANY_PAGE)
    page.goto("/checkins/daily")
    page.locator("textarea[name=note]").fill("Good walk.")
    page.get_by_role("button", name="7", exact=True).click()
    expect(page).to_have_url(re.compile(r"/checkins\?saved=1"))
    values = _checkins(email)
    assert values == [{"mood": 7, "note": "Good walk."}]


def test_offline_a_tap_on_a_mood_waits_in_the_outbox_with_its_value(context, page: Page,
                                                                    console_errors,
                                                                    new_patient):
    # The page's own background checks fail while the signal is off: expected here.
    console_errors.expect(r"ERR_INTERNET_DISCONNECTED")
    patient = new_patient()
    sign_in(page, patient.email, factories.PASSWORD, lands_on=ANY_PAGE)
    under_the_service_worker(page)
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    page.goto("/checkins/daily")
    context.set_offline(True)
    page.locator("textarea[name=note]").fill("Offline evening.")
    page.get_by_role("button", name="7", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Saved on this phone")).to_be_visible()
    items = page.evaluate("window.TrocheOutbox.all()")
    assert [(i["kind"], i["data"]["slot"], i["data"]["values"]) for i in items] == [
        ("checkin", "daily", {"mood": 7, "note": "Offline evening."})]
    assert _checkins(patient.email) == []
    # Back online, it arrives as tapped.
    context.set_offline(False)
    page.evaluate("window.TrocheOutbox.flush()")
    assert _checkins(patient.email) == [{"mood": 7, "note": "Offline evening."}]
