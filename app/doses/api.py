"""Read APIs for doses and the Today state (writes go through /api/v1/sync)."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from app.accounts.models import User
from app.careteam import access
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PatientUser
from app.doses import service
from app.doses.models import Dose
from app.protocols import service as protocols
from app.web.ranges import query_window

router = APIRouter(prefix="/api/v1", tags=["doses"])


def dose_json(dose: Dose) -> dict[str, Any]:
    return {
        "id": str(dose.id),
        "taken_at": dose.taken_at.isoformat(),
        "recorded_at": dose.recorded_at.isoformat(),
        "received_at": dose.received_at.isoformat(),
        "dose_mg": str(dose.dose_mg),
        "troches": str(dose.troches),
        "route": dose.route,
        "gate_id": str(dose.gate_id) if dose.gate_id else None,
        "override_reason": dose.override_reason,
        "lot": dose.lot,
        "flags": dose.flags,
        "status": dose.status,
        "revision": dose.revision,
    }


def _patient_for(session, user: User, patient_id: uuid.UUID | None) -> User:
    # Everyone goes through the access module; a patient's own id is the default.
    return access.require_patient_access(session, user, patient_id or user.id)


@router.get("/doses")
def list_doses(
    session: SessionDep,
    user: CurrentUser,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    patient_id: uuid.UUID | None = Query(default=None),
) -> dict[str, Any]:
    patient = _patient_for(session, user, patient_id)
    start, end = query_window(start, end)
    return {"doses": [dose_json(d) for d in service.list_doses(session, patient.id, start, end)]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@router.get("/today")
def today(session: SessionDep, user: PatientUser) -> dict[str, Any]:
    """The Today state, with the protocol snapshot the phone needs to run the gate offline."""
    now = utcnow()
    state = service.today(session, user, now)
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
            "bp_emergency_systolic": 180,
            "bp_emergency_diastolic": 120,
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
    body["recent_doses"] = [
        {"taken_at": d.taken_at.isoformat(), "dose_mg": str(d.dose_mg)}
        for d in service.active_doses(session, user.id, start=now - timedelta(days=8))
    ]
    if state.next_session:
        body["next_session"] = {
            "scheduled_at": state.next_session.occurrence.scheduled_at.isoformat(),
            "phase": state.next_session.occurrence.phase.value,
            "state": state.next_session.state.value,
        }
    body["last_dose"] = dose_json(state.last_dose) if state.last_dose else None
    if state.ledger:
        body["ledger"] = {"balance": str(state.ledger.balance),
                          "days_of_supply": state.ledger.days_of_supply}
    return body
