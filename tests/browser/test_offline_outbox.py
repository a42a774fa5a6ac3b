"""Offline on a phone: navigation still leads somewhere, entries wait in the outbox with a
visible count, survive a reload, and arrive exactly once when the signal returns."""

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, select

from app.accounts.models import Role
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.db import engine, utcnow
from app.doses.models import Dose, LedgerEntry
from app.protocols import service as protocols
from tests import factories

pytestmark = pytest.mark.browser



@pytest.fixture
def patient(live_server):
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        prescriber = factories.user(db, role=Role.PRESCRIBER)
        patient = factories.user(db, role=Role.PATIENT, timezone="UTC")
        factories.link(db, patient, prescriber)
        protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                       version_id=uuid.uuid4(), now=now - timedelta(days=2),
                       values=factories.protocol_values(**factories.session_now_protocol(
                           patient, hours_from_now=6)))
        db.commit()
    return patient


def _ready_offline(context: BrowserContext, page: Page, email: str) -> None:
    """Sign in, let the service worker take control and warm its cache, then cut the signal."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    # The service worker says when its offline copies of the pages are in place.
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    context.set_offline(True)


def _count(page: Page):
    return page.locator("header [data-outbox-count]")


def _rows(patient_id):
    with Session(engine) as db:
        return {
            "checkins": db.exec(select(CheckIn).where(CheckIn.patient_id == patient_id)).all(),
            "questionnaires": db.exec(select(QuestionnaireResponse).where(
                QuestionnaireResponse.patient_id == patient_id)).all(),
            "doses": db.exec(select(Dose).where(Dose.patient_id == patient_id)).all(),
            "ledger": db.exec(select(LedgerEntry).where(
                LedgerEntry.patient_id == patient_id)).all(),
        }


def test_offline_entries_wait_in_the_outbox_and_arrive_once(context, page: Page, patient):
    _ready_offline(context, page, patient.email)

    # Offline, the menu still works (a boosted fetch would fail silently) and says so.
    page.get_by_role("link", name="Check-ins").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check-ins")
    expect(page.locator("[data-offline-banner]")).to_be_visible()

    page.goto("/checkins/daily")
    page.get_by_role("radio", name="6", exact=True).check()
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_role("status").filter(has_text="Saved on this phone")).to_be_visible()
    expect(_count(page)).to_have_text("1")

    # A PHQ-9 with item 9 above 0 goes straight on to the screener, offline too; the
    # screener's answers lead to the crisis resources at once.
    page.goto("/questionnaires/phq9")
    for n in range(1, 9):
        page.locator(f"#item-q{n}").get_by_label("Not at all", exact=True).check()
    page.locator("#item-q9").get_by_label("Several days", exact=True).check()
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/questionnaires/cssrs\?follows="))
    for item in ("q1", "q2", "q6"):
        page.locator(f"#item-{item}").get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/help"))
    expect(page.get_by_role("link", name=re.compile("Call 988"))).to_be_visible()
    expect(_count(page)).to_have_text("3")

    # A dose logged later, and a troche count.
    page.goto("/today")
    page.get_by_text("Log a dose you took earlier").click()
    page.get_by_label("Why was there no safety check before this dose?").fill("Cuff at work.")
    page.locator("#dose_mg-late").fill("100")
    page.locator("#taken_at-late").fill(
        (utcnow() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("form.dose-form").last.get_by_role("button", name="Log dose").click()
    expect(page).to_have_url(re.compile(r"/today$"))
    expect(_count(page)).to_have_text("4")
    page.goto("/supply")
    page.get_by_label("Troches you have now").fill("7")
    page.get_by_role("button", name="Save count").click()
    expect(_count(page)).to_have_text("5")
    expect(page.locator("[data-outbox] [data-outbox-item]")).to_have_count(5)

    # Still there after a reload with no signal; nothing has reached the server.
    page.reload()
    expect(_count(page)).to_have_text("5")
    assert all(not rows for rows in _rows(patient.id).values())

    # The signal returns: everything is sent, once, and the count goes to zero.
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(_count(page)).to_be_hidden()
    expect(_count(page)).to_have_text("0")
    rows = _rows(patient.id)
    assert [c.values for c in rows["checkins"]] == [{"mood": 6}]
    assert sorted(q.instrument for q in rows["questionnaires"]) == ["cssrs", "phq9"]
    phq = next(q for q in rows["questionnaires"] if q.instrument == "phq9")
    screener = next(q for q in rows["questionnaires"] if q.instrument == "cssrs")
    assert screener.follows_id == phq.id and screener.risk == "none"
    assert [(d.dose_mg, d.no_gate_reason) for d in rows["doses"]] == [(100, "Cuff at work.")]
    assert [e.count for e in rows["ledger"]] == [7]
    # A second flush (Background Sync, another tab) sends nothing new.
    page.evaluate("window.TrocheOutbox.flush()")
    assert sum(len(r) for r in _rows(patient.id).values()) == 5


def test_a_rejected_entry_stays_visible_with_its_reason(context, page: Page, patient,
                                                        console_errors):
    _ready_offline(context, page, patient.email)
    page.goto("/today")
    page.get_by_text("Log a dose you took earlier").click()
    page.get_by_label("Why was there no safety check before this dose?").fill("Forgot.")
    page.locator("#dose_mg-late").fill("1100")  # the browser allows it; the server does not
    page.locator("form.dose-form").last.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    rejected = page.locator("[data-outbox] .outbox-rejected")
    expect(rejected).to_contain_text("That is more than 10 troches: check the amount.")
    expect(_count(page)).to_have_text("1")  # not lost
    assert _rows(patient.id)["doses"] == []

    page.once("dialog", lambda dialog: dialog.accept())
    rejected.get_by_role("button", name="Discard").click()
    expect(_count(page)).to_be_hidden()


def test_signed_out_mid_flush_keeps_the_queue_for_the_same_user(context, page: Page, patient,
                                                               console_errors):
    console_errors.expect(r"status of 401")
    _ready_offline(context, page, patient.email)
    page.goto("/checkins/daily")
    page.get_by_role("radio", name="4", exact=True).check()
    page.get_by_role("button", name="Save check-in").click()
    expect(_count(page)).to_have_text("1")

    # The session ends elsewhere (signed out on another device): the flush finds nobody.
    context.set_offline(False)
    context.clear_cookies()
    summary = page.evaluate("window.TrocheOutbox.flush()")
    assert summary["waiting"] is True
    assert _rows(patient.id)["checkins"] == []
    stored = page.evaluate("window.TrocheOutbox.all()")
    assert [i["status"] for i in stored] == ["pending"]
