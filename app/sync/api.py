"""POST /api/v1/sync: the offline queue's write path (and any other client's)."""

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.accounts.models import Role
from app.db import SessionDep, utcnow
from app.deps import CurrentUser
from app.errors import Forbidden
from app.i18n import gettext as _
from app.sync import service
from app.sync.service import SyncItem

router = APIRouter(prefix="/api/v1", tags=["sync"])


class SyncRequest(BaseModel):
    items: Annotated[list[SyncItem], Field(max_length=200)]


class SyncResponse(BaseModel):
    results: list[dict[str, Any]]


@router.post("/sync", response_model=SyncResponse)
def sync(body: SyncRequest, session: SessionDep, user: CurrentUser) -> SyncResponse:
    """Apply each item in order; results come back in the same order.

    `status` is `created`, `duplicate` (same id, same content: nothing written) or `rejected`
    (with `detail`, and `reasons` when a dose broke a guard rule without an override).
    """
    if user.role != Role.PATIENT:
        raise Forbidden(_("Only patients record entries for now."))
    now = utcnow()
    return SyncResponse(
        results=[service.apply(session, author=user, patient=user, item=item, now=now)
                 for item in body.items]
    )
