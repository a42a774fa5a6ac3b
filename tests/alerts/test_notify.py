"""Who is told about an alert, in which order and when; acknowledging it; and who may."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.alerts import service as alerts
from app.alerts.models import Alert
from app.careteam.models import CareLink
from app.checkins.models import CheckinSettings
from app.config import settings
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.reminders.models import OccurrenceStatus, ReminderOccurrence
from tests import factories
from tests.alerts.conftest import (
    alerts_of,
    hard_to_rouse,
    occurrences,
    open_alert,
    set_receives_alerts,
)

REPEAT = timedelta(minutes=settings.alert_repeat_minutes)


def names(users) -> list[str]:
    return [u.display_name for u in users]


def test_contacts_are_prescribers_by_link_age_then_consenting_caregivers(db, clinic):
    alert = open_alert(db, clinic)
    assert names(alerts.contacts(db, alert)) == ["Dr Zhou", "Dr Adams", "Casey Carer"]


def test_notify_due_tells_each_contact_in_turn_until_acknowledged(db, clinic):
    alert = open_alert(db, clinic)
    t0 = clinic.t0

    # First contact at once.
    assert alerts.notify_due(db, t0) == 1
    db.commit()
    (first,) = occurrences(db, alert)
    assert first.user_id == clinic.first.id and first.patient_id == clinic.patient.id
    assert (first.kind, first.rule, first.local_time) == ("alert", f"alert:{alert.id}", "0")
    assert first.due_at == first.send_at == t0 and first.status == OccurrenceStatus.PENDING
    assert first.url == "/alerts" and first.subject_id == alert.id
    assert str(clinic.patient.id) not in first.url

    # Nobody else before the clinic's delay...
    assert alerts.notify_due(db, t0 + REPEAT - timedelta(seconds=1)) == 0
    assert len(occurrences(db, alert)) == 1
    # ...then the next contact, and round the list again.
    for step in range(1, 5):
        assert alerts.notify_due(db, t0 + step * REPEAT) == 1
    db.commit()
    told = occurrences(db, alert)
    assert [o.user_id for o in told] == [
        clinic.first.id,
        clinic.second.id,
        clinic.caregiver.id,
        clinic.first.id,
        clinic.second.id,
    ]
    assert [o.local_time for o in told] == ["0", "1", "2", "3", "4"]
    assert [o.send_at for o in told] == [t0 + n * REPEAT for n in range(5)]
    stored = db.get(Alert, alert.id)
    assert stored.notified_count == 5 and stored.next_notify_at == t0 + 5 * REPEAT


def test_a_second_pass_at_the_same_moment_notifies_nobody_twice(db, clinic):
    alert = open_alert(db, clinic)
    assert alerts.notify_due(db, clinic.t0) == 1
    assert alerts.notify_due(db, clinic.t0) == 0
    db.commit()
    assert len(occurrences(db, alert)) == 1


def test_acknowledging_stops_notifications_and_skips_a_pending_one(db, clinic):
    alert = open_alert(db, clinic)
    alerts.notify_due(db, clinic.t0)
    alerts.notify_due(db, clinic.t0 + REPEAT)
    db.commit()
    sent, pending = occurrences(db, alert)
    sent.status = OccurrenceStatus.DISPATCHED  # the dispatcher sent the first one already
    db.add(sent)
    db.commit()

    now = clinic.t0 + REPEAT + timedelta(minutes=1)
    result = alerts.acknowledge(
        db,
        user=clinic.second,
        alert_id=alert.id,
        note="  Called Robin; on the way to urgent care.  ",
        now=now,
    )
    db.commit()
    assert not result.already
    stored = db.get(Alert, alert.id)
    assert stored.acknowledged_at == now and stored.acknowledged_by_id == clinic.second.id
    assert stored.acknowledgement_note == "Called Robin; on the way to urgent care."

    sent, pending = occurrences(db, alert)
    assert sent.status == OccurrenceStatus.DISPATCHED
    assert (pending.status, pending.skip_reason) == (OccurrenceStatus.SKIPPED, "acknowledged")
    # Never notified again.
    assert alerts.notify_due(db, clinic.t0 + 10 * REPEAT) == 0
    assert len(occurrences(db, alert)) == 2


def test_acknowledging_twice_keeps_the_first(db, clinic):
    alert = open_alert(db, clinic)
    first = alerts.acknowledge(
        db, user=clinic.first, alert_id=alert.id, note="", now=clinic.t0 + timedelta(minutes=2)
    )
    again = alerts.acknowledge(
        db,
        user=clinic.second,
        alert_id=alert.id,
        note="Me too",
        now=clinic.t0 + timedelta(minutes=3),
    )
    db.commit()
    assert not first.already and again.already
    stored = db.get(Alert, alert.id)
    assert stored.acknowledged_by_id == clinic.first.id
    assert stored.acknowledged_at == clinic.t0 + timedelta(minutes=2)
    assert stored.acknowledgement_note is None  # optional: an empty note is no note
    assert again.alert.acknowledged_by_id == clinic.first.id


def test_a_note_over_the_limit_is_refused_and_nothing_is_written(db, clinic):
    alert = open_alert(db, clinic)
    with pytest.raises(Invalid) as err:
        alerts.acknowledge(db, user=clinic.first, alert_id=alert.id, note="x" * 1001, now=clinic.t0)
    assert err.value.field == "note"
    db.rollback()
    assert db.get(Alert, alert.id).acknowledged_at is None
    # Exactly the limit is fine.
    alerts.acknowledge(db, user=clinic.first, alert_id=alert.id, note="y" * 1000, now=clinic.t0)
    assert len(db.get(Alert, alert.id).acknowledgement_note) == 1000


def test_with_nobody_to_tell_the_alert_waits_for_the_next_pass(db):
    patient = factories.user(db, role="patient")
    t0 = utcnow()
    hard_to_rouse(db, patient, t0)
    db.commit()
    (alert,) = alerts_of(db, patient)
    assert alerts.notify_due(db, t0) == 0
    db.commit()
    assert db.get(Alert, alert.id).notified_count == 0
    assert occurrences(db, alert) == []

    prescriber = factories.user(db, role="prescriber")
    factories.link(db, patient, prescriber)
    db.commit()
    assert alerts.notify_due(db, t0 + timedelta(seconds=5)) == 1
    db.commit()
    assert [o.user_id for o in occurrences(db, alert)] == [prescriber.id]


# --- caregivers' consent ---------------------------------------------------------------------


def test_a_caregiver_who_has_not_accepted_alerts_is_not_a_contact(db, clinic):
    set_receives_alerts(db, clinic.caregiver, clinic.patient, False)
    alert = open_alert(db, clinic)
    assert names(alerts.contacts(db, alert)) == ["Dr Zhou", "Dr Adams"]
    assert alerts.open_alerts(db, clinic.caregiver) == []
    assert alerts.open_count(db, clinic.caregiver) == 0
    with pytest.raises(NotFound):
        alerts.acknowledge(db, user=clinic.caregiver, alert_id=alert.id, note="", now=clinic.t0)


def test_the_patients_consent_at_the_time_of_the_event_decides(db, clinic):
    # Sharing off when it happened: the caregiver is not told, even after sharing is back on.
    settings_row = CheckinSettings(patient_id=clinic.patient.id, share_alerts_with_caregiver=False)
    db.add(settings_row)
    db.commit()
    withheld = open_alert(db, clinic)
    settings_row.share_alerts_with_caregiver = True
    db.add(settings_row)
    db.commit()
    assert names(alerts.contacts(db, withheld)) == ["Dr Zhou", "Dr Adams"]
    assert alerts.open_count(db, clinic.caregiver) == 0
    with pytest.raises(NotFound):
        alerts.acknowledge(db, user=clinic.caregiver, alert_id=withheld.id, note="", now=clinic.t0)

    # Shared when it happened: the caregiver is a contact and may acknowledge it.
    hard_to_rouse(db, clinic.patient, clinic.t0 + timedelta(minutes=1))
    db.commit()
    shared = alerts_of(db, clinic.patient)[-1]
    assert names(alerts.contacts(db, shared))[-1] == "Casey Carer"
    assert [a.id for a in alerts.open_alerts(db, clinic.caregiver)] == [shared.id]
    assert alerts.open_count(db, clinic.caregiver) == 1
    result = alerts.acknowledge(
        db,
        user=clinic.caregiver,
        alert_id=shared.id,
        note="With her.",
        now=clinic.t0 + timedelta(minutes=2),
    )
    assert result.alert.acknowledged_by_id == clinic.caregiver.id


def test_the_caregiver_switch_is_their_own_link_only(db, clinic):
    set_receives_alerts(db, clinic.caregiver, clinic.patient, False)
    alerts.set_receives_alerts(
        db, caregiver=clinic.caregiver, patient_id=clinic.patient.id, on=True
    )
    assert alerts.receives_alerts_by_patient(db, clinic.caregiver) == {clinic.patient.id: True}
    stranger = factories.user(db, role="patient")
    with pytest.raises(NotFound):
        alerts.set_receives_alerts(db, caregiver=clinic.caregiver, patient_id=stranger.id, on=True)
    with pytest.raises(NotFound):  # a prescriber has no caregiver link to switch
        alerts.set_receives_alerts(
            db, caregiver=clinic.first, patient_id=clinic.patient.id, on=True
        )


def test_a_sitter_who_joined_after_an_alert_is_neither_told_nor_shown_it(db, clinic):
    """A new sitter saw alerts raised before they joined, an 8-day-old high-risk screen's among
    them, with Acknowledge: the patient had shared each with the team it had then, and a
    stranger to it acknowledging would end its notices to the people who know. They are told
    of what is raised after they join."""
    alert = open_alert(db, clinic)
    newcomer = factories.user(db, role="caregiver", display_name="Nico New")
    factories.link(db, clinic.patient, newcomer, now=clinic.t0 + timedelta(minutes=1))
    set_receives_alerts(db, newcomer, clinic.patient, True)
    db.commit()
    assert names(alerts.contacts(db, alert)) == ["Dr Zhou", "Dr Adams", "Casey Carer"]
    assert alerts.open_alerts(db, newcomer) == [] and alerts.open_count(db, newcomer) == 0
    with pytest.raises(NotFound):
        alerts.acknowledge(db, user=newcomer, alert_id=alert.id, note="",
                           now=clinic.t0 + timedelta(minutes=2))
    # Told in turn of none of its steps, however long it stays open.
    for step in range(6):
        alerts.notify_due(db, clinic.t0 + step * REPEAT)
    db.commit()
    assert newcomer.id not in {o.user_id for o in occurrences(db, alert)}

    # What is raised after they joined is theirs, as for everyone on the team.
    hard_to_rouse(db, clinic.patient, clinic.t0 + timedelta(minutes=3))
    db.commit()
    later = alerts_of(db, clinic.patient)[-1]
    assert names(alerts.contacts(db, later))[-2:] == ["Casey Carer", "Nico New"]
    assert [a.id for a in alerts.open_alerts(db, newcomer)] == [later.id]


def test_a_sitter_added_back_is_not_told_of_what_was_raised_while_they_were_off(db, clinic):
    link = db.exec(select(CareLink).where(CareLink.member_id == clinic.caregiver.id)).one()
    link.revoked_at = clinic.t0 - timedelta(minutes=5)
    db.add(link)
    db.commit()
    alert = open_alert(db, clinic)  # raised while Casey was off the team
    factories.link(db, clinic.patient, clinic.caregiver, now=clinic.t0 + timedelta(minutes=1))
    db.commit()
    assert names(alerts.contacts(db, alert)) == ["Dr Zhou", "Dr Adams"]
    assert alerts.open_alerts(db, clinic.caregiver) == []


def test_a_revoked_link_ends_being_a_contact(db, clinic):
    alert = open_alert(db, clinic)
    for link in db.exec(
        select(CareLink).where(CareLink.member_id.in_([clinic.first.id, clinic.caregiver.id]))
    ).all():
        link.revoked_at = clinic.t0
        db.add(link)
    db.commit()
    assert names(alerts.contacts(db, alert)) == ["Dr Adams"]
    assert alerts.open_count(db, clinic.first) == 0
    with pytest.raises(NotFound):
        alerts.acknowledge(db, user=clinic.first, alert_id=alert.id, note="", now=clinic.t0)


# --- who may acknowledge ---------------------------------------------------------------------


def test_another_prescribers_patient_is_not_found_and_nothing_is_written(db, clinic):
    alert = open_alert(db, clinic)
    alerts.notify_due(db, clinic.t0)
    db.commit()
    outsider = factories.user(db, role="prescriber")
    db.commit()
    for who in (outsider, clinic.patient):
        with pytest.raises(NotFound):
            alerts.acknowledge(db, user=who, alert_id=alert.id, note="Not mine", now=clinic.t0)
        assert alerts.open_alerts(db, who) == [] and alerts.open_count(db, who) == 0
    db.commit()
    stored = db.get(Alert, alert.id)
    assert stored.acknowledged_at is None and stored.acknowledgement_note is None
    assert db.exec(select(ReminderOccurrence.status)).all() == [OccurrenceStatus.PENDING]


def test_open_and_recent_lists_for_a_prescriber(db, clinic):
    older = open_alert(db, clinic, clinic.t0 - timedelta(minutes=10))
    hard_to_rouse(db, clinic.patient, clinic.t0)
    db.commit()
    newer = alerts_of(db, clinic.patient)[-1]
    assert [a.id for a in alerts.open_alerts(db, clinic.first)] == [older.id, newer.id]
    assert alerts.open_count(db, clinic.first) == 2
    alerts.acknowledge(db, user=clinic.first, alert_id=older.id, note="ok", now=clinic.t0)
    db.commit()
    assert [a.id for a in alerts.open_alerts(db, clinic.second)] == [newer.id]
    assert alerts.open_count(db, clinic.second) == 1
    (view,) = alerts.views(db, alerts.recent_acknowledged(db, clinic.second, 10))
    assert (view.patient_name, view.acknowledged_by) == ("Robin Example", "Dr Zhou")


def test_the_prescribers_review_of_the_event_answers_its_alert(db, clinic):
    """A reviewed event's alert stayed open, and went on to the next contact in turn: a tester
    saw a high-risk screen reviewed the next morning reach its third contact days later. The
    review acknowledges it, by the reviewer, with the review's note; nobody else is told."""
    from app.checkins.models import SafetyEvent
    from app.safety import service as safety

    alert = open_alert(db, clinic)
    t0 = clinic.t0
    assert alerts.notify_due(db, t0) == 1
    event = db.get(SafetyEvent, alert.source_id)
    safety.review(db, prescriber=clinic.second, patient_id=clinic.patient.id,
                  event_id=event.id, note="Called Robin: rested, 142/88 now.",
                  now=t0 + timedelta(minutes=3))
    db.commit()
    db.refresh(alert)
    assert alert.acknowledged_at == t0 + timedelta(minutes=3)
    assert alert.acknowledged_by_id == clinic.second.id
    assert alert.acknowledgement_note == "Called Robin: rested, 142/88 now."
    assert alerts.notify_due(db, t0 + 3 * REPEAT) == 0
    assert [o.user_id for o in occurrences(db, alert)] == [clinic.first.id]
