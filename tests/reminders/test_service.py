"""Planning into the database with an explicit clock: idempotent upserts, rows that follow
protocol and timezone changes, still_needed after things are logged, supply, caregiver consent,
snooze and the preferences' validation. Real SQLite and PostgreSQL."""

import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from app.accounts.models import Role
from app.careteam.models import CareLink
from app.checkins import service as checkins
from app.db import engine
from app.doses import corrections, ledger
from app.doses import service as doses
from app.errors import Invalid, NotFound
from app.reminders import service
from app.reminders.models import OccurrenceStatus, ReminderOccurrence, ReminderPreferences
from tests import factories
from tests.conftest import IS_POSTGRES

NY = ZoneInfo("America/New_York")
# The default protocol: Mon/Thu 10:00 America/New_York from Mon 2026-01-05, grace 4 h.
SUNDAY_NOON = datetime(2026, 1, 11, 12, 0, tzinfo=NY).astimezone(UTC)
MONDAY = datetime(2026, 1, 12, 10, 0, tzinfo=NY).astimezone(UTC)  # a session


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


@pytest.fixture
def world(db):
    prescriber, patient, _ = factories.patient_with_protocol(db, now=ny(2026, 1, 2, 9))
    db.commit()
    return prescriber, patient


def rows(db, user, *, status: str | None = None) -> dict[tuple[str, str], ReminderOccurrence]:
    stmt = select(ReminderOccurrence).where(ReminderOccurrence.user_id == user.id)
    if status:
        stmt = stmt.where(ReminderOccurrence.status == status)
    db.expire_all()
    return {(r.rule, r.local_time): r for r in db.exec(stmt).all()}


def by_kind(found: dict, kind: str) -> list[ReminderOccurrence]:
    return sorted((r for r in found.values() if r.kind == kind), key=lambda r: r.local_time)


def take(db, patient, when: datetime):
    return doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=when,
        data={"taken_at": when.isoformat(), "dose_mg": "100", "route": "sublingual",
              "no_gate_reason": "Logged later."}, now=when)


def checkin(db, patient, at: datetime, slot: str, values: dict, dose=None):
    data: dict = {"slot": slot, "values": values}
    if dose is not None:
        data["dose_id"] = str(dose.id)
    return checkins.record_checkin(db, patient=patient, author=patient,
                                   checkin_id=uuid.uuid4(), recorded_at=at, data=data, now=at)


def fill(db, patient, now, count: int):
    return ledger.record_fill(db, patient=patient, entry_id=uuid.uuid4(), now=now, data={
        "filled_on": now.astimezone(NY).date().isoformat(), "count": count,
        "strength_mg": "100"})


# --- planning -------------------------------------------------------------------------------


def test_planning_materialises_the_next_36_hours(db, world):
    _, patient = world
    result = service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    found = rows(db, patient)
    assert result.inserted == len(found) == result.planned
    session = found[("session", "2026-01-12T10:00")]
    assert (session.kind, session.due_at, session.send_at, session.url, session.patient_id) == (
        "session", MONDAY, MONDAY, "/today", patient.id)
    assert session.status == OccurrenceStatus.PENDING
    assert ("gate", "2026-01-12T09:45") in found and ("overdue", "2026-01-12T11:00") in found
    assert [r.local_time for r in by_kind(found, "mood")] == ["2026-01-11T20:00",
                                                              "2026-01-12T20:00"]
    assert [r.local_time for r in by_kind(found, "questionnaire")] == ["2026-01-12T20:00"]
    # No troches recorded at all: the supply reminder asks for the fill, and a count is due.
    assert [r.local_time for r in by_kind(found, "supply")] == ["2026-01-11T20:00",
                                                                "2026-01-12T20:00"]
    assert [r.local_time for r in by_kind(found, "count")] == ["2026-01-12T20:00"]
    assert all(SUNDAY_NOON <= r.due_at < SUNDAY_NOON + timedelta(hours=36)
               for r in found.values())


def test_planning_twice_changes_nothing(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    first = {k: (r.id, r.due_at, r.send_at, r.status) for k, r in rows(db, patient).items()}
    again = service.plan(db, patient, SUNDAY_NOON + timedelta(minutes=1))
    db.commit()
    assert (again.inserted, again.updated, again.revived, again.cancelled) == (0, 0, 0, 0)
    assert {k: (r.id, r.due_at, r.send_at, r.status)
            for k, r in rows(db, patient).items()} == first


def test_plan_all_plans_patients_and_caregivers_but_not_the_inactive(db, world):
    prescriber, patient = world
    gone = factories.user(db, role=Role.PATIENT)
    gone.is_active = False
    cg = factories.user(db, role=Role.CAREGIVER)
    factories.link(db, patient, cg)
    db.exec(update(CareLink).where(CareLink.member_id == cg.id).values(receives_alerts=True))
    db.commit()
    result = service.plan_all(db, SUNDAY_NOON)
    db.commit()
    assert result.inserted == len(rows(db, patient)) + len(rows(db, cg)) > 0
    assert rows(db, gone) == {} and rows(db, prescriber) == {}
    assert {r.kind for r in rows(db, cg).values()} == {"caregiver_missed"}
    assert service.plan_all(db, SUNDAY_NOON).inserted == 0


def test_a_protocol_change_moves_pending_reminders_and_leaves_sent_ones(db, world):
    prescriber, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    before = rows(db, patient)
    first_session_id = before[("session", "2026-01-12T10:00")].id
    # Pretend the Monday gate already went out (a dispatcher took it).
    gate = before[("gate", "2026-01-12T09:45")]
    db.exec(update(ReminderOccurrence).where(col(ReminderOccurrence.id) == gate.id)
            .values(status=OccurrenceStatus.DISPATCHED))
    factories.protocol(db, prescriber, patient, now=SUNDAY_NOON, induction={
        "cadence": "weekdays", "weekdays": [0, 3], "at": "14:00", "weeks": 4})
    db.commit()
    result = service.plan(db, patient, SUNDAY_NOON + timedelta(minutes=5))
    db.commit()
    after = rows(db, patient)
    assert after[("session", "2026-01-12T10:00")].status == OccurrenceStatus.CANCELLED
    assert after[("overdue", "2026-01-12T11:00")].status == OccurrenceStatus.CANCELLED
    assert after[("gate", "2026-01-12T09:45")].status == OccurrenceStatus.DISPATCHED
    assert after[("session", "2026-01-12T14:00")].due_at == ny(2026, 1, 12, 14)
    assert after[("gate", "2026-01-12T13:45")].status == OccurrenceStatus.PENDING
    assert result.cancelled == 2  # the 10:00 session and its follow-up (the gate had gone)
    # Back to 10:00: the cancelled rows come back rather than being added again.
    factories.protocol(db, prescriber, patient, now=SUNDAY_NOON)
    db.commit()
    result = service.plan(db, patient, SUNDAY_NOON + timedelta(minutes=10))
    db.commit()
    again = rows(db, patient)
    assert result.revived == 2
    assert again[("session", "2026-01-12T10:00")].id == first_session_id
    assert again[("session", "2026-01-12T10:00")].status == OccurrenceStatus.PENDING
    assert again[("session", "2026-01-12T14:00")].status == OccurrenceStatus.CANCELLED
    assert again[("gate", "2026-01-12T09:45")].status == OccurrenceStatus.DISPATCHED


def test_a_new_time_saved_after_todays_dose_plans_no_second_session_that_day(db, world):
    """Monday's dose at 9:30 for the 10:00 session; at 9:40 the prescriber moved sessions to
    18:00. The planner read the current version alone, so it planned Monday 18:00's gate,
    session and overdue reminders: a push to take a second dose the same day."""
    prescriber, patient = world
    take(db, patient, ny(2026, 1, 12, 9, 30))
    factories.protocol(db, prescriber, patient, now=ny(2026, 1, 12, 9, 40), induction={
        "cadence": "weekdays", "weekdays": [0, 3], "at": "18:00", "weeks": 4})
    db.commit()
    service.plan(db, patient, ny(2026, 1, 12, 9, 45))
    db.commit()
    planned = {key for key, row in rows(db, patient).items()
               if row.status == OccurrenceStatus.PENDING}
    assert not {key for key in planned if key[0] in ("gate", "session", "overdue")}
    # Thursday's, at the new time, once it is in reach.
    service.plan(db, patient, ny(2026, 1, 14, 12))
    db.commit()
    assert rows(db, patient)[("session", "2026-01-15T18:00")].status == OccurrenceStatus.PENDING


def test_a_timezone_change_moves_the_instant_of_the_same_row(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    before = {k: (r.id, r.due_at) for k, r in rows(db, patient).items()}
    patient.timezone = "America/Los_Angeles"
    db.add(patient)
    db.commit()
    result = service.plan(db, patient, SUNDAY_NOON + timedelta(minutes=1))
    db.commit()
    after = rows(db, patient)
    key = ("session", "2026-01-12T10:00")
    assert after[key].id == before[key][0]
    assert after[key].due_at == after[key].send_at == before[key][1] + timedelta(hours=3)
    mood = ("mood", "2026-01-11T20:00")
    assert after[mood].id == before[mood][0]
    assert after[mood].due_at - before[mood][1] == timedelta(hours=3)
    assert result.updated >= 5 and result.inserted == result.cancelled == 0


def test_quiet_hours_and_turned_off_kinds_replan_pending_rows(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    service.update_preferences(db, user=patient, quiet_start="19:00", quiet_end="07:30",
                               disabled_kinds=["gate"], snooze_minutes=30, message="check_app")
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    found = rows(db, patient)
    mood = found[("mood", "2026-01-11T20:00")]
    assert mood.due_at == ny(2026, 1, 11, 20) and mood.send_at == ny(2026, 1, 12, 7, 30)
    assert mood.status == OccurrenceStatus.PENDING
    assert found[("gate", "2026-01-12T09:45")].status == OccurrenceStatus.CANCELLED
    assert found[("session", "2026-01-12T10:00")].status == OccurrenceStatus.PENDING


def test_planning_leaves_alerts_tests_and_snoozes_alone(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    mood = rows(db, patient)[("mood", "2026-01-11T20:00")]
    snoozed = service.snooze(db, user=patient, occurrence_id=mood.id, now=SUNDAY_NOON)
    later = SUNDAY_NOON + timedelta(hours=1)
    test = ReminderOccurrence(user_id=patient.id, kind="test", rule="test:x",
                              local_time="2026-01-11T13:00", due_at=later, send_at=later,
                              url="/account/reminders", created_at=SUNDAY_NOON)
    db.add(test)
    db.commit()
    service.update_preferences(db, user=patient, quiet_start=None, quiet_end=None,
                               disabled_kinds=["mood"], snooze_minutes=15, message="scheduled")
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    found = rows(db, patient)
    assert found[("mood", "2026-01-11T20:00")].status == OccurrenceStatus.CANCELLED
    assert found[(snoozed.rule, snoozed.local_time)].status == OccurrenceStatus.PENDING
    assert found[("test:x", "2026-01-11T13:00")].status == OccurrenceStatus.PENDING


# --- still needed ---------------------------------------------------------------------------


def test_still_needed_after_a_dose_is_logged(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    found = rows(db, patient)
    session_row = found[("session", "2026-01-12T10:00")]
    assert service.still_needed(db, session_row, MONDAY) is None
    dose = take(db, patient, MONDAY + timedelta(minutes=5))
    db.commit()
    now = MONDAY + timedelta(minutes=6)
    for key in (("session", "2026-01-12T10:00"), ("gate", "2026-01-12T09:45"),
                ("overdue", "2026-01-12T11:00")):
        assert service.still_needed(db, found[key], now) == "done", key
    # The dose has check-ins of its own now; the plan has dropped the session's follow-up.
    service.plan(db, patient, now)
    db.commit()
    found = rows(db, patient)
    assert found[("overdue", "2026-01-12T11:00")].status == OccurrenceStatus.CANCELLED
    recheck = next(r for r in found.values() if r.rule == f"recheck:{dose.id}")
    assert recheck.due_at == dose.taken_at + timedelta(minutes=40)
    assert recheck.url == f"/checkins/plus40?dose={dose.id}"
    end = next(r for r in found.values() if r.rule == f"checkin:end:{dose.id}")
    assert service.still_needed(db, recheck, now) is None
    checkin(db, patient, dose.taken_at + timedelta(minutes=41), "plus40",
            {"systolic": 130, "diastolic": 82}, dose=dose)
    db.commit()
    assert service.still_needed(db, recheck, now + timedelta(minutes=40)) == "done"
    assert service.still_needed(db, end, now + timedelta(minutes=40)) is None
    # The dose was a mistake: its check-ins are not asked for, and the session is again.
    corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=dose.id,
                                      revision_id=uuid.uuid4(), reason="Logged twice.",
                                      now=now + timedelta(minutes=40))
    db.commit()
    later = now + timedelta(minutes=45)  # 10:51, before the 11:00 follow-up
    assert service.still_needed(db, end, later) == "dose_removed"
    assert service.still_needed(db, session_row, later) is None
    service.plan(db, patient, later)
    db.commit()
    found = rows(db, patient)
    assert found[("overdue", "2026-01-12T11:00")].status == OccurrenceStatus.PENDING  # revived
    assert found[(end.rule, end.local_time)].status == OccurrenceStatus.CANCELLED


def test_a_session_an_extra_dose_made_too_soon_is_not_sent(db, world):
    """Planned on Sunday morning; an extra dose at Sunday noon makes Monday's 10:00 too soon
    (48 h apart). At send time the session, its gate and its follow-up are skipped as too soon
    rather than sent to a page that holds the dose; the next plan drops them, so "Coming up"
    does not list them either."""
    _, patient = world
    morning = SUNDAY_NOON - timedelta(hours=3)
    service.plan(db, patient, morning)
    db.commit()
    found = rows(db, patient)
    planned = [found[("session", "2026-01-12T10:00")], found[("gate", "2026-01-12T09:45")],
               found[("overdue", "2026-01-12T11:00")]]
    assert all(service.still_needed(db, r, r.due_at) is None for r in planned)
    take(db, patient, SUNDAY_NOON)
    db.commit()
    for r in planned:
        assert service.still_needed(db, r, r.due_at) == "too_soon", r.kind
    service.plan(db, patient, SUNDAY_NOON + timedelta(minutes=1))
    db.commit()
    found = rows(db, patient)
    for key in (("session", "2026-01-12T10:00"), ("gate", "2026-01-12T09:45"),
                ("overdue", "2026-01-12T11:00")):
        assert found[key].status == OccurrenceStatus.CANCELLED, key


def test_the_end_of_session_reminder_waits_for_the_plans_observation_time(db, world):
    prescriber, patient = world
    factories.protocol(db, prescriber, patient, observation_minutes=180,
                       now=ny(2026, 1, 10, 9))
    db.commit()
    dose = take(db, patient, MONDAY + timedelta(minutes=5))
    db.commit()
    service.plan(db, patient, MONDAY + timedelta(minutes=6))
    db.commit()
    end = next(r for r in rows(db, patient).values() if r.rule == f"checkin:end:{dose.id}")
    assert end.due_at == dose.taken_at + timedelta(minutes=180)


def test_a_gate_check_settles_the_gate(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    gate = rows(db, patient)[("gate", "2026-01-12T09:45")]
    at = MONDAY - timedelta(minutes=20)
    doses.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=at,
                      data=factories.gate_data(), now=at)
    db.commit()
    assert service.still_needed(db, gate, at + timedelta(minutes=5)) == "done"


def test_still_needed_for_mood_and_questionnaires(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    found = rows(db, patient)
    mood = found[("mood", "2026-01-12T20:00")]
    questionnaire = found[("questionnaire", "2026-01-12T20:00")]
    evening = ny(2026, 1, 12, 19)
    assert service.still_needed(db, mood, evening) is None
    checkin(db, patient, ny(2026, 1, 11, 21), "daily", {"mood": 5})  # yesterday's
    assert service.still_needed(db, mood, evening) is None
    checkin(db, patient, ny(2026, 1, 12, 8), "daily", {"mood": 6})
    assert service.still_needed(db, mood, evening) == "done"
    answer = {"phq9": [0] * 9, "gad7": [0] * 7 + [None]}
    for n, instrument in enumerate(("phq9", "gad7")):
        assert service.still_needed(db, questionnaire, evening) is None
        checkins.record_questionnaire(
            db, patient=patient, response_id=uuid.uuid4(), completed_at=ny(2026, 1, 12, 9 + n),
            data={"instrument": instrument, "answers": answer[instrument]}, now=evening)
    assert service.still_needed(db, questionnaire, evening) == "done"


def test_still_needed_when_a_kind_is_turned_off_or_the_protocol_is_gone(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    found = rows(db, patient)
    session_row = found[("session", "2026-01-12T10:00")]
    service.update_preferences(db, user=patient, quiet_start=None, quiet_end=None,
                               disabled_kinds=["session"], snooze_minutes=15,
                               message="scheduled")
    assert service.still_needed(db, session_row, MONDAY) == "turned_off"
    other = factories.user(db, role=Role.PATIENT)
    stray = ReminderOccurrence(user_id=other.id, patient_id=other.id, kind="session",
                               rule="session", local_time="2026-01-12T10:00", due_at=MONDAY,
                               send_at=MONDAY, url="/today", created_at=SUNDAY_NOON)
    assert service.still_needed(db, stray, MONDAY) == "no_protocol"


def test_a_count_settles_the_count_reminder(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    count = by_kind(rows(db, patient), "count")[0]
    assert service.still_needed(db, count, count.due_at) is None
    ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), now=ny(2026, 1, 12, 9),
                        data={"counted_at": ny(2026, 1, 12, 9).isoformat(), "count": 4})
    assert service.still_needed(db, count, count.due_at) == "done"


def test_supply_reminders_while_low_and_when_a_fill_was_not_recorded(db, world):
    _, patient = world
    # The schedule ahead: Mon/Thu to 2 February, then weekly: 1.75 troches a week.
    fill(db, patient, ny(2026, 1, 9, 12), 30)  # 120 days
    db.commit()
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    assert by_kind(rows(db, patient), "supply") == []
    # A count of 1: 4 days left, inside the 7-day refill window.
    ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), now=ny(2026, 1, 11, 11),
                        data={"counted_at": ny(2026, 1, 11, 11).isoformat(), "count": 1})
    db.commit()
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    supply = by_kind(rows(db, patient), "supply")
    assert [r.local_time for r in supply] == ["2026-01-11T20:00", "2026-01-12T20:00"]
    assert supply[0].url == "/supply"
    fill(db, patient, ny(2026, 1, 11, 13), 20)
    db.commit()
    assert service.still_needed(db, supply[0], ny(2026, 1, 11, 20)) == "resolved"
    service.plan(db, patient, SUNDAY_NOON + timedelta(hours=2))
    db.commit()
    assert {r.status for r in by_kind(rows(db, patient), "supply")} == {
        OccurrenceStatus.CANCELLED}


def test_a_negative_balance_reminds_about_the_fill(db, world):
    _, patient = world
    ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), now=ny(2026, 1, 8, 9),
                        data={"counted_at": ny(2026, 1, 8, 9).isoformat(), "count": 0})
    take(db, patient, ny(2026, 1, 8, 10))  # a dose with nothing on hand: a fill was missed
    db.commit()
    assert ledger.expected_balance(db, patient.id, SUNDAY_NOON) == Decimal(-1)
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    supply = by_kind(rows(db, patient), "supply")
    assert len(supply) == 2
    assert service.still_needed(db, supply[0], supply[0].due_at) is None


def test_the_planners_balance_matches_the_ledger(db, world):
    _, patient = world
    fill(db, patient, ny(2026, 1, 5, 8), 10)
    take(db, patient, ny(2026, 1, 5, 10))
    ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), now=ny(2026, 1, 6, 9),
                        data={"counted_at": ny(2026, 1, 6, 9).isoformat(), "count": "8.5"})
    take(db, patient, ny(2026, 1, 8, 10))
    fill(db, patient, ny(2026, 1, 9, 12), 4)
    db.commit()
    facts = service._patient_facts(db, [patient], SUNDAY_NOON)[patient.id]
    assert facts.supply is not None
    assert facts.supply.balance == ledger.expected_balance(db, patient.id, SUNDAY_NOON) \
        == Decimal("11.5")
    assert facts.supply.last_count_at == ny(2026, 1, 6, 9)


# --- caregivers -----------------------------------------------------------------------------


def accept_alerts(db, patient, cg, value: bool = True):
    db.exec(update(CareLink).where(CareLink.member_id == cg.id, CareLink.patient_id == patient.id)
            .values(receives_alerts=value))
    db.commit()


def test_caregiver_escalation_needs_link_acceptance_and_consent(db, world):
    _, patient = world
    cg = factories.user(db, role=Role.CAREGIVER)
    factories.link(db, patient, cg)
    db.commit()
    service.plan(db, cg, SUNDAY_NOON)
    assert rows(db, cg) == {}  # linked, but alerts not accepted
    accept_alerts(db, patient, cg)
    service.plan(db, cg, SUNDAY_NOON)
    db.commit()
    missed = rows(db, cg)[(f"caregiver_missed:{patient.id}:session", "2026-01-12T11:00")]
    assert missed.due_at == MONDAY + timedelta(minutes=60) and missed.url == "/supporting"
    assert missed.patient_id == patient.id
    assert service.still_needed(db, missed, missed.due_at) is None
    # The patient withdraws consent: the reminder goes, and would be skipped if already due.
    checkins.update_patient_settings(db, patient=patient, mood_time="20:00", share_alerts=False)
    db.commit()
    assert service.still_needed(db, missed, missed.due_at) == "no_consent"
    service.plan(db, cg, SUNDAY_NOON)
    db.commit()
    assert rows(db, cg)[missed.rule, missed.local_time].status == OccurrenceStatus.CANCELLED
    checkins.update_patient_settings(db, patient=patient, mood_time="20:00", share_alerts=True)
    service.plan(db, cg, SUNDAY_NOON)
    db.commit()
    assert rows(db, cg)[missed.rule, missed.local_time].status == OccurrenceStatus.PENDING
    # The link is revoked.
    db.exec(update(CareLink).where(CareLink.member_id == cg.id).values(revoked_at=SUNDAY_NOON))
    db.commit()
    assert service.still_needed(db, missed, missed.due_at) == "no_consent"


def test_caregiver_escalation_is_settled_by_the_dose_and_the_recheck(db, world):
    _, patient = world
    cg = factories.user(db, role=Role.CAREGIVER)
    factories.link(db, patient, cg)
    accept_alerts(db, patient, cg)
    service.plan(db, cg, SUNDAY_NOON)
    db.commit()
    missed = rows(db, cg)[(f"caregiver_missed:{patient.id}:session", "2026-01-12T11:00")]
    dose = take(db, patient, MONDAY + timedelta(minutes=5))
    db.commit()
    assert service.still_needed(db, missed, missed.due_at) == "done"
    service.plan(db, cg, MONDAY + timedelta(minutes=6))
    db.commit()
    found = rows(db, cg)
    recheck = found[(f"caregiver_missed:{patient.id}:recheck:{dose.id}", "2026-01-12T11:45")]
    assert recheck.due_at == dose.taken_at + timedelta(minutes=100)
    assert found[missed.rule, missed.local_time].status == OccurrenceStatus.CANCELLED
    assert service.still_needed(db, recheck, recheck.due_at) is None
    checkin(db, patient, dose.taken_at + timedelta(minutes=45), "plus40",
            {"systolic": 128, "diastolic": 80}, dose=dose)
    db.commit()
    assert service.still_needed(db, recheck, recheck.due_at) == "done"


# --- snooze ---------------------------------------------------------------------------------


def test_snooze_is_idempotent_and_ignores_quiet_hours(db, world):
    _, patient = world
    service.update_preferences(db, user=patient, quiet_start="00:00", quiet_end="23:59",
                               disabled_kinds=[], snooze_minutes=30, message="scheduled")
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    session_row = rows(db, patient)[("session", "2026-01-12T10:00")]
    first = service.snooze(db, user=patient, occurrence_id=session_row.id, now=MONDAY)
    again = service.snooze(db, user=patient, occurrence_id=session_row.id,
                           now=MONDAY + timedelta(minutes=2))
    db.commit()
    assert first.id == again.id
    assert first.send_at == first.due_at == MONDAY + timedelta(minutes=30)
    assert (first.kind, first.url, first.subject_id, first.rule) == (
        "session", "/today", session_row.id, f"snooze:{session_row.id}")
    assert len([r for r in rows(db, patient).values() if r.rule.startswith("snooze:")]) == 1
    # A snooze is judged as the reminder it repeats.
    take(db, patient, MONDAY + timedelta(minutes=10))
    assert service.still_needed(db, first, first.send_at) == "done"


def test_snooze_refuses_another_persons_reminder_and_alerts(db, world):
    _, patient = world
    service.plan(db, patient, SUNDAY_NOON)
    db.commit()
    row = rows(db, patient)[("session", "2026-01-12T10:00")]
    stranger = factories.user(db, role=Role.PATIENT)
    with pytest.raises(NotFound):
        service.snooze(db, user=stranger, occurrence_id=row.id, now=MONDAY)
    with pytest.raises(NotFound):
        service.snooze(db, user=patient, occurrence_id=uuid.uuid4(), now=MONDAY)
    alert = ReminderOccurrence(user_id=patient.id, kind="alert", rule="alert:x:0",
                               local_time="2026-01-12T10:00", due_at=MONDAY, send_at=MONDAY,
                               url="/", created_at=MONDAY)
    db.add(alert)
    db.flush()
    with pytest.raises(Invalid):
        service.snooze(db, user=patient, occurrence_id=alert.id, now=MONDAY)
    assert not [r for r in rows(db, patient).values() if r.rule.startswith("snooze:")]


# --- preferences ----------------------------------------------------------------------------


def test_preferences_default_and_save(db, world):
    _, patient = world
    prefs = service.preferences(db, patient)
    assert (prefs.quiet_start, prefs.quiet_end, prefs.disabled_kinds, prefs.snooze_minutes,
            prefs.message) == (None, None, [], 15, "scheduled")
    assert db.get(ReminderPreferences, patient.id) is None
    service.update_preferences(db, user=patient, quiet_start=time(22, 0), quiet_end="07:00",
                               disabled_kinds=["mood", "gate", "mood"], snooze_minutes="60",
                               message="time_for_it")
    db.commit()
    db.expire_all()
    saved = db.get(ReminderPreferences, patient.id)
    assert (saved.quiet_start, saved.quiet_end, saved.disabled_kinds, saved.snooze_minutes,
            saved.message) == (time(22), time(7), ["gate", "mood"], 60, "time_for_it")


GOOD = {"quiet_start": "22:00", "quiet_end": "07:00", "disabled_kinds": [],
        "snooze_minutes": 15, "message": "scheduled"}


@pytest.mark.parametrize(("change", "field"), [
    ({"snooze_minutes": 20}, "snooze_minutes"),
    ({"snooze_minutes": "soon"}, "snooze_minutes"),
    ({"message": "You have a dose of ketamine."}, "message"),
    ({"quiet_end": None}, "quiet_end"),
    ({"quiet_start": ""}, "quiet_start"),
    ({"quiet_end": "22:00"}, "quiet_end"),
    ({"quiet_start": "25:00"}, "quiet_start"),
    ({"disabled_kinds": ["alert"]}, "disabled_kinds"),  # cannot be turned off
    ({"disabled_kinds": ["caregiver_missed"]}, "disabled_kinds"),  # another role's
    ({"disabled_kinds": ["nonsense"]}, "disabled_kinds"),
])
def test_update_preferences_refuses_bad_values_and_writes_nothing(db, world, change, field):
    _, patient = world
    service.update_preferences(db, user=patient, **{**GOOD, "message": "check_app"})
    db.commit()
    with pytest.raises(Invalid) as err:
        service.update_preferences(db, user=patient, **{**GOOD, **change})
    assert field in err.value.errors
    db.commit()  # whatever the session held is written now
    db.expire_all()
    saved = db.get(ReminderPreferences, patient.id)
    assert (saved.quiet_start, saved.quiet_end, saved.snooze_minutes, saved.message) == (
        time(22), time(7), 15, "check_app")


def test_update_preferences_reports_every_bad_field(db, world):
    _, patient = world
    with pytest.raises(Invalid) as err:
        service.update_preferences(db, user=patient, quiet_start="x", quiet_end="07:00",
                                   disabled_kinds=[], snooze_minutes=5, message="?")
    assert set(err.value.errors) == {"quiet_start", "snooze_minutes", "message"}
    db.commit()
    assert db.get(ReminderPreferences, patient.id) is None


def test_a_caregiver_may_turn_off_escalations_but_not_patient_kinds(db):
    cg = factories.user(db, role=Role.CAREGIVER)
    service.update_preferences(db, user=cg, quiet_start=None, quiet_end=None,
                               disabled_kinds=["caregiver_missed"], snooze_minutes=15,
                               message="scheduled")
    with pytest.raises(Invalid):
        service.update_preferences(db, user=cg, quiet_start=None, quiet_end=None,
                                   disabled_kinds=["mood"], snooze_minutes=15,
                                   message="scheduled")


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.skipif(not IS_POSTGRES, reason="two writers at once need PostgreSQL")
def test_two_planners_at_once_make_one_row_per_key(db, world, monkeypatch):
    prescriber, patient = world
    cg = factories.user(db, role=Role.CAREGIVER)
    factories.link(db, patient, cg)
    accept_alerts(db, patient, cg)
    errors: list[BaseException] = []
    existing = service._existing
    state: dict = {}

    def read_together(session, user_ids, now):
        # Both planners read the rows before either writes: each decides the same inserts,
        # updates and cancellations, then both write at once.
        found = existing(session, user_ids, now)
        state["barrier"].wait(timeout=30)
        return found

    monkeypatch.setattr(service, "_existing", read_together)

    def planner_thread(now: datetime, everyone: bool) -> None:
        try:
            with Session(engine) as session:
                if everyone:
                    service.plan_all(session, now)
                else:
                    service.plan(session, session.get(type(patient), patient.id), now)
                session.commit()
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    def both_plan(now: datetime) -> None:
        state["barrier"] = threading.Barrier(2)
        threads = [threading.Thread(target=planner_thread, args=(now, n == 1)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []

    both_plan(SUNDAY_NOON)
    both_plan(SUNDAY_NOON + timedelta(hours=20))  # a new day enters the horizon
    # A protocol change: both move, cancel and add rows at once.
    factories.protocol(db, prescriber, patient, now=SUNDAY_NOON, induction={
        "cadence": "weekdays", "weekdays": [0, 3], "at": "14:00", "weeks": 4})
    db.commit()
    both_plan(SUNDAY_NOON + timedelta(hours=21))
    db.expire_all()
    keys = db.exec(
        select(ReminderOccurrence.user_id, ReminderOccurrence.rule,
               ReminderOccurrence.local_time, func.count())
        .group_by(ReminderOccurrence.user_id, ReminderOccurrence.rule,
                  ReminderOccurrence.local_time)
    ).all()
    assert keys and all(n == 1 for *_, n in keys)
    found = rows(db, patient)
    assert found[("session", "2026-01-12T10:00")].status == OccurrenceStatus.CANCELLED
    assert found[("session", "2026-01-12T14:00")].status == OccurrenceStatus.PENDING
    assert rows(db, cg)
