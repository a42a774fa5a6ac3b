"""Request body limits: a body over the limit is a 413 before anyone holds it in memory.

A pure ASGI middleware. A declared Content-Length over the limit is refused at the first read,
before a byte of the body is taken; a body without one (chunked) or with a false one is counted
as it arrives and refused as soon as it passes the limit. The refusal is an HTTPException, so
the app's own error handler answers: JSON `{"detail": ...}` under /api/, the error page
otherwise. A route that never reads its body is not affected (nothing is buffered).
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.i18n import gettext as _

# POST /api/v1/sync takes at most 500 items of at most 16 KiB each, but a real outbox is small:
# 500 items of a month offline are about 100 KiB, 500 check-ins with 1,000-character notes about
# 600 KiB. The phone sends 50 at a time (app/static/outbox.js), well inside this limit.
API_MAX_BODY_BYTES = 1024 * 1024  # 1 MiB
# The largest HTML form (the protocol editor) is about 2 KiB; a 1000-character note fits often.
FORM_MAX_BODY_BYTES = 256 * 1024  # 256 KiB


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


def limit_for(path: str) -> int:
    return API_MAX_BODY_BYTES if path.startswith("/api/") else FORM_MAX_BODY_BYTES


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, _("This request is too large: send at most %(size)s.",
                                size=_size(limit)))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = _content_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
