"""/api/v1/push: the VAPID public key and this browser's subscription (any signed-in role)."""

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app import i18n
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, SignedInDep
from app.push import service, vapid

router = APIRouter(prefix="/api/v1/push", tags=["push"])


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict] = {
    401: {"model": ErrorOut, "description": "Not signed in."},
    403: {"model": ErrorOut, "description": "Missing or wrong X-CSRF-Token."},
    422: {"model": ErrorOut, "description": "The subscription is not usable; `detail` says why."},
}


class PublicKeyOut(BaseModel):
    public_key: str = Field(
        description="The server's VAPID public key (base64url, uncompressed P-256 point): "
        "pass it as applicationServerKey to PushManager.subscribe()."
    )


class SubscriptionKeys(BaseModel):
    p256dh: str = Field(max_length=200, description="base64url, 65 bytes")
    auth: str = Field(max_length=200, description="base64url, 16 bytes")


class SubscribeIn(BaseModel):
    """PushSubscription.toJSON() as the browser gives it (other fields such as
    `expirationTime` are ignored), with an optional device name."""

    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(max_length=4096)
    keys: SubscriptionKeys
    name: str | None = Field(
        default=None, max_length=200, description="Defaults to e.g. 'Chrome on Android'."
    )
    old_endpoint: str | None = Field(
        default=None,
        max_length=4096,
        description="The subscription this one replaces (the service worker's "
        "pushsubscriptionchange): that device keeps its place instead of a second entry.",
    )


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    name: str


class UnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(max_length=4096)


@router.get("/vapid-public-key", response_model=PublicKeyOut)
def vapid_public_key(session: SessionDep) -> PublicKeyOut:
    """Public by nature: the same key is in every subscription the browser makes."""
    return PublicKeyOut(public_key=vapid.public_key(session))


@router.post(
    "/subscriptions", status_code=201, response_model=SubscriptionOut, responses=ERRORS
)
def subscribe(
    body: SubscribeIn,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    signed_in: SignedInDep,
) -> SubscriptionOut:
    """Save this browser's subscription for the signed-in person (201 whether new or updated:
    the browser re-posts it on every app open). Signing out on this browser removes it."""
    row = service.subscribe(
        session,
        user=user,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        name=body.name,
        auth_session_id=signed_in.auth.id if signed_in else None,
        now=utcnow(),
        old_endpoint=body.old_endpoint,
        user_agent=request.headers.get("user-agent"),
        # Never the person's setting: the browser's language, for when they have none.
        language=i18n.pick_language(request.headers.get("accept-language")),
    )
    return SubscriptionOut(id=row.id, name=row.name)


@router.delete("/subscriptions", status_code=204, response_class=Response, responses=ERRORS)
def unsubscribe(body: UnsubscribeIn, session: SessionDep, user: CurrentUser) -> Response:
    """Forget this person's subscription at `endpoint` (204 also when there was none)."""
    service.remove_endpoint(session, user=user, endpoint=body.endpoint)
    return Response(status_code=204)
