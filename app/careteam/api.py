"""The caregiver's entries of /api/v1/patients: the people they support (the route is in
app/clinic/api.py, which answers a prescriber with the clinic's list)."""

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.accounts.models import Role, User
from app.alerts import service as alerts
from app.careteam import access
from app.careteam import supporting as caregiving

router = APIRouter(prefix="/api/v1", tags=["care team"])


class ErrorOut(BaseModel):
    detail: str


class PatientOut(BaseModel):
    # Only what the least caregiver scope (supervision: the session) allows, so a caregiver's
    # entry never holds more than the patient chose to share.
    id: uuid.UUID
    display_name: str
    timezone: str
    scope: Literal["supervision", "doses", "checkins"] | None = Field(
        description="What the patient shares with this caregiver; null for a prescriber, who "
        "sees the whole record."
    )
    next_session_at: datetime | None = Field(
        description="The session to act on now (due or overdue), else the next one; null when "
        "none is scheduled."
    )
    open_alerts: int = Field(description="Open safety alerts about this patient that you are a "
                             "contact for.")


def patient_entries(session: Session, user: User, now: datetime) -> list[PatientOut]:
    """For a caregiver, the people they support now (an ended or removed link is left out), by
    name. GET /api/v1/patients (app/clinic/api.py) answers a caregiver with these; a prescriber
    gets the clinic's list with flags."""
    purpose = access.Purpose.VIEW if user.role == Role.PRESCRIBER else access.Purpose.VIEW_SESSION
    patients = access.readable_patients(session, user, purpose, now=now)
    counts: dict[uuid.UUID, int] = {}
    for alert in alerts.open_alerts(session, user):
        counts[alert.patient_id] = counts.get(alert.patient_id, 0) + 1
    out = []
    for patient in patients:
        scope = None
        if user.role == Role.CAREGIVER:
            link = access.caregiver_link(session, user, patient.id, now=now)
            scope = link.scope if link else None
        out.append(PatientOut(
            id=patient.id,
            display_name=patient.display_name,
            timezone=patient.timezone,
            scope=scope,  # type: ignore[arg-type]
            next_session_at=caregiving.next_session_at(session, patient, now),
            open_alerts=counts.get(patient.id, 0),
        ))
    return out
