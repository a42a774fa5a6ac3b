"""The check-in service with an explicit clock: recording and flags, the safety events, what is
due (daily, weekly, every two weeks, per dose) and the session record."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.checkins import service
from app.checkins.models import CheckIn, CheckinSettings, QuestionnaireResponse, SafetyEvent
from app.doses import corrections
from app.doses import service as doses
from app.doses.models import Dose
from app.errors import Invalid
from tests import factories

NY = ZoneInfo("America/New_York")
# The default protocol: Mon/Thu 10:00 America/New_York from Mon 2026-01-05.
SESSION = datetime(2026, 1, 12, 10, 0, tzinfo=NY)  # Monday
TAKEN = SESSION + timedelta(minutes=5)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def patient(db):
    _, patient, _ = factories.patient_with_protocol(
        db, now=utc(datetime(2026, 1, 2, 9, 0, tzinfo=NY)))
    # The account predates the tests' days (nothing is due before an account existed).
    patient.created_at = utc(datetime(2025, 12, 1, tzinfo=NY))
    db.flush()
    return patient


def gated_dose(db, patient, at: datetime = SESSION, **answers) -> Dose:
    gate = doses.record_gate(
        db, patient=patient, gate_id=uuid.uuid4(), checked_at=utc(at),
        data={"systolic": 124, "diastolic": 80, "heart_rate": 72,
              "checklist": factories.CHECKLIST_ALL_YES, **answers},
        now=utc(at))
    assert gate.verdict == "ok", gate.reasons
    taken = at + timedelta(minutes=5)
    return doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=utc(taken),
        data={"taken_at": taken.isoformat(), "dose_mg": "100", "route": "sublingual",
            "no_gate_reason": "Logged later.",
              "gate_id": str(gate.id)},
        now=utc(taken))


def ungated_dose(db, patient, taken: datetime = TAKEN) -> Dose:
    return doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=utc(taken),
        data={"taken_at": taken.isoformat(), "dose_mg": "100", "route": "sublingual",
            "no_gate_reason": "Logged later."},
        now=utc(taken))


def checkin(db, patient, at: datetime, slot: str, values: dict, *, dose: Dose | None = None,
            now: datetime | None = None) -> CheckIn:
    data: dict = {"slot": slot, "values": values}
    if dose is not None:
        data["dose_id"] = str(dose.id)
    return service.record_checkin(db, patient=patient, author=patient, checkin_id=uuid.uuid4(),
                                  recorded_at=utc(at), data=data, now=utc(now or at))


def questionnaire(db, patient, at: datetime, instrument: str, answers: list,
                  follows_id=None, version: str | None = None) -> QuestionnaireResponse:
    data: dict = {"instrument": instrument, "answers": answers}
    if follows_id is not None:
        data["follows_id"] = str(follows_id)
    if version is not None:
        data["version"] = version
    return service.record_questionnaire(db, patient=patient, response_id=uuid.uuid4(),
                                        completed_at=utc(at), data=data, now=utc(at))


def due_map(db, patient, now: datetime) -> dict[str, service.Due]:
    return {d.key.split(":")[0]: d for d in service.due_checkins(db, patient, utc(now))}


# --- recording check-ins ------------------------------------------------------------------------


def test_a_checkin_keeps_only_what_was_answered(db, patient):
    at = datetime(2026, 1, 14, 20, 5, tzinfo=NY)
    row = checkin(db, patient, at, "daily", {"mood": 6, "note": "  walked the dog  "})
    assert row.values == {"mood": 6, "note": "walked the dog"}
    assert row.flags == []
    assert row.recorded_at == utc(at)
    assert count(db, SafetyEvent) == 0


def test_a_blank_note_alone_is_not_a_checkin(db, patient):
    with pytest.raises(Invalid):
        checkin(db, patient, datetime(2026, 1, 14, 20, 5, tzinfo=NY), "daily", {"note": "   "})


@pytest.mark.parametrize(
    ("values", "flag", "kind"),
    [
        ({"nausea": "severe"}, "severe_side_effect", "severe_side_effect"),
        ({"headache": "severe", "nausea": "mild"}, "severe_side_effect", "severe_side_effect"),
        ({"sedation": 3}, "hard_to_rouse", "hard_to_rouse"),
    ],
)
def test_a_severe_side_effect_or_hard_to_rouse_is_a_safety_event(db, patient, values, flag,
                                                                  kind):
    dose = gated_dose(db, patient)
    at = TAKEN + timedelta(minutes=40)
    row = checkin(db, patient, at, "plus40", values, dose=dose)
    assert flag in row.flags
    events = db.exec(select(SafetyEvent)).all()
    assert [(e.kind, e.level, e.source_id) for e in events] == [(kind, "high", row.id)]
    assert events[0].occurred_at == utc(at)
    assert events[0].details["values"] == values
    assert events[0].share_with_caregiver is True  # the default consent


def test_caregiver_sharing_follows_the_patients_setting(db, patient):
    db.add(CheckinSettings(patient_id=patient.id, share_alerts_with_caregiver=False))
    dose = gated_dose(db, patient)
    checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40", {"sedation": 3}, dose=dose)
    assert db.exec(select(SafetyEvent)).one().share_with_caregiver is False


def test_moderate_effects_and_drowsiness_are_not_safety_events(db, patient):
    dose = gated_dose(db, patient)
    row = checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
                  {"nausea": "moderate", "sedation": 2, "systolic": 150, "diastolic": 95},
                  dose=dose)
    assert row.flags == []
    assert count(db, SafetyEvent) == 0


@pytest.mark.parametrize(("systolic", "diastolic"), [(180, 100), (170, 120)])
def test_a_crisis_blood_pressure_is_flagged(db, patient, systolic, diastolic):
    dose = gated_dose(db, patient)
    row = checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
                  {"systolic": systolic, "diastolic": diastolic}, dose=dose)
    assert "bp_emergency" in row.flags


def test_179_over_119_is_not_a_crisis(db, patient):
    dose = gated_dose(db, patient)
    row = checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
                  {"systolic": 179, "diastolic": 119}, dose=dose)
    assert row.flags == []
    assert count(db, SafetyEvent) == 0


@pytest.mark.parametrize(("systolic", "diastolic"), [(180, 100), (170, 120), (200, 125)])
def test_a_crisis_blood_pressure_is_a_safety_event_for_the_dosing_gate(db, patient, systolic,
                                                                       diastolic):
    dose = gated_dose(db, patient)
    at = TAKEN + timedelta(minutes=40)
    values = {"systolic": systolic, "diastolic": diastolic, "heart_rate": 96}
    row = checkin(db, patient, at, "plus40", values, dose=dose)
    event = db.exec(select(SafetyEvent)).one()
    assert (event.kind, event.level, event.source_id) == ("bp_emergency", "high", row.id)
    assert event.occurred_at == utc(at)
    assert event.details == {"slot": "plus40", "values": values}
    assert event.share_with_caregiver is True


def test_a_crisis_reading_follows_the_patients_sharing_choice(db, patient):
    db.add(CheckinSettings(patient_id=patient.id, share_alerts_with_caregiver=False))
    dose = gated_dose(db, patient)
    checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
            {"systolic": 182, "diastolic": 96}, dose=dose)
    assert db.exec(select(SafetyEvent)).one().share_with_caregiver is False


# --- "ready to be alone" ------------------------------------------------------------------------


READY = {"sedation": 0, "systolic": 128, "diastolic": 82, "ready_alone": True}


def test_ready_to_be_alone_at_the_end_of_observation_is_accepted(db, patient):
    dose = gated_dose(db, patient)  # taken 10:05, default 120-minute observation
    row = checkin(db, patient, TAKEN + timedelta(minutes=120), "end", READY, dose=dose)
    assert row.values["ready_alone"] is True


def test_ready_to_be_alone_too_soon_says_from_when_in_local_time(db, patient):
    dose = gated_dose(db, patient)
    with pytest.raises(Invalid) as err:
        checkin(db, patient, TAKEN + timedelta(minutes=119), "end", READY, dose=dose)
    assert set(err.value.errors) == {"ready_alone"}
    message = err.value.errors["ready_alone"]
    assert "12:05 PM" in message  # 10:05 AM New York + 2 hours, not UTC (5:05 PM)
    assert "120-minute" in message
    assert count(db, CheckIn) == 0


def test_the_observation_period_and_hold_level_are_the_doses_protocol_versions(db, patient):
    from app.protocols.models import ProtocolVersion

    dose = gated_dose(db, patient)
    version = db.get(ProtocolVersion, dose.protocol_version_id)
    version.observation_minutes = 90
    version.bp_hold_systolic, version.bp_hold_diastolic = 130, 85
    db.add(version)
    db.flush()
    with pytest.raises(Invalid) as err:
        checkin(db, patient, TAKEN + timedelta(minutes=89), "end", READY, dose=dose)
    assert "11:35 AM" in err.value.errors["ready_alone"]
    with pytest.raises(Invalid) as err:
        checkin(db, patient, TAKEN + timedelta(minutes=95), "end",
                {**READY, "systolic": 130}, dose=dose)
    assert "130/85" in err.value.errors["ready_alone"]
    checkin(db, patient, TAKEN + timedelta(minutes=95), "end", READY, dose=dose)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({**READY, "sedation": 1}, "Drowsy, but responds to their name in a normal voice"),
        ({**READY, "systolic": 160}, "160/82"),
        ({"ready_alone": True, "systolic": 128, "diastolic": 82}, "sedation"),
        ({"ready_alone": True, "sedation": 0}, "blood pressure"),
    ],
)
def test_ready_to_be_alone_is_refused_naming_what_fails(db, patient, values, words):
    dose = gated_dose(db, patient)  # hold level 160/100 (the factory protocol)
    with pytest.raises(Invalid) as err:
        checkin(db, patient, TAKEN + timedelta(minutes=130), "end", values, dose=dose)
    assert words in err.value.errors["ready_alone"]
    assert count(db, CheckIn) == 0


def test_ready_to_be_alone_uses_the_latest_earlier_readings_of_the_session(db, patient):
    dose = gated_dose(db, patient)
    checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
            {"systolic": 150, "diastolic": 92, "sedation": 2}, dose=dose)
    checkin(db, patient, TAKEN + timedelta(minutes=110), "plus40",
            {"systolic": 126, "diastolic": 80, "sedation": 0}, dose=dose)
    row = checkin(db, patient, TAKEN + timedelta(minutes=125), "end", {"ready_alone": True},
                  dose=dose)
    assert service.session_record(db, dose).ready_alone_at == row.recorded_at


def test_the_pre_dose_gate_reading_is_not_a_reading_of_the_session(db, patient):
    dose = gated_dose(db, patient)  # gate 124/80 before the dose
    with pytest.raises(Invalid) as err:
        checkin(db, patient, TAKEN + timedelta(minutes=125), "end",
                {"ready_alone": True, "sedation": 0}, dose=dose)
    assert "blood pressure" in err.value.errors["ready_alone"]


def test_another_doses_readings_do_not_count(db, patient):
    first = gated_dose(db, patient)
    checkin(db, patient, TAKEN + timedelta(minutes=125), "end", READY, dose=first)
    second = gated_dose(db, patient, datetime(2026, 1, 15, 10, 0, tzinfo=NY))
    with pytest.raises(Invalid):
        checkin(db, patient, datetime(2026, 1, 15, 12, 10, tzinfo=NY), "end",
                {"ready_alone": True}, dose=second)


def test_not_ready_to_be_alone_needs_no_conditions(db, patient):
    dose = gated_dose(db, patient)
    # Before the observation time is over (120 minutes), once the end of session is open.
    checkin(db, patient, TAKEN + timedelta(minutes=116), "end", {"ready_alone": False},
            dose=dose)


def test_ready_to_be_alone_belongs_to_the_end_of_session_checkin(db, patient):
    dose = gated_dose(db, patient)
    with pytest.raises(Invalid) as err:
        checkin(db, patient, TAKEN + timedelta(minutes=130), "plus40", READY, dose=dose)
    assert set(err.value.errors) == {"ready_alone"}


def test_a_checkin_for_another_patients_dose_is_refused(db, patient):
    other = factories.user(db, role="patient")
    dose = gated_dose(db, patient)
    with pytest.raises(Invalid) as err:
        checkin(db, other, TAKEN + timedelta(minutes=40), "plus40", {"sedation": 1}, dose=dose)
    assert err.value.errors == {"dose_id": "That dose was not found."}


@pytest.mark.parametrize(
    "at",
    [TAKEN + timedelta(minutes=11), TAKEN - timedelta(days=31)],
    ids=["future", "too-old"],
)
def test_a_checkin_far_in_the_future_or_past_is_refused(db, patient, at):
    with pytest.raises(Invalid) as err:
        checkin(db, patient, at, "daily", {"mood": 5}, now=TAKEN)
    assert "recorded_at" in err.value.errors
    assert count(db, CheckIn) == 0


# --- questionnaires and the positive screens ----------------------------------------------------


def test_a_phq9_with_item9_is_a_positive_screen_with_time_and_answers(db, patient):
    at = datetime(2026, 1, 14, 19, 0, tzinfo=NY)
    phq = questionnaire(db, patient, at, "phq9", [1, 1, 1, 1, 1, 1, 1, 1, 2])
    assert (phq.score, phq.band, phq.follow_up) == (10, "moderate", "cssrs")
    event = db.exec(select(SafetyEvent)).one()
    assert (event.kind, event.source_id, event.occurred_at) == ("phq9_item9", phq.id, utc(at))
    # A flag of its own until the screener is done: never recorded as "low" risk.
    assert event.level == "unscreened" and not event.holds_dosing
    assert event.details["instrument"] == "phq9"
    assert event.details["answers"]["q9"] == 2


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ([True, False, None, None, None, False, None], "low"),
        ([True, True, True, False, False, False, None], "moderate"),
        ([False, False, None, None, None, True, False], "moderate"),
        ([True, True, False, True, False, False, None], "high"),
        ([False, False, None, None, None, True, True], "high"),
    ],
)
def test_each_positive_cssrs_screen_is_recorded_at_its_level(db, patient, answers, level):
    at = datetime(2026, 1, 14, 19, 0, tzinfo=NY)
    phq = questionnaire(db, patient, at, "phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    screen = questionnaire(db, patient, at + timedelta(minutes=2), "cssrs", answers,
                           follows_id=phq.id)
    assert screen.follows_id == phq.id
    assert screen.risk == level
    events = {e.source_id: e for e in db.exec(select(SafetyEvent)).all()}
    assert events[screen.id].level == level
    assert events[screen.id].details["answers"]["q1"] is answers[0]
    assert len(events[screen.id].details["answers"]) == 7


def test_a_negative_screen_records_no_event(db, patient):
    questionnaire(db, patient, datetime(2026, 1, 14, 19, 0, tzinfo=NY), "cssrs",
                  [False, False, None, None, None, False, None])
    questionnaire(db, patient, datetime(2026, 1, 14, 19, 5, tzinfo=NY), "phq9", [3] * 8 + [0])
    assert count(db, SafetyEvent) == 0


def test_a_screener_cannot_follow_another_patients_phq9(db, patient):
    other = factories.user(db, role="patient")
    at = datetime(2026, 1, 14, 19, 0, tzinfo=NY)
    theirs = questionnaire(db, other, at, "phq9", [0] * 8 + [1])
    with pytest.raises(Invalid) as err:
        questionnaire(db, patient, at, "cssrs", [True, False, None, None, None, False, None],
                      follows_id=theirs.id)
    assert "follows_id" in err.value.errors


def test_an_incomplete_questionnaire_names_the_item(db, patient):
    with pytest.raises(Invalid) as err:
        questionnaire(db, patient, datetime(2026, 1, 14, 19, 0, tzinfo=NY), "phq9",
                      [0, 0, 0, None, 0, 0, 0, 0, 0])
    assert set(err.value.errors) == {"q4"}
    assert count(db, QuestionnaireResponse) == 0


def test_the_difficulty_item_is_stored_but_not_scored(db, patient):
    at = datetime(2026, 1, 14, 19, 0, tzinfo=NY)
    phq = questionnaire(db, patient, at, "phq9", [1] * 9 + ["somewhat_difficult"])
    gad = questionnaire(db, patient, at, "gad7", [2] * 7 + [None])
    assert (phq.score, phq.answers["difficulty"]) == (9, "somewhat_difficult")
    assert (gad.score, gad.answers["difficulty"]) == (14, None)
    assert phq.version is None and gad.version is None


NOW_ISH = datetime(2026, 1, 14, 19, 0, tzinfo=NY)
NO_RISK = [False, False, None, None, None, False, None]


def test_the_first_screener_is_the_recent_version_and_later_ones_since_last_contact(db,
                                                                                   patient):
    assert service.cssrs_version(db, patient.id, utc(NOW_ISH)) == ("recent", None)
    first = questionnaire(db, patient, NOW_ISH, "cssrs", NO_RISK)
    assert first.version == "recent"
    later = NOW_ISH + timedelta(days=7)
    assert service.cssrs_version(db, patient.id, utc(later)) == (
        "since_last_contact", utc(NOW_ISH))
    second = questionnaire(db, patient, later, "cssrs", NO_RISK)
    assert second.version == "since_last_contact"
    # Another patient's screens do not count.
    other = factories.user(db, role="patient")
    assert service.cssrs_version(db, other.id, utc(later)) == ("recent", None)


def test_the_version_the_patient_was_shown_is_the_one_recorded(db, patient):
    questionnaire(db, patient, NOW_ISH, "cssrs", NO_RISK)
    # The form was opened before the earlier screen reached the server: it showed the recent
    # wording, and the answers are read (and stored) as that version.
    shown = questionnaire(db, patient, NOW_ISH + timedelta(days=1), "cssrs",
                          [False, False, None, None, None, True, False], version="recent")
    assert (shown.version, shown.risk) == ("recent", "moderate")


def test_since_last_contact_behaviour_is_high_risk_without_a_follow_up(db, patient):
    questionnaire(db, patient, NOW_ISH, "cssrs", NO_RISK)
    screen = questionnaire(db, patient, NOW_ISH + timedelta(days=7), "cssrs",
                           [False, False, None, None, None, True, None])
    assert (screen.version, screen.risk) == ("since_last_contact", "high")
    event = db.exec(select(SafetyEvent).where(SafetyEvent.source_id == screen.id)).one()
    assert event.level == "high"
    # The wording travels with the event, so the prescriber reads the questions as asked.
    assert event.details["version"] == "since_last_contact"


def test_a_since_last_contact_screen_with_the_follow_up_answered_is_refused(db, patient):
    questionnaire(db, patient, NOW_ISH, "cssrs", NO_RISK)
    with pytest.raises(Invalid) as err:
        questionnaire(db, patient, NOW_ISH + timedelta(days=7), "cssrs",
                      [False, False, None, None, None, True, True])
    assert set(err.value.errors) == {"q6_past_3_months"}


@pytest.mark.parametrize(
    ("instrument", "answers", "version"),
    [("cssrs", NO_RISK, "weekly"), ("phq9", [0] * 9, "recent")],
)
def test_an_unknown_or_misplaced_version_is_refused(db, patient, instrument, answers, version):
    with pytest.raises(Invalid) as err:
        questionnaire(db, patient, NOW_ISH, instrument, answers, version=version)
    assert set(err.value.errors) == {"version"}
    assert count(db, QuestionnaireResponse) == 0


# --- due: daily mood --------------------------------------------------------------------------


def test_daily_mood_upcoming_due_done(db, patient):
    # Default mood time 20:00 local.
    day = date(2026, 1, 14)
    assert due_map(db, patient, datetime.combine(day, time(19, 59), NY))["daily"].state == \
        "upcoming"
    due = due_map(db, patient, datetime.combine(day, time(20, 0), NY))["daily"]
    assert (due.state, due.due_at, due.url) == (
        "due", utc(datetime.combine(day, time(20, 0), NY)), "/checkins/daily")
    checkin(db, patient, datetime.combine(day, time(20, 30), NY), "daily", {"mood": 5})
    assert due_map(db, patient, datetime.combine(day, time(20, 31), NY))["daily"].state == "done"
    # Yesterday's entry does not count for today.
    assert due_map(db, patient, datetime.combine(day + timedelta(days=1), time(20, 1), NY))[
        "daily"].state == "due"


def test_daily_mood_at_the_patients_chosen_time_and_missed_after_its_window(db, patient):
    db.add(CheckinSettings(patient_id=patient.id, mood_time=time(8, 0)))
    day = date(2026, 1, 14)
    assert due_map(db, patient, datetime.combine(day, time(7, 0), NY))["daily"].state == \
        "upcoming"
    assert due_map(db, patient, datetime.combine(day, time(19, 59), NY))["daily"].state == "due"
    assert due_map(db, patient, datetime.combine(day, time(20, 1), NY))["daily"].state == \
        "missed"


def test_a_mood_logged_early_in_the_day_counts(db, patient):
    day = date(2026, 1, 14)
    checkin(db, patient, datetime.combine(day, time(7, 30), NY), "daily", {"mood": 7})
    assert due_map(db, patient, datetime.combine(day, time(12, 0), NY))["daily"].state == "done"


def test_a_mood_from_a_session_checkin_does_not_tick_the_daily_one(db, patient):
    day = date(2026, 1, 14)
    checkin(db, patient, datetime.combine(day, time(7, 30), NY), "pre", {"mood": 7})
    assert due_map(db, patient, datetime.combine(day, time(20, 30), NY))["daily"].state == "due"


# --- due: weekly and fortnightly questionnaires -------------------------------------------------


WEDNESDAY = date(2026, 1, 14)


@pytest.fixture
def on_wednesdays(db, patient):
    db.add(CheckinSettings(patient_id=patient.id, questionnaire_weekday=2))
    db.flush()
    return patient


def test_weekly_questionnaires_are_due_on_the_prescribers_day(db, on_wednesdays):
    patient = on_wednesdays
    tuesday = due_map(db, patient, datetime.combine(WEDNESDAY - timedelta(days=1), time(12), NY))
    # The Tuesday before still points at the Wednesday a week earlier.
    assert tuesday["phq9"].due_at == utc(datetime.combine(WEDNESDAY - timedelta(days=7), time(0),
                                                         NY))
    items = due_map(db, patient, datetime.combine(WEDNESDAY, time(9), NY))
    for key in ("phq9", "gad7"):
        assert items[key].state == "due"
        assert items[key].due_at == utc(datetime.combine(WEDNESDAY, time(0), NY))
        assert items[key].url == f"/questionnaires/{key}"


def test_a_weekly_questionnaire_is_done_once_answered_and_not_by_last_weeks(db, on_wednesdays):
    patient = on_wednesdays
    questionnaire(db, patient, datetime.combine(WEDNESDAY - timedelta(days=1), time(19), NY),
                  "phq9", [0] * 9)  # the Tuesday before: last week's
    assert due_map(db, patient, datetime.combine(WEDNESDAY, time(9), NY))["phq9"].state == "due"
    questionnaire(db, patient, datetime.combine(WEDNESDAY, time(10), NY), "phq9", [1] * 9)
    items = due_map(db, patient, datetime.combine(WEDNESDAY + timedelta(days=1), time(9), NY))
    assert items["phq9"].state == "done"
    assert items["gad7"].state == "due"  # each questionnaire on its own


def test_an_unanswered_questionnaire_is_missed_after_the_grace_days(db, on_wednesdays):
    patient = on_wednesdays
    friday_night = datetime.combine(WEDNESDAY + timedelta(days=2), time(23, 59), NY)
    saturday = datetime.combine(WEDNESDAY + timedelta(days=3), time(0, 1), NY)
    assert due_map(db, patient, friday_night)["phq9"].state == "due"
    assert due_map(db, patient, saturday)["phq9"].state == "missed"
    # A late answer still counts for that week.
    questionnaire(db, patient, saturday, "phq9", [0] * 9)
    assert due_map(db, patient, saturday + timedelta(minutes=1))["phq9"].state == "done"


def _scheduled_days(weekday: int, every_weeks: int, start: date, weeks: int) -> list[date]:
    days = {service.last_questionnaire_day(start + timedelta(days=n), weekday, every_weeks)
            for n in range(weeks * 7)}
    return sorted(d for d in days if d >= start)


@pytest.mark.parametrize("weekday", range(7))
def test_every_two_weeks_is_every_fourteen_days_also_across_new_year(weekday):
    # 2026 has an ISO week 53: a schedule on ISO-week parity would leave a three-week gap.
    days = _scheduled_days(weekday, 2, date(2026, 10, 1), 30)
    assert len(days) >= 14
    assert all(d.weekday() == weekday for d in days)
    assert {(b - a).days for a, b in pairwise(days)} == {14}


@pytest.mark.parametrize("weekday", range(7))
def test_weekly_days_are_every_seven_days(weekday):
    days = _scheduled_days(weekday, 1, date(2026, 12, 1), 8)
    assert all(d.weekday() == weekday for d in days)
    assert {(b - a).days for a, b in pairwise(days)} == {7}


def test_last_questionnaire_day_is_today_on_the_day():
    assert service.last_questionnaire_day(WEDNESDAY, 2, 1) == WEDNESDAY
    assert service.last_questionnaire_day(WEDNESDAY, 3, 1) == date(2026, 1, 8)


def test_every_two_weeks_the_off_week_still_shows_the_last_questionnaire(db, patient):
    settings = CheckinSettings(patient_id=patient.id, questionnaire_weekday=2,
                               questionnaire_every_weeks=2)
    db.add(settings)
    db.flush()
    scheduled = service.last_questionnaire_day(WEDNESDAY, 2, 2)
    on_day = datetime.combine(scheduled, time(9), NY)
    assert due_map(db, patient, on_day)["phq9"].state == "due"
    questionnaire(db, patient, datetime.combine(scheduled, time(10), NY), "phq9", [0] * 9)
    off_week = due_map(db, patient, on_day + timedelta(days=7))
    assert off_week["phq9"].state == "done"
    assert off_week["phq9"].due_at == utc(datetime.combine(scheduled, time(0), NY))
    assert off_week["gad7"].state == "missed"
    # The next one is due fourteen days after the last.
    assert due_map(db, patient, on_day + timedelta(days=14))["phq9"].state == "due"


# --- due: session check-ins relative to a dose -----------------------------------------------


def test_the_end_of_session_follows_the_plans_observation_time(db):
    """With a 180-minute observation, the end of session was "Due now" at +2 hours (and its
    reminder went then) while its form refused anything until +175 minutes."""
    _, patient, _ = factories.patient_with_protocol(
        db, now=utc(datetime(2026, 1, 2, 9, 0, tzinfo=NY)), observation_minutes=180)
    patient.created_at = utc(datetime(2025, 12, 1, tzinfo=NY))
    dose = gated_dose(db, patient)  # taken 10:05
    end = f"end:{dose.id}"

    def state(minutes: int) -> str:
        now = utc(TAKEN + timedelta(minutes=minutes))
        return next(d.state for d in service.due_checkins(db, patient, now) if d.key == end)

    assert state(121) == "upcoming" and state(174) == "upcoming"
    assert state(175) == "due"
    assert service.entry_opens(db, "end", dose, NY) == utc(TAKEN + timedelta(minutes=175))
    with pytest.raises(Invalid, match="5 minutes before the observation time is over"):
        checkin(db, patient, TAKEN + timedelta(minutes=150), "end", {"systolic": 120},
                dose=dose)
    # The patient's own "ready to be alone" before it is over speaks to them.
    with pytest.raises(Invalid) as refused:
        checkin(db, patient, TAKEN + timedelta(minutes=176), "end",
                {"ready_alone": True, "systolic": 120, "diastolic": 80, "sedation": 1},
                dose=dose)
    assert "You must respond normally" in str(refused.value)


def test_session_checkins_follow_the_dose(db, patient):
    dose = gated_dose(db, patient)  # taken 10:05
    key = f":{dose.id}"

    def states(now: datetime) -> dict[str, str]:
        return {d.key: d.state for d in service.due_checkins(db, patient, utc(now))
                if d.key.endswith(key)}

    plus40, end, morning = f"plus40{key}", f"end{key}", f"next_morning{key}"
    # Due from when the form opens: the +40 recheck 35 minutes after the dose, the end 5
    # minutes before the observation time is over (a retester read "Later" at +38 while the
    # form was open and the sitter's page said due).
    assert states(TAKEN + timedelta(minutes=34)) == {plus40: "upcoming", end: "upcoming",
                                                     morning: "upcoming"}
    assert states(TAKEN + timedelta(minutes=35))[plus40] == "due"
    assert states(TAKEN + timedelta(minutes=80))[plus40] == "due"
    assert states(TAKEN + timedelta(minutes=81))[plus40] == "missed"
    assert states(TAKEN + timedelta(minutes=114))[end] == "upcoming"
    assert states(TAKEN + timedelta(minutes=115))[end] == "due"
    assert states(TAKEN + timedelta(minutes=241))[end] == "missed"
    next_morning = datetime(2026, 1, 13, 9, 0, tzinfo=NY)
    assert states(next_morning - timedelta(minutes=1))[morning] == "upcoming"
    assert states(next_morning)[morning] == "due"
    assert states(next_morning + timedelta(hours=6, minutes=1))[morning] == "missed"

    checkin(db, patient, TAKEN + timedelta(minutes=45), "plus40",
            {"systolic": 140, "diastolic": 88}, dose=dose)
    checkin(db, patient, next_morning + timedelta(minutes=30), "next_morning",
            {"slept": True}, dose=dose)
    assert states(next_morning + timedelta(hours=7)) == {plus40: "done", end: "missed",
                                                         morning: "done"}


def test_session_items_link_to_the_form_for_that_dose(db, patient):
    dose = gated_dose(db, patient)
    items = due_map(db, patient, TAKEN + timedelta(minutes=41))
    assert items["plus40"].url == f"/checkins/plus40?dose={dose.id}"
    assert items["plus40"].due_at == utc(TAKEN + timedelta(minutes=40))
    assert items["next_morning"].due_at == utc(datetime(2026, 1, 13, 9, 0, tzinfo=NY))


def test_a_dose_entered_in_error_has_no_session_checkins(db, patient):
    dose = gated_dose(db, patient)
    corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=dose.id,
                                revision_id=uuid.uuid4(),
                                reason="Logged twice.",
                                now=utc(TAKEN + timedelta(minutes=10)))
    assert not [d for d in service.due_checkins(db, patient, utc(TAKEN + timedelta(minutes=41)))
                if str(dose.id) in d.key]


# --- the session record -------------------------------------------------------------------------


def test_the_session_record_combines_the_whole_session(db, patient):
    dose = gated_dose(db, patient)  # gate 124/80 with the sitter present, taken 10:05
    checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
            {"systolic": 142, "diastolic": 90, "heart_rate": 88, "dissociation": 6,
             "sedation": 1, "nausea": "moderate", "dizziness": "mild"}, dose=dose)
    checkin(db, patient, TAKEN + timedelta(minutes=75), "plus40",
            {"dissociation": 7, "sedation": 2}, dose=dose)
    checkin(db, patient, TAKEN + timedelta(minutes=125), "end",
            {"systolic": 128, "diastolic": 82, "dissociation": 1, "sedation": 0,
             "nausea": "mild", "headache": "mild", "ready_alone": True}, dose=dose)
    checkin(db, patient, datetime(2026, 1, 13, 9, 10, tzinfo=NY), "next_morning",
            {"slept": True, "residual": "mild", "mood": 7}, dose=dose)

    record = service.session_record(db, dose)
    assert record.bp_before == (124, 80)
    assert record.bp_plus40 == (142, 90)
    assert record.bp_end == (128, 82)
    assert record.peak_dissociation == 7
    assert record.worst_sedation == 2
    assert record.side_effects == {"nausea": "moderate", "dizziness": "mild", "headache": "mild"}
    assert record.sitter_present is True
    assert record.ready_alone_at == utc(TAKEN + timedelta(minutes=125))
    assert record.duration_minutes == 125
    assert record.next_morning == {"slept": True, "residual": "mild", "mood": 7}


def test_a_session_without_a_gate_takes_the_before_reading_from_its_pre_checkin(db, patient):
    dose = ungated_dose(db, patient)
    checkin(db, patient, TAKEN - timedelta(minutes=1), "pre",
            {"systolic": 131, "diastolic": 84}, dose=dose)
    record = service.session_record(db, dose)
    assert record.bp_before == (131, 84)
    assert record.sitter_present is None
    assert (record.bp_plus40, record.bp_end) == (None, None)
    assert (record.peak_dissociation, record.worst_sedation) == (None, None)
    assert record.side_effects == {}
    assert (record.ready_alone_at, record.duration_minutes) == (None, None)


def test_a_session_not_yet_ready_to_be_alone_has_no_duration(db, patient):
    dose = gated_dose(db, patient)
    checkin(db, patient, TAKEN + timedelta(minutes=120), "end",
            {"ready_alone": False, "nausea": "none"}, dose=dose)
    record = service.session_record(db, dose)
    assert record.ready_alone_at is None and record.duration_minutes is None
    assert record.side_effects == {}  # "none" is not a side effect


def test_the_record_of_one_dose_ignores_another_doses_checkins(db, patient):
    first = gated_dose(db, patient)
    second = gated_dose(db, patient, datetime(2026, 1, 15, 10, 0, tzinfo=NY))
    checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40", {"dissociation": 9},
            dose=first)
    assert service.session_record(db, second).peak_dissociation is None
    assert service.session_record(db, first).peak_dissociation == 9


def test_the_session_record_keeps_every_blood_pressure_reading_in_time_order(db, patient):
    dose = gated_dose(db, patient)  # gate 124/80 pulse 72 at 10:00, taken 10:05
    checkin(db, patient, TAKEN + timedelta(minutes=75), "plus40",
            {"systolic": 150, "diastolic": 92}, dose=dose)  # a recheck, entered first
    checkin(db, patient, TAKEN + timedelta(minutes=40), "plus40",
            {"systolic": 162, "diastolic": 96, "heart_rate": 90}, dose=dose)
    checkin(db, patient, TAKEN + timedelta(minutes=60), "plus40", {"sedation": 1}, dose=dose)
    checkin(db, patient, TAKEN + timedelta(minutes=125), "end",
            {**READY, "heart_rate": 74}, dose=dose)

    record = service.session_record(db, dose)
    assert [(r.slot, r.systolic, r.diastolic, r.heart_rate, r.minutes_after_dose)
            for r in record.readings] == [
        ("gate", 124, 80, 72, -5),
        ("plus40", 162, 96, 90, 40),
        ("plus40", 150, 92, None, 75),
        ("end", 128, 82, 74, 125),
    ]
    assert record.readings[1].at == utc(TAKEN + timedelta(minutes=40))
    # The summary fields stay: the latest reading of each slot.
    assert (record.bp_before, record.bp_plus40, record.bp_end) == (
        (124, 80), (150, 92), (128, 82))


def test_without_a_gate_the_pre_checkin_reading_opens_the_list(db, patient):
    dose = ungated_dose(db, patient)
    checkin(db, patient, TAKEN - timedelta(minutes=1), "pre",
            {"systolic": 131, "diastolic": 84}, dose=dose)
    record = service.session_record(db, dose)
    assert [(r.slot, r.systolic, r.minutes_after_dose) for r in record.readings] == [
        ("pre", 131, -1)]
