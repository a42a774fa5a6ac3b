"""Read APIs for check-ins and questionnaires (writes go through /api/v1/sync)."""

import uuid
from typing import Any

from fastapi import APIRouter, Query

from app.accounts.models import Role, User
from app.careteam import access
from app.checkins import service
from app.checkins.instruments import MEASURES, risk_loinc
from app.db import SessionDep
from app.deps import CurrentUser
from app.web.ranges import DayOrInstant, query_window

router = APIRouter(prefix="/api/v1", tags=["checkins"])

# What a caregiver never sees, in any scope, decided here in the serialisers and nowhere else:
# the C-SSRS screener (left out of the list altogether), every questionnaire's item answers (PHQ-9
# item 9 asks about self-harm), its risk level and follow-up (a follow-up of "cssrs" would tell
# that item 9 was positive), and the free-text fields of check-ins ("note": access.sees_notes,
# which the dose API asks too, for a dose's reasons). A high-risk result
# reaches a caregiver only as an alert, when the patient consented (app/alerts).
HIDDEN_FROM_CAREGIVERS = frozenset({"cssrs"})
_TEXT_MEASURES = frozenset(key for key, m in MEASURES.items() if m.kind == "text")


def _caregiver(user: User) -> bool:
    return user.role == Role.CAREGIVER


@router.get("/checkins")
def list_checkins(session: SessionDep, user: CurrentUser, start: DayOrInstant | None = None,
                  end: DayOrInstant | None = None,
                  patient_id: uuid.UUID | None = Query(default=None)) -> dict[str, Any]:
    patient = access.require_patient_access(session, user, patient_id or user.id,
                                            access.Purpose.VIEW_CHECKINS)
    start, end = query_window(start, end, patient.timezone)
    redact = not access.sees_notes(user)
    return {"checkins": [
        {"id": str(c.id), "slot": c.slot, "dose_id": str(c.dose_id) if c.dose_id else None,
         "values": ({k: v for k, v in c.values.items() if k not in _TEXT_MEASURES}
                    if redact else c.values),
         "flags": c.flags, "recorded_at": c.recorded_at.isoformat(),
         "received_at": c.received_at.isoformat()}
        for c in service.checkins_between(session, patient.id, start, end)
    ]}


@router.get("/questionnaires")
def list_questionnaires(session: SessionDep, user: CurrentUser,
                        start: DayOrInstant | None = None, end: DayOrInstant | None = None,
                        patient_id: uuid.UUID | None = Query(default=None)) -> dict[str, Any]:
    patient = access.require_patient_access(session, user, patient_id or user.id,
                                            access.Purpose.VIEW_CHECKINS)
    start, end = query_window(start, end, patient.timezone)
    responses = service.responses_between(session, patient.id, start, end)
    if _caregiver(user):
        return {"questionnaires": [
            {"id": str(r.id), "instrument": r.instrument, "score": r.score, "band": r.band,
             "version": r.version, "completed_at": r.completed_at.isoformat()}
            for r in responses if r.instrument not in HIDDEN_FROM_CAREGIVERS
        ]}
    return {"questionnaires": [
        {"id": str(r.id), "instrument": r.instrument, "answers": r.answers, "score": r.score,
         "band": r.band, "risk": r.risk, "risk_loinc": _risk_coding(r.risk),
         "version": r.version, "follow_up": r.follow_up,
         "follows_id": str(r.follows_id) if r.follows_id else None,
         "completed_at": r.completed_at.isoformat()}
        for r in responses
    ]}


def _risk_coding(risk: str | None) -> dict[str, str] | None:
    """The screener's risk level as an answer of LOINC 93374-7 "Suicide risk level"."""
    coded = risk_loinc(risk)
    if coded is None:
        return None
    return {"system": "http://loinc.org", "code": coded[0], "display": coded[1]}
