"""The dosing loop on a phone: the safety gate, logging a dose, a hold, an emergency."""

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.accounts.models import Role
from app.db import engine, utcnow
from app.doses.models import Dose
from app.protocols import service as protocols
from tests import factories
from tests.browser.a11y import serious_violations
from tests.browser.signing import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def patient(live_server):
    """A patient with a protocol that puts a session due right now."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        prescriber = factories.user(db, role=Role.PRESCRIBER)
        patient = factories.user(db, role=Role.PATIENT, timezone="UTC")
        factories.link(db, patient, prescriber)
        protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                       version_id=uuid.uuid4(), now=now - timedelta(days=1), values={
            "strength_mg": "100", "halving_allowed": True, "dose_mg": "150",
            "route": "sublingual", "hold_minutes": 15, "min_hours_between_doses": "48",
            "max_mg_per_24h": "200", "max_mg_per_7d": "450", "bp_hold_systolic": 160,
            "bp_hold_diastolic": 100, "sitter_required": True,
            "required_checklist": ["fasted", "no_sedatives", "no_driving", "safe_place"],
            "fasting_hours": 2, "sedative_free_hours": 24, "grace_hours": "4",
            "early_refill_days": 7, "starts_on": (now - timedelta(days=1)).date().isoformat(),
            "induction": {"cadence": "interval", "every_n_days": 1,
                          "at": (now + timedelta(minutes=30)).strftime("%H:%M"),
                          "weeks": 4},
            "reason": "Browser test protocol",
        })
        db.commit()
    return patient


def _safety_check(page: Page, systolic: str, diastolic: str, *, all_ticked: bool = True):
    page.get_by_label("Upper (systolic)").fill(systolic)
    page.get_by_label("Lower (diastolic)").fill(diastolic)
    page.get_by_label("Pulse").fill("72")
    if all_ticked:
        for box in page.locator(".gate-form input[type=checkbox]").all():
            box.check()
    page.get_by_role("button", name="Check").click()


def _doses(patient_id) -> list[Dose]:
    with Session(engine) as db:
        return list(db.exec(select(Dose).where(Dose.patient_id == patient_id)).all())


def test_patient_passes_the_gate_and_logs_a_dose(page: Page, patient):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    expect(page.locator(".session-card")).to_contain_text("Due now")
    assert serious_violations(page) == []

    _safety_check(page, "128", "82")
    expect(page.get_by_role("heading", name="Safety check passed")).to_be_visible()
    expect(page.get_by_label("Dose (mg)")).to_have_value("150")
    page.get_by_role("button", name="Log dose").click()

    expect(page.get_by_role("status").filter(has_text="Dose logged")).to_be_visible()
    expect(page.locator(".session-card")).to_contain_text("Last dose: 150 mg")
    doses = _doses(patient.id)
    assert len(doses) == 1 and doses[0].gate_id is not None and doses[0].flags == []


def test_a_second_dose_is_held_and_can_only_be_recorded_as_taken(page: Page, patient,
                                                                   console_errors):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _safety_check(page, "128", "82")
    page.get_by_role("button", name="Log dose").click()
    expect(page.get_by_role("status").filter(has_text="Dose logged")).to_be_visible()

    _safety_check(page, "128", "82")
    # The verdict is the first thing on screen: focused, above the session card.
    verdict = page.locator("#gate-result")
    expect(verdict).to_be_focused()
    expect(page.get_by_role("heading", name=re.compile("Hold"))).to_be_in_viewport()
    assert verdict.bounding_box()["y"] < page.locator(".session-card").bounding_box()["y"]
    expect(verdict.get_by_role("alert")).to_contain_text("Too soon")
    # Too soon can never be taken anyway: no such button, only a record of a dose taken.
    expect(page.get_by_role("button", name=re.compile("Take anyway"))).to_have_count(0)
    page.get_by_text("I have already taken a dose: record it").first.click()
    page.get_by_role("button", name="Record the dose I took").first.click()
    # The account is required: the browser asks for it there before anything is sent (the
    # server's own message for it is tests/doses/test_routes.py's).
    reason = page.get_by_label("What happened, and why").first
    expect(reason).to_be_focused()
    assert reason.evaluate("el => el.validity.valueMissing")
    assert len(_doses(patient.id)) == 1  # nothing written without a reason

    reason.fill("Took a second one by mistake.")
    page.get_by_role("button", name="Record the dose I took").first.click()
    # Recorded, and never greeted as an ordinary dose: the hold is named, the team told.
    recorded = page.get_by_role("status").filter(has_text="Dose recorded as taken against a hold")
    expect(recorded).to_be_visible()
    expect(recorded).to_contain_text("your care team has been told")
    expect(page.get_by_role("status").filter(has_text="Dose logged")).to_have_count(0)
    flagged = [d for d in _doses(patient.id) if "override" in d.flags]
    assert len(flagged) == 1
    assert {"too_soon", "against_hold"} <= set(flagged[0].flags)


def test_a_crisis_blood_pressure_shows_guidance_and_no_dose_button(page: Page, patient):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _safety_check(page, "184", "96")

    expect(page.get_by_role("heading", name="Do not take your dose")).to_be_visible()
    expect(page.locator("#gate-result")).to_be_focused()
    expect(page.get_by_role("alert")).to_contain_text("184/96")
    expect(page.get_by_role("link", name="Call 911")).to_have_attribute("href", "tel:911")
    expect(page.get_by_role("button", name=re.compile("Log dose|Take anyway"))).to_have_count(0)
    assert _doses(patient.id) == []


def test_a_refused_record_of_a_dose_taken_comes_back_open_with_its_error(page: Page, patient,
                                                                          console_errors):
    """A reason too long for the record of a dose taken during a hold: the patient sees why it
    was not saved, beside the words they wrote, not a hold page with the record folded away."""
    console_errors.expect(r"status of 422 .*/today/dose")
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _safety_check(page, "184", "96")
    expect(page.get_by_role("heading", name="Do not take your dose")).to_be_visible()
    page.get_by_text("I have already taken a dose: record it").click()
    words = "I took it before I measured. " * 20  # 580 characters: over the 500 allowed
    page.get_by_label("What happened, and why").fill(words)
    page.get_by_role("button", name="Record the dose I took").click()

    reason = page.get_by_label("What happened, and why")
    expect(reason).to_be_visible()
    expect(reason).to_have_value(words)
    expect(reason).to_have_accessible_description(re.compile("Use at most 500 characters"))
    expect(page.get_by_text("Use at most 500 characters.")).to_be_visible()
    assert serious_violations(page) == []
    assert _doses(patient.id) == []
