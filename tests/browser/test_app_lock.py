"""The app lock on a phone: turn it on, come back after the phone was away, unlock with the PIN."""

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.accounts.models import AuthSession
from app.db import engine, utcnow
from tests import factories

pytestmark = pytest.mark.browser

PIN = "204816"


def test_app_lock_round_trip_on_a_phone(live_server, page: Page, sign_in, console_errors):
    console_errors.expect(r"422")  # the wrong PIN's answer, on purpose
    # While locked, the API answers 423: the outbox's flush may ask /api/v1/me on the lock
    # screen, depending on timing, and Chromium logs that answer.
    console_errors.expect(r"status of 423 \(Locked\)")
    with Session(engine, expire_on_commit=False) as db:
        patient = factories.user(db, role="patient")
        db.commit()
    sign_in(page, patient.email, factories.PASSWORD)
    expect(page.get_by_role("heading", name="Today")).to_be_visible()

    page.goto("/account")
    page.get_by_role("link", name="App lock").click()
    page.get_by_label("PIN (4 to 8 digits)").fill(PIN)
    page.get_by_label("PIN again").fill(PIN)
    page.get_by_label("Ask again after the app has been away for").select_option("5")
    page.get_by_role("button", name="Save PIN").click()
    expect(page.get_by_role("status")).to_have_text("App lock is on.")

    # The phone is put away for six minutes.
    with Session(engine) as db:
        for row in db.exec(select(AuthSession).where(AuthSession.user_id == patient.id)):
            row.last_seen_at = utcnow() - timedelta(minutes=6)
            db.add(row)
        db.commit()

    page.goto("/today")
    expect(page).to_have_url(f"{live_server}/unlock?next=/today")
    expect(page.get_by_role("heading", name="TrocheLog is locked")).to_be_visible()
    expect(page.get_by_role("link", name="Need help now? Crisis lines")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_text(patient.email)).to_have_count(0)

    page.get_by_label("PIN", exact=True).fill("111111")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("That PIN is not right. 4 tries left")).to_be_visible()

    page.get_by_label("PIN", exact=True).fill(PIN)
    page.get_by_role("button", name="Unlock").click()
    expect(page).to_have_url(f"{live_server}/today")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
