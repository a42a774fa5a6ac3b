"""The trail's pages: the patient sees who opened their records; the prescriber sees the log of
their own patients, and nobody else can open it."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from app.audit import service as audit
from app.db import engine
from tests import factories
from tests.audit.conftest import entries as audit_entries_where
from tests.conftest import Auth
from tests.helpers import another_client


@pytest.fixture
def clinic(db):
    prescriber = factories.user(db, role="prescriber", display_name="Dr. Noor Haddad")
    patient = factories.user(db, display_name="Jamie Patient", timezone="America/Chicago")
    caregiver = factories.user(db, role="caregiver", display_name="Casey Carer")
    factories.link(db, patient, prescriber)
    factories.link(db, patient, caregiver, scope="doses")
    db.commit()
    return prescriber, patient, caregiver


def audit_entries(db, patient_id):
    return audit_entries_where(db, patient_id=patient_id)


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1]


def test_the_patient_sees_the_prescribers_view_in_their_own_time(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    with another_client() as desk:
        assert Auth(desk).login(prescriber.email).status_code == 303
        assert desk.get(f"/patients/{patient.id}").status_code == 200
    assert auth.login(patient.email).status_code == 303
    account = client.get("/account")
    assert 'href="/account/access-log"' in account.text
    assert 'href="/account/access-log"' in client.get("/care-team").text
    page = client.get("/account/access-log")
    assert page.status_code == 200
    main = _main(page.text)
    assert "Who has seen my records" in main
    assert "Dr. Noor Haddad" in main and "(prescriber)" in main
    assert "Opened your record" in main
    assert "sign_in" not in main and "request" not in main.lower()  # no codes, no request ids
    # The patient's own sign-in is theirs to know: not listed.
    assert main.count("Jamie Patient") == 0


def test_times_are_in_the_patients_zone_and_deleted_accounts_are_unnamed(db, client, auth,
                                                                         clinic):
    _prescriber, patient, _caregiver = clinic
    with Session(engine) as session:
        audit.record(session, action="export", actor_id=uuid.uuid4(), actor_role="prescriber",
                     patient_id=patient.id, details={"format": "pdf"},
                     now=datetime(2026, 11, 24, 20, 30, tzinfo=UTC))
        session.commit()
    assert auth.login(patient.email).status_code == 303
    main = _main(client.get("/account/access-log").text)
    assert "a former account" in main
    assert "Exported your record (PDF)" in main
    assert "Nov 24, 2026, 2:30 PM" in main  # Chicago, 12-hour clock


def test_refused_attempts_and_sitter_writes_are_listed(db, client, auth, clinic):
    _prescriber, patient, caregiver = clinic
    with another_client() as phone:
        assert Auth(phone).login(caregiver.email).status_code == 303
        assert phone.get(f"/patients/{patient.id}").status_code == 404  # not theirs to open
    assert auth.login(patient.email).status_code == 303
    main = _main(client.get("/account/access-log").text)
    assert "Casey Carer" in main and "(caregiver)" in main
    assert "Tried to open your record and was refused" in main


def test_the_list_pages_back_to_older_entries(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    with Session(engine) as session:
        for _ in range(55):
            audit.record(session, action="view", actor=prescriber, patient_id=patient.id,
                         details={"purpose": "treat"})
        session.commit()
    assert auth.login(patient.email).status_code == 303
    first = _main(client.get("/account/access-log").text)
    assert first.count("Opened your record") == 50
    assert 'href="/account/access-log?page=2"' in first
    second = _main(client.get("/account/access-log?page=2").text)
    assert second.count("Opened your record") == 5
    assert 'href="/account/access-log"' in second and "?page=3" not in second


def test_the_prescriber_reads_the_log_of_their_patient_with_request_ids(db, client, auth,
                                                                         clinic):
    prescriber, patient, caregiver = clinic
    with another_client() as phone:
        assert Auth(phone).login(caregiver.email).status_code == 303
        seen = phone.get(f"/supporting/{patient.id}")
        assert seen.status_code == 200
    assert auth.login(prescriber.email).status_code == 303
    assert f'href="/patients/{patient.id}/audit"' in client.get(f"/patients/{patient.id}").text
    page = client.get(f"/patients/{patient.id}/audit")
    assert page.status_code == 200
    main = _main(page.text)
    assert "Casey Carer" in main and "caregiver" in main and "Opened the caregiver" in main
    assert seen.headers["x-request-id"] in main
    # The clinic-wide log, from the menu, names the patient.
    assert 'href="/audit"' in client.get("/more").text
    clinic_page = _main(client.get("/audit").text)
    assert "Jamie Patient" in clinic_page and seen.headers["x-request-id"] in clinic_page


@pytest.mark.parametrize("who", ["caregiver", "patient", "other_patient", "other_prescriber"])
def test_nobody_else_opens_the_prescribers_log(db, client, auth, clinic, who):
    _prescriber, patient, caregiver = clinic
    account = {"caregiver": caregiver, "patient": patient}.get(who)
    if account is None:
        account = factories.user(db, role="prescriber" if who == "other_prescriber"
                                 else "patient")
        db.commit()
    assert auth.login(account.email).status_code == 303
    response = client.get(f"/patients/{patient.id}/audit")
    assert response.status_code == 404
    assert "Jamie Patient" not in response.text and "Dr. Noor Haddad" not in response.text


def test_the_clinic_log_shows_only_the_prescribers_own_patients(db, client, auth, clinic):
    prescriber, _patient, _caregiver = clinic
    other_prescriber = factories.user(db, role="prescriber")
    stranger = factories.user(db, display_name="Sasha Elsewhere")
    factories.link(db, stranger, other_prescriber)
    db.commit()
    with Session(engine) as session:
        audit.record(session, action="view", actor=other_prescriber, patient_id=stranger.id,
                     details={"purpose": "treat"})
        session.commit()
    assert auth.login(prescriber.email).status_code == 303
    assert "Sasha Elsewhere" not in client.get("/audit").text


@pytest.mark.parametrize("role", ["patient", "caregiver"])
def test_the_clinic_log_is_for_prescribers(client, login_as, role):
    login_as(role)
    assert client.get("/audit").status_code == 403


def test_only_patients_have_the_who_has_seen_page(client, login_as):
    login_as("prescriber")
    assert client.get("/account/access-log").status_code == 403


def test_a_sitters_phone_refreshing_its_offline_copies_is_not_read_as_the_sitter_opening_them(
        db, client, auth, clinic):
    """The sitter's phone refreshes the pages it keeps for a session without signal (app/static/
    sw.js warm-up: their page and each session form, a request each, marked with a header). The
    trail keeps every request, marked as a refresh: the prescriber's log says so, with each
    request id; the patient reads one refresh, not five entries of "Opened your session",
    beside what the sitter did open."""
    prescriber, patient, caregiver = clinic
    refresh = {audit.OFFLINE_COPY_HEADER: "1"}
    with another_client() as phone:
        assert Auth(phone).login(caregiver.email).status_code == 303
        assert phone.get(f"/supporting/{patient.id}").status_code == 200  # opened by the sitter
        base = f"/supporting/{patient.id}/session"
        refreshed = [phone.get(path, headers=refresh)
                     for path in (f"/supporting/{patient.id}", base, f"{base}/sitter_check",
                                  f"{base}/plus40", f"{base}/end")]
        assert [r.status_code for r in refreshed] == [200] * 5

    views = [e for e in audit_entries(db, patient.id) if e.action == "view"
             and e.actor_id == caregiver.id]
    refresh_ids = {r.headers["x-request-id"] for r in refreshed}
    assert {e.request_id for e in views if e.details.get("offline_copy")} == refresh_ids
    opening = [e for e in views if not e.details.get("offline_copy")]
    assert opening and {e.request_id for e in opening}.isdisjoint(refresh_ids)

    assert auth.login(patient.email).status_code == 303
    main = _main(client.get("/account/access-log").text)
    assert main.count(
        "Their phone refreshed its copy of your pages, for use without signal") == 1
    assert main.count("Opened your page") == 1
    assert "Opened your session to record it" not in main
    auth.logout()

    assert auth.login(prescriber.email).status_code == 303
    log = _main(client.get(f"/patients/{patient.id}/audit").text)
    assert log.count("Their phone refreshed its copy of the pages, for use without signal") == \
        len(views) - len(opening)
    assert all(request_id in log for request_id in refresh_ids)
    assert log.count("Opened the caregiver") == 1
