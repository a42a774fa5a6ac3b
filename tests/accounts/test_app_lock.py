"""The optional app lock: a PIN checked by the server, asked again after time away."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.accounts import service
from app.accounts.models import AuthSession, User
from app.audit.models import AuditEvent
from app.config import settings
from app.db import utcnow
from tests import factories
from tests.conftest import csrf_from
from tests.helpers import fresh, sessions_of

PIN = "482913"
LOCKED_DETAIL = "The app is locked"


def _turn_on(auth, pin=PIN, minutes="5", confirm=None):
    return auth.post("/account/app-lock", {"pin": pin, "pin_confirm": confirm or pin,
                                           "minutes": minutes})


def _away(db, user, minutes):
    (row,) = sessions_of(db, user)
    row = fresh(db, AuthSession, row.id)
    row.last_seen_at = utcnow() - timedelta(minutes=minutes)
    db.add(row)
    db.commit()


@pytest.fixture
def locked(db, login_as, auth, client):
    """A patient with the app lock on (5 minutes), whose phone was away 6 minutes."""
    user = login_as("patient")
    assert _turn_on(auth).status_code == 303
    _away(db, user, 6)
    return user


def _unlock(client, pin, next_="/today"):
    page = client.get(f"/unlock?next={next_}")
    return client.post("/unlock", data={"pin": pin, "next": next_,
                                        "csrf_token": csrf_from(page.text)})


def test_turning_it_on_stores_only_an_argon2_hash(db, login_as, auth, client):
    user = login_as("caregiver")
    response = _turn_on(auth, minutes="15")
    assert response.status_code == 303
    assert "App lock is on." in client.get(response.headers["location"]).text
    row = fresh(db, User, user.id)
    assert row.app_lock_pin_hash.startswith("$argon2") and PIN not in row.app_lock_pin_hash
    assert row.app_lock_minutes == 15
    (entry,) = db.exec(select(AuditEvent).where(AuditEvent.action == "app_lock.change")).all()
    assert entry.details == {"enabled": True, "minutes": 15}


@pytest.mark.parametrize(
    ("pin", "confirm", "minutes", "field", "message"),
    [
        ("12a4", None, "5", "pin", "Use 4 to 8 digits."),
        ("123", None, "5", "pin", "Use 4 to 8 digits."),
        ("123456789", None, "5", "pin", "Use 4 to 8 digits."),
        ("1234", "1235", "5", "pin_confirm", "The two PINs do not match."),
        ("1234", None, "7", "minutes", "Choose one of the times in the list."),
    ],
)
def test_bad_pin_choices_come_back_next_to_their_field(db, login_as, auth, pin, confirm,
                                                       minutes, field, message):
    user = login_as("patient")
    response = _turn_on(auth, pin=pin, confirm=confirm, minutes=minutes)
    assert response.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in response.text
    assert fresh(db, User, user.id).app_lock_pin_hash is None


def test_no_lock_before_the_time_is_up(db, login_as, auth, client):
    user = login_as("patient")
    _turn_on(auth)
    _away(db, user, 4)
    assert client.get("/today").status_code == 200


def test_locked_pages_go_to_the_lock_screen_and_api_says_423(locked, client):
    response = client.get("/today")
    assert response.status_code == 303
    assert response.headers["location"] == "/unlock?next=/today"
    api = client.get("/api/v1/today")
    assert api.status_code == 423
    assert LOCKED_DETAIL in api.json()["detail"]
    # The outbox's writes get the same clear status (it keeps every entry on a non-2xx).
    sync = client.post("/api/v1/sync", json={"items": []})
    assert sync.status_code == 423
    assert client.get("/api/v1/me").status_code == 423
    htmx = client.get("/doses", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/unlock?next=/doses"


@pytest.mark.parametrize("path", ["/help", "/offline", "/sw.js", "/manifest.webmanifest",
                                  "/static/app.css"])
def test_crisis_help_and_the_offline_shell_stay_reachable(locked, client, path):
    response = client.get(path)
    assert response.status_code == 200, path


def test_help_while_locked_shows_no_name_or_menu(locked, client):
    page = client.get("/help").text
    assert locked.email not in page
    assert "Signed in as" not in page
    assert "tel:988" in page


def test_lock_screen_offers_pin_sign_out_and_crisis_help(locked, client):
    page = client.get("/unlock?next=/today")
    assert page.status_code == 200
    assert 'action="/unlock"' in page.text and 'name="pin"' in page.text
    assert 'action="/logout"' in page.text
    assert 'href="/help"' in page.text
    assert locked.email not in page.text


def test_right_pin_unlocks_and_returns(db, locked, client):
    wrong = _unlock(client, "000000")
    assert wrong.status_code == 422
    assert f"{settings.app_lock_max_wrong_pins - 1} tries left" in wrong.text
    right = _unlock(client, PIN)
    assert right.status_code == 303
    assert right.headers["location"] == "/today"
    assert client.get("/today").status_code == 200
    (row,) = sessions_of(db, locked)
    assert row.locked is False


def test_too_many_wrong_pins_end_the_session(db, locked, client):
    for _ in range(settings.app_lock_max_wrong_pins - 1):
        assert _unlock(client, "111111").status_code == 422
    last = _unlock(client, "111111")
    assert last.status_code == 303
    assert last.headers["location"] == "/login?locked_out=1"
    # Offline entries not yet sent stay on the phone; the cached pages go.
    assert last.headers["Clear-Site-Data"] == '"cache"'
    assert sessions_of(db, locked) == []
    assert "Too many wrong PINs" in client.get("/login?locked_out=1").text
    # The PIN is no use now: only the password lets them in.
    assert client.get("/today").headers["location"] == "/login?next=/today"


def test_sign_out_works_while_locked(db, locked, client):
    page = client.get("/unlock")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    assert sessions_of(db, locked) == []


def test_turning_it_off_needs_the_password(db, login_as, auth, client):
    user = login_as("patient")
    _turn_on(auth)
    refused = auth.post("/account/app-lock/off", {"password": "not it"})
    assert refused.status_code == 422
    assert "Your password is not right." in refused.text
    assert fresh(db, User, user.id).app_lock_pin_hash is not None
    done = auth.post("/account/app-lock/off", {"password": factories.PASSWORD})
    assert done.status_code == 303
    assert fresh(db, User, user.id).app_lock_pin_hash is None
    _away(db, user, 120)
    assert client.get("/today").status_code == 200


def test_steady_use_never_locks_despite_coarse_last_seen(db):
    """last_seen_at is touched every 30 seconds with a 5-minute lock, so a person looking at the
    app every 4 minutes is never asked for the PIN."""
    user = factories.user(db, role="patient")
    user.app_lock_pin_hash = service.password_hash.hash(PIN)
    user.app_lock_minutes = 5
    db.add(user)
    db.commit()
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    now = t0
    for _ in range(10):
        now += timedelta(minutes=4, seconds=50)
        signed_in = service.resolve_session(db, token, now)
        assert signed_in is not None and not signed_in.auth.locked
        db.commit()
    signed_in = service.resolve_session(db, token, now + timedelta(minutes=5))
    assert signed_in is not None and signed_in.auth.locked
