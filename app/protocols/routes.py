"""The prescriber's protocol pages: edit (a new version each time), phase moves, history."""

import re
import uuid
from datetime import date
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlmodel import Session

from app.careteam import access
from app.checkins import service as checkins
from app.clinic.overview import patient_overview
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PostedForm
from app.errors import Invalid
from app.i18n import gettext as _
from app.protocols import changes, service
from app.protocols.schedule import PHASE_NAMES
from app.reminders import service as reminders
from app.templating import render
from app.web.forms import form_error, form_values, new_client_id, parse_client_id, see_other

router = APIRouter()

SIMPLE_FIELDS = (
    "strength_mg",
    "dose_mg",
    "route",
    "hold_minutes",
    "min_hours_between_doses",
    "max_mg_per_24h",
    "max_mg_per_7d",
    "bp_hold_systolic",
    "bp_hold_diastolic",
    "pulse_hold_low",
    "pulse_hold_high",
    "fasting_hours",
    "sedative_free_hours",
    "gate_valid_minutes",
    "observation_minutes",
    "emergency_lockout_hours",
    "grace_hours",
    "early_refill_days",
    "starts_on",
    "reason",
)


def values_from_form(form) -> dict:
    """The form's flat fields as the nested ProtocolInput shape; blanks are left out so the
    validator says what is missing."""
    data: dict = {}
    for name in SIMPLE_FIELDS:
        raw = str(form.get(name, "")).strip()
        if raw:
            data[name] = raw
    data["halving_allowed"] = form.get("halving_allowed") == "yes"
    data["sitter_required"] = form.get("sitter_required") == "yes"
    data["required_checklist"] = [str(v) for v in form.getlist("required_checklist")]
    data["overridable_holds"] = [str(v) for v in form.getlist("overridable_holds")]
    for phase in PHASE_NAMES:
        cadence = str(form.get(f"{phase}_cadence", "")).strip()
        if not cadence:
            continue
        template: dict = {"cadence": cadence}
        at = str(form.get(f"{phase}_at", "")).strip()
        if at:
            template["at"] = at
        # Anything but a weekday's number is passed on as sent, to be refused by the validator
        # (dropping it quietly could save a schedule the prescriber did not choose).
        template["weekdays"] = [
            int(v) if str(v).isdigit() else str(v) for v in form.getlist(f"{phase}_weekdays")
        ]
        for key in ("every_n_days", "weeks"):
            raw = str(form.get(f"{phase}_{key}", "")).strip()
            if raw:
                template[key] = raw
        data[phase] = template
    return data


# Where the form shows an error (edit.html and protocols/_phase.html): each field's own name, a
# phase's schedule select under the phase's name.
_SHOWN = frozenset({
    *SIMPLE_FIELDS, "route", "required_checklist", "overridable_holds", *PHASE_NAMES,
    "confirm_short_interval",
    *(f"{phase}_{key}" for phase in PHASE_NAMES
      for key in ("weekdays", "every_n_days", "at", "weeks")),
})
_PHASE = "|".join(PHASE_NAMES)
_ITEM = re.compile(rf"^(?P<list>required_checklist|overridable_holds|(?:{_PHASE})_weekdays)_\d+$")
_CADENCE = re.compile(rf"^(?P<phase>{_PHASE})_cadence$")


def shown_errors(errors: dict[str, str]) -> dict[str, str]:
    """The service's errors under the names the form shows them by, so every refusal is marked
    next to its field: a list item's error (``induction_weekdays_0``) by its list, a phase's
    cadence by the phase's select. Anything else (only a tampered or outdated form could send
    it) is said at the top of the form, never dropped."""
    shown: dict[str, str] = {}
    for key, message in errors.items():
        if key in _SHOWN or key == "__all__":
            shown.setdefault(key, message)
        elif item := _ITEM.match(key):
            name = item["list"]
            if name.endswith("_weekdays"):
                message = _("Choose weekdays from the list.")
            shown.setdefault(name, message)
        elif cadence := _CADENCE.match(key):
            shown.setdefault(cadence["phase"], message)
        else:
            shown.setdefault("__all__", _(
                "The form sent a choice it does not offer. Reload the page and try again."))
    return shown


def _form_values(form) -> dict:
    values = form_values(form)
    values["required_checklist"] = [str(v) for v in form.getlist("required_checklist")]
    values["overridable_holds"] = [str(v) for v in form.getlist("overridable_holds")]
    for phase in PHASE_NAMES:
        values[f"{phase}_weekdays"] = [
            int(v) for v in form.getlist(f"{phase}_weekdays") if str(v).isdigit()
        ]
    return values


def _values_from_version(version) -> dict:
    values = {
        k: str(v) if v is not None else ""
        for k, v in service.as_input(version).items()
        if k not in ("phases", "required_checklist", "halving_allowed", "sitter_required",
                     "overridable_holds")
    }
    values["halving_allowed"] = "yes" if version.halving_allowed else ""
    values["sitter_required"] = "yes" if version.sitter_required else ""
    values["required_checklist"] = list(version.required_checklist)
    values["overridable_holds"] = list(version.overridable_holds)
    for phase, template in version.phases.items():
        values[f"{phase}_cadence"] = template["cadence"]
        values[f"{phase}_at"] = template["at"][:5]
        values[f"{phase}_weekdays"] = template.get("weekdays") or []
        values[f"{phase}_every_n_days"] = str(template.get("every_n_days") or "")
        values[f"{phase}_weeks"] = str(template.get("weeks") or "")
    values["route"] = str(version.route)
    for key in (
        "strength_mg",
        "dose_mg",
        "max_mg_per_24h",
        "max_mg_per_7d",
        "min_hours_between_doses",
        "grace_hours",
    ):
        values[key] = f"{getattr(version, key).normalize():f}"
    return values


def _starter_values(patient) -> dict:
    """A blank protocol: schedule shape pre-filled, every clinical limit left to the prescriber."""
    return {
        "route": "sublingual",
        "hold_minutes": "15",
        "sitter_required": "yes",
        "required_checklist": ["fasted", "no_sedatives", "no_driving", "safe_place"],
        "fasting_hours": "2",
        "sedative_free_hours": "24",
        "gate_valid_minutes": "30",
        "observation_minutes": "120",
        "emergency_lockout_hours": "24",
        "grace_hours": str(service.GRACE_USUAL_HOURS),
        "early_refill_days": "7",
        # The patient's today: the day the plan starts unless the prescriber says otherwise.
        "starts_on": service.date_bounds(patient.timezone, utcnow())[0].isoformat(),
        "induction_cadence": "weekdays",
        "induction_weekdays": [0, 3],
        "induction_at": "10:00",
        "induction_weeks": "4",
        "maintenance_cadence": "interval",
        "maintenance_every_n_days": "7",
        "maintenance_at": "10:00",
    }


def _page_context(session: Session, patient, values: dict, **extra) -> dict:
    today, last = service.date_bounds(patient.timezone, utcnow())
    versions = service.history(session, patient.id)
    return {
        "patient": patient,
        "values": {"client_id": new_client_id(), **values},
        # Each version with who saved it and what it changed (changes.py).
        "versions": changes.history(versions),
        "authors": service.authors(session, versions),
        "phase_client_id": new_client_id(),
        "today_iso": today.isoformat(),
        # The server's own bounds, for the inputs' min and max (the server checks them too).
        "starts_on_max": last.isoformat(),
        "grace_min": service.GRACE_MIN_HOURS,
        "grace_max": service.GRACE_MAX_HOURS,
        "grace_usual": service.GRACE_USUAL_HOURS,
        **extra,
    }


@router.get("/patients/{patient_id}/protocol")
def edit_page(request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID):
    patient = access.require_patient_access(
        session, user, patient_id, access.Purpose.MANAGE_PROTOCOL
    )
    version = service.current(session, patient.id)
    values = _values_from_version(version) if version else _starter_values(patient)
    values["reason"] = ""
    warnings = {}
    if version:
        warnings = {
            "interval_warning": service.interval_warnings(
                version.min_hours_between_doses, version.phases.values(), version.dose_mg,
                version.max_mg_per_24h),
            "maxima_warning": service.version_maxima_warning(version, patient.timezone,
                                                             _local_today(patient)),
            "short_interval": service.short_interval_warning(
                version.min_hours_between_doses, version.dose_mg, version.max_mg_per_24h)}
    return render(request, "protocols/edit.html",
                  _page_context(session, patient, values, **warnings))


@router.post("/patients/{patient_id}/protocol")
def save(request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID,
         form: PostedForm):
    patient = access.require_patient_access(
        session, user, patient_id, access.Purpose.MANAGE_PROTOCOL
    )
    today = _local_today(patient)
    before = service.current(session, patient.id)
    # A minimum short enough, with a 24-hour maximum loose enough, to let a second dose through
    # the same day goes live only when the prescriber says it is meant: it went live at once
    # and its warning was first read on the patient's page afterwards (a tester typed 4 hours).
    submitted = values_from_form(form)
    short = service.values_short_interval_warning(submitted)
    unconfirmed = {"confirm_short_interval": _(
        "Tick this to save a minimum this short, or make the minimum longer.")} \
        if short and form.get("confirm_short_interval") != "yes" else {}
    try:
        saved = service.save(
            session,
            prescriber=user,
            patient_id=patient.id,
            version_id=parse_client_id(str(form.get("client_id", ""))),
            values=submitted,
            now=utcnow(),
        )
        if unconfirmed:
            raise Invalid(errors=unconfirmed)  # the version just made is rolled back below
    except Invalid as err:
        values = _form_values(form)
        errors = {**(err.errors or ({err.field or "__all__": err.message})), **unconfirmed}
        # Warnings from what could be saved: a refused 5000 mg dose is not weighed against the
        # maxima (its own error says what is wrong with it).
        readable = {k: v for k, v in submitted.items() if k not in errors}
        context = _page_context(session, patient, values,
                                interval_warning=service.values_warning(readable),
                                maxima_warning=service.values_maxima_warning(
                                    readable, patient.timezone, _local_today(patient)),
                                short_interval=service.values_short_interval_warning(readable))
        return form_error(
            request,
            session,
            "protocols/edit.html",
            Invalid(errors=shown_errors(errors)),
            values,
            {k: v for k, v in context.items() if k != "values"},
        )
    _plan_again(session, patient)
    # A start date moved into the past can end induction at once: said, not left to be noticed
    # (the phase change has its own form, with a reason).
    moved = before is not None and (service.current_phase(before, today)
                                    != service.current_phase(saved, today))
    return see_other(f"/patients/{patient.id}?saved=protocol" + ("&moved=phase" if moved else ""))


def _local_today(patient) -> date:
    return utcnow().astimezone(ZoneInfo(patient.timezone)).date()


def _plan_again(session: Session, patient) -> None:
    """The patient's reminders follow the new version now, not at the next background pass (a
    minute on): a session moved or a phase changed moves its pending reminders before one of
    them goes out at the old time."""
    reminders.plan(session, patient, utcnow())


@router.post("/patients/{patient_id}/phase")
def change_phase(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID,
    form: PostedForm,
):
    patient = access.require_patient_access(
        session, user, patient_id, access.Purpose.MANAGE_PROTOCOL
    )
    try:
        effective = date.fromisoformat(str(form.get("effective_on", "")))
    except ValueError:
        effective = None
    try:
        service.change_phase(
            session,
            prescriber=user,
            patient_id=patient.id,
            version_id=parse_client_id(str(form.get("phase_client_id", ""))),
            phase=str(form.get("phase", "")),
            effective_on=effective,
            reason=str(form.get("phase_reason", "")),
            now=utcnow(),
        )
    except Invalid as err:
        session.rollback()
        errors = {("phase_reason" if k == "reason" else k): v for k, v in err.errors.items()}
        return render(
            request,
            "clinic/patient.html",
            patient_overview(
                session, patient, errors=errors, phase_values={k: str(v) for k, v in form.items()}
            ),
            status_code=422,
        )
    _plan_again(session, patient)
    return see_other(f"/patients/{patient.id}?saved=phase")


@router.post("/patients/{patient_id}/questionnaires")
def questionnaire_schedule(request: Request, session: SessionDep, user: CurrentUser,
                           patient_id: uuid.UUID, form: PostedForm):
    patient = access.require_patient_access(session, user, patient_id,
                                            access.Purpose.MANAGE_PROTOCOL)
    try:
        checkins.update_questionnaire_schedule(
            session, prescriber=user, patient_id=patient.id,
            weekday=str(form.get("questionnaire_weekday", "")),
            every_weeks=str(form.get("questionnaire_every_weeks", "")),
        )
    except Invalid as err:
        session.rollback()
        return render(request, "clinic/patient.html",
                      patient_overview(session, patient, errors=err.errors),
                      status_code=422)
    _plan_again(session, patient)
    return see_other(f"/patients/{patient.id}?saved=questionnaires")
