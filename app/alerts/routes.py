"""The care team's alerts page, acknowledging an alert, and a caregiver's alerts switch.

Plain forms with Post/Redirect/Get (htmx boosts them); a form error comes back on the alerts
page with the typed note beside its field.
"""

import uuid
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Form, Request

from app.accounts.models import Role, User
from app.alerts import service as alerts
from app.careteam import access
from app.careteam import supporting as caregiving
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, require_role
from app.errors import Invalid
from app.i18n import gettext as _
from app.templating import render
from app.web.forms import safe_next, see_other

router = APIRouter()

CareTeamUser = Annotated[User, require_role(Role.PRESCRIBER, Role.CAREGIVER)]
RECENT_SHOWN = 20


def _page(session, user: User, **extra) -> dict:
    return {
        "open": alerts.views(session, alerts.open_alerts(session, user)),
        # A prescriber's: the caregivers-only kinds, open on the patient's page too (not paged).
        "open_not_paged": alerts.views(session, alerts.open_not_paged(session, user)),
        "recent": alerts.views(session, alerts.recent_acknowledged(session, user, RECENT_SHOWN)),
        "receiving": (
            any(alerts.receives_alerts_by_patient(session, user).values())
            if user.role == Role.CAREGIVER
            else True
        ),
        "back": "/alerts",
        **extra,
    }


def _with_status(target: str, status: str) -> str:
    """The page it came from, with a status message for it to show (no PHI in the URL)."""
    parts = urlsplit(target)
    query = "&".join(q for q in (parts.query, f"alert={status}") if q)
    return urlunsplit(("", "", parts.path, query, parts.fragment))


@router.get("/alerts")
def alerts_page(request: Request, session: SessionDep, user: CareTeamUser):
    return render(request, "alerts/index.html", _page(session, user))


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    request: Request,
    session: SessionDep,
    user: CareTeamUser,
    alert_id: uuid.UUID,
    note: Annotated[str, Form()] = "",  # any length: the service says by how much to cut
    back: Annotated[str, Form(max_length=500)] = "",
):
    target = safe_next(back, "/alerts")
    try:
        result = alerts.acknowledge(session, user=user, alert_id=alert_id, note=note, now=utcnow())
    except Invalid as err:
        session.rollback()
        key = str(alert_id)
        context = _page(session, user, errors={key: err.message}, values={key: note}, back=target)
        return render(request, "alerts/index.html", context, status_code=422)
    return see_other(_with_status(target, "already" if result.already else "acknowledged"))


def _supporting_context(session, user: User, **extra) -> dict:
    # The whole caregiver home, so the error shows on the page the caregiver came from.
    return caregiving.home(session, user, utcnow(), **extra)


@router.post("/supporting/{patient_id}/alerts")
def caregiver_alerts(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    patient_id: uuid.UUID,
    receive: Annotated[str, Form(max_length=10)] = "",
):
    # Their own active link (any scope), or NotFound: for anyone else (the patient, a
    # prescriber) the same 404 as for a person who does not exist.
    access.require_patient_access(session, user, patient_id, access.Purpose.SUPPORT)
    if receive not in ("on", "off"):
        # Only a hand-made request gets here: the page's buttons send one of the two.
        context = _supporting_context(
            session, user, alert_errors={str(patient_id): _("Choose whether to receive alerts.")}
        )
        return render(request, "careteam/supporting.html", context, status_code=422)
    alerts.set_receives_alerts(session, caregiver=user, patient_id=patient_id, on=receive == "on")
    return see_other(f"/supporting?alerts={receive}#alerts-{patient_id}")
