"""What makes TrocheLog installable: the manifest, the root-scoped service worker, /offline."""

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.config import settings
from app.i18n import gettext as _
from app.templating import HTMX_FILE, render
from app.web import assets
from app.web.assets import STATIC, static_url

router = APIRouter(include_in_schema=False)


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    body = {
        "name": "TrocheLog",
        "short_name": "TrocheLog",
        "description": _("Your dosing log, check-ins and care team."),
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f4e5f",
        "icons": [
            {"src": static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static_url("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return Response(json.dumps(body), media_type="application/manifest+json")


_STATIC_LITERAL = re.compile(r'"/static/([^"]+)"')


def service_worker_source() -> str:
    """sw.js with hashed addresses (its precache, importScripts) and a cache version made of
    the assets' hashes, so a deploy that changes any file installs a new worker and caches."""
    source = assets.minified_script("sw.js", (STATIC / "sw.js").read_text())
    source = source.replace("__HTMX_FILE__", HTMX_FILE)
    source = source.replace("__ASSETS__", assets.version())
    source = source.replace("__SAVED_COPY_AFTER_MS__", str(settings.saved_copy_after_ms))
    return _STATIC_LITERAL.sub(lambda m: f'"{static_url(m.group(1))}"', source)


@router.get("/sw.js")
def service_worker() -> Response:
    # Served from the root so its scope covers every page; never cached, so updates land.
    return Response(
        service_worker_source(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/offline")
def offline(request: Request):
    return render(request, "offline.html")
