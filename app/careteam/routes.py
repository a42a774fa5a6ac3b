"""Care team pages: the prescriber's patients, the caregiver's people, the patient's team."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.accounts.reauth import RecentAuth
from app.alerts import service as alerts
from app.careteam import access
from app.careteam import service as careteam
from app.careteam import supporting as caregiving
from app.careteam.models import Relation
from app.checkins import service as checkins
from app.config import settings
from app.db import SessionDep, utcnow
from app.deps import CaregiverUser, CurrentUser, PatientUser, PrescriberUser
from app.errors import AppError, Invalid
from app.i18n import gettext as _
from app.supervision.routes import offline_pages as sitter_pages
from app.templating import render
from app.web.forms import form_error, new_client_id, parse_client_id, see_other
from app.web.qr import qr_svg
from app.web.timezones import TIMEZONE_CHOICES

router = APIRouter()


def _invite_url(request: Request, token: str) -> str:
    base = settings.public_origin.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/invite/{token}"


def _issued_page(request: Request, issued: accounts.IssuedInvite, back: str):
    invite_url = _invite_url(request, issued.token) if issued.token else None
    response = render(
        request,
        "careteam/invite_created.html",
        {
            "invite": issued.invite,
            "invite_url": invite_url,
            # To scan from this screen with the other person's phone.
            "invite_qr": qr_svg(invite_url, title=_("QR code of the invite link"))
            if invite_url else None,
            "back": back,
            "scope_label": next((label for key, label, _w in scope_choices()
                                 if key == issued.invite.scope), None),
        },
    )
    # The link is a secret shown once: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- prescriber -------------------------------------------------------------------------------


# The patient list (/patients) is the clinic's: app/clinic/routes.py.


def _new_patient_context(values: dict | None = None) -> dict:
    return {
        "values": values or {"client_id": new_client_id(), "timezone": settings.default_timezone},
        "timezones": TIMEZONE_CHOICES,
    }


@router.get("/patients/new")
def new_patient_page(request: Request, user: PrescriberUser):
    return render(request, "careteam/patient_new.html", _new_patient_context())


@router.post("/patients/new")
def create_patient(
    request: Request,
    session: SessionDep,
    user: PrescriberUser,
    client_id: Annotated[str, Form(max_length=64)] = "",  # hidden: no person types it
    # Any length: the service says what is wrong beside the field, and the form comes back with
    # what was typed (a limit here refused it before the route ran, on a bare page).
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
):
    values = {
        "client_id": client_id,
        "display_name": display_name,
        "email": email,
        "timezone": timezone,
    }
    try:
        issued = accounts.create_patient(
            session,
            prescriber=user,
            invite_id=parse_client_id(client_id),
            email=email,
            display_name=display_name,
            timezone=timezone,
            now=utcnow(),
        )
    except AppError as err:
        return form_error(
            request,
            session,
            "careteam/patient_new.html",
            err,
            values,
            {"timezones": TIMEZONE_CHOICES},
        )
    return _issued_page(request, issued, back="/patients")


@router.post("/patients/{patient_id}/invite")
def reissue_invite(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    patient_id: uuid.UUID,
    client_id: Annotated[str, Form(max_length=64)] = "",
):
    access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
    issued = accounts.reissue_patient_invite(
        session,
        prescriber=user,
        patient_id=patient_id,
        invite_id=parse_client_id(client_id),
        now=utcnow(),
    )
    return _issued_page(request, issued, back=f"/patients/{patient_id}")


# --- caregiver --------------------------------------------------------------------------------


@router.get("/supporting")
def supporting(request: Request, session: SessionDep, user: CaregiverUser):
    context = caregiving.home(session, user, utcnow())
    # The sitter's phone keeps each person's session pages, so a session works without signal.
    context["offline_pages"] = [page for p in context["patients"]
                                for page in sitter_pages(p.id)]
    # Everyone's: the phone drops the pages it kept of anyone not listed (no longer sharing).
    context["offline_pages_complete"] = True
    return render(request, "careteam/supporting.html", context)


@router.get("/supporting/{patient_id}")
def supporting_patient(
    request: Request, session: SessionDep, user: CurrentUser, patient_id: uuid.UUID
):
    # NotFound unless their link is active: the same answer as for someone who does not exist
    # (and for anyone who is not their caregiver: the patient, a prescriber).
    access.require_patient_access(session, user, patient_id, access.Purpose.SUPPORT)
    context = caregiving.patient_page(session, user, patient_id, utcnow())
    context["offline_pages"] = sitter_pages(patient_id)
    return render(request, "careteam/supporting_patient.html", context)


# --- patient ----------------------------------------------------------------------------------


def _care_team_context(session, patient: User, values: dict | None = None, **extra) -> dict:
    now = utcnow()
    checkin_settings = checkins.settings_for(session, patient.id)
    return {
        "prescribers": access.care_team_of(session, patient.id, Relation.PRESCRIBER),
        "caregivers": careteam.caregiver_rows(session, patient, now),
        "pending": accounts.pending_invites(session, patient.id, now),
        "scopes": scope_choices(),
        "today_iso": access.local_today(patient, now).isoformat(),
        # What the care team was alerted about in the last 90 days, and who acknowledged it.
        "team_alerts": alerts.views(
            session, alerts.about_patient(session, patient.id, now - timedelta(days=90))
        ),
        "values": values or {"client_id": new_client_id(), "scope": access.Scope.SUPERVISION},
        "alert_delay": checkins.caregiver_alert_form(checkin_settings,
                                                     "/care-team/caregiver-alerts"),
        "shares_alerts": checkin_settings.share_alerts_with_caregiver,
        "link_errors": {},
        "link_values": {},
        **extra,
    }


def scope_choices() -> tuple:
    """The three choices, in plain words: what the caregiver will see and what they will not."""
    return (
        (access.Scope.SUPERVISION, careteam.scope_label(access.Scope.SUPERVISION),
         _("They see today's session while they sit with you: its state, the checklist and the "
            "session record. They do not see your dose history, supply, mood or questionnaires.")),
        (access.Scope.DOSES, careteam.scope_label(access.Scope.DOSES),
         _("Also your dose history and troche supply. They do not see your mood or "
            "questionnaire scores.")),
        (access.Scope.CHECKINS, careteam.scope_label(access.Scope.CHECKINS),
         _("Also your daily mood and your PHQ-9 and GAD-7 scores and trends. They never see your "
            "answers to the safety questions, your notes, or your answers question by question.")),
    )


@router.get("/care-team")
def care_team(request: Request, session: SessionDep, user: PatientUser):
    return render(request, "careteam/care_team.html", _care_team_context(session, user))


# Consent changes (who sees the records, and what) ask for the password again when it is old.
@router.post("/care-team/caregivers/{link_id}", dependencies=[RecentAuth])
def change_caregiver(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    link_id: uuid.UUID,
    scope: Annotated[str, Form()] = "",  # any length: the service says, beside the field
    ends_on: Annotated[str, Form()] = "",
):
    try:
        careteam.set_caregiver_terms(session, patient=user, link_id=link_id, scope=scope,
                                     ends_on=ends_on, now=utcnow())
    except Invalid as err:
        session.rollback()
        key = str(link_id)
        context = _care_team_context(
            session, user,
            link_errors={key: err.errors or {"__all__": err.message}},
            link_values={key: {"scope": scope, "ends_on": ends_on}},
        )
        return render(request, "careteam/care_team.html", context, status_code=422)
    return see_other(f"/care-team?changed=1#caregiver-{link_id}")


@router.post("/care-team/caregiver-alerts")
def caregiver_alert_delay(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    caregiver_alert_minutes: Annotated[str, Form()] = "",  # any length: the service says
):
    try:
        checkins.update_caregiver_alert_minutes(session, patient=user,
                                                minutes=caregiver_alert_minutes)
    except Invalid as err:
        session.rollback()
        form = checkins.caregiver_alert_form(checkins.settings_for(session, user.id),
                                             "/care-team/caregiver-alerts",
                                             value=caregiver_alert_minutes)
        context = _care_team_context(session, user, errors=err.errors, alert_delay=form)
        return render(request, "careteam/care_team.html", context, status_code=422)
    return see_other("/care-team?changed=1#alert-delay")


@router.post("/care-team/share-alerts")
def share_alerts(session: SessionDep, user: PatientUser,
                 share_alerts: Annotated[str, Form()] = ""):
    # A checkbox: ticked sends "yes", unticked sends nothing (no bad input to come back with).
    checkins.update_share_alerts(session, patient=user, share=share_alerts == "yes")
    return see_other("/care-team?shared=1#share-alerts")


@router.post("/care-team/caregivers/{link_id}/remove", dependencies=[RecentAuth])
def remove_caregiver(request: Request, session: SessionDep, user: PatientUser,
                     link_id: uuid.UUID):
    careteam.remove_caregiver(session, patient=user, link_id=link_id, now=utcnow())
    return see_other("/care-team?removed=1#team-heading")


@router.post("/care-team/invites/{invite_id}/cancel", dependencies=[RecentAuth])
def cancel_invite(request: Request, session: SessionDep, user: PatientUser,
                  invite_id: uuid.UUID):
    accounts.cancel_invite(session, patient=user, invite_id=invite_id, now=utcnow())
    return see_other("/care-team?cancelled=1#team-heading")


@router.post("/care-team/invite", dependencies=[RecentAuth])
def invite_caregiver(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    client_id: Annotated[str, Form(max_length=64)] = "",  # hidden: no person types it
    # Any length: the service says what is wrong beside each field, and the form comes back
    # with what was typed (as on the patient form above).
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
):
    values = {"client_id": client_id, "display_name": display_name, "email": email,
              "scope": scope, "ends_on": ends_on}
    try:
        issued = accounts.invite_caregiver(
            session,
            patient=user,
            invite_id=parse_client_id(client_id),
            email=email,
            display_name=display_name,
            scope=scope,
            ends_on=ends_on,
            now=utcnow(),
        )
    except AppError as err:
        session.rollback()
        return form_error(
            request,
            session,
            "careteam/care_team.html",
            err,
            values,
            {k: v for k, v in _care_team_context(session, user).items() if k != "values"},
        )
    return _issued_page(request, issued, back="/care-team")


def home_for(user: CurrentUser) -> str:
    return {
        Role.PATIENT: "/today",
        Role.CAREGIVER: "/supporting",
        Role.PRESCRIBER: "/patients",
    }[user.role]
