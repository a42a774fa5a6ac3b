"""Sessions and sign-in beyond the password form: re-authentication, the app lock, signed-in
devices, and password reset by one-time link (issue 13)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response
from sqlmodel import col, select

from app import i18n
from app.accounts import applock, mail, service
from app.accounts import reset as resets
from app.accounts.devices import in_words as device_words
from app.accounts.models import AuthSession
from app.accounts.routes import _client_address, _set_session_cookie, forget_browser
from app.audit import service as audit
from app.config import settings
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, SignedInDep, expected_origin
from app.errors import Forbidden, Invalid, NotAuthenticated, NotFound, TooManyAttempts
from app.i18n import gettext as _
from app.push import service as push_service
from app.templating import render
from app.web.forms import form_error, safe_next, see_other

router = APIRouter()

def _method_label(method: str | None) -> str:
    labels = {"password": _("Password"), "invite": _("Invite link"),
              "reset": _("Password reset link"), "passkey": _("Passkey")}
    return labels.get(method or "", _("Unknown"))


def _signed_in(signed_in):
    if signed_in is None:
        raise NotAuthenticated()
    return signed_in


# --- re-authentication ------------------------------------------------------------------------


@router.get("/reauth")
def reauth_page(request: Request, user: CurrentUser, next: str | None = None):
    return render(request, "accounts/reauth.html", {"values": {"next": safe_next(next)}})


@router.post("/reauth")
def reauth(
    request: Request,
    session: SessionDep,
    signed_in: SignedInDep,
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
):
    signed_in = _signed_in(signed_in)
    values = {"next": safe_next(next)}
    try:
        # Throttled and counted like sign-in: this form must not become a password oracle.
        user = service.authenticate(session, email=signed_in.user.email, password=password,
                                    address=_client_address(request), now=utcnow())
    except TooManyAttempts as err:
        response = form_error(request, session, "accounts/reauth.html", err, values)
        response.headers["Retry-After"] = str(err.retry_after_seconds)
        return response
    if user is None or user.id != signed_in.user.id:
        # A response, not an exception: the failure count must commit.
        return render(request, "accounts/reauth.html",
                      {"values": values,
                       "errors": {"password": _("Your password is not right.")}},
                      status_code=401)
    service.mark_reauthenticated(session, signed_in.auth, utcnow())
    return see_other(values["next"])


# --- the app lock -----------------------------------------------------------------------------


@router.get("/unlock")
def unlock_page(request: Request, signed_in: SignedInDep, next: str | None = None):
    if signed_in is None:
        return see_other("/login")
    if not signed_in.auth.locked:
        return see_other(safe_next(next))
    return render(request, "accounts/unlock.html", {"values": {"next": safe_next(next)}})


@router.post("/unlock")
def unlock(
    request: Request,
    session: SessionDep,
    signed_in: SignedInDep,
    pin: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
):
    if signed_in is None:
        return see_other("/login")
    values = {"next": safe_next(next)}
    auth_id = signed_in.auth.id
    outcome, left = applock.unlock(session, signed_in.user, signed_in.auth, pin=pin,
                                   now=utcnow())
    if outcome == applock.Unlock.OK:
        return see_other(values["next"])
    if outcome == applock.Unlock.ENDED:
        push_service.forget_session(session, auth_id)
        audit.record(session, action="session.end", actor=signed_in.user, outcome="ok",
                     details={"reason": "wrong_pins"})
        # Entries made offline and not yet sent stay on the phone for the next sign-in.
        return forget_browser(see_other("/login?locked_out=1"), keep_unsent=True,
                              request=request)
    message = _("That PIN is not right. %(n)s tries left before you must sign in again.",
                n=left)
    return render(request, "accounts/unlock.html",
                  {"values": values, "errors": {"pin": message}}, status_code=422)


def _app_lock_context(user, **extra):
    return {"choices": settings.app_lock_minute_choices, "enabled": bool(user.app_lock_pin_hash),
            **extra}


def _lock_owner(user):
    if not applock.may_use(user):
        raise Forbidden()
    return user


@router.get("/account/app-lock")
def app_lock_page(request: Request, user: CurrentUser, changed: str | None = None):
    _lock_owner(user)
    values = {"minutes": str(user.app_lock_minutes or settings.app_lock_minute_choices[0])}
    return render(request, "accounts/app_lock.html",
                  _app_lock_context(user, values=values, changed=changed))


@router.post("/account/app-lock")
def set_app_lock(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    pin: Annotated[str, Form(max_length=64)] = "",
    pin_confirm: Annotated[str, Form(max_length=64)] = "",
    minutes: Annotated[str, Form(max_length=10)] = "",
):
    _lock_owner(user)
    try:
        applock.set_pin(session, user, pin=pin, confirm=pin_confirm, minutes=minutes)
    except Invalid as err:
        return form_error(request, session, "accounts/app_lock.html", err,
                          {"minutes": minutes}, _app_lock_context(user))
    audit.record(session, action="app_lock.change", actor=user,
                 details={"enabled": True, "minutes": user.app_lock_minutes})
    return see_other("/account/app-lock?changed=on")


@router.post("/account/app-lock/off")
def turn_off_app_lock(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    password: Annotated[str, Form(max_length=1024)] = "",
):
    _lock_owner(user)
    try:
        applock.turn_off(session, user, password=password)
    except Invalid as err:
        values = {"minutes": str(user.app_lock_minutes or "")}
        return form_error(request, session, "accounts/app_lock.html", err, values,
                          _app_lock_context(user))
    audit.record(session, action="app_lock.change", actor=user, details={"enabled": False})
    return see_other("/account/app-lock?changed=off")


# --- signed-in devices ------------------------------------------------------------------------


@router.get("/account/devices")
def devices_page(request: Request, session: SessionDep, signed_in: SignedInDep,
                 ended: str | None = None):
    signed_in = _signed_in(signed_in)
    rows = session.exec(
        select(AuthSession)
        .where(AuthSession.user_id == signed_in.user.id)
        .order_by(col(AuthSession.last_seen_at).desc())
    ).all()
    devices = [
        {"id": row.id, "label": device_words(row.device) or _("Unknown device"),
         "method": _method_label(row.method), "created_at": row.created_at,
         "last_seen_at": row.last_seen_at, "current": row.id == signed_in.auth.id}
        for row in rows
    ]
    devices.sort(key=lambda d: not d["current"])  # this device first
    return render(request, "accounts/devices.html", {"devices": devices, "ended": ended})


@router.post("/account/devices/others/end")
def end_other_sessions(request: Request, session: SessionDep, signed_in: SignedInDep):
    signed_in = _signed_in(signed_in)
    others = session.exec(
        select(AuthSession.id).where(AuthSession.user_id == signed_in.user.id,
                                     AuthSession.id != signed_in.auth.id)
    ).all()
    for auth_id in others:
        push_service.forget_session(session, auth_id)
    service.end_all_sessions(session, signed_in.user, keep=signed_in.auth)
    audit.record(session, action="session.end", actor=signed_in.user,
                 details={"scope": "others", "count": len(others)})
    return see_other("/account/devices?ended=others")


@router.post("/account/devices/{session_id}/end")
def end_one_session(request: Request, session: SessionDep, signed_in: SignedInDep,
                    session_id: uuid.UUID):
    signed_in = _signed_in(signed_in)
    target = session.get(AuthSession, session_id)
    if target is None or target.user_id != signed_in.user.id:
        raise NotFound()
    push_service.forget_session(session, target.id)
    this_device = target.id == signed_in.auth.id
    service.end_session(session, target)
    audit.record(session, action="session.end", actor=signed_in.user,
                 details={"scope": "this" if this_device else "one"})
    if this_device:
        # Ending this browser's own session is signing out here.
        return forget_browser(see_other("/login?signed_out=1"), request=request)
    return see_other("/account/devices?ended=one")


# --- password reset ---------------------------------------------------------------------------


def _keep_link_secret(response: Response) -> Response:
    """The reset page's URL is the secret: no cache keeps it, no Referer carries it."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/forgot")
def forgot_page(request: Request, sent: str | None = None):
    return render(request, "accounts/forgot.html", {"sent": bool(sent), "values": {}})


@router.post("/forgot")
def forgot(
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)] = "",
):
    now = utcnow()
    issued = resets.request_reset(session, email=email, now=now)
    if issued is not None:
        link = f"{expected_origin(request)}/reset/{issued.token}"
        minutes = settings.password_reset_valid_minutes
        # In the account's language; with none chosen, this browser's (they are the one asking).
        with i18n.using(i18n.language_for(issued.user, i18n.current_language())) as language:
            message = mail.build(
                to=issued.user.email,
                language=language,
                subject=_("Choose a new TrocheLog password"),
                body=_(
                    "Someone (we hope you) asked to choose a new password for TrocheLog.\n\n"
                    "Open this link to choose one. It works once, for %(minutes)s minutes:\n"
                    "%(link)s\n\n"
                    "If you did not ask, ignore this email: your password stays as it is.",
                    minutes=minutes, link=link,
                ),
            )
        # Sent after the response (and the commit): the answer takes the same time whether
        # or not the address has an account.
        background.add_task(mail.send_quietly, message)
        audit.record(session, action="password.reset", actor=issued.user,
                     details={"step": "requested"})
    # One answer for every address, known or not, throttled or not.
    return see_other("/forgot?sent=1")


@router.get("/reset/{token}")
def reset_page(request: Request, session: SessionDep, token: str):
    resets.open_reset(session, token, utcnow())
    return _keep_link_secret(
        render(request, "accounts/reset.html", {"token": token, "values": {}})
    )


@router.post("/reset/{token}")
def reset_password(
    request: Request,
    session: SessionDep,
    token: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    password_confirm: Annotated[str, Form(max_length=1024)] = "",
):
    now = utcnow()
    try:
        user = resets.use_reset(session, token=token, password=password,
                                confirm=password_confirm, now=now)
    except Invalid as err:
        response = form_error(request, session, "accounts/reset.html", err, {}, {"token": token})
        return _keep_link_secret(response)
    # Every browser was signed out: none keeps receiving this person's reminders.
    push_service.forget_user(session, user)
    audit.record(session, action="password.reset", actor=user, details={"step": "used"})
    token_cookie = service.start_session(session, user, now, method="reset",
                                         user_agent=request.headers.get("user-agent"))
    response = see_other("/")
    _set_session_cookie(request, response, token_cookie, user)
    return _keep_link_secret(response)
