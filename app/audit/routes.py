"""The audit trail's pages: the patient's "who has seen my records", and the prescriber's log
for one patient and for all of theirs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.audit import log
from app.careteam import access
from app.db import SessionDep
from app.deps import CurrentUser, PatientUser, PrescriberUser
from app.templating import render

router = APIRouter()

PageNo = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/account/access-log")
def seen_by_others(request: Request, session: SessionDep, user: PatientUser, page: PageNo = 1):
    return render(request, "audit/seen_by_others.html",
                  {"log": log.seen_by_others(session, user, page)})


@router.get("/patients/{patient_id}/audit")
def patient_log(request: Request, session: SessionDep, user: CurrentUser,
                patient_id: uuid.UUID, page: PageNo = 1):
    # Anyone but the patient's prescriber: 404, as for a patient who does not exist.
    patient = access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)
    return render(request, "audit/patient_log.html",
                  {"patient": patient, "log": log.for_patient(session, patient.id, page),
                   "action_words": log.action_words})


@router.get("/audit")
def clinic_log(request: Request, session: SessionDep, user: PrescriberUser, page: PageNo = 1):
    # The patients' names are shown, nothing of their records: a filter, not a view.
    patients = access.readable_patients(session, user, access.Purpose.TREAT, audited=False)
    return render(request, "audit/clinic_log.html",
                  {"log": log.for_patients(session, [p.id for p in patients], page),
                   "action_words": log.action_words})
