"""A patient's data rights: download everything (JSON, FHIR), and delete the account so that
no row anywhere still refers to them, their care team loses access, and the audit trail holds."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlmodel import SQLModel, col, func

from app.accounts import service as accounts
from app.accounts import throttle
from app.accounts.models import (
    AuthChallenge,
    Invite,
    InviteKind,
    LoginFailure,
    Passkey,
    PasswordReset,
    User,
)
from app.audit import chain
from app.audit.models import AuditEvent
from app.clinic.models import FlagReview
from app.config import settings
from app.db import utcnow
from app.doses.models import Dose
from app.main import app
from app.push.models import PushSubscription
from app.reminders.models import PushAttempt, PushDelivery, ReminderOccurrence
from app.seed import DEMO_PASSWORD, seed_demo
from tests.conftest import Auth
from tests.factories import sync_item, sync_post

CANARY = "CANARY-7f3a-other-patients-note"


@pytest.fixture
def demo(db):
    """The demo clinic; the second patient's record carries a canary in a dose's reason."""
    users = seed_demo(db, utcnow())
    other = users["patient2@demo.test"]
    dose = db.exec(select(Dose).where(Dose.patient_id == other.id).limit(1)).scalars().first()
    dose.override_reason = CANARY
    db.add(dose)
    db.commit()
    return users


def _signed_in(email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    response = Auth(client).login(email, DEMO_PASSWORD)
    assert response.status_code == 303, response.text
    return client


def _fill_every_table(db, patient: User, caregiver: User, prescriber: User, now) -> None:
    """What the demo seed leaves empty for the patient: sign-in data, push, an invite, a flag
    review, the sync ledger."""
    token = uuid.uuid4().hex
    db.add(PasswordReset(token_hash=token, user_id=patient.id, created_at=now,
                         expires_at=now + timedelta(hours=1)))
    db.add(Passkey(user_id=patient.id, credential_id=token, public_key=b"k", name="Phone",
                   created_at=now))
    db.add(AuthChallenge(purpose="reauth", browser_key=token, challenge=token,
                         user_id=patient.id, expires_at=now + timedelta(minutes=5)))
    subscription = PushSubscription(user_id=patient.id, endpoint=f"https://push.test/{token}",
                                    p256dh="p", auth="a", name="Phone", created_at=now,
                                    updated_at=now)
    occurrence = ReminderOccurrence(user_id=patient.id, patient_id=patient.id, kind="session",
                                    rule=f"test:{token}", local_time="2026-01-01T10:00",
                                    due_at=now, send_at=now, url="/today", created_at=now)
    db.add_all([subscription, occurrence])
    db.flush()
    delivery = PushDelivery(occurrence_id=occurrence.id, subscription_id=subscription.id,
                            next_attempt_at=now)
    db.add(delivery)
    db.flush()
    db.add(PushAttempt(delivery_id=delivery.id, at=now, outcome="sent"))
    db.add(Invite(id=uuid.uuid4(), token_hash=token, kind=InviteKind.CAREGIVER,
                  email="friend@example.test", display_name="Friend", patient_id=patient.id,
                  created_by_id=patient.id, created_at=now, expires_at=now + timedelta(days=7)))
    db.add(FlagReview(patient_id=patient.id, code="late_entry", key=token, reviewed_at=now,
                      reviewed_by_id=prescriber.id, note="Seen."))
    accounts.record_login_failure(db, email=patient.email, address="203.0.113.9", now=now)
    db.commit()


def _rows_naming(db, patient_id: uuid.UUID, *words: str) -> list[str]:
    """Every (table.column) whose value is, or contains, the patient's id or one of `words`.
    Every table, every column (UUIDs, text, JSON); in audit_events only the bare-id columns
    may name them."""
    needles = [str(patient_id), patient_id.hex, *words]
    found = []
    for table in SQLModel.metadata.sorted_tables:
        bare_ids = {"actor_id", "patient_id", "on_behalf_of_id"} \
            if table.name == "audit_events" else set()
        for row in db.execute(select(table)).mappings():
            for name, value in row.items():
                if name in bare_ids:
                    continue
                text = json.dumps(value, default=str) if isinstance(value, (dict, list)) \
                    else str(value)
                if value == patient_id or any(n in text for n in needles):
                    found.append(f"{table.name}.{name}")
    return found


def _foreign_keys_to_users(db, patient_id: uuid.UUID) -> list[str]:
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "users" for fk in column.foreign_keys):
                n = db.execute(select(func.count()).select_from(table)
                               .where(column == patient_id)).scalar_one()
                if n:
                    found.append(f"{table.name}.{column.name}: {n}")
    return found


def test_my_data_json_has_my_records_and_nothing_of_anyone_else(db, demo):
    patient, other = demo["patient@demo.test"], demo["patient2@demo.test"]
    client = _signed_in(patient.email)
    assert client.get("/account").text.count('href="/account/data"') == 1
    page = client.get("/account/data")
    assert page.status_code == 200 and "Delete my account" in page.text

    response = client.get("/account/data/trochelog-my-data.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert not any(s in disposition.lower() for s in ("jordan", "reyes", "patient",
                                                      str(patient.id)))
    body = response.text
    data = json.loads(body)
    assert data["account"]["id"] == str(patient.id)
    assert data["account"]["email"] == patient.email
    assert "password_hash" not in data["account"] and "app_lock_pin_hash" not in data["account"]
    assert all("token_hash" not in s for s in data["signed_in_devices"])
    doses = db.execute(select(func.count()).select_from(Dose)
                       .where(col(Dose.patient_id) == patient.id)).scalar_one()
    assert doses and len(data["doses"]) == doses
    for section in ("protocol_versions", "gate_checks", "ledger", "checkins",
                    "questionnaire_responses", "care_team_links", "audit_entries"):
        assert data[section], section
    assert all(d["patient_id"] == str(patient.id) for d in data["doses"])
    # Nothing of the other patient: not their canary, not their name, not their id.
    assert CANARY not in body and other.display_name not in body and str(other.id) not in body
    # The download is in the audit trail.
    db.expire_all()
    entry = db.exec(select(AuditEvent).where(AuditEvent.action == "data.download")
                    ).scalars().one()
    assert entry.actor_id == entry.patient_id == patient.id
    assert entry.details["format"] == "json"


def test_my_data_fhir_bundle_parses_as_r4b(db, demo):
    patient = demo["patient@demo.test"]
    client = _signed_in(patient.email)
    response = client.get("/account/data/trochelog-my-data.fhir.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment;")
    bundle = response.json()
    Bundle.model_validate(bundle)
    types = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "MedicationAdministration", "Observation"} <= types
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    assert CANARY not in response.text


def test_other_roles_have_no_my_data_page(db, demo):
    client = _signed_in(demo["caregiver@demo.test"].email)
    assert client.get("/account/data").status_code in (403, 404)
    assert client.get("/account/data/trochelog-my-data.json").status_code in (403, 404)


def test_deleting_the_account_leaves_no_row_that_refers_to_the_patient(db, demo):
    patient, other = demo["patient@demo.test"], demo["patient2@demo.test"]
    caregiver, prescriber = demo["caregiver@demo.test"], demo["prescriber@demo.test"]
    pid, email, name = patient.id, patient.email, patient.display_name
    _fill_every_table(db, patient, caregiver, prescriber, utcnow())
    patient_client = _signed_in(patient.email)
    # A write through the sync path, so the idempotency ledger refers to them too.
    assert sync_post(patient_client, sync_item("ledger_count", {
        "counted_at": utcnow().isoformat(), "count": "3"})).status_code == 200
    caregiver_client, prescriber_client = (_signed_in(caregiver.email),
                                           _signed_in(prescriber.email))
    assert caregiver_client.get(f"/supporting/{pid}").status_code == 200
    assert patient.display_name in prescriber_client.get("/patients").text
    # Every table that can refer to a patient does, before: the test proves something.
    empty = [t.name for t in SQLModel.metadata.sorted_tables
             if t.name not in ("server_keys",)
             and not db.execute(select(func.count()).select_from(t)).scalar_one()]
    assert not empty, f"tables left empty by the set-up: {empty}"
    other_doses = db.execute(select(func.count()).select_from(Dose)
                             .where(col(Dose.patient_id) == other.id)).scalar_one()
    old_cookie = patient_client.cookies.get(settings.session_cookie)

    response = Auth(patient_client).post("/account/delete", {"password": DEMO_PASSWORD,
                                                             "confirm": "DELETE"})
    assert response.status_code == 303
    assert response.headers["location"] == "/account/deleted"
    assert "storage" in response.headers["clear-site-data"]
    assert re.search(rf'{settings.session_cookie}=""?;', response.headers["set-cookie"])
    page = patient_client.get("/account/deleted")
    assert page.status_code == 200 and "Your account is deleted" in page.text

    db.expire_all()
    assert db.get(User, pid) is None
    assert _foreign_keys_to_users(db, pid) == []
    assert _rows_naming(db, pid, email, name) == []
    # Only the patient went: the other patient's record, the caregiver and prescriber stay.
    assert db.execute(select(func.count()).select_from(Dose)
                      .where(col(Dose.patient_id) == other.id)).scalar_one() == other_doses
    assert db.get(User, caregiver.id) and db.get(User, prescriber.id)
    # The failed sign-in's count against the account is gone (the address's stays).
    account_key = throttle.keys(email, "")["account"]
    assert not db.execute(select(LoginFailure).where(col(LoginFailure.key) == account_key)
                          ).scalars().all()

    # The caregiver's next request: as if the person never existed.
    assert caregiver_client.get(f"/supporting/{pid}").status_code == 404
    assert name not in prescriber_client.get("/patients").text
    assert prescriber_client.get(f"/patients/{pid}").status_code == 404
    # The old session is signed out.
    stale = TestClient(app, follow_redirects=False)
    stale.cookies.set(settings.session_cookie, old_cookie)
    assert stale.get("/api/v1/me").status_code == 401
    assert stale.get("/account").status_code in (303, 401)

    # The audit trail: whole, with the deletion in it under a bare id.
    entries = db.execute(select(AuditEvent).order_by(col(AuditEvent.seq))).scalars().all()
    assert chain.first_break(entries) is None
    deleted = [e for e in entries if e.action == "account.delete"]
    assert len(deleted) == 1
    assert deleted[0].actor_id == deleted[0].patient_id == pid
    assert deleted[0].details["rows"] > 0
    # A count, not which kinds of record they had (safety events, screens): it outlives them.
    assert set(deleted[0].details) == {"rows"}


def test_a_wrong_password_deletes_nothing(db, demo):
    patient = demo["patient@demo.test"]
    client = _signed_in(patient.email)
    before = db.execute(select(func.count()).select_from(Dose)
                        .where(col(Dose.patient_id) == patient.id)).scalar_one()
    response = Auth(client).post("/account/delete", {"password": "not my password",
                                                     "confirm": "DELETE"})
    assert response.status_code == 422
    assert 'id="password-error"' in response.text
    assert "That password is not right." in response.text
    assert 'name="confirm" type="text" value="DELETE"' in response.text
    response = Auth(client).post("/account/delete", {"password": DEMO_PASSWORD,
                                                     "confirm": "yes"})
    assert response.status_code == 422 and 'id="confirm-error"' in response.text
    db.expire_all()
    assert db.get(User, patient.id) is not None
    assert db.execute(select(func.count()).select_from(Dose)
                      .where(col(Dose.patient_id) == patient.id)).scalar_one() == before
    assert client.get("/api/v1/me").status_code == 200  # still signed in
    assert not db.execute(select(AuditEvent).where(AuditEvent.action == "account.delete")
                          ).scalars().all()
