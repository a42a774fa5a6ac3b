"""Server-side sessions: sign-out, idle and absolute expiry, password change, the cookie itself."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.accounts import service
from app.accounts.models import AuthSession, User
from app.config import settings
from app.db import utcnow
from app.main import app
from tests import factories
from tests.conftest import Auth
from tests.helpers import (
    another_client,
    fresh,
    names_error,
    session_cookie,
    sessions_of,
    set_cookie_headers,
    set_session_cookie,
    sha256,
)

IDLE = timedelta(hours=settings.session_idle_hours)
ABSOLUTE = timedelta(days=settings.session_absolute_days)
NEW_PASSWORD = "a brand new passphrase"


def _assert_signed_out(client: TestClient, path: str = "/today") -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


# --- sign out ----------------------------------------------------------------------------------


def test_logout_ends_the_session_for_that_cookie(db, login_as, auth, client):
    user = login_as("patient")
    old_token = session_cookie(client)
    assert client.get("/today").status_code == 200

    response = auth.logout()
    assert response.status_code == 303
    assert response.headers["location"] == "/login?signed_out=1"
    # The browser drops the cookie and wipes the PHI its caches hold.
    (cleared,) = set_cookie_headers(response, settings.session_cookie)
    assert "max-age=0" in cleared.lower() or "expires=thu, 01 jan 1970" in cleared.lower()
    # Not "cookies": that would reach every site under the registrable domain.
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert "You are signed out." in client.get(response.headers["location"]).text

    _assert_signed_out(client)
    # A copy of the old cookie (another tab, a stolen value) no longer works either.
    with another_client() as replay:
        set_session_cookie(replay, old_token)
        _assert_signed_out(replay)
    assert sessions_of(db, user) == []


def test_logout_ends_only_this_browser(db, login_as, auth, client):
    user = login_as("patient")
    with another_client() as phone:
        assert factories_login(phone, user.email).status_code == 303
        auth.logout()
        assert phone.get("/today").status_code == 200
    assert len(sessions_of(db, user)) == 1


def factories_login(client: TestClient, email: str, password: str = factories.PASSWORD):
    return Auth(client).login(email, password)


# --- expiry, with explicit time ------------------------------------------------------------------


@pytest.fixture
def user(db) -> User:
    account = factories.user(db, role="patient")
    db.commit()
    return account


def test_idle_session_expires(db, user):
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    assert service.resolve_session(db, token, t0 + IDLE - timedelta(seconds=1)) is not None
    db.rollback()  # forget the touch, so last_seen_at stays at t0
    assert service.resolve_session(db, token, t0 + IDLE) is None
    db.commit()
    # The dead session is gone, not just refused.
    assert sessions_of(db, user) == []
    assert service.resolve_session(db, token, t0) is None


def test_use_keeps_a_session_alive_until_its_absolute_limit(db, user):
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    # Used every few days: never idle for a week, so it lasts until the absolute limit.
    now = t0
    while now + timedelta(days=3) < t0 + ABSOLUTE:
        now += timedelta(days=3)
        signed_in = service.resolve_session(db, token, now)
        assert signed_in is not None and signed_in.user.id == user.id
        db.commit()
    assert service.resolve_session(db, token, t0 + ABSOLUTE) is None


def test_session_touch_is_throttled(db, user):
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    service.resolve_session(db, token, t0 + timedelta(minutes=1))
    db.commit()
    assert fresh(db, AuthSession, sessions_of(db, user)[0].id).last_seen_at == t0
    later = t0 + timedelta(minutes=6)
    service.resolve_session(db, token, later)
    db.commit()
    assert sessions_of(db, user)[0].last_seen_at == later


def test_unknown_or_missing_token_is_nobody(db, user):
    assert service.resolve_session(db, None, utcnow()) is None
    assert service.resolve_session(db, "", utcnow()) is None
    assert service.resolve_session(db, "made-up-token", utcnow()) is None


# --- expiry, over HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "moved"),
    [
        ("last_seen_at", IDLE + timedelta(minutes=1)),
        ("expires_at", timedelta(seconds=1)),
    ],
)
def test_expired_session_is_sent_to_sign_in(db, login_as, client, column, moved):
    user = login_as("patient")
    assert client.get("/today").status_code == 200
    (row,) = sessions_of(db, user)
    setattr(row, column, utcnow() - moved)
    db.add(row)
    db.commit()
    _assert_signed_out(client)


def test_deactivated_user_is_signed_out(db, login_as, client):
    user = login_as("caregiver")
    assert client.get("/supporting").status_code == 200
    row = fresh(db, User, user.id)
    row.is_active = False
    db.add(row)
    db.commit()
    _assert_signed_out(client, "/supporting")


# --- a stale cookie: the browser forgets it and the PHI it kept ---------------------------------


def _assert_forgotten(response) -> None:
    # Cached pages go; storage stays: the outbox may hold doses made offline, not yet sent,
    # which wait for the same user to sign in again (sign-out wipes them, after a warning).
    assert response.headers["Clear-Site-Data"] == '"cache"'
    (cleared,) = set_cookie_headers(response, settings.session_cookie)
    assert "max-age=0" in cleared.lower() or "expires=thu, 01 jan 1970" in cleared.lower()


def _end_idle(db, user):
    (row,) = sessions_of(db, user)
    row.last_seen_at = utcnow() - IDLE - timedelta(minutes=1)
    db.add(row)
    db.commit()


def _end_absolute(db, user):
    (row,) = sessions_of(db, user)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()


def _end_elsewhere(db, user):
    # Signed out from another tab, or the password changed on another phone.
    service.end_all_sessions(db, fresh(db, User, user.id))
    db.commit()


def _deactivate(db, user):
    row = fresh(db, User, user.id)
    row.is_active = False
    db.add(row)
    db.commit()


ENDINGS = {"idle": _end_idle, "absolute": _end_absolute, "elsewhere": _end_elsewhere,
           "deactivated": _deactivate}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/today", {}, 303),  # to /login?next=/today
        ("/today", {"HX-Request": "true"}, 204),  # HX-Redirect to sign in
        ("/api/v1/today", {}, 401),
        ("/login", {}, 200),
        ("/help", {}, 200),  # a public page that looks up who is signed in
        ("/no/such/page", {}, 404),
    ],
)
def test_stale_session_cookie_makes_the_browser_forget(
    db, login_as, client, ending, path, headers, status
):
    user = login_as("patient")
    assert client.get("/today").status_code == 200
    ENDINGS[ending](db, user)

    response = client.get(path, headers=headers)
    assert response.status_code == status
    _assert_forgotten(response)
    assert response.headers["Cache-Control"] == "no-store"
    # Once the cookie is gone there is nothing stale left: no more wiping.
    client.cookies.delete(settings.session_cookie)
    assert "Clear-Site-Data" not in client.get(path, headers=headers).headers


def test_stale_cookie_on_a_form_post_is_forgotten(db, login_as, auth, client):
    user = login_as("patient")
    token = client.get("/api/v1/me").json()["csrf_token"]
    _end_elsewhere(db, user)
    response = client.post("/account/timezone", data={"timezone": "UTC", "csrf_token": token})
    # Refused (its token was bound to the ended session), and the browser forgets.
    assert response.status_code == 403
    _assert_forgotten(response)


@pytest.mark.parametrize("mode", ["cors", "same-origin"])
def test_a_scripts_answer_to_a_stale_cookie_keeps_the_cookie_for_the_next_page(
        db, login_as, client, mode):
    """The outbox asks who is signed in, or the service worker refreshes a page, with a session
    that has just ended. Its answer can arrive after someone else signed in on this browser:
    dropping "the" session cookie then dropped theirs (same name), and they were asked to sign
    in again. A script's answer wipes the cached pages but leaves the cookie to the next page
    opened, which drops it."""
    user = login_as("patient")
    _end_elsewhere(db, user)
    script = {"Sec-Fetch-Mode": mode, "Sec-Fetch-Site": "same-origin"}
    for path in ("/api/v1/me", "/api/v1/today"):
        response = client.get(path, headers=script)
        assert response.status_code == 401
        assert response.headers["Clear-Site-Data"] == '"cache"'
        assert not set_cookie_headers(response, settings.session_cookie)
    opened = client.get("/today", headers={"Sec-Fetch-Mode": "navigate"})
    assert opened.status_code == 303
    _assert_forgotten(opened)


@pytest.mark.parametrize("path", ["/today", "/api/v1/me", "/login", "/help"])
def test_no_cookie_or_a_live_session_wipes_nothing(login_as, client, path):
    assert "Clear-Site-Data" not in client.get(path).headers
    login_as("patient")
    response = client.get(path)
    assert "Clear-Site-Data" not in response.headers
    assert not set_cookie_headers(response, settings.session_cookie)


def test_signing_in_over_a_stale_cookie_keeps_the_new_session(db, login_as, auth, client):
    user = login_as("patient")
    stale = session_cookie(client)
    _end_elsewhere(db, user)
    # Another tab still had the sign-in form open: the post carries the stale cookie.
    token = auth.csrf("/login")
    set_session_cookie(client, stale)
    response = client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    assert "Clear-Site-Data" not in response.headers
    (cookie,) = set_cookie_headers(response, settings.session_cookie)
    assert "max-age=0" not in cookie.lower()
    assert session_cookie(client) != stale
    assert client.get("/today").status_code == 200


# --- password change -------------------------------------------------------------------------


def test_password_change_signs_out_every_browser(db, login_as, auth, client):
    user = login_as("patient")
    with another_client() as phone:
        assert factories_login(phone, user.email).status_code == 303
        assert phone.get("/today").status_code == 200

        response = auth.post(
            "/account/password",
            {
                "current_password": factories.PASSWORD,
                "new_password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/login?password_changed=1"
        # What this browser kept goes too: the next person to sign in here cannot read it.
        assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
        page = client.get(response.headers["location"])
        assert "Password changed. Sign in with your new password." in page.text

        _assert_signed_out(client)
        _assert_signed_out(phone)
    assert sessions_of(db, user) == []

    assert factories_login(client, user.email).status_code == 401
    assert factories_login(client, user.email, NEW_PASSWORD).status_code == 303
    assert fresh(db, User, user.id).password_changed_at is not None


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"current_password": "not my password", "new_password": NEW_PASSWORD},
            "current_password",
            "Your current password is not right.",
        ),
        (
            {"current_password": factories.PASSWORD, "new_password": "short"},
            "new_password",
            "Use at least 10 characters.",
        ),
        (
            {
                "current_password": factories.PASSWORD,
                "new_password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD + "x",
            },
            "password_confirm",
            "The two passwords do not match.",
        ),
    ],
)
def test_refused_password_change_changes_nothing(db, login_as, auth, client, form, field, message):
    user = login_as("prescriber")
    before = fresh(db, User, user.id).password_hash
    data = {"password_confirm": form.get("new_password", ""), **form}
    response = auth.post("/account/password", data)
    assert response.status_code == 422
    # The message sits next to its field and is tied to it for screen readers.
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in response.text
    assert names_error(response.text, f"{field}-error")
    # Nothing changed: same password, still signed in here.
    assert fresh(db, User, user.id).password_hash == before
    assert client.get("/account").status_code == 200
    assert len(sessions_of(db, user)) == 1


# --- the cookie ------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(db, auth, client):
    user = factories.user(db, role="patient")
    db.commit()
    response = auth.login(user.email)
    (cookie,) = set_cookie_headers(response, settings.session_cookie)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert f"max-age={settings.session_absolute_days * 24 * 3600}" in attributes
    assert "secure" not in attributes  # plain http in tests; see the https case below


def test_session_cookie_is_secure_over_https(db):
    user = factories.user(db, role="patient")
    db.commit()
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        response = factories_login(client, user.email)
        assert response.status_code == 303
        # Over https the name carries the __Host- prefix (app/web/cookies.py).
        (cookie,) = set_cookie_headers(response, f"__Host-{settings.session_cookie}")
        assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_database_stores_only_a_hash_of_the_token(db, login_as, client):
    user = login_as("patient")
    token = session_cookie(client)
    assert token and len(token) >= 40
    (row,) = sessions_of(db, user)
    assert row.token_hash == sha256(token)
    with db.connection() as conn:
        rows = conn.execute(text("SELECT * FROM auth_sessions")).all()
    assert rows
    for value in rows[0]:
        assert token not in str(value)
