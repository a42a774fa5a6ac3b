"""Passkeys over HTTP: the account page's list, and the JSON legs of the browser ceremonies.

The ceremonies need JavaScript (app/static/passkeys.js): it asks for options, lets the browser
talk to the authenticator, and posts the answer back. Those legs answer JSON, errors included
(`{"detail": "..."}`), so the page can show the reason beside the button. Removing a passkey is
a plain form. Rules and storage: app/accounts/passkeys.py.

A refused answer is a response, not an exception: the spent challenge, the counted failure and
the audit entry must commit, and the service wrote nothing else before refusing.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from app.accounts import passkeys, service, throttle
from app.accounts.devices import device_label, in_words
from app.accounts.gates import recently_authenticated
from app.accounts.models import User
from app.accounts.routes import _set_session_cookie
from app.audit import service as audit
from app.db import SessionDep, utcnow
from app.deps import FORM_TYPES, CurrentUser, SignedInDep, expected_origin
from app.errors import AppError, Invalid, NotFound, TooManyAttempts
from app.i18n import gettext as _
from app.templating import env, render
from app.web import cookies
from app.web.forms import safe_next, see_other

router = APIRouter()

PAGE = "/account/passkeys"


async def _json_body(request: Request) -> dict[str, Any]:
    """The posted JSON object; anything else reads as empty (and is refused as unreadable)."""
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        # A form: the CSRF check has read its body already (there is no second read), and a
        # passkey's answer is never one.
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


JsonBody = Annotated[dict[str, Any], Depends(_json_body)]


def _json_error(err: AppError, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"detail": err.message, **extra}
    if err.field:
        body["field"] = err.field
    headers = None
    if isinstance(err, TooManyAttempts):
        headers = {"Retry-After": str(err.retry_after_seconds)}
    return JSONResponse(body, status_code=err.status_code, headers=headers)


def _options(options_json: str) -> Response:
    return Response(content=options_json, media_type="application/json")


def _rp(request: Request) -> passkeys.RelyingParty:
    return passkeys.relying_party(expected_origin(request))


def _session_key(signed_in: service.SignedIn) -> str:
    return passkeys.browser_key("session", str(signed_in.auth.id))


def _anon_key(request: Request) -> str | None:
    anon = cookies.read_anon(request)
    return passkeys.browser_key("anon", anon) if anon else None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _credential(body: dict[str, Any]) -> Any:
    return body.get("credential")


def _next(body: dict[str, Any]) -> str:
    """Where to go afterwards: the same safe-next rule as the password form's."""
    value = body.get("next")
    return safe_next(value if isinstance(value, str) else None)


def _not_signed_in() -> JSONResponse:
    return JSONResponse({"detail": _("Please sign in to continue.")}, status_code=401)


def _reauth_first() -> JSONResponse:
    # Adding a way in is as sensitive as an export: a recent proof that it is you comes first.
    return JSONResponse(
        {
            "detail": _("Please confirm it is you before adding a passkey."),
            "redirect": f"/reauth?next={PAGE}",
        },
        status_code=401,
    )


def user_has_passkeys(request: Request) -> bool:
    """For templates (the /reauth page's passkey button): the signed-in person has a passkey."""
    signed_in = getattr(request.state, "signed_in", None)
    db = getattr(request.state, "db", None)
    if signed_in is None or db is None:
        return False
    return passkeys.count_passkeys(db, signed_in.user.id) > 0


env.globals["user_has_passkeys"] = user_has_passkeys


# --- the account page -------------------------------------------------------------------------


def _page(request: Request, session, user: User, signed_in, status_code: int = 200, **ctx):
    return render(
        request,
        "accounts/passkeys.html",
        {
            "passkeys": passkeys.list_passkeys(session, user),
            "recent": recently_authenticated(signed_in.auth, utcnow()),
            "suggested_name": in_words(device_label(request.headers.get("user-agent"))) or "",
            "max_name": passkeys.NAME_MAX,
            **ctx,
        },
        status_code=status_code,
    )


@router.get(PAGE)
def passkeys_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    signed_in: SignedInDep,
    added: str | None = None,
    removed: str | None = None,
):
    return _page(request, session, user, signed_in, added=bool(added), removed=bool(removed))


@router.post(f"{PAGE}/options")
def passkey_registration_options(
    request: Request, session: SessionDep, signed_in: SignedInDep, body: JsonBody
):
    if signed_in is None:
        return _not_signed_in()
    now = utcnow()
    if not recently_authenticated(signed_in.auth, now):
        return _reauth_first()
    name = body.get("name")
    try:
        options = passkeys.registration_options(
            session,
            signed_in.user,
            rp=_rp(request),
            key=_session_key(signed_in),
            name=name if isinstance(name, str) else "",
            now=now,
        )
    except Invalid as err:
        return _json_error(err)
    return _options(options)


@router.post(PAGE)
def add_passkey(request: Request, session: SessionDep, signed_in: SignedInDep, body: JsonBody):
    # No second recency check: the challenge, issued only to a recent proof a few minutes ago
    # and only to this session, is the permission.
    if signed_in is None:
        return _not_signed_in()
    name = body.get("name")
    try:
        passkeys.add_passkey(
            session,
            signed_in.user,
            rp=_rp(request),
            key=_session_key(signed_in),
            credential=_credential(body),
            name=name if isinstance(name, str) else "",
            now=utcnow(),
        )
    except Invalid as err:
        return _json_error(err)
    except passkeys.PasskeyRefused as err:
        audit.record(session, action="passkey.add", actor=signed_in.user, outcome="failed",
                     details={"reason": err.reason})
        return _json_error(err)
    audit.record(session, action="passkey.add", actor=signed_in.user,
                 details={"passkeys": passkeys.count_passkeys(session, signed_in.user.id)})
    return {"redirect": f"{PAGE}?added=1"}


@router.post(PAGE + "/{passkey_id}/remove")
def remove_passkey(session: SessionDep, user: CurrentUser, passkey_id: str):
    try:
        parsed = uuid.UUID(passkey_id)
    except ValueError:
        raise NotFound() from None
    passkeys.remove_passkey(session, user, parsed)
    audit.record(session, action="passkey.remove", actor=user,
                 details={"passkeys": passkeys.count_passkeys(session, user.id)})
    return see_other(f"{PAGE}?removed=1")


# --- signing in -------------------------------------------------------------------------------


def _already_signed_in() -> JSONResponse:
    return JSONResponse({"detail": _("You are already signed in."), "redirect": "/"},
                        status_code=409)


@router.post("/login/passkey/options")
def sign_in_options(request: Request, session: SessionDep, signed_in: SignedInDep):
    if signed_in is not None:
        return _already_signed_in()
    key = _anon_key(request)
    if key is None:  # the CSRF check already refused a browser without it; belt and braces
        return _not_signed_in()
    return _options(passkeys.sign_in_options(session, rp=_rp(request), key=key, now=utcnow()))


@router.post("/login/passkey")
def sign_in(request: Request, session: SessionDep, signed_in: SignedInDep, body: JsonBody):
    if signed_in is not None:
        return _already_signed_in()
    key = _anon_key(request)
    if key is None:
        return _not_signed_in()
    now, address, credential = utcnow(), _address(request), _credential(body)
    # Throttled like a password: by address, and by the account the credential names.
    owner = passkeys.credential_owner(session, credential)
    email = owner[1].email if owner else ""
    try:
        throttle.check(session, email=email, address=address, now=now)
    except TooManyAttempts as err:
        audit.note_denial(action="sign_in", actor=owner[1] if owner else None,
                          details={"method": "passkey", "reason": "throttled"})
        return _json_error(err)
    try:
        _passkey, user = passkeys.sign_in(session, rp=_rp(request), key=key,
                                          credential=credential, now=now)
    except passkeys.PasskeyRefused as err:
        throttle.record_failure(session, email=email, address=address, now=now)
        audit.record(session, action="sign_in", actor=err.user or (owner[1] if owner else None),
                     outcome="failed", details={"method": "passkey", "reason": err.reason})
        return _json_error(err)
    throttle.record_success(session, email=user.email, address=address)
    token = service.start_session(session, user, now, method="passkey",
                                  user_agent=request.headers.get("user-agent"))
    audit.record(session, action="sign_in", actor=user, details={"method": "passkey"})
    response = JSONResponse({"redirect": _next(body)})
    _set_session_cookie(request, response, token, user)
    return response


# --- confirming it is you (/reauth) -----------------------------------------------------------


@router.post("/reauth/passkey/options")
def reauth_options(request: Request, session: SessionDep, signed_in: SignedInDep):
    if signed_in is None:
        return _not_signed_in()
    try:
        options = passkeys.reauth_options(session, signed_in.user, rp=_rp(request),
                                          key=_session_key(signed_in), now=utcnow())
    except NotFound as err:
        return _json_error(err)
    return _options(options)


@router.post("/reauth/passkey")
def reauth(request: Request, session: SessionDep, signed_in: SignedInDep, body: JsonBody):
    if signed_in is None:
        return _not_signed_in()
    now = utcnow()
    try:
        passkeys.reauthenticate(session, signed_in.user, rp=_rp(request),
                                key=_session_key(signed_in), credential=_credential(body), now=now)
    except passkeys.PasskeyRefused as err:
        audit.record(session, action="reauth", actor=signed_in.user, outcome="failed",
                     details={"method": "passkey", "reason": err.reason})
        return _json_error(err)
    service.mark_reauthenticated(session, signed_in.auth, now)
    audit.record(session, action="reauth", actor=signed_in.user, details={"method": "passkey"})
    return {"redirect": _next(body)}
