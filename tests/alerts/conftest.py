"""A small clinic for the alert tests: a patient with a protocol, two prescribers linked in
order, a caregiver who accepted alerts, and helpers that cause safety events the way the app
does (through sync.apply, as a phone's outbox sends them)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.accounts.models import User
from app.alerts.models import Alert
from app.careteam.models import CareLink, Relation
from app.checkins.models import SafetyEvent
from app.db import utcnow
from app.reminders.models import ReminderOccurrence
from app.sync import service as sync
from app.sync.service import SyncItem
from tests import factories


@dataclass
class Clinic:
    patient: User
    first: User  # prescriber "Dr Zhou", linked first (a name that sorts last)
    second: User  # prescriber "Dr Adams", linked a day later
    caregiver: User  # accepted alerts
    t0: datetime


def apply(
    db: Session,
    patient: User,
    kind: str,
    data: dict,
    at: datetime,
    item_id: uuid.UUID | None = None,
    received: datetime | None = None,
) -> dict:
    """One item from the patient's phone, recorded at `at` and received then (or later)."""
    item = SyncItem(id=item_id or uuid.uuid4(), kind=kind, recorded_at=at, data=data)
    return sync.apply(db, author=patient, patient=patient, item=item, now=received or at)


def set_receives_alerts(db: Session, caregiver: User, patient: User, on: bool) -> None:
    link = db.exec(
        select(CareLink).where(
            CareLink.member_id == caregiver.id,
            CareLink.patient_id == patient.id,
            CareLink.relation == Relation.CAREGIVER,
        )
    ).one()
    link.receives_alerts = on
    db.add(link)
    db.flush()


@pytest.fixture
def clinic(db) -> Clinic:
    t0 = utcnow().replace(microsecond=0)
    patient = factories.user(db, role="patient", display_name="Robin Example")
    first = factories.user(db, role="prescriber", display_name="Dr Zhou")
    second = factories.user(db, role="prescriber", display_name="Dr Adams")
    caregiver = factories.user(db, role="caregiver", display_name="Casey Carer")
    factories.link(db, patient, first, now=t0 - timedelta(days=8))
    factories.protocol(
        db, first, patient, now=t0 - timedelta(days=8), **factories.session_now_protocol(patient)
    )
    factories.link(db, patient, second, now=t0 - timedelta(days=7))
    factories.link(db, patient, caregiver, now=t0 - timedelta(days=6))
    set_receives_alerts(db, caregiver, patient, True)
    db.commit()
    return Clinic(patient=patient, first=first, second=second, caregiver=caregiver, t0=t0)


def alerts_of(db: Session, patient: User | None = None) -> list[Alert]:
    db.expire_all()
    query = select(Alert)
    if patient is not None:
        query = query.where(Alert.patient_id == patient.id)
    return list(db.exec(query.order_by(Alert.raised_at)).all())


def events_of(db: Session, patient: User, kind: str) -> list[SafetyEvent]:
    return list(
        db.exec(
            select(SafetyEvent).where(
                SafetyEvent.patient_id == patient.id, SafetyEvent.kind == kind
            )
        ).all()
    )


def occurrences(db: Session, alert: Alert) -> list[ReminderOccurrence]:
    db.expire_all()
    return list(
        db.exec(
            select(ReminderOccurrence)
            .where(ReminderOccurrence.subject_id == alert.id)
            .order_by(ReminderOccurrence.created_at, ReminderOccurrence.local_time)
        ).all()
    )


def phq9(db, patient, at, item9: int = 1) -> dict:
    return apply(
        db,
        patient,
        "questionnaire",
        {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, item9]},
        at,
    )


HIGH_RISK_CSSRS = [True, True, False, True, False, False, None]
LOW_RISK_CSSRS = [True, False, None, None, None, False, None]


def cssrs(db, patient, at, follows: str, answers: list) -> dict:
    return apply(
        db,
        patient,
        "questionnaire",
        {"instrument": "cssrs", "answers": answers, "follows_id": follows},
        at,
    )


def bp_emergency_gate(db, patient, at) -> dict:
    return apply(db, patient, "gate", factories.gate_data(systolic=185), at)


def hard_to_rouse(db, patient, at) -> dict:
    return apply(db, patient, "checkin", {"slot": "daily", "values": {"sedation": 3}}, at)


def dose_against_hold(db, patient, at) -> dict:
    gate = apply(db, patient, "gate", factories.gate_data(), at - timedelta(minutes=20))
    apply(
        db,
        patient,
        "dose",
        {
            "taken_at": (at - timedelta(minutes=15)).isoformat(),
            "dose_mg": "100",
            "route": "sublingual",
            "gate_id": gate["id"],
        },
        at - timedelta(minutes=15),
    )
    # A second dose five minutes later, already taken: too soon, so against the hold.
    result = apply(
        db,
        patient,
        "dose",
        {
            "taken_at": at.isoformat(),
            "dose_mg": "100",
            "route": "sublingual",
            "already_taken": True,
            "override_reason": "Took it by mistake.",
            "no_gate_reason": "Forgot the check.",
        },
        at,
    )
    assert "against_hold" in result["flags"], result
    return result


def open_alert(db, clinic: Clinic, at: datetime | None = None) -> Alert:
    """One open bp_emergency alert for the clinic's patient, committed."""
    bp_emergency_gate(db, clinic.patient, at or clinic.t0)
    db.commit()
    (alert,) = alerts_of(db, clinic.patient)
    return alert
