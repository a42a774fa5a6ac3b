"""The prescriber's view of one patient: protocol, safety events, session records, flags,
supply and recent doses, gathered from each domain's service."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import User
from app.careteam import access
from app.careteam.models import Relation
from app.checkins import service as checkins
from app.db import utcnow
from app.doses import service as doses
from app.protocols import service as protocols
from app.web.forms import new_client_id

FLAGS_SHOWN = frozenset({"override", "extra", "no_gate"})


def patient_overview(session: Session, patient: User, **extra) -> dict:
    now = utcnow()
    version = protocols.current(session, patient.id)
    recent = doses.list_doses(session, patient.id, now - timedelta(days=42),
                              now + timedelta(days=1))
    local_today = now.astimezone(ZoneInfo(patient.timezone)).date()
    return {
        "patient": patient,
        "safety_events": checkins.safety_events(session, patient.id, now - timedelta(days=90)),
        "records": [checkins.session_record(session, d) for d in recent[:4]
                    if d.status == "recorded"],
        "caregivers": access.care_team_of(session, patient.id, Relation.CAREGIVER),
        "client_id": new_client_id(),
        "phase_client_id": new_client_id(),
        "protocol": version,
        "phase": protocols.current_phase(version, local_today) if version else None,
        "doses": recent,
        "flagged": [d for d in recent if set(d.flags) & FLAGS_SHOWN],
        "ledger": doses.ledger_summary(session, patient, now) if version else None,
        "today_iso": local_today.isoformat(),
        "checkin_settings": checkins.settings_for(session, patient.id),
        **extra,
    }
