"""The dosing core's sync kinds: gate, dose, corrections and the count ledger."""

from typing import Any

from pydantic import BaseModel

from app.doses import corrections, ledger, reasons, service
from app.sync.context import Handler, Write


def _gate(w: Write) -> dict[str, Any]:
    gate = service.record_gate(w.session, patient=w.patient, gate_id=w.item_id,
                               checked_at=w.recorded_at, data=w.data, now=w.now)
    # The reasons' words are for this answer, in the writer's language; the gate keeps codes.
    return {"verdict": gate.verdict, "reasons": reasons.shown(gate.reasons, w.patient.timezone),
            "offline_verdict": w.data.get("offline_verdict")}


def _dose(w: Write) -> dict[str, Any]:
    dose = service.record_dose(w.session, patient=w.patient, dose_id=w.item_id,
                               recorded_at=w.recorded_at, data=w.data, now=w.now)
    ledger.dose_sent_late(w.session, w.patient, dose)
    return {"flags": dose.flags, "troches": str(dose.troches)}


def _revision(w: Write) -> dict[str, Any]:
    dose = corrections.revise_dose_item(w.session, patient=w.patient, author=w.author,
                                    revision_id=w.item_id, data=w.data, now=w.now)
    return {"dose_id": str(dose.id), "revision": dose.revision, "flags": dose.flags}


def _entered_in_error(w: Write) -> dict[str, Any]:
    dose = corrections.entered_in_error_item(w.session, patient=w.patient, author=w.author,
                                         revision_id=w.item_id, data=w.data, now=w.now)
    return {"dose_id": str(dose.id), "revision": dose.revision, "dose_status": dose.status}


def _fill(w: Write) -> dict[str, Any]:
    entry = ledger.record_fill(w.session, patient=w.patient, entry_id=w.item_id, data=w.data,
                                now=w.now)
    return {"flags": entry.flags}


def _count(w: Write) -> dict[str, Any]:
    entry = ledger.record_count(w.session, patient=w.patient, entry_id=w.item_id,
                                 data=w.data, now=w.now)
    return {"flags": entry.flags, "expected": str(entry.expected_balance),
            "difference": str(entry.count - (entry.expected_balance or 0))}


# What each kind's data says, as the handler reads it (app/sync/service.py hashes that, so a
# replay that spells the same entry another way is still the same entry).
INPUTS: dict[str, type[BaseModel]] = {
    "gate": service.GateInput,
    "dose": service.DoseInput,
    "dose_revision": corrections.RevisionInput,
    "dose_entered_in_error": corrections.EnteredInErrorInput,
    "ledger_fill": ledger.FillInput,
    "ledger_count": ledger.CountInput,
}

HANDLERS: dict[str, Handler] = {
    "gate": _gate,
    "dose": _dose,
    "dose_revision": _revision,
    "dose_entered_in_error": _entered_in_error,
    "ledger_fill": _fill,
    "ledger_count": _count,
}
