"""Tests for app.protocols.schedule: expansion, DST, zone moves, session states and matching."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocols.schedule import (
    NEXT_SESSION_HORIZON,
    Cadence,
    Occurrence,
    Phase,
    PhasePlan,
    SessionState,
    SessionStatus,
    classify_sessions,
    extra_doses,
    most_sessions_within,
    next_session,
    occurrences,
    shortest_gap,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ZUTC = ZoneInfo("UTC")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
NINE = time(9, 0)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def on_days(
    starts_on: date,
    days: set[int],
    *,
    at: time = NINE,
    phase: Phase = Phase.INDUCTION,
    weeks: int | None = None,
) -> PhasePlan:
    return PhasePlan(
        phase=phase,
        starts_on=starts_on,
        cadence=Cadence.WEEKDAYS,
        at=at,
        weekdays=frozenset(days),
        weeks=weeks,
    )


def every(
    starts_on: date,
    n: int,
    *,
    at: time = NINE,
    phase: Phase = Phase.MAINTENANCE,
    weeks: int | None = None,
) -> PhasePlan:
    return PhasePlan(
        phase=phase,
        starts_on=starts_on,
        cadence=Cadence.INTERVAL,
        at=at,
        every_n_days=n,
        weeks=weeks,
    )


def occ(at: datetime, phase: Phase = Phase.INDUCTION) -> Occurrence:
    return Occurrence(scheduled_at=at, local_date=at.date(), phase=phase)


def triples(occs: list[Occurrence]) -> list[tuple[datetime, date, Phase]]:
    return [(o.scheduled_at, o.local_date, o.phase) for o in occs]


# Standard protocol: Mon/Thu 09:00 induction for 4 weeks from Monday 2026-01-05, then weekly.
INDUCTION = on_days(date(2026, 1, 5), {MON, THU}, weeks=4)
MAINTENANCE = every(date(2026, 2, 2), 7)


# --- expansion -------------------------------------------------------------------------------


def test_induction_then_weekly_maintenance_exact_instants() -> None:
    # Input deliberately unsorted: occurrences() orders plans itself.
    got = occurrences([MAINTENANCE, INDUCTION], NY, utc(2026, 1, 1), utc(2026, 3, 17))
    ind = Phase.INDUCTION
    mnt = Phase.MAINTENANCE
    assert triples(got) == [
        (utc(2026, 1, 5, 14), date(2026, 1, 5), ind),  # 09:00 EST = 14:00 UTC
        (utc(2026, 1, 8, 14), date(2026, 1, 8), ind),
        (utc(2026, 1, 12, 14), date(2026, 1, 12), ind),
        (utc(2026, 1, 15, 14), date(2026, 1, 15), ind),
        (utc(2026, 1, 19, 14), date(2026, 1, 19), ind),
        (utc(2026, 1, 22, 14), date(2026, 1, 22), ind),
        (utc(2026, 1, 26, 14), date(2026, 1, 26), ind),
        (utc(2026, 1, 29, 14), date(2026, 1, 29), ind),
        (utc(2026, 2, 2, 14), date(2026, 2, 2), mnt),
        (utc(2026, 2, 9, 14), date(2026, 2, 9), mnt),
        (utc(2026, 2, 16, 14), date(2026, 2, 16), mnt),
        (utc(2026, 2, 23, 14), date(2026, 2, 23), mnt),
        (utc(2026, 3, 2, 14), date(2026, 3, 2), mnt),
        (utc(2026, 3, 9, 13), date(2026, 3, 9), mnt),  # 09:00 EDT after 2026-03-08
        (utc(2026, 3, 16, 13), date(2026, 3, 16), mnt),
    ]
    assert Counter(o.phase for o in got) == {ind: 8, mnt: 7}
    assert all(o.scheduled_at.utcoffset() == timedelta(0) for o in got)


def test_phase_change_back_to_induction_then_gap_then_maintenance() -> None:
    # Re-induction from Thursday 2026-03-19 for 2 weeks (ends before 2026-04-02), then a gap
    # until maintenance every two weeks resumes on 2026-04-13.
    re_induction = on_days(date(2026, 3, 19), {MON, THU}, weeks=2)
    later = every(date(2026, 4, 13), 14)
    plans = [later, MAINTENANCE, re_induction, INDUCTION]
    got = occurrences(plans, NY, utc(2026, 3, 1), utc(2026, 5, 1))
    ind = Phase.INDUCTION
    mnt = Phase.MAINTENANCE
    assert triples(got) == [
        (utc(2026, 3, 2, 14), date(2026, 3, 2), mnt),
        (utc(2026, 3, 9, 13), date(2026, 3, 9), mnt),
        (utc(2026, 3, 16, 13), date(2026, 3, 16), mnt),
        # Maintenance would have fired Monday 03-23; induction owns that date now.
        (utc(2026, 3, 19, 13), date(2026, 3, 19), ind),
        (utc(2026, 3, 23, 13), date(2026, 3, 23), ind),
        (utc(2026, 3, 26, 13), date(2026, 3, 26), ind),
        (utc(2026, 3, 30, 13), date(2026, 3, 30), ind),
        (utc(2026, 4, 13, 13), date(2026, 4, 13), mnt),
        (utc(2026, 4, 27, 13), date(2026, 4, 27), mnt),
    ]


def test_open_ended_plan_runs_forever() -> None:
    plan = every(date(2026, 1, 5), 7)
    got = occurrences([plan], ZUTC, utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(got) == 52
    assert got[0].scheduled_at == utc(2026, 1, 5, 9)
    assert got[-1].scheduled_at == utc(2026, 12, 28, 9)


@pytest.mark.parametrize(
    ("weeks", "expected_days"),
    [(1, [5]), (3, [5, 12, 19])],
)
def test_weeks_limited_last_plan_leaves_a_gap(weeks: int, expected_days: list[int]) -> None:
    plan = every(date(2026, 1, 5), 7, weeks=weeks)
    got = occurrences([plan], ZUTC, utc(2026, 1, 1), utc(2027, 1, 1))
    assert [o.scheduled_at for o in got] == [utc(2026, 1, d, 9) for d in expected_days]


def test_weeks_limit_is_exclusive_of_end_date() -> None:
    # 2 weeks from Monday 01-05 ends before Monday 01-19: Mon/Thu gives exactly 4 sessions.
    plan = on_days(date(2026, 1, 5), {MON, THU}, weeks=2)
    got = occurrences([plan], ZUTC, utc(2026, 1, 1), utc(2026, 2, 1))
    assert [o.local_date for o in got] == [
        date(2026, 1, 5),
        date(2026, 1, 8),
        date(2026, 1, 12),
        date(2026, 1, 15),
    ]


def test_weeks_limit_earlier_than_next_plan_and_next_plan_earlier_than_weeks() -> None:
    # Plan A says 4 weeks but B starts after 1 week: B wins from its start date.
    a = every(date(2026, 1, 1), 1, phase=Phase.INDUCTION, weeks=4)
    b = every(date(2026, 1, 8), 7, phase=Phase.TAPER)
    got = occurrences([a, b], ZUTC, utc(2026, 1, 1), utc(2026, 1, 23))
    assert [(o.local_date.day, o.phase) for o in got] == [
        *[(d, Phase.INDUCTION) for d in range(1, 8)],
        (8, Phase.TAPER),
        (15, Phase.TAPER),
        (22, Phase.TAPER),
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Every 3 days from 01-02: 01-02, 05, 08, 11, 14, 17, 20 ... regardless of the window.
        (utc(2026, 1, 10), utc(2026, 1, 20), [11, 14, 17]),
        (utc(2026, 1, 12), utc(2026, 1, 21), [14, 17, 20]),
        (utc(2025, 12, 1), utc(2026, 1, 9), [2, 5, 8]),  # nothing before starts_on
    ],
)
def test_interval_is_anchored_on_starts_on(
    start: datetime, end: datetime, expected: list[int]
) -> None:
    plan = every(date(2026, 1, 2), 3, at=time(10, 0))
    got = occurrences([plan], ZUTC, start, end)
    assert [o.scheduled_at for o in got] == [utc(2026, 1, d, 10) for d in expected]


def test_fortnightly_interval_anchor_survives_month_boundaries() -> None:
    plan = every(date(2026, 1, 1), 14)
    got = occurrences([plan], ZUTC, utc(2026, 2, 1), utc(2026, 3, 31))
    assert [o.local_date for o in got] == [
        date(2026, 2, 12),
        date(2026, 2, 26),
        date(2026, 3, 12),
        date(2026, 3, 26),
    ]


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (utc(2026, 1, 5, 14), utc(2026, 1, 5, 15), 1),  # start is inclusive
        (utc(2026, 1, 5, 14, us=1), utc(2026, 1, 5, 15), 0),
        (utc(2026, 1, 5, 13), utc(2026, 1, 5, 14), 0),  # end is exclusive
        (utc(2026, 1, 5, 13), utc(2026, 1, 5, 14, us=1), 1),
        (utc(2026, 1, 5, 14), utc(2026, 1, 5, 14), 0),  # empty range
        (utc(2026, 1, 6), utc(2026, 1, 5), 0),  # reversed range
    ],
)
def test_half_open_range_boundaries(start: datetime, end: datetime, count: int) -> None:
    got = occurrences([INDUCTION], NY, start, end)
    assert len(got) == count
    if count:
        assert got[0].scheduled_at == utc(2026, 1, 5, 14)


def test_bounds_may_be_in_any_zone() -> None:
    # 15:00 Berlin (CET) == 14:00 UTC == the 09:00 New York session: inclusive start.
    start = datetime(2026, 1, 5, 15, tzinfo=BERLIN)
    got = occurrences([INDUCTION], NY, start, start + timedelta(days=4))
    assert [o.scheduled_at for o in got] == [utc(2026, 1, 5, 14), utc(2026, 1, 8, 14)]


def test_no_plans_means_no_sessions() -> None:
    assert occurrences([], NY, utc(2026, 1, 1), utc(2027, 1, 1)) == []


# --- DST ---------------------------------------------------------------------------------------


DST_CASES = [
    # New York spring forward 2026-03-08 02:00 EST -> 03:00 EDT.
    pytest.param(
        NY,
        date(2026, 3, 7),
        time(2, 30),
        [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)],
        id="ny-spring-0230-gap",
    ),
    pytest.param(
        NY,
        date(2026, 3, 7),
        NINE,
        [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)],
        id="ny-spring-0900",
    ),
    # New York fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:00-02:00 happens twice.
    pytest.param(
        NY,
        date(2026, 10, 31),
        time(1, 30),
        [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
        id="ny-autumn-0130-repeat",
    ),
    pytest.param(
        NY,
        date(2026, 10, 31),
        time(2, 30),
        [utc(2026, 10, 31, 6, 30), utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 7, 30)],
        id="ny-autumn-0230",
    ),
    pytest.param(
        NY,
        date(2026, 10, 31),
        NINE,
        [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)],
        id="ny-autumn-0900",
    ),
    # Berlin spring forward 2026-03-29 02:00 CET -> 03:00 CEST.
    pytest.param(
        BERLIN,
        date(2026, 3, 28),
        time(2, 30),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)],
        id="berlin-spring-0230-gap",
    ),
    pytest.param(
        BERLIN,
        date(2026, 3, 28),
        NINE,
        [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)],
        id="berlin-spring-0900",
    ),
    # Berlin fall back 2026-10-25 03:00 CEST -> 02:00 CET: 02:00-03:00 happens twice.
    pytest.param(
        BERLIN,
        date(2026, 10, 24),
        time(2, 30),
        [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        id="berlin-autumn-0230-repeat",
    ),
    pytest.param(
        BERLIN,
        date(2026, 10, 24),
        NINE,
        [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)],
        id="berlin-autumn-0900",
    ),
]


@pytest.mark.parametrize(("tz", "first_day", "at", "expected"), DST_CASES)
def test_daily_session_across_dst_transition(
    tz: ZoneInfo, first_day: date, at: time, expected: list[datetime]
) -> None:
    plan = every(first_day, 1, at=at)
    start = datetime.combine(first_day, time(0), tzinfo=tz)
    end = datetime.combine(first_day + timedelta(days=3), time(0), tzinfo=tz)
    got = occurrences([plan], tz, start, end)
    assert [o.scheduled_at for o in got] == expected
    assert [o.local_date for o in got] == [first_day + timedelta(days=i) for i in range(3)]


@pytest.mark.parametrize(
    ("tz", "day"), [(NY, date(2026, 3, 8)), (BERLIN, date(2026, 3, 29))], ids=["ny", "berlin"]
)
def test_gap_time_moves_forward_to_0330_summer_time(tz: ZoneInfo, day: date) -> None:
    got = occurrences([every(day, 1, at=time(2, 30))], tz, utc(2026, 3, 1), utc(2026, 4, 1))
    local = got[0].scheduled_at.astimezone(tz)
    assert (local.date(), local.hour, local.minute) == (day, 3, 30)
    assert local.dst() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("tz", "day", "at", "first", "second"),
    [
        (NY, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)),
        (
            BERLIN,
            date(2026, 10, 25),
            time(2, 30),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 1, 30),
        ),
    ],
    ids=["ny", "berlin"],
)
def test_repeated_time_fires_once_at_first_occurrence(
    tz: ZoneInfo, day: date, at: time, first: datetime, second: datetime
) -> None:
    # fold=1 on the plan's time must not select the second pass either.
    plan = on_days(day, {SUN}, at=at.replace(fold=1))
    got = occurrences([plan], tz, utc(2026, 10, 1), utc(2026, 12, 1))
    on_day = [o.scheduled_at for o in got if o.local_date == day]
    assert on_day == [first]
    assert second not in [o.scheduled_at for o in got]


# --- time zone changes ----------------------------------------------------------------------


def test_patient_moving_from_new_york_to_berlin_keeps_local_wall_time() -> None:
    plans = [INDUCTION]
    # In New York until Wednesday 2026-01-14, then Berlin: caller passes the current zone.
    before = occurrences(plans, NY, utc(2026, 1, 5), utc(2026, 1, 14))
    after = occurrences(plans, BERLIN, utc(2026, 1, 14), utc(2026, 1, 23))
    assert [o.scheduled_at for o in before] == [
        utc(2026, 1, 5, 14),
        utc(2026, 1, 8, 14),
        utc(2026, 1, 12, 14),
    ]
    assert [o.scheduled_at for o in after] == [
        utc(2026, 1, 15, 8),  # 09:00 CET
        utc(2026, 1, 19, 8),
        utc(2026, 1, 22, 8),
    ]
    for o, tz in [*((o, NY) for o in before), *((o, BERLIN) for o in after)]:
        assert o.scheduled_at.astimezone(tz).time() == NINE

    # Past New York sessions are not resurfaced; Thursday is next, at Berlin 09:00.
    status = next_session(
        plans, BERLIN, utc(2026, 1, 14, 12), [utc(2026, 1, 12, 14, 5)], grace=timedelta(hours=6)
    )
    assert status is not None
    assert status.state is SessionState.UPCOMING
    assert status.occurrence.scheduled_at == utc(2026, 1, 15, 8)


# --- session states -----------------------------------------------------------------------------

SESSION = utc(2026, 1, 5, 14)
SIX_H = timedelta(hours=6)


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (utc(2026, 1, 5, 11, 59, 59), SessionState.UPCOMING),
        (utc(2026, 1, 5, 12), SessionState.DUE),  # due window opens (2 h before)
        (utc(2026, 1, 5, 14), SessionState.DUE),  # exactly on time is still DUE
        (utc(2026, 1, 5, 14, us=1), SessionState.OVERDUE),
        (utc(2026, 1, 5, 20), SessionState.OVERDUE),  # exactly at the grace boundary
        (utc(2026, 1, 5, 20, 0, 1), SessionState.MISSED),  # one second later
    ],
)
def test_unmatched_session_state_boundaries(now: datetime, state: SessionState) -> None:
    [status] = classify_sessions([occ(SESSION)], [], now, grace=SIX_H)
    assert status == SessionStatus(occurrence=occ(SESSION), state=state, dose_at=None)


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (utc(2026, 1, 5, 13, 29, 59), SessionState.UPCOMING),
        (utc(2026, 1, 5, 13, 30), SessionState.DUE),
    ],
)
def test_custom_due_window(now: datetime, state: SessionState) -> None:
    [status] = classify_sessions(
        [occ(SESSION)], [], now, grace=SIX_H, due_window=timedelta(minutes=30)
    )
    assert status.state is state


def test_zero_grace_goes_straight_from_due_to_missed() -> None:
    statuses = classify_sessions([occ(SESSION)], [], SESSION, grace=timedelta(0))
    assert statuses[0].state is SessionState.DUE
    late = SESSION + timedelta(microseconds=1)
    assert classify_sessions([occ(SESSION)], [], late, grace=timedelta(0))[0].state is (
        SessionState.MISSED
    )
    taken = classify_sessions([occ(SESSION)], [SESSION], late, grace=timedelta(0))
    assert (taken[0].state, taken[0].dose_at) == (SessionState.TAKEN, SESSION)


@pytest.mark.parametrize(
    ("dose", "matches"),
    [
        (utc(2026, 1, 5, 11, 59, 59), False),
        (utc(2026, 1, 5, 12), True),  # earliest allowed: scheduled_at - due_window
        (utc(2026, 1, 5, 20), True),  # latest allowed: scheduled_at + grace
        (utc(2026, 1, 5, 20, 0, 1), False),
    ],
)
def test_dose_matching_window_boundaries(dose: datetime, matches: bool) -> None:
    now = utc(2026, 1, 6)
    [status] = classify_sessions([occ(SESSION)], [dose], now, grace=SIX_H)
    extras = extra_doses([occ(SESSION)], [dose], grace=SIX_H)
    if matches:
        assert (status.state, status.dose_at, extras) == (SessionState.TAKEN, dose, [])
    else:
        assert (status.state, status.dose_at, extras) == (SessionState.MISSED, None, [dose])


def test_two_doses_near_one_session_first_in_time_wins() -> None:
    # 14:30 is nearer, but doses are matched in time order: 13:00 claims the session.
    doses = [utc(2026, 1, 5, 14, 30), utc(2026, 1, 5, 13)]
    [status] = classify_sessions([occ(SESSION)], doses, utc(2026, 1, 5, 15), grace=SIX_H)
    assert (status.state, status.dose_at) == (SessionState.TAKEN, utc(2026, 1, 5, 13))
    assert extra_doses([occ(SESSION)], doses, grace=SIX_H) == [utc(2026, 1, 5, 14, 30)]


def test_dose_goes_to_nearest_unmatched_session() -> None:
    a, b = occ(utc(2026, 1, 5, 14)), occ(utc(2026, 1, 6, 14))
    grace = timedelta(hours=23)  # a's window runs to 01-06 13:00, overlapping b's
    now = utc(2026, 1, 6, 12, 45)
    # One dose at 12:30 is nearer b (1.5 h) than a (22.5 h).
    sa, sb = classify_sessions([b, a], [utc(2026, 1, 6, 12, 30)], now, grace=grace)
    assert (sa.occurrence, sa.state, sa.dose_at) == (a, SessionState.OVERDUE, None)
    assert (sb.occurrence, sb.state, sb.dose_at) == (b, SessionState.TAKEN, utc(2026, 1, 6, 12, 30))
    # Two doses: 12:10 takes b (nearest); 12:30 then takes a, the only unmatched candidate.
    doses = [utc(2026, 1, 6, 12, 30), utc(2026, 1, 6, 12, 10)]
    sa, sb = classify_sessions([a, b], doses, now, grace=grace)
    assert (sa.state, sa.dose_at) == (SessionState.TAKEN, utc(2026, 1, 6, 12, 30))
    assert (sb.state, sb.dose_at) == (SessionState.TAKEN, utc(2026, 1, 6, 12, 10))
    assert extra_doses([a, b], doses, grace=grace) == []


def test_equidistant_dose_goes_to_earlier_session() -> None:
    a, b = occ(utc(2026, 1, 5, 10)), occ(utc(2026, 1, 5, 14))
    sa, sb = classify_sessions(
        [a, b], [utc(2026, 1, 5, 12)], utc(2026, 1, 5, 12), grace=timedelta(hours=2)
    )
    assert (sa.state, sa.dose_at) == (SessionState.TAKEN, utc(2026, 1, 5, 12))
    assert (sb.state, sb.dose_at) == (SessionState.DUE, None)


def test_dose_times_in_other_zones_are_normalised_to_utc() -> None:
    dose = datetime(2026, 1, 5, 9, 10, tzinfo=NY)
    [status] = classify_sessions([occ(SESSION)], [dose], utc(2026, 1, 5, 15), grace=SIX_H)
    assert status.dose_at == utc(2026, 1, 5, 14, 10)
    assert status.dose_at is not None and status.dose_at.tzinfo is UTC


def test_extra_doses_sorted_duplicates_counted_separately() -> None:
    doses = [utc(2026, 1, 7, 10), SESSION, SESSION, utc(2026, 1, 1)]
    assert extra_doses([occ(SESSION)], doses, grace=SIX_H) == [
        utc(2026, 1, 1),
        SESSION,
        utc(2026, 1, 7, 10),
    ]
    assert extra_doses([], doses, grace=SIX_H) == sorted(doses)


def test_classify_returns_sessions_sorted_by_time() -> None:
    occs = occurrences([INDUCTION], NY, utc(2026, 1, 1), utc(2026, 1, 20))
    statuses = classify_sessions(list(reversed(occs)), [], utc(2026, 1, 10), grace=SIX_H)
    assert [s.occurrence for s in statuses] == occs
    assert [s.state for s in statuses] == [
        SessionState.MISSED,
        SessionState.MISSED,
        SessionState.UPCOMING,
        SessionState.UPCOMING,
        SessionState.UPCOMING,
    ]


# --- next_session ----------------------------------------------------------------------------


def _next(now: datetime, doses: list[datetime], grace: timedelta = SIX_H) -> SessionStatus | None:
    return next_session([INDUCTION, MAINTENANCE], NY, now, doses, grace=grace)


def _expect(status: SessionStatus | None, at: datetime, state: SessionState) -> None:
    assert status is not None
    assert (status.occurrence.scheduled_at, status.state) == (at, state)


def test_next_session_returns_overdue_before_upcoming() -> None:
    _expect(_next(utc(2026, 1, 12, 16), []), utc(2026, 1, 12, 14), SessionState.OVERDUE)


def test_next_session_skips_taken_to_upcoming() -> None:
    status = _next(utc(2026, 1, 12, 16), [utc(2026, 1, 12, 14, 5)])
    _expect(status, utc(2026, 1, 15, 14), SessionState.UPCOMING)


def test_next_session_skips_missed() -> None:
    _expect(_next(utc(2026, 1, 13), []), utc(2026, 1, 15, 14), SessionState.UPCOMING)


def test_next_session_due() -> None:
    _expect(_next(utc(2026, 1, 15, 12, 30), []), utc(2026, 1, 15, 14), SessionState.DUE)


def test_next_session_prefers_earliest_overdue_over_due() -> None:
    # With 72 h grace Monday is still OVERDUE when Thursday becomes DUE.
    status = _next(utc(2026, 1, 15, 13), [], grace=timedelta(hours=72))
    _expect(status, utc(2026, 1, 12, 14), SessionState.OVERDUE)


def test_next_session_dose_taken_early_in_due_window() -> None:
    status = _next(utc(2026, 1, 15, 13, 30), [utc(2026, 1, 15, 13)])
    _expect(status, utc(2026, 1, 19, 14), SessionState.UPCOMING)


def test_next_session_none_in_gap_after_last_plan() -> None:
    plan = on_days(date(2026, 1, 5), {MON, THU}, weeks=1)
    assert next_session([plan], NY, utc(2026, 1, 20), [], grace=SIX_H) is None
    assert next_session([], NY, utc(2026, 1, 20), [], grace=SIX_H) is None


def test_next_session_horizon_is_62_days() -> None:
    assert timedelta(days=62) == NEXT_SESSION_HORIZON
    plan = every(date(2026, 3, 10), 7)  # first session 2026-03-10 13:00 UTC (09:00 EDT)
    assert next_session([plan], NY, utc(2026, 1, 7, 13), [], grace=SIX_H) is None
    status = next_session([plan], NY, utc(2026, 1, 7, 13, 1), [], grace=SIX_H)
    _expect(status, utc(2026, 3, 10, 13), SessionState.UPCOMING)


def test_next_session_matches_doses_against_sessions_before_the_grace_window() -> None:
    # Daily 09:00 UTC, 20 h windows either side. The 01-05 20:00 dose is nearest the 01-05
    # session (outside now - grace), so 01-06 is still DUE rather than wrongly TAKEN.
    plan = every(date(2026, 1, 1), 1)
    wide = timedelta(hours=20)
    status = next_session(
        [plan], ZUTC, utc(2026, 1, 6, 6), [utc(2026, 1, 5, 20)], grace=wide, due_window=wide
    )
    _expect(status, utc(2026, 1, 6, 9), SessionState.DUE)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cadence": Cadence.WEEKDAYS},  # empty weekdays
        {"cadence": Cadence.WEEKDAYS, "weekdays": frozenset({7})},
        {"cadence": Cadence.WEEKDAYS, "weekdays": frozenset({-1})},
        {"cadence": Cadence.WEEKDAYS, "weekdays": frozenset({MON}), "every_n_days": 7},
        {"cadence": Cadence.INTERVAL},  # missing every_n_days
        {"cadence": Cadence.INTERVAL, "every_n_days": 0},
        {"cadence": Cadence.INTERVAL, "every_n_days": -7},
        {"cadence": Cadence.INTERVAL, "every_n_days": 7, "weekdays": frozenset({MON})},
        {"cadence": Cadence.INTERVAL, "every_n_days": 7, "weeks": 0},
        {"cadence": Cadence.INTERVAL, "every_n_days": 7, "weeks": -1},
        {"cadence": Cadence.INTERVAL, "every_n_days": 7, "at": time(9, tzinfo=UTC)},
        {"cadence": "fortnightly", "every_n_days": 7},
        {"cadence": Cadence.INTERVAL, "every_n_days": 7, "phase": "rescue"},
    ],
)
def test_invalid_plans_raise_value_error(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"phase": Phase.INDUCTION, "starts_on": date(2026, 1, 5), "at": NINE}
    with pytest.raises(ValueError):
        PhasePlan(**{**args, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"starts_on": datetime(2026, 1, 5, 9)},
        {"every_n_days": True},
        {"weeks": 2.0},
    ],
)
def test_wrongly_typed_plans_raise_type_error(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "phase": Phase.INDUCTION,
        "starts_on": date(2026, 1, 5),
        "cadence": Cadence.INTERVAL,
        "at": NINE,
        "every_n_days": 7,
    }
    with pytest.raises(TypeError):
        PhasePlan(**{**args, **kwargs})  # type: ignore[arg-type]


def test_plan_fields_are_coerced_from_plain_values() -> None:
    plan = PhasePlan("induction", date(2026, 1, 5), "weekdays", NINE, {0, 3}, weeks=4)  # type: ignore[arg-type]
    assert plan == INDUCTION
    assert plan.phase is Phase.INDUCTION and isinstance(plan.weekdays, frozenset)


def test_two_plans_on_the_same_day_are_rejected() -> None:
    clash = every(INDUCTION.starts_on, 7)
    with pytest.raises(ValueError, match="2026-01-05"):
        occurrences([INDUCTION, clash], NY, utc(2026, 1, 1), utc(2026, 2, 1))


NAIVE = datetime(2026, 1, 5, 14)


@pytest.mark.parametrize(
    "call",
    [
        lambda: occurrences([INDUCTION], NY, NAIVE, utc(2026, 2, 1)),
        lambda: occurrences([INDUCTION], NY, utc(2026, 1, 1), NAIVE),
        lambda: occurrences([], NY, NAIVE, NAIVE),
        lambda: classify_sessions([occ(SESSION)], [], NAIVE, grace=SIX_H),
        lambda: classify_sessions([occ(SESSION)], [NAIVE], utc(2026, 1, 6), grace=SIX_H),
        lambda: extra_doses([occ(SESSION)], [NAIVE], grace=SIX_H),
        lambda: next_session([INDUCTION], NY, NAIVE, [], grace=SIX_H),
        lambda: next_session([INDUCTION], NY, utc(2026, 1, 6), [NAIVE], grace=SIX_H),
    ],
)
def test_naive_datetimes_raise(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("grace", "due_window"),
    [(timedelta(seconds=-1), timedelta(hours=2)), (SIX_H, timedelta(seconds=-1))],
)
def test_negative_windows_raise(grace: timedelta, due_window: timedelta) -> None:
    with pytest.raises(ValueError):
        classify_sessions([], [], utc(2026, 1, 1), grace=grace, due_window=due_window)
    with pytest.raises(ValueError):
        extra_doses([], [], grace=grace, due_window=due_window)
    with pytest.raises(ValueError):
        next_session([INDUCTION], NY, utc(2026, 1, 1), [], grace=grace, due_window=due_window)


# --- properties ----------------------------------------------------------------------------------

# Zones with 1 h, 30 min (Lord Howe) and midnight (Santiago) transitions, both hemispheres.
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Australia/Sydney",
    "Asia/Kolkata",
    "UTC",
]
# Times that land in or next to gaps/repeats in those zones, plus arbitrary ones.
TRICKY_TIMES = [time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(23, 30)]
times_st = st.one_of(
    st.sampled_from(TRICKY_TIMES),
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
)
plan_dates = st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 6, 1))
single_plan = st.one_of(
    st.builds(
        on_days,
        plan_dates,
        st.sets(st.integers(0, 6), min_size=1),
        at=times_st,
        phase=st.sampled_from(Phase),
        weeks=st.none() | st.integers(1, 30),
    ),
    st.builds(
        every,
        plan_dates,
        st.integers(1, 30),
        at=times_st,
        phase=st.sampled_from(Phase),
        weeks=st.none() | st.integers(1, 30),
    ),
)
plans_st = st.lists(single_plan, min_size=1, max_size=3, unique_by=lambda p: p.starts_on)
window_start = st.datetimes(
    min_value=datetime(2025, 5, 1), max_value=datetime(2027, 6, 1), timezones=st.just(UTC)
)
FAST = settings(max_examples=150, deadline=None, database=None)


def _plan_for(plans: list[PhasePlan], day: date) -> PhasePlan:
    return [p for p in sorted(plans, key=lambda p: p.starts_on) if p.starts_on <= day][-1]


@FAST
@given(plans_st, st.sampled_from(ZONES), window_start, st.integers(1, 200 * 24))
def test_property_wall_time_matches_plan_except_in_gaps(
    plans: list[PhasePlan], zone: str, start: datetime, hours: int
) -> None:
    tz = ZoneInfo(zone)
    end = start + timedelta(hours=hours)
    for o in occurrences(plans, tz, start, end):
        assert start <= o.scheduled_at < end
        assert o.scheduled_at.utcoffset() == timedelta(0)
        plan = _plan_for(plans, o.local_date)
        assert o.phase is plan.phase
        if plan.weeks is not None:
            assert o.local_date < plan.starts_on + timedelta(weeks=plan.weeks)
        wall = datetime.combine(o.local_date, plan.at)
        local = o.scheduled_at.astimezone(tz).replace(tzinfo=None)
        first = wall.replace(tzinfo=tz, fold=0)
        second = wall.replace(tzinfo=tz, fold=1)
        exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
        if exists:
            assert local == wall
            # In a repeat the session is the earlier of the two instants, and only that one.
            assert o.scheduled_at == min(first.astimezone(UTC), second.astimezone(UTC))
        else:
            gap = second.utcoffset() - first.utcoffset()  # type: ignore[operator]
            assert gap > timedelta(0)
            assert local - wall == gap


@FAST
@given(plans_st, st.sampled_from(ZONES), window_start, st.integers(1, 200 * 24), st.floats(0, 1))
def test_property_strictly_increasing_and_splittable(
    plans: list[PhasePlan], zone: str, start: datetime, hours: int, cut: float
) -> None:
    tz = ZoneInfo(zone)
    end = start + timedelta(hours=hours)
    middle = start + timedelta(hours=round(hours * cut))
    whole = occurrences(plans, tz, start, end)
    assert all(a.scheduled_at < b.scheduled_at for a, b in pairwise(whole))
    assert len({o.local_date for o in whole}) == len(whole)
    assert whole == occurrences(plans, tz, start, middle) + occurrences(plans, tz, middle, end)
    assert whole == occurrences(list(reversed(plans)), tz, start, end)


BASE = utc(2026, 1, 1)
offsets = st.integers(0, 10 * 24 * 60)  # minutes within ten days
windows = st.integers(0, 48 * 60).map(lambda m: timedelta(minutes=m))


@FAST
@given(
    st.lists(offsets, max_size=8, unique=True),
    st.lists(offsets, max_size=10),
    offsets,
    windows,
    windows,
)
def test_property_matching_uses_each_dose_and_session_at_most_once(
    occ_minutes: list[int],
    dose_minutes: list[int],
    now_minutes: int,
    grace: timedelta,
    due_window: timedelta,
) -> None:
    occs = [occ(BASE + timedelta(minutes=m)) for m in occ_minutes]
    doses = [BASE + timedelta(minutes=m) for m in dose_minutes]
    now = BASE + timedelta(minutes=now_minutes)
    statuses = classify_sessions(occs, doses, now, grace=grace, due_window=due_window)
    extras = extra_doses(occs, doses, grace=grace, due_window=due_window)

    assert sorted(s.occurrence.scheduled_at for s in statuses) == [
        s.occurrence.scheduled_at for s in statuses
    ]
    assert Counter(s.occurrence for s in statuses) == Counter(occs)
    taken = [s.dose_at for s in statuses if s.state is SessionState.TAKEN]
    # Every dose is used exactly once: either by one session or as an extra.
    assert Counter(taken) + Counter(extras) == Counter(doses)
    assert extras == sorted(extras)
    for s in statuses:
        at = s.occurrence.scheduled_at
        if s.state is SessionState.TAKEN:
            assert s.dose_at is not None and at - due_window <= s.dose_at <= at + grace
            continue
        assert s.dose_at is None
        expected = (
            SessionState.UPCOMING
            if now < at - due_window
            else SessionState.DUE
            if now <= at
            else SessionState.OVERDUE
            if now <= at + grace
            else SessionState.MISSED
        )
        assert s.state is expected
    # Greedy matching is maximal: an extra dose had no free session it could have covered.
    for dose in extras:
        for s in statuses:
            at = s.occurrence.scheduled_at
            if at - due_window <= dose <= at + grace:
                assert s.state is SessionState.TAKEN


# --- shortest nominal gap (the editor's daylight-saving warning) -------------------------------

HOURS = timedelta(hours=1)


def _weekdays(*days: int) -> dict:
    return {"cadence": "weekdays", "weekdays": list(days), "at": "10:00"}


def _every(n: int) -> dict:
    return {"cadence": "interval", "every_n_days": n, "at": "10:00"}


@pytest.mark.parametrize(
    ("templates", "hours"),
    [
        pytest.param([_every(3)], 72, id="every-3-days"),
        pytest.param([_every(1)], 24, id="daily"),
        pytest.param([_weekdays(MON, THU)], 72, id="mon-thu"),  # Thu->Mon is 96 h
        pytest.param([_weekdays(MON, TUE)], 24, id="consecutive-days"),
        pytest.param([_weekdays(WED)], 168, id="one-weekday-is-weekly"),
        pytest.param([_weekdays(MON, FRI)], 72, id="fri-to-mon-wraps-the-week"),
        pytest.param([_weekdays(SUN, MON)], 24, id="sun-to-mon-wraps-the-week"),
        pytest.param([_weekdays(THU, MON, THU)], 72, id="unsorted-with-duplicates"),
        pytest.param([_weekdays(*range(7))], 24, id="every-day"),
        pytest.param([_weekdays(MON, THU), _every(7)], 72, id="induction-and-maintenance"),
        pytest.param([_every(14), _every(7), _weekdays(MON, WED)], 48, id="shortest-of-all"),
        pytest.param([], None, id="no-phases"),
    ],
)
def test_shortest_gap(templates: list[dict], hours: int | None) -> None:
    expected = None if hours is None else hours * HOURS
    assert shortest_gap(templates) == expected


def test_shortest_gap_accepts_plans_and_cadence_enums() -> None:
    assert shortest_gap([INDUCTION, MAINTENANCE]) == 72 * HOURS
    assert shortest_gap([{"cadence": Cadence.INTERVAL, "every_n_days": 2}]) == 48 * HOURS
    # A weekday template stored as JSON keeps an every_n_days of None; an interval one an empty
    # weekday list: both are ignored for the other cadence.
    assert shortest_gap([{"cadence": "weekdays", "weekdays": [1, 4], "every_n_days": None},
                         {"cadence": "interval", "every_n_days": 5, "weekdays": []}]) == 72 * HOURS


@pytest.mark.parametrize(
    "template",
    [
        pytest.param({"cadence": "weekdays", "weekdays": []}, id="weekdays-without-days"),
        pytest.param({"cadence": "weekdays", "weekdays": [7]}, id="weekday-out-of-range"),
        pytest.param({"cadence": "interval", "every_n_days": 0}, id="interval-zero"),
        pytest.param({"cadence": "interval"}, id="interval-without-n"),
        pytest.param({"cadence": "hourly"}, id="unknown-cadence"),
    ],
)
def test_shortest_gap_refuses_templates_that_are_not_schedules(template: dict) -> None:
    with pytest.raises(ValueError):
        shortest_gap([template])


def test_shortest_gap_refuses_non_integer_days() -> None:
    with pytest.raises(TypeError):
        shortest_gap([{"cadence": "interval", "every_n_days": "3"}])
    with pytest.raises(TypeError):
        shortest_gap([{"cadence": "weekdays", "weekdays": [True]}])


def test_every_three_days_is_one_hour_shorter_across_the_spring_change() -> None:
    # The case the editor warns about: 72 h on the wall clock, 71 h of real time.
    plan = every(date(2026, 3, 2), 3, at=time(10, 0))
    occs = occurrences([plan], NY, utc(2026, 3, 1), utc(2026, 3, 20))
    gaps = [b.scheduled_at - a.scheduled_at for a, b in pairwise(occs)]
    assert shortest_gap([plan]) == 72 * HOURS
    assert min(gaps) == 71 * HOURS
    assert gaps.count(71 * HOURS) == 1


@FAST
@given(
    st.one_of(
        st.frozensets(st.integers(0, 6), min_size=1).map(
            lambda days: {"cadence": "weekdays", "weekdays": sorted(days)}
        ),
        st.integers(1, 30).map(lambda n: {"cadence": "interval", "every_n_days": n}),
    ),
    st.times(),
    st.sampled_from([NY, BERLIN, ZUTC]),
)
def test_property_real_gaps_are_never_shorter_than_the_nominal_gap_less_one_hour(
    template: dict, at: time, tz: ZoneInfo
) -> None:
    plan = PhasePlan(phase=Phase.INDUCTION, starts_on=date(2026, 1, 1), at=at.replace(
        microsecond=0), weekdays=frozenset(template.get("weekdays", ())),
        cadence=template["cadence"], every_n_days=template.get("every_n_days"))
    occs = occurrences([plan], tz, utc(2026, 1, 1), utc(2027, 1, 1))
    gaps = [b.scheduled_at - a.scheduled_at for a, b in pairwise(occs)]
    nominal = shortest_gap([template])
    assert nominal is not None
    assert all(gap >= nominal - HOURS for gap in gaps)
    if len(gaps) > 8:
        # Away from the changes the wall-clock gap is the real one.
        assert nominal in gaps


# --- the most sessions in a rolling window (the maxima warning) -------------------------------


def _plan(cadence: Cadence, **kw) -> PhasePlan:
    return PhasePlan(phase=Phase.INDUCTION, starts_on=date(2026, 1, 5), cadence=cadence,
                     at=time(10, 0), **kw)


@pytest.mark.parametrize(("plan", "tz", "in_a_day", "in_a_week"), [
    (_plan(Cadence.INTERVAL, every_n_days=1), ZUTC, 1, 7),
    (_plan(Cadence.INTERVAL, every_n_days=1), NY, 2, 8),  # 23 hours apart in March
    (_plan(Cadence.INTERVAL, every_n_days=7), ZUTC, 1, 1),
    (_plan(Cadence.INTERVAL, every_n_days=7), NY, 1, 2),  # 167 hours apart in March
    (_plan(Cadence.INTERVAL, every_n_days=3), BERLIN, 1, 3),
    # Mon/Thu: Thu to Mon straddles the Sunday change, Mon to Thu never does.
    (_plan(Cadence.WEEKDAYS, weekdays={MON, THU}), NY, 1, 3),
    (_plan(Cadence.WEEKDAYS, weekdays={MON, THU}), ZUTC, 1, 2),
    # Mon/Tue: a day apart, but never across a Sunday: one a day even in New York.
    (_plan(Cadence.WEEKDAYS, weekdays={MON, TUE}), NY, 1, 3),
    # Sat/Sun: Saturday 10:00 to Sunday 10:00 is 23 hours across the 2 AM change.
    (_plan(Cadence.WEEKDAYS, weekdays={SAT, SUN}), NY, 2, 3),
])
def test_most_sessions_within_a_window_counts_the_clock_change(plan, tz, in_a_day, in_a_week):
    assert most_sessions_within(plan, timedelta(hours=24), tz) == in_a_day
    assert most_sessions_within(plan, timedelta(days=7), tz) == in_a_week
