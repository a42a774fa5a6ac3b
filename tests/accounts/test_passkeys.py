"""Passkeys over plain HTTP (no browser): what the options endpoints demand, challenges that are
single use, short-lived and bound to one browser, and passkeys only their owner can remove.
The real ceremony, with a virtual authenticator, is in tests/browser/test_passkeys.py."""

import base64
import json
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.accounts import throttle
from app.accounts.models import AuthChallenge, AuthSession, Passkey
from app.audit.models import AuditEvent
from app.config import settings
from app.db import utcnow
from tests import factories
from tests.conftest import csrf_from


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def fake_answer(challenge: str, credential_id: str = "AAAA", kind: str = "webauthn.get") -> dict:
    """An answer in the browser's JSON shape whose clientDataJSON names `challenge`; its
    signature is nonsense, so it can only ever be refused."""
    client_data = {"type": kind, "challenge": challenge, "origin": "http://testserver"}
    return {
        "id": credential_id,
        "rawId": credential_id,
        "type": "public-key",
        "response": {
            "clientDataJSON": _b64(json.dumps(client_data).encode()),
            "authenticatorData": _b64(b"\0" * 37),
            "signature": _b64(b"\1" * 64),
        },
        "clientExtensionResults": {},
    }


def anon_token(client) -> str:
    return csrf_from(client.get("/login").text)


def session_token(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def post_json(client, path: str, token: str | None, body: dict | None = None):
    headers = {"X-CSRF-Token": token} if token else {}
    return client.post(path, json=body or {}, headers=headers)


def add_stored_passkey(db, user, credential_id: str | None = None) -> Passkey:
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id or _b64(uuid.uuid4().bytes),
        public_key=b"not-a-real-key",
        name="Phone",
        created_at=utcnow(),
        transports=["internal"],
    )
    db.add(passkey)
    db.commit()
    return passkey


# --- the options endpoints --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login/passkey/options", "/login/passkey", "/account/passkeys/options",
             "/account/passkeys", "/reauth/passkey/options", "/reauth/passkey"]
)
def test_every_passkey_post_needs_the_csrf_token(client, path):
    client.get("/login")  # the anonymous cookie, but no token sent
    response = post_json(client, path, None)
    assert response.status_code == 403
    response = post_json(client, path, "0" * 64)
    assert response.status_code == 403


def test_sign_in_options_for_a_signed_out_browser(client, db):
    response = post_json(client, "/login/passkey/options", anon_token(client))
    assert response.status_code == 200
    options = response.json()
    # Discoverable credentials: no account is named, the authenticator offers its passkeys.
    assert options.get("allowCredentials", []) == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "testserver"
    stored = db.exec(select(AuthChallenge)).one()
    assert stored.purpose == "sign_in"
    assert stored.challenge == options["challenge"]
    assert stored.user_id is None


def test_sign_in_options_refuse_a_signed_in_browser(login_as, client):
    login_as("patient")
    response = post_json(client, "/login/passkey/options", session_token(client))
    assert response.status_code == 409
    assert response.json()["detail"] == "You are already signed in."


def test_adding_needs_a_signed_in_person(client):
    response = post_json(client, "/account/passkeys/options", anon_token(client), {"name": "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Please sign in to continue."


def test_registration_options(login_as, client, db):
    user = login_as("caregiver")
    existing = add_stored_passkey(db, user)
    response = post_json(client, "/account/passkeys/options", session_token(client),
                         {"name": "My phone"})
    assert response.status_code == 200, response.text
    options = response.json()
    assert options["rp"] == {"name": "TrocheLog", "id": "testserver"}
    # The user handle is the account's random id, never the email.
    assert options["user"]["id"] == _b64(user.id.bytes)
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [c["id"] for c in options["excludeCredentials"]] == [existing.credential_id]


def test_a_passkey_name_is_checked_before_the_ceremony(login_as, client):
    login_as("patient")
    response = post_json(client, "/account/passkeys/options", session_token(client),
                         {"name": "   "})
    assert response.status_code == 422
    assert response.json() == {"detail": "Give this passkey a name, like “My phone”.",
                               "field": "name"}


def test_adding_asks_for_a_recent_sign_in(login_as, client, db):
    user = login_as("patient")
    auth = db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    auth.reauthenticated_at = utcnow() - timedelta(minutes=settings.reauth_minutes + 1)
    db.add(auth)
    db.commit()
    page = client.get("/account/passkeys")
    assert "Confirm it is you" in page.text
    assert "data-passkey-add" not in page.text
    response = post_json(client, "/account/passkeys/options", session_token(client),
                         {"name": "Phone"})
    assert response.status_code == 401
    assert response.json()["redirect"] == "/reauth?next=/account/passkeys"
    assert db.exec(select(AuthChallenge)).first() is None


def test_reauth_options_name_only_the_persons_own_passkeys(login_as, client, db):
    user = login_as("prescriber")
    other = factories.user(db, role="patient")
    db.commit()
    add_stored_passkey(db, other)
    response = post_json(client, "/reauth/passkey/options", session_token(client))
    assert response.status_code == 404
    assert response.json()["detail"] == "You have no passkeys on this account."

    mine = add_stored_passkey(db, user)
    response = post_json(client, "/reauth/passkey/options", session_token(client))
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["allowCredentials"]] == [mine.credential_id]


# --- challenges -------------------------------------------------------------------------------


def _sign_in_challenge(client) -> tuple[str, str]:
    token = anon_token(client)
    return token, post_json(client, "/login/passkey/options", token).json()["challenge"]


def _refusal_reasons(db) -> list[str]:
    return [
        e.details["reason"]
        for e in db.exec(
            select(AuditEvent).where(AuditEvent.action == "sign_in").order_by(AuditEvent.seq)
        )
    ]


def test_a_challenge_is_used_once(client, db):
    token, challenge = _sign_in_challenge(client)
    first = post_json(client, "/login/passkey", token, {"credential": fake_answer(challenge)})
    assert first.status_code == 400
    assert first.json()["detail"].startswith("This passkey is not set up for TrocheLog")
    again = post_json(client, "/login/passkey", token, {"credential": fake_answer(challenge)})
    assert again.status_code == 400
    assert again.json()["detail"] == (
        "This passkey request has expired or was already used. Please try again."
    )
    assert db.exec(select(AuthChallenge)).first() is None
    assert db.exec(select(AuthSession)).first() is None
    assert "set-cookie" not in again.headers or "tl_session" not in again.headers["set-cookie"]
    assert _refusal_reasons(db) == ["unknown_credential", "challenge"]


def test_an_expired_challenge_is_refused(client, db):
    token, challenge = _sign_in_challenge(client)
    stored = db.exec(select(AuthChallenge)).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.add(stored)
    db.commit()
    response = post_json(client, "/login/passkey", token, {"credential": fake_answer(challenge)})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "This passkey request has expired or was already used. Please try again."
    )
    assert db.exec(select(AuthChallenge)).first() is None  # spent all the same


def test_a_challenge_belongs_to_the_browser_that_asked(client, db):
    from fastapi.testclient import TestClient

    from app.main import app

    _token, challenge = _sign_in_challenge(client)
    with TestClient(app, follow_redirects=False) as other:
        response = post_json(other, "/login/passkey", anon_token(other),
                             {"credential": fake_answer(challenge)})
    assert response.status_code == 400
    assert "expired or was already used" in response.json()["detail"]
    # Still there for the browser it was made for.
    assert db.exec(select(AuthChallenge)).one().challenge == challenge


@pytest.mark.parametrize(
    "body",
    [{}, {"credential": "nope"}, {"credential": {"response": {"clientDataJSON": "!!"}}},
     {"credential": {"id": 1, "response": []}}, {"credential": None, "next": 5}],
)
def test_unreadable_answers_get_a_readable_4xx(client, db, body):
    token, _challenge = _sign_in_challenge(client)
    response = post_json(client, "/login/passkey", token, body)
    assert response.status_code == 400
    assert response.json()["detail"] == "The passkey's answer could not be read. Please try again."
    assert db.exec(select(AuthSession)).first() is None


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize("path", ["/login/passkey", "/account/passkeys", "/reauth/passkey"])
def test_a_form_posted_where_a_passkey_answer_goes_gets_a_readable_4xx(login_as, client, db,
                                                                       path, signed_in):
    # The add form without its script (or any client posting a form): the CSRF check reads
    # the form's body, and the answer was a 500 ("Stream consumed") when the route read it
    # again as JSON.
    if signed_in:
        login_as("patient")
    token = session_token(client) if signed_in else anon_token(client)
    response = client.post(path, data={"csrf_token": token, "name": "My phone"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert db.exec(select(Passkey)).first() is None


def test_passkey_failures_share_the_password_throttle(client, db):
    # An address that failed too many passwords cannot go on with passkeys instead.
    now = utcnow()
    for n in range(settings.login_max_failures_per_address):
        throttle.record_failure(db, email=f"someone{n}@example.test", address="testclient",
                                now=now)
    db.commit()
    token, challenge = _sign_in_challenge(client)
    response = post_json(client, "/login/passkey", token, {"credential": fake_answer(challenge)})
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many attempts.")
    assert int(response.headers["Retry-After"]) > 0


def test_registration_answer_for_another_sessions_challenge_is_refused(login_as, client, db):
    from fastapi.testclient import TestClient

    from app.main import app
    from tests.conftest import Auth

    user = login_as("patient")
    challenge = post_json(client, "/account/passkeys/options", session_token(client),
                          {"name": "Phone"}).json()["challenge"]
    with TestClient(app, follow_redirects=False) as other:
        assert Auth(other).login(user.email).status_code == 303
        response = post_json(other, "/account/passkeys", session_token(other),
                             {"name": "Phone",
                              "credential": fake_answer(challenge, kind="webauthn.create")})
    assert response.status_code == 400
    assert "expired or was already used" in response.json()["detail"]
    assert db.exec(select(Passkey)).first() is None


# --- the page and removing --------------------------------------------------------------------


def test_the_page_without_javascript(login_as, client, db):
    user = login_as("patient")
    add_stored_passkey(db, user)
    page = client.get("/account/passkeys")
    assert page.status_code == 200
    # Said until passkeys.js finds WebAuthn; the add form stays hidden without it.
    assert "Passkeys need a browser that supports them" in page.text
    assert "Phone" in page.text and "Not used yet" in page.text
    assert 'href="/account/passkeys"' in client.get("/account").text


def test_someone_elses_passkey_cannot_be_removed(login_as, auth, client, db):
    login_as("patient")
    other = factories.user(db, role="patient")
    db.commit()
    theirs = add_stored_passkey(db, other)
    for target in (theirs.id, uuid.uuid4(), "not-an-id"):
        response = auth.post(f"/account/passkeys/{target}/remove", {})
        assert response.status_code == 404
    assert db.get(Passkey, theirs.id) is not None
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "passkey.remove")).first() is None


def test_removing_a_passkey(login_as, auth, client, db):
    user = login_as("caregiver")
    mine = add_stored_passkey(db, user).id
    response = auth.post(f"/account/passkeys/{mine}/remove", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/account/passkeys?removed=1"
    db.expire_all()
    assert db.get(Passkey, mine) is None
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "passkey.remove")).one()
    assert event.actor_id == user.id and event.outcome == "ok"
    assert "It can no longer sign you in." in client.get(response.headers["location"]).text


def test_login_page_offers_a_passkey_only_with_javascript(client):
    page = client.get("/login?next=/account")
    assert "data-passkey-sign-in" in page.text
    # Hidden until passkeys.js finds WebAuthn, and it carries `next` along.
    assert 'data-passkey-sign-in data-passkey-supported hidden' in page.text
    assert 'name="next" value="/account"' in page.text
