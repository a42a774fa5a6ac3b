"""Safety events as dosing holds: what the record says about the patient right now, raising the
events the gate and doses create, and the prescriber's review that clears a hold.

Check-ins and questionnaires raise their own events (app/checkins/service.py); this module reads
them all. A high-risk suicidality screen holds dosing until a prescriber reviews it; a reading at
or above 180/120 holds dosing for the protocol's lockout period.
"""

import contextlib
import functools
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, exists
from sqlmodel import Session, col, func, select

from app.accounts.models import User
from app.alerts import service as alerts
from app.alerts.models import Alert
from app.audit import service as audit
from app.careteam import access
from app.checkins.models import CheckinSettings, QuestionnaireResponse, SafetyEvent
from app.doses import rules
from app.errors import Invalid, NotFound
from app.i18n import gettext as _

BP_EMERGENCY = "bp_emergency"
DOSE_AGAINST_HOLD = "dose_against_hold"
OFFLINE_GATE_DISAGREED = "offline_gate_disagreed"
# A PHQ-9 with item 9 above 0: its safety event, which holds dosing until a screener follows.
PHQ9_ITEM9 = "phq9_item9"
REVIEW_NOTE_MAX = 1000


def _share(session: Session, patient_id: uuid.UUID) -> bool:
    settings = session.get(CheckinSettings, patient_id)
    return settings.share_alerts_with_caregiver if settings else True


def raise_event(session: Session, *, patient_id: uuid.UUID, kind: str, level: str,
                occurred_at: datetime, source_id: uuid.UUID, details: dict,
                holds_dosing: bool = False, now: datetime | None = None) -> SafetyEvent:
    """A safety event for the care team, with the patient's sharing consent at this moment.

    The alert it calls for (if any) is written in the same transaction, so a rolled-back request
    leaves neither; the dispatcher notifies the care team later, outside any request.
    """
    event = SafetyEvent(patient_id=patient_id, kind=kind, level=level, occurred_at=occurred_at,
                        source_id=source_id, details=details, holds_dosing=holds_dosing,
                        share_with_caregiver=_share(session, patient_id))
    session.add(event)
    session.flush()
    alerts.raise_for_event(session, event, now or occurred_at)
    return event


def pending_reviews(session: Session, patient_id: uuid.UUID) -> list[SafetyEvent]:
    """Events that hold dosing until a prescriber reviews them, oldest first."""
    return list(session.exec(
        select(SafetyEvent)
        .where(SafetyEvent.patient_id == patient_id, col(SafetyEvent.holds_dosing).is_(True),
               col(SafetyEvent.reviewed_at).is_(None))
        .order_by(col(SafetyEvent.occurred_at))
    ).all())


def state(session: Session, patient_id: uuid.UUID, at: datetime) -> rules.SafetyState:
    """The record's holds as the pure rules take them, for a dose or gate at `at`.

    A pending review holds every dose from the screen on; a dose taken before the screen (logged
    late) is not held by it. The latest crisis reading at or before `at` starts the lockout.
    """
    return states(session, patient_id, (at,))[0]


def states(session: Session, patient_id: uuid.UUID,
           moments: Sequence[datetime]) -> list[rules.SafetyState]:
    """`state` at each of several moments, in one statement (a dose is judged at its time and
    at the end of the form time's tolerance, app/doses/service.py `record_holds`)."""
    params: dict = {"patient_id": patient_id}
    for n, at in enumerate(moments):
        params[f"at_{n}"] = at
        params[f"shown_since_{n}"] = at - UNSCREENED_SHOWN_FOR
    row = session.exec(_states_statement(len(moments)), params=params).one()
    return [rules.SafetyState(review_pending=bool(row[3 * n]), last_emergency_at=row[3 * n + 1],
                              screener_pending=bool(row[3 * n + 2]))
            for n in range(len(moments))]


@functools.cache
def _states_statement(count: int) -> Select:
    """The statement of `states` for `count` moments, with the patient and the moments as bound
    parameters. Built once: building it took most of the call (a gate's 535 µs against 82
    now, a dose's two moments 885 against 109; docs/benchmarks.md), on every gate, dose and
    Today."""
    patient_id = bindparam("patient_id")
    columns: list = []
    for n in range(count):
        at, shown_since = bindparam(f"at_{n}"), bindparam(f"shown_since_{n}")
        columns.append(exists().where(
            SafetyEvent.patient_id == patient_id, col(SafetyEvent.holds_dosing).is_(True),
            col(SafetyEvent.reviewed_at).is_(None), col(SafetyEvent.occurred_at) <= at))
        columns.append(
            select(SafetyEvent.occurred_at)
            .where(SafetyEvent.patient_id == patient_id, SafetyEvent.kind == BP_EMERGENCY,
                   col(SafetyEvent.occurred_at) <= at)
            .order_by(col(SafetyEvent.occurred_at).desc()).limit(1).scalar_subquery())
        # A PHQ-9 item 9 answer above 0 that no screener had followed by `at` (any screener
        # answered between the two will do, so two such answers need one screener; judged by
        # time, not by the event's level, which changes when the screener comes whenever the
        # dose was taken) and no prescriber has reviewed, for as long as Today asks for the
        # screener.
        screened_by_then = exists().where(
            QuestionnaireResponse.patient_id == patient_id,
            QuestionnaireResponse.instrument == "cssrs",
            col(QuestionnaireResponse.completed_at) >= SafetyEvent.occurred_at,
            col(QuestionnaireResponse.completed_at) <= at)
        columns.append(exists().where(
            SafetyEvent.patient_id == patient_id, SafetyEvent.kind == PHQ9_ITEM9,
            col(SafetyEvent.reviewed_at).is_(None), col(SafetyEvent.occurred_at) <= at,
            col(SafetyEvent.occurred_at) > shown_since, ~screened_by_then))
    return select(*columns)


def review(session: Session, *, prescriber: User, patient_id: uuid.UUID, event_id: uuid.UUID,
           note: str, now: datetime) -> SafetyEvent:
    """The prescriber reviews an event with a note; a dosing hold it carried ends now.

    Reviewing twice keeps the first review (who, when, what they wrote): the record is not
    rewritten by a second tap.
    """
    access.require_patient_access(session, prescriber, patient_id, access.Purpose.MANAGE_PROTOCOL)
    event = session.get(SafetyEvent, event_id)
    if event is None or event.patient_id != patient_id:
        raise NotFound()
    note = " ".join(note.split())
    if not note:
        raise Invalid(_("Write what you reviewed and decided, for the record."),
                      field="review_note")
    if len(note) > REVIEW_NOTE_MAX:
        raise Invalid(_("Use at most %(n)s characters.", n=REVIEW_NOTE_MAX), field="review_note")
    if event.reviewed_at is not None:
        return event
    event.reviewed_at = now
    event.reviewed_by_id = prescriber.id
    event.review_note = note
    session.add(event)
    session.flush()
    audit.record(session, action="flag.review", actor=prescriber, patient_id=patient_id,
                 now=now, details={"kind": "safety_event"})
    # The event's alert, still open, is answered by the review: it went on notifying the
    # next contact in turn after the prescriber had dealt with it (a tester saw a reviewed
    # high-risk screen reach its third contact).
    for alert_id in session.exec(select(Alert.id).where(
            Alert.source_id == event.id, col(Alert.acknowledged_at).is_(None))).all():
        # An alert for the caregivers alone is theirs to acknowledge (NotFound for a prescriber).
        with contextlib.suppress(NotFound):
            alerts.acknowledge(session, user=prescriber, alert_id=alert_id,
                               note=note[:alerts.NOTE_MAX], now=now)
    return event


def reviewer_names(session: Session, patient_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Who reviewed this patient's events, by id, for the event list."""
    ids = session.exec(
        select(SafetyEvent.reviewed_by_id)
        .where(SafetyEvent.patient_id == patient_id, col(SafetyEvent.reviewed_by_id).is_not(None))
    ).all()
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(set(ids)))).all()
    return {u.id: u.display_name for u in users}


# How long a PHQ-9 with item 9 above 0 and no screener after it stays pending (Today says so).
UNSCREENED_SHOWN_FOR = timedelta(days=14)


def holds_dosing_now(event: SafetyEvent, now: datetime) -> bool:
    """Whether this event holds dosing now, as `states` judges, for the prescriber's page to say
    so and to name its review "clear the hold": a hold until reviewed (a high-risk screen), or
    an item 9 answer no screener has followed yet (its level says so), for its first two
    weeks, until reviewed or screened."""
    if event.reviewed_at is not None:
        return False
    if event.holds_dosing:
        return True
    return (event.kind == PHQ9_ITEM9 and event.level == "unscreened"
            and unscreened_still_holds(event.occurred_at, now))


def unscreened_still_holds(occurred_at: datetime, now: datetime) -> bool:
    """Whether an item 9 answer no screener has followed yet still holds dosing: for its first
    two weeks (the prescriber's page and the patient list's flag both ask this one rule)."""
    return now - occurred_at < UNSCREENED_SHOWN_FOR


def screener_follows(session: Session, patient_id: uuid.UUID,
                     now: datetime) -> uuid.UUID | None:
    """The PHQ-9 a C-SSRS screener opened now follows: the latest still unscreened. Found here,
    not carried in the screener's address, where '?follows=' alone would tell a proxy's log
    that item 9 (thoughts of self-harm) was answered above 0."""
    pending = unscreened_item9(session, patient_id, now - UNSCREENED_SHOWN_FOR)
    return pending[0].id if pending else None


def unscreened_item9(session: Session, patient_id: uuid.UUID,
                     since: datetime) -> list[QuestionnaireResponse]:
    """PHQ-9 answers with item 9 above 0 that no completed C-SSRS screener follows yet: none
    answered at or after them (the rule the dosing hold judges by, `states`), so two such
    answers need one screener, and Today stops asking when the hold lifts."""
    positives = session.exec(
        select(QuestionnaireResponse)
        .where(QuestionnaireResponse.patient_id == patient_id,
               QuestionnaireResponse.instrument == "phq9",
               QuestionnaireResponse.follow_up == "cssrs",
               col(QuestionnaireResponse.completed_at) >= since)
        .order_by(col(QuestionnaireResponse.completed_at).desc())
    ).all()
    if not positives:
        return []
    last_screen = session.exec(
        select(func.max(QuestionnaireResponse.completed_at))
        .where(QuestionnaireResponse.patient_id == patient_id,
               QuestionnaireResponse.instrument == "cssrs")
    ).one()
    return [p for p in positives if last_screen is None or p.completed_at > last_screen]
