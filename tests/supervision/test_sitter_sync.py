"""The sitter's writes through POST /api/v1/sync: kind `sitter_checkin`, from the caregiver's
own account, for a patient named in the data; checked against the link on every item."""

import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.checkins.models import CheckIn, SafetyEvent
from app.db import utcnow
from app.doses import service as doses
from app.sync.models import ClientWrite
from tests import factories

CHECKLIST = {"sitter_present": True, "bp_taken": True, "safe_place": True, "no_driving": True}


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def send(client, kind: str, data: dict, *, item_id=None, recorded_at=None) -> dict:
    response = factories.sync_post(client, factories.sync_item(kind, data, item_id=item_id,
                                                               recorded_at=recorded_at))
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return result


@pytest.fixture
def sitter(login_as):
    return login_as("caregiver", display_name="Alex Sitter")


@pytest.fixture
def patient(db, sitter):
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    factories.link(db, patient, sitter)
    db.commit()
    return patient


def log_dose(db, patient, minutes_ago: int = 20):
    now = utcnow()
    dose = doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
        data={"taken_at": (now - timedelta(minutes=minutes_ago)).isoformat(), "dose_mg": "100",
              "route": "sublingual", "no_gate_reason": "Logged later."}, now=now)
    db.commit()
    return dose


@pytest.mark.parametrize("scope", ["supervision", "doses", "checkins"])
def test_a_sitter_with_any_scope_co_signs_the_checklist(db, client, sitter, scope):
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    factories.link(db, patient, sitter, scope=scope)
    db.commit()
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id),
                                             "slot": "sitter_check", "values": CHECKLIST})
    assert result["status"] == "created", result
    row = db.get(CheckIn, uuid.UUID(result["id"]))
    assert row.patient_id == patient.id and row.author_id == sitter.id
    assert row.slot == "sitter_check" and row.dose_id is None
    write = db.get(ClientWrite, row.id)
    assert write.patient_id == patient.id and write.author_id == sitter.id


def test_the_checklist_is_co_signed_only_with_every_item_ticked(db, client, patient):
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id),
                                             "slot": "sitter_check",
                                             "values": {**CHECKLIST, "no_driving": False}})
    assert result["status"] == "rejected"
    assert "no_driving" in result["errors"]
    assert count(db, CheckIn) == 0


def test_the_patients_gate_shows_the_sitter_confirmed(db, client, patient, sitter, auth):
    signed = send(client, "sitter_checkin", {"patient_id": str(patient.id),
                                             "slot": "sitter_check", "values": CHECKLIST})
    now = utcnow()
    gate = doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                             data=factories.gate_data(), now=now)
    db.commit()
    assert gate.sitter_check_id == uuid.UUID(signed["id"])
    # The patient's Today says so, with the sitter's name.
    auth.logout()
    auth.login(patient.email)
    page = client.get("/today").text
    assert "Sitter confirmed" in page and "Alex Sitter" in page


def test_a_check_held_for_no_sitter_never_reads_sitter_confirmed(db, client, patient, sitter):
    """The sitter co-signed at 8:13; at 8:14 the patient's check did not tick "sitter present"
    and was held for it. The prescriber's timeline showed "HOLD … Sitter confirmed" beside "no
    sitter was confirmed", and the dose's session record "confirmed by Alex"."""
    from app.checkins import service as checkins

    send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "sitter_check",
                                    "values": CHECKLIST})
    now = utcnow()
    checklist = {**factories.CHECKLIST_ALL_YES, "sitter_present": False}
    held = doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                             data=factories.gate_data(checklist=checklist), now=now)
    passed = doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                               data=factories.gate_data(), now=now)
    assert held.verdict == "hold" and held.sitter_check_id is not None
    assert not held.sitter_confirmed and passed.sitter_confirmed
    dose = doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now, data={
        "taken_at": now.isoformat(), "dose_mg": "100", "route": "sublingual",
        "gate_id": str(held.id), "already_taken": True,
        "override_reason": "My sitter was in the next room."}, now=now)
    db.commit()
    record = checkins.session_record(db, dose)
    assert record.sitter_confirmed_by is None and record.sitter_present is False


def test_a_removed_sitters_checklist_no_longer_confirms_a_check(db, client, patient, sitter):
    """A security tester's sitter co-signed, the patient removed them, and the patient's next
    check read "Sitter confirmed – Alex … co-signed the checklist" on Today and in the record."""
    from sqlalchemy import update

    from app.careteam.models import CareLink

    send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "sitter_check",
                                    "values": CHECKLIST})
    db.exec(update(CareLink).where(CareLink.member_id == sitter.id)
            .values(revoked_at=utcnow()))
    db.commit()
    now = utcnow()
    gate = doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                             data=factories.gate_data(), now=now)
    db.commit()
    assert gate.sitter_check_id is None and not gate.sitter_confirmed


def test_a_checklist_older_than_two_hours_does_not_count(db, client, patient):
    send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "sitter_check",
                                    "values": CHECKLIST},
         recorded_at=utcnow() - timedelta(hours=2, minutes=5))
    now = utcnow()
    gate = doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                             data=factories.gate_data(), now=now)
    assert gate.sitter_check_id is None


def test_an_observation_joins_the_dose_given_or_the_session_it_falls_in(db, client, patient):
    dose = log_dose(db, patient)
    given = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "observe", "dose_id": str(dose.id),
        "values": {"sedation": 1, "dissociation": 6, "nausea": "mild", "breathing": False,
                   "note": "Quiet, eyes closed, answers when asked."}})
    # Offline, before the dose reached the sitter's phone: no dose id; it joins that session.
    matched = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "observe", "values": {"sedation": 0}})
    assert given["status"] == matched["status"] == "created"
    assert given["dose_id"] == matched["dose_id"] == str(dose.id)
    assert db.get(CheckIn, uuid.UUID(matched["id"])).author_id != patient.id


def test_an_entry_naming_an_old_dose_joins_the_session_its_time_falls_in(db, client, patient):
    """A sitter's form or queued entry naming a dose from weeks ago (a page kept open, an id
    typed in) was joined to it: the patient's History showed tonight's observation and "ready
    to be alone" at "+56189 min" inside that old session, and the ready-alone rule, measured
    from the old dose, let it through."""
    old = log_dose(db, patient, minutes_ago=60 * 24 * 20)
    with_no_session = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "observe", "dose_id": str(old.id),
        "values": {"sedation": 1, "note": "Resting."}})
    assert with_no_session["status"] == "created" and with_no_session["dose_id"] is None
    ready = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "end", "dose_id": str(old.id),
        "values": {"systolic": 120, "diastolic": 80, "ready_alone": True}})
    assert ready["status"] == "rejected" and "ready_alone" in ready["errors"]
    db.expire_all()
    assert db.exec(select(CheckIn).where(CheckIn.dose_id == old.id)).all() == []

    # With a session running, the entry joins it, not the dose its page named.
    current = log_dose(db, patient, minutes_ago=10)
    joined = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "observe", "dose_id": str(old.id),
        "values": {"sedation": 0}})
    assert joined["dose_id"] == str(current.id)


def test_a_patients_session_entry_for_a_dose_days_old_is_refused(db, client, login_as):
    """The patient's own +40 minute check or end of session for a dose 20 days old: refused in
    words (History no longer offers it), never a reading of now filed in that session."""
    from tests.conftest import Auth

    _prescriber, patient, _version = factories.patient_with_protocol(db)
    db.commit()
    old = log_dose(db, patient, minutes_ago=60 * 24 * 20)
    recent = log_dose(db, patient, minutes_ago=117)  # its end of session open (from 115)
    Auth(client).login(patient.email)
    refused = send(client, "checkin", {"slot": "plus40", "dose_id": str(old.id),
                                       "values": {"systolic": 120, "diastolic": 80}})
    assert refused["status"] == "rejected"
    assert "That session is over" in refused["errors"]["dose_id"]
    kept = send(client, "checkin", {"slot": "plus40", "dose_id": str(recent.id),
                                    "values": {"systolic": 120, "diastolic": 80}})
    assert kept["status"] == "created"
    assert count(db, CheckIn) == 1

    history = client.get("/doses").text
    assert f"/checkins/end?dose={recent.id}" in history
    assert f"/checkins/plus40?dose={old.id}" not in history
    assert f"/checkins/end?dose={old.id}" not in history


# --- before the dose is logged: the patient took it and has not logged it yet ---------------


def _as_patient_log_dose(client, patient, *, taken_at, item_id=None) -> dict:
    """The patient's phone sends the dose through the one write path (their own sign-in)."""
    from tests.conftest import Auth

    client.cookies.clear()
    Auth(client).login(patient.email)
    return send(client, "dose", {"taken_at": taken_at.isoformat(), "dose_mg": "100",
                                 "route": "sublingual", "no_gate_reason": "Logged later."},
                item_id=item_id)


@pytest.mark.parametrize("values,flag", [({"sedation": 3}, "hard_to_rouse"),
                                         ({"breathing": True}, "breathing_concern")])
def test_an_emergency_sign_with_no_dose_logged_is_saved_and_alerts_the_care_team(
        db, client, patient, sitter, values, flag):
    from app.alerts import service as alerts
    from app.alerts.models import Alert

    other = factories.user(db, role="caregiver", display_name="Kim Other")
    factories.link(db, patient, other)
    _accepts_alerts(db, patient, other)
    item = factories.sync_item("sitter_checkin", {"patient_id": str(patient.id),
                                                  "slot": "observe", "values": values})
    (result,) = factories.sync_post(client, item).json()["results"]
    assert result["status"] == "created", result
    assert flag in result["flags"] and result["dose_id"] is None
    row = db.get(CheckIn, uuid.UUID(result["id"]))
    assert row.author_id == sitter.id and row.dose_id is None and row.values == values
    # The same safety event and alert as after a dose: the prescriber first, then the other
    # caregiver (never the sitter who saw it).
    event = db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == patient.id)).one()
    assert (event.kind, event.level, event.source_id) == (flag, "high", row.id)
    alert = db.exec(select(Alert).where(Alert.patient_id == patient.id)).one()
    assert alert.kind == flag
    told = [u.id for u in alerts.contacts(db, alert)]
    assert other.id in told and sitter.id not in told
    assert any(u.role == "prescriber" for u in alerts.contacts(db, alert))
    # The phone sends it again (no answer reached it): nothing is written twice.
    (again,) = factories.sync_post(client, item).json()["results"]
    assert again["status"] == "duplicate" and again["flags"] == result["flags"]
    assert (count(db, CheckIn), count(db, SafetyEvent), count(db, Alert),
            count(db, ClientWrite)) == (1, 1, 1, 1)


def test_an_observation_with_no_dose_logged_waits_and_joins_the_dose_when_logged(
        db, client, patient):
    now = utcnow()
    # Before the troche (not part of the session), then two after it: none logged yet.
    before = send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                             "values": {"sedation": 0}},
                  recorded_at=now - timedelta(minutes=40))
    during = [send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                              "values": {"sedation": 1, "dissociation": 5}},
                   recorded_at=now - timedelta(minutes=minutes)) for minutes in (17, 2)]
    assert {r["status"] for r in (before, *during)} == {"created"}
    assert {r["dose_id"] for r in (before, *during)} == {None}
    # The patient logs the dose they took 20 minutes ago.
    dose = _as_patient_log_dose(client, patient, taken_at=now - timedelta(minutes=20))
    assert dose["status"] == "created", dose
    db.expire_all()
    assert [str(db.get(CheckIn, uuid.UUID(r["id"])).dose_id) for r in during] == [dose["id"]] * 2
    assert db.get(CheckIn, uuid.UUID(before["id"])).dose_id is None
    # The session record has them as the sitter's observations, at their times.
    from app.checkins import service as checkins
    from app.doses.models import Dose

    record = checkins.session_record(db, db.get(Dose, uuid.UUID(dose["id"])))
    assert [o.minutes_after_dose for o in record.observations] == [3, 18]


def test_a_corrected_dose_time_takes_in_the_observations_it_now_covers(db, client, patient):
    now = utcnow()
    waiting = send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                              "values": {"sedation": 1}},
                   recorded_at=now - timedelta(minutes=25))
    # Logged "now", then corrected to when it was really taken.
    dose = _as_patient_log_dose(client, patient, taken_at=now - timedelta(minutes=1))
    db.expire_all()
    assert db.get(CheckIn, uuid.UUID(waiting["id"])).dose_id is None
    fixed = send(client, "dose_revision", {
        "dose_id": dose["id"], "reason": "Took it half an hour ago.",
        "changes": {"taken_at": (now - timedelta(minutes=30)).isoformat()}})
    assert fixed["status"] == "created", fixed
    db.expire_all()
    assert str(db.get(CheckIn, uuid.UUID(waiting["id"])).dose_id) == dose["id"]


def test_ready_to_be_alone_with_no_dose_logged_is_refused_and_says_why(db, client, patient):
    result = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "end",
        "values": {"systolic": 120, "diastolic": 80, "sedation": 0, "ready_alone": True}})
    assert result["status"] == "rejected"
    assert "No dose is logged yet" in result["errors"]["ready_alone"]
    assert count(db, CheckIn) == 0


@pytest.mark.parametrize("values,flag", [({"sedation": 3}, "hard_to_rouse"),
                                         ({"breathing": True}, "breathing_concern")])
def test_an_emergency_sign_raises_a_safety_event(db, client, patient, values, flag):
    log_dose(db, patient)
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                             "values": values})
    assert result["status"] == "created" and flag in result["flags"]
    event = db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == patient.id)).one()
    assert event.kind == flag and event.level == "high"


def test_the_sitter_records_the_plus40_recheck(db, client, patient):
    dose = log_dose(db, patient, minutes_ago=41)
    result = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "plus40", "dose_id": str(dose.id),
        "values": {"systolic": 138, "diastolic": 86, "heart_rate": 80}})
    assert result["status"] == "created", result
    assert db.get(CheckIn, uuid.UUID(result["id"])).slot == "plus40"


def test_ready_to_be_alone_is_refused_before_the_observation_time(db, client, patient):
    dose = log_dose(db, patient, minutes_ago=117)  # the end is open; the observation is not over
    result = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "end", "dose_id": str(dose.id),
        "values": {"systolic": 120, "diastolic": 80, "sedation": 0, "ready_alone": True}})
    assert result["status"] == "rejected"
    assert "ready_alone" in result["errors"]


def test_the_sitters_end_of_session_waits_for_the_observation_time(db, client, patient):
    dose = log_dose(db, patient, minutes_ago=30)
    # Its form says so before anything is typed, as the +40 recheck's does until it opens.
    page = client.get(f"/supporting/{patient.id}/session/end").text
    assert "The end-of-session check-in opens at" in page
    assert "The +40 minute recheck opens at" in client.get(
        f"/supporting/{patient.id}/session/plus40").text
    assert "opens at" not in client.get(f"/supporting/{patient.id}/session/observe").text
    result = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "end", "dose_id": str(dose.id),
        "values": {"systolic": 120, "diastolic": 80, "sedation": 0}})
    assert result["status"] == "rejected"
    assert "The end-of-session check-in opens at" in result["detail"]
    assert count(db, CheckIn) == 0


def test_a_sitter_records_only_what_their_slot_asks(db, client, patient):
    log_dose(db, patient)
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                             "values": {"mood": 3}})
    assert result["status"] == "rejected" and "mood" in result["errors"]
    daily = send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "daily",
                                            "values": {"mood": 3}})
    assert daily["status"] == "rejected"
    assert count(db, CheckIn) == 0


def test_the_patient_cannot_write_as_a_sitter(db, client, login_as):
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    db.commit()
    client.cookies.clear()
    from tests.conftest import Auth

    Auth(client).login(patient.email)
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id),
                                             "slot": "sitter_check", "values": CHECKLIST})
    assert result["status"] == "rejected" and result["code"] == "not_yours"
    own = send(client, "checkin", {"slot": "sitter_check", "values": CHECKLIST})
    assert own["status"] == "rejected"
    assert count(db, CheckIn) == 0


# --- the link is checked on every item: removal, an end date, never linked ------------------


def _remove(db, patient, sitter):
    from app.careteam import service as careteam
    from app.careteam.models import CareLink

    link = db.exec(select(CareLink).where(CareLink.member_id == sitter.id)).one()
    careteam.remove_caregiver(db, patient=patient, link_id=link.id, now=utcnow())
    db.commit()


NOT_SUPPORTING = "you are no longer a sitter for this person"


def test_a_removed_sitters_queued_entries_are_rejected_with_the_reason(db, client, patient,
                                                                      sitter):
    dose = log_dose(db, patient)
    # Written on the phone while linked, sent after the patient removed them.
    queued = factories.sync_item("sitter_checkin", {
        "patient_id": str(patient.id), "slot": "observe", "dose_id": str(dose.id),
        "values": {"sedation": 0}}, recorded_at=utcnow() - timedelta(minutes=5))
    _remove(db, patient, sitter)
    (result,) = factories.sync_post(client, queued).json()["results"]
    assert result["status"] == "rejected" and result["code"] == "not_supporting"
    assert NOT_SUPPORTING in result["detail"]
    assert count(db, CheckIn) == 0


def test_an_ended_link_rejects_queued_entries_too(db, client, patient, sitter):
    from app.careteam.models import CareLink

    link = db.exec(select(CareLink).where(CareLink.member_id == sitter.id)).one()
    link.ends_on = date.today() - timedelta(days=2)
    db.add(link)
    db.commit()
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id),
                                             "slot": "sitter_check", "values": CHECKLIST})
    assert result["code"] == "not_supporting"


@pytest.mark.parametrize("who", ["stranger", "nobody", "not_a_uuid", "missing"])
def test_someone_not_supported_gets_the_same_answer(db, client, sitter, who):
    stranger = factories.user(db, role="patient", display_name="Pat Stranger")
    db.commit()
    data = {"slot": "sitter_check", "values": CHECKLIST}
    if who != "missing":
        data["patient_id"] = {"stranger": str(stranger.id), "nobody": str(uuid.uuid4()),
                              "not_a_uuid": "someone"}[who]
    result = send(client, "sitter_checkin", data)
    assert result["status"] == "rejected"
    assert "Pat Stranger" not in str(result)
    if who in ("stranger", "nobody"):
        assert result["code"] == "not_supporting"
    assert count(db, CheckIn) == 0


def test_a_replay_after_removal_stays_a_duplicate(db, client, patient, sitter):
    item = factories.sync_item("sitter_checkin", {"patient_id": str(patient.id),
                                                  "slot": "sitter_check", "values": CHECKLIST})
    (first,) = factories.sync_post(client, item).json()["results"]
    _remove(db, patient, sitter)
    (again,) = factories.sync_post(client, item).json()["results"]
    assert first["status"] == "created" and again["status"] == "duplicate"
    assert count(db, CheckIn) == 1


def _accepts_alerts(db, patient, caregiver):
    from app.careteam.models import CareLink

    link = db.exec(select(CareLink).where(CareLink.member_id == caregiver.id,
                                          CareLink.patient_id == patient.id)).one()
    link.receives_alerts = True
    db.add(link)
    db.commit()


def test_the_sitter_who_recorded_a_severe_side_effect_is_not_paged_about_it(db, client,
                                                                            patient, sitter):
    from app.alerts import service as alerts
    from app.alerts.models import Alert

    other = factories.user(db, role="caregiver", display_name="Kim Other")
    factories.link(db, patient, other)
    _accepts_alerts(db, patient, sitter)
    _accepts_alerts(db, patient, other)
    log_dose(db, patient)
    result = send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                             "values": {"vomiting": "severe"}})
    assert "severe_side_effect" in result["flags"]
    alert = db.exec(select(Alert).where(Alert.patient_id == patient.id)).one()
    assert [u.id for u in alerts.contacts(db, alert)] == [other.id]


def test_with_only_the_reporting_sitter_to_tell_no_caregiver_alert_is_raised(db, client,
                                                                             patient, sitter):
    from app.alerts.models import Alert

    _accepts_alerts(db, patient, sitter)
    log_dose(db, patient)
    send(client, "sitter_checkin", {"patient_id": str(patient.id), "slot": "observe",
                                    "values": {"nausea": "severe"}})
    assert db.exec(select(Alert).where(Alert.patient_id == patient.id)).first() is None
    # The record still has it.
    assert db.exec(select(SafetyEvent).where(SafetyEvent.kind == "severe_side_effect")).one()


def _apart(db, patient, sitter):
    patient.timezone, sitter.timezone = "America/Los_Angeles", "America/New_York"
    db.add_all([patient, sitter])
    db.commit()


def _times(at):
    from app.web.formats import format_datetime
    return (format_datetime(at.astimezone(ZoneInfo("America/New_York")), "time"),
            format_datetime(at.astimezone(ZoneInfo("America/Los_Angeles")), "time"))


def test_a_refusal_gives_the_sitters_times_in_the_sitters_zone(db, client, sitter, patient):
    """Alex in New York supports a patient in Los Angeles: the form said the recheck opens at
    7:58 PM (his time) and the refusal said 4:58 PM (hers), already past for him."""
    _apart(db, patient, sitter)
    dose = log_dose(db, patient, minutes_ago=5)
    his, hers = _times(dose.taken_at + timedelta(minutes=35))
    assert f"opens at {his}" in client.get(f"/supporting/{patient.id}/session/plus40").text
    result = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "plus40", "dose_id": str(dose.id),
        "values": {"systolic": 130, "diastolic": 84, "heart_rate": 75}})
    assert result["status"] == "rejected"
    assert f"opens at {his}" in result["detail"] and hers not in result["detail"]


def test_ready_to_be_alone_refused_gives_the_sitters_time(db, client, sitter, patient):
    _apart(db, patient, sitter)
    dose = log_dose(db, patient, minutes_ago=117)  # the end is open; the observation is not over
    his, hers = _times(dose.taken_at + timedelta(minutes=120))
    result = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "end", "dose_id": str(dose.id),
        "values": {"systolic": 120, "diastolic": 80, "sedation": 0, "ready_alone": True}})
    assert result["status"] == "rejected"
    words = result["errors"]["ready_alone"]
    assert his in words and hers not in words, words


def test_the_sitters_page_says_when_the_patients_check_held(db, client, sitter, patient):
    """The sitter co-signed; the patient's check then held at 166/104. The sitter's page still
    read "Checklist co-signed … will show 'sitter confirmed'" with nothing about the hold."""
    assert send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "sitter_check",
        "values": dict.fromkeys(
            ("sitter_present", "bp_taken", "safe_place", "no_driving"), True)})[
        "status"] == "created"
    page = client.get(f"/supporting/{patient.id}/session").text
    assert "Checklist co-signed by Alex Sitter" in page and "held:" not in page
    now = utcnow()
    doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                      data=factories.gate_data(systolic=166, diastolic=104), now=now)
    db.commit()
    page = client.get(f"/supporting/{patient.id}/session").text
    assert "safety check at" in page
    assert "held: Blood pressure hold. No dose until a new check passes." in page


def test_a_sitters_reading_at_the_hold_level_is_marked_and_said(db, client, sitter, patient):
    """Co-signed at 172/108 under a 160/100 hold: stored and never shown; the sitter read
    "Checklist co-signed", all clear, and the prescriber's timeline had nothing beside it."""
    checklist = dict.fromkeys(("sitter_present", "bp_taken", "safe_place", "no_driving"), True)
    high = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "sitter_check",
        "values": {**checklist, "systolic": 172, "diastolic": 108, "heart_rate": 80}})
    assert high["status"] == "created" and high["flags"] == ["bp_hold"]
    page = client.get(f"/supporting/{patient.id}/session").text
    assert "with blood pressure 172/108, at or above" in page
    assert "will show “sitter confirmed”" not in page
    # Measured again, below it: an all-clear again.
    low = send(client, "sitter_checkin", {
        "patient_id": str(patient.id), "slot": "sitter_check",
        "values": {**checklist, "systolic": 138, "diastolic": 86, "heart_rate": 76}})
    assert low["flags"] == []
    assert "will show “sitter confirmed”" in client.get(
        f"/supporting/{patient.id}/session").text
