"""The caregiver alerts of issue 10: a severe side effect and a blood-pressure hold page the
caregivers who accepted alerts (with the patient's consent) and not the prescribers; a breathing
concern pages both, like hard to rouse. Each is raised once; who acknowledged it, and when, is
shown to the other caregivers, the prescriber and the patient. Real SQLite and PostgreSQL."""

import html
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app.alerts import service as alerts
from app.alerts.models import Alert
from app.checkins import service as checkins
from app.checkins.models import CheckinSettings
from app.push import texts
from app.reminders import dispatcher
from app.reminders.models import ReminderOccurrence
from app.safety import service as safety
from app.web.formats import format_datetime
from tests import factories
from tests.alerts.conftest import (
    alerts_of,
    apply,
    bp_emergency_gate,
    events_of,
    occurrences,
    set_receives_alerts,
)
from tests.conftest import Auth
from tests.helpers import another_client, follow


def severe_side_effect(db, patient, at, item_id=None) -> dict:
    return apply(db, patient, "checkin", {"slot": "daily", "values": {"nausea": "severe"}}, at,
                 item_id=item_id)


def bp_hold_gate(db, patient, at, item_id=None) -> dict:
    # At the factories' protocol hold level of 160/100, below the 180/120 emergency.
    result = apply(db, patient, "gate", factories.gate_data(systolic=170, diastolic=105), at,
                   item_id=item_id)
    assert result["status"] == "created", result
    return result


def breathing_concern(db, patient, at, item_id=None) -> dict:
    # The sitter's observation raises this event through safety.raise_event (as hard to rouse).
    event = safety.raise_event(db, patient_id=patient.id, kind="breathing_concern", level="high",
                               occurred_at=at, source_id=item_id or uuid.uuid4(),
                               details={"slot": "observe", "values": {"breathing": True}}, now=at)
    return {"id": str(event.source_id)}


CAREGIVERS_ONLY = {"severe_side_effect": severe_side_effect, "bp_hold": bp_hold_gate}
CAUSES = {**CAREGIVERS_ONLY, "breathing_concern": breathing_concern}


def names(users) -> list[str]:
    return [u.display_name for u in users]


def text(response) -> str:
    return html.unescape(response.text)


def no_consent(db, patient) -> None:
    db.add(CheckinSettings(patient_id=patient.id, share_alerts_with_caregiver=False))
    db.flush()


# --- raising and who is told ------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CAUSES))
def test_each_new_kind_raises_one_alert_with_the_right_contacts(db, clinic, kind):
    result = CAUSES[kind](db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    assert alert.kind == kind and alert.next_notify_at == clinic.t0
    if kind == "bp_hold":
        assert str(alert.source_id) == result["id"]  # the gate: there is no safety event
    else:
        (event,) = events_of(db, clinic.patient, kind)
        assert alert.source_id == event.id
    expected = ["Casey Carer"] if kind in CAREGIVERS_ONLY else [
        "Dr Zhou", "Dr Adams", "Casey Carer"]
    assert names(alerts.contacts(db, alert)) == expected

    # The first push goes to the first contact: the caregiver, for the caregivers-only kinds.
    assert alerts.notify_due(db, clinic.t0) == 1
    db.commit()
    (told,) = occurrences(db, alert)
    assert told.user_id == (clinic.caregiver.id if kind in CAREGIVERS_ONLY else clinic.first.id)


@pytest.mark.parametrize("kind", sorted(CAREGIVERS_ONLY))
def test_the_prescriber_is_never_paged_for_a_caregivers_only_kind(db, clinic, kind):
    CAUSES[kind](db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    # Round the list three times: the caregiver each time, never a prescriber.
    for step in range(3):
        alerts.notify_due(db, clinic.t0 + step * timedelta(minutes=30))
    db.commit()
    assert {o.user_id for o in occurrences(db, alert)} == {clinic.caregiver.id}
    # Not in the prescriber's open list or menu count; in the caregiver's.
    assert alerts.open_alerts(db, clinic.first) == []
    assert alerts.open_count(db, clinic.first) == 0
    assert [a.id for a in alerts.open_alerts(db, clinic.caregiver)] == [alert.id]
    assert alerts.open_count(db, clinic.caregiver) == 1


@pytest.mark.parametrize("kind", sorted(CAREGIVERS_ONLY))
def test_no_caregiver_accepted_alerts_so_no_alert(db, clinic, kind):
    set_receives_alerts(db, clinic.caregiver, clinic.patient, False)
    CAUSES[kind](db, clinic.patient, clinic.t0)
    db.commit()
    assert alerts_of(db, clinic.patient) == []
    assert alerts.notify_due(db, clinic.t0) == 0
    assert alerts.open_alerts(db, clinic.caregiver) == []


@pytest.mark.parametrize("kind", sorted(CAREGIVERS_ONLY))
def test_without_the_patients_consent_no_caregiver_is_told(db, clinic, kind):
    no_consent(db, clinic.patient)
    CAUSES[kind](db, clinic.patient, clinic.t0)
    db.commit()
    assert alerts_of(db, clinic.patient) == []
    if kind == "severe_side_effect":  # still on the patient's record for the prescriber
        assert len(events_of(db, clinic.patient, kind)) == 1


def test_a_breathing_concern_without_consent_goes_to_the_prescribers_only(db, clinic):
    no_consent(db, clinic.patient)
    breathing_concern(db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    assert names(alerts.contacts(db, alert)) == ["Dr Zhou", "Dr Adams"]
    assert alerts.open_alerts(db, clinic.caregiver) == []


def test_a_caregiver_who_did_not_accept_is_not_told_but_one_who_did_is(db, clinic):
    other = factories.user(db, role="caregiver", display_name="Sam Sitter")
    factories.link(db, clinic.patient, other, now=clinic.t0 - timedelta(days=1))
    db.commit()
    severe_side_effect(db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    assert names(alerts.contacts(db, alert)) == ["Casey Carer"]
    assert alerts.open_alerts(db, other) == []
    set_receives_alerts(db, other, clinic.patient, True)
    db.commit()
    assert names(alerts.contacts(db, alert)) == ["Casey Carer", "Sam Sitter"]


def test_a_caregivers_only_alert_with_nobody_left_stops_waiting(db, clinic):
    bp_hold_gate(db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    set_receives_alerts(db, clinic.caregiver, clinic.patient, False)  # before the first push
    db.commit()
    assert alerts.notify_due(db, clinic.t0) == 0
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    assert alert.next_notify_at is None and alert.acknowledged_at is None
    assert occurrences(db, alert) == []


# --- replays ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["severe_side_effect", "bp_hold"])
def test_a_replayed_sync_item_raises_nothing_new(db, clinic, kind):
    item_id = uuid.uuid4()
    first = CAUSES[kind](db, clinic.patient, clinic.t0, item_id=item_id)
    db.commit()
    again = apply(db, clinic.patient, "gate" if kind == "bp_hold" else "checkin",
                  factories.gate_data(systolic=170, diastolic=105) if kind == "bp_hold"
                  else {"slot": "daily", "values": {"nausea": "severe"}},
                  clinic.t0, item_id=item_id, received=clinic.t0 + timedelta(minutes=2))
    db.commit()
    assert first["status"] == "created" and again["status"] == "duplicate"
    assert [a.kind for a in alerts_of(db, clinic.patient)] == [kind]


def test_raising_again_for_the_same_source_adds_nothing(db, clinic):
    gate = bp_hold_gate(db, clinic.patient, clinic.t0)
    breathing_concern(db, clinic.patient, clinic.t0)
    db.commit()
    assert alerts.raise_for_bp_hold(db, patient_id=clinic.patient.id,
                                    gate_id=uuid.UUID(gate["id"]), now=clinic.t0) is None
    (event,) = events_of(db, clinic.patient, "breathing_concern")
    assert alerts.raise_for_event(db, event, clinic.t0 + timedelta(minutes=1)) is None
    assert sorted(a.kind for a in alerts_of(db, clinic.patient)) == [
        "bp_hold", "breathing_concern"]


def test_an_emergency_reading_is_not_also_a_hold_alert(db, clinic):
    bp_emergency_gate(db, clinic.patient, clinic.t0)
    apply(db, clinic.patient, "gate", factories.gate_data(), clinic.t0 + timedelta(minutes=6))
    db.commit()
    assert [a.kind for a in alerts_of(db, clinic.patient)] == ["bp_emergency"]


def test_a_hold_for_another_reason_raises_no_bp_hold_alert(db, clinic):
    # Pulse and checklist are fine, blood pressure is fine: a sitter missing holds, BP does not.
    checklist = {**factories.CHECKLIST_ALL_YES, "sitter_present": False}
    result = apply(db, clinic.patient, "gate", factories.gate_data(checklist=checklist),
                   clinic.t0)
    db.commit()
    assert result["status"] == "created"
    assert alerts_of(db, clinic.patient) == []


# --- the notification -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CAUSES))
def test_the_notification_says_nothing_about_health(db, clinic, kind):
    CAUSES[kind](db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    alerts.notify_due(db, clinic.t0)
    db.commit()
    (occurrence,) = occurrences(db, alert)
    body = dispatcher.payload(occurrence, None)
    assert body["body"] == texts.ALERT_MESSAGE
    words = " ".join(str(v) for v in body.values()).lower()
    for word in ("blood", "pressure", "breath", "side effect", "nausea", "severe", "robin",
                 str(clinic.patient.id)):
        assert word not in words


# --- the acknowledgement, as the rest of the care team sees it --------------------------------


def test_the_acknowledgement_is_shown_to_the_other_caregiver_the_prescriber_and_the_patient(
        db, auth, client, clinic):
    other = factories.user(db, role="caregiver", display_name="Sam Sitter")
    factories.link(db, clinic.patient, other, now=clinic.t0 - timedelta(days=1))
    set_receives_alerts(db, other, clinic.patient, True)
    db.commit()
    severe_side_effect(db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)

    # The prescriber is not paged, but sees it open on the patient's page.
    with another_client() as prescriber:
        assert Auth(prescriber).login(clinic.first.email).status_code == 303
        page = text(prescriber.get(f"/patients/{clinic.patient.id}"))
        assert "A severe side effect was reported." in page
        assert f'action="/alerts/{alert.id}/acknowledge"' in page

    # Casey acknowledges it.
    auth.login(clinic.caregiver.email)
    done = auth.post(f"/alerts/{alert.id}/acknowledge",
                     {"note": "Sat with Robin, nausea easing.", "back": "/alerts"})
    assert done.status_code == 303
    assert "Acknowledged by Casey Carer" in text(follow(client, done))
    stored = db.exec(select(Alert).where(Alert.id == alert.id)).one()
    db.refresh(stored)
    when = stored.acknowledged_at

    def shows_ack(page: str, tz: str) -> bool:
        stamp = format_datetime(when.astimezone(ZoneInfo(tz)), "datetime")
        return f"Acknowledged by Casey Carer, {stamp}" in page

    # The other caregiver: on the alerts page and on the person's page; no longer open.
    with another_client() as second:
        Auth(second).login(other.email)
        alerts_page = text(second.get("/alerts"))
        assert shows_ack(alerts_page, other.timezone)
        assert "A severe side effect was reported." in alerts_page
        assert f'action="/alerts/{alert.id}/acknowledge"' not in alerts_page
        person = text(second.get(f"/supporting/{clinic.patient.id}"))
        assert shows_ack(person, other.timezone)

    # The prescriber: on the patient's page and on their alerts page.
    with another_client() as prescriber:
        Auth(prescriber).login(clinic.first.email)
        page = text(prescriber.get(f"/patients/{clinic.patient.id}"))
        assert shows_ack(page, clinic.first.timezone)
        assert "Sat with Robin, nausea easing." in page
        assert shows_ack(text(prescriber.get("/alerts")), clinic.first.timezone)

    # The patient: on their care team page.
    with another_client() as patient:
        Auth(patient).login(clinic.patient.email)
        page = text(patient.get("/care-team"))
        assert "A severe side effect was reported." in page
        assert shows_ack(page, clinic.patient.timezone)


def test_a_prescriber_may_still_acknowledge_a_caregivers_only_alert(db, auth, client, clinic):
    bp_hold_gate(db, clinic.patient, clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    auth.login(clinic.first.email)
    back = f"/patients/{clinic.patient.id}"
    done = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "", "back": back})
    assert done.status_code == 303
    page = text(follow(client, done))
    assert "Acknowledged by Dr Zhou" in page
    assert "Blood pressure at or above the hold level before a dose" in page
    db.expire_all()
    assert db.get(Alert, alert.id).acknowledged_by_id == clinic.first.id
    # Nothing more is queued for the caregiver.
    assert alerts.notify_due(db, clinic.t0 + timedelta(hours=1)) == 0
    assert db.exec(select(ReminderOccurrence).where(
        ReminderOccurrence.subject_id == alert.id)).all() == []


def test_the_patient_can_turn_sharing_off_and_the_next_hold_pages_nobody(db, clinic):
    checkins.update_patient_settings(db, patient=clinic.patient, mood_time="20:00",
                                     share_alerts=False)
    db.commit()
    bp_hold_gate(db, clinic.patient, clinic.t0)
    db.commit()
    assert alerts_of(db, clinic.patient) == []
