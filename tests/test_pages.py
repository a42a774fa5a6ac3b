"""Error pages, the JSON API's edges, security headers, the PWA files and the strict CSP."""

import json
import re
import struct
import uuid

import pytest

from app.templating import HTMX_FILE
from app.web import assets
from app.web.assets import INLINE_SCRIPT_CSP, static_url
from tests import factories
from tests.conftest import Auth
from tests.helpers import another_client, invite_token

NOT_FOUND = "We could not find that page."


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text
    assert NOT_FOUND in response.text
    assert 'href="/"' in response.text


def test_unknown_page_for_a_signed_in_user_is_the_same_404(login_as, client):
    login_as("patient")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert NOT_FOUND in response.text


def test_unknown_api_path_is_json(client):
    response = client.get("/api/v1/unknown")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": NOT_FOUND}


def test_wrong_method_is_a_friendly_405(client):
    response = client.delete("/help")
    assert response.status_code == 405
    assert "That action is not available here." in response.text


def test_me_needs_sign_in(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": "Please sign in to continue."}


def test_me_describes_the_signed_in_user(login_as, client):
    user = login_as("caregiver", display_name="Casey Sitter", timezone="Europe/Paris")
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "email", "role", "timezone", "csrf_token", "display_name"}
    assert body["id"] == str(user.id)
    assert body["email"] == user.email
    assert body["role"] == "caregiver"
    assert body["timezone"] == "Europe/Paris"
    assert body["display_name"] == "Casey Sitter"
    assert re.fullmatch(r"[0-9a-f]{128}", body["csrf_token"])  # masked (app/web/csrf.py)
    assert "password" not in response.text
    assert "hash" not in response.text


def test_openapi_documents_the_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert "get" in schema["paths"]["/api/v1/me"]
    # The PWA plumbing is not API.
    assert "/sw.js" not in schema["paths"]
    assert "/manifest.webmanifest" not in schema["paths"]


def test_a_crash_for_a_signed_in_user_is_still_a_friendly_page(login_as, client, monkeypatch):
    """The error page shows who is signed in, after the request's transaction was rolled back."""
    from app.careteam import access

    def crash(*_args, **_kwargs):
        raise RuntimeError("boom")

    user = login_as("caregiver")
    monkeypatch.setattr(access, "readable_patients", crash)
    response = client.get("/supporting")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side. Nothing was saved; please try again." in response.text
    assert f"Signed in as {user.email}" in response.text
    assert response.headers["Content-Security-Policy"]


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login", "/help", "/offline", "/no/such/page", "/api/v1/me", "/static/app.css"]
)
def test_security_headers_everywhere(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'", INLINE_SCRIPT_CSP]  # boot.js inline
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"  # docs/security.md
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    ["/today", "/doses", "/checkins", "/account", "/care-team", "/no/such/page",
     "/api/v1/me", "/api/v1/today", "/api/v1/doses", "/api/v1/checkins", "/api/v1/unknown"],
)
def test_signed_in_pages_and_api_answers_are_never_stored(login_as, client, path):
    """PHI stays out of every browser and shared cache; the service worker alone keeps copies."""
    login_as("patient")
    response = client.get(path)
    assert response.status_code in (200, 404), response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_htmx_fragment_and_page_vary_on_hx_request(login_as, client):
    login_as("patient")
    page = client.get("/today")
    fragment = client.get("/today", headers={"HX-Request": "true"})
    for response in (page, fragment):
        assert response.headers["Cache-Control"] == "no-store"
        # One URL, two representations (page or htmx fragment): caches must keep them apart.
        assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    "path",
    ["/login", "/help", "/offline", "/manifest.webmanifest", "/api/v1/me", "/today",
     "/no/such/page"],
)
def test_signed_out_answers_are_never_stored(client, path):
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"


def test_sign_in_redirect_varies_on_hx_request(client):
    response = client.get("/today")
    assert response.status_code == 303
    assert "HX-Request" in response.headers["Vary"]
    response = client.get("/today", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/today"
    assert "HX-Request" in response.headers["Vary"]


def test_static_files_keep_their_caching(client):
    # The plain name still answers (pages cached before hashed names), revalidated each time;
    # the hashed names' year-long caching is tested in tests/web/test_page_weight.py.
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers.get("ETag")
    assert client.get("/sw.js").headers["Cache-Control"] == "no-cache"


# --- the installable app --------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_manifest_makes_the_app_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.text)
    assert manifest["name"] == "TrocheLog"
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    sizes_found = set()
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        image = client.get(icon["src"])
        assert image.status_code == 200, icon["src"]
        assert image.headers["content-type"] == "image/png"
        width, height = _png_size(image.content)
        assert icon["sizes"] == f"{width}x{height}", icon["src"]
        if icon.get("purpose", "any") == "any":
            sizes_found.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes_found


def test_service_worker_is_served_from_the_root_with_htmx_substituted(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "__HTMX_FILE__" not in response.text
    assert static_url(HTMX_FILE) in response.text


def test_service_worker_precaches_only_files_that_exist(client):
    """One 404 in cache.addAll() fails the whole install, and the app is not offline-ready."""
    source = client.get("/sw.js").text
    shell = re.search(r"const SHELL ?= ?\[(.*?)\];", source, re.S)
    assert shell
    paths = re.findall(r'"([^"]+)"', shell.group(1))
    assert "/offline" in paths and "/help" in paths
    for path in paths:
        assert client.get(path).status_code == 200, path


def test_htmx_is_vendored_where_the_pages_load_it(client):
    page = client.get("/login").text
    assert f'<script src="{static_url(HTMX_FILE)}" defer></script>' in page
    assert static_url(HTMX_FILE).startswith("/static/htmx-4.0.1.min.")  # the version shows
    response = client.get(static_url(HTMX_FILE))
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


# --- no inline script or style anywhere (the CSP would block it) ------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>|<script\b[^>]*>\s*[^<\s]", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)
LOCAL_ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')


def _collect_pages(db, client) -> dict[str, object]:
    """Every page template we have, as someone would actually reach it."""
    pages: dict[str, object] = {}
    for path in ("/login", "/help", "/offline", "/no/such/page", "/login?signed_out=1"):
        pages[f"anonymous {path}"] = client.get(path)
    pages["login refused"] = Auth(client).login("nobody@example.test", "wrong password")

    patient = factories.user(db, role="patient", display_name="Page Patient")
    caregiver = factories.user(db, role="caregiver", email="existing-cg@example.test")
    prescriber = factories.user(db, role="prescriber")
    factories.link(db, patient, prescriber)
    factories.link(db, patient, caregiver)
    db.commit()

    with another_client() as c:
        auth = Auth(c)
        auth.login(patient.email)
        for path in ("/today", "/care-team", "/account", "/patients"):
            pages[f"patient {path}"] = c.get(path)
        created = auth.post(
            "/care-team/invite",
            {"client_id": str(uuid.uuid4()), "display_name": "New Sitter", "email": "n@e.test"},
        )
        pages["patient invite created"] = created
        caregiver_token = invite_token(created.text)
        existing = auth.post(
            "/care-team/invite",
            {"client_id": str(uuid.uuid4()), "display_name": "Old", "email": caregiver.email},
        )
        existing_token = invite_token(existing.text)
        pages["patient refused timezone"] = auth.post("/account/timezone", {"timezone": "Nope"})

    with another_client() as c:
        auth = Auth(c)
        auth.login(caregiver.email)
        pages["caregiver /supporting"] = c.get("/supporting")
        pages["caregiver existing-account invite"] = c.get(f"/invite/{existing_token}")

    with another_client() as c:
        auth = Auth(c)
        auth.login(prescriber.email)
        for path in ("/patients", "/patients/new", f"/patients/{patient.id}"):
            pages[f"prescriber {path}"] = c.get(path)
        created = auth.post(
            "/patients/new",
            {
                "client_id": str(uuid.uuid4()),
                "display_name": "Fresh Patient",
                "email": "fresh@example.test",
                "timezone": "UTC",
            },
        )
        pages["prescriber invite created"] = created
        patient_token = invite_token(created.text)
        pages["prescriber refused new patient"] = auth.post(
            "/patients/new", {"client_id": str(uuid.uuid4()), "display_name": "", "email": "x"}
        )

    with another_client() as c:
        pages["patient invite page"] = c.get(f"/invite/{patient_token}")
        pages["caregiver invite page"] = c.get(f"/invite/{caregiver_token}")
        pages["dead invite"] = c.get(f"/invite/{uuid.uuid4().hex}")
    return pages


def test_no_page_has_inline_script_or_style(db, client):
    pages = _collect_pages(db, client)
    assert len(pages) > 20
    for name, response in pages.items():
        html = response.text
        assert response.headers["content-type"].startswith("text/html"), name
        assert "<html" in html, name
        # The one inline script is boot.js, allowed by its hash (the test below); no other.
        booted = f"<script>{assets.INLINE_SCRIPT}</script>"
        assert html.count(booted) == 1, f"boot script missing on {name}"
        assert not INLINE_SCRIPT.search(html.replace(booted, "")), f"inline <script> on {name}"
        assert not STYLE_ATTRIBUTE.search(html), f"style= attribute on {name}"
        assert not STYLE_ELEMENT.search(html), f"<style> element on {name}"
        assert not EVENT_HANDLER.search(html), f"inline event handler on {name}"
        assert not JS_URL.search(html), f"javascript: URL on {name}"


def test_every_asset_a_page_references_exists(db, client):
    pages = _collect_pages(db, client)
    assets = {asset for response in pages.values() for asset in LOCAL_ASSET.findall(response.text)}
    assert static_url("app.css") in assets
    for asset in sorted(assets):
        assert client.get(asset).status_code == 200, asset


def test_the_one_inline_script_is_the_one_the_csp_allows(client):
    """boot.js is inline in every page (no request before the first paint); the CSP names its
    hash, so any other inline script, or an edit of this one without its hash, is refused."""
    import base64
    import hashlib

    response = client.get("/login")
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    assert len(scripts) == 1 and "template[data-scripts]" in scripts[0]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["Content-Security-Policy"]
    assert re.search(r'<script src="[^"]*boot', response.text) is None
