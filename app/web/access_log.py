"""Our own access log: method, route template, status and duration; never the raw path.

uvicorn's access log prints the path and query as sent, and ours carry invite tokens and patient
ids (a logged invite token once let its reader take over an invite), so the server runs with
`--no-access-log` and this middleware writes one line per request instead, for example
`GET /invite/{token} 200 12ms`. A request no route matched is logged as `unmatched`.
"""

import logging
import sys
import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.logging import DefaultFormatter

access_log = logging.getLogger("trochelog.access")


def configure_logging() -> None:
    """Make the app's loggers print under uvicorn's default logging.

    uvicorn configures only its own loggers; without a handler of our own, INFO records from
    "trochelog" would reach Python's last-resort handler, which drops everything below WARNING.
    A deployment that configures logging itself (a root handler, or one on "trochelog") wins.
    Records still propagate, so pytest's caplog sees them.
    """
    app_log = logging.getLogger("trochelog")
    if app_log.level == logging.NOTSET:
        app_log.setLevel(logging.INFO)
    if app_log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    # The same shape as uvicorn's own lines: "INFO:     GET /login 200 3ms".
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    app_log.addHandler(handler)


def route_template(scope: Scope) -> str:
    """The template of the route that answered ("/invite/{token}"), or "unmatched"."""
    route = scope.get("route")
    if route is None and scope.get("endpoint") is not None:
        # FastAPI's router records its own routes in the scope but not a mount (static files):
        # find the mount whose app answered.
        route = next(
            (
                r
                for r in getattr(scope.get("app"), "routes", ())
                if isinstance(r, Mount) and r.app is scope["endpoint"]
            ),
            None,
        )
    # path_format drops converters ("{patient_id:uuid}" → "{patient_id}") and gives a mount
    # its "{path}" ("/static/{path}").
    return getattr(route, "path_format", None) or "unmatched"


class AccessLogMiddleware:
    """Outermost middleware, so the status is the one the client got (errors and 413s too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it starts a response

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            access_log.info(
                "%s %s %d %dms",
                scope["method"],
                route_template(scope),
                status,
                round((time.perf_counter() - started) * 1000),
            )
