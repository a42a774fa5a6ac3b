"""The sitter's session pages: /supporting/{id}/session and its forms, without JavaScript."""

import html
import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.checkins.models import CheckIn
from app.db import utcnow
from app.doses import service as doses
from tests import factories
from tests.conftest import csrf_from


@pytest.fixture
def sitter(login_as):
    return login_as("caregiver", display_name="Alex Sitter")


def supported(db, sitter, scope="supervision", **kwargs):
    _prescriber, patient, _version = factories.patient_with_protocol(db, **kwargs)
    patient.display_name = "Jordan Reyes"
    factories.link(db, patient, sitter, scope=scope)
    db.commit()
    return patient


def log_dose(db, patient, minutes_ago: int = 20):
    now = utcnow()
    dose = doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
        data={"taken_at": (now - timedelta(minutes=minutes_ago)).isoformat(), "dose_mg": "150",
              "route": "sublingual", "no_gate_reason": "Logged later."}, now=now)
    db.commit()
    return dose


def post_form(client, path: str, data: dict):
    page = client.get(path)
    assert page.status_code == 200, page.text
    client_id = page.text.split('name="client_id" value="')[1].split('"')[0]
    return client.post(path, data={"csrf_token": csrf_from(page.text), "client_id": client_id,
                                   **data}, follow_redirects=False)


def test_before_the_dose_the_sitter_co_signs_and_the_page_says_so(db, client, sitter):
    patient = supported(db, sitter)
    base = f"/supporting/{patient.id}/session"
    page = client.get(base).text
    assert "Before the dose" in page and "Co-sign the pre-dose checklist" in page
    response = post_form(client, f"{base}/sitter_check", {
        "sitter_present": "yes", "bp_taken": "yes", "safe_place": "yes", "no_driving": "yes"})
    assert response.status_code == 303 and response.headers["location"].startswith(base)
    page = client.get(response.headers["location"]).text
    assert "Checklist co-signed by Alex Sitter" in page
    # The person's own page links to the session.
    assert base in client.get(f"/supporting/{patient.id}").text


@pytest.mark.parametrize("scope", ["supervision", "doses"])
def test_before_a_dose_the_check_would_hold_the_sitter_reads_why(db, client, sitter, scope):
    """A sitter co-signed with nothing saying the patient's check would hold the dose: a dose
    13 hours ago (48 hours apart) makes one now too soon. A supervision-only sitter reads the
    interval and when a dose is allowed, never an amount."""
    patient = supported(db, sitter, scope=scope)
    log_dose(db, patient, minutes_ago=13 * 60)
    page = html.unescape(client.get(f"/supporting/{patient.id}/session").text)
    assert "Before the dose" in page
    notice = page[page.index("Jordan Reyes's safety check would hold a dose now:"):]
    notice = notice.split("</div>")[0]
    assert "Too soon" in notice
    # The 24-hour maximum names amounts only for a sitter who may see dose history; for the
    # others it is named without them (a retester's sessions-only sitter read nothing of it).
    assert ("Over the 24-hour maximum of 200 mg" in notice) is (scope == "doses")
    assert ("Over 24-hour maximum" in notice) is (scope == "supervision")
    assert (" mg" in notice) is (scope == "doses")
    # Nothing to hold: no notice.
    other = supported(db, sitter, scope=scope)
    assert "would hold a dose now" not in client.get(f"/supporting/{other.id}/session").text


def test_a_checklist_with_a_crisis_reading_gets_the_guidance_and_says_what_was_kept(
        db, client, sitter):
    patient = supported(db, sitter)
    response = post_form(client, f"/supporting/{patient.id}/session/sitter_check", {
        "sitter_present": "yes", "bp_taken": "yes", "safe_place": "yes", "no_driving": "yes",
        "systolic": "190", "diastolic": "125"})
    assert response.status_code == 200
    assert "Call 911" in response.text
    # It was a checklist, not an observation.
    assert "The checklist and the reading are saved." in response.text
    assert "Your observation is saved." not in response.text


def test_a_checklist_with_an_item_not_ticked_comes_back_with_the_error(db, client, sitter):
    patient = supported(db, sitter)
    response = post_form(client, f"/supporting/{patient.id}/session/sitter_check", {
        "sitter_present": "yes", "safe_place": "no", "no_driving": "no"})
    assert response.status_code == 422
    # Each item not answered Yes is marked beside it (one left blank, two answered No), and
    # none of those answered Yes.
    marked = re.findall(r'<p class="field-error" id="(\w+)-error"', response.text)
    assert sorted(marked) == ["bp_taken", "no_driving", "safe_place"], marked
    assert "the checklist is only co-signed when every item is Yes" in response.text
    assert 'value="no" checked' in response.text  # the sitter's answers are kept
    assert db.exec(select(CheckIn)).first() is None


def test_during_the_session_a_timer_prompts_and_what_was_recorded(db, client, sitter):
    patient = supported(db, sitter)
    log_dose(db, patient, minutes_ago=16)
    base = f"/supporting/{patient.id}/session"
    page = client.get(base).text
    assert "Session under way" in page and "data-elapsed-since" in page
    assert "Now: Observation (+15 minutes)" in page
    assert "150 mg" not in page  # supervision scope: no dose amount
    response = post_form(client, f"{base}/observe", {
        "sedation": "1", "dissociation": "6", "nausea": "mild", "breathing": "no",
        "note": "Eyes closed, answers when asked."})
    assert response.status_code == 303
    page = client.get(base).text
    assert "Next: Observation at" in page and "(+30 minutes)" in page
    assert "Alex Sitter" in page and "Eyes closed, answers when asked." in page


def test_the_dose_amount_shows_with_the_dose_history_scope(db, client, sitter):
    patient = supported(db, sitter, scope="doses")
    log_dose(db, patient)
    assert "150 mg" in client.get(f"/supporting/{patient.id}/session").text


@pytest.mark.parametrize("answer", [{"sedation": "3"}, {"breathing": "yes"}])
def test_an_emergency_sign_shows_the_guidance_at_once(db, client, sitter, answer):
    patient = supported(db, sitter)
    log_dose(db, patient)
    response = post_form(client, f"/supporting/{patient.id}/session/observe", answer)
    assert response.status_code == 200
    assert "Call 911 now." in response.text and "recovery position" in response.text
    assert "Your observation is saved." in response.text
    assert "Your last observation was an emergency sign" in client.get(
        f"/supporting/{patient.id}/session").text


@pytest.mark.parametrize("answer,flag", [({"sedation": "3"}, "hard_to_rouse"),
                                         ({"breathing": "yes"}, "breathing_concern")])
def test_an_emergency_sign_before_the_dose_is_logged_is_saved_with_the_guidance(
        db, client, sitter, answer, flag):
    """The patient took the troche and has not logged it yet: the sitter's "hard to rouse" or
    breathing concern is never refused for that."""
    from app.alerts.models import Alert
    from app.checkins.models import SafetyEvent

    patient = supported(db, sitter)
    base = f"/supporting/{patient.id}/session"
    assert "Before the dose" in client.get(base).text
    form = client.get(f"{base}/observe")
    client_id = form.text.split('name="client_id" value="')[1].split('"')[0]
    data = {"csrf_token": csrf_from(form.text), "client_id": client_id, **answer}
    response = client.post(f"{base}/observe", data=data, follow_redirects=False)
    assert response.status_code == 200, response.text
    assert "Call 911 now." in response.text and "recovery position" in response.text
    assert "Your observation is saved." in response.text
    row = db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id)).one()
    assert row.author_id == sitter.id and row.dose_id is None and flag in row.flags
    assert db.exec(select(SafetyEvent).where(SafetyEvent.kind == flag)).one().level == "high"
    assert db.exec(select(Alert).where(Alert.patient_id == patient.id)).one().kind == flag
    # The session page says so, and lists it as waiting for the dose.
    page = client.get(base).text
    assert "Your last observation was an emergency sign" in page
    assert "Recorded before the dose was logged" in page and "Alex Sitter" in page
    # Sent twice (a double tap, Back and Save): the same guidance, nothing written twice.
    again = client.post(f"{base}/observe", data=data, follow_redirects=False)
    assert again.status_code == 200 and "Call 911 now." in again.text
    db.expire_all()
    assert len(db.exec(select(CheckIn)).all()) == 1
    assert len(db.exec(select(SafetyEvent)).all()) == 1
    assert len(db.exec(select(Alert)).all()) == 1


def test_before_the_dose_the_form_says_what_happens_to_an_observation_and_it_does(db, client,
                                                                                 sitter):
    patient = supported(db, sitter)
    base = f"/supporting/{patient.id}/session"
    form = client.get(f"{base}/observe").text
    assert "What you record is saved now, with the time, and joins the session once the dose " \
           "is logged, if you recorded it after the dose was taken." in form
    response = post_form(client, f"{base}/observe", {"sedation": "1", "dissociation": "4",
                                                       "note": "Eyes closed, chatting."})
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"]).text
    assert "Saved." in page and "Recorded before the dose was logged" in page
    assert "Eyes closed, chatting." in page
    row = db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id)).one()
    assert row.dose_id is None
    # The patient logs the dose they took two minutes before the observation (their phone,
    # through the one write path): the observation joins its session, as the page said.
    from app.sync import service as sync

    now = utcnow()
    logged = sync.apply_form(db, user=patient, client_id=str(uuid.uuid4()), kind="dose",
                             data={"taken_at": (row.recorded_at - timedelta(minutes=2))
                                   .isoformat(), "dose_mg": "150", "route": "sublingual",
                                   "no_gate_reason": "Logged later."}, now=now)
    db.commit()
    assert logged["status"] == "created", logged
    db.expire_all()
    assert str(db.get(CheckIn, row.id).dose_id) == logged["id"]
    page = client.get(base).text
    assert "Session under way" in page and "Eyes closed, chatting." in page
    assert "Recorded before the dose was logged" not in page


@pytest.mark.parametrize("language,minutes,words", [
    ("en", 1, "1 minute since the dose"), ("en", 2, "2 minutes since the dose"),
    ("es", 1, "1 minuto desde la dosis"), ("es", 5, "5 minutos desde la dosis")])
def test_the_session_timer_says_minute_or_minutes(db, client, sitter, language, minutes, words):
    sitter.language = language
    db.add(sitter)
    patient = supported(db, sitter)
    dose = log_dose(db, patient, minutes_ago=minutes)
    db.expire_all()
    page = client.get(f"/supporting/{patient.id}/session").text
    assert f'aria-live="off">{words}</span>' in page
    assert "1 minutes" not in page and "1 minutos" not in page
    # Both forms for the page's script, which counts on from the dose's time.
    one, other = {"en": ("{m} minute since the dose", "{m} minutes since the dose"),
                  "es": ("{m} minuto desde la dosis", "{m} minutos desde la dosis")}[language]
    assert f'data-text-elapsed-one="{one}"' in page
    assert f'data-text-elapsed-other="{other}"' in page
    assert dose.taken_at.isoformat() in page


def test_ready_to_be_alone_too_early_comes_back_with_the_reason(db, client, sitter):
    patient = supported(db, sitter)
    log_dose(db, patient, minutes_ago=117)  # the end is open; the observation is not over
    response = post_form(client, f"/supporting/{patient.id}/session/end", {
        "systolic": "120", "diastolic": "80", "sedation": "0", "ready_alone": "yes",
        "note": "All fine."})
    assert response.status_code == 422
    assert "Ready to be alone can be recorded from" in response.text
    assert "All fine." in response.text
    # The sitter's form speaks of the patient; the patient's own speaks to them.
    assert "<legend>Sedation (sitter's observation)</legend>" in response.text
    assert "they respond normally and their blood pressure" in response.text


def test_ready_to_be_alone_ends_the_session_and_joins_the_record(db, client, sitter, auth):
    patient = supported(db, sitter, observation_minutes=60)
    dose = log_dose(db, patient, minutes_ago=65)
    base = f"/supporting/{patient.id}/session"
    response = post_form(client, f"{base}/end", {
        "systolic": "124", "diastolic": "80", "sedation": "0", "ready_alone": "yes",
        "note": "Calm throughout; ate a snack."})
    assert response.status_code == 303, response.text
    assert "Ready to be alone at" in client.get(base).text
    row = db.exec(select(CheckIn).where(CheckIn.dose_id == dose.id)).one()
    assert row.author_id == sitter.id and row.values["ready_alone"] is True
    # The summary joins the patient's session record, with who recorded it.
    auth.logout()
    auth.login(patient.email)
    history = client.get("/doses").text
    assert "Calm throughout; ate a snack." in history and "recorded by Alex Sitter" in history


def test_the_session_record_names_the_sitter_and_lists_the_observations(db, client, sitter,
                                                                       auth):
    patient = supported(db, sitter)
    base = f"/supporting/{patient.id}/session"
    post_form(client, f"{base}/sitter_check", {
        "sitter_present": "yes", "bp_taken": "yes", "safe_place": "yes", "no_driving": "yes"})
    now = utcnow()
    gate = doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                             data=factories.gate_data(), now=now)
    doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
                      data={"taken_at": now.isoformat(), "dose_mg": "150",
                            "route": "sublingual", "gate_id": str(gate.id)}, now=now)
    db.commit()
    post_form(client, f"{base}/observe", {"sedation": "2", "dissociation": "7"})
    auth.logout()
    auth.login(patient.email)
    history = client.get("/doses").text
    assert "confirmed by Alex Sitter" in history
    assert "Sitter&#39;s observations" in history or "Sitter's observations" in history
    assert "Responds only when you say their name loudly" in history


@pytest.mark.parametrize("who", ["stranger_caregiver", "patient", "prescriber", "removed"])
def test_anyone_else_gets_404_with_nothing_about_the_patient(db, client, login_as, auth, who):
    sitter = factories.user(db, role="caregiver")
    patient = supported(db, sitter)
    if who == "removed":
        from app.careteam import service as careteam
        from app.careteam.models import CareLink

        link = db.exec(select(CareLink).where(CareLink.member_id == sitter.id)).one()
        careteam.remove_caregiver(db, patient=patient, link_id=link.id, now=utcnow())
        db.commit()
        auth.login(sitter.email)
    elif who == "patient":
        auth.login(patient.email)
    else:
        login_as("caregiver" if who == "stranger_caregiver" else "prescriber")
    for path in ("", "/observe", "/sitter_check"):
        response = client.get(f"/supporting/{patient.id}/session{path}")
        assert response.status_code == 404
        assert "Jordan" not in response.text
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post(f"/supporting/{patient.id}/session/observe",
                           data={"csrf_token": token, "client_id": str(uuid.uuid4()),
                                 "sedation": "0"})
    assert response.status_code == 404
    assert db.exec(select(CheckIn)).first() is None


def test_the_patient_cannot_open_the_sitters_slots_as_their_own_checkins(db, client, login_as):
    login_as("patient")
    assert client.get("/checkins/observe").status_code == 404
    assert client.get("/checkins/sitter_check").status_code == 404


@pytest.mark.parametrize("scope", ["supervision", "doses"])
def test_a_dose_taken_against_a_hold_says_so_on_the_sitters_pages(db, client, sitter, scope):
    """The sitter's home and session page read "Dose taken today at 12:35 AM" and "Session
    under way" under a green "Taken", as if all was well, for a dose taken seven minutes after
    another against the hold (a tester). Said without the hold's reasons or an amount."""
    patient = supported(db, sitter, scope=scope)
    log_dose(db, patient, minutes_ago=30)
    now = utcnow()
    doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now, data={
        "taken_at": (now - timedelta(minutes=20)).isoformat(), "dose_mg": "150",
        "route": "sublingual", "no_gate_reason": "At home.", "already_taken": True,
        "override_reason": "Took a second one by mistake."}, now=now)
    db.commit()
    session_page = html.unescape(client.get(f"/supporting/{patient.id}/session").text)
    assert ("Jordan Reyes recorded this dose as taken against a hold; their prescriber has been "
            "told.") in session_page
    home = html.unescape(client.get("/supporting").text)
    assert "Recorded as taken against a hold; the prescriber has been told." in home
    for page in (session_page, home):
        assert "Took a second one by mistake" not in page and "Too soon" not in page

    # A dose within the plan: nothing of the kind.
    other = supported(db, sitter, scope=scope)
    log_dose(db, other, minutes_ago=30)
    assert "against a hold" not in client.get(f"/supporting/{other.id}/session").text


def test_a_session_from_before_midnight_names_its_day(db, client, sitter):
    """Shortly after midnight the page held last evening's session as "Dose taken at 9:37 PM",
    beside an overview saying no dose was logged today (a tester): the time names its day."""
    from zoneinfo import ZoneInfo

    now = utcnow()
    # A zone where it is now between 2 and 5 in the morning: a dose 5 hours ago was yesterday.
    zone = next(z for z in (f"Etc/GMT{'+' if h < 0 else '-'}{abs(h)}" for h in range(-12, 15))
                if 2 <= now.astimezone(ZoneInfo(z)).hour < 5)
    sitter.timezone = zone
    db.add(sitter)
    patient = supported(db, sitter, timezone=zone)
    dose = log_dose(db, patient, minutes_ago=5 * 60)
    page = html.unescape(client.get(f"/supporting/{patient.id}/session").text)
    taken = dose.taken_at.astimezone(ZoneInfo(zone))
    assert f"Dose taken {taken.strftime('%a')} {taken.strftime('%-I:%M %p')}." in page
    assert "Dose taken at" not in page
