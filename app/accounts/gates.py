"""Two gates between a signed-in session and the app: re-authentication before sensitive
actions (exports, consent changes), and the optional app lock.

Both refuse by raising `SendTo`, which app/main.py turns into a 303 to the gate's page for a
browser (an HX-Redirect for htmx), or a JSON error with a clear status for API clients. They
run before the route, so a refused POST writes nothing.
"""

from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from app.accounts.models import AuthSession
from app.config import settings
from app.i18n import gettext as _
from app.web.forms import safe_next, see_other
from app.web.reload import form_page_for


class SendTo(Exception):
    """Refuse this request: a browser goes to `page`, an API client gets `status` + detail."""

    def __init__(self, page: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.page, self.status, self.detail = page, status, detail


def _back_to(request: Request) -> str:
    """Where to return after the gate: this page, or for a form post the page the form is on
    (a POST cannot be replayed by a redirect)."""
    path = request.url.path
    if request.method != "GET":
        return form_page_for(path) or "/"
    return path + (f"?{request.url.query}" if request.url.query else "")


def with_next(page: str, request: Request) -> str:
    return f"{page}?next={quote(safe_next(_back_to(request)), safe='/')}"


def _is_navigation(request: Request) -> bool:
    # A browser opening an /api/ download link itself (an export): send it to the page.
    return request.headers.get("sec-fetch-mode") == "navigate"


def handle(request: Request, exc: SendTo) -> Response:
    if request.url.path.startswith("/api/") and not _is_navigation(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": exc.page, "Vary": "HX-Request"})
    response = see_other(exc.page)
    response.headers["Vary"] = "HX-Request"
    return response


# --- re-authentication -----------------------------------------------------------------------


def recently_authenticated(auth: AuthSession, now: datetime) -> bool:
    when = auth.reauthenticated_at
    return when is not None and now - when < timedelta(minutes=settings.reauth_minutes)


# --- the app lock ----------------------------------------------------------------------------

# Reachable while the app is locked: the lock screen itself, signing out, crisis help (always),
# and what the offline shell and the service worker need.
_OPEN_WHILE_LOCKED = ("/unlock", "/logout", "/help", "/offline", "/sw.js", "/healthz", "/livez")
_OPEN_PREFIXES = ("/static/", "/manifest")


def open_while_locked(path: str) -> bool:
    return path in _OPEN_WHILE_LOCKED or path.startswith(_OPEN_PREFIXES)


def refuse_if_locked(request: Request, auth: AuthSession) -> None:
    if not auth.locked or open_while_locked(request.url.path):
        return
    # 423 Locked: the outbox (app/static/outbox.js) keeps every entry on any non-2xx answer,
    # so entries made while locked wait until the PIN is entered.
    raise SendTo(
        with_next("/unlock", request),
        423,
        _("The app is locked. Open TrocheLog and enter your PIN to continue."),
    )
