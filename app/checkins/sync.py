"""The check-in sync kinds: session and daily check-ins, and questionnaires."""

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from app.checkins import service
from app.sync.context import Handler, Write


def _checkin(w: Write) -> dict[str, Any]:
    checkin = service.record_checkin(w.session, patient=w.patient, author=w.author,
                                     checkin_id=w.item_id, recorded_at=w.recorded_at,
                                     data=w.data, now=w.now)
    return {"flags": checkin.flags}


def _questionnaire(w: Write) -> dict[str, Any]:
    response = service.record_questionnaire(w.session, patient=w.patient, response_id=w.item_id,
                                            completed_at=w.recorded_at, data=w.data, now=w.now)
    result: dict[str, Any] = {"score": response.score, "band": response.band,
                              "follow_up": response.follow_up, "version": response.version}
    if response.instrument == "cssrs":
        result["risk"] = response.risk
        result["crisis"] = response.risk == "high"
    return result


def _sitter_checkin(w: Write) -> dict[str, Any]:
    """A sitter's checklist, observation, +40 minute recheck or end of session, written from
    their own account for the patient in `patient_id` (app/sync checked their link)."""
    data = {k: v for k, v in w.data.items() if k != "patient_id"}
    checkin = service.record_sitter_checkin(w.session, patient=w.patient, sitter=w.author,
                                            checkin_id=w.item_id, recorded_at=w.recorded_at,
                                            data=data, now=w.now)
    return {"flags": checkin.flags, "slot": checkin.slot,
            "dose_id": str(checkin.dose_id) if checkin.dose_id else None}


# What each kind's data says, as the handler reads it (see app/doses/sync.py INPUTS).
INPUTS: dict[str, type[BaseModel]] = {
    "checkin": service.CheckinInput,
    "questionnaire": service.QuestionnaireInput,
}

HANDLERS: dict[str, Handler] = {
    "checkin": _checkin,
    "questionnaire": _questionnaire,
}

# What a caregiver writes for a patient they support; no other kind is theirs to write.
SITTER_HANDLERS: dict[str, Handler] = {
    "sitter_checkin": _sitter_checkin,
}


def _join_after_dose(w: Write, result: dict[str, Any]) -> None:
    # The sitter's entries saved while no dose was logged join the dose whose session they
    # fall in, in the same savepoint as the dose (or its corrected time).
    dose_id = result.get("dose_id") or w.item_id
    service.join_waiting_entries(w.session, w.patient.id, uuid.UUID(str(dose_id)))


# Other domains' kinds this one acts on after they are applied (app/sync/service.py calls
# them inside the item's savepoint, with the handler's result).
AFTER_WRITE: dict[str, Callable[[Write, dict[str, Any]], None]] = {
    "dose": _join_after_dose,
    "dose_revision": _join_after_dose,
}
