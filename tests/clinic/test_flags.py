"""The flag rules (app/clinic/flags.py evaluate): facts in, flags out, `now` passed in."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.clinic import flags
from app.clinic.flags import DoseFact, EventFact, PatientFacts, Phq9, Seen
from app.protocols import schedule

# Tuesday 24 November 2026, 15:30 in New York.
NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
TZ = "America/New_York"
# Mondays and Thursdays at 10:00 New York (15:00 UTC in November), from 2 November.
PLANS = [schedule.PhasePlan(phase=schedule.Phase.INDUCTION, starts_on=date(2026, 11, 2),
                            cadence=schedule.Cadence.WEEKDAYS, at=time(10, 0),
                            weekdays=frozenset({0, 3}))]
DOSE = Decimal(100)


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


def treated(**kwargs) -> PatientFacts:
    """A patient on the Monday/Thursday protocol who took every session and logged today."""
    base = PatientFacts(timezone=TZ, plans=PLANS, dose_mg=DOSE, grace=timedelta(hours=4),
                        phase="induction", started_at=datetime(2026, 11, 2, 5, tzinfo=UTC),
                        doses=every_session(), last_logged=ago(hours=2))
    return replace(base, **kwargs)


def sessions(days: int = 16) -> list[schedule.Occurrence]:
    return schedule.occurrences(PLANS, ZoneInfo(TZ), NOW - timedelta(days=days), NOW)


def every_session(skip: tuple[int, ...] = (), mg: Decimal = DOSE) -> list[DoseFact]:
    return [DoseFact(f"dose-{i}", occ.scheduled_at + timedelta(minutes=5), mg)
            for i, occ in enumerate(sessions()) if i not in skip]


def codes(found) -> list[str]:
    return [f.code for f in found]


def test_a_patient_doing_well_has_no_flags():
    assert flags.evaluate(treated(), NOW) == []


def test_a_patient_without_a_protocol_or_entries_has_no_flags():
    assert flags.evaluate(PatientFacts(timezone=TZ), NOW) == []


# --- windowed occurrences: (facts field, code, window in days) ---------------------------------

WINDOWED = [
    ("bp_emergencies", "bp_emergency", 14),
    ("bp_holds", "bp_hold", 14),
    ("supply", "supply", 30),
    ("struck_flagged", "struck_flagged", 30),
]


@pytest.mark.parametrize(("field", "code", "days"), WINDOWED)
@pytest.mark.parametrize(("age", "flagged"), [
    (timedelta(hours=1), True),
    (timedelta(days=1), True),
    ("edge", True),
    ("past", False),
])
def test_recent_occurrences_flag_and_old_ones_do_not(field, code, days, age, flagged):
    if age == "edge":
        age = timedelta(days=days) - timedelta(minutes=1)
    elif age == "past":
        age = timedelta(days=days, minutes=1)
    facts = treated(**{field: [Seen(NOW - age, "occ-1")]})
    found = flags.evaluate(facts, NOW)
    assert codes(found) == ([code] if flagged else [])
    if flagged:
        assert found[0].key == "occ-1" and found[0].since == NOW - age
        assert found[0].urgency == flags.URGENCY[code]


@pytest.mark.parametrize(("field", "code", "_days"), WINDOWED)
def test_a_review_clears_that_occurrence_and_earlier_ones_and_a_new_one_flags_again(
        field, code, _days):
    older, newer = Seen(ago(days=3), "occ-old"), Seen(ago(days=2), "occ-new")
    both = treated(**{field: [newer, older]})
    [flag] = flags.evaluate(both, NOW)
    assert (flag.key, flag.since) == ("occ-new", older.at)  # the latest, since the earliest
    assert "2" in flag.message

    assert flags.evaluate(replace(both, reviewed=frozenset({(code, "occ-new")})), NOW) == []
    # Reviewing the older one leaves the newer open.
    [left] = flags.evaluate(replace(both, reviewed=frozenset({(code, "occ-old")})), NOW)
    assert (left.key, left.since) == ("occ-new", newer.at)
    assert "1" in left.message
    # The window's count leaves the reviewed one out, and says so.
    assert left.message.endswith(" Not counting 1 already reviewed.")
    assert "already reviewed" not in flag.message
    # A review of another code's occurrence with the same key clears nothing.
    assert codes(flags.evaluate(replace(both, reviewed=frozenset({("other", "occ-new")})),
                                NOW)) == [code]
    # After the review, a new occurrence flags again, on its own.
    newest = Seen(ago(hours=1), "occ-newest")
    again = replace(both, reviewed=frozenset({(code, "occ-new")}),
                    **{field: [older, newer, newest]})
    [flag] = flags.evaluate(again, NOW)
    assert (flag.key, flag.since) == ("occ-newest", newest.at)


@pytest.mark.parametrize(("kinds", "words"), [
    (["discrepancy"], "1 troche count that did not match in 30 days."),
    (["discrepancy", "discrepancy"], "2 troche counts that did not match in 30 days."),
    (["early_refill"], "1 early refill in 30 days."),
    (["early_refill", "discrepancy"],
     "1 troche count that did not match and 1 early refill in 30 days."),
    (["early_refill", "early_refill", "discrepancy"],
     "1 troche count that did not match and 2 early refills in 30 days."),
])
def test_the_supply_flag_counts_each_kind_by_its_own_number(kinds, words):
    """"2 troche counts that did not match, or early refills" was read as two of each for one
    count and one refill."""
    facts = treated(supply=[Seen(ago(days=i + 1), f"entry-{i}", kind)
                            for i, kind in enumerate(kinds)])
    [flag] = flags.evaluate(facts, NOW)
    assert (flag.code, flag.message) == ("supply", words)
    # A review counts out what it cleared, of either kind.
    if len(kinds) > 1:
        oldest = f"entry-{len(kinds) - 1}"
        [left] = flags.evaluate(replace(facts, reviewed=frozenset({("supply", oldest)})), NOW)
        assert left.message.endswith(" Not counting 1 already reviewed.")


# --- dose flags -----------------------------------------------------------------------------


@pytest.mark.parametrize(("dose_flags", "expected"), [
    (set(), []),
    ({"override", "sitter_required"}, ["override"]),
    # Against a hold: its safety event is the flag (one incident, one review), not this.
    ({"override", "bp_hold", "against_hold"}, []),
    ({"late_entry"}, ["late_or_extra"]),
    ({"extra"}, ["late_or_extra"]),
    ({"override", "sitter_required", "late_entry"}, ["override", "late_or_extra"]),
    ({"no_gate", "off_protocol_amount"}, []),
    # Within the limits only because a dose near it was struck: its own flag, after override.
    ({"cleared_by_correction"}, ["cleared_by_correction"]),
    ({"cleared_by_correction", "late_entry", "override"}, ["override", "cleared_by_correction",
                                                      "late_or_extra"]),
])
def test_dose_flags(dose_flags, expected):
    doses = every_session()
    last = doses[-1]
    doses[-1] = replace(last, flags=frozenset(dose_flags))
    found = flags.evaluate(treated(doses=doses), NOW)
    assert codes(found) == expected
    assert all(f.key == last.key and f.since == last.taken_at for f in found)


def test_dose_flags_older_than_30_days_do_not_flag():
    old = DoseFact("old", ago(days=30, minutes=1), DOSE,
                   frozenset({"override", "extra", "cleared_by_correction"}))
    assert flags.evaluate(treated(doses=[old, *every_session()]), NOW) == []
    recent = replace(old, taken_at=ago(days=29))
    assert codes(flags.evaluate(treated(doses=[recent, *every_session()]), NOW)) == [
        "override", "cleared_by_correction", "late_or_extra"]


def test_a_dose_near_a_struck_one_is_counted_and_cleared_by_a_review():
    doses = every_session()
    doses[-1] = replace(doses[-1], flags=frozenset({"cleared_by_correction"}))
    doses[-2] = replace(doses[-2], flags=frozenset({"cleared_by_correction"}))
    [flag] = flags.evaluate(treated(doses=doses), NOW)
    assert flag.message == ("2 doses within the limits only because a dose near them was "
                            "corrected or marked entered in error, in 30 days.")
    assert (flag.key, flag.since) == (doses[-1].key, doses[-2].taken_at)
    reviewed = frozenset({("cleared_by_correction", doses[-1].key)})
    assert flags.evaluate(treated(doses=doses, reviewed=reviewed), NOW) == []


# --- missed sessions ------------------------------------------------------------------------


def test_missed_sessions_count_the_last_14_days_keyed_by_the_latest_date():
    occs = sessions()
    recent = [i for i, o in enumerate(occs) if o.scheduled_at >= NOW - timedelta(days=14)]
    skipped = (recent[0], recent[2])
    [flag] = flags.evaluate(treated(doses=every_session(skip=skipped)), NOW)
    assert flag.code == "missed_sessions"
    assert flag.message == "2 scheduled sessions missed in 14 days."
    assert flag.key == occs[recent[2]].local_date.isoformat()
    assert flag.since == occs[recent[0]].scheduled_at
    reviewed = frozenset({("missed_sessions", flag.key)})
    assert flags.evaluate(treated(doses=every_session(skip=skipped), reviewed=reviewed),
                          NOW) == []


@pytest.mark.parametrize(("hours_late", "missed"), [(3, False), (5, True)])
def test_a_session_is_missed_only_after_its_grace_period(hours_late, missed):
    last = sessions()[-1]  # Monday 23 November, 15:00 UTC
    at = last.scheduled_at + timedelta(hours=hours_late)
    # Before its grace ends the session is overdue, not missed.
    assert codes(flags.evaluate(treated(doses=every_session(skip=(len(sessions()) - 1,))),
                                at)) == (["missed_sessions"] if missed else [])


def test_sessions_before_the_window_are_not_counted():
    old = [i for i, o in enumerate(sessions()) if o.scheduled_at < NOW - timedelta(days=14)]
    assert old  # the fixture reaches back past the window
    assert flags.evaluate(treated(doses=every_session(skip=tuple(old))), NOW) == []


# --- dose creep -----------------------------------------------------------------------------
# The last 7 days hold two sessions (Thursday 19, Monday 23): 200 mg planned, so more than 300
# mg flags.


def dose_at(day: int, hour: int, mg: int | str = 100, key: str | None = None) -> DoseFact:
    return DoseFact(key or f"d-{day}-{hour}", datetime(2026, 11, day, hour, tzinfo=UTC),
                    Decimal(mg))


@pytest.mark.parametrize(("doses", "flagged", "since_key"), [
    ([dose_at(19, 15), dose_at(23, 15)], False, None),
    # One dose above the plan is an extra dose, not creep.
    ([dose_at(19, 15), dose_at(21, 15), dose_at(23, 15)], False, None),
    ([dose_at(19, 15), dose_at(20, 15), dose_at(21, 15), dose_at(23, 15)], True, "d-23-15"),
    ([dose_at(19, 15, 160), dose_at(23, 15, 160)], True, "d-23-15"),
    ([dose_at(19, 15, 150), dose_at(23, 15, 150)], False, None),
    # Doses before the window do not count.
    ([dose_at(16, 15), dose_at(17, 15), dose_at(19, 15), dose_at(23, 15)], False, None),
    # A dose taken a little late after a session just before the window is not creep.
    ([dose_at(17, 19), dose_at(19, 15), dose_at(23, 15), dose_at(24, 14)], False, None),
])
def test_dose_creep(doses, flagged, since_key):
    found = [f for f in flags.evaluate(treated(doses=doses), NOW) if f.code == "dose_creep"]
    assert bool(found) == flagged
    if flagged:
        [flag] = found
        assert flag.key == doses[-1].key  # the latest dose names the occurrence
        assert flag.since == next(d.taken_at for d in doses if d.key == since_key)
        assert "planned" in flag.message or "plans" in flag.message


def test_dose_creep_without_a_protocol_is_not_judged():
    doses = [dose_at(d, 15) for d in (18, 19, 20, 21, 22, 23)]
    facts = treated(plans=None, dose_mg=None, doses=doses)
    assert "dose_creep" not in codes(flags.evaluate(facts, NOW))


def test_a_reviewed_dose_creep_flags_again_with_the_next_dose():
    doses = [dose_at(19, 15), dose_at(20, 15), dose_at(21, 15), dose_at(23, 15)]
    reviewed = frozenset({("dose_creep", "d-23-15")})
    assert "dose_creep" not in codes(flags.evaluate(treated(doses=doses, reviewed=reviewed),
                                                    NOW))
    more = [*doses, dose_at(24, 16)]
    assert "dose_creep" in codes(flags.evaluate(treated(doses=more, reviewed=reviewed), NOW))


# --- PHQ-9 ----------------------------------------------------------------------------------

BAND = {score: band for low, high, band in ((0, 4, "minimal"), (5, 9, "mild"),
                                            (10, 14, "moderate"), (15, 19, "moderately_severe"),
                                            (20, 27, "severe"))
        for score in range(low, high + 1)}


def phq9(*scores: int) -> list[Phq9]:
    return [Phq9(f"phq-{i}", ago(days=7 * (len(scores) - i)), s, BAND[s])
            for i, s in enumerate(scores)]


@pytest.mark.parametrize(("scores", "flagged"), [
    ((3,), False),
    ((3, 3), False),
    ((10, 14), False),  # up 4, same band
    ((10, 15), True),  # up 5 (and a worse band)
    ((15, 19), False),  # up 4, same band
    ((14, 15), True),  # a worse band by one point
    ((4, 5), True),
    ((20, 27), True),  # up 7
    ((15, 10), False),  # better
    ((3, 22, 14), False),  # only the latest two count: 22 -> 14 is better
    ((22, 3, 9), True),  # 3 -> 9: up 6
])
def test_phq9_worse(scores, flagged):
    found = [f for f in flags.evaluate(treated(phq9=phq9(*scores)), NOW)
             if f.code == "phq9_worse"]
    assert bool(found) == flagged
    if flagged:
        latest = phq9(*scores)[-1]
        assert (found[0].key, found[0].since) == (latest.key, latest.completed_at)
        assert found[0].message.startswith(f"PHQ-9 went from {scores[-2]} to {scores[-1]}")


def test_a_reviewed_phq9_flags_again_with_a_new_worse_one():
    reviewed = frozenset({("phq9_worse", "phq-1")})
    assert flags.evaluate(treated(phq9=phq9(5, 10), reviewed=reviewed), NOW) == []
    newer = [Phq9("phq-1", ago(days=7), 10, "moderate"), Phq9("phq-2", ago(days=1), 15,
                                                                 "moderately_severe")]
    assert codes(flags.evaluate(treated(phq9=newer, reviewed=reviewed), NOW)) == ["phq9_worse"]


# --- no data --------------------------------------------------------------------------------


@pytest.mark.parametrize(("last", "started", "has_protocol", "flagged"), [
    (timedelta(days=6, hours=23), timedelta(days=30), True, False),
    (timedelta(days=7), timedelta(days=30), True, True),
    (timedelta(days=20), timedelta(days=30), True, True),
    (None, timedelta(days=8), True, True),  # never logged anything since treatment began
    (None, timedelta(days=6), True, False),
    (timedelta(days=20), None, False, False),  # no protocol: nothing is expected
])
def test_no_data(last, started, has_protocol, flagged):
    facts = treated(doses=[], last_logged=NOW - last if last else None,
                    started_at=NOW - started if started else None,
                    plans=PLANS if has_protocol else None)
    found = [f for f in flags.evaluate(facts, NOW) if f.code == "no_data"]
    assert bool(found) == flagged
    if flagged:
        quiet = NOW - (last or started)
        assert found[0].since == quiet
        assert found[0].message == f"Nothing logged for {(NOW - quiet).days} days."
        # Reviewed: off until something is logged and then nothing again for a week.
        again = replace(facts, reviewed=frozenset({("no_data", found[0].key)}))
        assert "no_data" not in codes(flags.evaluate(again, NOW))
        later = replace(again, last_logged=NOW - timedelta(days=1))
        assert "no_data" in codes(flags.evaluate(later, NOW + timedelta(days=7)))


# --- high-risk screens and ordering ----------------------------------------------------------


def test_each_pending_safety_review_is_its_own_flag_and_comes_first():
    facts = treated(pending_reviews=[Seen(ago(days=2), "ev-2"), Seen(ago(days=5), "ev-1")],
                    bp_holds=[Seen(ago(days=1), "g-1")],
                    bp_emergencies=[Seen(ago(days=3), "e-1")],
                    phq9=phq9(4, 12), doses=[], last_logged=ago(days=9))
    found = flags.evaluate(facts, NOW)
    assert codes(found)[:4] == ["cssrs_high", "cssrs_high", "bp_emergency", "bp_hold"]
    assert [f.key for f in found[:2]] == ["ev-1", "ev-2"]  # oldest first
    assert codes(found)[-2:] == ["phq9_worse", "no_data"]
    # A FlagReview row does not clear a screen: only the safety review does.
    reviewed = replace(facts, reviewed=frozenset({("cssrs_high", "ev-1")}))
    assert codes(flags.evaluate(reviewed, NOW)).count("cssrs_high") == 2


def test_urgency_follows_the_documented_order():
    assert [flags.URGENCY[c] for c in flags.CODES if c != "safety_event"] == sorted(
        (u for c, u in flags.URGENCY.items() if c != "safety_event"), reverse=True)


@pytest.mark.parametrize(("kind", "level", "risk", "first"), [
    # Severe events come before a crisis reading.
    ("hard_to_rouse", "high", None, "safety_event"),
    ("dose_against_hold", "high", None, "safety_event"),
    # Those that do not stop dosing come after it (and a screened answer whose risk the
    # record does not hold).
    ("positive_screen", "moderate", None, "bp_emergency"),
    ("offline_gate_disagreed", "moderate", None, "bp_emergency"),
    ("phq9_item9", "screened", "low", "bp_emergency"),
    ("phq9_item9", "screened", None, "bp_emergency"),
])
def test_a_crisis_reading_ranks_by_what_it_stops(kind, level, risk, first):
    """A reading at or above 180/120 stops dosing as a high-risk screen does: a low-risk item 9
    answer from three weeks ago ranked above one taken five minutes ago. Every safety event
    still ranks above a blood-pressure hold."""
    facts = treated(bp_emergencies=[Seen(ago(minutes=5), "reading")],
                    bp_holds=[Seen(ago(minutes=5), "held")],
                    events_to_review=[EventFact(ago(days=21), "event", kind, level, risk)])
    found = flags.evaluate(facts, NOW)
    assert codes(found)[0] == first
    assert set(codes(found)[:2]) == {"safety_event", "bp_emergency"}
    assert codes(found)[2] == "bp_hold"
