"""Who reaches which page: each protected page × each role, and a prescriber's patient pages."""

import uuid

import pytest
from sqlmodel import select

from app.careteam.models import CareLink
from app.db import utcnow
from tests import factories
from tests.helpers import without_csrf

ROLES = ("patient", "caregiver", "prescriber")

# path → the roles that may open it
PROTECTED = {
    "/today": {"patient"},
    "/care-team": {"patient"},
    "/supporting": {"caregiver"},
    "/patients": {"prescriber"},
    "/patients/new": {"prescriber"},
    "/patients/export": {"prescriber"},  # the panel export form (app/exports/routes.py)
    "/alerts": {"caregiver", "prescriber"},
    "/account": {"patient", "caregiver", "prescriber"},
    "/account/reminders": {"patient", "caregiver", "prescriber"},
    "/account/access-log": {"patient"},  # who has seen my records (app/audit/routes.py)
    "/audit": {"prescriber"},  # the access log of their own patients
}
PUBLIC = ("/help", "/offline", "/login")

FORBIDDEN_MESSAGE = "You do not have access to this page."


@pytest.mark.parametrize("path", sorted(PROTECTED))
def test_anonymous_is_sent_to_sign_in_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"
    # The sign-in form carries the page along, so signing in returns there.
    login_page = client.get(response.headers["location"])
    assert login_page.status_code == 200
    assert f'name="next" value="{path}"' in login_page.text


@pytest.mark.parametrize("path", sorted(PROTECTED))
def test_anonymous_htmx_request_is_redirected_by_header(client, path):
    # htmx would swap a redirect's target into the page; it is told to navigate instead.
    response = client.get(path, headers={"HX-Request": "true"})
    assert response.headers.get("HX-Redirect") == f"/login?next={path}"
    assert "Today" not in response.text


@pytest.mark.parametrize(
    ("path", "role"), [(path, role) for path in sorted(PROTECTED) for role in ROLES]
)
def test_role_matrix(login_as, client, path, role):
    login_as(role)
    response = client.get(path)
    if role in PROTECTED[path]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert FORBIDDEN_MESSAGE not in response.text
    else:
        # A friendly page, not a stack trace or a bare JSON error.
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert "Not allowed" in response.text
        assert FORBIDDEN_MESSAGE in response.text
        assert 'href="/"' in response.text


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_open_without_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(("path", "role"), [(path, role) for path in PUBLIC for role in ROLES])
def test_public_pages_for_signed_in_people(login_as, client, path, role):
    login_as(role)
    response = client.get(path)
    if path == "/login":
        # Already signed in: the sign-in page sends you home instead of asking again.
        assert response.status_code == 303
        assert response.headers["location"] == "/"
    else:
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("role", "home"),
    [("patient", "/today"), ("caregiver", "/supporting"), ("prescriber", "/patients")],
)
def test_front_door_sends_each_role_home(login_as, client, role, home):
    login_as(role)
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == home


def test_anonymous_front_door_goes_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


# --- a prescriber's patients ------------------------------------------------------------------


def test_prescriber_sees_only_linked_patients(db, login_as, client):
    prescriber = login_as("prescriber")
    mine = factories.user(db, role="patient", display_name="Linked Patient")
    theirs = factories.user(db, role="patient", display_name="Someone Elses Patient")
    factories.link(db, mine, prescriber)
    db.commit()

    listing = client.get("/patients")
    assert "Linked Patient" in listing.text
    assert "Someone Elses Patient" not in listing.text

    linked = client.get(f"/patients/{mine.id}")
    assert linked.status_code == 200
    assert "Linked Patient" in linked.text
    assert mine.email in linked.text

    unlinked = client.get(f"/patients/{theirs.id}")
    # Not 403: a stranger cannot even learn that the patient exists.
    assert unlinked.status_code == 404
    assert unlinked.headers["content-type"].startswith("text/html")
    assert "Someone Elses Patient" not in unlinked.text
    assert theirs.email not in unlinked.text

    missing = client.get(f"/patients/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert unlinked.text.count("We could not find that page.") == 1
    assert missing.text.count("We could not find that page.") == 1


def test_revoked_prescriber_link_closes_the_patient_page(db, login_as, client):
    prescriber = login_as("prescriber")
    patient = factories.user(db, role="patient", display_name="Former Patient")
    factories.link(db, patient, prescriber)
    db.commit()
    assert client.get(f"/patients/{patient.id}").status_code == 200

    row = db.exec(select(CareLink).where(CareLink.member_id == prescriber.id)).one()
    row.revoked_at = utcnow()
    db.add(row)
    db.commit()

    assert client.get(f"/patients/{patient.id}").status_code == 404
    assert "Former Patient" not in client.get("/patients").text


@pytest.mark.parametrize("role", ["patient", "caregiver"])
def test_patient_pages_are_for_prescribers_only(db, login_as, client, role):
    member = login_as(role)
    patient = factories.user(db, role="patient")
    if role == "caregiver":
        factories.link(db, patient, member)
    db.commit()
    target = member.id if role == "patient" else patient.id
    response = client.get(f"/patients/{target}")
    # The same 404 as for a patient who does not exist (issue 10), not a role refusal.
    assert response.status_code == 404
    assert without_csrf(response.text) == without_csrf(client.get(f"/patients/{uuid.uuid4()}").text)


def test_other_prescriber_cannot_reissue_an_invite(db, login_as, auth, client):
    login_as("prescriber")
    owner = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient", with_password=False)
    factories.link(db, patient, owner)
    db.commit()

    response = auth.post(f"/patients/{patient.id}/invite", {"client_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert "/invite/" not in response.text


# --- a caregiver's people ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_supported_persons_page_is_for_their_caregiver_only(db, login_as, client, role):
    member = login_as(role)
    patient = factories.user(db, role="patient", display_name="Supported Person")
    if role == "caregiver":
        factories.link(db, patient, member)
    elif role == "prescriber":
        factories.link(db, patient, member)  # even their prescriber: this is the caregiver's page
    db.commit()
    target = member.id if role == "patient" else patient.id
    response = client.get(f"/supporting/{target}")
    if role == "caregiver":
        assert response.status_code == 200
        assert "Supported Person" in response.text
    else:
        # The same 404 as for a patient who does not exist (issue 10), not a role refusal.
        assert response.status_code == 404
        assert "Supported Person" not in response.text
        assert without_csrf(response.text) == without_csrf(
            client.get(f"/supporting/{uuid.uuid4()}").text)


def test_caregiver_cannot_open_someone_elses_person(db, login_as, client):
    login_as("caregiver")
    patient = factories.user(db, role="patient", display_name="Not Supported")
    factories.link(db, patient, factories.user(db, role="caregiver"))
    db.commit()
    response = client.get(f"/supporting/{patient.id}")
    assert response.status_code == 404
    assert "Not Supported" not in response.text


def test_anonymous_is_sent_to_sign_in_from_a_persons_page(client):
    path = f"/supporting/{uuid.uuid4()}"
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"
