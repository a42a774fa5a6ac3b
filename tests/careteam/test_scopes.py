"""Scoped caregiver consent: what a caregiver sees is what the patient chose, for as long as they
chose, and nothing once removed; every other case looks like a patient who does not exist."""

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select

from app.accounts.models import Invite, User
from app.careteam import access
from app.careteam.access import Purpose, Scope
from app.careteam.models import CareLink
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.db import utcnow
from tests import factories
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, fresh, invite_token, without_csrf

NAME = "Quinlan Zephyrine"  # the patient's name: never in a refusal
NOTE = "private-note-7c1e"  # free text the patient wrote: never shown to a caregiver
SECRET_ANSWER = "cssrs-answer-marker"


def _seed_record(db, patient: User) -> None:
    now = utcnow()
    db.add(CheckIn(id=uuid.uuid4(), patient_id=patient.id, author_id=patient.id, slot="daily",
                   values={"mood": 6, "note": NOTE}, recorded_at=now - timedelta(hours=2),
                   received_at=now - timedelta(hours=2)))
    db.add(QuestionnaireResponse(
        id=uuid.uuid4(), patient_id=patient.id, instrument="phq9",
        answers={f"q{i}": 1 for i in range(1, 10)}, score=9, band="mild", risk=None,
        follow_up="cssrs", completed_at=now - timedelta(hours=3),
        received_at=now - timedelta(hours=3)))
    db.add(QuestionnaireResponse(
        id=uuid.uuid4(), patient_id=patient.id, instrument="cssrs",
        answers={"q1": True, "q2": False, "marker": SECRET_ANSWER}, score=None, band=None,
        risk="low", completed_at=now - timedelta(hours=3), received_at=now - timedelta(hours=3)))
    db.flush()


@pytest.fixture
def patient(db):
    patient = factories.user(db, role="patient", display_name=NAME)
    _seed_record(db, patient)
    db.commit()
    return patient


def _link_row(db, patient, member) -> CareLink:
    return db.exec(select(CareLink).where(CareLink.patient_id == patient.id,
                                          CareLink.member_id == member.id)).one()


def _arrange(db, case: str, patient: User, caregiver: User) -> None:
    today = access.local_today(patient, utcnow())
    if case in ("supervision", "doses", "checkins"):
        factories.link(db, patient, caregiver, scope=case)
    elif case == "ends_today":  # the last day still counts, in the patient's time zone
        factories.link(db, patient, caregiver, scope="checkins", ends_on=today)
    elif case == "ended_yesterday":
        factories.link(db, patient, caregiver, scope="checkins", ends_on=today - timedelta(1))
    elif case == "revoked":
        factories.link(db, patient, caregiver, scope="checkins")
        row = _link_row(db, patient, caregiver)
        row.revoked_at = utcnow()
        db.add(row)
    elif case == "other_patient":
        other = factories.user(db, role="patient")
        factories.link(db, other, caregiver, scope="checkins")
    else:
        assert case == "never"
    db.commit()


def _get(client, path: str, patient_id: uuid.UUID):
    return client.get(path.format(id=patient_id))


def _post_alerts(client, path, patient_id):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.post(path.format(id=patient_id), data={"receive": "off", "csrf_token": token})


# Every path a caregiver can reach about one patient, and the purpose that guards it.
PATHS = {
    "/api/v1/doses?patient_id={id}": Purpose.VIEW_DOSES,
    "/api/v1/checkins?patient_id={id}": Purpose.VIEW_CHECKINS,
    "/api/v1/questionnaires?patient_id={id}": Purpose.VIEW_CHECKINS,
    "/patients/{id}/trends": Purpose.VIEW_CHECKINS,
    "/supporting/{id}/alerts": Purpose.VIEW_SESSION,  # POST: their own alert choice
}
CASES = {  # case → the purposes the caregiver has
    "supervision": {Purpose.VIEW_SESSION},
    "doses": {Purpose.VIEW_SESSION, Purpose.VIEW_DOSES},
    "checkins": {Purpose.VIEW_SESSION, Purpose.VIEW_DOSES, Purpose.VIEW_CHECKINS},
    "ends_today": {Purpose.VIEW_SESSION, Purpose.VIEW_DOSES, Purpose.VIEW_CHECKINS},
    "ended_yesterday": set(),
    "revoked": set(),
    "other_patient": set(),
    "never": set(),
}


@pytest.mark.parametrize(("case", "path"), [(c, p) for c in CASES for p in PATHS])
def test_access_table(db, login_as, client, patient, case, path):
    caregiver = login_as("caregiver")
    _arrange(db, case, patient, caregiver)
    allowed = PATHS[path] in CASES[case]
    if path.startswith("/supporting"):
        response = _post_alerts(client, path, patient.id)
        assert response.status_code == (303 if allowed else 404), response.text
    else:
        response = _get(client, path, patient.id)
        assert response.status_code == (200 if allowed else 404), response.text
    assert access.can_access_patient(db, caregiver, patient.id, PATHS[path]) is allowed
    if not allowed:
        # The same answer as for a patient who does not exist, and nothing of theirs.
        missing = (_post_alerts if path.startswith("/supporting") else _get)(
            client, path, uuid.uuid4())
        assert missing.status_code == 404
        assert without_csrf(response.text) == without_csrf(missing.text)
        for secret in (NAME, NOTE, SECRET_ANSWER, str(patient.id)):
            assert secret not in response.text


@pytest.mark.parametrize("case", list(CASES))
def test_a_caregiver_never_has_the_whole_record(db, login_as, client, patient, case):
    caregiver = login_as("caregiver")
    _arrange(db, case, patient, caregiver)
    assert access.can_access_patient(db, caregiver, patient.id, Purpose.VIEW) is False
    # The prescriber's page is not for caregivers: the same 404 as for a patient who does not
    # exist, so it says nothing about this patient.
    page = client.get(f"/patients/{patient.id}")
    assert page.status_code == 404
    assert NAME not in page.text
    assert without_csrf(page.text) == without_csrf(client.get(f"/patients/{uuid.uuid4()}").text)


def test_readable_patients_follows_scope_and_end(db, login_as, patient):
    caregiver = login_as("caregiver")
    today = access.local_today(patient, utcnow())
    ended = factories.user(db, role="patient", display_name="Ended Patient")
    factories.link(db, patient, caregiver, scope="doses")
    factories.link(db, ended, caregiver, scope="checkins", ends_on=today - timedelta(1))
    db.commit()
    assert [p.id for p in access.readable_patients(db, caregiver, Purpose.VIEW_SESSION)] == [
        patient.id]
    assert [p.id for p in access.readable_patients(db, caregiver, Purpose.VIEW_DOSES)] == [
        patient.id]
    assert access.readable_patients(db, caregiver, Purpose.VIEW_CHECKINS) == []
    assert access.readable_patients(db, caregiver, Purpose.VIEW) == []
    assert access.caregiver_link(db, caregiver, ended.id) is None
    assert access.purposes_for("nonsense") == frozenset()
    assert access.purposes_for(Scope.SUPERVISION) < access.purposes_for(Scope.DOSES) < (
        access.purposes_for(Scope.CHECKINS))


def test_checkins_scope_never_shows_the_screener_answers_or_notes(db, login_as, client, patient):
    caregiver = login_as("caregiver")
    _arrange(db, "checkins", patient, caregiver)
    questionnaires = client.get(f"/api/v1/questionnaires?patient_id={patient.id}").json()
    assert [q["instrument"] for q in questionnaires["questionnaires"]] == ["phq9"]
    (phq9,) = questionnaires["questionnaires"]
    assert phq9["score"] == 9
    # No item answers (PHQ-9 item 9), no risk, no follow-up that would tell item 9 was positive.
    assert {"answers", "risk", "risk_loinc", "follow_up"}.isdisjoint(phq9)
    checkins = client.get(f"/api/v1/checkins?patient_id={patient.id}").json()["checkins"]
    assert checkins[0]["values"] == {"mood": 6}
    trends = client.get(f"/patients/{patient.id}/trends")
    assert trends.status_code == 200
    for body in (str(questionnaires), str(checkins), trends.text):
        assert NOTE not in body and SECRET_ANSWER not in body and "cssrs" not in body

    # The patient still sees all of it: the caregiver's view is cut, not the record.
    with another_client() as phone:
        Auth(phone).login(patient.email)
        own = phone.get("/api/v1/questionnaires").json()["questionnaires"]
        assert {q["instrument"] for q in own} == {"phq9", "cssrs"}
        assert NOTE in str(phone.get("/api/v1/checkins").json())


@pytest.mark.parametrize("scope", ["doses", "checkins"])
def test_a_caregiver_reads_doses_without_the_patients_own_words(db, login_as, client, patient,
                                                                scope):
    """The dose API gave a caregiver the reason for an override, for a dose logged with no
    check, and for a correction ("The half troche crumbled and I spat it out"), though the
    sitter's pages show badges only and the check-ins API already left notes out."""
    from app.doses import corrections
    from app.doses import service as doses

    caregiver = login_as("caregiver")
    factories.protocol(db, factories.user(db, role="prescriber"), patient)
    _arrange(db, scope, patient, caregiver)
    now = utcnow()
    dose = doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now, data={
        "taken_at": (now - timedelta(hours=1)).isoformat(), "dose_mg": "100",
        "route": "sublingual", "no_gate_reason": f"No cuff {NOTE}"}, now=now)
    corrections.revise_dose(db, patient=patient, author=patient, dose_id=dose.id,
                            revision_id=uuid.uuid4(), reason=f"Spat it out {NOTE}",
                            changes={"dose_mg": "50"}, now=now)
    db.commit()

    (shown,) = client.get(f"/api/v1/doses?patient_id={patient.id}").json()["doses"]
    assert float(shown["dose_mg"]) == 50 and shown["no_gate_reason"] is None
    assert float(shown["revisions"][0]["changes"]["dose_mg"]["after"]) == 50
    assert NOTE not in str(shown)

    with another_client() as phone:
        Auth(phone).login(patient.email)
        own = str(phone.get("/api/v1/doses").json())
        assert f"No cuff {NOTE}" in own and f"Spat it out {NOTE}" in own


def _patient_client(stack, patient):
    phone = stack.enter_context(another_client())
    assert Auth(phone).login(patient.email).status_code == 303
    return phone


def test_removal_takes_effect_on_the_next_request(db, login_as, client, patient):
    caregiver = login_as("caregiver")
    _arrange(db, "checkins", patient, caregiver)
    link_id = _link_row(db, patient, caregiver).id
    assert client.get(f"/api/v1/doses?patient_id={patient.id}").status_code == 200
    with another_client() as phone:
        assert Auth(phone).login(patient.email).status_code == 303
        team = phone.get("/care-team").text
        assert f'action="/care-team/caregivers/{link_id}/remove"' in team
        removed = Auth(phone).post(f"/care-team/caregivers/{link_id}/remove", {})
        assert removed.status_code == 303
        assert removed.headers["location"].startswith("/care-team?removed=1")
        assert caregiver.display_name not in phone.get("/care-team").text
    # Same caregiver session, very next request.
    after = client.get(f"/api/v1/doses?patient_id={patient.id}")
    assert after.status_code == 404
    assert NAME not in client.get("/supporting").text
    row = fresh(db, CareLink, link_id)
    assert row.revoked_at is not None  # kept: the record shows who had access
    assert row.receives_alerts is False


def test_scope_change_takes_effect_at_once(db, login_as, client, patient):
    caregiver = login_as("caregiver")
    _arrange(db, "doses", patient, caregiver)
    link_id = _link_row(db, patient, caregiver).id
    assert client.get(f"/api/v1/checkins?patient_id={patient.id}").status_code == 404
    with another_client() as phone:
        Auth(phone).login(patient.email)
        wider = Auth(phone).post(f"/care-team/caregivers/{link_id}",
                                 {"scope": "checkins", "ends_on": ""})
        assert wider.status_code == 303
        assert client.get(f"/api/v1/checkins?patient_id={patient.id}").status_code == 200
        narrower = Auth(phone).post(f"/care-team/caregivers/{link_id}",
                                    {"scope": "supervision", "ends_on": ""})
        assert narrower.status_code == 303
        assert client.get(f"/api/v1/doses?patient_id={patient.id}").status_code == 404
        assert client.get(f"/api/v1/checkins?patient_id={patient.id}").status_code == 404
        page = phone.get("/care-team").text
        assert re.search(rf'id="c{link_id}-scope-supervision"[^>]*checked', page)


def test_scope_change_errors_sit_beside_the_field_with_values_kept(db, login_as, client, patient):
    caregiver = factories.user(db, role="caregiver", display_name="Casey Sitter")
    factories.link(db, patient, caregiver, scope="doses")
    db.commit()
    link_id = _link_row(db, patient, caregiver).id
    Auth(client).login(patient.email)
    yesterday = (access.local_today(patient, utcnow()) - timedelta(1)).isoformat()
    response = Auth(client).post(f"/care-team/caregivers/{link_id}",
                                 {"scope": "everything", "ends_on": yesterday})
    assert response.status_code == 422
    assert f'id="c{link_id}-scope-error"' in response.text
    assert "Choose one of the three options." in response.text
    assert f'id="c{link_id}-ends_on-error"' in response.text
    assert f'value="{yesterday}"' in response.text
    assert fresh(db, CareLink, link_id).scope == "doses"  # nothing changed


def test_someone_elses_link_cannot_be_changed_or_removed(db, login_as, client, patient):
    caregiver = factories.user(db, role="caregiver")
    factories.link(db, patient, caregiver, scope="doses")
    db.commit()
    link_id = _link_row(db, patient, caregiver).id
    login_as("patient")  # another patient
    assert Auth(client).post(f"/care-team/caregivers/{link_id}/remove", {}).status_code == 404
    assert Auth(client).post(f"/care-team/caregivers/{link_id}",
                             {"scope": "checkins"}).status_code == 404
    row = fresh(db, CareLink, link_id)
    assert row.revoked_at is None and row.scope == "doses"


# --- invites ----------------------------------------------------------------------------------


def _invite(auth: Auth, email: str, name: str = "Casey Sitter", **extra):
    return auth.post("/care-team/invite", {"client_id": str(uuid.uuid4()), "display_name": name,
                                           "email": email, **extra})


def test_invite_with_scope_makes_a_link_with_that_scope(db, auth, patient):
    auth.login(patient.email)
    ends = (access.local_today(patient, utcnow()) + timedelta(days=30)).isoformat()
    created = _invite(auth, "casey@example.test", scope="checkins", ends_on=ends)
    assert created.status_code == 200
    assert "Sessions, doses and check-ins" in created.text
    # The last day in words, as a person reads a date ("Until 2027-01-01." read as a code).
    assert f"Until {date.fromisoformat(ends).strftime('%b %-d, %Y')}." in created.text
    token = invite_token(created.text)
    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        accepted = phone.post(f"/invite/{token}", data={
            "email": "casey@example.test", "password": "a-long-password",
            "password_confirm": "a-long-password", "timezone": "UTC",
            "csrf_token": csrf_from(page.text)})
        assert accepted.status_code == 303
        assert phone.get(f"/api/v1/checkins?patient_id={patient.id}").status_code == 200
    caregiver = db.exec(select(User).where(User.email == "casey@example.test")).one()
    row = _link_row(db, patient, caregiver)
    assert row.scope == "checkins"
    assert row.ends_on.isoformat() == ends


def test_invite_form_errors_sit_beside_the_field_with_values_kept(db, auth, patient):
    auth.login(patient.email)
    response = _invite(auth, "casey@example.test", scope="doses", ends_on="not-a-date")
    assert response.status_code == 422
    assert 'id="ends_on-error"' in response.text
    assert 'value="not-a-date"' in response.text
    assert 'value="casey@example.test"' in response.text
    assert re.search(r'id="scope-doses"[^>]*checked', response.text)
    assert db.exec(select(Invite)).first() is None


def test_pending_invite_can_be_cancelled(db, auth, client, patient):
    auth.login(patient.email)
    token = invite_token(_invite(auth, "casey@example.test").text)
    invite = db.exec(select(Invite)).one()
    assert f'/care-team/invites/{invite.id}/cancel' in client.get("/care-team").text
    cancelled = auth.post(f"/care-team/invites/{invite.id}/cancel", {})
    assert cancelled.status_code == 303
    assert "Invites waiting" not in client.get("/care-team").text
    with another_client() as phone:
        assert phone.get(f"/invite/{token}").status_code == 404


def _normalised(html: str, token: str, *words: str) -> str:
    html = html.replace(token, "TOKEN")
    for word in words:
        html = html.replace(word, "WORD")
    return without_csrf(html)


@pytest.mark.parametrize("signed_in_as_stranger", [False, True])
def test_invite_page_is_the_same_with_and_without_an_account(db, auth, patient,
                                                             signed_in_as_stranger):
    factories.user(db, role="caregiver", email="known@example.test", display_name="Known Person")
    stranger = factories.user(db, role="caregiver")
    db.commit()
    auth.login(patient.email)
    known = invite_token(_invite(auth, "known@example.test", name="Known Person").text)
    unknown = invite_token(_invite(auth, "nobody@example.test", name="Nobody Yet").text)
    with another_client() as phone:
        if signed_in_as_stranger:
            Auth(phone).login(stranger.email)
        a = phone.get(f"/invite/{known}")
        b = phone.get(f"/invite/{unknown}")
    assert a.status_code == b.status_code == 200
    assert _normalised(a.text, known, "Known Person", "known@example.test") == _normalised(
        b.text, unknown, "Nobody Yet", "nobody@example.test")
    assert "already an account" not in a.text and "known@example.test" not in a.text


def test_existing_caregiver_accepts_with_their_own_password(db, auth, patient):
    caregiver = factories.user(db, role="caregiver", email="known@example.test")
    db.commit()
    auth.login(patient.email)
    token = invite_token(_invite(auth, "known@example.test", scope="doses").text)
    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        accepted = phone.post(f"/invite/{token}", data={
            "email": "known@example.test", "password": factories.PASSWORD,
            "password_confirm": factories.PASSWORD, "timezone": "UTC",
            "csrf_token": csrf_from(page.text)})
        assert accepted.status_code == 303
        assert phone.get(f"/api/v1/doses?patient_id={patient.id}").status_code == 200
    assert _link_row(db, patient, caregiver).scope == "doses"
    # Still one account, with its own password.
    assert len(db.exec(select(User).where(User.email == "known@example.test")).all()) == 1


def test_the_prescriber_sees_what_each_caregiver_may_see_and_until_when(db, login_as, client):
    prescriber = login_as("prescriber")
    patient = factories.user(db, role="patient")
    sitter = factories.user(db, role="caregiver", display_name="Sam Sitter")
    former = factories.user(db, role="caregiver", display_name="Fay Former")
    factories.link(db, patient, prescriber)
    today = utcnow().date()
    factories.link(db, patient, sitter, scope="doses", ends_on=today + timedelta(days=30))
    factories.link(db, patient, former, scope="checkins", ends_on=today - timedelta(days=3))
    db.commit()
    page = client.get(f"/patients/{patient.id}").text
    # Days in words ("Jan 4, 2027"), not the record's ISO form.
    until, ended = today + timedelta(days=30), today - timedelta(days=3)
    assert f"Sam Sitter (sessions and doses, until {until.strftime('%b %-d, %Y')})" in page
    assert (f"Fay Former (sessions, doses and check-ins, ended {ended.strftime('%b %-d, %Y')})"
            in page)
