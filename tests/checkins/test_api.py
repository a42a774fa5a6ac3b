"""Check-ins and questionnaires through the API: POST /api/v1/sync kinds `checkin` and
`questionnaire`, and the read endpoints GET /api/v1/checkins and /api/v1/questionnaires."""

import uuid
from datetime import timedelta

import pytest
from sqlmodel import func, select

from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.db import utcnow
from app.doses import service as doses
from app.sync.models import ClientWrite
from tests import factories
from tests.conftest import Auth
from tests.helpers import another_client


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def item(kind: str, data: dict, *, item_id=None, recorded_at=None) -> dict:
    return {"id": str(item_id or uuid.uuid4()), "kind": kind,
            "recorded_at": (recorded_at or utcnow()).isoformat(), "data": data}


def sync(client, *items: dict) -> list[dict]:
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post("/api/v1/sync", json={"items": list(items)},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def one(client, kind: str, data: dict, **kwargs) -> dict:
    (result,) = sync(client, item(kind, data, **kwargs))
    return result


def dose_for(db, patient, minutes_ago: int = 40):
    """A dose logged by `patient` `minutes_ago` (its +40 minute recheck open), under a fresh
    protocol."""
    prescriber = factories.user(db, role="prescriber")
    factories.protocol(db, prescriber, patient)
    now = utcnow()
    dose = doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
        data={"taken_at": (now - timedelta(minutes=minutes_ago)).isoformat(), "dose_mg": "100",
              "route": "sublingual", "no_gate_reason": "Logged later."},
        now=now)
    db.commit()
    return dose


def test_a_timed_entry_made_too_early_is_refused_with_when_it_opens(client, db, patient):
    """A journey tester's +40 minute recheck, entered a minute after the dose, was saved as the
    recheck ("+40 recheck: Done", its reminder gone), and a next-morning check-in three minutes
    after the dose was filed as the next morning's."""
    from zoneinfo import ZoneInfo

    dose = dose_for(db, patient, minutes_ago=36)
    zone = ZoneInfo(patient.timezone)
    a_minute_after = dose.taken_at + timedelta(minutes=1)  # made then, sent now
    opens = (dose.taken_at + timedelta(minutes=35)).astimezone(zone)
    early = one(client, "checkin", {"dose_id": str(dose.id), "slot": "plus40",
                                    "values": {"systolic": 132, "diastolic": 84}},
                recorded_at=a_minute_after)
    assert early["status"] == "rejected"
    assert early["errors"]["dose_id"] == (
        f"The +40 minute recheck opens at {opens:%-I:%M %p}, 35 minutes after the dose.")
    morning = (dose.taken_at.astimezone(zone) + timedelta(days=1)).replace(
        hour=4, minute=0, second=0, microsecond=0)
    too_soon = one(client, "checkin", {"dose_id": str(dose.id), "slot": "next_morning",
                                       "values": {"slept": True, "mood": 6}})
    assert too_soon["status"] == "rejected"
    assert too_soon["errors"]["dose_id"] == (
        f"The next-morning check-in opens at {morning:%a %-I:%M %p}.")
    assert count(db, CheckIn) == 0
    # Now, 36 minutes after the dose: the recheck.
    on_time = one(client, "checkin", {"dose_id": str(dose.id), "slot": "plus40",
                                      "values": {"systolic": 132, "diastolic": 84}})
    assert on_time["status"] == "created", on_time


@pytest.fixture
def patient(login_as):
    return login_as("patient")


# --- kind: checkin ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"mood": 0},
        {"mood": 10, "note": "Good day."},
        {"note": "Only a note."},
        {"systolic": 128, "diastolic": 84},
        {"heart_rate": 70},
        {"dissociation": 5, "sedation": 0, "nausea": "none"},
        {"sedation": 2, "nausea": "moderate", "vomiting": "mild", "dizziness": "mild",
         "headache": "none", "anxiety": "mild", "other": "none"},
    ],
)
def test_a_checkin_with_any_subset_of_values_is_created(client, db, patient, values):
    result = one(client, "checkin", {"slot": "daily", "values": values})
    assert result["status"] == "created", result
    assert result["flags"] == []
    row = db.get(CheckIn, uuid.UUID(result["id"]))
    assert row.values == values and row.slot == "daily" and row.patient_id == patient.id


def test_a_session_checkin_for_the_patients_dose_is_created(client, db, patient):
    dose = dose_for(db, patient)
    values = {"systolic": 142, "diastolic": 90, "heart_rate": 88, "dissociation": 6,
              "sedation": 1, "nausea": "mild", "note": "Sitter: talking normally."}
    result = one(client, "checkin", {"dose_id": str(dose.id), "slot": "plus40",
                                     "values": values})
    assert result["status"] == "created", result
    assert db.get(CheckIn, uuid.UUID(result["id"])).dose_id == dose.id


def test_a_severe_side_effect_comes_back_flagged(client, db, patient):
    dose = dose_for(db, patient)
    result = one(client, "checkin", {"dose_id": str(dose.id), "slot": "plus40",
                                     "values": {"vomiting": "severe", "sedation": 3}})
    assert result["status"] == "created"
    assert set(result["flags"]) == {"severe_side_effect", "hard_to_rouse"}
    assert count(db, SafetyEvent) == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"slot": "daily", "values": {"happiness": 5}}, "happiness"),
        ({"slot": "daily", "values": {"mood": 11}}, "mood"),
        ({"slot": "daily", "values": {"mood": -1}}, "mood"),
        ({"slot": "daily", "values": {"mood": 5.5}}, "mood"),
        ({"slot": "daily", "values": {"mood": "7"}}, "mood"),
        ({"slot": "daily", "values": {"mood": True}}, "mood"),
        ({"slot": "daily", "values": {"sedation": "x"}}, "sedation"),
        ({"slot": "daily", "values": {"sedation": 4}}, "sedation"),
        ({"slot": "daily", "values": {"nausea": "awful"}}, "nausea"),
        ({"slot": "daily", "values": {"systolic": 120, "diastolic": 120}}, "diastolic"),
        ({"slot": "daily", "values": {"systolic": 110, "diastolic": 130}}, "diastolic"),
        ({"slot": "daily", "values": {"systolic": 20}}, "systolic"),
        ({"slot": "daily", "values": {"note": "x" * 1001}}, "note"),
        ({"slot": "daily", "values": {}}, "values"),
        ({"slot": "daily", "values": {"note": "  "}}, "values"),
        ({"slot": "plus40", "values": {"sedation": 1}}, "dose_id"),
        ({"slot": "end", "values": {"sedation": 1}}, "dose_id"),
        ({"slot": "next_morning", "values": {"mood": 6}}, "dose_id"),
        ({"slot": "lunch", "values": {"mood": 6}}, "slot"),
        ({"dose_id": str(uuid.uuid4()), "slot": "plus40", "values": {"sedation": 1}},
         "dose_id"),
        ({"dose_id": "not-a-uuid", "slot": "plus40", "values": {"sedation": 1}}, "dose_id"),
        ({"slot": "daily", "values": {"mood": 5}, "extra": 1}, "extra"),
        ({"values": {"mood": 5}}, "slot"),
    ],
)
def test_a_bad_checkin_is_rejected_with_a_readable_reason_and_nothing_written(
        client, db, patient, data, field):
    result = one(client, "checkin", data)
    assert result["status"] == "rejected", result
    assert field in result["errors"], result
    assert result["detail"] and "Traceback" not in result["detail"]
    assert count(db, CheckIn) == 0
    assert count(db, ClientWrite) == 0
    assert count(db, SafetyEvent) == 0


def test_the_reasons_read_as_sentences(client, patient):
    assert one(client, "checkin", {"slot": "daily", "values": {"mood": 11}})["errors"] == {
        "mood": "Enter a whole number from 0 to 10."}
    assert one(client, "checkin", {"slot": "daily", "values": {"nausea": "awful"}})[
        "errors"] == {"nausea": "Choose none, mild, moderate or severe."}
    assert one(client, "checkin", {"slot": "plus40", "values": {"sedation": 1}})["detail"] == (
        "This check-in follows a dose, and there is no recent dose for it. Log your dose first.")


def test_a_checkin_for_another_patients_dose_is_rejected(client, db, patient):
    other = factories.user(db, role="patient")
    theirs = dose_for(db, other)
    result = one(client, "checkin", {"dose_id": str(theirs.id), "slot": "plus40",
                                     "values": {"sedation": 1}})
    assert result["status"] == "rejected"
    assert result["errors"] == {"dose_id": "That dose was not found."}
    assert count(db, CheckIn) == 0


def test_a_duplicate_checkin_in_one_batch_is_idempotent(client, db, patient):
    # Background Sync and a manual flush can send the same outbox item together.
    entry = item("checkin", {"slot": "daily", "values": {"mood": 6}})
    first, second = sync(client, entry, entry)
    assert (first["status"], second["status"]) == ("created", "duplicate")
    assert second["id"] == first["id"] == entry["id"]
    assert count(db, CheckIn) == 1


def test_a_replay_returns_the_same_result_and_writes_nothing(client, db, patient):
    entry = item("checkin", {"slot": "daily", "values": {"mood": 6}})
    (created,) = sync(client, entry)
    (replayed,) = sync(client, entry)
    assert created["status"] == "created"
    assert replayed == {**created, "status": "duplicate"}
    assert count(db, CheckIn) == 1 and count(db, ClientWrite) == 1


def test_the_same_id_with_other_content_is_rejected(client, db, patient):
    entry = item("checkin", {"slot": "daily", "values": {"mood": 6}})
    sync(client, entry)
    changed = {**entry, "data": {"slot": "daily", "values": {"mood": 2}}}
    (result,) = sync(client, changed)
    assert (result["status"], result["code"]) == ("rejected", "id_conflict")
    assert db.get(CheckIn, uuid.UUID(entry["id"])).values == {"mood": 6}


def test_one_bad_item_does_not_undo_the_others(client, db, patient):
    results = sync(client,
                   item("checkin", {"slot": "daily", "values": {"mood": 4}}),
                   item("checkin", {"slot": "daily", "values": {"mood": 40}}),
                   item("questionnaire", {"instrument": "gad7", "answers": [0] * 7}))
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    assert count(db, CheckIn) == 1 and count(db, QuestionnaireResponse) == 1


# --- kind: questionnaire ------------------------------------------------------------------------


def test_phq9_result_has_score_band_and_follow_up(client, db, patient):
    result = one(client, "questionnaire",
                 {"instrument": "phq9", "answers": [2, 2, 1, 1, 1, 1, 1, 1, 0]})
    assert result["status"] == "created"
    assert (result["score"], result["band"], result["follow_up"]) == (10, "moderate", None)
    assert "risk" not in result and "crisis" not in result


def test_phq9_item9_result_asks_for_the_screener(client, db, patient):
    result = one(client, "questionnaire",
                 {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 2]})
    assert (result["score"], result["band"], result["follow_up"]) == (2, "minimal", "cssrs")
    assert count(db, SafetyEvent) == 1


def test_gad7_result(client, patient):
    result = one(client, "questionnaire", {"instrument": "gad7", "answers": [3] * 5 + [0, 0]})
    assert (result["score"], result["band"], result["follow_up"]) == (15, "severe", None)


@pytest.mark.parametrize(
    ("answers", "risk", "crisis"),
    [
        ([False, False, None, None, None, False, None], "none", False),
        ([True, False, None, None, None, False, None], "low", False),
        ([True, True, True, False, False, False, None], "moderate", False),
        ([False, False, None, None, None, True, False], "moderate", False),
        ([True, True, True, True, False, False, None], "high", True),
        ([False, False, None, None, None, True, True], "high", True),
    ],
)
def test_cssrs_result_has_risk_and_crisis(client, db, patient, answers, risk, crisis):
    phq = one(client, "questionnaire",
              {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]})
    result = one(client, "questionnaire",
                 {"instrument": "cssrs", "answers": answers, "follows_id": phq["id"]})
    assert result["status"] == "created", result
    assert result["risk"] == risk
    assert result["crisis"] is crisis
    assert (result["score"], result["band"], result["follow_up"]) == (None, None, None)
    stored = db.get(QuestionnaireResponse, uuid.UUID(result["id"]))
    assert str(stored.follows_id) == phq["id"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"instrument": "bdi", "answers": [0] * 21}, "instrument"),
        ({"instrument": "phq9", "answers": [0] * 8}, "answers"),
        ({"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, None]}, "q9"),
        ({"instrument": "phq9", "answers": [4, 0, 0, 0, 0, 0, 0, 0, 0]}, "q1"),
        ({"instrument": "phq9", "answers": [0, -1, 0, 0, 0, 0, 0, 0, 0]}, "q2"),
        ({"instrument": "phq9", "answers": [True, 0, 0, 0, 0, 0, 0, 0, 0]}, "q1"),
        ({"instrument": "gad7", "answers": [0, 0, 0, 0, 0, 0, "3"]}, "q7"),
        ({"instrument": "cssrs", "answers": [1, False, None, None, None, False, None]}, "q1"),
        ({"instrument": "cssrs", "answers": [False, False, True, None, None, False, None]},
         "q3"),
        ({"instrument": "cssrs", "answers": [False, True, None, None, None, False, None]},
         "q3"),
        ({"instrument": "cssrs", "answers": [False, False, None, None, None, True, None]},
         "q6_past_3_months"),
        ({"instrument": "cssrs", "answers": [False, False, None, None, None, False]},
         "answers"),  # the six-answer shape from before the 3-month follow-up
        ({"instrument": "cssrs", "answers": [True, False, None, None, None, False, None],
          "follows_id": str(uuid.uuid4())}, "follows_id"),
        ({"instrument": "cssrs", "answers": [True, False, None, None, None, False, None],
          "version": "annual"}, "version"),
        ({"instrument": "phq9", "answers": [0] * 9 + ["hard"]}, "difficulty"),
        ({"instrument": "phq9"}, "answers"),
        ({"instrument": "phq9", "answers": "0,0,0"}, "answers"),
    ],
)
def test_a_bad_questionnaire_is_rejected_and_nothing_written(client, db, patient, data, field):
    result = one(client, "questionnaire", data)
    assert result["status"] == "rejected", result
    assert field in result["errors"], result
    assert result["detail"]
    assert count(db, QuestionnaireResponse) == 0
    assert count(db, ClientWrite) == 0
    assert count(db, SafetyEvent) == 0


def test_a_duplicate_positive_screen_is_recorded_once(client, db, patient):
    entry = item("questionnaire", {"instrument": "cssrs",
                                   "answers": [True, True, False, True, False, False, None]})
    first, second = sync(client, entry, entry)
    assert first["status"] == "created" and first["crisis"] is True
    assert second == {**first, "status": "duplicate"}
    assert count(db, QuestionnaireResponse) == 1
    assert count(db, SafetyEvent) == 1


def test_only_patients_record_checkins(client, login_as):
    login_as("prescriber")
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post("/api/v1/sync", headers={"X-CSRF-Token": token}, json={
        "items": [item("checkin", {"slot": "daily", "values": {"mood": 5}})]})
    assert response.status_code == 403


# --- GET /api/v1/checkins and /api/v1/questionnaires -------------------------------------------


def _seed_entries(client):
    now = utcnow()
    sync(client,
         item("checkin", {"slot": "daily", "values": {"mood": 3}},
              recorded_at=now - timedelta(days=20)),
         item("checkin", {"slot": "daily", "values": {"mood": 7}},
              recorded_at=now - timedelta(days=1)),
         item("questionnaire", {"instrument": "phq9", "answers": [1] * 9},
              recorded_at=now - timedelta(days=14)),
         item("questionnaire", {"instrument": "gad7", "answers": [0] * 7},
              recorded_at=now - timedelta(days=2)))
    return now


def test_a_patient_reads_their_checkins_in_a_date_range(client, patient):
    now = _seed_entries(client)
    everything = client.get("/api/v1/checkins")
    assert everything.status_code == 200
    assert [c["values"]["mood"] for c in everything.json()["checkins"]] == [3, 7]
    recent = client.get("/api/v1/checkins", params={
        "start": (now - timedelta(days=7)).isoformat(), "end": now.isoformat()}).json()
    assert [c["values"] for c in recent["checkins"]] == [{"mood": 7}]
    entry = recent["checkins"][0]
    assert set(entry) >= {"id", "slot", "dose_id", "values", "flags", "recorded_at"}
    assert entry["slot"] == "daily" and entry["dose_id"] is None


def test_a_patient_reads_their_questionnaires_in_a_date_range(client, patient):
    now = _seed_entries(client)
    listed = client.get("/api/v1/questionnaires").json()["questionnaires"]
    assert [(q["instrument"], q["score"], q["band"]) for q in listed] == [
        ("phq9", 9, "mild"), ("gad7", 0, "minimal")]
    assert listed[0]["answers"]["q9"] == 1
    assert listed[0]["answers"]["difficulty"] is None
    assert listed[0]["version"] is None and listed[0]["risk_loinc"] is None
    window = client.get("/api/v1/questionnaires", params={
        "start": (now - timedelta(days=15)).isoformat(),
        "end": (now - timedelta(days=13)).isoformat()}).json()["questionnaires"]
    assert [q["instrument"] for q in window] == ["phq9"]


def test_screeners_are_listed_with_their_version_and_the_loinc_risk_answer(client, patient):
    now = utcnow()
    sync(client,
         item("questionnaire", {"instrument": "cssrs",
                                "answers": [True, False, None, None, None, True, False]},
              recorded_at=now - timedelta(days=7)),
         item("questionnaire", {"instrument": "cssrs",
                                "answers": [False, False, None, None, None, True, None]},
              recorded_at=now - timedelta(days=1)))
    first, second = client.get("/api/v1/questionnaires").json()["questionnaires"]
    assert (first["version"], first["risk"]) == ("recent", "moderate")
    assert first["risk_loinc"] == {"system": "http://loinc.org", "code": "LA6751-7",
                                   "display": "Moderate"}
    assert list(first["answers"]) == ["q1", "q2", "q3", "q4", "q5", "q6", "q6_past_3_months"]
    assert first["answers"]["q6_past_3_months"] is False
    assert (second["version"], second["risk"]) == ("since_last_contact", "high")
    assert second["risk_loinc"]["code"] == "LA9193-9"
    assert second["answers"]["q6_past_3_months"] is None


@pytest.mark.parametrize("path", ["/api/v1/checkins", "/api/v1/questionnaires"])
@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-03-01T00:00:00+00:00", "end": "2026-02-01T00:00:00+00:00"},
        {"start": "2026-02-01T00:00:00+00:00", "end": "2026-02-01T00:00:00+00:00"},
        {"start": "2025-01-01T00:00:00+00:00", "end": "2026-03-01T00:00:00+00:00"},
        {"start": "2026-02-01T00:00:00"},  # no time zone
        {"start": "yesterday"},
        {"patient_id": "not-a-uuid"},
    ],
)
def test_a_bad_range_is_422_with_a_readable_detail(client, patient, path, params):
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/checkins", "/api/v1/questionnaires"])
def test_a_prescriber_reads_their_patients_entries_and_not_anyone_elses(client, db, path):
    mine = factories.user(db, role="patient")
    stranger = factories.user(db, role="patient")
    with another_client() as phone:
        db.commit()
        assert Auth(phone).login(mine.email).status_code == 303
        _seed_entries(phone)
    prescriber = factories.user(db, role="prescriber")
    factories.link(db, mine, prescriber)
    db.commit()
    assert Auth(client).login(prescriber.email).status_code == 303

    key = path.rsplit("/", 1)[1]
    response = client.get(path, params={"patient_id": str(mine.id)})
    assert response.status_code == 200
    assert len(response.json()[key]) == 2
    assert client.get(path, params={"patient_id": str(stranger.id)}).status_code == 404
    assert client.get(path, params={"patient_id": str(uuid.uuid4())}).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/checkins", "/api/v1/questionnaires"])
def test_a_patient_cannot_read_another_patients_entries(client, db, patient, path):
    other = factories.user(db, role="patient")
    db.commit()
    assert client.get(path, params={"patient_id": str(other.id)}).status_code == 404
    assert client.get(path, params={"patient_id": str(patient.id)}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/checkins", "/api/v1/questionnaires"])
def test_reading_needs_a_sign_in(client, path):
    assert client.get(path).status_code == 401


def test_a_session_checkin_without_its_dose_follows_the_latest_dose_before_it(client, db,
                                                                             patient):
    """The +40 minute recheck opened at its bare address (a bookmark, a typed address, the page
    kept offline without its link) was refused with words for developers. It follows the
    latest dose before it, judged at the entry's own time, within a day and a half."""
    dose = dose_for(db, patient)
    result = one(client, "checkin", {"slot": "plus40", "values": {"sedation": 1}})
    assert result["status"] == "created", result
    stored = db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id)).one()
    assert stored.dose_id == dose.id
    # Made on the phone before that dose: it follows none, and says what to do.
    before = one(client, "checkin", {"slot": "end", "values": {"sedation": 0}},
                 recorded_at=dose.taken_at - timedelta(minutes=30))
    assert before["status"] == "rejected"
    assert before["detail"] == (
        "This check-in follows a dose, and there is no recent dose for it. Log your dose first.")


def test_the_bare_recheck_page_without_javascript_saves_for_the_latest_dose(client, db, auth,
                                                                            patient):
    dose = dose_for(db, patient)
    page = client.get("/checkins/plus40")
    assert "For your latest dose." in page.text and 'name="dose_id"' not in page.text
    saved = auth.post("/checkins/plus40", {"client_id": str(uuid.uuid4()),
                                           "systolic": "190", "diastolic": "125"})
    assert saved.status_code == 200 and "Get help now" in saved.text  # the crisis guidance
    (stored,) = db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id)).all()
    assert stored.dose_id == dose.id
