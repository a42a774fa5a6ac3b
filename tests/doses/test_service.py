"""The dosing service with an explicit clock: the Today states, dose flags, corrections."""

import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from app.checkins.models import SafetyEvent
from app.doses import corrections, service
from app.doses import today as today_state
from app.doses.models import Dose, DoseRevision, DoseStatus, GateCheck
from app.errors import Invalid, NotFound
from app.protocols.schedule import SessionState
from tests import factories

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
# The default protocol: Mon/Thu 10:00 America/New_York from Mon 2026-01-05, grace 4 h.
SESSION = datetime(2026, 1, 12, 10, 0, tzinfo=NY)  # a Monday session (15:00 UTC)
NEXT_SESSION = datetime(2026, 1, 15, 10, 0, tzinfo=NY)  # the Thursday after


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@pytest.fixture
def world(db):
    prescriber, patient, version = factories.patient_with_protocol(
        db, now=utc(datetime(2026, 1, 2, 9, 0, tzinfo=NY)))
    return prescriber, patient, version


def gate(db, patient, at: datetime, **answers) -> GateCheck:
    data = {"systolic": 124, "diastolic": 80, "heart_rate": 72,
            "checklist": factories.CHECKLIST_ALL_YES, **answers}
    return service.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=utc(at),
                               data=data, now=utc(at))


def dose(db, patient, taken_at: datetime, *, now: datetime | None = None,
         recorded_at: datetime | None = None, gate_id=None, mg="100", **extra) -> Dose:
    now = now or taken_at
    data = {"taken_at": taken_at.isoformat(), "dose_mg": mg, "route": "sublingual",
        "no_gate_reason": "Logged later.", **extra}
    if gate_id is not None:
        data["gate_id"] = str(gate_id)
    return service.record_dose(db, patient=patient, dose_id=uuid.uuid4(),
                               recorded_at=utc(recorded_at or now), data=data, now=utc(now))


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def gated_dose(db, patient, at: datetime, **extra) -> Dose:
    check = gate(db, patient, at)
    assert check.verdict == "ok", check.reasons
    return dose(db, patient, at + timedelta(minutes=5), gate_id=check.id, **extra)


# --- Today: the next session and its state ------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (SESSION - timedelta(hours=2, seconds=1), SessionState.UPCOMING),
        (SESSION - timedelta(hours=2), SessionState.DUE),
        (SESSION, SessionState.DUE),
        (SESSION + timedelta(seconds=1), SessionState.OVERDUE),
        (SESSION + timedelta(hours=4), SessionState.OVERDUE),  # exactly at the grace boundary
    ],
)
def test_next_session_state_before_and_after_the_scheduled_time(db, world, now, state):
    _, patient, _ = world
    today = today_state.today(db, patient, utc(now))
    assert today.next_session.occurrence.scheduled_at == utc(SESSION)
    assert today.next_session.state == state
    assert today.phase == "induction"
    assert today.troches_per_dose == Decimal(1)


def test_a_session_is_missed_just_after_the_grace_window(db, world):
    _, patient, _ = world
    now = utc(SESSION + timedelta(hours=4, microseconds=1))
    today = today_state.today(db, patient, now)
    # The Monday session is missed, so the next one to act on is Thursday's.
    assert today.next_session.occurrence.scheduled_at == utc(NEXT_SESSION)
    assert today.next_session.state == SessionState.UPCOMING
    states = {s.occurrence.scheduled_at: s.state for s in today.recent}
    assert states[utc(SESSION)] == SessionState.MISSED
    assert today.recent[0].occurrence.scheduled_at == utc(SESSION)  # newest first


def test_a_taken_session_moves_on_to_the_next_one(db, world):
    _, patient, _ = world
    gated_dose(db, patient, SESSION)
    today = today_state.today(db, patient, utc(SESSION + timedelta(minutes=30)))
    assert today.next_session.occurrence.scheduled_at == utc(NEXT_SESSION)
    assert today.next_session.state == SessionState.UPCOMING
    assert today.recent[0].state == SessionState.TAKEN
    assert today.last_dose.taken_at == utc(SESSION + timedelta(minutes=5))
    # Later, the taken session is still taken, not missed.
    later = today_state.today(db, patient, utc(SESSION + timedelta(days=1)))
    assert {s.occurrence.scheduled_at: s.state for s in later.recent}[utc(SESSION)] == "taken"


def test_a_dose_inside_the_grace_window_still_counts_as_taken(db, world):
    _, patient, _ = world
    check = gate(db, patient, SESSION + timedelta(hours=3, minutes=50))
    dose(db, patient, SESSION + timedelta(hours=4), gate_id=check.id)
    today = today_state.today(db, patient, utc(SESSION + timedelta(hours=5)))
    assert {s.occurrence.scheduled_at: s.state for s in today.recent}[utc(SESSION)] == "taken"


def test_a_patient_who_moves_timezone_keeps_the_local_session_time(db, world):
    _, patient, _ = world
    before = today_state.today(db, patient, utc(datetime(2026, 1, 10, 12, 0, tzinfo=NY)))
    assert before.next_session.occurrence.scheduled_at.astimezone(NY).time() == time(10, 0)

    patient.timezone = "Europe/Berlin"
    db.add(patient)
    db.flush()
    now = utc(datetime(2026, 1, 10, 12, 0, tzinfo=BERLIN))
    after = today_state.today(db, patient, now)
    scheduled = after.next_session.occurrence.scheduled_at
    assert scheduled == utc(datetime(2026, 1, 12, 10, 0, tzinfo=BERLIN))
    assert scheduled.astimezone(BERLIN).time() == time(10, 0)
    assert after.next_session.state == SessionState.UPCOMING


def test_today_without_a_protocol_is_empty(db):
    patient = factories.user(db, role="patient")
    today = today_state.today(db, patient, utc(SESSION))
    assert today.protocol is None and today.next_session is None and today.recent == []


def test_after_a_finished_last_phase_there_is_no_next_session(db):
    _, patient, _ = factories.patient_with_protocol(db, maintenance=None)
    today = today_state.today(db, patient, utc(datetime(2026, 3, 2, 9, 0, tzinfo=NY)))
    assert today.next_session is None


# --- dose flags -------------------------------------------------------------------------------


def test_a_dose_in_its_session_after_an_ok_gate_has_no_flags(db, world):
    _, patient, version = world
    row = gated_dose(db, patient, SESSION)
    assert row.flags == []
    assert row.troches == Decimal(1)
    assert row.protocol_version_id == version.id
    assert row.hold_minutes == 15  # the protocol's hold time when none was given
    assert row.received_at == utc(SESSION + timedelta(minutes=5))


def test_one_safety_check_clears_one_dose_only(db, world):
    _, patient, _ = world
    check = gate(db, patient, SESSION)
    dose(db, patient, SESSION + timedelta(minutes=5), gate_id=check.id)
    with pytest.raises(Invalid, match="already used"):
        dose(db, patient, SESSION + timedelta(minutes=30), gate_id=check.id,
             override_reason="second troche")
    assert count(db, Dose) == 1


def test_the_database_holds_one_check_one_dose_too(db, world):
    """A writer that skips the service (a script, a future code path) still cannot clear two
    doses with one check; doses without a check may be many."""
    _, patient, version = world
    check = gate(db, patient, SESSION)
    first = dose(db, patient, SESSION + timedelta(minutes=5), gate_id=check.id)

    def written_directly(gate_id, taken_at: datetime) -> None:
        db.add(Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                    gate_id=gate_id, taken_at=utc(taken_at), recorded_at=utc(SESSION),
                    received_at=utc(SESSION), dose_mg=Decimal(100), troches=Decimal(1),
                    route="sublingual", hold_minutes=15, flags=[]))
        db.flush()

    for _ in range(2):
        written_directly(None, SESSION - timedelta(days=3))
    with pytest.raises(IntegrityError), db.begin_nested():
        written_directly(first.gate_id, SESSION + timedelta(minutes=30))
    assert count(db, Dose) == 3


def test_a_dose_outside_any_session_is_flagged_extra(db, world):
    _, patient, _ = world
    tuesday = datetime(2026, 1, 13, 15, 0, tzinfo=NY)
    row = gated_dose(db, patient, tuesday)
    assert row.flags == ["extra"]


def test_a_dose_without_a_gate_is_flagged(db, world):
    _, patient, _ = world
    row = dose(db, patient, SESSION + timedelta(minutes=5))
    assert row.flags == ["no_gate"]


@pytest.mark.parametrize(("delay", "late"), [(timedelta(hours=1), False),
                                             (timedelta(hours=1, seconds=1), True)])
def test_an_entry_more_than_an_hour_after_the_dose_is_marked_late(db, world, delay, late):
    _, patient, _ = world
    taken = SESSION + timedelta(minutes=5)
    row = dose(db, patient, taken, now=taken + delay)
    assert ("late_entry" in row.flags) is late
    assert row.recorded_at == utc(taken + delay)


def test_client_and_server_times_are_both_kept(db, world):
    _, patient, _ = world
    taken = SESSION + timedelta(minutes=5)
    row = dose(db, patient, taken, recorded_at=taken + timedelta(minutes=1),
               now=taken + timedelta(minutes=7))
    assert row.taken_at == utc(taken)
    assert row.recorded_at == utc(taken + timedelta(minutes=1))
    assert row.received_at == utc(taken + timedelta(minutes=7))


def test_a_dose_after_a_hold_needs_a_reason_and_is_flagged(db, world):
    prescriber, patient, _ = world
    factories.protocol(db, prescriber, patient, overridable_holds=["bp_hold"],
                       now=utc(datetime(2026, 1, 2, 10, 0, tzinfo=NY)))
    check = gate(db, patient, SESSION, systolic=165, diastolic=90)
    assert check.verdict == "hold"
    with pytest.raises(service.DoseRefused) as refused:
        dose(db, patient, SESSION + timedelta(minutes=5), gate_id=check.id)
    assert [r["code"] for r in refused.value.reasons] == ["bp_hold"]
    assert count(db, Dose) == 0
    row = dose(db, patient, SESSION + timedelta(minutes=5), gate_id=check.id,
               override_reason="Rechecked at 150/88 on the other arm.")
    assert row.flags == ["override", "bp_hold"]
    assert row.override_reason == "Rechecked at 150/88 on the other arm."


def test_a_back_dated_dose_is_checked_against_doses_after_it(db, world):
    _, patient, _ = world
    gated_dose(db, patient, SESSION)
    # Logged later, a dose "taken" the evening before sits too close to Monday's dose.
    with pytest.raises(service.DoseRefused) as refused:
        dose(db, patient, SESSION - timedelta(hours=14), now=SESSION + timedelta(hours=1))
    assert [r["code"] for r in refused.value.reasons] == ["too_soon"]
    assert "at least 48 hours apart" in refused.value.reasons[0]["message"]


def test_a_gate_too_old_for_the_dose_is_refused(db, world):
    _, patient, _ = world
    check = gate(db, patient, SESSION)
    with pytest.raises(Invalid) as caught:
        dose(db, patient, SESSION + timedelta(hours=2, minutes=1), gate_id=check.id)
    assert "gate_id" in caught.value.errors
    assert count(db, Dose) == 0


def late_gate(db, patient, checked_at: datetime, arrives: datetime, **answers) -> GateCheck:
    """A check made offline at `checked_at`, sent from the outbox when `arrives`."""
    data = {"systolic": 124, "diastolic": 80, "heart_rate": 72,
            "checklist": factories.CHECKLIST_ALL_YES, **answers}
    return service.record_gate(db, patient=patient, gate_id=uuid.uuid4(),
                               checked_at=utc(checked_at), data=data, now=utc(arrives))


def test_a_check_sent_late_keeps_the_verdict_of_when_it_was_made(db, world):
    """47 hours after a dose (48 apart at least), offline: the phone held, rightly. Sent three
    hours later, the interval has run out; before, the server judged the check at arrival,
    stored "ok" and raised a disagreement against the phone, which was right."""
    _, patient, _ = world
    dose(db, patient, SESSION - timedelta(hours=47))
    check = late_gate(db, patient, SESSION, SESSION + timedelta(hours=3), offline_verdict="hold")
    assert check.verdict == "hold"
    assert [r["code"] for r in check.reasons] == ["too_soon"]
    assert count(db, SafetyEvent) == 0  # the phone and the server agree


def test_today_never_offers_a_check_that_arrived_after_its_time(db, world):
    """An OK check made offline two hours ago and sent now: a dose could not use it (it is
    counted from when it was made), so Today must not say "you can take your dose now"."""
    _, patient, version = world
    check = late_gate(db, patient, SESSION - timedelta(hours=2), SESSION)
    assert check.verdict == "ok"
    assert service.gate_shown_until(check, version) == utc(SESSION - timedelta(hours=1, minutes=30))
    assert today_state.today(db, patient, utc(SESSION)).gate is None
    assert service.latest_gate(db, patient.id, utc(SESSION)) is None


def test_a_check_sent_late_does_not_hide_a_fresh_one(db, world):
    _, patient, _ = world
    fresh = gate(db, patient, SESSION)
    late_gate(db, patient, SESSION - timedelta(minutes=40), SESSION + timedelta(minutes=1))
    assert service.latest_gate(db, patient.id, utc(SESSION + timedelta(minutes=2))) == fresh


def test_a_dose_before_any_protocol_is_refused(db):
    patient = factories.user(db, role="patient")
    with pytest.raises(Invalid, match="not set up your dosing plan"):
        dose(db, patient, SESSION)
    with pytest.raises(Invalid, match="not set up your dosing plan"):
        gate(db, patient, SESSION)


def test_the_dose_uses_the_protocol_version_in_force(db, world):
    prescriber, patient, first = world
    gated_dose(db, patient, SESSION)
    second = factories.protocol(db, prescriber, patient, strength_mg="50", dose_mg="100",
                                halving_allowed=False, reason="Switched pharmacy.")
    row = gated_dose(db, patient, NEXT_SESSION)
    assert row.protocol_version_id == second.id != first.id
    assert row.troches == Decimal(2)


# --- corrections ------------------------------------------------------------------------------


def test_entered_in_error_keeps_the_row_with_a_revision(db, world):
    _, patient, _ = world
    row = gated_dose(db, patient, SESSION)
    marked = corrections.mark_entered_in_error(
        db, patient=patient, author=patient, dose_id=row.id, revision_id=uuid.uuid4(),
        reason="  Logged  twice by mistake. ", now=utc(SESSION + timedelta(hours=1)))
    assert marked.status == DoseStatus.ENTERED_IN_ERROR
    assert marked.status_reason == "Logged twice by mistake."
    assert marked.revision == 2
    revision = db.exec(select(DoseRevision).where(DoseRevision.dose_id == row.id)).one()
    assert revision.revision == 2 and revision.reason == "Logged twice by mistake."
    assert revision.before == {"status": "recorded"}
    assert revision.after == {"status": "entered_in_error"}
    # Still in the record, but no longer a dose that counts.
    window = (utc(SESSION - timedelta(days=1)), utc(SESSION + timedelta(days=1)))
    assert [d.id for d in service.list_doses(db, patient.id, *window)] == [row.id]
    assert service.active_doses(db, patient.id) == []
    # Marking again changes nothing.
    again = corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=row.id,
                                          revision_id=uuid.uuid4(), reason="again",
                                          now=utc(SESSION + timedelta(hours=2)))
    assert again.revision == 2
    assert count(db, DoseRevision) == 1


def test_a_dose_marked_entered_in_error_no_longer_counts_toward_the_guard(db, world):
    _, patient, _ = world
    row = gated_dose(db, patient, SESSION)
    later = SESSION + timedelta(hours=3)
    assert gate(db, patient, later).verdict == "hold"
    corrections.mark_entered_in_error(db, patient=patient, author=patient,
        dose_id=row.id, revision_id=uuid.uuid4(),
                                  reason="Wrong day.", now=utc(later))
    assert gate(db, patient, later + timedelta(minutes=1)).verdict == "ok"


def struck(db, patient, at: datetime, *, then: datetime, reason: str = "Wrong day.") -> Dose:
    """A dose logged at `at` after a passing check, marked entered in error at `then`."""
    row = gated_dose(db, patient, at)
    return corrections.mark_entered_in_error(db, patient=patient, author=patient,
                                             dose_id=row.id, revision_id=uuid.uuid4(),
                                             reason=reason, now=utc(then))


def moved(db, patient, row: Dose, to: datetime, *, then: datetime, reason: str) -> Dose:
    """`row` corrected at `then` to have been taken at `to`."""
    return corrections.revise_dose(db, patient=patient, author=patient, dose_id=row.id,
                                   revision_id=uuid.uuid4(), reason=reason,
                                   changes={"taken_at": utc(to)}, now=utc(then))


def test_a_dose_cleared_only_by_striking_one_is_recorded_and_flagged(db, world):
    """Striking a dose lets the next one through (the entry may really have been a mistake),
    but the next one says so: had the struck dose counted, it would have been too soon."""
    _, patient, _ = world
    later = SESSION + timedelta(hours=3)
    struck(db, patient, SESSION, then=later)
    second = gated_dose(db, patient, later)
    # Within the session's grace, so it is the session's dose, not an extra one.
    assert second.flags == ["cleared_by_correction"]
    assert "override" not in second.flags  # nothing was overridden: the gate passed
    # The next session, the interval away from both, is clean.
    assert gated_dose(db, patient, NEXT_SESSION).flags == []


def test_a_dose_cleared_only_by_moving_one_back_is_recorded_and_flagged(db, world):
    """The same with a correction: the dose three hours ago "corrected" to two days before
    lets a dose through now, flagged; a correction of a few minutes flags nothing."""
    _, patient, _ = world
    first = gated_dose(db, patient, SESSION)
    later = SESSION + timedelta(hours=3)
    moved(db, patient, first, SESSION - timedelta(days=2), then=later,
          reason="It was Saturday.")
    moved(db, patient, first, SESSION - timedelta(days=2, hours=1), then=later,
          reason="Saturday at 9.")
    assert gated_dose(db, patient, later).flags == ["cleared_by_correction"]
    sunday = NEXT_SESSION + timedelta(days=3)
    nudged = gated_dose(db, patient, sunday)
    moved(db, patient, nudged, sunday - timedelta(minutes=10),
          then=sunday + timedelta(hours=1), reason="A few minutes before.")
    assert gated_dose(db, patient, NEXT_SESSION + timedelta(days=7)).flags == []


def test_a_dose_far_from_a_struck_one_is_not_flagged(db, world):
    _, patient, _ = world
    struck(db, patient, SESSION, then=SESSION + timedelta(hours=1), reason="Never taken.")
    assert gated_dose(db, patient, NEXT_SESSION).flags == []


def test_a_correction_that_moves_a_dose_next_to_a_struck_one_is_flagged(db, world):
    _, patient, _ = world
    struck(db, patient, SESSION, then=SESSION + timedelta(hours=1))
    later = gated_dose(db, patient, NEXT_SESSION)
    assert later.flags == []
    revised = moved(db, patient, later, SESSION + timedelta(hours=6),
                    then=NEXT_SESSION + timedelta(hours=1), reason="It was the Monday evening.")
    assert "cleared_by_correction" in revised.flags
    assert "corrected_over_limit" not in revised.flags  # against the recorded doses, none


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_entered_in_error_needs_a_reason(db, world, reason):
    _, patient, _ = world
    row = gated_dose(db, patient, SESSION)
    with pytest.raises(Invalid) as caught:
        corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=row.id,
                                      revision_id=uuid.uuid4(), reason=reason,
                                      now=utc(SESSION + timedelta(hours=1)))
    assert caught.value.errors == {"reason": "Say why, for the record."}
    db.refresh(row)
    assert row.status == DoseStatus.RECORDED and row.revision == 1


def test_another_patients_dose_cannot_be_marked(db, world):
    _, patient, _ = world
    row = gated_dose(db, patient, SESSION)
    other = factories.user(db, role="patient")
    with pytest.raises(NotFound):
        corrections.mark_entered_in_error(db, patient=other, author=other, dose_id=row.id,
                                      revision_id=uuid.uuid4(), reason="not mine",
                                      now=utc(SESSION + timedelta(hours=1)))
    with pytest.raises(NotFound):
        corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=uuid.uuid4(),
                                      revision_id=uuid.uuid4(), reason="unknown",
                                      now=utc(SESSION + timedelta(hours=1)))


def test_a_revision_keeps_the_old_values(db, world):
    _, patient, _ = world
    row = gated_dose(db, patient, SESSION)
    revised = corrections.revise_dose(db, patient=patient, author=patient,
        dose_id=row.id, revision_id=uuid.uuid4(),
                                  reason="It was a troche and a half.",
                                  changes={"dose_mg": "150", "lot": "K-1"},
                                  now=utc(SESSION + timedelta(hours=1)))
    assert revised.dose_mg == Decimal(150) and revised.troches == Decimal("1.5")
    assert revised.revision == 2
    rev = db.exec(select(DoseRevision).where(DoseRevision.dose_id == row.id)).one()
    assert rev.before == {"dose_mg": "100", "lot": None}
    assert rev.after == {"dose_mg": "150", "lot": "K-1"}
    with pytest.raises(Invalid):
        corrections.revise_dose(db, patient=patient, author=patient,
            dose_id=row.id, revision_id=uuid.uuid4(),
                            reason="typo", changes={"dose_mg": "125"},
                            now=utc(SESSION + timedelta(hours=2)))
    with pytest.raises(Invalid, match="Nothing was changed"):
        corrections.revise_dose(db, patient=patient, author=patient,
            dose_id=row.id, revision_id=uuid.uuid4(),
                            reason="same", changes={"dose_mg": "150"},
                            now=utc(SESSION + timedelta(hours=2)))


def test_no_dose_right_after_an_emergency_reading_even_without_the_gate(db, world):
    _, patient, _ = world
    emergency = gate(db, patient, SESSION + timedelta(hours=1), systolic=182)
    assert emergency.verdict == "emergency"
    with pytest.raises(service.DoseRefused) as caught:
        dose(db, patient, SESSION + timedelta(hours=1, minutes=2),
             override_reason="I feel fine.")
    assert [r["code"] for r in caught.value.reasons] == ["recent_emergency"]
    assert caught.value.overridable is False
    # A dose taken well before the reading (logged afterwards) is still recorded.
    earlier = dose(db, patient, SESSION + timedelta(minutes=5),
                   now=SESSION + timedelta(hours=1, minutes=3))
    assert earlier.flags == ["no_gate"]
    # Measuring again within 5 minutes is refused; after that, a normal reading still holds
    # for the lockout period (24 hours by default), and the hold names the reason.
    with pytest.raises(Invalid, match="Rest for 5 minutes"):
        gate(db, patient, SESSION + timedelta(hours=1, minutes=4))
    recheck = gate(db, patient, SESSION + timedelta(hours=1, minutes=10))
    assert recheck.verdict == "hold"
    assert "recent_emergency" in [r["code"] for r in recheck.reasons]
    day_later = gate(db, patient, SESSION + timedelta(hours=25, minutes=1))
    assert "recent_emergency" not in [r["code"] for r in day_later.reasons]


def test_a_check_that_held_arriving_after_the_dose_flags_it(db, world):
    """Two phones: one sent a check that held (175/100) a minute before the dose, the other the
    dose naming an older check that passed, and the dose was judged first: recorded clean, the
    hold beside it nowhere. Whichever arrives first, the record shows a dose taken against it."""
    _, patient, _ = world
    passed = gate(db, patient, SESSION - timedelta(minutes=5))
    taken = dose(db, patient, SESSION, gate_id=passed.id)
    assert taken.flags == []
    held = service.record_gate(
        db, patient=patient, gate_id=uuid.uuid4(), checked_at=utc(SESSION - timedelta(minutes=1)),
        data={"systolic": 175, "diastolic": 100, "heart_rate": 72,
              "checklist": factories.CHECKLIST_ALL_YES},
        now=utc(SESSION + timedelta(minutes=2)))
    assert held.verdict == "hold"
    db.refresh(taken)
    assert {"bp_hold", "against_hold"} <= set(taken.flags)
    event = db.exec(select(SafetyEvent).where(SafetyEvent.source_id == taken.id)).one()
    assert event.kind == "dose_against_hold" and event.details["check_sent_later"] is True
    # A reading later in the session (after the dose) says nothing of the dose taken before it.
    later = dose(db, patient, NEXT_SESSION, gate_id=gate(db, patient, NEXT_SESSION).id)
    service.record_gate(
        db, patient=patient, gate_id=uuid.uuid4(), checked_at=utc(NEXT_SESSION + timedelta(
            minutes=30)), data={"systolic": 170, "diastolic": 100, "heart_rate": 72,
                                "checklist": factories.CHECKLIST_ALL_YES},
        now=utc(NEXT_SESSION + timedelta(minutes=31)))
    db.refresh(later)
    assert later.flags == []


def _late_hold(db, patient, checked_at: datetime, now: datetime) -> GateCheck:
    return service.record_gate(
        db, patient=patient, gate_id=uuid.uuid4(), checked_at=utc(checked_at),
        data={"systolic": 170, "diastolic": 95, "heart_rate": 72,
              "checklist": factories.CHECKLIST_ALL_YES}, now=utc(now))


def test_a_late_hold_judges_a_dose_by_when_it_was_written_down(db, world):
    """A retester's old tab: the dose said 10:00 (the form's time when drawn) and was written
    down at 10:05; a hold made at 10:03 on another phone arrived after it. Recorded as taken
    then ("I have already taken a dose"), the same dose is judged by 10:00."""
    _, patient, _ = world
    passed = gate(db, patient, SESSION - timedelta(minutes=5))
    old_tab = dose(db, patient, SESSION, gate_id=passed.id,
                   recorded_at=SESSION + timedelta(minutes=5),
                   now=SESSION + timedelta(minutes=5))
    _late_hold(db, patient, SESSION + timedelta(minutes=3), SESSION + timedelta(minutes=6))
    db.refresh(old_tab)
    assert {"bp_hold", "against_hold"} <= set(old_tab.flags)

    passed = gate(db, patient, NEXT_SESSION - timedelta(minutes=5))
    taken_then = dose(db, patient, NEXT_SESSION, gate_id=passed.id, already_taken=True,
                      recorded_at=NEXT_SESSION + timedelta(minutes=5),
                      now=NEXT_SESSION + timedelta(minutes=5))
    assert taken_then.already_taken is True
    _late_hold(db, patient, NEXT_SESSION + timedelta(minutes=3),
               NEXT_SESSION + timedelta(minutes=6))
    db.refresh(taken_then)
    assert taken_then.flags == []


def test_a_dose_timed_just_before_a_crisis_reading_is_held_by_it(db, world):
    # A form's time is rounded down to the minute: "10:04" right after a 10:04:30 crisis reading
    # is the same moment, and a dose logged minutes before the reading is too close to tell.
    _, patient, _ = world
    reading = SESSION + timedelta(hours=1, minutes=4, seconds=30)
    assert gate(db, patient, reading, systolic=182).verdict == "emergency"
    for before in (timedelta(seconds=30), timedelta(minutes=9)):
        with pytest.raises(service.DoseRefused) as caught:
            dose(db, patient, reading - before, now=reading + timedelta(minutes=1),
                 override_reason="I feel fine.")
        assert [r["code"] for r in caught.value.reasons] == ["recent_emergency"]
    # Longer before the reading, it was taken before anything was wrong: recorded.
    earlier = dose(db, patient, reading - timedelta(minutes=11), now=reading + timedelta(minutes=1))
    assert earlier.flags == ["no_gate"]


def test_a_dose_taken_before_the_check_it_is_recorded_from_has_no_check(db, world):
    """Held at the session, the patient records a dose taken two hours before the check through
    "I have already taken a dose": it was refused as "That safety check is too old for this
    dose. Check again", which no check could mend. The check never preceded it: recorded as a
    dose without one, in the patient's words, and judged at its own time."""
    _, patient, _ = world
    check = gate(db, patient, SESSION, systolic=185, diastolic=125)
    assert check.verdict != "pass"
    account = "Took it at 8 before I measured."
    row = dose(db, patient, SESSION - timedelta(hours=2), now=SESSION + timedelta(minutes=5),
               recorded_at=SESSION + timedelta(minutes=5), gate_id=check.id,
               already_taken=True, override_reason=account, no_gate_reason=None)
    assert row.gate_id is None and row.no_gate_reason == account
    assert "no_gate" in row.flags and "against_hold" not in row.flags
    # Without the account there is nothing to record it with: said beside the account's box.
    with pytest.raises(Invalid) as caught:
        dose(db, patient, SESSION - timedelta(hours=3), now=SESSION + timedelta(minutes=6),
             recorded_at=SESSION + timedelta(minutes=6), gate_id=check.id,
             already_taken=True, no_gate_reason=None)
    assert list(caught.value.errors) == ["override_reason"]
    # Taken after it, the check stands, and holds it.
    with pytest.raises(service.DoseRefused):
        dose(db, patient, SESSION + timedelta(minutes=2), now=SESSION + timedelta(minutes=7),
             recorded_at=SESSION + timedelta(minutes=7), gate_id=check.id)


def test_a_held_dose_said_to_be_taken_without_an_account_asks_for_the_account(db, world):
    """Logged offline as taken earlier, too soon after another: refused on arrival with "This
    cannot be overridden before dosing. If you have already taken it, record it as taken",
    when it had been (a tester). The refusal asks for what is missing."""
    _, patient, _ = world
    gated_dose(db, patient, SESSION)
    with pytest.raises(service.DoseRefused) as refused:
        dose(db, patient, SESSION + timedelta(hours=3), already_taken=True)
    assert refused.value.message.endswith(
        "It is recorded as taken once you write what happened, and why.")
    assert "cannot be overridden" not in refused.value.message
    with pytest.raises(service.DoseRefused) as refused:
        dose(db, patient, SESSION + timedelta(hours=3))
    assert "If you have already taken it, record it as taken" in refused.value.message
