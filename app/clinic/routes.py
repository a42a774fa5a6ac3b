"""The prescriber's workspace: the patient list with its flags, filters and flag reviews; one
patient's page (what needs attention, the timeline), their safety reviews and the printable
summary."""

import uuid
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Form, Query, Request

from app.accounts.models import User
from app.alerts import service as alerts
from app.careteam import access
from app.checkins import service as checkins
from app.clinic import flags as flag_rules
from app.clinic import search, service, timeline
from app.clinic import summary as clinic_summary
from app.clinic.overview import patient_overview
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PrescriberUser
from app.errors import Invalid
from app.safety import service as safety
from app.templating import render
from app.web.forms import safe_next, see_other

router = APIRouter()

LIST = "/patients"


def _list_url(filters: service.Filters, page: int = 1) -> str:
    """The list with these filters and this page (the filters kept from page to page; the
    search sealed, app/clinic/search.py)."""
    query = search.query(filters, page)
    return LIST + (f"?{query}" if query else "")


def _list_page(request, session, user: User, filters: service.Filters, *, page: int = 1,
               errors=None, review_errors=None, review_values=None, typed=None,
               status_code: int = 200):
    now = utcnow()
    shown = service.patient_page(session, user, now, filters, page)
    context = {
        "rows": shown.rows,
        "page": shown,
        "previous_url": _list_url(filters, shown.number - 1) if shown.number > 1 else None,
        "next_url": _list_url(filters, shown.number + 1) if shown.number < shown.pages
        else None,
        # The prescriber's home: open alerts come first, with their acknowledge forms.
        "open_alerts": alerts.views(session, alerts.open_alerts(session, user)),
        "filters": filters,
        # What a refused search form held, to show it again beside its error.
        "typed": typed or {"flag": filters.flag or "", "q": filters.q},
        "codes": [(code, flag_rules.code_label(code)) for code in flag_rules.CODES],
        "code_label": flag_rules.code_label,
        "since_words": lambda since: service.since_words(since, now),
        "ends_a_hold": lambda f: flag_rules.review_ends_a_hold(f.code, f.since, now),
        "here": _list_url(filters, shown.number),
        "errors": errors or {},
        "review_errors": review_errors or {},
        "review_values": review_values or {},
    }
    return render(request, "clinic/patients.html", context, status_code=status_code)


@router.get("/patients")
def patient_list(
    request: Request,
    session: SessionDep,
    user: PrescriberUser,
    flag: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=1000)] = "",
    find: Annotated[str, Query(max_length=4000)] = "",
    page: Annotated[str, Query(max_length=20)] = "",
):
    try:
        filters = search.filters(flag, q, find)
    except Invalid as err:
        # The whole list, unfiltered, with the message next to the filter that was wrong.
        return _list_page(request, session, user, service.Filters(), errors=err.errors,
                          status_code=422)
    return _list_page(request, session, user, filters, page=service.page_number(page))


@router.post("/patients")
def search_patients(
    request: Request,
    session: SessionDep,
    user: PrescriberUser,
    flag: Annotated[str, Form(max_length=100)] = "",
    q: Annotated[str, Form()] = "",  # any length: the service says by how much to cut
):
    """The list's search form: posted, so the name typed is never in an address; then the list
    with the search sealed (Post/Redirect/Get)."""
    try:
        filters = service.parse_filters(flag, q)
    except Invalid as err:
        return _list_page(request, session, user, service.Filters(), errors=err.errors,
                          typed={"flag": flag, "q": q}, status_code=422)
    return see_other(_list_url(filters))


def _filters_of(next_url: str) -> tuple[service.Filters, int]:
    """The list's filters and page from a `next` that points back at the list (to show it as
    it was)."""
    parts = urlsplit(next_url)
    if parts.path != LIST:
        return service.Filters(), 1
    params = parse_qs(parts.query)
    page = service.page_number(params.get("page", [""])[0])
    try:
        return search.filters(params.get("flag", [""])[0], params.get("q", [""])[0],
                              params.get("find", [""])[0]), page
    except Invalid:
        return service.Filters(), 1


def _with_status(url: str, anchor: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, "flag_reviewed=1") if p)
    return f"{parts.path}?{query}#{anchor}"


@router.post("/patients/{patient_id}/flags/review")
def review_flag(
    request: Request,
    session: SessionDep,
    user: CurrentUser,  # anyone but the patient's prescriber: 404, as for a missing patient
    patient_id: uuid.UUID,
    code: Annotated[str, Form(max_length=100)] = "",
    key: Annotated[str, Form(max_length=500)] = "",
    note: Annotated[str, Form()] = "",  # any length: the service says by how much to cut
    next: Annotated[str, Form(max_length=2000)] = "",
):
    patient = access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
    back = safe_next(next, LIST)
    on_patient_page = urlsplit(back).path == f"{LIST}/{patient_id}"
    try:
        service.review_flag(session, prescriber=user, patient=patient, code=code, key=key,
                            note=note, now=utcnow())
    except Invalid as err:
        session.rollback()
        form_id = f"{patient_id}:{code}:{key}"
        errors = {form_id: err.errors.get("note", err.message)}
        if on_patient_page:  # written there: the page again, the error by its field
            patient = access.require_patient_access(session, user, patient_id,
                                                    access.Purpose.TREAT)
            return render(request, "clinic/patient.html", patient_overview(
                session, patient, review_errors=errors, review_values={form_id: note}),
                status_code=422)
        filters, page = _filters_of(back)
        return _list_page(request, session, user, filters, page=page, review_errors=errors,
                          review_values={form_id: note}, status_code=422)
    if on_patient_page:
        return see_other(_with_status(back, "flag-reviews"))
    return see_other(_with_status(back, f"patient-{patient_id}"))


# --- one patient -----------------------------------------------------------------------------


@router.get("/patients/{patient_id}")
def patient_detail(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID,
    days: Annotated[str | None, Query(max_length=20)] = None,
    until: Annotated[str | None, Query(max_length=20)] = None,
):
    # Anyone but the patient's prescriber (a caregiver, the patient, a stranger): 404, as for a
    # patient who does not exist.
    patient = access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
    return render(request, "clinic/patient.html",
                  patient_overview(session, patient, days=timeline.span_of(days), until=until))


@router.get("/patients/{patient_id}/summary")
def patient_summary(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID
):
    """The printable one-page summary (the browser's print, or Save as PDF)."""
    patient = access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
    return render(request, "clinic/summary.html", clinic_summary.summary(session, patient,
                                                                         utcnow()))


@router.post("/patients/{patient_id}/safety-events/{event_id}/review")
def review_safety_event(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    patient_id: uuid.UUID,
    event_id: uuid.UUID,
    review_note: Annotated[str, Form()] = "",  # any length, as the note above
):
    access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
    try:
        safety.review(session, prescriber=user, patient_id=patient_id, event_id=event_id,
                      note=review_note, now=utcnow())
    except Invalid as err:
        session.rollback()
        patient = access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
        context = patient_overview(session, patient, review_errors={str(event_id): err.message},
                                   review_values={str(event_id): review_note})
        return render(request, "clinic/patient.html", context, status_code=422)
    return see_other(f"/patients/{patient_id}?reviewed=1#safety-heading")


@router.post("/patients/{patient_id}/caregiver-alerts")
def caregiver_alert_delay_for_patient(
    request: Request,
    session: SessionDep,
    user: CurrentUser,  # anyone else: 404 from the access check, as for a missing patient
    patient_id: uuid.UUID,
    caregiver_alert_minutes: Annotated[str, Form(max_length=20)] = "",
):
    try:
        checkins.set_caregiver_alert_minutes_for(session, prescriber=user, patient_id=patient_id,
                                                 minutes=caregiver_alert_minutes)
    except Invalid as err:
        session.rollback()
        patient = access.require_patient_access(session, user, patient_id, access.Purpose.VIEW)
        form = checkins.caregiver_alert_form(checkins.settings_for(session, patient.id),
                                             f"/patients/{patient.id}/caregiver-alerts",
                                             value=caregiver_alert_minutes)
        context = patient_overview(session, patient, errors=err.errors, alert_delay=form)
        return render(request, "clinic/patient.html", context, status_code=422)
    return see_other(f"/patients/{patient_id}?saved=caregiver-alerts#alert-delay")
