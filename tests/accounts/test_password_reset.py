"""Password reset by one-time link, sent through a real SMTP server started by the test."""

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from app.accounts import mail
from app.accounts.models import PasswordReset, User
from app.audit.models import AuditEvent
from app.config import settings
from app.db import utcnow
from tests import factories
from tests.accounts.smtp_server import LocalSMTP
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, fresh, session_cookie, sessions_of, sha256

NEW_PASSWORD = "a fresh and long passphrase"
SENT = "If an account uses that address, we sent it a link"
LINK = re.compile(r"http://testserver/reset/([A-Za-z0-9_-]+)")


@pytest.fixture
def smtp(monkeypatch):
    with LocalSMTP() as server:
        monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(settings, "smtp_port", server.port)
        monkeypatch.setattr(settings, "smtp_starttls", False)
        yield server


@pytest.fixture
def user(db):
    account = factories.user(db, role="patient")
    db.commit()
    return account


def _ask(client, email):
    page = client.get("/forgot")
    assert page.status_code == 200
    return client.post("/forgot", data={"email": email, "csrf_token": csrf_from(page.text)})


def _link_in(message) -> str:
    match = LINK.search(message.get_content())
    assert match, message.get_content()
    return match.group(1)


def _choose(client, token, password=NEW_PASSWORD, confirm=None):
    page = client.get(f"/reset/{token}")
    assert page.status_code == 200, page.text
    return client.post(f"/reset/{token}", data={"password": password,
                                                "password_confirm": confirm or password,
                                                "csrf_token": csrf_from(page.text)})


def test_sign_in_page_links_to_forgot(client):
    assert 'href="/forgot"' in client.get("/login").text


def test_the_whole_round_trip(db, client, user, smtp):
    with another_client() as phone:
        assert Auth(phone).login(user.email).status_code == 303
        response = _ask(client, f"  {user.email.upper()} ")
        assert response.status_code == 303
        assert response.headers["location"] == "/forgot?sent=1"
        assert SENT in client.get("/forgot?sent=1").text

        (message,) = smtp.messages
        assert message["To"] == user.email
        assert message["From"] == settings.smtp_from
        token = _link_in(message)

        page = client.get(f"/reset/{token}")
        # The token in the address never leaves in a Referer, and no cache keeps the page.
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"

        done = _choose(client, token)
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        assert session_cookie(client)
        assert client.get("/today").status_code == 200
        # Every other session ended.
        assert phone.get("/today").status_code == 303
    (row,) = sessions_of(db, user)
    assert row.method == "reset"
    # The link worked once.
    again = client.get(f"/reset/{token}")
    assert again.status_code == 404
    assert "expired or was already used" in again.text
    # The new password is the password now.
    with another_client() as other:
        assert Auth(other).login(user.email).status_code == 401
        assert Auth(other).login(user.email, NEW_PASSWORD).status_code == 303
    steps = [e.details["step"] for e in db.exec(
        select(AuditEvent).where(AuditEvent.action == "password.reset")
        .order_by(AuditEvent.seq)).all()]
    assert steps == ["requested", "used"]


def test_unknown_address_gets_the_identical_answer_and_no_mail(db, client, user, smtp):
    known = _ask(client, user.email)
    unknown = _ask(client, "nobody@example.test")
    assert (known.status_code, known.headers["location"]) == (
        unknown.status_code, unknown.headers["location"])
    assert known.content == unknown.content
    assert len(smtp.messages) == 1


def test_the_link_points_at_the_public_origin_whatever_host_the_request_named(
        db, client, user, smtp, monkeypatch):
    """A security tester asked for a reset with `Host: evil.example` and the email's link went
    to evil.example: the token would reach whoever asked. Production requires PUBLIC_ORIGIN
    (tests/test_settings.py), and the link is built from it."""
    monkeypatch.setattr(settings, "public_origin", "https://clinic.example")
    page = client.get("/forgot", headers={"host": "evil.example"})
    asked = client.post("/forgot", data={"email": user.email, "csrf_token": csrf_from(page.text)},
                        headers={"host": "evil.example", "cookie": page.headers["set-cookie"]})
    assert asked.headers["location"] == "/forgot?sent=1"
    (message,) = smtp.messages
    assert "https://clinic.example/reset/" in message.get_content()
    assert "evil.example" not in message.get_content()


def test_asking_is_throttled_per_address_without_saying_so(db, client, user, smtp):
    for _ in range(settings.password_reset_per_hour + 2):
        assert _ask(client, user.email).headers["location"] == "/forgot?sent=1"
    assert len(smtp.messages) == settings.password_reset_per_hour


def test_a_new_link_revokes_the_older_ones(db, client, user, smtp):
    _ask(client, user.email)
    _ask(client, user.email)
    first, second = (_link_in(m) for m in smtp.messages)
    assert client.get(f"/reset/{first}").status_code == 404
    assert _choose(client, second).status_code == 303


def test_link_expires_after_an_hour(db, client, user, smtp):
    _ask(client, user.email)
    token = _link_in(smtp.messages[0])
    row = db.exec(select(PasswordReset)).one()
    assert row.expires_at - row.created_at == timedelta(hours=1)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert client.get(f"/reset/{token}").status_code == 404


def test_weak_password_comes_back_and_the_link_still_works(db, client, user, smtp):
    _ask(client, user.email)
    token = _link_in(smtp.messages[0])
    refused = _choose(client, token, password="short")
    assert refused.status_code == 422
    assert "Use at least 10 characters." in refused.text
    assert refused.headers["Referrer-Policy"] == "no-referrer"
    assert fresh(db, User, user.id).password_hash == factories._hashed()
    assert _choose(client, token).status_code == 303


def test_only_the_tokens_hash_is_stored_and_nothing_is_logged(db, client, user, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    _ask(client, user.email)
    token = _link_in(smtp.messages[0])
    _choose(client, token)
    row = db.exec(select(PasswordReset)).one()
    assert row.token_hash == sha256(token)
    with db.connection() as conn:
        stored = conn.execute(text("SELECT * FROM password_resets")).all()
    assert token not in str(stored)
    # The app's own log lines (the test client's httpx logs its request URLs itself).
    ours = [r for r in caplog.records if r.name.startswith("trochelog") or r.name == "uvicorn"]
    logged = "".join(r.getMessage() for r in ours)
    assert token not in logged and user.email not in logged


def test_pending_invitee_gets_no_link(db, client, smtp):
    invitee = factories.user(db, role="patient", with_password=False)
    db.commit()
    _ask(client, invitee.email)
    assert smtp.messages == []


def test_development_without_smtp_prints_the_link(monkeypatch, caplog):
    monkeypatch.setattr(settings, "smtp_host", "")
    monkeypatch.setattr(settings, "app_env", "development")
    caplog.set_level(logging.WARNING, logger="trochelog.mail")
    mail.send(mail.build(to="a@example.test", subject="s", body="http://x/reset/abc123"))
    assert "http://x/reset/abc123" in caplog.text


def test_production_without_smtp_refuses_to_pretend(monkeypatch):
    monkeypatch.setattr(settings, "smtp_host", "")
    monkeypatch.setattr(settings, "app_env", "production")
    with pytest.raises(mail.MailNotConfigured):
        mail.send(mail.build(to="a@example.test", subject="s", body="b"))
