"""Check-in and questionnaire pages, the safety path, and the trend charts."""

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlmodel import Session

from app.accounts.models import User
from app.careteam import access
from app.checkins import service, trends
from app.checkins.instruments import (
    CATALOGUE,
    MEASURES,
    SEVERITY,
    SLOTS,
    VERSIONS,
    instrument_for,
)
from app.checkins.models import QuestionnaireResponse
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PatientUser, PostedForm
from app.doses.models import Dose
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.safety import service as safety
from app.sync import service as sync
from app.sync.ids import WRITTEN_AT
from app.templating import render
from app.web.forms import form_values, new_client_id, see_other

router = APIRouter()


def _apply(session: Session, user: User, item_id: str, kind: str, data: dict,
           now: datetime, written_at: object) -> dict:
    return sync.apply_form(session, user=user, client_id=item_id, kind=kind, data=data, now=now,
                           written_at=written_at)


def _rejected_values(form, result: dict) -> dict:
    """The form's values to show again. After an id conflict (this form was saved, then
    changed and sent again from the Back button) it gets a new id, so these answers can be
    saved as a new entry instead of being refused every time."""
    values = form_values(form)
    if result.get("code") == "id_conflict":
        values["client_id"] = new_client_id()
    return values


def _form_errors(result: dict, shown: set[str]) -> dict:
    """Errors keyed by the fields the form shows; anything else (a missing dose, an id
    conflict) goes above the form, so no refusal is silent."""
    if result.get("code") == "id_conflict":
        return {"__all__": _("You already sent this form with other answers, and that entry "
                             "is saved. Send it again to save these answers as a new entry.")}
    errors = dict(result.get("errors") or {})
    hidden = [errors.pop(k) for k in list(errors) if k not in shown]
    if hidden or not errors:
        errors["__all__"] = " ".join(hidden) or result.get("detail")
    return errors


# --- check-ins --------------------------------------------------------------------------------


def _list_page(request: Request, session: Session, user: User, *, values=None, errors=None,
               status_code: int = 200):
    settings = service.settings_for(session, user.id)
    values = values or {"mood_time": settings.mood_time.strftime("%H:%M"),
                        "share_alerts": "yes" if settings.share_alerts_with_caregiver else ""}
    return render(request, "checkins/list.html", {
        "items": service.due_checkins(session, user, utcnow()),
        "values": values, "errors": errors,
    }, status_code=status_code)


@router.get("/checkins")
def checkin_list(request: Request, session: SessionDep, user: PatientUser):
    return _list_page(request, session, user)


@router.get("/checkins/settings")
def checkin_settings_reload():
    """A reload after a refused settings form (else /checkins/{slot_key} would answer 404)."""
    return see_other("/checkins")


@router.post("/checkins/settings")
def checkin_settings(request: Request, session: SessionDep, user: PatientUser, form: PostedForm):
    try:
        service.update_patient_settings(
            session, patient=user, mood_time=str(form.get("mood_time", "")).strip(),
            share_alerts=form.get("share_alerts") == "yes",
        )
    except Invalid as err:
        session.rollback()
        return _list_page(request, session, user, values=form_values(form), errors=err.errors,
                          status_code=422)
    return see_other("/checkins?settings=saved")


def _slot_or_404(slot_key: str):
    slot = SLOTS.get(slot_key)
    # The sitter's own slots are recorded from the caregiver's session page, not here.
    if slot is None or "patient" not in slot.authors:
        raise NotFound()
    return slot


def _dose_or_none(session: Session, user: User, dose_id: str | None) -> Dose | None:
    if not dose_id:
        return None
    try:
        dose = session.get(Dose, uuid.UUID(dose_id))
    except ValueError:
        raise NotFound() from None
    if dose is None or dose.patient_id != user.id:
        raise NotFound()
    return dose


def _checkin_context(slot, dose, values=None, errors=None) -> dict:
    return {
        "slot": slot,
        "dose": dose,
        # Opened without its dose: it follows the latest (app/checkins/service.py).
        "follows_latest": dose is None and slot.key in service.DOSE_SLOTS,
        "measures": [MEASURES[k] for k in slot.measures],
        "severity": SEVERITY,
        "values": values or {"client_id": new_client_id()},
        "errors": errors,
    }


@router.get("/checkins/{slot_key}")
def checkin_form(request: Request, session: SessionDep, user: PatientUser, slot_key: str,
                 dose: str | None = None):
    slot = _slot_or_404(slot_key)
    given = _dose_or_none(session, user, dose)
    now = utcnow()
    # Opened without its dose, it follows the latest (as record_checkin does).
    follows = given or (service.session_dose(session, user.id, now,
                                             span=service.PATIENT_SLOTS_SPAN)
                        if slot.key in service.DOSE_SLOTS else None)
    zone = ZoneInfo(user.timezone)
    opens = service.opens_later(session, slot.key, follows, zone, now)
    return render(request, "checkins/form.html", {
        **_checkin_context(slot, given),
        "opens_notice": service.opens_words(slot.key, opens, zone) if opens else None,
        "opens_at": opens,
    })


def values_from_form(form, measure_keys) -> dict:
    """Only what the person filled in: a check-in may answer any subset."""
    values: dict = {}
    for key in measure_keys:
        measure = MEASURES[key]
        raw = str(form.get(key, "")).strip()
        if not raw:
            continue
        if measure.kind in ("scale", "choice", "int"):
            values[key] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif measure.kind == "bool":
            values[key] = raw == "yes"
        else:
            values[key] = raw
    return values


@router.post("/checkins/{slot_key}")
def checkin_submit(request: Request, session: SessionDep, user: PatientUser,
                   slot_key: str, form: PostedForm):
    slot = _slot_or_404(slot_key)
    dose = _dose_or_none(session, user, str(form.get("dose_id", "")) or None)
    data = {"slot": slot.key, "values": values_from_form(form, slot.measures)}
    if dose is not None:
        data["dose_id"] = str(dose.id)
    now = utcnow()
    result = _apply(session, user, str(form.get("client_id", "")), "checkin", data, now,
                    form.get(WRITTEN_AT))
    if result["status"] == "rejected":
        session.rollback()
        values = _rejected_values(form, result)
        errors = _form_errors(result, set(slot.measures))
        return render(request, "checkins/form.html",
                      _checkin_context(slot, dose, values, errors), status_code=422)
    flags = result.get("flags") or []
    if {"hard_to_rouse", "breathing_concern", "bp_emergency"} & set(flags):
        return render(request, "checkins/emergency.html", {"flags": flags})
    return see_other("/checkins?saved=1")


# --- questionnaires ---------------------------------------------------------------------------


def _instrument_or_404(key: str):
    instrument = CATALOGUE.get(key)
    if instrument is None:
        raise NotFound()
    return instrument


def _questionnaire_page(request: Request, instrument, values: dict, errors=None,
                        last_at=None, status_code: int = 200):
    return render(request, "checkins/questionnaire.html", {
        "instrument": instrument, "values": values, "errors": errors, "last_at": last_at,
    }, status_code=status_code)


@router.get("/questionnaires/{key}")
def questionnaire_form(request: Request, session: SessionDep, user: PatientUser, key: str,
                       follows: uuid.UUID | None = None):
    instrument = _instrument_or_404(key)
    if instrument.key == "cssrs" and follows is None:
        # An address with ?follows= (a page saved before, an old bookmark) still works.
        follows = safety.screener_follows(session, user.id, utcnow())
    values = {"client_id": new_client_id(), "follows": str(follows) if follows else ""}
    last_at = None
    if instrument.key in VERSIONS:
        # The first screener asks about the past month; every later one since last contact.
        version, last_at = service.cssrs_version(session, user.id, utcnow())
        instrument = instrument_for(instrument.key, version)
        values["version"] = version
    return _questionnaire_page(request, instrument, values, last_at=last_at)


def answers_from_form(instrument, form) -> list:
    answers: list = []
    given: dict[str, object] = {}
    for item in instrument.items:
        raw = str(form.get(item.key, "")).strip()
        if not item.asked or (item.asked_if is not None
                              and given.get(item.asked_if[0]) != item.asked_if[1]):
            # Not asked: whatever the browser sent for it (no JavaScript) is dropped.
            answers.append(None)
            continue
        first = instrument.options_for(item)[0].value
        if raw == "":
            value: object = None
        elif isinstance(first, bool):
            value = raw == "yes" if raw in ("yes", "no") else raw
        elif isinstance(first, int):
            value = int(raw) if raw.isdigit() else raw
        else:
            value = raw
        given[item.key] = value
        answers.append(value)
    return answers


@router.post("/questionnaires/{key}")
def questionnaire_submit(request: Request, session: SessionDep, user: PatientUser,
                         key: str, form: PostedForm):
    instrument = _instrument_or_404(key)
    data: dict = {"instrument": instrument.key}
    version = str(form.get("version", "")).strip()
    if version:
        # The wording the form showed. A page without it (from before there were versions)
        # leaves it to the record, as any client may; its answers are read as the recent
        # version's, the one that asks the most, so that sending it twice sends the same.
        data["version"] = version
        instrument = instrument_for(instrument.key, version) or instrument
    data["answers"] = answers_from_form(instrument, form)
    follows = str(form.get("follows", "")).strip()
    if follows:
        data["follows_id"] = follows
    result = _apply(session, user, str(form.get("client_id", "")), "questionnaire", data,
                    utcnow(), form.get(WRITTEN_AT))
    if result["status"] == "rejected":
        session.rollback()
        values = _rejected_values(form, result)
        errors = _form_errors(result, {item.key for item in instrument.items if item.asked})
        return _questionnaire_page(request, instrument, values, errors, status_code=422)
    if result.get("follow_up") == "cssrs":
        # PHQ-9 item 9 above 0: straight on to the screener, linked to this answer.
        return see_other("/questionnaires/cssrs")
    return see_other(f"/questionnaires/result/{result['id']}")


@router.get("/questionnaires/result/{response_id}")
def questionnaire_result(request: Request, session: SessionDep, user: PatientUser,
                         response_id: uuid.UUID):
    response = session.get(QuestionnaireResponse, response_id)
    if response is None or response.patient_id != user.id:
        raise NotFound()
    instrument = CATALOGUE[response.instrument]
    band = next((b for b in instrument.bands if b.key == response.band), None)
    return render(request, "checkins/result.html",
                  {"response": response, "instrument": instrument, "band": band})


# --- trends -----------------------------------------------------------------------------------


def _range(value: str | None) -> str:
    return value if value in ("4w", "3m", "all") else "4w"


@router.get("/trends")
def my_trends(request: Request, session: SessionDep, user: PatientUser,
              range: str | None = None):
    key = _range(range)
    return render(request, "checkins/trends.html", {
        "charts": trends.build(session, user, key, utcnow()), "range": key,
        "base_url": "/trends", "patient": user,
    })


@router.get("/patients/{patient_id}/trends")
def patient_trends(request: Request, session: SessionDep, user: CurrentUser,
                   patient_id: uuid.UUID, range: str | None = None):
    # A prescriber, or a caregiver whose scope includes check-ins: the charts show mood and the
    # PHQ-9 / GAD-7 scores only, never an answer, a note or the C-SSRS screener.
    patient = access.require_patient_access(session, user, patient_id,
                                            access.Purpose.VIEW_CHECKINS)
    key = _range(range)
    return render(request, "checkins/trends.html", {
        "charts": trends.build(session, patient, key, utcnow()), "range": key,
        "base_url": f"/patients/{patient.id}/trends", "patient": patient,
    })


