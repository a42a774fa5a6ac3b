"""Signing in: the demo accounts, wrong credentials, throttling per account and per address."""

import logging
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.accounts import service, throttle
from app.accounts.models import LoginFailure
from app.config import settings
from app.db import utcnow
from app.errors import TooManyAttempts
from app.main import app
from app.seed import DEMO_PASSWORD
from tests import factories, figures
from tests.conftest import csrf_from
from tests.helpers import another_client, follow, session_cookie, set_cookie_headers, without_csrf

NO_MATCH = "That email and password do not match an account."


def _login(client, email: str, password: str, **extra):
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, **extra}
    )


@pytest.mark.parametrize(
    ("email", "home", "shows"),
    [
        ("patient@demo.test", "/today", "Today"),
        ("patient2@demo.test", "/today", "Today"),
        ("caregiver@demo.test", "/supporting", "Jordan Reyes"),
        ("prescriber@demo.test", "/patients", "Sam Whitfield"),
    ],
)
def test_each_demo_account_signs_in_and_lands_home(demo, client, email, home, shows):
    response = _login(client, email, DEMO_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert session_cookie(client)

    front = client.get("/")
    assert front.status_code == 303
    assert front.headers["location"] == home

    page = client.get(home)
    assert page.status_code == 200
    assert shows in page.text
    assert f"Signed in as {email}" in page.text


def test_demo_caregiver_supports_only_the_first_patient(demo, client):
    _login(client, "caregiver@demo.test", DEMO_PASSWORD)
    page = client.get("/supporting")
    assert "Jordan Reyes" in page.text
    assert "Sam Whitfield" not in page.text


def test_email_is_matched_without_case_or_surrounding_spaces(demo, client):
    response = _login(client, "  Patient@Demo.TEST ", DEMO_PASSWORD)
    assert response.status_code == 303
    assert follow(client, response).status_code == 200


def test_sign_in_returns_to_the_requested_page(db, client):
    user = factories.user(db, role="caregiver")
    db.commit()
    asked = client.get("/account")
    assert asked.headers["location"] == "/login?next=/account"
    response = _login(client, user.email, factories.PASSWORD, next="/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


@pytest.mark.parametrize(
    "next_value", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:1"]
)
def test_sign_in_never_redirects_off_site(db, client, next_value):
    user = factories.user(db, role="patient")
    db.commit()
    response = _login(client, user.email, factories.PASSWORD, next=next_value)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def _assert_refused(response, email: str):
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert NO_MATCH in response.text
    # The form comes back, with the email kept and the password not echoed.
    assert '<form method="post" action="/login"' in response.text
    assert f'value="{email}"' in response.text
    assert not set_cookie_headers(response, settings.session_cookie)


def test_wrong_password_is_refused_with_the_form_again(demo, client):
    response = _login(client, "patient@demo.test", "not-the-password")
    _assert_refused(response, "patient@demo.test")
    assert "not-the-password" not in response.text
    assert session_cookie(client) is None
    assert client.get("/today").status_code == 303


def test_unknown_email_gets_the_identical_answer(demo, client):
    wrong = _login(client, "patient@demo.test", "not-the-password")
    unknown = _login(client, "nobody@demo.test", "not-the-password")
    _assert_refused(unknown, "nobody@demo.test")
    # Same client, same CSRF token (masked afresh in each page): the pages differ only in the
    # email typed.
    assert without_csrf(unknown.text).replace("nobody@demo.test", "EMAIL") == without_csrf(
        wrong.text).replace("patient@demo.test", "EMAIL")


def test_inactive_account_and_pending_invitee_cannot_sign_in(db, client):
    inactive = factories.user(db, role="patient")
    inactive.is_active = False
    invitee = factories.user(db, role="patient", with_password=False)
    db.add(inactive)
    db.commit()
    _assert_refused(_login(client, inactive.email, factories.PASSWORD), inactive.email)
    _assert_refused(_login(client, invitee.email, ""), invitee.email)


def test_control_characters_in_the_email_are_refused(demo, client):
    """PostgreSQL refuses NUL in text: this used to be a 500 there instead of a refusal."""
    response = _login(client, "patient\x00@demo.test", DEMO_PASSWORD)
    assert response.status_code == 422
    assert "cannot be saved" in response.text
    assert session_cookie(client) is None
    # Other control characters reach the form and are an ordinary miss.
    response = _login(client, "patient\x07@demo.test", DEMO_PASSWORD)
    assert response.status_code == 401
    assert NO_MATCH in response.text


# --- throttling: slow the attacker, never lock out the owner (app/accounts/throttle.py) -------

FREE = settings.login_free_failures


def _from(address: str) -> TestClient:
    """A browser at another address (as uvicorn resolved it)."""
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def _assert_slowed(response, *, at_most: int):
    assert response.status_code == 429
    assert "Too many attempts. Try again in" in response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= at_most
    assert not set_cookie_headers(response, settings.session_cookie)


def test_repeated_misses_from_one_place_slow_even_the_right_password(demo, client, still_clock):
    for _ in range(FREE):
        assert _login(client, "patient@demo.test", "wrong-password").status_code == 401
    response = _login(client, "patient@demo.test", DEMO_PASSWORD)
    _assert_slowed(response, at_most=2)
    assert "Too many attempts. Try again in 2 seconds." in response.text
    # The form is still there, with the email kept.
    assert 'value="patient@demo.test"' in response.text
    assert session_cookie(client) is None


def test_throttle_follows_the_account_not_the_spelling(demo, client, still_clock):
    spellings = ("patient@demo.test", "PATIENT@demo.test", " patient@Demo.Test")
    for n in range(FREE):
        _login(client, spellings[n % len(spellings)], "wrong-password")
    _assert_slowed(_login(client, "patient@demo.test", DEMO_PASSWORD), at_most=2)


def test_unknown_email_is_slowed_the_same_way(demo, client, still_clock):
    for _ in range(FREE):
        assert _login(client, "ghost@demo.test", "wrong-password").status_code == 401
    _assert_slowed(_login(client, "ghost@demo.test", "wrong-password"), at_most=2)


def test_owner_gets_in_while_an_attacker_elsewhere_is_slowed(demo, still_clock):
    with _from("198.51.100.66") as attacker, _from("203.0.113.10") as owner:
        for _ in range(FREE):
            assert _login(attacker, "patient@demo.test", "guess").status_code == 401
        _assert_slowed(_login(attacker, "patient@demo.test", DEMO_PASSWORD), at_most=2)
        # The owner, from their own phone, is not held up by someone else's guesses.
        response = _login(owner, "patient@demo.test", DEMO_PASSWORD)
        assert response.status_code == 303
        assert owner.get("/today").status_code == 200
        # …and their success does not free the attacker.
        _assert_slowed(_login(attacker, "patient@demo.test", DEMO_PASSWORD), at_most=2)
    figures.add("sign-in: owner admitted while attacker slowed", 1)


def test_one_address_is_throttled_across_many_emails(demo):
    limit = settings.login_max_failures_per_address
    with _from("198.51.100.7") as stuffer, _from("203.0.113.11") as elsewhere:
        for n in range(limit):
            assert _login(stuffer, f"guess{n}@demo.test", "wrong-password").status_code == 401
        # Every account is blocked from this address now, even a real one with its password.
        response = _login(stuffer, "prescriber@demo.test", DEMO_PASSWORD)
        assert response.status_code == 429
        window = settings.login_window_minutes * 60
        assert window - 60 < int(response.headers["Retry-After"]) <= window
        # Not from anywhere else.
        assert _login(elsewhere, "prescriber@demo.test", DEMO_PASSWORD).status_code == 303


def test_failures_store_neither_emails_nor_addresses(demo, db, client):
    _login(client, "patient@demo.test", "wrong-password")
    keys = [row.key for row in db.exec(select(LoginFailure)).all()]
    assert len(keys) == 3  # the pair, the account, the address
    for key in keys:
        assert re.fullmatch(r"[0-9a-f]{64}", key)
        assert "demo.test" not in key and "testclient" not in key


# --- the service, with explicit time ------------------------------------------------------------


def _auth(db, email, password, now, address="10.0.0.7"):
    return service.authenticate(db, email=email, password=password, address=address, now=now)


def test_the_attackers_delay_grows_and_is_capped():
    delays = [throttle.pair_delay_seconds(n) for n in range(FREE + 12)]
    assert delays[:FREE] == [0] * FREE
    assert delays[FREE:FREE + 5] == [2, 4, 8, 16, 32]
    assert max(delays) == settings.login_max_delay_seconds


def test_each_wait_is_longer_than_the_last_and_refusals_are_not_counted(db):
    user = factories.user(db, role="patient")
    db.commit()
    now = utcnow()
    waits = []
    for _ in range(FREE + 4):
        # An attacker who waits out every delay, then misses again.
        try:
            assert _auth(db, user.email, "wrong-password", now) is None
        except TooManyAttempts as refused:
            waits.append(refused.retry_after_seconds)
            # Refused before checking anything: trying again while waiting adds nothing.
            for _ in range(3):
                with pytest.raises(TooManyAttempts):
                    _auth(db, user.email, "wrong-password", now)
            now += timedelta(seconds=refused.retry_after_seconds)
            assert _auth(db, user.email, "wrong-password", now) is None
        db.commit()
    assert waits == sorted(waits) and len(set(waits)) == len(waits) and len(waits) >= 3
    figures.add("sign-in: attacker delays observed", len(waits))


def test_throttle_lifts_after_the_delay_and_success_starts_afresh(db):
    user = factories.user(db, role="patient")
    db.commit()
    t0 = utcnow()
    for n in range(FREE):
        assert _auth(db, user.email, "wrong-password", t0 + timedelta(seconds=n)) is None
    db.commit()
    last = t0 + timedelta(seconds=FREE - 1)
    with pytest.raises(TooManyAttempts) as caught:
        _auth(db, user.email, factories.PASSWORD, last + timedelta(seconds=1))
    assert caught.value.retry_after_seconds == 1
    assert caught.value.message == "Too many attempts. Try again in 1 second."
    signed_in = _auth(db, user.email, factories.PASSWORD, last + timedelta(seconds=2))
    assert signed_in is not None and signed_in.id == user.id
    db.commit()
    # The place starts afresh: a typo after signing in is not slowed.
    later = last + timedelta(seconds=3)
    assert _auth(db, user.email, "wrong-password", later) is None
    assert _auth(db, user.email, factories.PASSWORD, later) is not None


def test_a_slow_guesser_keeps_the_long_delay(db):
    user = factories.user(db, role="patient")
    db.commit()
    now = utcnow()
    for _ in range(FREE + 9):  # one miss every 20 minutes, each after its delay
        now += timedelta(minutes=20)
        assert _auth(db, user.email, "wrong-password", now) is None
        db.commit()
    with pytest.raises(TooManyAttempts) as caught:
        _auth(db, user.email, factories.PASSWORD, now + timedelta(seconds=1))
    assert caught.value.retry_after_seconds > 60
    assert caught.value.message.endswith("minutes.")


def test_many_addresses_only_pause_the_account_never_lock_it(db):
    user = factories.user(db, role="patient")
    db.commit()
    now = utcnow()
    ceiling = settings.login_account_ceiling
    for n in range(ceiling):  # a botnet: one miss from each of many addresses
        assert _auth(db, user.email, "wrong", now, address=f"192.0.2.{n % 250}:{n}") is None
    db.commit()
    pause = settings.login_account_delay_seconds
    # Past the ceiling every try on the account pauses, the botnet's and the owner's alike…
    for address in ("192.0.2.251", "203.0.113.10"):
        with pytest.raises(TooManyAttempts) as caught:
            _auth(db, user.email, factories.PASSWORD, now, address=address)
        assert 1 <= caught.value.retry_after_seconds <= pause
    # The owner, from their own address, gets in after the short pause.
    signed_in = _auth(db, user.email, factories.PASSWORD, now + timedelta(seconds=pause),
                      address="203.0.113.10")
    assert signed_in is not None and signed_in.id == user.id
    figures.add("sign-in: owner admitted after botnet failures", 1)


def test_old_failures_are_pruned(db):
    t0 = utcnow()
    _auth(db, "someone@example.test", "wrong-password", t0)
    db.commit()
    _auth(db, "else@example.test", "wrong-password", t0 + timedelta(days=2))
    db.commit()
    failed_at = [row.failed_at for row in db.exec(select(LoginFailure)).all()]
    assert len(failed_at) == 3
    assert all(when > t0 + timedelta(days=1) for when in failed_at)


# --- logs never carry PHI or secrets ---------------------------------------------------------


def test_sign_in_flows_log_neither_email_nor_password(demo, db, client, caplog, still_clock):
    caplog.set_level(logging.DEBUG, logger="trochelog")
    caplog.set_level(logging.INFO)
    _login(client, "patient@demo.test", "a-wrong-secret-9f3")
    _login(client, "nobody-real@demo.test", "a-wrong-secret-9f3")
    ok = _login(client, "patient@demo.test", DEMO_PASSWORD)
    assert ok.status_code == 303
    token = session_cookie(client)
    with another_client() as other:
        for _ in range(settings.login_free_failures):
            _login(other, "patient2@demo.test", "a-wrong-secret-9f3")
        assert _login(other, "patient2@demo.test", DEMO_PASSWORD).status_code == 429
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (
        "patient@demo.test",
        "patient2@demo.test",
        "nobody-real@demo.test",
        "a-wrong-secret-9f3",
        DEMO_PASSWORD,
        token,
    ):
        assert secret not in logged


def test_a_crash_is_logged_without_the_error_text(demo, client, caplog, monkeypatch):
    """A database error's message can quote the row: the log keeps only its type and route."""
    from sqlalchemy.exc import IntegrityError

    def crash(*_args, email: str, **_kwargs):
        statement = "INSERT INTO users (email) VALUES (%(email)s)"
        raise IntegrityError(statement, {"email": email}, Exception(f"duplicate key {email}"))

    monkeypatch.setattr(service, "authenticate", crash)
    caplog.set_level(logging.INFO)
    response = _login(client, "patient@demo.test", DEMO_PASSWORD)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Nothing was saved; please try again." in response.text
    assert "patient@demo.test" not in response.text
    assert "unhandled IntegrityError on POST /login" in caplog.text
    assert "patient@demo.test" not in caplog.text
    assert DEMO_PASSWORD not in caplog.text
    # Nothing half-done either: no session was started.
    assert session_cookie(client) is None
