"""/api/v1 for accounts: the same session cookie as the pages."""

import uuid

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.accounts.models import Role
from app.deps import CurrentUser
from app.templating import csrf_token

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class Me(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    timezone: str
    csrf_token: str


@router.get("/me", response_model=Me)
def me(request: Request, user: CurrentUser) -> Me:
    """Who is signed in, and the token to send as `X-CSRF-Token` on unsafe requests."""
    return Me(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        timezone=user.timezone,
        csrf_token=csrf_token(request),
    )
