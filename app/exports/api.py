"""Export downloads: one patient (CSV, PDF or FHIR) or the prescriber's whole panel (CSV).

    GET /api/v1/patients/{patient_id}/export?format=csv|pdf|fhir&start=YYYY-MM-DD&end=YYYY-MM-DD
    GET /api/v1/export?format=csv&start=YYYY-MM-DD&end=YYYY-MM-DD

A patient who is not the prescriber's own: 404; bad input: 422 naming the field, nothing
written. Every export is audited (app/exports/service.py). File names carry the days only.
"""

import importlib
import json
import uuid
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from app import i18n
from app.accounts.reauth import RecentAuth
from app.careteam.access import local_today
from app.clinic import flags as flag_rules
from app.db import SessionDep, engine, utcnow
from app.deps import CurrentUser
from app.errors import AppError
from app.exports import csv_export, records, service
from app.exports.panel import panel_zip
from app.i18n import gettext as _

router = APIRouter(prefix="/api/v1", tags=["exports"])

DayParam = Annotated[str | None, Query(description="A day, YYYY-MM-DD (the patient's local "
                                                   "day); `end` inclusive. Default: the last "
                                                   "90 days; at most 400.")]
FormatParam = Annotated[str | None, Query(description="csv (a zip), pdf or fhir (a FHIR R4 "
                                                      "Bundle, JSON)")]


class NotAvailable(AppError):
    status_code = 503


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


def _generator(name: str, missing: str):
    """pdf.py and fhir.py are imported when first asked for (they arrive separately)."""
    try:
        return importlib.import_module(f"app.exports.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"app.exports.{name}":
            raise
        raise NotAvailable(missing) from None


# The files' real types, so /openapi.json (and clients generated from it) expect them.
PATIENT_FILES = {200: {"description": "The export file.", "content": {
    "application/zip": {}, "application/pdf": {}, "application/fhir+json": {}}},
    503: {"description": "That format is not available yet."}}
PANEL_FILES = {200: {"description": "A zip of CSV files.", "content": {"application/zip": {}}}}


@router.get("/patients/{patient_id}/export", dependencies=[RecentAuth],  # re-authenticate first
            response_class=Response, responses=PATIENT_FILES)
def export_patient(session: SessionDep, user: CurrentUser, patient_id: uuid.UUID,
                   format: FormatParam = None, start: DayParam = None,
                   end: DayParam = None) -> Response:
    patient = service.patient_for_export(session, user, patient_id)
    now = utcnow()
    request = service.parse_request(format, start, end, today=local_today(patient, now),
                                    zone=ZoneInfo(patient.timezone))
    found = records.gather(session, patient, request.start, request.end)
    if request.format == "csv":
        content = csv_export.patient_zip(found, generated_at=now)
        response = _download(content, "application/zip", request.filename("zip"))
    elif request.format == "pdf":
        pdf = _generator("pdf", _("PDF export is not available yet."))
        # In the language of the person who asked (their setting, else this browser's).
        language = i18n.language_for(user, i18n.current_language())
        with i18n.using(language):
            # What the patient list shows for this patient now, in the reader's words.
            found.open_flags = flag_rules.for_patients(session, [patient], now)[patient.id][1]
        content = pdf.render(found, generated_at=now, prescriber=user, language=language)
        response = _download(content, "application/pdf", request.filename("pdf"))
    else:
        fhir = _generator("fhir", _("FHIR export is not available yet."))
        bundle = fhir.bundle(found, generated_at=now)
        content = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
        response = _download(content, "application/fhir+json", request.filename("json"))
    service.record_export(session, actor=user, patient_id=patient.id, request=request,
                          rows=found.rows(), now=now)
    return response


@router.get("/export", dependencies=[RecentAuth],  # re-authenticate first
            response_class=StreamingResponse, responses=PANEL_FILES)
def export_panel(session: SessionDep, user: CurrentUser, format: FormatParam = None,
                 start: DayParam = None, end: DayParam = None) -> StreamingResponse:
    patients = service.panel_for_export(session, user)
    now = utcnow()
    request = service.parse_request(format, start, end, today=local_today(user, now),
                                    zone=ZoneInfo(user.timezone),
                                    formats=service.PANEL_FORMATS)
    event = service.record_export(session, actor=user, patient_id=None, request=request,
                                  rows=None, now=now, patients=len(patients), complete=False)
    for patient in patients:
        session.expunge(patient)  # read by the stream after this session has closed
    return StreamingResponse(
        panel_zip(engine, patients, request, generated_at=now, audit_id=event.id),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{request.filename("zip")}"',
                 "Cache-Control": "no-store"})
