"""Sign in, sign out, invites and the account page."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from starlette.datastructures import Headers

from app.accounts import service
from app.accounts.models import InviteKind, User
from app.audit import events as audit_events
from app.db import SessionDep, utcnow
from app.deps import CurrentUser, OptionalUser, PrescriberUser, SignedInDep
from app.errors import Invalid, TooManyAttempts
from app.i18n import gettext as _
from app.push import service as push_service
from app.templating import render
from app.web import cookies
from app.web.forms import form_error, safe_next, see_other
from app.web.timezones import TIMEZONE_CHOICES, timezone_label

router = APIRouter()


def _set_session_cookie(request: Request, response: Response, token: str, user: User) -> None:
    # Name (__Host- over https) and attributes: app/web/cookies.py. The browser keeps the cookie
    # no longer than the server keeps the session (12 hours for a prescriber).
    cookies.set_session(request, response, token,
                        max_age=int(service.session_limits(user.role)[1].total_seconds()))


# "cache" and "storage" wipe the HTTP cache, the service worker's caches and registration,
# IndexedDB (the outbox, the protocol snapshot) and localStorage. Not "cookies": it would reach
# every site under the registrable domain, and could wipe the anonymous CSRF cookie the same
# response sets for the sign-in form (making that form refuse its own post); the session cookie
# is deleted by name instead.
CLEAR_SITE_DATA = '"cache", "storage"'


def sets_session_cookie(headers: Headers) -> bool:
    """The response (its headers) sets the session cookie: someone is signing in."""
    return any(
        cookies.is_session_name(value.split("=", 1)[0].strip())
        for value in headers.getlist("set-cookie")
    )


def forget_browser(
    response: Response, *, keep_unsent: bool = False, request: Request | None = None
) -> Response:
    """The session ended: drop its cookie, and make the browser wipe what it kept (PHI).

    `keep_unsent`: a session that ended by itself (expired, ended elsewhere) wipes the page
    caches but not storage, where the outbox keeps entries made offline that are not yet sent:
    wiping them would lose doses without a word. They stay keyed to their user, are shown and
    sent only when that user signs in again, and sign-out (after a warning) wipes them, unless
    another account's entries wait there too (privacy.js then deletes the leaver's own).
    """
    cookies.delete_session(request, response)  # pass `request`: over https the name differs
    response.headers["Clear-Site-Data"] = '"cache"' if keep_unsent else CLEAR_SITE_DATA
    return response


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None):
    if user is not None:
        return see_other(safe_next(next))
    return render(request, "accounts/login.html", {"values": {"next": safe_next(next)}})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
):
    values = {"email": email, "next": safe_next(next)}
    try:
        user = service.authenticate(
            session, email=email, password=password, address=_client_address(request), now=utcnow()
        )
    except TooManyAttempts as err:
        audit_events.sign_in_throttled(session, email)
        response = form_error(request, session, "accounts/login.html", err, values)
        response.headers["Retry-After"] = str(err.retry_after_seconds)
        return response
    if user is None:
        audit_events.sign_in_failed(session, email)
        # The failure rows must be committed, so this is a response, not an exception.
        return render(
            request,
            "accounts/login.html",
            {
                "values": values,
                "errors": {"__all__": _("That email and password do not match an account.")},
            },
            status_code=401,
        )
    audit_events.signed_in(session, user)
    token = service.start_session(session, user, utcnow(), method="password",
                                  user_agent=request.headers.get("user-agent"))
    response = see_other(safe_next(next))
    _set_session_cookie(request, response, token, user)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, signed_in: SignedInDep,
           keep_unsent: Annotated[str, Form(max_length=20)] = ""):
    if signed_in is not None:
        # Reminders stop on this device: the next person to pick up the phone sees none.
        push_service.forget_session(session, signed_in.auth.id)
        service.end_session(session, signed_in.auth)
        audit_events.signed_out(session, signed_in.user)
    # The service worker's caches and IndexedDB hold PHI: the browser wipes them on sign-out.
    # Unless the phone's outbox holds another account's unsent entries (their session ended
    # before they were sent; privacy.js found them and deleted this person's own first): a
    # storage wipe would lose a dose that person took, and invite a second one.
    return forget_browser(see_other("/login?signed_out=1"), request=request,
                          keep_unsent=keep_unsent == "others")


@router.get("/account")
def account_page(request: Request, user: CurrentUser, changed: str | None = None):
    return render(
        request,
        "accounts/account.html",
        {"values": _saved_values(user), "timezones": TIMEZONE_CHOICES, "changed": changed},
    )


def _saved_values(user) -> dict[str, str]:
    """The account page's settings as saved (its forms' values when nothing was entered)."""
    return {"timezone": user.timezone, "clinic_phone": user.clinic_phone or ""}


def _settings_error(request: Request, session, user, err: Invalid, **entered: str):
    """The account page again with the error by its field: what was entered in the form that
    failed, every other setting as saved."""
    return form_error(request, session, "accounts/account.html", err,
                      {**_saved_values(user), **entered}, {"timezones": TIMEZONE_CHOICES})


@router.post("/account/clinic-phone")
def change_clinic_phone(
    request: Request,
    session: SessionDep,
    user: PrescriberUser,
    clinic_phone: Annotated[str, Form(max_length=1000)] = "",
):
    try:
        service.set_clinic_phone(session, user, clinic_phone)
    except Invalid as err:
        return _settings_error(request, session, user, err, clinic_phone=clinic_phone)
    return see_other("/account?changed=clinic_phone")


@router.post("/account/timezone")
def change_timezone(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    timezone: Annotated[str, Form(max_length=64)] = "",
):
    if not service.valid_timezone(timezone):
        err = Invalid(_("Choose a time zone from the list."), field="timezone")
        return _settings_error(request, session, user, err, timezone=timezone)
    user.timezone = timezone
    session.add(user)
    return see_other("/account?changed=timezone")


@router.post("/account/language")
def change_language(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    language: Annotated[str, Form(max_length=16)] = "",
):
    try:
        service.set_language(session, user, language)
    except Invalid as err:
        return _settings_error(request, session, user, err, language=language)
    # A full page load follows (the form is not boosted), so the whole page, <html lang>
    # included, speaks the new language.
    return see_other("/account?changed=language")


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    password_confirm: Annotated[str, Form(max_length=1024)] = "",
):
    try:
        service.change_password(
            session,
            user,
            current=current_password,
            new=new_password,
            confirm=password_confirm,
            now=utcnow(),
        )
        # Every browser is signed out: none keeps receiving this person's reminders.
        push_service.forget_user(session, user)
        audit_events.password_changed(session, user)
    except Invalid as err:
        audit_events.password_change_refused(user)
        if err.field == "password":
            # The rule speaks of "password"; on this form the field is "new_password". A new
            # error, not a changed `field`: Invalid keeps its own copy in `errors`.
            err = Invalid(err.message, field="new_password")
        return form_error(
            request,
            session,
            "accounts/account.html",
            err,
            {"timezone": user.timezone},
            {"timezones": TIMEZONE_CHOICES},
        )
    # Every session ended, this one too: sign in again with the new password. What this
    # browser kept goes too, so the next person to sign in here cannot read it offline.
    return forget_browser(see_other("/login?password_changed=1"), request=request)


def _invite_context(session, invite, signed_in_user):
    # Whether the invite's address has an account is used for one thing only: the person signed
    # in with that very account gets an "Accept" button. Everyone else (signed out, or signed in
    # as someone else) gets the same page whether or not the account exists: the address and
    # password asked, with a way to sign in first. What a link holder can still learn, and when:
    # docs in service.accept_invite.
    existing = service.existing_account_for(session, invite)
    signed_in_as_invitee = (
        existing is not None and signed_in_user is not None and signed_in_user.id == existing.id
    )
    suggested = service.suggested_timezone(session, invite, signed_in_user)
    return {
        "invite": invite,
        "is_caregiver": invite.kind == InviteKind.CAREGIVER,
        # Who asked for support, by the name they go by: the patient sent this link themselves.
        "patient_name": (
            getattr(session.get(User, invite.patient_id), "display_name", None)
            if invite.kind == InviteKind.CAREGIVER else None
        ),
        "signed_in_as_invitee": signed_in_as_invitee,
        "timezones": TIMEZONE_CHOICES,
        "suggested_timezone": suggested,
        # Said in words beside the select: the invitee confirms or changes it knowingly.
        # Not for a signed-in caregiver, whose own account's zone it is.
        "suggested_timezone_label": None if signed_in_as_invitee else timezone_label(suggested),
    }


def _keep_link_private(response: Response) -> Response:
    """The page's URL is a secret: no cache keeps the page, and no Referer carries the path."""
    response.headers["Cache-Control"] = "no-store"
    # Not no-referrer: under it, browsers without Sec-Fetch-Site send "Origin: null" on the
    # page's own form post, which the CSRF check refuses (ENGINEERING.md).
    response.headers["Referrer-Policy"] = "strict-origin"
    return response


@router.get("/invite/{token}")
def invite_page(request: Request, session: SessionDep, token: str, user: OptionalUser):
    invite = service.open_invite(session, token, utcnow())
    ctx = _invite_context(session, invite, user)
    values = {"timezone": ctx["suggested_timezone"]}
    return _keep_link_private(
        render(request, "accounts/invite.html", {**ctx, "token": token, "values": values})
    )


@router.post("/invite/{token}")
def accept_invite(
    request: Request,
    session: SessionDep,
    token: str,
    signed_in: SignedInDep,
    email: Annotated[str, Form(max_length=500)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_confirm: Annotated[str, Form(max_length=1024)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
):
    signed_in_user = signed_in.user if signed_in else None
    try:
        user = service.accept_invite(
            session,
            token=token,
            email=email,
            password=password or None,
            confirm=password_confirm,
            timezone=timezone,
            signed_in=signed_in_user,
            now=utcnow(),
            address=_client_address(request),
        )
    except (Invalid, TooManyAttempts) as err:
        invite = service.open_invite(session, token, utcnow())
        ctx = _invite_context(session, invite, signed_in_user)
        response = form_error(
            request,
            session,
            "accounts/invite.html",
            err,
            {"timezone": timezone, "email": email},
            {**ctx, "token": token},
        )
        if isinstance(err, service.WrongInviteEmail):
            # After form_error's rollback, so the count is committed with the refusal.
            service.record_wrong_invite_email(session, token, utcnow())
        if isinstance(err, service.WrongAccountPassword):
            # Likewise: a wrong password for the account counts as a failed sign-in.
            service.record_login_failure(
                session, email=invite.email, address=_client_address(request), now=utcnow()
            )
        if isinstance(err, TooManyAttempts):
            response.headers["Retry-After"] = str(err.retry_after_seconds)
        return _keep_link_private(response)
    response = see_other("/?welcome=1")
    if signed_in is None or signed_in.user.id != user.id:
        token = service.start_session(session, user, utcnow(), method="invite",
                                      user_agent=request.headers.get("user-agent"))
        _set_session_cookie(request, response, token, user)
    return response
