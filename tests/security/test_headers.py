"""Every class of response carries the security headers, over http and over https: pages,
error pages (403, 404, 422, 500), redirects, API JSON and JSON errors, static files, /sw.js and
/openapi.json. Over https: HSTS, and cookies only under the __Host- prefix."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from app.config import settings
from app.main import app
from app.web.assets import INLINE_SCRIPT_CSP
from tests import factories
from tests.conftest import csrf_from

# (name, signed in as, method, path, form data, expected status)
ROUTES = [
    ("page, signed out", None, "GET", "/login", None, 200),
    ("page, signed in", "patient", "GET", "/today", None, 200),
    ("page 404", "patient", "GET", "/no/such/page", None, 404),
    ("page 403 (no CSRF token)", "patient", "POST", "/account/timezone",
     {"timezone": "Europe/Berlin"}, 403),
    ("page 422", "patient", "POST", "/account/timezone",
     {"timezone": "Europe/Berlin\x00", "csrf_token": ...}, 422),
    ("redirect to sign in", None, "GET", "/today", None, 303),
    ("redirect after a form", "patient", "POST", "/account/timezone",
     {"timezone": "Europe/Berlin", "csrf_token": ...}, 303),
    ("API JSON", "patient", "GET", "/api/v1/me", None, 200),
    ("API JSON with health data", "patient", "GET", "/api/v1/doses", None, 200),
    ("API 401", None, "GET", "/api/v1/doses", None, 401),
    ("API 404", "patient", "GET", "/api/v1/no-such-thing", None, 404),
    ("API 422", "patient", "GET", "/api/v1/doses?start=yesterday", None, 422),
    ("API 403 (no CSRF token)", "patient", "POST", "/api/v1/sync", {}, 403),
    ("static file", None, "GET", "/static/app.css", None, 200),
    ("service worker", None, "GET", "/sw.js", None, 200),
    ("OpenAPI", None, "GET", "/openapi.json", None, 200),
    ("API docs (disabled: CDN and inline script)", None, "GET", "/api/docs", None, 404),
]


@contextmanager
def browser(base_url: str) -> Iterator[TestClient]:
    with TestClient(app, base_url=base_url, follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, email: str) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={
        "email": email, "password": factories.PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text


def check_headers(response, *, https: bool, path: str) -> None:
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = {p.split()[0]: p.split()[1:] for p in csp.split(";") if p.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'", INLINE_SCRIPT_CSP]  # boot.js inline
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "geolocation=()" in headers["Permissions-Policy"]
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    if https:
        assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in headers  # ignored on http, and misleading
    if path.startswith("/static/"):
        # No health data: browsers may keep it, and revalidate.
        assert "no-store" not in headers.get("Cache-Control", "")
        assert "etag" in headers or "last-modified" in headers
    elif path == "/sw.js":
        assert headers["Cache-Control"] == "no-cache"  # updates land at once
    else:
        assert headers["Cache-Control"] == "no-store"
    for cookie in headers.get_list("set-cookie"):
        name = cookie.split("=", 1)[0].strip()
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in attributes and "samesite=lax" in attributes
        assert not any(a.startswith("domain=") for a in attributes)
        if https:
            assert name.startswith("__Host-"), cookie
            assert "secure" in attributes and "path=/" in attributes
        else:
            assert not name.startswith("__Host-"), cookie


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(
    ("role", "method", "path", "data", "status"),
    [pytest.param(*row[1:], id=row[0]) for row in ROUTES],
)
def test_security_headers_on_every_route_class(db, scheme, role, method, path, data, status):
    with browser(f"{scheme}://testserver") as client:
        if role:
            sign_in(client, _user(db, role).email)
        if data is not None and data.get("csrf_token") is ...:
            data = {**data, "csrf_token": client.get("/api/v1/me").json()["csrf_token"]}
        if method == "GET":
            response = client.get(path)
        elif path.startswith("/api/"):
            response = client.post(path, json=data)
        else:
            response = client.post(path, data=data)
        assert response.status_code == status, response.text
        check_headers(response, https=scheme == "https", path=path)


def _user(db, role: str):
    user = factories.user(db, role=role)
    db.commit()
    return user


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("path", ["/supporting", "/api/v1/patients"])
def test_security_headers_on_a_crash(db, monkeypatch, scheme, path):
    """A 500 (page and JSON) keeps every header and says nothing about the cause."""
    from app.careteam import access

    def crash(*_args, **_kwargs):
        raise RuntimeError("boom")

    with browser(f"{scheme}://testserver") as client:
        sign_in(client, _user(db, "caregiver").email)
        monkeypatch.setattr(access, "readable_patients", crash)
        response = client.get(path)
    assert response.status_code == 500
    assert "boom" not in response.text
    check_headers(response, https=scheme == "https", path=path)


def test_cookies_over_https_are_host_prefixed_and_the_plain_name_is_ignored(db):
    user = _user(db, "patient")
    with browser("https://testserver") as client:
        anon = client.get("/login")
        (cookie,) = anon.headers.get_list("set-cookie")
        assert cookie.startswith(f"__Host-{settings.anon_cookie}=")
        sign_in(client, user.email)
        token = client.cookies.get(f"__Host-{settings.session_cookie}")
        assert token
        assert client.get("/api/v1/me").status_code == 200
        signed_out = client.post(
            "/logout", data={"csrf_token": client.get("/api/v1/me").json()["csrf_token"]})
        (cleared,) = [c for c in signed_out.headers.get_list("set-cookie")
                      if c.startswith(f"__Host-{settings.session_cookie}=")]
        assert "secure" in cleared.lower() and "path=/" in cleared.lower()
    with browser("https://testserver") as planted:
        # A cookie without the prefix (one a sibling subdomain could plant) is not a session.
        sign_in(planted, user.email)
        good = planted.cookies.get(f"__Host-{settings.session_cookie}")
        planted.cookies.clear()
        planted.cookies.set(settings.session_cookie, good, domain="testserver.local", path="/")
        assert planted.get("/api/v1/me").status_code == 401
        planted.cookies.clear()  # the same token under its own name is (the jar works)
        planted.cookies.set(f"__Host-{settings.session_cookie}", good,
                            domain="testserver.local", path="/")
        assert planted.get("/api/v1/me").status_code == 200


def test_the_session_cookie_over_http_keeps_the_plain_name(db):
    user = _user(db, "patient")
    with browser("http://testserver") as client:
        sign_in(client, user.email)
        assert client.cookies.get(settings.session_cookie)
        assert client.get("/api/v1/me").status_code == 200
