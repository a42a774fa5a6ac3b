"""gzip for pages and API answers; never for what is already compressed.

Starlette's GZipMiddleware does the work: it leaves alone a response that already has a
Content-Encoding (static files, compressed once in app/web/assets.py), a 206, and the excluded
types below (exports are zips and PDFs: sent as they are, still streamed); a streaming text
response is compressed chunk by chunk with a sync flush, so it still streams. Level 6: nearly
the size of 9 on a page of HTML for a fraction of the CPU, which every page request pays.
Pages carry the CSRF token masked per response (app/web/csrf.py), so compressing pages that
reflect input (search) does not leak it (BREACH).
"""

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Already compressed or binary: compressing them again costs CPU and saves nothing.
EXCLUDED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/octet-stream",
    "application/x-7z-compressed",
    "image/x-icon",
)
# Below this, the gzip header and the Vary bookkeeping cost more than they save.
MINIMUM_SIZE = 500
LEVEL = 6


class CompressionMiddleware(GZipMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app, minimum_size=MINIMUM_SIZE, compresslevel=LEVEL, exclude_content_types=EXCLUDED
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_vary_once(message: Message) -> None:
            # Starlette appends Accept-Encoding to a Vary that may name it already (static
            # files set their own): each name once.
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "vary" in headers:
                    names = [v.strip() for v in headers["vary"].split(",") if v.strip()]
                    headers["Vary"] = ", ".join(dict.fromkeys(names))
            await send(message)

        await super().__call__(scope, receive, send_vary_once)
