"""A supervised session on the sitter's own phone: the co-signed checklist the patient's gate
shows, the timer and observation prompts, observations made offline that sync, and the
emergency guidance at once when the patient is hard to rouse."""

import re
import time
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, select

from app.accounts.models import Role
from app.checkins.models import CheckIn, SafetyEvent
from app.db import engine, utcnow
from app.doses import service as doses
from app.doses.models import GateCheck
from app.protocols import service as protocols
from tests import factories
from tests.browser import a11y
from tests.browser.signing import ANY_PAGE, sign_in
from tests.browser.waiting import until

pytestmark = pytest.mark.browser
FLUSH_MS = 20_000


@pytest.fixture
def people(live_server):
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        prescriber = factories.user(db, role=Role.PRESCRIBER)
        patient = factories.user(db, role=Role.PATIENT, timezone="UTC",
                                 display_name="Robin Patient")
        sitter = factories.user(db, role=Role.CAREGIVER, timezone="UTC",
                                display_name="Sam Sitter")
        factories.link(db, patient, prescriber)
        factories.link(db, patient, sitter, scope="doses")
        protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                       version_id=uuid.uuid4(), now=now - timedelta(days=2),
                       values=factories.protocol_values(**factories.session_now_protocol(
                           patient)))
        db.commit()
    return patient, sitter


def _until(condition, timeout: float = FLUSH_MS / 1000):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def _when_taken(taken, now) -> str:
    """The timer's words for the dose, in the patient's zone (UTC here): a time on the day
    of the page, the weekday too once midnight has passed since the dose. The page is read a
    few seconds after `now`, so near midnight either may be right."""
    time_only, with_weekday = r"at \d{1,2}:\d{2}\s[AP]M", r"[A-Z][a-z]{2} \d{1,2}:\d{2}\s[AP]M"
    if taken.date() != now.date():
        return with_weekday
    if (now + timedelta(minutes=2)).date() != now.date():
        return f"(?:{time_only}|{with_weekday})"
    return time_only


def _sitter_rows(patient_id, slot: str):
    with Session(engine) as db:
        return db.exec(select(CheckIn).where(CheckIn.patient_id == patient_id,
                                             CheckIn.slot == slot)).all()


def _sitter_ready_offline_at_a_session(new_context, patient, sitter):
    """A dose 20 minutes ago; the sitter's phone on its session page, kept for offline use."""
    now = utcnow()
    with Session(engine) as db:
        doses.record_dose(db, patient=db.get(type(patient), patient.id), dose_id=uuid.uuid4(),
                          recorded_at=now, data={
                              "taken_at": (now - timedelta(minutes=20)).isoformat(),
                              "dose_mg": "100", "route": "sublingual",
                              "no_gate_reason": "Cuff battery flat."}, now=now)
        db.commit()
    context: BrowserContext = new_context()
    phone = context.new_page()
    sign_in(phone, sitter.email, factories.PASSWORD, lands_on=ANY_PAGE)
    phone.goto(f"/supporting/{patient.id}/session")
    until(phone, "navigator.serviceWorker.controller !== null")
    expect(phone.locator("html[data-offline-ready]")).to_have_count(1)
    return context, phone


def _yes(page: Page, legend: str) -> None:
    page.get_by_role("group", name=legend).get_by_label("Yes", exact=True).check()


def test_a_supervised_session_on_the_sitters_phone(new_context, people):
    patient, sitter = people
    context: BrowserContext = new_context()
    phone = context.new_page()
    sign_in(phone, sitter.email, factories.PASSWORD, lands_on=ANY_PAGE)

    # Before the dose: the sitter co-signs the checklist from their own account.
    phone.get_by_role("link", name="Open the session").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Robin Patient's session")
    phone.get_by_role("link", name="Co-sign the pre-dose checklist").click()
    for legend in ("I am with them and will stay for the whole session",
                   "Their blood pressure was taken just now",
                   "They are somewhere safe and comfortable to sit or lie down",
                   "They will not drive or operate machinery until tomorrow"):
        _yes(phone, legend)
    phone.get_by_role("button", name="Save").click()
    expect(phone.get_by_role("status").filter(has_text="Checklist co-signed by Sam Sitter")
           ).to_be_visible()

    # The patient's own phone: their safety check shows the sitter confirmed.
    patient_phone = new_context().new_page()
    sign_in(patient_phone, patient.email, factories.PASSWORD, lands_on=ANY_PAGE)
    expect(patient_phone.get_by_text("Sitter confirmed")).to_be_visible()
    expect(patient_phone.get_by_text("Sam Sitter co-signed the checklist")).to_be_visible()
    patient_phone.context.close()

    # Twenty minutes pass: the patient's gate (18 minutes ago) and dose (16), as their phone
    # would have sent them.
    now = utcnow()
    with Session(engine) as db:
        (check,) = db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id,
                                                 CheckIn.slot == "sitter_check")).all()
        check.recorded_at = now - timedelta(minutes=20)
        db.add(check)
        db.flush()
        gate = doses.record_gate(db, patient=db.get(type(patient), patient.id),
                                 gate_id=uuid.uuid4(), checked_at=now - timedelta(minutes=18),
                                 data=factories.gate_data(), now=now)
        doses.record_dose(db, patient=db.get(type(patient), patient.id), dose_id=uuid.uuid4(),
                          recorded_at=now, data={
                              "taken_at": (now - timedelta(minutes=16)).isoformat(),
                              "dose_mg": "100", "route": "sublingual",
                              "gate_id": str(gate.id)}, now=now)
        db.commit()
        assert db.get(GateCheck, gate.id).sitter_check_id is not None

    # During: the timer and the prompt to observe now.
    phone.reload()
    expect(phone.get_by_role("heading", name="Session under way")).to_be_visible()
    expect(phone.get_by_text("Now: Observation (+15 minutes).")).to_be_visible()
    expect(phone.locator("[data-elapsed-since]")).to_have_text("16 minutes since the dose")
    expect(phone.locator(".session-timer")).to_have_text(re.compile(
        rf"^Dose taken {_when_taken(now - timedelta(minutes=16), now)}\. 100 mg\. "
        r"16 minutes since the dose$"))

    # The signal goes: the sitter's observations wait on the phone.
    until(phone, "navigator.serviceWorker.controller !== null")
    expect(phone.locator("html[data-offline-ready]")).to_have_count(1)
    context.set_offline(True)
    phone.get_by_role("link", name="Record an observation").first.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Record an observation")
    phone.get_by_role("group", name="Sedation").get_by_label(
        "Drowsy, but responds to their name in a normal voice").check()
    phone.get_by_role("group", name="Feeling detached").get_by_label("6", exact=True).check()
    phone.get_by_role("button", name="Save").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Robin Patient's session")
    expect(phone.locator("header [data-outbox-count]")).to_have_text("1")

    # Hard to rouse: the emergency guidance at once, without waiting for a signal.
    phone.get_by_role("link", name="Record an observation").first.click()
    phone.get_by_role("group", name="Sedation").get_by_label(
        "Hard to rouse: responds only to a light shake, or not at all").check()
    phone.get_by_role("button", name="Save").click()
    guidance = phone.get_by_role("alert").filter(has_text="This is an emergency")
    expect(guidance).to_be_visible()
    expect(guidance.get_by_text("recovery position")).to_be_visible()
    expect(guidance.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    expect(phone.locator("header [data-outbox-count]")).to_have_text("2")
    assert _sitter_rows(patient.id, "observe") == []

    # Back online: both arrive once, from the sitter's account, in the patient's session.
    context.set_offline(False)
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    expect(phone.locator("header [data-outbox-count]")).to_be_hidden(timeout=FLUSH_MS)
    rows = _until(lambda: (r := _sitter_rows(patient.id, "observe")) and len(r) == 2 and r)
    assert {r.author_id for r in rows} == {sitter.id}
    assert sorted(r.values.get("sedation") for r in rows) == [1, 3]
    assert all(r.dose_id is not None for r in rows)
    with Session(engine) as db:
        assert db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == patient.id,
                                                 SafetyEvent.kind == "hard_to_rouse")).one()
    phone.goto(f"/supporting/{patient.id}/session")
    expect(phone.get_by_role("alert").filter(has_text="Your last observation was an emergency")
           ).to_be_visible()


def test_hard_to_rouse_before_the_dose_is_logged_offline_is_kept_and_sent(new_context, people):
    """The patient took the troche and has not logged it; the sitter's phone has no signal. The
    guidance shows at once, and once the signal is back the server keeps the entry (it used to
    refuse it for want of a dose, and the phone showed it refused): event and alert raised."""
    patient, sitter = people
    context: BrowserContext = new_context()
    phone = context.new_page()
    sign_in(phone, sitter.email, factories.PASSWORD, lands_on=ANY_PAGE)
    phone.goto(f"/supporting/{patient.id}/session")
    expect(phone.get_by_role("heading", name="Before the dose")).to_be_visible()
    until(phone, "navigator.serviceWorker.controller !== null")
    expect(phone.locator("html[data-offline-ready]")).to_have_count(1)

    context.set_offline(True)
    phone.get_by_role("link", name="Record an observation now").click()
    expect(phone.get_by_text("What you record is saved now, with the time")).to_be_visible()
    phone.get_by_role("group", name="Sedation").get_by_label(
        "Hard to rouse: responds only to a light shake, or not at all").check()
    phone.get_by_role("button", name="Save").click()
    guidance = phone.get_by_role("alert").filter(has_text="This is an emergency")
    expect(guidance).to_be_visible()
    expect(guidance.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    expect(phone.locator("header [data-outbox-count]")).to_have_text("1")

    context.set_offline(False)
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    expect(phone.locator("header [data-outbox-count]")).to_be_hidden(timeout=FLUSH_MS)
    expect(phone.locator("[data-outbox] .outbox-rejected")).to_have_count(0)
    (row,) = _until(lambda: _sitter_rows(patient.id, "observe"))
    assert row.author_id == sitter.id and row.dose_id is None and row.values["sedation"] == 3
    with Session(engine) as db:
        assert db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == patient.id,
                                                 SafetyEvent.kind == "hard_to_rouse")).one()
    phone.goto(f"/supporting/{patient.id}/session")
    expect(phone.get_by_role("alert").filter(has_text="Your last observation was an emergency")
           ).to_be_visible()
    expect(phone.get_by_role("heading", name="Recorded before the dose was logged")
           ).to_be_visible()


def test_a_removed_sitters_queued_observation_is_shown_rejected_with_the_reason(new_context,
                                                                               people):
    patient, sitter = people
    context, phone = _sitter_ready_offline_at_a_session(new_context, patient, sitter)
    context.set_offline(True)
    phone.get_by_role("link", name="Record an observation").first.click()
    phone.get_by_role("group", name="Sedation").get_by_label(
        "Responds normally when you say their name").check()
    phone.get_by_role("button", name="Save").click()
    expect(phone.locator("header [data-outbox-count]")).to_have_text("1")

    # Meanwhile the patient removes the sitter from their care team.
    from app.careteam import service as careteam
    from app.careteam.models import CareLink

    with Session(engine) as db:
        link = db.exec(select(CareLink).where(CareLink.member_id == sitter.id)).one()
        careteam.remove_caregiver(db, patient=db.get(type(patient), patient.id),
                                  link_id=link.id, now=utcnow())
        db.commit()

    context.set_offline(False)
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    rejected = phone.locator("[data-outbox] .outbox-rejected")
    expect(rejected).to_contain_text("you are no longer a sitter for this person",
                                     timeout=FLUSH_MS)
    expect(phone.locator("header [data-outbox-count]")).to_have_text("1")  # not lost
    assert _sitter_rows(patient.id, "observe") == []


def test_the_signal_dropping_does_not_move_the_page_under_the_sitters_finger(new_context,
                                                                             people):
    """The offline banner appears over the page's end, resting on the menu bar: the button the
    sitter is about to tap stays where it was (a page pushed down mid-tap sends the tap to
    whatever was above it), the menu stays uncovered, and the end of the page still scrolls
    clear of the banner."""
    patient, sitter = people
    context, phone = _sitter_ready_offline_at_a_session(new_context, patient, sitter)
    button = phone.get_by_role("link", name="Record an observation").first
    before = button.bounding_box()

    context.set_offline(True)
    banner = phone.locator("[data-offline-banner]")
    expect(banner).to_be_visible()
    assert button.bounding_box() == before
    menu = phone.get_by_role("navigation", name="Main").bounding_box()
    rests = banner.bounding_box()
    assert abs(rests["y"] + rests["height"] - menu["y"]) < 1, (rests, menu)

    phone.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    end = phone.locator("main").bounding_box()
    rests = banner.bounding_box()
    assert end["y"] + end["height"] <= rests["y"], (end, rests)
    assert a11y.serious_violations(phone) == []


def test_a_person_new_on_the_sitters_list_is_kept_for_offline_at_once(new_context, people):
    """The sitter's phone keeps each person's session pages. Someone who adds the sitter to
    their care team a minute after sign-in is kept at the next page load, not minutes later."""
    _patient, sitter = people
    context: BrowserContext = new_context()
    phone = context.new_page()
    sign_in(phone, sitter.email, factories.PASSWORD, lands_on=ANY_PAGE)
    until(phone, "navigator.serviceWorker.controller !== null")
    expect(phone.locator("html[data-offline-ready]")).to_have_count(1)

    with Session(engine, expire_on_commit=False) as db:
        prescriber = factories.user(db, role=Role.PRESCRIBER)
        second = factories.user(db, role=Role.PATIENT, timezone="UTC", display_name="Kim Second")
        factories.link(db, second, prescriber)
        factories.link(db, second, sitter, scope="supervision")
        protocols.save(db, prescriber=prescriber, patient_id=second.id, version_id=uuid.uuid4(),
                       now=utcnow() - timedelta(days=2),
                       values=factories.protocol_values(**factories.session_now_protocol(second)))
        db.commit()
    phone.goto("/supporting")
    expect(phone.get_by_role("link", name="Kim Second")).to_be_visible()
    expect(phone.locator("html[data-offline-ready]")).to_have_count(1)

    # No signal: Kim's page and session come from the phone.
    context.set_offline(True)
    phone.get_by_role("link", name="Kim Second").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Kim Second")
    phone.get_by_role("link", name="Open the session: checklist, timer and observations").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Kim Second's session")


def test_a_page_the_server_could_not_give_is_asked_again_before_ready_offline(
        new_context, people, monkeypatch):
    """The server is busy the first two times the phone asks for the observation form (the
    sign-in's warm-up and the session page's): the page is not called ready offline until it
    has asked again (a few seconds later) and kept the form."""
    patient, sitter = people
    from app.supervision import routes
    from app.web.admission import Busy

    real = routes._slot_or_404
    asked: list[str] = []

    def busy_the_first_time(slot_key):
        if slot_key == "observe":
            asked.append(slot_key)
            if len(asked) <= 2:
                raise Busy()  # answered 503 + Retry-After, as under load
        return real(slot_key)

    monkeypatch.setattr(routes, "_slot_or_404", busy_the_first_time)
    context: BrowserContext = new_context()
    phone = context.new_page()
    sign_in(phone, sitter.email, factories.PASSWORD, lands_on=ANY_PAGE)
    phone.goto(f"/supporting/{patient.id}/session")
    until(phone, "navigator.serviceWorker.controller !== null")
    expect(phone.locator("html[data-offline-ready]")).to_have_count(1, timeout=30_000)
    assert len(asked) >= 3, asked

    context.set_offline(True)
    phone.get_by_role("link", name="Record an observation").first.click()
    expect(phone.get_by_role("group", name="Sedation")).to_be_visible()
