"""Request dependencies: who is signed in, role guards, and the CSRF check on unsafe methods."""

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData

from app.accounts import gates
from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.audit import service as audit
from app.config import settings
from app.db import SessionDep, utcnow
from app.errors import Forbidden, Invalid, NotAuthenticated
from app.i18n import gettext as _
from app.validation import savable_text
from app.web import cookies, csrf, language

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def load_signed_in(request: Request, session: SessionDep) -> Iterator[accounts.SignedIn | None]:
    if not hasattr(request.state, "signed_in"):
        token = cookies.read_session(request)  # __Host- prefixed over https
        request.state.signed_in = accounts.resolve_session(session, token, utcnow())
        # A cookie that no longer resolves (expired, ended elsewhere, account closed): the
        # response tells the browser to forget it and the PHI it kept (main.py).
        request.state.stale_session = bool(token) and request.state.signed_in is None
    signed_in = request.state.signed_in
    if signed_in is not None:
        # The app lock is due: only the lock screen, sign-out and help answer (gates.py).
        gates.refuse_if_locked(request, signed_in.auth)
    try:
        yield signed_in
    except Exception:
        # The error page (403, 404, 422 …) renders after the request's transaction has rolled back
        # and closed, and it shows who is signed in: detach these rows first, so they keep their
        # loaded values instead of failing to reload (which turned every such page into a 500).
        if signed_in is not None:
            for row in (signed_in.user, signed_in.auth):
                if row in session:
                    session.expunge(row)
        raise


SignedInDep = Annotated[accounts.SignedIn | None, Depends(load_signed_in, scope="function")]


async def use_language(request: Request, signed_in: SignedInDep) -> None:
    """The signed-in person's language setting wins over the browser's (app/web/language.py).
    Async on purpose: it runs in the request's own context, so the language it activates is
    the one the route (even one run in a thread) and its page speak; a sync dependency runs in
    a copy of the context and its change would be lost."""
    language.apply(request)


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop (Starlette keeps it; the CSRF check has read it
    already), so that a route taking it is a plain `def`, run in the thread pool. A route that
    awaited the form itself had to be `async def`, and then ran its database work on the event
    loop: a write waiting for SQLite's turn (app/db.py), or for a row lock on PostgreSQL,
    stopped every other request in the process, the one holding the turn included (30 s and
    a 503)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]


def optional_user(signed_in: SignedInDep) -> User | None:
    return signed_in.user if signed_in else None


def current_user(signed_in: SignedInDep) -> User:
    if signed_in is None:
        raise NotAuthenticated()
    return signed_in.user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role):
    def guard(request: Request, user: CurrentUser) -> User:
        if user.role not in roles:
            # Audited with the route's template (never the concrete path: it may hold ids).
            route = request.scope.get("route")
            audit.note_denial(action="access", actor=user,
                              details={"path": getattr(route, "path", "?")})
            raise Forbidden()
        return user

    return Depends(guard)


PatientUser = Annotated[User, require_role(Role.PATIENT)]
CaregiverUser = Annotated[User, require_role(Role.CAREGIVER)]
PrescriberUser = Annotated[User, require_role(Role.PRESCRIBER)]


def expected_origin(request: Request) -> str:
    if settings.public_origin:
        return settings.public_origin.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def _same_origin(request: Request) -> bool:
    # Fetch metadata first: browsers send it on every request and it cannot be forged by a page.
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        # No browser sends neither header on a cross-site POST; scripts and curl cannot be
        # tricked into a CSRF, and the token below still binds the request to a session.
        return True
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == expected_origin(request)


# Bodies the CSRF check reads as a form (for its token field): after it, a route can read
# the form again (Starlette keeps it) but not the raw body.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def csrf_protect(request: Request, signed_in: SignedInDep) -> None:
    """Refuse an unsafe request unless it is same-origin and carries the session's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    refused = Forbidden(
        _("This form has expired or came from another site. Reload the page and try again.")
    )
    if not _same_origin(request):
        raise refused
    # A token may come as a header (htmx, the service worker, API clients) and as a form field.
    # A form's own field wins: it was rendered with the page the person is looking at.
    sent = [request.headers.get("x-csrf-token")]
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()  # cached on the request; the route reads the same form
        value = form.get("csrf_token")
        sent.insert(0, value if isinstance(value, str) else None)
        unsavable = not _savable_form(form)
    else:
        unsavable = False
    if signed_in is not None:
        key = f"session:{signed_in.auth.id}"
    else:
        anon = cookies.read_anon(request)
        key = f"anon:{anon}" if anon else None
    expected = accounts.csrf_token_for(key) if key else None
    # Pages carry the token masked afresh per response (BREACH, app/web/csrf.py); the raw one
    # still counts (API clients). Non-ASCII or malformed text is simply no match.
    if expected is None or not any(csrf.matches(token, expected) for token in sent):
        raise refused
    if unsavable:
        # PostgreSQL cannot store NUL in text, a lone surrogate (a multipart form may declare
        # a charset such as UTF-7 that decodes to one) breaks every later read, and no person
        # types either: refuse them up front. (Invalid UTF-8 in a urlencoded form is already
        # decoded to U+FFFD by the parser: valid text, saved as such.)
        raise Invalid(_("The form contained a character that cannot be saved."))


def _savable_form(form) -> bool:
    """Every field name, text value and file name of the form is text that can be stored."""
    for name, value in form.multi_items():
        texts = [name, value] if isinstance(value, str) else [name, value.filename or ""]
        if not all(savable_text(text) for text in texts):
            return False
    return True
