"""Every kind of audit entry, made by what a person does: the right actor, role, patient and
outcome, the response's own request id, and never a health value, a name or an address."""

import uuid
from datetime import timedelta

import pytest

from app.checkins.models import SafetyEvent
from app.clinic import flags as flag_rules
from app.db import utcnow
from tests import factories
from tests.audit.conftest import assert_shape_only, entries
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, invite_token


def rid(response) -> str:
    value = response.headers["x-request-id"]
    assert value
    return value


@pytest.fixture
def clinic(db):
    """A prescriber and their patient (with a protocol), and a caregiver linked to the patient."""
    prescriber, patient, _version = factories.patient_with_protocol(db)
    caregiver = factories.user(db, role="caregiver")
    factories.link(db, patient, caregiver, scope="doses")
    db.commit()
    return prescriber, patient, caregiver


def canaries(*people) -> list[str]:
    return [text for p in people for text in (p.display_name, p.email)]


# --- sign-in, sign-out, password ------------------------------------------------------------

def test_a_sign_in_is_recorded_with_the_account_and_the_request(db, auth):
    user = factories.user(db)
    db.commit()
    response = auth.login(user.email)
    assert response.status_code == 303
    [entry] = entries(db, action="sign_in")
    assert (entry.actor_id, entry.actor_role, entry.outcome) == (user.id, "patient", "ok")
    assert entry.patient_id is None
    assert entry.request_id == rid(response)
    assert entry.details == {"method": "password"}


def test_a_wrong_password_is_a_failed_sign_in_of_that_account(db, auth):
    user = factories.user(db)
    db.commit()
    response = auth.login(user.email, "not the password")
    assert response.status_code == 401
    [entry] = entries(db, action="sign_in")
    assert (entry.actor_id, entry.actor_role, entry.outcome) == (user.id, "patient", "failed")
    assert entry.request_id == rid(response)
    assert_shape_only(entry, user.email, "not the password")


def test_an_unknown_address_is_a_failed_sign_in_that_names_nobody(db, auth):
    response = auth.login("nobody-here@example.test", "whatever it is")
    assert response.status_code == 401
    [entry] = entries(db, action="sign_in")
    assert (entry.actor_id, entry.actor_role, entry.outcome) == (None, None, "failed")
    assert entry.request_id == rid(response)
    assert_shape_only(entry, "nobody-here", "whatever it is")


def test_sign_out_and_a_password_change_are_recorded(db, auth, login_as):
    user = login_as("patient")
    wrong = auth.post("/account/password", {"current_password": "wrong one here",
                                            "new_password": "a brand new password",
                                            "password_confirm": "a brand new password"})
    assert wrong.status_code == 422
    [failed] = entries(db, action="password.change")
    assert (failed.actor_id, failed.outcome, failed.request_id) == (user.id, "failed", rid(wrong))
    changed = auth.post("/account/password", {"current_password": factories.PASSWORD,
                                              "new_password": "a brand new password",
                                              "password_confirm": "a brand new password"})
    assert changed.status_code == 303
    done = entries(db, action="password.change")[-1]
    assert (done.actor_id, done.outcome, done.request_id) == (user.id, "ok", rid(changed))
    assert auth.login(user.email, "a brand new password").status_code == 303
    out = auth.logout()
    [entry] = entries(db, action="sign_out")
    assert (entry.actor_id, entry.outcome, entry.request_id) == (user.id, "ok", rid(out))
    for e in entries(db):
        assert_shape_only(e, "a brand new password", "wrong one here", user.email)


# --- views ----------------------------------------------------------------------------------

def test_the_prescriber_opening_a_patient_is_one_view_per_request(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    assert auth.login(prescriber.email).status_code == 303
    first = client.get(f"/patients/{patient.id}")
    assert first.status_code == 200
    views = entries(db, action="view", request_id=rid(first))
    # The page asks the access module more than once; the trail says it once per purpose.
    assert len({(v.patient_id, v.details["purpose"]) for v in views}) == len(views) >= 1
    [treat] = [v for v in views if v.details["purpose"] == "treat"]
    assert (treat.actor_id, treat.actor_role, treat.patient_id, treat.outcome) == (
        prescriber.id, "prescriber", patient.id, "ok")
    assert treat.on_behalf_of_id is None
    second = client.get(f"/patients/{patient.id}")
    assert len(entries(db, action="view", request_id=rid(second))) == len(views)
    for e in entries(db):
        assert_shape_only(e, *canaries(patient, prescriber))


def test_the_patient_list_is_one_view_per_listed_patient(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    other = factories.user(db)
    factories.link(db, other, prescriber)
    db.commit()
    assert auth.login(prescriber.email).status_code == 303
    response = client.get("/patients")
    assert response.status_code == 200
    views = entries(db, action="view", request_id=rid(response))
    assert sorted(str(v.patient_id) for v in views) == sorted([str(patient.id), str(other.id)])
    assert all(v.details == {"purpose": "view", "list": True} for v in views)


def test_a_caregiver_view_is_recorded_and_the_patients_own_is_not(db, client, auth, clinic):
    _prescriber, patient, caregiver = clinic
    assert auth.login(caregiver.email).status_code == 303
    response = client.get(f"/supporting/{patient.id}")
    assert response.status_code == 200
    [support] = [v for v in entries(db, action="view", request_id=rid(response))
                 if v.details["purpose"] == "support"]
    assert (support.actor_id, support.actor_role, support.patient_id) == (
        caregiver.id, "caregiver", patient.id)
    with another_client() as phone:
        assert Auth(phone).login(patient.email).status_code == 303
        own = phone.get("/doses")
        assert own.status_code == 200
    assert entries(db, action="view", actor_id=patient.id) == []


# --- refusals -------------------------------------------------------------------------------

def test_a_refused_patient_page_is_a_denied_view_kept_though_the_request_failed(
        db, client, auth, clinic):
    _prescriber, patient, caregiver = clinic
    assert auth.login(caregiver.email).status_code == 303
    response = client.get(f"/patients/{patient.id}")
    assert response.status_code == 404
    [denied] = entries(db, outcome="denied")
    assert (denied.action, denied.actor_id, denied.actor_role, denied.patient_id) == (
        "view", caregiver.id, "caregiver", patient.id)
    assert denied.details == {"purpose": "treat"}
    assert denied.request_id == rid(response)
    missing = uuid.uuid4()
    response = client.get(f"/patients/{missing}")
    assert response.status_code == 404
    assert entries(db, outcome="denied")[-1].patient_id == missing  # what was asked for


def test_a_role_refusal_names_the_route_not_the_address(db, client, auth, login_as):
    user = login_as("patient")
    response = client.get("/patients")
    assert response.status_code == 403
    [denied] = entries(db, outcome="denied")
    assert (denied.action, denied.actor_id, denied.patient_id) == ("access", user.id, None)
    assert denied.details == {"path": "/patients"}
    assert denied.request_id == rid(response)


# --- changes ----------------------------------------------------------------------------------

def test_a_phase_change_is_a_protocol_change(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    assert auth.login(prescriber.email).status_code == 303
    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "maintenance",
        "effective_on": (utcnow() + timedelta(days=2)).date().isoformat(),
        "phase_reason": "Stable for four weeks."})
    assert response.status_code == 303, response.text
    [entry] = entries(db, action="protocol.change", request_id=rid(response))
    assert (entry.actor_id, entry.actor_role, entry.patient_id) == (
        prescriber.id, "prescriber", patient.id)
    assert entry.details == {"change": "phase", "version": 2}
    assert_shape_only(entry, "Stable for four weeks", "maintenance")


def test_consent_changes_from_invite_to_removal(db, client, auth):
    patient = factories.user(db)
    db.commit()
    assert auth.login(patient.email).status_code == 303
    invited = auth.post("/care-team/invite", {
        "client_id": str(uuid.uuid4()), "display_name": "Robin Carer",
        "email": "robin@example.test", "scope": "doses", "ends_on": ""})
    assert invited.status_code == 200, invited.text
    [created] = entries(db, action="consent.change")
    assert (created.actor_id, created.patient_id, created.request_id) == (
        patient.id, patient.id, rid(invited))
    assert created.details["change"] == "invite_created" and created.details["scope"] == "doses"
    token = invite_token(invited.text)
    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        accepted = phone.post(f"/invite/{token}", data={
            "csrf_token": csrf_from(page.text), "email": "robin@example.test",
            "password": "robin's long password", "password_confirm": "robin's long password",
            "timezone": "America/New_York"})
        assert accepted.status_code == 303, accepted.text
    joined = entries(db, action="consent.change")[-1]
    assert joined.details["change"] == "link_accepted" and joined.actor_role == "caregiver"
    assert (joined.patient_id, joined.request_id) == (patient.id, rid(accepted))
    link_id = joined.details["ref"]
    narrowed = auth.post(f"/care-team/caregivers/{link_id}", {"scope": "supervision",
                                                              "ends_on": ""})
    assert narrowed.status_code == 303
    scoped = entries(db, action="consent.change")[-1]
    assert scoped.details["change"] == "scope" and scoped.details["scope"] == "supervision"
    assert scoped.request_id == rid(narrowed)
    ends = (utcnow() + timedelta(days=30)).date().isoformat()
    dated = auth.post(f"/care-team/caregivers/{link_id}", {"scope": "supervision",
                                                           "ends_on": ends})
    assert entries(db, action="consent.change")[-1].details["change"] == "end_date"
    assert entries(db, action="consent.change")[-1].request_id == rid(dated)
    removed = auth.post(f"/care-team/caregivers/{link_id}/remove", {})
    assert removed.status_code == 303
    last = entries(db, action="consent.change")[-1]
    assert (last.details["change"], last.request_id) == ("removed", rid(removed))
    again = auth.post("/care-team/invite", {
        "client_id": str(uuid.uuid4()), "display_name": "Kim", "email": "kim@example.test",
        "scope": "", "ends_on": ""})
    invite_id = entries(db, action="consent.change")[-1].details["ref"]
    assert again.status_code == 200
    cancelled = auth.post(f"/care-team/invites/{invite_id}/cancel", {})
    assert cancelled.status_code == 303
    assert entries(db, action="consent.change")[-1].details["change"] == "invite_cancelled"
    for e in entries(db):
        assert_shape_only(e, "Robin", "robin@", "Kim", "kim@", patient.email)


def test_a_flag_review_is_recorded_without_the_flag_or_the_note(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    assert auth.login(prescriber.email).status_code == 303
    code = next(c for c in flag_rules.CODES if c not in flag_rules.EVENT_CODES)
    assert code == "bp_emergency"
    # A real reading to review: a review of a made-up key is refused (tests/clinic).
    reading = SafetyEvent(patient_id=patient.id, kind="bp_emergency", level="high",
                          occurred_at=utcnow() - timedelta(days=1), source_id=uuid.uuid4())
    db.add(reading)
    db.commit()
    response = auth.post(f"/patients/{patient.id}/flags/review",
                         {"code": code, "key": str(reading.id),
                          "note": "Spoke with them today.", "next": "/patients"})
    assert response.status_code == 303, response.text
    [entry] = entries(db, action="flag.review")
    assert (entry.actor_id, entry.patient_id, entry.request_id) == (
        prescriber.id, patient.id, rid(response))
    assert entry.details == {"kind": "flag"}
    assert_shape_only(entry, code, "Spoke with them")


def test_acknowledging_an_alert_is_recorded(db, client, auth, clinic):
    from app.alerts import service as alerts

    _prescriber, patient, caregiver = clinic
    alerts.set_receives_alerts(db, caregiver=caregiver, patient_id=patient.id, on=True)
    alert = alerts.raise_for_bp_hold(db, patient_id=patient.id, gate_id=uuid.uuid4(),
                                     now=utcnow())
    db.commit()
    assert alert is not None
    assert auth.login(caregiver.email).status_code == 303
    response = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "Called them.",
                                                              "back": "/alerts"})
    assert response.status_code == 303, response.text
    [entry] = entries(db, action="alert.acknowledge")
    assert (entry.actor_id, entry.actor_role, entry.patient_id, entry.request_id) == (
        caregiver.id, "caregiver", patient.id, rid(response))
    assert_shape_only(entry, "Called them")


def test_a_sitters_write_names_the_caregiver_on_behalf_of_the_patient(db, client, auth, clinic):
    _prescriber, patient, caregiver = clinic
    assert auth.login(caregiver.email).status_code == 303
    item = factories.sync_item("sitter_checkin", {
        "patient_id": str(patient.id), "slot": "sitter_check",
        "values": {"sitter_present": True, "bp_taken": True, "safe_place": True,
                   "no_driving": True}})
    response = factories.sync_post(client, item)
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "created", response.text
    [entry] = entries(db, action="write")
    assert (entry.actor_id, entry.actor_role, entry.on_behalf_of_id, entry.patient_id) == (
        caregiver.id, "caregiver", patient.id, patient.id)
    assert (entry.details, entry.request_id) == ({"kind": "sitter_checkin"}, rid(response))
    # A replay writes nothing, and records nothing.
    assert factories.sync_post(client, item).json()["results"][0]["status"] == "duplicate"
    assert len(entries(db, action="write")) == 1


def test_an_export_carries_the_request_id(db, client, auth, clinic):
    prescriber, patient, _caregiver = clinic
    assert auth.login(prescriber.email).status_code == 303
    response = client.get(f"/api/v1/patients/{patient.id}/export?format=fhir")
    assert response.status_code == 200
    [entry] = entries(db, action="export")
    assert (entry.actor_id, entry.patient_id, entry.request_id) == (
        prescriber.id, patient.id, rid(response))
    assert_shape_only(entry, *canaries(patient, prescriber))


def test_adding_a_patient_records_the_prescriber_link_as_consent(db, auth):
    prescriber = factories.user(db, role="prescriber")
    db.commit()
    assert auth.login(prescriber.email).status_code == 303
    added = auth.post("/patients/new", {
        "client_id": str(uuid.uuid4()), "display_name": "Ari New", "email": "ari@example.test",
        "timezone": "America/New_York"})
    assert added.status_code == 200, added.text
    [entry] = entries(db, action="consent.change")
    assert (entry.actor_id, entry.actor_role, entry.request_id) == (
        prescriber.id, "prescriber", rid(added))
    assert entry.details["change"] == "prescriber_linked" and entry.patient_id is not None
    assert_shape_only(entry, "Ari New", "ari@example.test")
