"""Session lifetimes by role, and what a new session records (device label, method, proof)."""

from datetime import timedelta

import pytest

from app.accounts import service
from app.accounts.models import AuthSession
from app.config import settings
from app.db import utcnow
from tests import factories
from tests.helpers import fresh, sessions_of

PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36")


def test_prescriber_session_ends_after_30_idle_minutes(db):
    user = factories.user(db, role="prescriber")
    db.commit()
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    assert service.resolve_session(db, token, t0 + timedelta(minutes=29)) is not None
    db.rollback()  # forget the touch
    assert service.resolve_session(db, token, t0 + timedelta(minutes=30)) is None
    db.commit()
    assert sessions_of(db, user) == []


def test_prescriber_in_steady_use_is_never_signed_out_early(db):
    """last_seen_at is written at most every 30 seconds for a prescriber, so a page every 29
    minutes keeps the session; with the patients' 5-minute granularity it would not."""
    user = factories.user(db, role="prescriber")
    db.commit()
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    now = t0
    for _ in range(20):
        now += timedelta(minutes=29, seconds=50)
        if now >= t0 + timedelta(hours=settings.prescriber_absolute_hours):
            break
        assert service.resolve_session(db, token, now) is not None, now - t0
        db.commit()
        assert fresh(db, AuthSession, sessions_of(db, user)[0].id).last_seen_at == now


def test_prescriber_session_ends_after_12_hours_however_busy(db):
    user = factories.user(db, role="prescriber")
    db.commit()
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    (row,) = sessions_of(db, user)
    assert row.expires_at == t0 + timedelta(hours=12)
    now = t0
    while now + timedelta(minutes=10) < t0 + timedelta(hours=12):
        now += timedelta(minutes=10)
        assert service.resolve_session(db, token, now) is not None
        db.commit()
    assert service.resolve_session(db, token, t0 + timedelta(hours=12)) is None


@pytest.mark.parametrize("role", ["patient", "caregiver"])
def test_patients_and_caregivers_keep_long_sessions(db, role):
    user = factories.user(db, role=role)
    db.commit()
    t0 = utcnow()
    token = service.start_session(db, user, t0)
    db.commit()
    (row,) = sessions_of(db, user)
    assert row.expires_at == t0 + timedelta(days=settings.session_absolute_days)
    assert service.resolve_session(db, token, t0 + timedelta(days=6)) is not None


def test_new_session_records_label_method_and_proof_never_the_header(db, client, auth):
    user = factories.user(db, role="patient")
    db.commit()
    client.headers["User-Agent"] = PHONE
    assert auth.login(user.email).status_code == 303
    (row,) = sessions_of(db, user)
    assert row.device == "Chrome on Android"
    assert row.method == "password"
    assert row.reauthenticated_at == row.created_at
    assert "Pixel" not in str(row.model_dump())


def test_unknown_method_is_refused(db):
    user = factories.user(db, role="patient")
    with pytest.raises(ValueError):
        service.start_session(db, user, utcnow(), method="magic")


def test_mark_reauthenticated(db):
    user = factories.user(db, role="patient")
    t0 = utcnow()
    service.start_session(db, user, t0)
    (row,) = sessions_of(db, user)
    service.mark_reauthenticated(db, row, t0 + timedelta(minutes=30))
    db.commit()
    assert fresh(db, AuthSession, row.id).reauthenticated_at == t0 + timedelta(minutes=30)


@pytest.mark.parametrize(("role", "seconds"), [("prescriber", 12 * 3600),
                                               ("patient", 30 * 86400)])
def test_the_browser_keeps_the_cookie_no_longer_than_the_session_lasts(db, auth, role, seconds):
    user = factories.user(db, role=role)
    db.commit()
    response = auth.login(user.email)
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith(f"{settings.session_cookie}="))
    assert f"Max-Age={seconds}" in cookie
