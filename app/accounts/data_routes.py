"""A patient's data rights: download everything (JSON, FHIR) and delete the account."""

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.accounts import deletion, mydata
from app.accounts.reauth import RecentAuth
from app.accounts.routes import _client_address, forget_browser
from app.audit import service as audit
from app.db import SessionDep, utcnow
from app.deps import PatientUser
from app.errors import Invalid, TooManyAttempts
from app.templating import render
from app.web.forms import see_other

router = APIRouter()


def _page(request: Request, errors: dict | None = None, values: dict | None = None,
          status_code: int = 200):
    return render(request, "accounts/data.html",
                  {"errors": errors or {}, "values": values or {},
                   "confirm_word": deletion.confirmation_word()}, status_code=status_code)


def _download(content: bytes, media_type: str, filename: str) -> Response:
    # The file names say what and when, never whose (they end up in download folders, logs).
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@router.get("/account/data")
def data_page(request: Request, user: PatientUser):
    return _page(request)


# A download holds the whole record: a recent proof that it is the patient, as for exports.
@router.get("/account/data/trochelog-my-data.json", dependencies=[RecentAuth])
def download_json(session: SessionDep, user: PatientUser) -> Response:
    now = utcnow()
    document = mydata.everything(session, user, now=now)
    audit.record(session, action="data.download", actor=user, patient_id=user.id, now=now,
                 details={"format": "json", "rows": mydata.count_rows(document)})
    content = json.dumps(document, ensure_ascii=False, indent=1).encode()
    return _download(content, "application/json",
                     f"trochelog-my-data-{now:%Y%m%d}.json")


@router.get("/account/data/trochelog-my-data.fhir.json", dependencies=[RecentAuth])
def download_fhir(session: SessionDep, user: PatientUser) -> Response:
    now = utcnow()
    bundle, rows = mydata.fhir_bundle(session, user, now=now)
    audit.record(session, action="data.download", actor=user, patient_id=user.id, now=now,
                 details={"format": "fhir", "rows": rows})
    content = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
    return _download(content, "application/fhir+json",
                     f"trochelog-my-data-{now:%Y%m%d}.fhir.json")


@router.post("/account/delete")
def delete_account(
    request: Request,
    session: SessionDep,
    user: PatientUser,
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=100)] = "",
):
    now = utcnow()
    try:
        deletion.check_request(session, user, password=password, confirm=confirm,
                               address=_client_address(request), now=now)
    except TooManyAttempts as err:
        session.rollback()
        response = _page(request, {"password": err.message}, {"confirm": confirm},
                         err.status_code)
        response.headers["Retry-After"] = str(err.retry_after_seconds)
        return response
    except Invalid as err:
        # Not rolled back: a wrong password counts as a failed sign-in (its rows commit with
        # this response); nothing else has been written.
        return _page(request, err.errors, {"confirm": confirm}, 422)
    deletion.delete_patient(session, user, address=_client_address(request), now=now)
    # This browser's session row is gone with the rest; it also drops the cookie and wipes
    # the pages, caches and offline outbox it kept.
    return forget_browser(see_other("/account/deleted"), request=request)


@router.get("/account/deleted")
def deleted_page(request: Request):
    return render(request, "accounts/deleted.html", {})
