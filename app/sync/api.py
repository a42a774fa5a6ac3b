"""POST /api/v1/sync: the offline queue's write path (and any other client's)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.models import Role, User
from app.db import SessionDep, commit_request, utcnow
from app.deps import CurrentUser
from app.errors import Forbidden
from app.i18n import gettext as _
from app.sync import service
from app.sync.schemas import SyncResponse
from app.sync.service import IncomingItem

router = APIRouter(prefix="/api/v1", tags=["sync"])

# A month offline is about 200 entries; 500 takes a whole outbox in one request (in about a
# second, docs/benchmarks.md). The phone still sends smaller batches (app/static/outbox.js).
MAX_ITEMS = 500


class SyncRequest(BaseModel):
    """The envelope is strict (a 422 for the whole request): an object with only `items`, each an
    object with a valid UUID `id`. Everything else about an item rejects that item alone."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[IncomingItem], Field(max_length=MAX_ITEMS)]


class _Answer(BaseModel):
    # The answer as sent; app/sync/schemas.py declares its shape for /openapi.json. Declared,
    # not checked here: the items are committed by now, and a result the declaration missed
    # must not become a 500 that the phone would retry forever.
    results: list[dict[str, Any]]
    answered_at: datetime


def _writer(user: CurrentUser) -> User:
    # A dependency, so a prescriber is refused before the body is validated (a 403, not a 422
    # that would depend on what they sent).
    if user.role not in (Role.PATIENT, Role.CAREGIVER):
        raise Forbidden(_("Only patients and their sitters record entries."))
    return user


@router.post("/sync", response_model=None, responses={200: {"model": SyncResponse}})
def sync(body: SyncRequest, session: SessionDep,
         user: Annotated[User, Depends(_writer)]) -> _Answer:
    """Apply each item in order; results come back in the same order.

    `status` is `created`, `duplicate` (same id, same content: nothing written) or `rejected`
    (with `detail`, `errors` per field, a `code` for problems with the item itself such as
    `invalid_item`, `unsavable_text`, `too_deep` or `too_large`, and `reasons` when a dose broke
    a guard rule without an override). A rejected item never affects the others.
    """
    now = utcnow()
    # A patient writes their own record; a sitter's items each name their patient (checked
    # per item in service.sitter_patient).
    patient = user if user.role == Role.PATIENT else None
    if patient is None:
        service.lock_sitters_patients(session, user, body.items, now)
    results = [service.apply_incoming(session, author=user, patient=patient, incoming=item,
                                      now=now)
               for item in body.items]
    # Committed here, not after the route returns, so `answered_at` follows the commit. The
    # response's Date header cannot say so: it is to the second and the server refreshes it
    # once a second, so it can name a time before the commit.
    commit_request(session)
    return _Answer(results=results, answered_at=utcnow())
