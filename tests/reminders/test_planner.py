"""The pure planner: which reminders a person gets in the next 36 hours, at which instant, with
which key; DST, timezone moves, quiet hours, turned-off kinds, and properties over random
schedules."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocols.schedule import Cadence, Phase, PhasePlan
from app.reminders import planner
from app.reminders.kinds import KINDS
from app.reminders.planner import (
    HORIZON,
    DoseFacts,
    PatientFacts,
    PersonFacts,
    SupplyFacts,
    plan,
    send_at_for,
)

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
PATIENT_ID = uuid.UUID(int=1)
CAREGIVER_ID = uuid.UUID(int=2)


@dataclass
class Prefs:
    quiet_start: time | None = None
    quiet_end: time | None = None
    disabled_kinds: list[str] = field(default_factory=list)


def weekdays(days: set[int], at: time = time(10), starts_on: date = date(2026, 1, 5)) -> PhasePlan:
    return PhasePlan(phase=Phase.INDUCTION, starts_on=starts_on, cadence=Cadence.WEEKDAYS,
                     at=at, weekdays=frozenset(days))


def daily(at: time, starts_on: date = date(2026, 1, 5)) -> PhasePlan:
    return PhasePlan(phase=Phase.INDUCTION, starts_on=starts_on, cadence=Cadence.INTERVAL,
                     at=at, every_n_days=1)


def patient_facts(*plans: PhasePlan, tz: str = "America/New_York", **kw) -> PatientFacts:
    values = {"patient_id": PATIENT_ID, "timezone": tz, "has_protocol": bool(plans),
              "plans": plans, "grace": timedelta(hours=4), **kw}
    return PatientFacts(**values)


def patient(facts: PatientFacts, prefs: Prefs | None = None, tz: str | None = None) -> PersonFacts:
    return PersonFacts(user_id=PATIENT_ID, role="patient", timezone=tz or facts.timezone,
                       prefs=prefs or Prefs(), patient=facts)


def caregiver(*supported: PatientFacts, prefs: Prefs | None = None,
              tz: str = "America/New_York") -> PersonFacts:
    return PersonFacts(user_id=CAREGIVER_ID, role="caregiver", timezone=tz,
                       prefs=prefs or Prefs(), supported=supported,
                       escalation=timedelta(minutes=60))


def local(*args: int, tz: ZoneInfo = NY) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def of(items, kind: str) -> list[planner.Desired]:
    return [i for i in items if i.kind == kind]


def sweep(person: PersonFacts, start: datetime, end: datetime, step=timedelta(hours=1)):
    """Plan at every step from start to end, as a dispatcher would: {key: every item seen}."""
    seen: dict[tuple[str, str], set[planner.Desired]] = {}
    now = start
    while now < end:
        for item in plan(person, now):
            seen.setdefault(item.key, set()).add(item)
        now += step
    return seen


# --- sessions and the gate ------------------------------------------------------------------


def test_a_normal_week_has_each_session_and_its_gate_once_at_the_wall_time():
    person = patient(patient_facts(weekdays({MON, THU})))
    seen = sweep(person, local(2026, 1, 11, 0), local(2026, 1, 18, 0))
    sessions = sorted(k for k in seen if k[0] == "session")
    gates = sorted(k for k in seen if k[0] == "gate")
    assert sessions == [("session", "2026-01-12T10:00"), ("session", "2026-01-15T10:00"),
                        ("session", "2026-01-19T10:00")]
    assert gates == [("gate", "2026-01-12T09:45"), ("gate", "2026-01-15T09:45"),
                     ("gate", "2026-01-19T09:45")]
    # Each key always plans the same instant, whoever plans it when.
    assert all(len(items) == 1 for items in seen.values())
    (monday,) = seen[("session", "2026-01-12T10:00")]
    assert monday.due_at == monday.send_at == local(2026, 1, 12, 10)
    assert monday.url == "/today" and monday.patient_id == PATIENT_ID
    (gate,) = seen[("gate", "2026-01-12T09:45")]
    assert gate.due_at == local(2026, 1, 12, 9, 45)


def test_nothing_is_planned_in_the_past_or_beyond_36_hours():
    person = patient(patient_facts(daily(time(10))))
    now = local(2026, 1, 12, 10, 30)  # today's session is half an hour ago
    items = plan(person, now)
    assert [i.local_time for i in of(items, "session")] == ["2026-01-13T10:00"]
    assert all(now <= i.send_at and i.due_at < now + HORIZON for i in items)
    # Today's overdue follow-up (11:00) is still ahead; tomorrow's is too.
    assert [i.local_time for i in of(items, "overdue")] == ["2026-01-12T11:00",
                                                            "2026-01-13T11:00"]


def test_a_taken_session_gets_no_reminders_and_a_gate_check_settles_the_gate():
    taken = DoseFacts(uuid.uuid4(), local(2026, 1, 12, 9, 30))
    facts = patient_facts(weekdays({MON, THU}), doses=(taken,))
    items = plan(patient(facts), local(2026, 1, 12, 9, 35))
    assert not [i for i in items if i.local_time.startswith("2026-01-12T1")
                and i.kind in ("session", "overdue")]
    checked = patient_facts(weekdays({MON, THU}), gate_checks=(local(2026, 1, 12, 9, 0),))
    items = plan(patient(checked), local(2026, 1, 12, 9, 5))
    assert of(items, "gate") == []
    assert [i.local_time for i in of(items, "session")] == ["2026-01-12T10:00"]


@pytest.mark.parametrize(("grace", "after"), [
    (timedelta(hours=4), timedelta(minutes=60)),  # long grace: a fixed hour after
    (timedelta(minutes=40), timedelta(minutes=20)),  # short grace: half of it
    (timedelta(0), None),  # never overdue: no follow-up
])
def test_the_overdue_follow_up_comes_while_the_session_can_still_be_taken(grace, after):
    facts = patient_facts(weekdays({MON}), grace=grace)
    items = of(plan(patient(facts), local(2026, 1, 12, 8)), "overdue")
    if after is None:
        assert items == []
    else:
        assert [i.due_at for i in items] == [local(2026, 1, 12, 10) + after]
        assert items[0].due_at <= local(2026, 1, 12, 10) + grace


def test_a_session_the_check_would_hold_as_too_soon_is_not_reminded_of():
    """Mon/Thu 10:00, 48 h apart: after an extra dose on Sunday at noon, Monday's session is
    too soon at 10:00 and at its 11:00 follow-up. No session, gate, follow-up or caregiver
    reminder asks for that dose (the check would refuse it; Today warns instead)."""
    extra = DoseFacts(uuid.uuid4(), local(2026, 1, 11, 12), frozenset({"plus40", "end"}))
    facts = patient_facts(weekdays({MON, THU}), doses=(extra,), last_dose_at=extra.taken_at,
                          min_interval=timedelta(hours=48))
    now = local(2026, 1, 11, 14)
    monday = [i for i in plan(patient(facts), now) if i.local_time.startswith("2026-01-12")
              and i.kind in ("session", "gate", "overdue")]
    assert monday == []
    assert of(plan(caregiver(facts), now), "caregiver_missed") == []
    # Without that dose, all four are planned.
    free = replace(facts, doses=(), last_dose_at=None)
    assert {i.kind for i in plan(patient(free), now)} >= {"session", "gate", "overdue"}
    assert of(plan(caregiver(free), now), "caregiver_missed")


def test_a_session_that_becomes_allowed_in_its_grace_keeps_its_follow_up():
    """23 h apart: at 10:00 Monday the dose is still too soon (Sunday 11:30 + 23 h = 10:30),
    so no session or gate reminder; the 11:00 follow-up comes, once the check would allow it.
    The last dose counts even when it is older than the few days `doses` holds."""
    facts = patient_facts(weekdays({MON, THU}), last_dose_at=local(2026, 1, 11, 11, 30),
                          min_interval=timedelta(hours=23))
    items = plan(patient(facts), local(2026, 1, 11, 14))
    assert [(i.kind, i.local_time) for i in items if i.local_time.startswith("2026-01-12T")
            and i.kind in ("session", "gate", "overdue")] == [("overdue", "2026-01-12T11:00")]
    # Exactly the interval is allowed, as the gate's rule says.
    assert not planner.held_as_too_soon(local(2026, 1, 11, 11), local(2026, 1, 12, 10),
                                        local(2026, 1, 11, 14), timedelta(hours=23))
    assert planner.held_as_too_soon(local(2026, 1, 11, 11, 1), local(2026, 1, 12, 10),
                                    local(2026, 1, 11, 14), timedelta(hours=23))
    # Judged at now when now is later than the moment (a reminder sent late).
    assert not planner.held_as_too_soon(local(2026, 1, 11, 11, 30), local(2026, 1, 12, 10),
                                        local(2026, 1, 12, 10, 30), timedelta(hours=23))


# --- DST and timezone moves -----------------------------------------------------------------


def test_spring_gap_session_fires_once_at_the_moved_forward_instant():
    # 02:30 does not exist on Sunday 8 March 2026 in New York: the session is at 03:30 EDT.
    facts = patient_facts(daily(time(2, 30), starts_on=date(2026, 3, 1)), mood_time=time(2, 30))
    seen = sweep(patient(facts), local(2026, 3, 6, 12), local(2026, 3, 10, 0))
    (session,) = seen[("session", "2026-03-08T02:30")]
    assert session.due_at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    (gate,) = seen[("gate", "2026-03-08T03:15")]  # 15 minutes before the instant
    assert gate.due_at == datetime(2026, 3, 8, 7, 15, tzinfo=UTC)
    (mood,) = seen[("mood", "2026-03-08T02:30")]
    assert mood.due_at == session.due_at
    days = Counter(k[1][:10] for k in seen if k[0] == "session")
    assert days["2026-03-08"] == 1 and set(days.values()) == {1}


def test_autumn_repeat_session_fires_once_the_first_time():
    # 01:30 happens twice on Sunday 1 November 2026 in New York: only the first (EDT) counts.
    facts = patient_facts(daily(time(1, 30), starts_on=date(2026, 10, 25)),
                          mood_time=time(1, 30))
    seen = sweep(patient(facts), local(2026, 10, 30, 12), local(2026, 11, 2, 12),
                 step=timedelta(minutes=30))
    (session,) = seen[("session", "2026-11-01T01:30")]
    assert session.due_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    (mood,) = seen[("mood", "2026-11-01T01:30")]
    assert mood.due_at == session.due_at
    instants = [i.due_at for items in seen.values() for i in items if i.kind == "session"]
    assert datetime(2026, 11, 1, 6, 30, tzinfo=UTC) not in instants  # no second firing
    assert len(instants) == len(set(instants))


def test_a_timezone_change_keeps_wall_times_and_moves_instants():
    now = local(2026, 1, 11, 12)
    facts = patient_facts(weekdays({MON, THU}))
    in_ny = {i.key: i for i in plan(patient(facts), now)}
    moved = replace(facts, timezone="America/Los_Angeles")
    in_la = {i.key: i for i in plan(patient(moved), now)}
    for key in (("session", "2026-01-12T10:00"), ("gate", "2026-01-12T09:45"),
                ("mood", "2026-01-11T20:00")):
        assert in_la[key].due_at - in_ny[key].due_at == timedelta(hours=3)
    assert in_la[("session", "2026-01-12T10:00")].due_at == local(2026, 1, 12, 10, tz=LA)


# --- quiet hours and turned-off kinds -------------------------------------------------------


NIGHT = Prefs(quiet_start=time(22), quiet_end=time(7))


@pytest.mark.parametrize(("due", "expected"), [
    (local(2026, 1, 12, 23), local(2026, 1, 13, 7)),  # after the start: tomorrow's end
    (local(2026, 1, 12, 3), local(2026, 1, 12, 7)),  # after midnight: this morning's end
    (local(2026, 1, 12, 22), local(2026, 1, 13, 7)),  # the start is inside
    (local(2026, 1, 12, 7), local(2026, 1, 12, 7)),  # the end is not
    (local(2026, 1, 12, 21, 59), local(2026, 1, 12, 21, 59)),
    (local(2026, 1, 12, 12), local(2026, 1, 12, 12)),
])
def test_quiet_hours_across_midnight_hold_a_reminder_until_they_end(due, expected):
    assert send_at_for(NIGHT, "mood", due, NY) == expected


def test_quiet_hours_within_a_day():
    siesta = Prefs(quiet_start=time(13), quiet_end=time(15))
    assert send_at_for(siesta, "mood", local(2026, 1, 12, 14), NY) == local(2026, 1, 12, 15)
    assert send_at_for(siesta, "mood", local(2026, 1, 12, 16), NY) == local(2026, 1, 12, 16)
    assert send_at_for(siesta, "mood", local(2026, 1, 12, 12), NY) == local(2026, 1, 12, 12)


def test_quiet_hours_ending_in_the_spring_gap_end_at_the_moved_forward_instant():
    prefs = Prefs(quiet_start=time(22), quiet_end=time(2, 30))
    held = send_at_for(prefs, "mood", local(2026, 3, 7, 23), NY)
    assert held == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_quiet_hours_follow_the_persons_zone():
    # 23:00 in New York is 20:00 in Los Angeles: outside a Los Angeles night.
    due = local(2026, 1, 12, 23)
    assert send_at_for(NIGHT, "mood", due, LA) == due


def test_a_session_scheduled_in_quiet_hours_is_sent_on_time_and_its_gate_is_dropped():
    facts = patient_facts(weekdays({MON}, at=time(23)), mood_time=time(23, 30))
    items = plan(patient(facts, NIGHT), local(2026, 1, 12, 12))
    (session,) = of(items, "session")
    assert session.send_at == session.due_at == local(2026, 1, 12, 23)
    # The gate would be held past the session it prepares for: not sent at all.
    assert of(items, "gate") == []
    # The overdue follow-up would arrive after the 4-hour grace: not sent at all either.
    assert of(items, "overdue") == []
    (mood,) = [i for i in of(items, "mood") if i.local_time == "2026-01-12T23:30"]
    assert mood.send_at == local(2026, 1, 13, 7)
    assert mood.due_at == local(2026, 1, 12, 23, 30)


def test_a_reminder_held_by_quiet_hours_stays_planned_after_its_due_time():
    facts = patient_facts(mood_time=time(23))
    now = local(2026, 1, 13, 2)  # the 23:00 mood is held until 07:00
    (held,) = [i for i in of(plan(patient(facts, NIGHT), now), "mood")
               if i.local_time == "2026-01-12T23:00"]
    assert held.due_at < now < held.send_at == local(2026, 1, 13, 7)


def test_turned_off_kinds_are_not_planned():
    dose = DoseFacts(uuid.uuid4(), local(2026, 1, 12, 9))  # an extra dose, sessions at 14:00
    facts = patient_facts(daily(time(14)), doses=(dose,))
    now = local(2026, 1, 12, 9, 10)
    every = {i.kind for i in plan(patient(facts), now)}
    assert {"session", "gate", "overdue", "recheck", "checkin", "mood",
            "questionnaire"} <= every
    off = Prefs(disabled_kinds=["gate", "mood", "recheck"])
    left = {i.kind for i in plan(patient(facts, off), now)}
    assert left == every - {"gate", "mood", "recheck"}


def test_kinds_that_cannot_be_turned_off_or_belong_to_another_role_change_nothing():
    facts = patient_facts(weekdays({MON}))
    now = local(2026, 1, 12, 8)
    assert plan(patient(facts, Prefs(disabled_kinds=["alert", "caregiver_missed"])), now) == \
        plan(patient(facts), now)


# --- dose check-ins, daily things, supply ---------------------------------------------------


def test_dose_check_ins_follow_the_dose_until_they_are_logged():
    dose_id = uuid.uuid4()
    taken = local(2026, 1, 12, 10, 5)
    facts = patient_facts(weekdays({MON}), doses=(DoseFacts(dose_id, taken),))
    items = {i.rule: i for i in plan(patient(facts), local(2026, 1, 12, 10, 10))}
    recheck = items[f"recheck:{dose_id}"]
    assert recheck.due_at == taken + timedelta(minutes=40)
    assert recheck.url == f"/checkins/plus40?dose={dose_id}" and recheck.subject_id == dose_id
    assert items[f"checkin:end:{dose_id}"].due_at == taken + timedelta(minutes=120)
    assert items[f"checkin:next_morning:{dose_id}"].due_at == local(2026, 1, 13, 9)
    done = replace(facts, doses=(DoseFacts(dose_id, taken, frozenset({"plus40", "end"})),))
    rules = {i.rule for i in plan(patient(done), local(2026, 1, 12, 10, 10))}
    assert f"recheck:{dose_id}" not in rules and f"checkin:end:{dose_id}" not in rules
    assert f"checkin:next_morning:{dose_id}" in rules


def test_the_end_of_session_reminder_follows_the_plans_observation_time():
    dose_id = uuid.uuid4()
    taken = local(2026, 1, 12, 10)
    facts = patient_facts(weekdays({MON}), doses=(
        DoseFacts(dose_id, taken, frozenset({"plus40"}), timedelta(minutes=180)),))
    (end,) = [i for i in plan(patient(facts), taken) if i.rule == f"checkin:end:{dose_id}"]
    assert end.due_at == taken + timedelta(minutes=180)
    # Without one, the slot's 2 hours.
    facts = patient_facts(weekdays({MON}), doses=(DoseFacts(dose_id, taken),))
    (end,) = [i for i in plan(patient(facts), taken) if i.rule == f"checkin:end:{dose_id}"]
    assert end.due_at == taken + timedelta(minutes=120)


def test_a_recheck_that_quiet_hours_would_hold_past_its_window_is_dropped():
    dose_id = uuid.uuid4()
    facts = patient_facts(doses=(DoseFacts(dose_id, local(2026, 1, 12, 21, 40)),))
    rules = {i.rule for i in plan(patient(facts, NIGHT), local(2026, 1, 12, 21, 45))}
    assert f"recheck:{dose_id}" not in rules  # due 22:20, held to 07:00: long missed
    assert f"checkin:next_morning:{dose_id}" in rules  # 09:00 tomorrow, outside quiet hours


def test_mood_and_questionnaires_skip_what_is_already_answered():
    now = local(2026, 1, 12, 12)  # a Monday: the questionnaire day
    facts = patient_facts()
    times = {(i.kind, i.local_time) for i in plan(patient(facts), now)}
    assert ("mood", "2026-01-12T20:00") in times and ("mood", "2026-01-13T20:00") in times
    assert ("questionnaire", "2026-01-12T20:00") in times
    morning = local(2026, 1, 12, 9)
    answered = replace(facts, daily_checkins=(morning,),
                       questionnaires=(("phq9", morning), ("gad7", morning)))
    times = {(i.kind, i.local_time) for i in plan(patient(answered), now)}
    assert ("mood", "2026-01-12T20:00") not in times
    assert ("mood", "2026-01-13T20:00") in times  # tomorrow still asks
    assert not [t for t in times if t[0] == "questionnaire"]
    one = replace(facts, questionnaires=(("phq9", morning),))
    assert ("questionnaire", "2026-01-12T20:00") in {
        (i.kind, i.local_time) for i in plan(patient(one), now)}


def test_fortnightly_questionnaires_skip_the_off_week():
    facts = patient_facts(questionnaire_weekday=MON, questionnaire_every_weeks=2)
    on = [i for i in plan(patient(facts), local(2026, 1, 12, 12)) if i.kind == "questionnaire"]
    off = [i for i in plan(patient(facts), local(2026, 1, 19, 12)) if i.kind == "questionnaire"]
    assert len(on) + len(off) == 1


def supply(balance: str, *, per_week: str = "2", last_count_at: datetime | None = None):
    return SupplyFacts(balance=Decimal(balance), troches_per_week=Decimal(per_week),
                       early_refill_days=7, last_count_at=last_count_at)


@pytest.mark.parametrize(("balance", "low"), [
    ("20", False),  # 70 days
    ("2.5", False),  # 8.75 days: a refill now would be early
    ("2", True),  # 7 days: within the refill window
    ("0", True),
    ("-1", True),  # a fill was not recorded
])
def test_supply_reminds_daily_at_the_mood_time_while_low(balance, low):
    facts = patient_facts(weekdays({MON, THU}), supply=supply(balance))
    items = of(plan(patient(facts), local(2026, 1, 13, 12)), "supply")
    if low:
        assert [i.local_time for i in items] == ["2026-01-13T20:00", "2026-01-14T20:00"]
        assert items[0].url == "/supply"
    else:
        assert items == []


def test_a_negative_balance_reminds_even_with_no_sessions_ahead():
    facts = patient_facts(weekdays({MON}), supply=supply("-1", per_week="0"))
    assert of(plan(patient(facts), local(2026, 1, 13, 12)), "supply")
    fine = replace(facts, supply=supply("0", per_week="0"))
    assert of(plan(patient(fine), local(2026, 1, 13, 12)), "supply") == []


def test_the_weekly_count_is_asked_on_the_questionnaire_day_when_the_last_is_old():
    now = local(2026, 1, 12, 12)  # Monday
    recent = patient_facts(weekdays({MON}),
                           supply=supply("20", last_count_at=local(2026, 1, 8, 12)))
    assert of(plan(patient(recent), now), "count") == []
    old = replace(recent, supply=supply("20", last_count_at=local(2026, 1, 6, 12)))
    (count,) = of(plan(patient(old), now), "count")
    assert count.local_time == "2026-01-12T20:00" and count.url == "/supply"
    never = replace(recent, supply=supply("20"))
    assert of(plan(patient(never), now), "count")


# --- caregivers -----------------------------------------------------------------------------


def test_a_caregiver_is_escalated_to_after_a_missed_session_and_recheck():
    dose_id = uuid.uuid4()
    taken = local(2026, 1, 15, 10)
    facts = patient_facts(weekdays({MON, THU}), doses=(DoseFacts(dose_id, taken),))
    items = plan(caregiver(facts), local(2026, 1, 15, 10, 1))
    by_rule = {i.rule: i for i in items}
    assert set(by_rule) == {f"caregiver_missed:{PATIENT_ID}:recheck:{dose_id}"}
    recheck = by_rule[f"caregiver_missed:{PATIENT_ID}:recheck:{dose_id}"]
    assert recheck.due_at == taken + timedelta(minutes=100)
    assert recheck.url == "/supporting" and recheck.patient_id == PATIENT_ID
    # Monday's session, not yet taken: an escalation an hour after it.
    items = plan(caregiver(facts), local(2026, 1, 12, 8))
    (missed,) = [i for i in items if i.rule == f"caregiver_missed:{PATIENT_ID}:session"]
    assert missed.due_at == local(2026, 1, 12, 11)
    assert {i.kind for i in items} == {"caregiver_missed"}


def test_a_caregiver_gets_nothing_without_the_patients_consent():
    facts = patient_facts(weekdays({MON}), shares_alerts=False)
    assert plan(caregiver(facts), local(2026, 1, 12, 8)) == []


def test_a_patient_is_not_planned_caregiver_kinds_nor_a_caregiver_patient_kinds():
    facts = patient_facts(weekdays({MON}))
    assert "caregiver_missed" not in {i.kind for i in plan(patient(facts), local(2026, 1, 12, 8))}
    cg = PersonFacts(user_id=CAREGIVER_ID, role="caregiver", timezone="America/New_York",
                     prefs=Prefs(), patient=facts)
    assert plan(cg, local(2026, 1, 12, 8)) == []


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        plan(patient(patient_facts()), datetime(2026, 1, 12, 8))


# --- properties -----------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
         "America/Los_Angeles"]
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
plans_st = st.one_of(
    st.builds(lambda days, at: weekdays(set(days), at, date(2026, 1, 5)),
              st.sets(st.integers(0, 6), min_size=1), clock),
    st.builds(lambda n, at: PhasePlan(phase=Phase.INDUCTION, starts_on=date(2026, 1, 5),
                                      cadence=Cadence.INTERVAL, at=at, every_n_days=n),
              st.integers(1, 14), clock),
)
quiet_st = st.one_of(st.just((None, None)),
                     st.tuples(clock, clock).filter(lambda pair: pair[0] != pair[1]))
nows = st.datetimes(min_value=datetime(2026, 1, 10), max_value=datetime(2027, 12, 20),
                    timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(plan_=plans_st, zone=st.sampled_from(ZONES), person_zone=st.sampled_from(ZONES),
       now=nows, quiet=quiet_st, mood=clock,
       off=st.sets(st.sampled_from([k for k, v in KINDS.items() if v.can_turn_off])),
       dose_offsets=st.lists(st.integers(-3000, 0), max_size=3),
       grace_minutes=st.integers(0, 600), balance=st.integers(-3, 30))
def test_plans_have_unique_keys_respect_quiet_hours_and_stay_in_the_horizon(
        plan_, zone, person_zone, now, quiet, mood, off, dose_offsets, grace_minutes, balance):
    doses = tuple(DoseFacts(uuid.uuid4(), now + timedelta(minutes=m)) for m in dose_offsets)
    facts = patient_facts(plan_, tz=zone, doses=doses, mood_time=mood,
                          grace=timedelta(minutes=grace_minutes),
                          supply=supply(str(balance)))
    prefs = Prefs(quiet_start=quiet[0], quiet_end=quiet[1], disabled_kinds=sorted(off))
    for person in (patient(facts, prefs), caregiver(facts, prefs=prefs, tz=person_zone)):
        items = plan(person, now)
        keys = [i.key for i in items]
        assert len(keys) == len(set(keys))
        for item in items:
            assert item.kind not in off
            assert person.role in KINDS[item.kind].roles
            assert item.due_at < now + HORIZON
            assert item.send_at >= now
            assert item.send_at >= item.due_at
            if KINDS[item.kind].ignores_quiet_hours:
                assert item.send_at == item.due_at
            if item.send_at > item.due_at:  # held: it was due inside quiet hours
                held_at = item.due_at.astimezone(ZoneInfo(person.timezone)).time()
                start, end = quiet
                assert start is not None and end is not None
                assert (start <= held_at < end) if start < end else \
                    (held_at >= start or held_at < end)
            assert item.due_at.tzinfo is not None and item.send_at.tzinfo is not None
            assert len(item.local_time) == 16 and len(item.rule) <= 120
