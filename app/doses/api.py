"""Read APIs for doses and the Today state (writes go through /api/v1/sync)."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query

from app.accounts.models import User
from app.careteam import access
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PatientUser
from app.doses import corrections, rules, schemas, service
from app.doses import today as today_state
from app.doses.models import Dose
from app.protocols import service as protocols
from app.safety import service as safety
from app.web.ranges import DayOrInstant, query_window

router = APIRouter(prefix="/api/v1", tags=["doses"])


def revision_json(revision: corrections.RevisionView, *, notes: bool = True) -> dict[str, Any]:
    return {
        "revision": revision.revision,
        "at": revision.at.isoformat(),
        "by": {"id": str(revision.by_id), "name": revision.by_name} if revision.by_id else None,
        "reason": revision.reason if notes else None,
        "changes": revision.changes,
    }


# The patient's own words about a dose, left out for a reader who does not see notes
# (access.sees_notes: a caregiver).
_DOSE_NOTES = ("override_reason", "no_gate_reason", "status_reason")


def dose_json(
    dose: Dose, revisions: list[corrections.RevisionView] | None = None, *, notes: bool = True
) -> dict[str, Any]:
    shown = {
        "id": str(dose.id),
        "taken_at": dose.taken_at.isoformat(),
        "recorded_at": dose.recorded_at.isoformat(),
        "received_at": dose.received_at.isoformat(),
        "dose_mg": str(dose.dose_mg),
        "troches": str(dose.troches),
        "route": dose.route,
        "gate_id": str(dose.gate_id) if dose.gate_id else None,
        "override_reason": dose.override_reason,
        "no_gate_reason": dose.no_gate_reason,
        "lot": dose.lot,
        "rx_number": dose.rx_number,
        "flags": dose.flags,
        "status": dose.status,
        "status_reason": dose.status_reason,
        "revision": dose.revision,
        "revisions": [revision_json(r, notes=notes) for r in revisions or []],
    }
    return shown if notes else {**shown, **dict.fromkeys(_DOSE_NOTES)}


def _patient_for(session, user: User, patient_id: uuid.UUID | None) -> User:
    # Everyone goes through the access module; a patient's own id is the default. Dose history
    # is in a caregiver's "doses" scope and above.
    return access.require_patient_access(session, user, patient_id or user.id,
                                         access.Purpose.VIEW_DOSES)


# The answers' shapes are declared for the schema and checked by tests, not on every answer
# (app/doses/schemas.py says why).
@router.get("/doses", response_model=None,
            responses={200: {"model": schemas.DoseList, "description": "The doses in the window."}})
def list_doses(
    session: SessionDep,
    user: CurrentUser,
    start: DayOrInstant | None = None,
    end: DayOrInstant | None = None,
    patient_id: uuid.UUID | None = Query(default=None),
) -> dict[str, Any]:
    patient = _patient_for(session, user, patient_id)
    start, end = query_window(start, end, patient.timezone)
    doses = service.list_doses(session, patient.id, start, end)
    revisions = corrections.revisions_of(session, [d.id for d in doses])
    notes = access.sees_notes(user)
    return {"doses": [dose_json(d, revisions[d.id], notes=notes) for d in doses]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@router.get("/today", response_model=None,
            responses={200: {"model": schemas.Today,
                             "description": "Today, with what the offline gate judges with."}})
def today(session: SessionDep, user: PatientUser) -> dict[str, Any]:
    """The Today state, with the protocol snapshot the phone needs to run the gate offline."""
    now = utcnow()
    state = today_state.today(session, user, now)
    version = state.protocol
    body: dict[str, Any] = {"now": now.isoformat(), "timezone": user.timezone,
                            "protocol": None, "next_session": None}
    if version is None:
        return body
    body["protocol"] = {
        "version": version.version,
        "strength_mg": str(version.strength_mg),
        "halving_allowed": version.halving_allowed,
        "dose_mg": str(version.dose_mg),
        "route": version.route,
        "hold_minutes": version.hold_minutes,
        "rules": {
            "min_hours_between_doses": str(version.min_hours_between_doses),
            "max_mg_per_24h": str(version.max_mg_per_24h),
            "max_mg_per_7d": str(version.max_mg_per_7d),
            "bp_hold_systolic": version.bp_hold_systolic,
            "bp_hold_diastolic": version.bp_hold_diastolic,
            "bp_emergency_systolic": rules.CRISIS_SYSTOLIC,
            "bp_emergency_diastolic": rules.CRISIS_DIASTOLIC,
            "pulse_hold_low": version.pulse_hold_low,
            "pulse_hold_high": version.pulse_hold_high,
            "gate_valid_minutes": version.gate_valid_minutes,
            "emergency_lockout_hours": version.emergency_lockout_hours,
            "emergency_recheck_minutes": int(rules.EMERGENCY_RECHECK_WAIT.total_seconds() // 60),
            "overridable_holds": version.overridable_holds,
            "never_overridable": sorted(c.value for c in rules.NEVER_OVERRIDABLE),
            "sitter_required": version.sitter_required,
            "required_checklist": version.required_checklist,
        },
        "phase": state.phase,
        "plans": [
            {"phase": p.phase.value, "starts_on": p.starts_on.isoformat(),
             "cadence": p.cadence.value, "at": p.at.isoformat(),
             "weekdays": sorted(p.weekdays), "every_n_days": p.every_n_days, "weeks": p.weeks}
            for p in protocols.plans(version)
        ],
        "grace_hours": str(version.grace_hours),
    }
    # With their ids: a correction the phone holds for one of them counts offline too.
    body["recent_doses"] = [
        {"id": str(d.id), "taken_at": d.taken_at.isoformat(), "dose_mg": str(d.dose_mg)}
        for d in state.doses_read if d.taken_at >= now - timedelta(days=8)
    ]
    if state.next_session:
        body["next_session"] = {
            "scheduled_at": state.next_session.occurrence.scheduled_at.isoformat(),
            "phase": state.next_session.occurrence.phase.value,
            "state": state.next_session.state.value,
        }
    body["last_dose"] = dose_json(state.last_dose) if state.last_dose else None
    # Holds from the record (a pending review, a recent crisis reading): the offline gate must
    # hold too, so the phone gets them with their codes.
    body["holds"] = state.holds
    # The same record as the rules' inputs, so the offline gate (static/offline-gate.js) can
    # re-evaluate them at a later instant: a lockout ends, a recheck wait passes.
    record = state.safety_state
    assert record is not None  # set whenever there is a protocol
    body["safety_state"] = {"review_pending": record.review_pending,
                            "last_emergency_at": _iso(record.last_emergency_at),
                            "screener_pending": record.screener_pending,
                            "screener_pending_since": None}
    if record.screener_pending:
        # When the latest unscreened answer was given: a screener the phone holds lifts the
        # hold only if answered at or after it, as the server judges (offline.js).
        pending = safety.unscreened_item9(session, user.id, now - safety.UNSCREENED_SHOWN_FOR)
        if pending:
            body["safety_state"]["screener_pending_since"] = pending[0].completed_at.isoformat()
    if state.ledger:
        body["ledger"] = {"balance": str(state.ledger.balance),
                          "days_of_supply": state.ledger.days_of_supply}
    return body
