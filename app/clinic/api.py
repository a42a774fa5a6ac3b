"""GET /api/v1/patients: a prescriber's patients with their open flags (the list page as JSON);
a caregiver gets the people they support in the care team's shape (app/careteam/api.py)."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from app.accounts.models import Role
from app.careteam import api as careteam_api
from app.clinic import flags as flag_rules
from app.clinic import search, service
from app.db import SessionDep, utcnow
from app.deps import CurrentUser
from app.errors import Forbidden
from app.i18n import gettext as _

router = APIRouter(prefix="/api/v1", tags=["clinic"])

API_PAGE_SIZE = 100


class FlagOut(BaseModel):
    code: Literal[flag_rules.CODES] = Field(  # type: ignore[valid-type]
        description="What needs a look, in urgency order: " + ", ".join(flag_rules.CODES) + ".")
    message: str = Field(description="The flag in words, in the request's language.")
    since: datetime = Field(description="When the (earliest still open) occurrence happened.")


class ClinicPatientOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    phase: Literal["induction", "maintenance", "taper"] | None = Field(
        description="The current protocol's phase today; null without a protocol.")
    flags: list[FlagOut] = Field(description="Open (unreviewed) flags, most urgent first.")


@router.get(
    "/patients",
    response_model=list[ClinicPatientOut] | list[careteam_api.PatientOut],
    responses={
        401: {"model": careteam_api.ErrorOut, "description": "Not signed in."},
        403: {"model": careteam_api.ErrorOut, "description": "Patients have no list of patients."},
        422: {"model": careteam_api.ErrorOut, "description": "An unknown flag or a search that "
              "is too long."},
    },
)
def list_patients(
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    flag: Annotated[str, Query(max_length=100, description=(
        "Prescribers: only patients with an open flag of this code."))] = "",
    q: Annotated[str, Query(max_length=1000, description=(
        "Prescribers: only patients whose name or email contains this (any case)."))] = "",
    find: Annotated[str, Query(max_length=4000, description=(
        "Prescribers: a search as the `Link` header carries it, sealed so that a name is not "
        "readable in an address (use `q` for a new search)."))] = "",
    page: Annotated[str, Query(max_length=20, description=(
        f"Prescribers: the page, {API_PAGE_SIZE} patients each, from 1 (the most urgent). "
        "The response's `Link` header names the next page (rel=\"next\") while there is one; "
        "`X-Total-Count` is the number of patients matching."))] = "",
) -> list[ClinicPatientOut] | list[careteam_api.PatientOut]:
    """For a prescriber, their patients with open flags, ordered by the most urgent open flag,
    then by name (those without flags last), as on the /patients page, a page at a time. For a
    caregiver, the people they support now, by name (`flag`, `q` and `page` do not apply)."""
    if user.role == Role.PATIENT:
        raise Forbidden(_("Only prescribers and caregivers have a list of patients."))
    now = utcnow()
    if user.role != Role.PRESCRIBER:
        return careteam_api.patient_entries(session, user, now)
    filters = search.filters(flag, q, find)
    shown = service.patient_page(session, user, now, filters, service.page_number(page),
                                 size=API_PAGE_SIZE)
    response.headers["X-Total-Count"] = str(shown.total)
    if shown.number < shown.pages:
        # The search rides sealed, as on the page (app/clinic/search.py): a client following
        # the links does not put the name in every address it asks for.
        query = search.query(filters, shown.number + 1)
        response.headers["Link"] = f'</api/v1/patients?{query}>; rel="next"'
    return [
        ClinicPatientOut(
            id=row.patient.id, name=row.patient.display_name, email=row.patient.email,
            phase=row.phase,  # type: ignore[arg-type]
            flags=[FlagOut(code=f.code, message=f.message, since=f.since) for f in row.flags],
        )
        for row in shown.rows
    ]
