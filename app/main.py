"""create_app(): middleware, routers, static files and error pages."""

import logging
import secrets
from contextlib import asynccontextmanager
from urllib.parse import quote

import sqlalchemy.exc
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n
from app.accounts import api as accounts_api
from app.accounts import data_routes as accounts_data_routes
from app.accounts import gates as accounts_gates
from app.accounts import passkey_routes
from app.accounts import routes as accounts_routes
from app.accounts import session_routes as accounts_session_routes
from app.accounts.routes import forget_browser, sets_session_cookie
from app.accounts.service import resolve_session
from app.alerts import routes as alerts_routes
from app.audit import routes as audit_routes
from app.audit import service as audit_service
from app.careteam import api as careteam_api
from app.careteam import routes as careteam_routes
from app.checkins import api as checkins_api
from app.checkins import routes as checkins_routes
from app.clinic import api as clinic_api
from app.clinic import routes as clinic_routes
from app.config import settings
from app.db import engine, utcnow
from app.deps import csrf_protect, use_language
from app.doses import api as doses_api
from app.doses import routes as doses_routes
from app.errors import AppError, NotAuthenticated
from app.exports import api as exports_api
from app.exports import routes as exports_routes
from app.home import routes as home_routes
from app.i18n import gettext as _
from app.process import freeze_startup_objects
from app.protocols import routes as protocols_routes
from app.push import api as push_api
from app.push import vapid
from app.pwa import router as pwa_router
from app.reminders import api as reminders_api
from app.reminders import links as reminder_links
from app.reminders import routes as reminders_routes
from app.reminders.runner import InProcessDispatcher
from app.supervision import routes as supervision_routes
from app.sync import api as sync_api
from app.templating import keep_request_session, render
from app.validation import DAY_OR_INSTANT, error_message, printable
from app.web import cookies, language, openapi
from app.web.access_log import AccessLogMiddleware, configure_logging
from app.web.admission import AdmissionMiddleware, Busy
from app.web.assets import INLINE_SCRIPT_CSP, StaticAssets
from app.web.compression import CompressionMiddleware
from app.web.forms import see_other
from app.web.limits import BodyLimitMiddleware
from app.web.reload import form_page_for

log = logging.getLogger("trochelog")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'self'; script-src 'self' {INLINE_SCRIPT_CSP}; style-src 'self'; "
        "img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'; manifest-src 'self'; worker-src 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    # No address leaves the page, not even to ourselves. Browsers then send `Origin: null` on our
    # own form posts: the CSRF check reads Sec-Fetch-Site first (app/deps.py), see docs/security.md.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Only over https (a browser ignores it on http): two years, the preload list's minimum.
HSTS = "max-age=63072000; includeSubDomains"


BUSY_RETRY_SECONDS = 5


def db_busy(exc: BaseException) -> bool:
    """The database could not take the request in time: the pool had no free connection
    (pool_timeout), or SQLite's write lock stayed held past busy_timeout."""
    if isinstance(exc, Busy | sqlalchemy.exc.TimeoutError):
        return True
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        return "database is locked" in str(getattr(exc, "orig", "") or "")
    return False


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, status: int, message: str, headers=None):
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    context = {"status": status, "message": message}
    try:
        response = render(request, "error.html", context, status_code=status)
    except sqlalchemy.exc.SQLAlchemyError:
        # The signed-in person came from a transaction that was rolled back (a busy database):
        # their expired rows cannot be read again, so this page goes without the menu.
        request.state.signed_in = None
        response = render(request, "error.html", context, status_code=status)
    response.headers.update(headers or {})
    return response


async def _signed_in_for_error(request: Request) -> None:
    """An error before any route or dependency ran (an unknown URL, a body that is not JSON):
    look up who is signed in, in a session of its own, so the page keeps its navigation and
    speaks their language (the browser's until now). The lookup may write (the session seen,
    or ended) and runs in the thread pool, as routes do (tests/web/test_routes_off_the_loop.py);
    the language is set here, in the request's own context."""
    if hasattr(request.state, "signed_in"):
        return
    await run_in_threadpool(_look_up_signed_in, request)
    language.apply(request)


def _look_up_signed_in(request: Request) -> None:
    with Session(engine) as session:
        token = cookies.read_session(request)
        request.state.signed_in = resolve_session(session, token, utcnow())
        request.state.stale_session = bool(token) and request.state.signed_in is None
        if request.state.signed_in is not None:
            session.expunge(request.state.signed_in.user)
            session.expunge(request.state.signed_in.auth)
        session.commit()


def _readable_validation(exc: RequestValidationError) -> str:
    said: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        if loc[:1] == ["path"]:
            # The address itself (a link cut short or mistyped): its parts' names are ours.
            said.setdefault("", _("This address is not valid. Check the link."))
            continue
        if loc[:1] == ["query"]:
            # A query value is one scalar: what follows its name names a union's member
            # ("datetime", "function-before[_day_only(), date]"), the library's, not the sender's.
            loc = loc[:2]
        where = ".".join(p for p in loc if p not in ("body", "query"))
        # Each member of a union refuses: one message per value, our own words first.
        if where not in said or error.get("type") == DAY_OR_INSTANT:
            said[where] = error_message(error)
    parts = [f"{where}: {message}" if where else message for where, message in said.items()]
    # A location can be the sender's own key and a message can quote their input: make both
    # safe to send back (a lone surrogate there made the error itself a 500).
    return printable("; ".join(parts), limit=1000) or _("The request was not valid.")


@asynccontextmanager
async def lifespan(_app: FastAPI):
    # The embedded default: the reminder dispatcher runs beside the web app in this process.
    # With several instances on PostgreSQL, run `python -m app.reminders.worker` instead (or as
    # well: claims keep dispatchers from sending anything twice).
    vapid.check_settings()  # a push setting that cannot work stops the start, not the first send
    freeze_startup_objects()
    dispatcher = None
    if settings.reminders_dispatcher == "in-process":
        dispatcher = InProcessDispatcher()
        dispatcher.start()
    try:
        yield
    finally:
        if dispatcher:
            dispatcher.stop()


def _failure_response(request: Request, exc: Exception) -> Response:
    """The answer to an exception no handler took. Decided here so the server never logs the
    exception text: a database error's message can carry PHI. The request's transaction was
    already rolled back."""
    route = getattr(request.scope.get("route"), "path", "?")
    if db_busy(exc):
        # Overload, not a fault: every connection taken, or SQLite's write lock held past
        # busy_timeout. 503 + Retry-After tells the outbox to keep the entries and send them
        # again later (a 500 read as a broken server).
        log.warning("busy (%s) on %s %s", type(exc).__name__, request.method, route)
        return _error_response(
            request, 503,
            _("TrocheLog is busy right now. Nothing was saved; please try again in a moment."),
            headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
        )
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
    return _error_response(
        request, 500, _("Something went wrong on our side. Nothing was saved; please try again."))


# How a browser marks a request a script made with fetch(), as opposed to opening a page
# ("navigate"); a client that sends no Sec-Fetch-Mode is treated as opening a page.
SCRIPT_FETCH_MODES = frozenset({"cors", "same-origin", "no-cors"})


def _finish_headers(request: Request, headers: MutableHeaders, rid: str) -> None:
    """What every answer carries, whatever made it: security headers, the request id, the
    language, no caching of PHI, and the stale-session wipe."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    headers["X-Request-ID"] = rid
    if cookies.is_https(request):
        headers.setdefault("Strict-Transport-Security", HSTS)
    html = headers.get("content-type", "").startswith("text/html")
    if html or not request.url.path.startswith("/static/"):
        # The language the page or message speaks (the person's setting or the browser's;
        # app/web/language.py), for caches, translators' tools and screen readers.
        headers.setdefault("Content-Language",
                           getattr(request.state, "language", None) or i18n.current_language())
        # Pages and API answers hold PHI: no browser or shared cache keeps them (no-store also
        # keeps them out of the back/forward cache after sign-out). The service worker alone
        # decides what this device keeps, and sign-out wipes it. Static files keep their
        # validators; /sw.js sets its own no-cache.
        headers.setdefault("Cache-Control", "no-store")
    if getattr(request.state, "stale_session", False) and not sets_session_cookie(headers):
        # The cookie named a session that has ended (expired, signed out elsewhere, password
        # changed): whatever answers, the browser wipes the cached pages, and drops the cookie.
        # Not when this response signs someone in (a sign-in posted with a stale cookie), nor
        # when a script asked (the outbox asking who is signed in, the service worker
        # refreshing a page): its answer can arrive after someone else signed in on this
        # browser, and would drop their new cookie, which has the same name. The next page
        # opened drops the stale one.
        wipe = forget_browser(Response(), keep_unsent=True, request=request).headers
        if request.headers.get("sec-fetch-mode") not in SCRIPT_FETCH_MODES:
            for value in wipe.getlist("set-cookie"):
                headers.append("set-cookie", value)
        headers["Clear-Site-Data"] = wipe["clear-site-data"]


class LanguageAndHeaders:
    """Per request: the language from Accept-Language (a signed-in person's setting replaces it
    in `use_language`), the request id, the headers of `_finish_headers` on every answer, and
    an error page instead of any exception.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs the
    app in a task of its own and streams the response through a memory channel, which measured
    about a quarter of a constant endpoint's time in process (issue 14)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        i18n.activate(i18n.pick_language(request.headers.get("accept-language")))
        # One id per request, in the audit trail's entries and sent back, so a person reporting
        # a problem can quote it and the entries of that request can be found.
        rid = secrets.token_hex(8)
        audit_service.request_id.set(rid)
        audit_service.start_request(
            offline_copy=request.headers.get(audit_service.OFFLINE_COPY_HEADER) == "1")
        started = False

        async def send_finished(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                _finish_headers(request, MutableHeaders(scope=message), rid)
            await send(message)

        try:
            await self.app(scope, receive, send_finished)
        except Exception as exc:
            if started:
                # Failed mid-answer: nothing else can be sent. Logged without its text, and not
                # raised on (the server would print the text); the server closes the
                # connection on the unfinished answer.
                log.error("unhandled %s after the answer began on %s %s", type(exc).__name__,
                          request.method, getattr(scope.get("route"), "path", "?"))
                return
            await _failure_response(request, exc)(scope, receive, send_finished)


def create_app() -> FastAPI:
    configure_logging()
    app = FastAPI(
        title="TrocheLog",
        lifespan=lifespan,
        version="0.1.0",
        # The request's session is lent to page rendering (the menu's alert count).
        # The language first, so even a refused form's message speaks the person's language.
        dependencies=[Depends(use_language), Depends(csrf_protect),
                      Depends(keep_request_session, scope="function")],
        # No Swagger UI: FastAPI's loads from a CDN with an inline script, which the CSP and the
        # no-CDN rule both refuse. /openapi.json is the description (docs/security.md).
        docs_url=None,
        redoc_url=None,
    )
    openapi.install(app)  # JSON routes only, errors documented as {"detail": str}
    # Added before the middleware below, so inside it: its 413 reaches the error handlers.
    app.add_middleware(BodyLimitMiddleware)
    # Outside the body limit, inside the headers below: a request waits here for a slot, and
    # one that waits too long becomes a 503 with the usual headers (app/web/admission.py).
    app.add_middleware(AdmissionMiddleware)

    # Outside admission, so its 503 gets the usual headers too.
    app.add_middleware(LanguageAndHeaders)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated):
        if _wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"
        if request.headers.get("HX-Request") == "true":
            # htmx follows this header with a full page load, so the sign-in page replaces it.
            return Response(status_code=204, headers={"HX-Redirect": login, "Vary": "HX-Request"})
        response = see_other(login)
        response.headers["Vary"] = "HX-Request"
        return response

    @app.exception_handler(accounts_gates.SendTo)
    async def gate(request: Request, exc: accounts_gates.SendTo):
        # The app lock or a re-authentication is due (app/accounts/gates.py).
        return accounts_gates.handle(request, exc)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError):
        headers = None
        retry = getattr(exc, "retry_after_seconds", None)
        if retry:
            headers = {"Retry-After": str(retry)}
        return _error_response(request, exc.status_code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        # A body that could not be read (not JSON) is refused before any dependency ran.
        await _signed_in_for_error(request)
        return _error_response(request, 422, _readable_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 405 and request.method in ("GET", "HEAD"):
            # A reload after a refused form: back to the page the form is on.
            page = form_page_for(request.url.path)
            if page is not None:
                return see_other(page)
        await _signed_in_for_error(request)
        messages = {
            404: _("We could not find that page."),
            405: _("That action is not available here."),
            400: _("The request could not be read."),
            413: str(exc.detail),  # BodyTooLarge says the limit
        }
        return _error_response(
            request, exc.status_code, messages.get(exc.status_code, _("Something went wrong."))
        )

    # Hashed names kept a year, text precompressed once (app/web/assets.py).
    app.mount("/static", StaticAssets(), name="static")
    app.include_router(pwa_router)
    app.include_router(home_routes.router)
    app.include_router(accounts_routes.router)
    app.include_router(passkey_routes.router)
    app.include_router(accounts_data_routes.router)
    app.include_router(accounts_session_routes.router)
    # /patients/export and /patients/new before clinic's /patients/{patient_id}.
    app.include_router(exports_routes.router)
    app.include_router(careteam_routes.router)
    app.include_router(clinic_routes.router)
    app.include_router(doses_routes.router)
    app.include_router(protocols_routes.router)
    app.include_router(checkins_routes.router)
    app.include_router(supervision_routes.router)
    app.include_router(alerts_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(accounts_api.router)
    app.include_router(clinic_api.router)
    app.include_router(careteam_api.router)
    app.include_router(exports_api.router)
    app.include_router(doses_api.router)
    app.include_router(checkins_api.router)
    app.include_router(sync_api.router)
    app.include_router(push_api.router)
    app.include_router(reminder_links.router)
    app.include_router(reminders_routes.router)
    app.include_router(reminders_api.router)
    # Outside the headers middleware (it compresses the final response, error pages too) and
    # inside the access log. Static files arrive already compressed and pass through.
    app.add_middleware(CompressionMiddleware)
    # Added last, so outermost: it logs the status the client got, whatever answered.
    app.add_middleware(AccessLogMiddleware)
    return app


app = create_app()
