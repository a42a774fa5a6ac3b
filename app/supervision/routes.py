"""The sitter's session pages: /supporting/{id}/session and its forms.

Plain forms with Post/Redirect/Get that work without JavaScript; with it, offline.js saves
them to the outbox when there is no signal (kind "sitter_checkin", the patient named in the
data). Anyone not allowed to supervise this patient gets the same 404 as for nobody at all.
"""

import uuid
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from app.alerts import service as alerts
from app.checkins import service as checkins
from app.checkins.instruments import MEASURES, SEVERITY
from app.checkins.routes import _form_errors, _rejected_values, values_from_form
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PostedForm
from app.errors import NotFound
from app.i18n import gettext as _
from app.supervision import service
from app.sync import service as sync
from app.sync.ids import WRITTEN_AT
from app.templating import render
from app.web.forms import new_client_id, see_other

router = APIRouter()

EMERGENCY_FLAGS = {"hard_to_rouse", "breathing_concern", "bp_emergency"}


def _session_url(patient_id: uuid.UUID) -> str:
    return f"/supporting/{patient_id}/session"


def offline_pages(patient_id: uuid.UUID) -> list[str]:
    """What a sitter's phone keeps for this person, so the session works without a signal."""
    base = _session_url(patient_id)
    return [f"/supporting/{patient_id}", base,
            *(f"{base}/{slot}" for slot in service.SITTER_SLOTS)]


@router.get("/supporting/{patient_id}/session")
def session_page(request: Request, session: SessionDep, user: CurrentUser,
                 patient_id: uuid.UUID, saved: str | None = None):
    view = service.session_view(session, user, patient_id, utcnow())
    return render(request, "supervision/session.html", {
        "view": view, "patient": view.patient, "saved": saved in service.SITTER_SLOTS,
        "offline_pages": offline_pages(view.patient.id),
        # The page a sitter keeps open during the session: a crisis reading the patient entered
        # (an alert to them) shows here first, not only on "People I support".
        "open_alerts": alerts.views(session, alerts.open_alerts(session, user,
                                                                patient_id=view.patient.id)),
    })


def _form_context(view: service.SessionView, slot, values=None, errors=None) -> dict:
    return {
        "view": view, "patient": view.patient, "slot": slot,
        "measures": [MEASURES[k] for k in slot.measures],
        "severity": SEVERITY,
        "values": values or {"client_id": new_client_id()},
        "errors": errors,
        "offline_pages": offline_pages(view.patient.id),
    }


def _slot_or_404(slot_key: str):
    slot = service.form_slot(slot_key)
    if slot is None:
        raise NotFound()
    return slot


@router.get("/supporting/{patient_id}/session/{slot_key}")
def session_form(request: Request, session: SessionDep, user: CurrentUser,
                 patient_id: uuid.UUID, slot_key: str):
    now = utcnow()
    view = service.session_view(session, user, patient_id, now)
    slot = _slot_or_404(slot_key)
    # When the session's +40 recheck or end opens, if not yet: said before anything is typed,
    # as on the patient's forms (a retester's sitter learned it only from the refusal).
    opens = checkins.opens_later(session, slot.key, view.dose, ZoneInfo(view.patient.timezone),
                                 now)
    notice = checkins.opens_words(slot.key, opens, ZoneInfo(user.timezone)) if opens else None
    return render(request, "supervision/form.html",
                  {**_form_context(view, slot), "opens_notice": notice, "opens_at": opens})


@router.post("/supporting/{patient_id}/session/{slot_key}")
def session_submit(request: Request, session: SessionDep, user: CurrentUser,
                   patient_id: uuid.UUID, slot_key: str, form: PostedForm):
    now = utcnow()
    view = service.session_view(session, user, patient_id, now)
    slot = _slot_or_404(slot_key)
    data: dict = {"patient_id": str(view.patient.id), "slot": slot.key,
                  "values": values_from_form(form, slot.measures)}
    dose_id = str(form.get("dose_id", "")).strip()
    if dose_id:
        data["dose_id"] = dose_id
    result = sync.apply_form(session, user=user, patient=view.patient,
                             client_id=str(form.get("client_id", "")), kind="sitter_checkin",
                             data=data, now=now, written_at=form.get(WRITTEN_AT))
    if result["status"] == "rejected":
        session.rollback()
        errors = _form_errors(result, set(slot.measures))
        return render(request, "supervision/form.html",
                      _form_context(view, slot, _rejected_values(form, result), errors),
                      status_code=422)
    flags = set(result.get("flags") or [])
    if flags & EMERGENCY_FLAGS:
        return render(request, "checkins/emergency.html", {
            "flags": sorted(flags),
            # The co-signed checklist is not an observation: say what was kept.
            "saved_words": (_("The checklist and the reading are saved.")
                            if slot.key == "sitter_check" else _("Your observation is saved.")),
            "back": _session_url(view.patient.id)})
    return see_other(f"{_session_url(view.patient.id)}?saved={slot.key}")

