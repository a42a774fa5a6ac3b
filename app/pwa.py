"""What makes TrocheLog installable: the manifest, the root-scoped service worker, /offline."""

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.i18n import gettext as _
from app.templating import HTMX_FILE, render

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"


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
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icons/icon-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return Response(json.dumps(body), media_type="application/manifest+json")


@router.get("/sw.js")
def service_worker() -> Response:
    # Served from the root so its scope covers every page; never cached, so updates land.
    source = (STATIC / "sw.js").read_text().replace("__HTMX_FILE__", HTMX_FILE)
    return Response(
        source,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/offline")
def offline(request: Request):
    return render(request, "offline.html")
