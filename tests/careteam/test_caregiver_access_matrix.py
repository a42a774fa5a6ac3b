"""Every caregiver-relevant route × every state a caregiver's link can be in.

Allowed: the page or data, with the patient's name (or their doses) where it belongs. Not
allowed (out of scope, an invite not yet accepted, removed, past its end date, or linked to
someone else): the same 404 as for a patient who does not exist, and nothing of the patient's
in the body — not their name, not their email, not a dose amount.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.accounts import service as accounts
from app.accounts.models import User
from app.alerts.models import Alert
from app.careteam import access
from app.careteam.models import CareLink
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.db import utcnow
from app.doses.models import Dose
from tests import factories
from tests.conftest import Auth
from tests.helpers import another_client, without_csrf

NAME = "Quinlan Zephyrine"
EMAIL = "quinlan.zephyrine@example.test"
DOSE = "62.5"  # the one dose amount on record: never in a refusal
# UTC+14: for ten hours of every UTC day the patient's "yesterday" is the server's "today", so an
# end date judged in the wrong zone would leave an ended link open.
ZONE = "Pacific/Kiritimati"

# --- the link states --------------------------------------------------------------------------

LINKED = ("supervision", "doses", "checkins")
STATES = (*LINKED, "pending_invite", "removed", "expired", "someone_else")
ANY_SCOPE = frozenset(LINKED)
DOSE_SCOPES = frozenset({"doses", "checkins"})
CHECKIN_SCOPE = frozenset({"checkins"})
NOBODY: frozenset[str] = frozenset()


class World:
    def __init__(self, patient: User, prescriber: User, event: SafetyEvent, alert: Alert):
        self.patient, self.prescriber, self.event, self.alert = patient, prescriber, event, alert


@pytest.fixture
def world(db) -> World:
    now = utcnow()
    patient = factories.user(db, role="patient", display_name=NAME, email=EMAIL, timezone=ZONE)
    prescriber = factories.user(db, role="prescriber")
    version = factories.protocol(db, prescriber, patient, now=now - timedelta(days=10))
    db.add(Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                taken_at=now - timedelta(days=1), recorded_at=now - timedelta(days=1),
                received_at=now - timedelta(days=1), dose_mg=Decimal(DOSE),
                troches=Decimal("0.5"), route="sublingual"))
    db.add(CheckIn(id=uuid.uuid4(), patient_id=patient.id, author_id=patient.id, slot="daily",
                   values={"mood": 6}, recorded_at=now - timedelta(hours=2),
                   received_at=now - timedelta(hours=2)))
    db.add(QuestionnaireResponse(
        id=uuid.uuid4(), patient_id=patient.id, instrument="phq9",
        answers={f"q{i}": 1 for i in range(1, 10)}, score=9, band="mild", risk=None,
        completed_at=now - timedelta(hours=3), received_at=now - timedelta(hours=3)))
    event = SafetyEvent(patient_id=patient.id, kind="severe_side_effect", level="moderate",
                        occurred_at=now - timedelta(hours=1), source_id=uuid.uuid4())
    # An alert about the patient, with no safety event behind it that withholds consent.
    alert = Alert(patient_id=patient.id, kind="bp_emergency", source_id=uuid.uuid4(),
                  raised_at=now - timedelta(minutes=30))
    db.add(event)
    db.add(alert)
    db.commit()
    return World(patient, prescriber, event, alert)


def _link_row(db, patient: User, member: User) -> CareLink:
    return db.exec(select(CareLink).where(CareLink.patient_id == patient.id,
                                          CareLink.member_id == member.id)).one()


def _link(db, patient: User, caregiver: User, **terms) -> CareLink:
    # On the team since before the world's alert was raised (a sitter is told only of alerts
    # raised after joining).
    factories.link(db, patient, caregiver, now=utcnow() - timedelta(days=1), **terms)
    row = _link_row(db, patient, caregiver)
    row.receives_alerts = True  # so only the link's state decides about alerts
    db.add(row)
    return row


def arrange(db, state: str, patient: User, caregiver: User) -> None:
    now = utcnow()
    if state in LINKED:
        _link(db, patient, caregiver, scope=state)
    elif state == "pending_invite":  # invited with the widest scope, never accepted
        accounts.invite_caregiver(db, patient=patient, invite_id=uuid.uuid4(),
                                  email=caregiver.email, display_name=caregiver.display_name,
                                  scope="checkins", now=now)
    elif state == "removed":
        row = _link(db, patient, caregiver, scope="checkins")
        row.revoked_at = now
        db.add(row)
    elif state == "expired":  # its last day was yesterday, in the patient's own zone
        yesterday = access.local_today(patient, now) - timedelta(days=1)
        _link(db, patient, caregiver, scope="checkins", ends_on=yesterday)
    else:
        assert state == "someone_else"
        other = factories.user(db, role="patient", display_name="Other Person")
        _link(db, other, caregiver, scope="checkins")
        db.add(Alert(patient_id=other.id, kind="bp_emergency", source_id=uuid.uuid4(),
                     raised_at=now))
    db.commit()


# --- the routes -------------------------------------------------------------------------------

# (route, method, path, link states that may use it, what shows when allowed)
# {id} is the patient, {event} a safety event of theirs, {alert} an open alert about them.
ROUTES = [
    ("caregiver's page", "GET", "/supporting/{id}", ANY_SCOPE, NAME),
    ("alerts switch", "POST", "/supporting/{id}/alerts", ANY_SCOPE, None),
    ("acknowledge an alert", "POST", "/alerts/{alert}/acknowledge", ANY_SCOPE, None),
    ("trends", "GET", "/patients/{id}/trends", CHECKIN_SCOPE, NAME),
    ("doses API", "GET", "/api/v1/doses?patient_id={id}", DOSE_SCOPES, DOSE),
    ("check-ins API", "GET", "/api/v1/checkins?patient_id={id}", CHECKIN_SCOPE, '"mood"'),
    ("questionnaires API", "GET", "/api/v1/questionnaires?patient_id={id}", CHECKIN_SCOPE,
     '"phq9"'),
    # The prescriber's pages about a patient: no caregiver, whatever the scope.
    ("prescriber's patient page", "GET", "/patients/{id}", NOBODY, None),
    ("protocol page", "GET", "/patients/{id}/protocol", NOBODY, None),
    ("save protocol", "POST", "/patients/{id}/protocol", NOBODY, None),
    ("change phase", "POST", "/patients/{id}/phase", NOBODY, None),
    ("questionnaire schedule", "POST", "/patients/{id}/questionnaires", NOBODY, None),
    ("review a safety event", "POST", "/patients/{id}/safety-events/{event}/review", NOBODY,
     None),
    ("re-issue the patient's invite", "POST", "/patients/{id}/invite", NOBODY, None),
    ("caregiver alert delay", "POST", "/patients/{id}/caregiver-alerts", NOBODY, None),
]
FORM = {"receive": "off", "note": "Called them.", "review_note": "Reviewed.",
        "client_id": str(uuid.uuid4()), "phase": "maintenance", "phase_reason": "Stable.",
        "caregiver_alert_minutes": "30"}


def _url(path: str, world: World, *, missing: bool = False) -> str:
    return path.format(
        id=uuid.uuid4() if missing else world.patient.id,
        event=world.event.id,
        alert=uuid.uuid4() if missing else world.alert.id,
    )


def _request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.post(url, data={**FORM, "csrf_token": token})


def assert_nothing_of(patient: User, body: str) -> None:
    for secret in (NAME, EMAIL, DOSE, str(patient.id)):
        assert secret not in body, secret


@pytest.mark.parametrize(
    ("route", "method", "path", "allowed_in", "shows", "state"),
    [(*row, state) for row in ROUTES for state in STATES],
    ids=[f"{row[0]}-{state}" for row in ROUTES for state in STATES],
)
def test_caregiver_access(db, login_as, client, world, route, method, path, allowed_in, shows,
                          state):
    caregiver = login_as("caregiver")
    arrange(db, state, world.patient, caregiver)

    response = _request(client, method, _url(path, world))

    if state in allowed_in:
        if method == "GET":
            assert response.status_code == 200, response.text
            assert shows in response.text
        else:  # Post/Redirect/Get
            assert response.status_code == 303, response.text
        return
    # The same answer as for a patient (or an alert) that does not exist, and nothing of theirs.
    assert response.status_code == 404, response.text
    missing = _request(client, method, _url(path, world, missing=True))
    assert missing.status_code == 404
    assert without_csrf(response.text) == without_csrf(missing.text)
    assert_nothing_of(world.patient, response.text)


def test_the_routes_are_open_to_those_they_are_for(db, auth, client, world):
    """The refusals above are about who asks: the patient's prescriber gets these pages."""
    auth.login(world.prescriber.email)
    for path in ("/patients/{id}", "/patients/{id}/protocol", "/patients/{id}/trends"):
        response = client.get(_url(path, world))
        assert response.status_code == 200, path
        assert NAME in response.text
    assert DOSE in client.get(_url("/api/v1/doses?patient_id={id}", world)).text


@pytest.mark.parametrize(
    "path",
    ["/supporting/{id}", "/patients/{id}", "/patients/{id}/protocol", "/patients/{id}/trends",
     "/api/v1/doses?patient_id={id}", "/api/v1/checkins?patient_id={id}"],
)
def test_another_patient_gets_the_same_404(db, login_as, client, world, path):
    login_as("patient")
    response = client.get(_url(path, world))
    assert response.status_code == 404
    assert without_csrf(response.text) == without_csrf(
        client.get(_url(path, world, missing=True)).text)
    assert_nothing_of(world.patient, response.text)


@pytest.mark.parametrize("path", ["/supporting/{id}", "/patients/{id}"])
def test_the_patient_does_not_get_the_other_roles_pages_about_themself(db, auth, client, world,
                                                                       path):
    # Not 403: those pages are for their caregiver and their prescriber, and answer like any
    # page that is not there.
    auth.login(EMAIL)
    assert client.get(_url(path, world)).status_code == 404


# --- GET /api/v1/patients ---------------------------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_patient_list_holds_only_people_supported_now(db, login_as, client, world, state):
    caregiver = login_as("caregiver")
    arrange(db, state, world.patient, caregiver)

    response = client.get("/api/v1/patients")

    assert response.status_code == 200
    listed = response.json()
    if state in LINKED:
        [entry] = listed
        assert entry["id"] == str(world.patient.id)
        assert entry["display_name"] == NAME
        assert entry["scope"] == state
        assert entry["open_alerts"] == 1
        # Not the prescriber's list (email, phase, flags): the caregiver's own shape.
        with another_client() as other:
            Auth(other).login(world.prescriber.email)
            [theirs] = other.get("/api/v1/patients").json()
        assert set(theirs) == {"id", "name", "email", "phase", "flags"}
        assert set(entry) == {"id", "display_name", "timezone", "scope", "next_session_at",
                              "open_alerts"}
    else:
        assert str(world.patient.id) not in response.text
        assert_nothing_of(world.patient, response.text)
        assert [p["display_name"] for p in listed] == (
            ["Other Person"] if state == "someone_else" else []
        )


# --- revocation and narrowing mid-session -----------------------------------------------------


def _patient_client(stack_client):
    auth = Auth(stack_client)
    assert auth.login(EMAIL).status_code == 303
    return auth


def test_removal_takes_effect_on_the_caregivers_next_request(db, login_as, client, world):
    caregiver = login_as("caregiver")
    arrange(db, "doses", world.patient, caregiver)
    link_id = _link_row(db, world.patient, caregiver).id
    page = client.get(f"/supporting/{world.patient.id}")
    assert page.status_code == 200
    assert NAME in page.text

    with another_client() as phone:
        removed = _patient_client(phone).post(f"/care-team/caregivers/{link_id}/remove", {})
        assert removed.status_code == 303

    for path in (f"/supporting/{world.patient.id}", f"/api/v1/doses?patient_id={world.patient.id}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_nothing_of(world.patient, response.text)
    assert client.get("/api/v1/patients").json() == []


def test_narrowing_the_scope_closes_the_dose_history_at_once(db, login_as, client, world):
    caregiver = login_as("caregiver")
    arrange(db, "doses", world.patient, caregiver)
    link_id = _link_row(db, world.patient, caregiver).id
    doses = f"/api/v1/doses?patient_id={world.patient.id}"
    before = client.get(doses)
    assert before.status_code == 200
    assert DOSE in before.text

    with another_client() as phone:
        narrowed = _patient_client(phone).post(f"/care-team/caregivers/{link_id}",
                                               {"scope": "supervision", "ends_on": ""})
        assert narrowed.status_code == 303

    after = client.get(doses)
    assert after.status_code == 404
    assert_nothing_of(world.patient, after.text)
    # Still their caregiver for the session itself.
    page = client.get(f"/supporting/{world.patient.id}")
    assert page.status_code == 200
    assert NAME in page.text
    assert client.get("/api/v1/patients").json()[0]["scope"] == "supervision"


@pytest.mark.parametrize("role", ["patient", "prescriber"])
def test_the_alerts_switch_answers_404_to_anyone_but_the_caregiver(db, client, login_as, role):
    """The patient themself (or their prescriber) posting a caregiver's alerts switch gets the
    same 404 as for nobody, not a 403 that tells the route is real for someone."""
    user = login_as(role)
    patient = user if role == "patient" else factories.user(db, role="patient")
    if role == "prescriber":
        factories.link(db, patient, user)
    factories.link(db, patient, factories.user(db, role="caregiver"))
    db.commit()
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post(f"/supporting/{patient.id}/alerts",
                           data={"csrf_token": token, "receive": "on"})
    assert response.status_code == 404
