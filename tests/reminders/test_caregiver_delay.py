"""The per-patient caregiver alert delay: how long a session's dose or +40 minute check-in waits,
unlogged, before the caregivers who accepted alerts are told. Set by the patient (care team page)
or the prescriber (the patient's page); NULL is the clinic's default. Real SQLite and
PostgreSQL, explicit clocks."""

import html
import re
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import select

from app.accounts.models import Role
from app.careteam.models import CareLink
from app.checkins import service as checkins
from app.checkins.models import CheckinSettings
from app.config import settings
from app.doses import service as doses
from app.errors import Invalid, NotFound
from app.protocols.schedule import Cadence, Phase, PhasePlan
from app.reminders import planner, service
from app.reminders.models import OccurrenceStatus, ReminderOccurrence, ReminderPreferences
from tests import factories
from tests.helpers import follow

NY = ZoneInfo("America/New_York")
# The default protocol: Mon/Thu 10:00 America/New_York from Mon 2026-01-05, grace 4 h.
SUNDAY_NOON = datetime(2026, 1, 11, 12, 0, tzinfo=NY).astimezone(UTC)
MONDAY = datetime(2026, 1, 12, 10, 0, tzinfo=NY).astimezone(UTC)  # a session
DEFAULT = timedelta(minutes=settings.caregiver_escalation_minutes)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


@pytest.fixture
def world(db):
    prescriber, patient, _ = factories.patient_with_protocol(db, now=ny(2026, 1, 2, 9))
    caregiver = factories.user(db, role=Role.CAREGIVER)
    factories.link(db, patient, caregiver)
    db.exec(update(CareLink).where(CareLink.member_id == caregiver.id)
            .values(receives_alerts=True))
    db.commit()
    return prescriber, patient, caregiver


def escalations(db, caregiver, patient) -> dict[str, ReminderOccurrence]:
    """The caregiver's pending caregiver_missed rows about this patient, by rule."""
    db.expire_all()
    found = db.exec(select(ReminderOccurrence).where(
        ReminderOccurrence.user_id == caregiver.id,
        ReminderOccurrence.patient_id == patient.id,
        ReminderOccurrence.kind == "caregiver_missed",
        ReminderOccurrence.status == OccurrenceStatus.PENDING)).all()
    return {r.rule: r for r in found}


def stored_minutes(db, patient) -> int | None:
    db.expire_all()
    cs = db.get(CheckinSettings, patient.id)
    return cs.caregiver_alert_minutes if cs else None


def take(db, patient, when: datetime):
    return doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=when,
        data={"taken_at": when.isoformat(), "dose_mg": "100", "route": "sublingual",
              "no_gate_reason": "Logged later."}, now=when)


# --- the delay decides when the caregiver is told --------------------------------------------


@pytest.mark.parametrize("minutes", [None, 15, 30, 45, 90, 120])
def test_the_patients_delay_decides_when_a_missed_session_is_escalated(db, world, minutes):
    _, patient, caregiver = world
    if minutes is not None:
        checkins.update_caregiver_alert_minutes(db, patient=patient, minutes=str(minutes))
        db.commit()
    delay = timedelta(minutes=minutes) if minutes else DEFAULT
    service.plan(db, caregiver, SUNDAY_NOON)
    db.commit()
    missed = escalations(db, caregiver, patient)[f"caregiver_missed:{patient.id}:session"]
    assert missed.due_at == missed.send_at == MONDAY + delay
    # Due then, and still needed (the session was not taken).
    assert service.still_needed(db, missed, missed.due_at) is None


def test_a_session_held_as_too_soon_is_not_escalated_as_missed(db, world):
    """An extra dose on Sunday at noon makes Monday's session too soon (48 h apart): not
    taking it is what the check asks, so the caregiver is not told it was missed."""
    _, patient, caregiver = world
    service.plan(db, caregiver, SUNDAY_NOON - timedelta(hours=3))
    db.commit()
    missed = escalations(db, caregiver, patient)[f"caregiver_missed:{patient.id}:session"]
    take(db, patient, SUNDAY_NOON)
    db.commit()
    assert service.still_needed(db, missed, missed.due_at) == "too_soon"
    service.plan(db, caregiver, SUNDAY_NOON + timedelta(minutes=1))
    db.commit()
    assert f"caregiver_missed:{patient.id}:session" not in escalations(db, caregiver, patient)


@pytest.mark.parametrize("minutes", [15, 120])
def test_the_delay_also_applies_to_the_recheck(db, world, minutes):
    _, patient, caregiver = world
    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes=str(minutes))
    dose = take(db, patient, MONDAY + timedelta(minutes=5))
    db.commit()
    service.plan(db, caregiver, MONDAY + timedelta(minutes=6))
    db.commit()
    recheck = escalations(db, caregiver, patient)[
        f"caregiver_missed:{patient.id}:recheck:{dose.id}"]
    assert recheck.due_at == dose.taken_at + timedelta(minutes=40 + minutes)
    assert service.still_needed(db, recheck, recheck.due_at) is None


def test_changing_the_delay_moves_the_pending_escalation(db, world):
    _, patient, caregiver = world
    service.plan(db, caregiver, SUNDAY_NOON)
    db.commit()
    rule = f"caregiver_missed:{patient.id}:session"
    before = escalations(db, caregiver, patient)[rule]
    assert before.due_at == MONDAY + DEFAULT

    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes="30")
    db.commit()
    service.plan(db, caregiver, SUNDAY_NOON + timedelta(minutes=1))
    db.commit()
    found = escalations(db, caregiver, patient)
    assert [r.due_at for r in found.values() if r.rule == rule] == [
        MONDAY + timedelta(minutes=30)]
    # The 60-minute row is not left behind to fire as well.
    db.expire_all()
    pending_at = sorted(r.send_at for r in db.exec(select(ReminderOccurrence).where(
        ReminderOccurrence.user_id == caregiver.id, ReminderOccurrence.rule == rule,
        ReminderOccurrence.status == OccurrenceStatus.PENDING)).all())
    assert pending_at == [MONDAY + timedelta(minutes=30)]


def test_each_supported_patient_has_their_own_delay(db, world):
    _, patient, caregiver = world
    _, second, _ = factories.patient_with_protocol(db, now=ny(2026, 1, 2, 9))
    factories.link(db, second, caregiver)
    db.exec(update(CareLink).where(CareLink.member_id == caregiver.id)
            .values(receives_alerts=True))
    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes="15")
    checkins.update_caregiver_alert_minutes(db, patient=second, minutes="120")
    db.commit()
    service.plan(db, caregiver, SUNDAY_NOON)
    db.commit()
    first_row = escalations(db, caregiver, patient)[f"caregiver_missed:{patient.id}:session"]
    second_row = escalations(db, caregiver, second)[f"caregiver_missed:{second.id}:session"]
    assert first_row.due_at == MONDAY + timedelta(minutes=15)
    assert second_row.due_at == MONDAY + timedelta(minutes=120)


def test_the_planner_takes_the_patients_delay_over_the_default():
    facts = planner.PatientFacts(
        patient_id=uuid.uuid4(), timezone="America/New_York", has_protocol=True,
        plans=(PhasePlan(phase=Phase.INDUCTION, starts_on=date(2026, 1, 5),
                         cadence=Cadence.WEEKDAYS, at=time(10), weekdays=frozenset({0})),),
        grace=timedelta(hours=4))
    person = planner.PersonFacts(user_id=uuid.uuid4(), role="caregiver",
                                 timezone="America/New_York",
                                 prefs=ReminderPreferences(user_id=uuid.uuid4()),
                                 supported=(facts,), escalation=timedelta(minutes=60))
    now = ny(2026, 1, 12, 8)
    (default,) = planner.plan(person, now)
    assert default.due_at == MONDAY + timedelta(minutes=60)
    person = replace(person, supported=(replace(facts, caregiver_delay=timedelta(minutes=90)),))
    (chosen,) = planner.plan(person, now)
    assert chosen.due_at == MONDAY + timedelta(minutes=90)


# --- the service: choices, access --------------------------------------------------------------


@pytest.mark.parametrize("bad", ["50", "0", "-15", "abc", "15.0", "600", "true"])
def test_a_value_not_offered_is_refused_and_nothing_is_written(db, world, bad):
    prescriber, patient, _ = world
    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes="45")
    db.commit()
    with pytest.raises(Invalid) as err:
        checkins.update_caregiver_alert_minutes(db, patient=patient, minutes=bad)
    assert err.value.field == "caregiver_alert_minutes"
    with pytest.raises(Invalid):
        checkins.set_caregiver_alert_minutes_for(db, prescriber=prescriber,
                                                 patient_id=patient.id, minutes=bad)
    db.rollback()
    assert stored_minutes(db, patient) == 45


def test_blank_goes_back_to_the_clinics_default(db, world):
    _, patient, _ = world
    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes="90")
    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes="")
    db.commit()
    assert stored_minutes(db, patient) is None


def test_only_the_patients_own_prescriber_may_set_it(db, world):
    _, patient, _ = world
    stranger = factories.user(db, role=Role.PRESCRIBER)
    db.commit()
    with pytest.raises(NotFound):
        checkins.set_caregiver_alert_minutes_for(db, prescriber=stranger, patient_id=patient.id,
                                                 minutes="30")
    db.rollback()
    assert stored_minutes(db, patient) is None


# --- the forms --------------------------------------------------------------------------------


def text(response) -> str:
    return html.unescape(response.text)


def selected(page: str) -> str | None:
    """The selected option's value in the delay form."""
    form = page.split('id="caregiver_alert_minutes"', 1)[1].split("</select>", 1)[0]
    match = re.search(r'<option value="([^"]*)"\s+selected', form)
    return match.group(1) if match else None


def test_the_patient_sets_the_delay_on_the_care_team_page(db, auth, client, world):
    _, patient, _ = world
    auth.login(patient.email)
    page = text(client.get("/care-team"))
    assert "When caregivers are told about a missed step" in page
    assert selected(page) == ""  # the clinic's default
    assert f"The clinic's default ({settings.caregiver_escalation_minutes} minutes)" in page

    response = auth.post("/care-team/caregiver-alerts", {"caregiver_alert_minutes": "30"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/care-team?changed=1")
    assert stored_minutes(db, patient) == 30
    assert selected(text(follow(client, response))) == "30"


def test_the_patient_finds_the_alerts_consent_on_the_care_team_page(db, auth, client, world):
    """Patients looked for it on Care team; it was only on Check-ins. Untick it there and the
    caregiver's planned missed-dose escalation is no longer sent; tick it again and it is."""
    _, patient, caregiver = world
    service.plan(db, caregiver, SUNDAY_NOON)
    db.commit()
    missed = escalations(db, caregiver, patient)[f"caregiver_missed:{patient.id}:session"]
    auth.login(patient.email)
    page = client.get("/care-team").text
    consent = page[page.index('action="/care-team/share-alerts"'):].split("</form>")[0]
    assert 'name="share_alerts" value="yes" aria-describedby="share_alerts-hint" checked' in consent
    response = auth.post("/care-team/share-alerts", {})  # unticked
    assert response.status_code == 303
    assert response.headers["location"].startswith("/care-team?shared=1")
    db.expire_all()
    assert db.get(CheckinSettings, patient.id).share_alerts_with_caregiver is False
    assert service.still_needed(db, missed, missed.due_at) == "no_consent"
    page = follow(client, response).text
    assert "Settings saved." in page and "It holds from their next page" not in page
    assert 'name="share_alerts" value="yes" aria-describedby="share_alerts-hint"' in page
    assert 'aria-describedby="share_alerts-hint" checked' not in page
    # The same consent the Check-ins page shows.
    assert 'name="share_alerts" value="yes" checked' not in client.get("/checkins").text
    auth.post("/care-team/share-alerts", {"share_alerts": "yes"})
    db.expire_all()
    assert db.get(CheckinSettings, patient.id).share_alerts_with_caregiver is True
    assert service.still_needed(db, missed, missed.due_at) is None


def test_the_patients_form_refuses_a_bad_value_with_422_and_writes_nothing(
        db, auth, client, world):
    _, patient, _ = world
    checkins.update_caregiver_alert_minutes(db, patient=patient, minutes="45")
    db.commit()
    auth.login(patient.email)
    response = auth.post("/care-team/caregiver-alerts", {"caregiver_alert_minutes": "50"})
    assert response.status_code == 422
    page = text(response)
    assert 'id="caregiver_alert_minutes-error">Choose one of the times offered.' in page
    assert 'aria-invalid="true"' in page.split('id="caregiver_alert_minutes"', 1)[1][:300]
    assert stored_minutes(db, patient) == 45


def test_the_prescriber_sets_the_delay_on_the_patients_page(db, auth, client, world):
    prescriber, patient, _ = world
    auth.login(prescriber.email)
    page = text(client.get(f"/patients/{patient.id}"))
    assert f'action="/patients/{patient.id}/caregiver-alerts"' in page

    response = auth.post(f"/patients/{patient.id}/caregiver-alerts",
                         {"caregiver_alert_minutes": "90"})
    assert response.status_code == 303
    assert stored_minutes(db, patient) == 90
    after = text(follow(client, response))
    assert "Saved." in after and selected(after) == "90"

    bad = auth.post(f"/patients/{patient.id}/caregiver-alerts",
                    {"caregiver_alert_minutes": "7"})
    assert bad.status_code == 422
    assert "Choose one of the times offered." in text(bad)
    assert stored_minutes(db, patient) == 90


def test_another_prescriber_or_a_caregiver_cannot_set_it(db, auth, client, world):
    _, patient, caregiver = world
    stranger = factories.user(db, role=Role.PRESCRIBER)
    db.commit()
    auth.login(stranger.email)
    response = auth.post(f"/patients/{patient.id}/caregiver-alerts",
                         {"caregiver_alert_minutes": "15"})
    assert response.status_code == 404
    assert patient.display_name not in response.text
    auth.logout()
    auth.login(caregiver.email)
    response = auth.post(f"/patients/{patient.id}/caregiver-alerts",
                         {"caregiver_alert_minutes": "15"})
    assert response.status_code in (403, 404)
    response = auth.post("/care-team/caregiver-alerts", {"caregiver_alert_minutes": "15"})
    assert response.status_code in (403, 404)
    assert stored_minutes(db, patient) is None
