"""Re-authentication before exports and consent changes (app/accounts/reauth.py)."""

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.accounts.models import AuthSession, Invite
from app.config import settings
from app.db import utcnow
from tests import factories
from tests.conftest import csrf_from
from tests.helpers import fresh, sessions_of

STALE = timedelta(minutes=settings.reauth_minutes + 1)


def _age_proof(db, user, by=STALE):
    (row,) = sessions_of(db, user)
    row = fresh(db, AuthSession, row.id)
    row.reauthenticated_at = utcnow() - by
    db.add(row)
    db.commit()
    return row


def _invite_form(auth):
    return auth.post("/care-team/invite", {"client_id": str(uuid.uuid4()),
                                           "display_name": "Casey Sitter",
                                           "email": "casey@example.test"})


def test_fresh_sign_in_needs_no_second_proof(db, login_as, auth):
    login_as("patient")
    assert _invite_form(auth).status_code == 200
    assert db.exec(select(Invite)).all()


def test_consent_change_with_an_old_proof_asks_first_and_writes_nothing(db, login_as, auth,
                                                                       client):
    patient = login_as("patient")
    _age_proof(db, patient)
    refused = _invite_form(auth)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/reauth?next=/care-team"
    assert db.exec(select(Invite)).all() == []

    page = client.get(refused.headers["location"])
    assert page.status_code == 200
    assert "Confirm it is you" in page.text
    assert 'name="next" value="/care-team"' in page.text
    token = csrf_from(page.text)

    wrong = client.post("/reauth", data={"password": "nope", "next": "/care-team",
                                         "csrf_token": token})
    assert wrong.status_code == 401
    assert "Your password is not right." in wrong.text

    right = client.post("/reauth", data={"password": factories.PASSWORD, "next": "/care-team",
                                         "csrf_token": token})
    assert right.status_code == 303
    assert right.headers["location"] == "/care-team"
    assert _invite_form(auth).status_code == 200
    assert len(db.exec(select(Invite)).all()) == 1


@pytest.mark.parametrize("path", ["/care-team/caregivers/{id}", "/care-team/caregivers/{id}/remove",
                                  "/care-team/invites/{id}/cancel"])
def test_every_consent_form_asks_first(db, login_as, auth, path):
    patient = login_as("patient")
    _age_proof(db, patient)
    response = auth.post(path.format(id=uuid.uuid4()), {"scope": "supervision"})
    assert response.status_code == 303
    assert response.headers["location"] == "/reauth?next=/care-team"


def test_htmx_request_is_told_to_navigate(db, login_as, auth):
    patient = login_as("patient")
    _age_proof(db, patient)
    response = auth.post("/care-team/invite", {"display_name": "x"},
                         headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/reauth?next=/care-team"


def test_export_api_says_401_with_a_readable_detail(db, login_as, client):
    patient = login_as("patient")
    _age_proof(db, patient)
    path = f"/api/v1/patients/{patient.id}/export?format=csv"
    response = client.get(path)
    assert response.status_code == 401
    assert "confirm it is you" in response.json()["detail"].lower()
    # A browser opening the download link itself is sent to the form instead.
    navigated = client.get(path, headers={"Sec-Fetch-Mode": "navigate"})
    assert navigated.status_code == 303
    assert navigated.headers["location"].startswith(
        f"/reauth?next=/api/v1/patients/{patient.id}/export%3Fformat%3Dcsv"
    )


def test_export_form_opens_freely_but_the_download_asks(db, login_as, client):
    prescriber = login_as("prescriber")
    patient = factories.user(db, role="patient")
    factories.link(db, patient, prescriber)
    db.commit()
    _age_proof(db, prescriber)
    form = client.get(f"/patients/{patient.id}/export")
    assert form.status_code == 200
    asked = client.get(f"/patients/{patient.id}/export?format=csv")
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/reauth?next=")


def test_panel_export_asks_the_prescriber(db, login_as, client):
    prescriber = login_as("prescriber")
    _age_proof(db, prescriber)
    assert client.get("/api/v1/export?format=csv").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_reauth_never_sends_off_site(db, login_as, client, target):
    patient = login_as("patient")
    _age_proof(db, patient)
    token = csrf_from(client.get("/reauth").text)
    response = client.post("/reauth", data={"password": factories.PASSWORD, "next": target,
                                            "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_reauth_needs_a_session(client):
    assert client.get("/reauth").status_code == 303
