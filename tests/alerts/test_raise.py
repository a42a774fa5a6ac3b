"""Which safety events become alerts, once each, in the same transaction as the event; and the
screener left unanswered."""

import uuid
from datetime import timedelta

import pytest

from app.alerts import service as alerts
from app.checkins.models import SafetyEvent
from app.config import settings
from tests import factories
from tests.alerts.conftest import (
    HIGH_RISK_CSSRS,
    LOW_RISK_CSSRS,
    alerts_of,
    apply,
    bp_emergency_gate,
    cssrs,
    dose_against_hold,
    events_of,
    hard_to_rouse,
    phq9,
    set_receives_alerts,
)


def high_risk_screen(db, patient, at):
    return cssrs(
        db, patient, at, phq9(db, patient, at - timedelta(minutes=3))["id"], HIGH_RISK_CSSRS
    )


def bp_emergency_checkin(db, patient, at):
    return apply(
        db, patient, "checkin", {"slot": "daily", "values": {"systolic": 182, "diastolic": 95}}, at
    )


CAUSES = {
    # alert kind → (how the app records it, the safety event it raises)
    "cssrs_high": (high_risk_screen, "positive_screen"),
    "bp_emergency (gate)": (bp_emergency_gate, "bp_emergency"),
    "bp_emergency (check-in)": (bp_emergency_checkin, "bp_emergency"),
    "hard_to_rouse": (hard_to_rouse, "hard_to_rouse"),
    "dose_against_hold": (dose_against_hold, "dose_against_hold"),
}


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_each_alerting_event_raises_one_alert_to_notify_at_once(db, clinic, cause):
    record, event_kind = CAUSES[cause]
    at = clinic.t0
    record(db, clinic.patient, at)

    (event,) = events_of(db, clinic.patient, event_kind)
    (alert,) = alerts_of(db, clinic.patient)
    assert alert.kind == cause.split(" ")[0]
    assert alert.source_id == event.id
    assert alert.raised_at == at and alert.next_notify_at == at  # first contact at once
    assert alert.notified_count == 0 and alert.acknowledged_at is None

    # Raising it again for the same event (a retried request, a replayed pass) adds nothing.
    assert alerts.raise_for_event(db, event, at + timedelta(minutes=1)) is None
    assert [a.id for a in alerts_of(db, clinic.patient)] == [alert.id]


def test_a_replayed_sync_item_raises_nothing_new(db, clinic):
    item_id = uuid.uuid4()
    data = factories.gate_data(systolic=190)
    first = apply(db, clinic.patient, "gate", data, clinic.t0, item_id=item_id)
    db.commit()
    # The phone sends it again (it never heard the answer).
    again = apply(
        db,
        clinic.patient,
        "gate",
        data,
        clinic.t0,
        item_id=item_id,
        received=clinic.t0 + timedelta(minutes=2),
    )
    db.commit()
    assert first["status"] == "created" and again["status"] == "duplicate"
    assert [a.kind for a in alerts_of(db, clinic.patient)] == ["bp_emergency"]


def test_two_emergency_readings_are_two_alerts(db, clinic):
    bp_emergency_gate(db, clinic.patient, clinic.t0)
    bp_emergency_gate(db, clinic.patient, clinic.t0 + timedelta(minutes=6))
    assert [a.kind for a in alerts_of(db, clinic.patient)] == ["bp_emergency"] * 2


def test_an_alert_is_rolled_back_with_its_event(db, clinic):
    bp_emergency_gate(db, clinic.patient, clinic.t0)
    assert len(alerts_of(db, clinic.patient)) == 1  # written, not committed
    db.rollback()
    assert events_of(db, clinic.patient, "bp_emergency") == []
    assert alerts_of(db, clinic.patient) == []


def test_events_that_page_nobody_raise_no_alert(db, clinic):
    at = clinic.t0
    # A severe side effect and a blood-pressure hold page only caregivers who accepted alerts
    # (tests/alerts/test_caregiver_kinds.py): here nobody has.
    set_receives_alerts(db, clinic.caregiver, clinic.patient, False)
    # A low-risk screener, a severe side effect, a PHQ-9 item 9 flag (until its screener is
    # overdue) and a reading at the hold level but below 180/120.
    cssrs(
        db,
        clinic.patient,
        at,
        phq9(db, clinic.patient, at - timedelta(minutes=2))["id"],
        LOW_RISK_CSSRS,
    )
    apply(db, clinic.patient, "checkin", {"slot": "daily", "values": {"nausea": "severe"}}, at)
    apply(db, clinic.patient, "gate", factories.gate_data(systolic=170, diastolic=105), at)
    kinds = {e.kind: e.level for e in events_of(db, clinic.patient, "positive_screen")}
    assert kinds == {"positive_screen": "low"}
    assert len(events_of(db, clinic.patient, "severe_side_effect")) == 1
    assert len(events_of(db, clinic.patient, "phq9_item9")) == 1
    assert alerts_of(db, clinic.patient) == []


# --- the screener left unanswered ----------------------------------------------------------


def test_an_unanswered_screener_alerts_only_after_the_delay(db, clinic):
    at = clinic.t0
    phq9(db, clinic.patient, at)
    (flag,) = events_of(db, clinic.patient, "phq9_item9")
    delay = timedelta(minutes=settings.screener_unanswered_minutes)

    assert alerts.raise_unanswered_screeners(db, at + delay - timedelta(minutes=1)) == []
    assert alerts_of(db, clinic.patient) == []

    (alert,) = alerts.raise_unanswered_screeners(db, at + delay)
    assert alert.kind == "screener_unanswered" and alert.source_id == flag.id
    assert alert.patient_id == clinic.patient.id
    assert alert.raised_at == at + delay and alert.next_notify_at == at + delay

    # Every later pass finds it raised already.
    assert alerts.raise_unanswered_screeners(db, at + delay + timedelta(minutes=5)) == []
    assert len(alerts_of(db, clinic.patient)) == 1


def test_an_answered_screener_raises_no_unanswered_alert(db, clinic):
    at = clinic.t0
    cssrs(
        db,
        clinic.patient,
        at + timedelta(minutes=3),
        phq9(db, clinic.patient, at)["id"],
        LOW_RISK_CSSRS,
    )
    assert alerts.raise_unanswered_screeners(db, at + timedelta(hours=2)) == []
    assert alerts_of(db, clinic.patient) == []


def test_a_phq9_arriving_late_from_an_offline_phone_gets_the_full_delay(db, clinic):
    # Answered two hours ago offline, received now: the patient still has the whole delay
    # to answer the screener the app asks for next.
    apply(
        db,
        clinic.patient,
        "questionnaire",
        {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 2]},
        clinic.t0 - timedelta(hours=2),
        received=clinic.t0,
    )
    delay = timedelta(minutes=settings.screener_unanswered_minutes)
    assert alerts.raise_unanswered_screeners(db, clinic.t0 + timedelta(minutes=5)) == []
    assert len(alerts.raise_unanswered_screeners(db, clinic.t0 + delay)) == 1


def test_screeners_left_unanswered_long_ago_do_not_page_anyone(db, clinic):
    phq9(db, clinic.patient, clinic.t0)
    later = clinic.t0 + alerts.SCREENER_LOOKBACK + timedelta(hours=1)
    assert alerts.raise_unanswered_screeners(db, later) == []


def test_raise_for_event_returns_the_new_alert_once(db, clinic):
    event = SafetyEvent(
        patient_id=clinic.patient.id,
        kind="hard_to_rouse",
        level="high",
        occurred_at=clinic.t0,
        source_id=uuid.uuid4(),
        details={},
    )
    db.add(event)
    db.flush()
    alert = alerts.raise_for_event(db, event, clinic.t0)
    assert alert is not None and (alert.kind, alert.source_id) == ("hard_to_rouse", event.id)
    assert alerts.raise_for_event(db, event, clinic.t0) is None
