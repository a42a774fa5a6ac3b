"""Export forms: pick the days and a format; a good request goes on to the download (303 to
/api/v1/...), a bad one comes back with the message next to its field. Plain GET forms, so
they work without JavaScript."""

import uuid
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from app.accounts.models import User
from app.accounts.reauth import RecentAuthToDownload
from app.careteam.access import local_today
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, PrescriberUser
from app.errors import Invalid
from app.exports import service
from app.templating import render
from app.web.forms import see_other

router = APIRouter()


def _form(request: Request, patient: User | None, formats: tuple[str, ...], download: str,
          today, zone: ZoneInfo):
    params = request.query_params
    values = {name: params.get(name, "") for name in ("start", "end")}
    context = {"patient": patient, "formats": formats, "values": values, "errors": {},
               "max_days": service.MAX_DAYS, "default_days": service.DEFAULT_DAYS}
    if "format" not in params:  # the page itself, before anything is asked for
        return render(request, "exports/export.html", context)
    try:
        asked = service.parse_request(params.get("format"), values["start"], values["end"],
                                      today=today, zone=zone, formats=formats)
    except Invalid as exc:
        context["errors"] = exc.errors
        return render(request, "exports/export.html", context, status_code=exc.status_code)
    return see_other(f"{download}?{urlencode(asked.query())}")


# Registered before /patients/{patient_id} (app/main.py), which would otherwise take "export".
@router.get("/patients/export", dependencies=[RecentAuthToDownload])
def panel_export_form(request: Request, session: SessionDep, user: PrescriberUser):
    return _form(request, None, service.PANEL_FORMATS, "/api/v1/export",
                 local_today(user, utcnow()), ZoneInfo(user.timezone))


@router.get("/patients/{patient_id}/export", dependencies=[RecentAuthToDownload])
def patient_export_form(request: Request, session: SessionDep, user: CurrentUser,
                        patient_id: uuid.UUID):
    patient = service.patient_for_export(session, user, patient_id)
    return _form(request, patient, service.FORMATS, f"/api/v1/patients/{patient.id}/export",
                 local_today(patient, utcnow()), ZoneInfo(patient.timezone))
