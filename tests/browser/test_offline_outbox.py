"""Offline on a phone: navigation still leads somewhere, entries wait in the outbox with a
visible count, survive a reload, and arrive exactly once when the signal returns."""

import email.utils
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, col, delete, select

from app import i18n
from app.accounts.models import AuthSession, Role, User
from app.checkins import service as checkins
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.db import engine, utcnow
from app.doses import reasons
from app.doses import service as doses
from app.doses.models import Dose, GateCheck, LedgerEntry
from app.doses.routes import parse_local
from app.doses.rules import EMERGENCY_RECHECK_WAIT
from app.protocols import service as protocols
from app.templating import local_input
from app.web import formats
from tests import factories
from tests.browser.waiting import under_the_service_worker
from tests.web.page_checks import page_problems

pytestmark = pytest.mark.browser
# Sending the outbox is a few requests; on a loaded 2-core CI machine give it time.
FLUSH_MS = 20_000
# Every patient's prescriber here has a number: the offline hold shows "Call my clinic" too.
CLINIC_PHONE = "+1 555 010 2000"


@pytest.fixture
def patient(new_patient):
    # Shadows tests/conftest.py's `patient` (signed in on a TestClient, no use in a browser).
    return new_patient(clinic_phone=CLINIC_PHONE)


# The line under "Safety check passed": "You can take your dose now" at a session, "within your
# plan's limits" for an extra dose (these patients' session is 6 hours away).
PASSED_LINE = re.compile(r"You can take your dose now|within your plan's limits")


def _recorded_dose(patient: User, *, hours_ago: float, reason: str = "Logged later.") -> Dose:
    """A dose the server already holds (logged on another phone, or at the clinic)."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        dose = doses.record_dose(db, patient=db.get(User, patient.id), dose_id=uuid.uuid4(),
                                 recorded_at=now, data={
                                     "taken_at": (now - timedelta(hours=hours_ago)).isoformat(),
                                     "dose_mg": "100", "route": "sublingual",
                                     "no_gate_reason": reason}, now=now)
        db.commit()
    return dose


def _ready_offline(context: BrowserContext, page: Page, email: str) -> None:
    """Sign in, let the service worker take control and warm its cache, then cut the signal."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    under_the_service_worker(page)
    # The service worker says when its offline copies of the pages are in place.
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    context.set_offline(True)


# The safety check's labels and button, as a patient reads them in each language.
GATE_WORDS = {"en": ("Upper (systolic)", "Lower (diastolic)", "Pulse", "Check"),
              "es": ("Alta (sistólica)", "Baja (diastólica)", "Pulso", "Comprobar")}


def _safety_check(page: Page, systolic: str, diastolic: str, pulse: str, *,
                  all_ticked: bool = True, language: str = "en") -> None:
    upper, lower, pulse_label, button = GATE_WORDS[language]
    page.goto("/today")
    page.get_by_label(upper).fill(systolic)
    page.get_by_label(lower).fill(diastolic)
    page.get_by_label(pulse_label).fill(pulse)
    if all_ticked:
        for box in page.locator(".gate-form input[type=checkbox]").all():
            box.check()
    page.get_by_role("button", name=button).click()


def _back_online(context: BrowserContext, page: Page) -> None:
    """The signal returns: everything on the phone is sent and the count goes away."""
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)


def _count(page: Page):
    return page.locator("header [data-outbox-count]")


def _until(condition, timeout: float = FLUSH_MS / 1000):
    """Poll the database from Python (the app's CSP stops Playwright's string polling)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


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


def _phq9_with_item9_above_0(page: Page) -> None:
    """A PHQ-9 with "Several days" on item 9 only: it goes straight on to the screener."""
    page.goto("/questionnaires/phq9")
    for n in range(1, 9):
        page.locator(f"#item-q{n}").get_by_label("Not at all", exact=True).check()
    page.locator("#item-q9").get_by_label("Several days", exact=True).check()
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/questionnaires/cssrs$"))


def test_offline_entries_wait_in_the_outbox_and_arrive_once(context, page: Page, patient):
    _ready_offline(context, page, patient.email)

    # Offline, the menu still works (a boosted fetch would fail silently) and says so.
    page.get_by_role("link", name="Check-ins").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check-ins")
    expect(page.locator("[data-offline-banner]")).to_be_visible()
    page.get_by_role("link", name="Need help now?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Help now")
    expect(page.get_by_text("Blood pressure with the upper number 180 or more")).to_be_visible()

    page.goto("/checkins/daily")
    page.get_by_role("button", name="6", exact=True).click()  # mood in one tap
    expect(page.get_by_role("status").filter(has_text="Saved on this phone")).to_be_visible()
    expect(_count(page)).to_have_text("1")

    # A PHQ-9 with item 9 above 0 goes straight on to the screener, offline too; the
    # screener's answers lead to the crisis resources at once.
    _phq9_with_item9_above_0(page)
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
    # Listed at the time it was taken, as Today's card names it, not when it was written down.
    card = page.locator(".session-card [data-dose-on-phone]")
    expect(card).to_have_text(re.compile(r"^A dose taken .+ is saved on this phone"))
    taken = re.search(r"A dose taken (.+) is saved", card.inner_text()).group(1)
    expect(page.locator("[data-outbox] [data-outbox-item]").filter(
        has_text=re.compile(r"^Dose · "))).to_contain_text(f"Dose · {taken}")
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
    _back_online(context, page)
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


def _offline_dose_the_server_refuses(context: BrowserContext, page: Page, patient) -> None:
    """Offline, a late dose of 1100 mg: the browser allows it, the server will not."""
    _ready_offline(context, page, patient.email)
    page.goto("/today")
    page.get_by_text("Log a dose you took earlier").click()
    page.get_by_label("Why was there no safety check before this dose?").fill("Forgot.")
    page.locator("#dose_mg-late").fill("1100")
    page.locator("form.dose-form").last.get_by_role("button", name="Log dose").click()


def test_a_rejected_entry_stays_visible_with_its_reason(context, page: Page, patient,
                                                        console_errors):
    _offline_dose_the_server_refuses(context, page, patient)
    expect(_count(page)).to_have_text("1")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    rejected = page.locator("[data-outbox] .outbox-rejected")
    expect(rejected).to_contain_text("That is more than 10 troches: check the amount.")
    assert page_problems(page.content()) == []
    expect(_count(page)).to_have_text("1")  # not lost
    # First on the page, under the notices, where it is seen; not below the reminders card.
    assert page.evaluate("""() => {
      const notices = document.querySelector("[data-outbox-notices]");
      return notices.nextElementSibling === document.querySelector("[data-outbox]");
    }""")
    # Its two choices apart: neither touches the other (measured together, in one step: the
    # list is drawn again whenever the outbox changes).
    expect(rejected.get_by_role("button", name="Discard")).to_be_visible()
    assert page.evaluate("""() => {
      const item = document.querySelector("[data-outbox] .outbox-rejected");
      const [again, discard] = ["Send again", "Discard"].map((name) =>
        [...item.querySelectorAll("button")].find((b) => b.textContent === name)
          .getBoundingClientRect());
      return again.right + 4 <= discard.left || again.bottom + 4 <= discard.top;
    }""")
    assert _rows(patient.id)["doses"] == []

    page.once("dialog", lambda dialog: dialog.accept())
    rejected.get_by_role("button", name="Discard").click()
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)


def test_the_kept_note_follows_the_outbox_when_another_flush_sent_it(context, page: Page,
                                                                      patient, console_errors):
    """The service worker's Background Sync sent the dose and the server refused it; the page's
    own flush then found nothing to report, and the top of Today went on saying "Dose saved on
    this phone, not yet sent. It will be sent when you are back online" above the refusal."""
    _offline_dose_the_server_refuses(context, page, patient)
    note = page.locator("#offline-saved")
    expect(note).to_contain_text("Dose saved on this phone, not yet sent.")

    context.set_offline(False)
    # The flush the service worker runs (the same outbox code), not this page's own.
    page.evaluate("TrocheOutbox.flush()")
    expect(page.locator("[data-outbox] .outbox-rejected")).to_contain_text(
        "That is more than 10 troches")
    expect(note).to_have_text("Some entries were not accepted. See them below, with the reason.")
    assert _rows(patient.id)["doses"] == []


def test_a_session_dose_kept_on_the_phone_shows_the_session_taken(context, page: Page,
                                                                   new_patient):
    """After a dose taken offline at a due session, Today's card still read "Due now" and
    "Last dose: <three days ago>" above the safety check, as if the session waited."""
    patient = new_patient(clinic_phone=CLINIC_PHONE, session_in_hours=0.5)
    _recorded_dose(patient, hours_ago=72)
    _ready_offline(context, page, patient.email)
    badge = page.locator(".session-card .session-when .state")
    last = page.locator(".session-card [data-last-dose]")
    expect(badge).to_have_text("Due now")
    expect(last).to_be_visible()

    _safety_check(page, "128", "82", "72")
    expect(_count(page)).to_have_text("1")  # the check
    page.locator("#gate-result").get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("2")  # and the dose
    expect(page.locator("#offline-saved")).to_be_focused()
    expect(badge).to_have_text("Taken, not yet sent")
    page.goto("/today")  # and on every later view
    expect(badge).to_have_text("Taken, not yet sent")
    expect(last).to_be_hidden()
    expect(page.locator(".session-card [data-dose-on-phone]")).to_contain_text(
        "is saved on this phone, not yet sent.")

    # Sent: the session is taken, as the server now counts it.
    _back_online(context, page)
    expect(badge).to_have_text("Taken")
    expect(page.locator(".session-card [data-dose-on-phone]")).to_have_count(0)
    page.reload()  # the server's card: on to the next session, this one listed as taken
    expect(badge).to_have_text("Upcoming")
    expect(page.locator(".session-list li").first).to_contain_text("Taken")


def test_a_dose_recorded_on_the_phone_under_a_hold_says_it_was_taken_against_it(
        context, page: Page, new_patient):
    """The card above must not turn a dose taken under a hold into a plain green "Taken"."""
    patient = new_patient(clinic_phone=CLINIC_PHONE, session_in_hours=0.5)
    with Session(engine) as db:
        db.add(SafetyEvent(patient_id=patient.id, kind="positive_screen", level="high",
                           occurred_at=utcnow() - timedelta(hours=1), source_id=uuid.uuid4(),
                           holds_dosing=True))
        db.commit()
    _ready_offline(context, page, patient.email)
    badge = page.locator(".session-card .session-when .state")
    expect(badge).to_have_text("Due, but on hold")

    page.get_by_text("I have already taken a dose: record it").click()
    page.locator("#taken_at-taken").fill(utcnow().strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("What happened, and why").fill("Took it before I saw the hold.")
    page.get_by_label("Why was there no safety check before this dose?").fill("No cuff here.")
    page.get_by_role("button", name="Record the dose I took").click()
    expect(_count(page)).to_have_text("1")
    page.goto("/today")
    expect(badge).to_have_text("Taken against a hold, not yet sent")
    expect(badge).to_have_class("state state-against")

    _back_online(context, page)
    expect(badge).to_have_text("Taken against a hold")
    with Session(engine) as db:
        (dose,) = db.exec(select(Dose).where(Dose.patient_id == patient.id)).all()
        assert "against_hold" in dose.flags


def test_a_copy_shown_offline_long_after_it_was_saved_says_when_it_was_saved(
        context, page: Page, patient):
    """Offline a day and a half later, the saved Today still read "Due now" for the session it
    was saved for, and nothing on the page said how old it was."""
    _ready_offline(context, page, patient.email)
    banner = page.locator("[data-offline-banner]")
    page.goto("/today")  # minutes after it was saved: the banner as ever
    expect(banner).to_have_text(
        "You are offline. Entries are kept on this phone and sent when you are back online.")

    page.clock.install()
    page.clock.fast_forward("36:00:00")
    page.goto("/today")
    with Session(engine) as db:
        kept = db.get(User, patient.id)
    saved = page.evaluate("document.documentElement.getAttribute('data-offline-copy')")
    made = email.utils.parsedate_to_datetime(saved).astimezone(ZoneInfo(kept.timezone))
    expect(banner).to_have_text(
        f"You are offline. This page was saved on this phone on {made:%a %b} {made.day}, "
        f"{made:%-I:%M %p}: what it says (what is due, your last dose) may have changed since. "
        "Entries are kept on this phone and sent when you are back online.")


def test_signed_out_mid_flush_keeps_the_queue_for_the_same_user(context, page: Page, patient,
                                                               console_errors):
    console_errors.expect(r"status of 401")
    _ready_offline(context, page, patient.email)
    page.goto("/checkins/daily")
    page.get_by_role("button", name="4", exact=True).click()  # mood in one tap
    expect(_count(page)).to_have_text("1")

    # The session ends elsewhere (signed out on another device): the flush finds nobody.
    context.set_offline(False)
    context.clear_cookies()
    summary = page.evaluate("window.TrocheOutbox.flush()")
    assert summary["waiting"] is True
    assert _rows(patient.id)["checkins"] == []
    stored = page.evaluate("window.TrocheOutbox.all()")
    assert [i["status"] for i in stored] == ["pending"]


def test_the_offline_gate_gives_the_verdict_and_the_server_judges_again(context, page: Page,
                                                                       patient):
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")

    # The phone's verdict, with the same rules, and the dose form tied to that check.
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    # Judged with the record the phone last had: the verdict says as of when.
    as_of = page.evaluate("""caches.match("/api/v1/today", {ignoreVary: true})
        .then(function (r) { return r.json(); })
        .then(function (body) { return window.TrocheClock.text(body.now, "datetime"); })""")
    assert re.fullmatch(r"\w{3} \w{3} \d{1,2}, \d{1,2}:\d\d [AP]M", as_of), as_of
    expect(verdict).to_contain_text(
        "Checked on this phone while offline, with the rules your prescriber set and your "
        f"record as of {as_of}. It will be checked again when you are back online.")
    expect(verdict).to_be_focused()
    assert page_problems(page.content()) == []  # the form copied in: its ids once, tied
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("2")
    # Today's saved copy cannot know of the dose: the page says it is kept, so the empty
    # safety check below it does not read as "nothing was logged".
    expect(page.locator("#offline-saved")).to_have_text(
        "Dose saved on this phone, not yet sent. It will be sent when you are back online.")
    expect(page.locator("#offline-saved")).to_be_focused()
    # The session card, drawn before the dose, says so too, on this and every later view.
    page.goto("/today")
    expect(page.locator(".session-card [data-dose-on-phone]")).to_have_text(re.compile(
        r"^A dose taken \w{3} \d{1,2}:\d\d [AP]M is saved on this phone, not yet sent\.$"))
    # The notice judged before that dose ("… this would be an extra dose") no longer stands.
    expect(page.locator("#extra-notice")).to_be_attached()
    expect(page.locator("#extra-notice")).to_be_hidden()

    # A crisis reading offline: emergency guidance at once, no dose form.
    _safety_check(page, "186", "100", "90", all_ticked=False)
    expect(verdict.get_by_role("heading", name="Do not take your dose")).to_be_visible()
    expect(verdict.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    # The clinic's number beside it, offline as online.
    expect(verdict.get_by_role("link", name=re.compile("Call my clinic"))).to_have_attribute(
        "href", "tel:+15550102000")
    expect(verdict.locator("form")).to_have_count(0)
    # Each reason in the server's own sentence, its numbers filled in on the phone.
    expect(verdict).to_contain_text(
        "Blood pressure 186/100 is at a dangerous level (180/120 or above).")
    expect(verdict).to_contain_text(re.compile(
        r"Too soon: doses must be at least 48 hours apart\. Next allowed: \w{3} \w{3} \d{1,2}, "
        r"\d{1,2}:\d\d [AP]M\."))  # as the server writes it (app/web/formats.py "datetime")
    expect(verdict).to_contain_text(
        "You have not confirmed that you have gone without food for as long as your plan asks. "
        "Wait until you have, then check again. You have not confirmed that you have had no "
        "alcohol, benzodiazepines or other sedatives for as long as your plan asks.")
    expect(verdict).to_contain_text(
        "Make plans so you do not have to, then check again. You have not confirmed that you "
        "are somewhere safe to sit or lie down. Go somewhere safe, then check again.")
    expect(verdict).not_to_contain_text("{")
    # The lockout it starts, and a way to measure again, as online (they were missing).
    expect(verdict).to_contain_text(
        "Dosing stays on hold for 24 hours after this reading, whatever later readings show.")
    expect(_count(page)).to_have_text("3")
    # Measuring again at once is refused, as the server would: rest 5 minutes first.
    verdict.get_by_role("button", name="Measure again (after resting 5 minutes)").click()
    expect(page.get_by_label("Upper (systolic)")).to_be_focused()
    # A new check, not the crisis reading again: its numbers were left in the fields.
    expect(page.get_by_label("Upper (systolic)")).to_have_value("")
    expect(page.get_by_label("Lower (diastolic)")).to_have_value("")
    page.get_by_label("Upper (systolic)").fill("150")
    page.get_by_label("Lower (diastolic)").fill("90")
    page.get_by_label("Pulse").fill("80")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_text("Rest for 5 minutes after a dangerous reading")).to_be_visible()
    expect(_count(page)).to_have_text("3")

    _back_online(context, page)
    with Session(engine) as db:
        gates = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)
                        .order_by(GateCheck.checked_at)).all()
        assert [g.verdict for g in gates] == ["ok", "emergency"]
        (dose,) = db.exec(select(Dose).where(Dose.patient_id == patient.id)).all()
        assert dose.gate_id == gates[0].id and dose.flags == ["extra"]


def test_the_extra_dose_notice_stays_hidden_once_the_dose_on_the_phone_is_sent(
        context, page: Page, patient):
    """Hidden while an offline dose waited, "… this would be an extra dose" came back the
    moment the outbox emptied, on the same saved page, above an empty safety check (a phone
    tester)."""
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    expect(_count(page)).to_have_text("1")  # the check
    page.locator("#gate-result").get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("2")  # and the dose
    expect(page.locator("#offline-saved")).to_be_focused()
    page.goto("/today")
    notice = page.locator("#extra-notice")
    expect(notice).to_be_attached()
    expect(notice).to_be_hidden()
    _back_online(context, page)
    expect(page.locator("#offline-saved, [role=status]").filter(
        has_text="Everything on this phone has been sent")).to_be_visible()
    expect(notice).to_be_attached()
    expect(notice).to_be_hidden()


def test_a_dose_sent_from_the_outbox_still_counts_offline_until_a_newer_snapshot(
        context, page: Page, patient):
    """The outbox lets a dose go once the server accepts it; the phone's snapshot of Today is
    older than that dose until the next warm-up. Signal for a moment, then none: the dose that
    left the outbox must still hold the next check on the phone, as the server would."""
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("2")
    # The 'online' event sends the outbox; no page load, so no fresh snapshot.
    _back_online(context, page)
    _until(lambda: len(_rows(patient.id)["doses"]) == 1)
    context.set_offline(True)
    # Kept with the server's time after it committed them (not its Date header, to the second
    # and up to a second stale: a snapshot made before the commit could pass for a later one).
    (dose,) = _rows(patient.id)["doses"]
    kept = page.evaluate("""async () => {
      const all = await window.TrocheOutbox.sent(document.querySelector('.page').dataset.user);
      return all.map((item) => item.answered_at);
    }""")
    assert len(kept) == 2 and all(datetime.fromisoformat(at) > dose.received_at for at in kept)

    _safety_check(page, "128", "82", "72")
    expect(verdict.get_by_role("heading", name="Hold: it is not safe to dose right now")
           ).to_be_visible()
    expect(verdict).to_contain_text("Too soon: doses must be at least 48 hours apart.")
    expect(verdict.get_by_role("button", name="Log dose")).to_have_count(0)

    # With signal, a page load brings a snapshot made after the dose, which has it: the phone
    # lets its own note of the dose go.
    _back_online(context, page)
    page.wait_for_timeout(1100)  # past the second allowed for two servers' clocks
    page.goto("/today")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    assert page.evaluate("""async () => {
      const all = await window.TrocheOutbox.sent(document.querySelector('.page').dataset.user);
      return all.length;
    }""") == 0


def _answer(page: Page, item: str, label: str) -> None:
    page.locator(f"#item-{item}").get_by_label(label, exact=True).check()


def test_a_high_risk_screen_made_offline_holds_the_offline_check_as_the_server_would(
        context, page: Page, patient):
    """A C-SSRS with intent holds dosing until a prescriber reviews it (server side); on the
    phone, the screen still in the outbox must hold the next offline check the same way."""
    _ready_offline(context, page, patient.email)
    page.goto("/questionnaires/cssrs")
    for item, answer in (("q1", "Yes"), ("q2", "Yes"), ("q3", "No"), ("q4", "Yes"),
                         ("q5", "No"), ("q6", "No")):
        _answer(page, item, answer)
    page.get_by_role("button", name="Submit").click()
    expect(_count(page)).to_have_text("1")

    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Hold: it is not safe to dose right now")
           ).to_be_visible()
    expect(verdict).to_contain_text(reasons.text({"code": "safety_review", "params": {}}, "UTC"))
    expect(verdict.get_by_role("button", name="Log dose")).to_have_count(0)
    expect(verdict.get_by_role("link", name=re.compile("Call 988"))).to_be_visible()

    _back_online(context, page)
    with Session(engine) as db:
        (gate,) = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)).all()
        assert gate.verdict == "hold" and [r["code"] for r in gate.reasons] == ["safety_review"]
        # The phone and the server agree: no disagreement for the prescriber to look at.
        assert not db.exec(select(SafetyEvent).where(
            SafetyEvent.patient_id == patient.id,
            SafetyEvent.kind == "offline_gate_disagreed")).all()


def test_an_item9_answer_made_offline_holds_until_its_screener_as_the_server_would(
        context, page: Page, patient):
    """A PHQ-9 with item 9 above 0 holds dosing until the screener after it is answered
    (server side); on the phone, the answer still in the outbox holds the next offline check,
    and the screener answered after it lifts the hold, as the server will."""
    _ready_offline(context, page, patient.email)
    _phq9_with_item9_above_0(page)
    expect(_count(page)).to_have_text("1")

    # The screener is left for later: the check holds, and says why.
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Hold: it is not safe to dose right now")
           ).to_be_visible()
    expect(verdict).to_contain_text(
        reasons.text({"code": "screener_pending", "params": {}}, "UTC"))
    expect(verdict.get_by_role("button", name="Log dose")).to_have_count(0)
    # With the crisis resources, offline too, and the way to end the hold beside it.
    expect(verdict.get_by_role("link", name=re.compile("Call 988"))).to_be_visible()
    verdict.get_by_role("link", name="Answer the safety questions").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("C-SSRS")
    for item in ("q1", "q2", "q6"):
        _answer(page, item, "No")
    page.get_by_role("button", name="Submit").click()
    expect(_count(page)).to_have_text("3")
    _safety_check(page, "128", "82", "72")
    expect(page.locator("#gate-result").get_by_role("heading", name="Safety check passed")
           ).to_be_visible()

    _back_online(context, page)
    with Session(engine) as db:
        gates = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)
                        .order_by(col(GateCheck.checked_at))).all()
        assert [(g.verdict, [r["code"] for r in g.reasons]) for g in gates] == [
            ("hold", ["screener_pending"]), ("ok", [])]
        # The phone and the server agree both times.
        assert not db.exec(select(SafetyEvent).where(
            SafetyEvent.patient_id == patient.id,
            SafetyEvent.kind == "offline_gate_disagreed")).all()


def test_a_screener_answered_offline_ends_todays_hold_for_it_on_the_phone(context, page: Page,
                                                                          patient):
    """Last evening's PHQ-9 item 9 answer holds Today until the screener; answered offline
    (low risk), Today kept saying the questions were unfinished, with no safety check to do,
    and answering again stored a second screener. Now Today offers the check, which passes."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        checkins.record_questionnaire(
            db, patient=db.get(User, patient.id), response_id=uuid.uuid4(),
            completed_at=now - timedelta(hours=12),
            data={"instrument": "phq9", "answers": [0] * 8 + [1]}, now=now)
        # A session due now, so the badge has a hold to speak of.
        prescriber = db.exec(select(User).where(User.role == Role.PRESCRIBER)
                             .order_by(col(User.created_at).desc())).first()
        protocols.save(db, prescriber=prescriber, patient_id=patient.id, version_id=uuid.uuid4(),
                       now=now - timedelta(days=1), values=factories.protocol_values(
                           **factories.session_now_protocol(patient)))
        db.commit()
    _ready_offline(context, page, patient.email)
    page.goto("/today")
    expect(page.get_by_text("Your safety questions are not finished", exact=True)).to_be_visible()
    expect(page.locator("#gate-result").get_by_role("heading", name="Dosing is on hold")
           ).to_be_visible()
    expect(page.get_by_text("Due, but on hold")).to_be_visible()
    page.get_by_role("link", name="Answer the safety questions").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("C-SSRS")
    _answer(page, "q1", "Yes")
    for item in ("q2", "q6"):
        _answer(page, item, "No")
    page.get_by_role("button", name="Submit").click()
    expect(_count(page)).to_have_text("1")
    # The form again (Back, a saved link): a tester answered twice and two were stored. The
    # page says it is answered; answering again stays possible.
    page.goto("/questionnaires/cssrs")
    expect(page.locator("[data-answered-here]")).to_have_text(re.compile(
        r"^You answered these questions on this phone at \w{3} \d{1,2}:\d\d [AP]M\. They "
        r"will be sent when you have a signal; there is no need to answer again\.$"))
    expect(page.get_by_role("button", name="Submit")).to_be_visible()
    page.goto("/today")
    expect(page.get_by_text("Your safety questions are not finished", exact=True)).to_have_count(0)
    expect(page.get_by_text("Dosing is on hold")).to_have_count(0)
    # Nor does the session's badge say it (it read "Due, but on hold" above the check).
    expect(page.get_by_text("Due, but on hold")).to_have_count(0)
    expect(page.get_by_role("link", name="Answer the safety questions")).to_have_count(0)
    _safety_check(page, "128", "82", "72")
    expect(page.locator("#gate-result").get_by_role("heading", name="Safety check passed")
           ).to_be_visible()
    _back_online(context, page)
    assert sorted(q.instrument for q in _rows(patient.id)["questionnaires"]) == [
        "cssrs", "phq9"]


def test_a_crisis_reading_in_an_offline_check_in_starts_the_rest_and_lockout_on_the_phone(
        context, page: Page, patient):
    # A short interval: only the crisis reading can hold the next check.
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        prescriber = db.exec(select(User).where(User.role == Role.PRESCRIBER)
                             .order_by(col(User.created_at).desc())).first()
        protocols.save(db, prescriber=prescriber, patient_id=patient.id, version_id=uuid.uuid4(),
                       now=now - timedelta(days=1), values=factories.protocol_values(
                           **factories.session_now_protocol(patient, hours_from_now=6),
                           min_hours_between_doses="2"))
        db.commit()
    dose = _recorded_dose(patient, hours_ago=3, reason="At the clinic.")
    _ready_offline(context, page, patient.email)
    page.goto(f"/checkins/plus40?dose={dose.id}")
    page.get_by_label("Blood pressure, upper (systolic)").fill("186")
    page.get_by_label("Blood pressure, lower (diastolic)").fill("100")
    page.get_by_role("button", name="Save check-in").click()
    expect(_count(page)).to_have_text("1")

    _safety_check(page, "128", "82", "72")
    expect(page.get_by_text("Rest for 5 minutes after a dangerous reading")).to_be_visible()
    expect(page.locator("#gate-result").get_by_role("button", name="Log dose")).to_have_count(0)
    expect(_count(page)).to_have_text("1")  # nothing saved: the server would refuse it too


def test_an_offline_check_in_before_it_opens_is_refused_on_the_phone(context, page: Page,
                                                                     patient):
    """The +40 recheck's form said it opens 35 minutes after the dose and that nothing entered
    before then is saved; offline it was "saved on this phone" at once, then refused when
    sent, and the reading was lost. The phone says it now, and keeps nothing."""
    dose = _recorded_dose(patient, hours_ago=0.05, reason="At home.")
    page.goto("/login")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.goto(f"/checkins/plus40?dose={dose.id}")
    expect(page.locator("#opens-notice")).to_contain_text("opens at")
    context.set_offline(True)
    page.get_by_label("Blood pressure, upper (systolic)").fill("130")
    page.get_by_label("Blood pressure, lower (diastolic)").fill("84")
    page.get_by_role("button", name="Save check-in").click()
    refusal = page.locator("#offline-saved")
    expect(refusal).to_contain_text("The +40 minute recheck opens at")
    expect(refusal).to_contain_text("What you enter before then is not saved.")
    expect(_count(page)).to_be_hidden()
    context.set_offline(False)
    assert _rows(patient.id)["checkins"] == []


def test_an_offline_check_for_an_extra_dose_says_first_which_session_it_pushes_back(
        context, page: Page, patient):
    """The session is 6 hours away and doses are 48 hours apart: online, a check that passes
    says first that this would be an extra dose pushing that session back. Offline, the phone's
    verdict dropped the note."""
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    note = verdict.locator("#extra-notice")
    expect(note).to_contain_text("No session is scheduled now, so this would be an extra dose.")
    assert note.evaluate("(el) => el.compareDocumentPosition(document.querySelector("
                         "'#gate-result form')) & Node.DOCUMENT_POSITION_FOLLOWING")


def test_a_reading_the_server_would_refuse_is_refused_at_the_field_offline(context, page: Page,
                                                                          patient):
    _ready_offline(context, page, patient.email)
    _safety_check(page, "95", "96", "72")
    lower = page.get_by_label("Lower (diastolic)")
    assert lower.evaluate("(el) => el.validationMessage") == (
        "The lower number (diastolic) must be below the upper (systolic).")
    expect(page.locator("#gate-result").get_by_role("heading", name="Safety check passed")
           ).to_have_count(0)
    expect(_count(page)).to_be_hidden()  # nothing saved
    # Corrected, it goes through.
    lower.fill("66")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#gate-result").get_by_role("heading", name="Safety check passed")
           ).to_be_visible()


def test_a_saved_today_never_offers_a_safety_check_a_dose_already_used(context, page: Page,
                                                                        patient):
    """The check passed online and Today was kept with its dose form. Once a dose used that
    check (logged offline from the page, or online), the kept Today must not say 'You can take
    your dose now' again: it shows the safety check to do again."""
    verdict = page.locator("#gate-result")
    _ready_offline(context, page, patient.email)
    context.set_offline(False)
    _safety_check(page, "128", "82", "72")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    page.goto("/today")  # a navigation: the service worker keeps this copy
    expect(page.get_by_text(PASSED_LINE)).to_be_visible()

    context.set_offline(True)
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")  # the kept copy
    expect(verdict.get_by_role("heading", name="Before you dose: safety check")).to_be_visible()
    expect(page.get_by_text(PASSED_LINE)).to_have_count(0)
    expect(verdict.get_by_role("button", name="Log dose")).to_have_count(0)
    # Checking again on the phone counts the dose just logged: a hold, not a second OK.
    page.get_by_label("Upper (systolic)").fill("128")
    page.get_by_label("Lower (diastolic)").fill("82")
    page.get_by_label("Pulse").fill("72")
    for box in page.locator(".gate-form input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Check").click()
    expect(verdict.get_by_role("heading", name="Hold: it is not safe to dose right now")
           ).to_be_visible()



def test_a_saved_today_never_offers_a_check_a_dose_logged_online_used(context, page: Page,
                                                                      patient):
    verdict = page.locator("#gate-result")
    _ready_offline(context, page, patient.email)
    context.set_offline(False)
    _safety_check(page, "128", "82", "72")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    page.goto("/today")
    expect(page.get_by_text(PASSED_LINE)).to_be_visible()
    verdict.get_by_role("button", name="Log dose").click()
    expect(page.get_by_text("Dose logged.")).to_be_visible()
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    _until(lambda: page.evaluate("""async () => {
      const r = await caches.match('/api/v1/today', {ignoreVary: true});
      return !!(r && (await r.json()).last_dose);
    }"""))
    context.set_offline(True)
    page.goto("/today")
    expect(verdict.get_by_role("heading", name="Before you dose: safety check")).to_be_visible()
    expect(page.get_by_text(PASSED_LINE)).to_have_count(0)


@pytest.mark.parametrize("systolic, diastolic, says", [
    ("170", "105", "170/105"),  # at the hold level: the newer check's reading holds it
    # A crisis reading: the form's time is its minute, before the reading, and the lockout was
    # judged at that time alone (the server also judges ten minutes on): "Dose saved on this
    # phone" during a crisis lockout.
    ("190", "82", "dangerous level"),
])
def test_offline_a_newer_check_that_held_holds_a_dose_from_an_older_one(
        context, page: Page, patient, systolic, diastolic, says):
    """Two tabs, no signal: the check passed at 128/82 in the first, then held in the second.
    The first tab's dose was kept ("saved on this phone") and refused once sent; the latest
    reading decides on the phone too, as on the server."""
    verdict = page.locator("#gate-result")
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    other = context.new_page()
    _safety_check(other, systolic, diastolic, "72")
    expect(other.locator("#gate-result").get_by_role("heading", name=re.compile(
        "Hold: it is not safe to dose right now|Do not take your dose"))).to_be_visible()
    verdict.get_by_role("button", name="Log dose").click()
    refusal = page.locator("#offline-saved")
    expect(refusal).to_contain_text("This dose breaks your plan's safety rules:")
    expect(refusal).to_contain_text(says)
    expect(refusal).to_contain_text("Nothing was saved on this phone.")
    # Not "Safety check passed … You can take your dose now" and a Log dose button under the
    # refusal: the check is offered again.
    expect(verdict.get_by_role("heading", name="Before you dose: safety check")).to_be_visible()
    expect(page.get_by_text(PASSED_LINE)).to_have_count(0)
    expect(verdict.get_by_role("button", name="Log dose")).to_have_count(0)
    other.close()
    page.reload()  # the count is this tab's own: read afresh, the two checks and no dose
    expect(_count(page)).to_have_text("2")
    _back_online(context, page)
    assert _rows(patient.id)["doses"] == []


def test_offline_a_dose_amount_over_the_plans_maximum_is_refused_and_nothing_is_kept(
        context, page: Page, patient):
    """The check passed on the phone for the prescribed 100 mg; the patient types 300 mg. The
    server would refuse it (over the 24-hour maximum, never overridable): so does the phone,
    in the server's words, before anything is kept."""
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    expect(_count(page)).to_have_text("1")  # the check
    verdict.locator("input[name=dose_mg]").fill("300")
    verdict.get_by_role("button", name="Log dose").click()
    refusal = page.locator("#offline-saved")
    expect(refusal).to_contain_text("This dose breaks your plan's safety rules:")
    expect(refusal).to_contain_text("Over the 24-hour maximum of 200 mg (this would make 300 mg).")
    expect(refusal).to_contain_text("Nothing was saved on this phone.")
    expect(_count(page)).to_have_text("1")
    # The prescribed amount goes through.
    verdict.locator("input[name=dose_mg]").fill("100")
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("2")


def _passed_online_with_a_dead_spot_ahead(context, page: Page, patient, console_errors):
    """Ready for offline, back online, and the check passed: its section, with the dose form.
    The dead spot ahead makes the browser log failed requests."""
    console_errors.expect(r"ERR_INTERNET_DISCONNECTED|Failed to fetch|net::")
    _ready_offline(context, page, patient.email)
    context.set_offline(False)
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    return verdict


def test_a_write_that_fails_on_the_way_is_kept_on_the_phone_not_lost(context, page: Page,
                                                                     patient, console_errors):
    """Online as far as the phone knows, the dose's request dies on the way (a dead spot): the
    entry is kept in the outbox with its client id and sent once, when it can be."""
    verdict = _passed_online_with_a_dead_spot_ahead(context, page, patient, console_errors)
    # The dead spot lasts a while: the page's sends and the service worker's (Background Sync).
    for path in ("**/today/dose", "**/api/v1/sync"):
        context.route(path, lambda route: route.abort("internetdisconnected"))
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")
    expect(page.locator("#outbox")).to_contain_text("Dose")
    assert _rows(patient.id)["doses"] == []
    for path in ("**/today/dose", "**/api/v1/sync"):
        context.unroute(path)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    _until(lambda: len(_rows(patient.id)["doses"]) == 1)


def test_a_phone_clock_hours_fast_still_gets_the_dose_form_after_a_passed_check(page: Page,
                                                                                patient):
    """The page compared the phone's clock with the server's "valid until": two hours fast,
    every passed check was taken for an expired one and the dose form never showed."""
    page.goto("/login")
    page.clock.set_system_time(datetime.now(UTC) + timedelta(hours=2))
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    page.wait_for_timeout(500)  # the phone's check of it has run
    expect(verdict.get_by_role("button", name="Log dose")).to_be_visible()
    verdict.get_by_role("button", name="Log dose").click()
    expect(page.get_by_text("Dose logged.")).to_be_visible()


@pytest.mark.parametrize("clock_off", [timedelta(0), timedelta(hours=-2)])
def test_a_write_whose_answer_is_lost_is_sent_again_as_the_same_entry(context, page: Page,
                                                                       patient, console_errors,
                                                                       clock_off):
    """The dose reaches the server and the signal goes before the answer comes back: the phone
    keeps it, and its replay is the dose the server holds. It was shown as "not accepted: This
    id was already used for a different entry" (the form and the outbox wrote different times
    and spellings), with Send again and Discard, for a dose recorded once."""
    verdict = _passed_online_with_a_dead_spot_ahead(context, page, patient, console_errors)
    if clock_off:
        # A phone two hours slow: the form's stamp is far from the server's clock, which keeps
        # its own time for the entry; the outbox's copy, with the stamp, is still that entry.
        page.clock.set_system_time(datetime.now(UTC) + clock_off)
    reached = []

    def lost_on_the_way_back(route):
        reached.append(route.fetch().status)  # the server writes it...
        route.abort("internetdisconnected")  # ...and the answer never arrives

    context.route("**/today/dose", lost_on_the_way_back)
    context.route("**/api/v1/sync", lambda route: route.abort("internetdisconnected"))
    page.wait_for_timeout(1500)  # the answer and the dose come a second or two apart
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")
    assert reached and len(_rows(patient.id)["doses"]) == 1
    context.unroute("**/today/dose")
    context.unroute("**/api/v1/sync")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    expect(page.locator("#outbox")).not_to_contain_text("not accepted")
    assert len(_rows(patient.id)["doses"]) == 1


def test_a_time_typed_offline_means_the_same_instant_as_online(new_context, new_patient):
    """A patient in Los Angeles on a phone set to New York logs a dose taken an hour ago
    offline: it is recorded at the time she typed, read in her zone as the server reads the
    same form online (three hours off, before)."""
    patient = new_patient(clinic_phone=CLINIC_PHONE, timezone="America/Los_Angeles")
    context = new_context(timezone_id="America/New_York")
    page = context.new_page()
    _ready_offline(context, page, patient.email)
    intended = (utcnow() - timedelta(hours=1)).replace(second=0, microsecond=0)
    typed = intended.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%dT%H:%M")
    page.goto("/today")
    page.get_by_text("Log a dose you took earlier").click()
    page.get_by_label("Why was there no safety check before this dose?").fill("No cuff.")
    page.locator("#dose_mg-late").fill("100")
    page.locator("#taken_at-late").fill(typed)
    page.locator("form.dose-form").last.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")
    _back_online(context, page)
    (dose,) = _rows(patient.id)["doses"]
    assert dose.taken_at == intended
    assert dose.taken_at == parse_local(typed, "America/Los_Angeles", "taken_at")


# Wall times the way a form sends them, in zones west and east of UTC, with each zone's
# ambiguous autumn hour and its spring gap.
TYPED_TIMES = [
    ("America/Los_Angeles", "2026-12-04T21:15"),
    ("America/New_York", "2026-11-01T01:30"),  # twice that night: the first (EDT)
    ("America/New_York", "2026-03-08T02:30"),  # not that night: moved forward
    ("Europe/Madrid", "2026-10-25T02:30"),
    ("Europe/Madrid", "2026-03-29T02:30"),
    ("Asia/Tokyo", "2026-12-05T08:00"),
    ("Australia/Lord_Howe", "2026-04-05T01:45"),  # a half-hour change
    ("UTC", "2026-12-05T23:59:30"),
]


def test_the_phone_reads_a_typed_time_as_the_server_does_in_every_zone(page: Page, patient):
    page.goto("/login")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    # And back: the field's value the phone writes for an instant is the server's.
    now = utcnow().replace(second=0, microsecond=0)
    assert page.evaluate("(iso) => window.TrocheClock.fieldValue(iso)", now.isoformat()) == \
        local_input(now, patient.timezone)
    for zone, typed in TYPED_TIMES:
        phone = page.evaluate("""([zone, typed]) => {
          const wrapper = document.querySelector('.page[data-clock]');
          const clock = JSON.parse(wrapper.getAttribute('data-clock'));
          clock.zone = zone;
          wrapper.setAttribute('data-clock', JSON.stringify(clock));
          return window.TrocheClock.instant(typed);
        }""", [zone, typed])
        server = parse_local(typed, zone, "taken_at")
        # Instants (an ambiguous wall time never equals another zone's, by Python's rule).
        assert datetime.fromisoformat(phone.replace("Z", "+00:00")).timestamp() == \
            server.timestamp(), (zone, typed, phone, server.astimezone(UTC).isoformat())


def test_a_correction_kept_on_the_phone_counts_in_the_offline_check(context, page: Page,
                                                                    console_errors, patient):
    """A dose recorded 50 hours ago (48 hours apart at least): a check now would pass. The
    patient corrects it offline to 40 hours ago; the next offline check holds, as the server
    will once it has the correction."""
    console_errors.expect(r"ERR_INTERNET_DISCONNECTED")
    now = utcnow()
    _recorded_dose(patient, hours_ago=50)
    _ready_offline(context, page, patient.email)
    context.set_offline(False)
    page.goto("/doses")
    context.set_offline(True)
    card = page.locator("li.card.dose").nth(0)
    card.get_by_text("Correct this entry").click()
    later = (now - timedelta(hours=40)).strftime("%Y-%m-%dT%H:%M")  # a patient in UTC
    card.get_by_label("Taken at").fill(later)
    card.get_by_label("Why the correction?").fill("It was later than I wrote.")
    card.get_by_role("button", name="Save correction").click()
    expect(_count(page)).to_have_text("1")

    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Hold: it is not safe to dose right now")
           ).to_be_visible()
    expect(verdict).to_contain_text("Too soon: doses must be at least 48 hours apart.")

    _back_online(context, page)
    with Session(engine) as db:
        (gate,) = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)).all()
        assert [r["code"] for r in gate.reasons] == ["too_soon"]  # the server agrees


# Rewrites when the service worker's saved Today snapshot says the server read the record.
_SNAPSHOT_READ_AT = """async (when) => {
  let rewritten = 0;
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    const saved = await cache.match("/api/v1/today", { ignoreVary: true });
    if (!saved) continue;
    const body = await saved.json();
    body.now = when;
    await cache.put("/api/v1/today", new Response(JSON.stringify(body), {
      headers: { "Content-Type": "application/json" } }));
    rewritten += 1;
  }
  return rewritten;
}"""


def test_offline_the_phone_writes_times_as_the_server_does_in_the_patients_zone(new_context,
                                                                                new_patient):
    """The phone's own clock style and zone are not the page's: a Spanish-speaking patient in
    Los Angeles whose phone is set to Tokyo reads an offline hold's times exactly as the server
    words the same reasons, in her zone, with one period after "p.m."."""
    patient = new_patient(clinic_phone=CLINIC_PHONE, timezone="America/Los_Angeles",
                          language="es")
    context = new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()  # her language comes with her session
    expect(page.get_by_role("heading", level=1)).to_have_text("Hoy")
    under_the_service_worker(page)
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    context.set_offline(True)
    # The record the phone holds was read yesterday at 3:00 p.m. in her zone, whatever the
    # hour this test runs: the "as of" sentence then always ends in "p.m." before its period.
    read_at = datetime.now(ZoneInfo("America/Los_Angeles")).replace(
        hour=15, minute=0, second=0, microsecond=0) - timedelta(days=1)
    assert page.evaluate(_SNAPSHOT_READ_AT, read_at.astimezone(UTC).isoformat()) >= 1

    _safety_check(page, "128", "82", "72", language="es")
    verdict = page.locator("#gate-result")
    expect(verdict).to_contain_text("3:00 p.m. Se volverá a revisar")
    verdict.get_by_role("button", name="Anotar dosis").click()
    expect(_count(page)).to_have_text("2")
    _safety_check(page, "186", "100", "90", all_ticked=False, language="es")
    expect(verdict.get_by_role("heading", name="No tome su dosis")).to_be_visible()
    offline_words = verdict.inner_text()
    _safety_check(page, "150", "90", "80", all_ticked=False, language="es")
    resting = page.get_by_text("Descanse 5 minutos después de una lectura peligrosa")
    expect(resting).to_be_visible()
    resting_words = resting.inner_text()

    # Amounts too, in US Spanish as the server writes them ("es" alone would give "1200,5").
    assert page.evaluate("window.TrocheClock.number('1200.5')") == formats.format_number(
        Decimal("1200.5"), "es") == "1,200.5"

    _back_online(context, page)
    with Session(engine) as db, i18n.using("es"):
        gate = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id,
                                               GateCheck.verdict == "emergency")).one()
        worded = {r["code"]: reasons.text(r, "America/Los_Angeles") for r in gate.reasons}
        rest_from = formats.format_datetime(
            (gate.checked_at + EMERGENCY_RECHECK_WAIT).astimezone(
                ZoneInfo("America/Los_Angeles")), "time", "es")
    assert "Próxima permitida" in worded["too_soon"] and "p.m.." not in offline_words
    for code in ("too_soon", "bp_emergency"):
        assert worded[code] in offline_words, (code, worded[code], offline_words)
    # One period after "p.m.", as the server typesets its own sentences.
    assert resting_words.endswith(f"desde las {rest_from}"), (rest_from, resting_words)


def test_a_server_that_disagrees_with_the_offline_gate_is_shown_and_flagged(context,
                                                                            page: Page,
                                                                            patient):
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    expect(page.get_by_role("heading", name="Safety check passed")).to_be_visible()

    # Meanwhile a high-risk screen (answered on another device) put dosing on hold.
    with Session(engine) as db:
        db.add(SafetyEvent(patient_id=patient.id, kind="positive_screen", level="high",
                           occurred_at=utcnow() - timedelta(minutes=30), source_id=uuid.uuid4(),
                           holds_dosing=True))
        db.commit()

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_text("which does not agree")).to_be_visible()
    page.reload()  # kept until read, on every page
    expect(page.get_by_text("which does not agree")).to_be_visible()
    page.get_by_role("button", name="Understood").click()
    expect(page.get_by_text("which does not agree")).to_have_count(0)
    with Session(engine) as db:
        (gate,) = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)).all()
        assert gate.verdict == "hold"
        (flag,) = db.exec(select(SafetyEvent).where(
            SafetyEvent.kind == "offline_gate_disagreed")).all()
        assert flag.details["offline"] == "ok" and flag.details["server"] == "hold"


def test_a_correction_and_an_entered_in_error_made_offline_arrive(context, page: Page, patient,
                                                                  console_errors):
    # The page's own flush on load may meet the signal going away: the browser logs it.
    console_errors.expect(r"ERR_INTERNET_DISCONNECTED")
    for hours in (80, 30):
        _recorded_dose(patient, hours_ago=hours)
    _ready_offline(context, page, patient.email)
    context.set_offline(False)
    page.goto("/doses")  # the history, loaded while online, then the signal goes
    context.set_offline(True)
    cards = page.locator("li.card.dose")
    expect(cards).to_have_count(2)
    newest, oldest = cards.nth(0), cards.nth(1)
    newest.get_by_text("Correct this entry").click()
    newest.get_by_label("Dose (mg)").fill("150")
    newest.get_by_label("Why the correction?").fill("Took one and a half.")
    newest.get_by_role("button", name="Save correction").click()
    expect(_count(page)).to_have_text("1")
    oldest.get_by_text("Mark as entered in error").click()
    oldest.get_by_label("Why is this entry wrong?").fill("Logged twice.")
    oldest.get_by_role("button", name="Mark entered in error").click()
    expect(_count(page)).to_have_text("2")

    _back_online(context, page)
    with Session(engine) as db:
        rows = db.exec(select(Dose).where(Dose.patient_id == patient.id)
                       .order_by(Dose.taken_at)).all()
        assert [(d.status, d.dose_mg, d.revision) for d in rows] == [
            ("entered_in_error", 100, 2), ("recorded", 150, 2)]


def test_a_held_dose_from_the_outbox_can_be_recorded_as_taken(context, page: Page, patient):
    """Logged offline, refused on sync (too soon after a dose logged elsewhere): the patient
    took it, so the record must show it, flagged, with their account."""
    _recorded_dose(patient, hours_ago=5, reason="Logged at the clinic.")
    _ready_offline(context, page, patient.email)
    page.goto("/today")
    page.get_by_text("Log a dose you took earlier").click()
    page.get_by_label("Why was there no safety check before this dose?").fill("No cuff.")
    page.locator("#dose_mg-late").fill("100")
    page.locator("form.dose-form").last.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    rejected = page.locator("[data-outbox] .outbox-rejected")
    expect(rejected).to_contain_text("Too soon")
    assert page_problems(page.content()) == []  # the outbox's own form: ids once, tied
    account = rejected.get_by_label("What happened, and why")
    account.fill("I forgot the earlier one.")
    # A background flush redraws the list while they type: their words and focus stay.
    page.evaluate("window.dispatchEvent(new Event(TrocheOutbox.CHANGED))")
    expect(account).to_have_value("I forgot the earlier one.")
    expect(account).to_be_focused()
    rejected.get_by_role("button", name="I already took it: record it").click()
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    with Session(engine) as db:
        doses = db.exec(select(Dose).where(Dose.patient_id == patient.id)).all()
        held = [d for d in doses if "against_hold" in d.flags]
        assert len(doses) == 2 and len(held) == 1
        assert held[0].override_reason == "I forgot the earlier one."


def _passed_online_then_offline(context, page: Page, patient):
    """Ready for offline, the check passed online (drawn by the server), then no signal: its
    section, with the dose form."""
    _ready_offline(context, page, patient.email)
    context.set_offline(False)
    _safety_check(page, "128", "82", "72")
    verdict = page.locator("#gate-result")
    expect(verdict.get_by_role("heading", name="Safety check passed")).to_be_visible()
    context.set_offline(True)
    return verdict


def test_a_dose_whose_safety_check_the_server_cannot_use_can_be_recorded_as_taken(
        context, page: Page, patient):
    """Checked online, the dose logged offline from that check; by the time the phone syncs the
    check is too old for the dose (here: made older on the server). 'Send again' would fail
    every time: the patient who took it records it, without the check, in their own words."""
    verdict = _passed_online_then_offline(context, page, patient)
    verdict.get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("1")
    with Session(engine) as db:
        (gate,) = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)).all()
        gate.checked_at -= timedelta(hours=3)
        gate.received_at -= timedelta(hours=3)
        db.add(gate)
        db.commit()

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    rejected = page.locator("[data-outbox] .outbox-rejected")
    expect(rejected).to_contain_text("too old")
    rejected.get_by_label("What happened, and why").fill("Took it at 9; the signal was out.")
    rejected.get_by_role("button", name="I already took it: record it").click()
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    (dose,) = _rows(patient.id)["doses"]
    assert dose.gate_id is None and dose.no_gate_reason == "Took it at 9; the signal was out."
    assert "no_gate" in dose.flags


def test_flushing_twice_at_once_and_a_concurrent_post_write_each_entry_once(context,
                                                                          page: Page, patient):
    _ready_offline(context, page, patient.email)
    for mood in ("3", "5", "7"):
        page.goto("/checkins/daily")
        page.get_by_role("button", name=mood, exact=True).click()  # mood in one tap
        expect(page.get_by_role("status").filter(has_text="Saved on this phone")).to_be_visible()
    expect(_count(page)).to_have_text("3")

    context.set_offline(False)
    # Two flushes (as Background Sync and the page would) and the same first entry posted
    # directly, all at once.
    answers = page.evaluate("""async () => {
      const items = await window.TrocheOutbox.all();
      const me = await (await fetch("/api/v1/me")).json();
      const direct = fetch("/api/v1/sync", {method: "POST", headers: {
          "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token},
        body: JSON.stringify({items: [items[0]].map((i) => ({id: i.id, kind: i.kind,
          recorded_at: i.recorded_at, data: i.data}))})}).then((r) => r.status);
      return Promise.all([window.TrocheOutbox.flush(), window.TrocheOutbox.flush(), direct]);
    }""")
    assert answers[2] == 200
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    with Session(engine) as db:
        moods = sorted(c.values["mood"] for c in db.exec(
            select(CheckIn).where(CheckIn.patient_id == patient.id)).all())
    assert moods == [3, 5, 7]


def test_another_person_on_the_phone_never_sees_or_sends_the_first_ones_entries(
        context, page: Page, patient, console_errors):
    console_errors.expect(r"status of 401")
    _ready_offline(context, page, patient.email)
    page.goto("/checkins/daily")
    page.get_by_role("button", name="2", exact=True).click()  # mood in one tap
    expect(_count(page)).to_have_text("1")

    # The first person's session ends while the phone is away; someone else signs in on it.
    with Session(engine, expire_on_commit=False) as db:
        db.exec(delete(AuthSession).where(col(AuthSession.user_id) == patient.id))
        other = factories.user(db, role=Role.PATIENT, timezone="UTC")
        db.commit()
    context.set_offline(False)
    page.goto("/login")
    page.get_by_label("Email").fill(other.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    expect(page.locator("[data-outbox-item]")).to_have_count(0)
    assert page.evaluate("window.TrocheOutbox.flush()")["sent"] == 0
    assert _rows(patient.id)["checkins"] == [] and _rows(other.id)["checkins"] == []

    # The first person signs in again: their entry is still here, and goes.
    context.clear_cookies()  # the other person leaves without signing out
    page.goto("/login")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    # The count starts hidden in the page's HTML: wait for the entry to arrive, not for that.
    _until(lambda: _rows(patient.id)["checkins"])
    expect(_count(page)).to_be_hidden(timeout=FLUSH_MS)
    assert [c.values for c in _rows(patient.id)["checkins"]] == [{"mood": 2}]


def test_a_page_shown_without_signal_says_when_its_entries_are_sent_and_leads_to_the_fresh_one(
        context, page: Page, patient):
    """Today's saved copy, shown after a dose logged without signal, says the dose is kept on
    the phone and still offers the safety check. Once the signal is back and everything is
    sent, it no longer says "not yet sent": it says it was saved before, with the way to Today
    as it is now, which knows of the dose."""
    _ready_offline(context, page, patient.email)
    waiting = page.locator("header .outbox-link")
    # Nothing waits: no link to it, no stop for the keyboard (not merely zero pixels wide).
    expect(waiting).to_have_attribute("hidden", "")
    _safety_check(page, "128", "82", "72")
    page.locator("#gate-result").get_by_role("button", name="Log dose").click()
    expect(waiting).to_be_visible()
    expect(waiting).to_have_accessible_name("Not yet sent: 2")
    note = page.locator("#offline-saved")
    expect(note).to_have_text(
        "Dose saved on this phone, not yet sent. It will be sent when you are back online.")

    _back_online(context, page)
    expect(waiting).to_have_attribute("hidden", "")
    expect(note).to_have_text(
        "Everything on this phone has been sent. What this page shows is from before that. "
        "Show the page as it is now")
    _until(lambda: len(_rows(patient.id)["doses"]) == 1)
    note.get_by_role("link", name="Show the page as it is now").click()
    expect(page.locator("#offline-saved")).to_have_count(0)
    # The fresh Today has the dose (the patient's first).
    expect(page.get_by_text(re.compile(r"^Last dose: 100 mg on "))).to_be_visible()


def test_a_page_load_with_nothing_waiting_asks_the_server_nothing(context, page: Page, patient):
    """Every page load asked /api/v1/me for the flush, with nothing to send; one in flight as
    the person signed out came back 401 (a console error CI caught)."""
    page.goto("/login")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url)
            if request.url.endswith("/api/v1/me") else None)
    page.goto("/today")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    page.wait_for_timeout(1500)  # the flush starts a moment after load (flushSoon)
    assert asked == []


def test_offline_a_check_passed_online_gives_way_to_a_newer_one_that_held(
        context, page: Page, patient):
    """Passed online, then the signal went; a second tab's check held. The first tab's Log dose
    was refused, under "Safety check passed … You can take your dose now" drawn by the server:
    the check is offered again instead."""
    verdict = _passed_online_then_offline(context, page, patient)
    other = context.new_page()
    _safety_check(other, "170", "105", "72")
    expect(other.locator("#gate-result").get_by_role(
        "heading", name="Hold: it is not safe to dose right now")).to_be_visible()
    verdict.get_by_role("button", name="Log dose").click()
    expect(page.locator("#offline-saved")).to_contain_text("170/105")
    expect(verdict.get_by_role("heading", name="Before you dose: safety check")).to_be_visible()
    expect(verdict.get_by_role("button", name="Log dose")).to_have_count(0)



def _on_a_fresh_page_whose_flush_fails(context: BrowserContext, page: Page, console_errors,
                                       waiting: int):
    """Back online, on a page opened afresh (not the one that kept the entries), where neither
    its own flush nor the service worker's gets through: the list of `waiting` entries."""
    console_errors.expect(r"ERR_INTERNET_DISCONNECTED|Failed to fetch|net::")
    context.route("**/api/v1/sync", lambda route: route.abort("internetdisconnected"))
    context.set_offline(False)
    page.goto("/today")
    listed = page.locator("[data-outbox] [data-outbox-item]")
    expect(listed).to_have_count(waiting)
    page.wait_for_timeout(1000)  # the page's own flush (flushSoon), refused on the way
    expect(listed).to_have_count(waiting)
    expect(page.locator("#offline-saved")).to_have_count(0)
    context.unroute("**/api/v1/sync")


def test_a_list_sent_by_someone_else_says_it_was_sent_not_just_gone(context, page: Page,
                                                                     patient, console_errors):
    """On reconnecting, the service worker's Background Sync often sends the outbox before the
    page's own flush, which then finds nothing to report: the list of entries waiting simply
    vanished, without a word (a phone tester). Whoever sent it, the page says it was sent."""
    _ready_offline(context, page, patient.email)
    _safety_check(page, "128", "82", "72")
    page.locator("#gate-result").get_by_role("button", name="Log dose").click()
    expect(_count(page)).to_have_text("2")
    _on_a_fresh_page_whose_flush_fails(context, page, console_errors, waiting=2)

    # The flush the service worker runs (the same outbox code), not this page's own.
    page.evaluate("TrocheOutbox.flush()")
    expect(page.locator("[data-outbox]")).to_be_hidden()
    note = page.get_by_role("status").filter(has_text="has been sent")
    expect(note).to_have_text(
        "Everything on this phone has been sent. Show the page as it is now")
    # News from the background does not take the focus from what the person may be doing.
    assert page.evaluate("document.activeElement.id") != "offline-saved"
    _until(lambda: len(_rows(patient.id)["doses"]) == 1)
    # This Today was drawn before the dose reached the server: the link shows it as it is now.
    note.get_by_role("link", name="Show the page as it is now").click()
    expect(page.get_by_text(re.compile(r"^Last dose: 100 mg on "))).to_be_visible()


def test_a_list_refused_by_someone_elses_send_says_so(context, page: Page, patient,
                                                      console_errors):
    _offline_dose_the_server_refuses(context, page, patient)
    expect(_count(page)).to_have_text("1")
    _on_a_fresh_page_whose_flush_fails(context, page, console_errors, waiting=1)

    page.evaluate("TrocheOutbox.flush()")
    expect(page.locator("[data-outbox] .outbox-rejected")).to_contain_text(
        "That is more than 10 troches")
    expect(page.locator("#offline-saved")).to_have_text(
        "Some entries were not accepted. See them below, with the reason.")
    assert _rows(patient.id)["doses"] == []
