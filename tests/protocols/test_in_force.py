"""schedule.occurrences_in_force: each session under the protocol version in force when it was
due (a version applies from when it was saved until the next one), with that version's grace.
A table of cases, then the rules around it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protocols.schedule import (
    Cadence,
    InForce,
    Phase,
    PhasePlan,
    SessionState,
    classify_sessions,
    occurrences,
    occurrences_in_force,
)

NY = ZoneInfo("America/New_York")
ZUTC = ZoneInfo("UTC")
FOUR = timedelta(hours=4)
TAKEN, MISSED, OVERDUE, DUE, UPCOMING = (SessionState.TAKEN, SessionState.MISSED,
                                         SessionState.OVERDUE, SessionState.DUE,
                                         SessionState.UPCOMING)


def utc(d: int, h: int = 0, mi: int = 0, sec: int = 0) -> datetime:
    """An instant in November 2026 (UTC)."""
    return datetime(2026, 11, d, h, mi, sec, tzinfo=UTC)


def daily(at: str, *, starts: int = 1, phase: Phase = Phase.INDUCTION) -> PhasePlan:
    return PhasePlan(phase=phase, starts_on=date(2026, 11, starts), cadence=Cadence.INTERVAL,
                     at=time.fromisoformat(at), every_n_days=1)


def version(n: int, since: datetime, *plans: PhasePlan, grace: timedelta = FOUR) -> InForce:
    return InForce(version=n, since=since, plans=plans, grace=grace)


# (name, versions, start, end, doses, now, expected [(scheduled_at, version, grace, state)])
# Daily plans; times in UTC; FOUR hours' grace unless said.
CASES = [
    ("no versions: nothing scheduled",
     [], utc(1), utc(10), [utc(2, 10, 5)], utc(10), []),
    ("one version saved before the range: its sessions, its grace",
     [version(1, utc(1), daily("10:00"))], utc(2), utc(4), [utc(2, 10, 5), utc(3, 10, 5)],
     utc(4), [(utc(2, 10), 1, FOUR, TAKEN), (utc(3, 10), 1, FOUR, TAKEN)]),
    # The tester's defect: a new time must not turn the sessions before it into missed ones.
    ("a new time mid-range: the days before keep the old time, taken stays taken; missed under "
     "the new one is missed",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 18), daily("14:00"))],
     utc(1), utc(6), [utc(1, 10, 5), utc(2, 10, 5), utc(3, 10, 5), utc(4, 14, 5)], utc(5, 20),
     [(utc(1, 10), 1, FOUR, TAKEN), (utc(2, 10), 1, FOUR, TAKEN), (utc(3, 10), 1, FOUR, TAKEN),
      (utc(4, 14), 2, FOUR, TAKEN), (utc(5, 14), 2, FOUR, MISSED)]),
    ("a session missed under the old version stays missed after the change",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 18), daily("14:00"))],
     utc(1), utc(4), [utc(1, 10, 5), utc(3, 10, 5)], utc(4),
     [(utc(1, 10), 1, FOUR, TAKEN), (utc(2, 10), 1, FOUR, MISSED), (utc(3, 10), 1, FOUR, TAKEN)]),
    # A version saved between a session's time and its grace end.
    ("saved after the session was taken, within its grace: it stays the old version's, and the "
     "new time's session that day is not put before the save",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 12), daily("11:00"))],
     utc(3), utc(5), [utc(3, 10, 5), utc(4, 11, 5)], utc(5),
     [(utc(3, 10), 1, FOUR, TAKEN), (utc(4, 11), 2, FOUR, TAKEN)]),
    # A day holds one session: one taken before the save is that day's, and a new time later
    # that day does not ask for a second dose (it read "missed" at 14:00, and Today asked).
    ("… and the new time adds no session later that day: it starts the next day",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 12), daily("14:00"))],
     utc(3), utc(5), [utc(3, 10, 5)], utc(5),
     [(utc(3, 10), 1, FOUR, TAKEN), (utc(4, 14), 2, FOUR, MISSED)]),
    ("a session after the save that a dose before it took early stays taken (8:14 for 8:30, "
     "the time moved to 18:00 at 8:20), and the day gets no 18:00 session",
     [version(1, utc(1), daily("08:30")), version(2, utc(3, 8, 20), daily("18:00"))],
     utc(3), utc(5), [utc(3, 8, 14)], utc(4, 12),
     [(utc(3, 8, 30), 1, FOUR, TAKEN), (utc(4, 18), 2, FOUR, UPCOMING)]),
    ("… but one no dose took before the save gives way to the new time",
     [version(1, utc(1), daily("08:30")), version(2, utc(3, 8, 20), daily("18:00"))],
     utc(3), utc(4), [utc(3, 8, 25)], utc(3, 23),
     [(utc(3, 18), 2, FOUR, MISSED)]),
    ("a session missed before the save does not stop the new time that day",
     [version(1, utc(1), daily("08:00"), grace=timedelta(hours=1)),
      version(2, utc(3, 12), daily("18:00"))],
     utc(3), utc(4), [utc(3, 18, 5)], utc(4),
     [(utc(3, 8), 1, timedelta(hours=1), MISSED), (utc(3, 18), 2, FOUR, TAKEN)]),
    ("saved while the session was open and not taken: it moves (10:00 to 18:00 at 10:20), it "
     "is not left to be missed",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 10, 20), daily("18:00"))],
     utc(2), utc(4), [utc(2, 10, 5), utc(3, 18, 5)], utc(4),
     [(utc(2, 10), 1, FOUR, TAKEN), (utc(3, 18), 2, FOUR, TAKEN)]),
    ("… a dose after the save at the old time is then outside a session (the grace of the "
     "old version no longer holds it)",
     [version(1, utc(1), daily("10:00")),
      version(2, utc(3, 12), daily("20:00"), grace=timedelta(hours=1))],
     utc(3), utc(4), [utc(3, 13, 30)], utc(3, 22),
     [(utc(3, 20), 2, timedelta(hours=1), MISSED)]),
    ("… and a range that ends before that save reads the same (the save decides)",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 10, 20), daily("18:00"))],
     utc(2), utc(3, 10, 10), [utc(2, 10, 5)], utc(3, 12),
     [(utc(2, 10), 1, FOUR, TAKEN)]),
    ("saved while the session was open with the same time (a new dose): the session stays "
     "open, now the new version's with its grace",
     [version(1, utc(1), daily("10:00")),
      version(2, utc(3, 12), daily("10:00"), grace=timedelta(hours=6))],
     utc(3), utc(4), [utc(3, 15, 30)], utc(4),
     [(utc(3, 10), 2, timedelta(hours=6), TAKEN)]),
    ("saved after the session's grace ran out: missed stays missed, the new version does not "
     "put a second session on that day",
     [version(1, utc(1), daily("10:00"), grace=timedelta(hours=1)),
      version(2, utc(3, 12), daily("10:00"))],
     utc(3), utc(5), [utc(4, 10, 5)], utc(5),
     [(utc(3, 10), 1, timedelta(hours=1), MISSED), (utc(4, 10), 2, FOUR, TAKEN)]),
    ("nothing before the first version was saved, though its plan starts earlier, but the "
     "session still open then (saved at 12:00, 10:00 + 4 hours' grace)",
     [version(1, utc(3, 12), daily("10:00"))], utc(1), utc(6), [utc(3, 12, 30), utc(4, 10, 5)],
     utc(6),
     [(utc(3, 10), 1, FOUR, TAKEN), (utc(4, 10), 1, FOUR, TAKEN), (utc(5, 10), 1, FOUR, MISSED)]),
    ("… and not one whose grace had run out",
     [version(1, utc(3, 14, 1), daily("10:00"))], utc(1), utc(5), [], utc(5),
     [(utc(4, 10), 1, FOUR, MISSED)]),
    ("a session at the very moment a version is saved is the new version's",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 10), daily("10:00", starts=3))],
     utc(2), utc(4), [utc(2, 10), utc(3, 10)], utc(4),
     [(utc(2, 10), 1, FOUR, TAKEN), (utc(3, 10), 2, FOUR, TAKEN)]),
    ("several versions in one day: each rules only its own hours",
     [version(1, utc(1), daily("09:00")), version(2, utc(2, 8), daily("12:00")),
      version(3, utc(2, 10), daily("18:00")), version(4, utc(2, 19), daily("07:00"))],
     utc(1), utc(4), [utc(1, 9), utc(2, 18), utc(3, 7)], utc(4),
     [(utc(1, 9), 1, FOUR, TAKEN), (utc(2, 18), 3, FOUR, TAKEN), (utc(3, 7), 4, FOUR, TAKEN)]),
    ("moved away and straight back within a minute: the session is there again",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 10, 0, 30), daily("18:00")),
      version(3, utc(3, 10, 1), daily("10:00"))],
     utc(3), utc(4), [utc(3, 10, 2)], utc(4), [(utc(3, 10), 3, FOUR, TAKEN)]),
    ("two versions saved at the same instant: the later one rules",
     [version(1, utc(1), daily("09:00")), version(2, utc(2, 12), daily("10:00")),
      version(3, utc(2, 12), daily("14:00"))],
     utc(1), utc(4), [utc(1, 9), utc(2, 14), utc(3, 14)], utc(4),
     [(utc(1, 9), 1, FOUR, TAKEN), (utc(2, 14), 3, FOUR, TAKEN), (utc(3, 14), 3, FOUR, TAKEN)]),
    ("a later version saved with an earlier clock rules from its own time; the one it "
     "overtook never does",
     [version(1, utc(1), daily("10:00")), version(2, utc(5), daily("12:00")),
      version(3, utc(3, 16), daily("14:00"))],
     utc(2), utc(6), [], utc(2),
     [(utc(2, 10), 1, FOUR, UPCOMING), (utc(3, 10), 1, FOUR, UPCOMING),
      (utc(4, 14), 3, FOUR, UPCOMING), (utc(5, 14), 3, FOUR, UPCOMING)]),
    ("one dose takes one session, even next to a version change (the PDF counted it twice)",
     [version(1, utc(1), daily("10:00")), version(2, utc(3, 11), daily("12:00"))],
     utc(3), utc(4), [utc(3, 10, 30)], utc(3, 23),
     [(utc(3, 10), 1, FOUR, TAKEN)]),
]


@pytest.mark.parametrize(("versions", "start", "end", "doses", "now", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_sessions_are_judged_by_the_version_in_force_when_due(versions, start, end, doses, now,
                                                               expected):
    occs = occurrences_in_force(versions, ZUTC, start, end, doses=doses)
    states = classify_sessions(occs, doses, now)
    assert [(s.occurrence.scheduled_at, s.occurrence.version, s.occurrence.grace, s.state)
            for s in states] == expected


def test_phase_changes_inside_a_version_follow_its_timeline():
    # Version 1: induction every 2 days at 10:00 from 1 November, maintenance on Mondays at
    # 09:00 from 9 November (New York). Version 2, saved on the 12th, moves maintenance to 11:00.
    induction = PhasePlan(phase=Phase.INDUCTION, starts_on=date(2026, 11, 1),
                          cadence=Cadence.INTERVAL, at=time(10), every_n_days=2)
    monday = PhasePlan(phase=Phase.MAINTENANCE, starts_on=date(2026, 11, 9),
                       cadence=Cadence.WEEKDAYS, at=time(9), weekdays=frozenset({0}))
    later = PhasePlan(phase=Phase.MAINTENANCE, starts_on=date(2026, 11, 9),
                      cadence=Cadence.WEEKDAYS, at=time(11), weekdays=frozenset({0}))
    v1 = version(1, utc(1), induction, monday)
    v2 = version(2, utc(12), induction, later, grace=timedelta(hours=2))
    start, end = utc(1), utc(24)
    found = occurrences_in_force([v1, v2], NY, start, end, doses=[])
    local = [(o.scheduled_at.astimezone(NY).strftime("%m-%d %H:%M"), o.phase.value, o.version)
             for o in found]
    assert local == [
        ("11-01 10:00", "induction", 1), ("11-03 10:00", "induction", 1),
        ("11-05 10:00", "induction", 1), ("11-07 10:00", "induction", 1),
        ("11-09 09:00", "maintenance", 1), ("11-16 11:00", "maintenance", 2),
        ("11-23 11:00", "maintenance", 2),
    ]
    assert [o.grace for o in found] == [FOUR] * 5 + [timedelta(hours=2)] * 2


@settings(max_examples=60, deadline=None)
@given(saved=st.integers(min_value=0, max_value=30), start=st.integers(min_value=0, max_value=30),
       span=st.integers(min_value=0, max_value=30))
def test_one_version_in_force_all_along_gives_the_plans_own_sessions(saved, start, span):
    plans = [daily("10:00"), PhasePlan(phase=Phase.MAINTENANCE, starts_on=date(2026, 11, 15),
                                       cadence=Cadence.WEEKDAYS, at=time(8),
                                       weekdays=frozenset({1, 4}))]
    since = utc(1) - timedelta(days=saved)
    lo = utc(1) + timedelta(days=start)
    hi = lo + timedelta(days=span)
    found = occurrences_in_force([version(7, since, *plans)], NY, lo, hi, doses=[])
    assert [(o.scheduled_at, o.local_date, o.phase) for o in found] == [
        (o.scheduled_at, o.local_date, o.phase) for o in occurrences(plans, NY, lo, hi)]
    assert {(o.version, o.grace) for o in found} <= {(7, FOUR)}


def test_a_session_without_a_grace_of_its_own_needs_the_callers():
    occs = occurrences([daily("10:00")], ZUTC, utc(2), utc(3))
    with pytest.raises(ValueError, match="grace"):
        classify_sessions(occs, [], utc(3))
    assert [s.state for s in classify_sessions(occs, [], utc(3), grace=FOUR)] == [MISSED]


def test_a_version_needs_an_aware_time_and_a_grace_not_negative():
    with pytest.raises(ValueError):
        version(1, datetime(2026, 11, 1), daily("10:00"))
    with pytest.raises(ValueError):
        version(1, utc(1), daily("10:00"), grace=timedelta(hours=-1))
    with pytest.raises(TypeError):
        occurrences_in_force([daily("10:00")], ZUTC, utc(1), utc(2),  # type: ignore[list-item]
                             doses=[])


_HOURS = st.integers(min_value=0, max_value=23)
_GRACES = st.sampled_from([timedelta(hours=h) for h in (1, 2, 4, 12, 48)])


@settings(max_examples=400, deadline=None)
@given(first_at=_HOURS, first_grace=_GRACES, second_at=_HOURS, second_grace=_GRACES,
       saved=st.integers(min_value=2 * 24 * 60, max_value=9 * 24 * 60),
       doses=st.lists(st.integers(min_value=0, max_value=11 * 24 * 60), max_size=14))
def test_a_later_version_never_changes_a_session_settled_before_it(
        first_at, first_grace, second_at, second_grace, saved, doses):
    """The defect, as a property: whatever the second version says and whenever it is saved,
    every session taken by a dose before the save stays taken by that dose, and every session
    whose grace ran out before the save stays, missed unless a dose from before the save, that
    went to a session the new version took away, now takes it."""
    first = version(1, utc(1), daily(f"{first_at:02d}:00"), grace=first_grace)
    since = utc(1) + timedelta(minutes=saved)
    second = version(2, since, daily(f"{second_at:02d}:30"), grace=second_grace)
    taken = [utc(1) + timedelta(minutes=m) for m in doses]
    start, end, now = utc(1), utc(12), utc(13)

    def states(versions):
        occs = occurrences_in_force(versions, ZUTC, start, end, doses=taken)
        return {s.occurrence.scheduled_at: s for s in classify_sessions(occs, taken, now)}

    alone, changed = states([first]), states([first, second])
    moved = {s.dose_at for at, s in alone.items() if at >= since and s.dose_at}
    for at, status in alone.items():
        if at >= since:
            continue
        if status.state is TAKEN and status.dose_at < since:
            assert at in changed and changed[at].occurrence.version == 1, (at, since)
            assert changed[at].dose_at == status.dose_at, (at, since, status, changed[at])
        elif at + first_grace < since:
            assert at in changed and changed[at].occurrence.version == 1, (at, since)
            assert changed[at].state is status.state or changed[at].dose_at in moved, (
                at, since, status, changed[at])


def test_the_session_to_act_on_is_read_under_the_versions_in_force():
    """The card read the current version alone: a grace raised after a session was missed
    made it overdue again on the card while the list beside it said missed; and a new time
    saved after the day's dose asked for a second one that day."""
    from app.protocols.schedule import next_in_force

    three = timedelta(hours=3)
    missed_then_longer_grace = [version(1, utc(1), daily("10:00"), grace=three),
                                version(2, utc(8, 14), daily("10:00"),
                                        grace=timedelta(hours=24))]
    nxt = next_in_force(missed_then_longer_grace, ZUTC, utc(8, 15), [utc(7, 10, 5)])
    assert (nxt.occurrence.scheduled_at, nxt.state) == (utc(9, 10), UPCOMING)

    moved_after_the_dose = [version(1, utc(1), daily("08:30")),
                            version(2, utc(8, 8, 20), daily("18:00"))]
    nxt = next_in_force(moved_after_the_dose, ZUTC, utc(8, 9), [utc(8, 8, 14)])
    assert nxt.occurrence.scheduled_at == utc(9, 18)
