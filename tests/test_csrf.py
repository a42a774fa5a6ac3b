"""CSRF: every unsafe request must be same-origin and carry the token bound to its session."""

import re

import pytest

from app.accounts import service as accounts
from app.accounts.models import User
from app.config import settings
from app.web import csrf
from tests import factories
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, fresh, session_cookie, sessions_of

BEFORE = "America/New_York"
AFTER = "Europe/London"
REFUSED = "This form has expired or came from another site. Reload the page and try again."


@pytest.fixture
def patient(login_as) -> User:
    return login_as("patient", timezone=BEFORE)


def _token(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _timezone(db, user: User) -> str:
    return fresh(db, User, user.id).timezone


def _assert_refused(response, db, user):
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert REFUSED in response.text
    assert _timezone(db, user) == BEFORE


def test_missing_token_is_refused(db, client, patient):
    response = client.post("/account/timezone", data={"timezone": AFTER})
    _assert_refused(response, db, patient)


def test_wrong_token_is_refused(db, client, patient):
    response = client.post("/account/timezone", data={"timezone": AFTER, "csrf_token": "0" * 64})
    _assert_refused(response, db, patient)


def test_token_from_another_session_of_the_same_user_is_refused(db, client, patient):
    with another_client() as other:
        assert Auth(other).login(patient.email).status_code == 303
        foreign = _token(other)
    assert foreign != _token(client)
    response = client.post("/account/timezone", data={"timezone": AFTER, "csrf_token": foreign})
    _assert_refused(response, db, patient)


def test_token_from_before_sign_in_is_refused(db, client):
    user = factories.user(db, role="patient", timezone=BEFORE)
    db.commit()
    anonymous_token = csrf_from(client.get("/login").text)
    Auth(client).login(user.email)
    response = client.post(
        "/account/timezone", data={"timezone": AFTER, "csrf_token": anonymous_token}
    )
    _assert_refused(response, db, user)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://testserver"},  # other scheme, other origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        # Fetch metadata wins: a browser that sends it is believed over the Origin header.
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()),
)
def test_cross_site_request_with_a_valid_token_is_refused(db, client, patient, headers):
    response = client.post(
        "/account/timezone",
        data={"timezone": AFTER, "csrf_token": _token(client)},
        headers=headers,
    )
    _assert_refused(response, db, patient)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # scripts and old browsers send neither; the token still binds it to the session
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "no-headers",
)
def test_same_origin_request_with_the_token_goes_through(db, client, patient, headers):
    response = client.post(
        "/account/timezone",
        data={"timezone": AFTER, "csrf_token": _token(client)},
        headers=headers,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account?changed=timezone"
    assert _timezone(db, patient) == AFTER
    assert "Time zone saved." in client.get(response.headers["location"]).text


def test_unknown_timezone_is_refused_next_to_the_field(db, client, patient):
    response = client.post(
        "/account/timezone", data={"timezone": "Mars/Olympus_Mons", "csrf_token": _token(client)}
    )
    assert response.status_code == 422
    assert '<p class="field-error" id="timezone-error">Choose a time zone from the list.</p>' in (
        response.text
    )
    assert _timezone(db, patient) == BEFORE


def test_header_token_works_in_place_of_the_field(db, client, patient):
    """htmx and the service worker's replays send the token as X-CSRF-Token."""
    response = client.post(
        "/account/timezone",
        data={"timezone": AFTER},
        headers={"X-CSRF-Token": _token(client), "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert _timezone(db, patient) == AFTER


def test_wrong_header_token_is_refused(db, client, patient):
    response = client.post(
        "/account/timezone", data={"timezone": AFTER}, headers={"X-CSRF-Token": "nope"}
    )
    _assert_refused(response, db, patient)


def test_api_token_matches_the_pages_token(client, patient):
    page = client.get("/account").text
    page_token = csrf_from(page)
    # Masked afresh in every response (BREACH): another string, the same token underneath.
    assert _token(client) != page_token
    assert csrf.unmask(_token(client)) == csrf.unmask(page_token)
    # The same token rides on the wrapper's hx-headers so htmx requests carry it.
    header_token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page).group(1)
    assert csrf.unmask(header_token) == csrf.unmask(page_token)


def test_every_response_masks_the_token_differently(db, client, patient):
    """A compressed page that reflects a search must not carry the same secret every time."""
    seen = {csrf_from(client.get("/account").text) for _ in range(5)}
    assert len(seen) == 5
    (auth_session,) = sessions_of(db, patient)
    raw = accounts.csrf_token_for(f"session:{auth_session.id}")
    assert all(raw not in client.get("/account").text for _ in range(2))
    assert {csrf.unmask(token) for token in seen} == {raw}
    # Each masked token, the raw one (API clients compute it) and neither as header or field.
    for token in (*seen, raw):
        response = client.post("/account/timezone", data={"timezone": AFTER},
                               headers={"X-CSRF-Token": token})
        assert response.status_code == 303
    tampered = next(iter(seen))
    tampered = tampered[:-1] + ("0" if tampered[-1] != "0" else "1")
    response = client.post("/account/timezone",
                           data={"timezone": BEFORE, "csrf_token": tampered})
    assert response.status_code == 403
    assert _timezone(db, patient) == AFTER


def test_logout_needs_the_token_too(db, client, patient):
    """Otherwise any site could sign a patient out mid-session."""
    response = client.post("/logout", data={})
    assert response.status_code == 403
    assert client.get("/today").status_code == 200
    response = client.post("/logout", headers={"X-CSRF-Token": _token(client)})
    assert response.status_code == 303
    assert client.get("/today").status_code == 303


def test_json_body_does_not_smuggle_a_token(db, client, patient):
    response = client.post(
        "/account/timezone", json={"timezone": AFTER, "csrf_token": _token(client)}
    )
    _assert_refused(response, db, patient)


# --- the sign-in form (anonymous: the token is bound to a cookie of its own) --------------------


@pytest.fixture
def account(db) -> User:
    user = factories.user(db, role="caregiver")
    db.commit()
    return user


def test_login_without_a_token_is_refused(client, account):
    client.get("/login")
    response = client.post("/login", data={"email": account.email, "password": factories.PASSWORD})
    assert response.status_code == 403
    assert REFUSED in response.text
    assert session_cookie(client) is None


def test_login_with_another_browsers_token_is_refused(client, account):
    with another_client() as other:
        foreign = csrf_from(other.get("/login").text)
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": account.email, "password": factories.PASSWORD, "csrf_token": foreign},
    )
    assert response.status_code == 403
    assert session_cookie(client) is None


def test_login_without_the_anonymous_cookie_is_refused(client, account):
    token = csrf_from(client.get("/login").text)
    client.cookies.clear()
    response = client.post(
        "/login", data={"email": account.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403


def test_login_from_another_site_is_refused(client, account):
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": account.email, "password": factories.PASSWORD, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert session_cookie(client) is None


def test_login_form_sets_its_own_httponly_cookie(client):
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{settings.anon_cookie}=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_public_origin_setting_is_what_counts(db, client, patient, monkeypatch):
    """Behind a proxy the app knows its public address; the request's Host does not decide."""
    monkeypatch.setattr(settings, "public_origin", "https://clinic.example/")
    # Served over https, the session cookie is named __Host-… (app/web/cookies.py): the one
    # this browser got over plain http moves under that name.
    session = client.cookies.get(settings.session_cookie)
    client.cookies.clear()
    client.cookies.set(f"__Host-{settings.session_cookie}", session,
                       domain="testserver.local", path="/")
    token = _token(client)
    refused = client.post(
        "/account/timezone",
        data={"timezone": AFTER, "csrf_token": token},
        headers={"Origin": "http://testserver"},
    )
    _assert_refused(refused, db, patient)
    accepted = client.post(
        "/account/timezone",
        data={"timezone": AFTER, "csrf_token": token},
        headers={"Origin": "https://clinic.example"},
    )
    assert accepted.status_code == 303
    assert _timezone(db, patient) == AFTER
