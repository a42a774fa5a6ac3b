"""Protocols: validation, versioning, phase changes and the schedule that follows from them."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.errors import Invalid, NotFound
from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from tests import factories

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def _count(db) -> int:
    return db.exec(select(func.count()).select_from(ProtocolVersion)).one()


@pytest.fixture
def team(db):
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    factories.link(db, patient, prescriber)
    return prescriber, patient


def _save(db, prescriber, patient, now=T0, version_id=None, **overrides):
    return protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                          version_id=version_id or uuid.uuid4(),
                          values=factories.protocol_values(**overrides), now=now)


def _phase(db, prescriber, patient, phase, effective_on, reason="Clinical review.", now=T0):
    return protocols.change_phase(db, prescriber=prescriber, patient_id=patient.id,
                                  version_id=uuid.uuid4(), phase=phase,
                                  effective_on=effective_on, reason=reason, now=now)


def _local_sessions(version, start: date, days: int, tz=NY):
    begin = datetime.combine(start, time(0), tzinfo=tz)
    occs = schedule.occurrences(protocols.plans(version), tz, begin, begin + timedelta(days=days))
    return [(o.scheduled_at.astimezone(tz).strftime("%Y-%m-%d %a %H:%M"), o.phase.value)
            for o in occs]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"bp_hold_systolic": None}, "bp_hold_systolic", "This is required.",
                     id="no-systolic-threshold"),
        pytest.param({"bp_hold_diastolic": None}, "bp_hold_diastolic", "This is required.",
                     id="no-diastolic-threshold"),
        pytest.param({"halving_allowed": False, "dose_mg": "150"}, "dose_mg",
                     "Use whole troches of 100 mg: halving is not allowed.",
                     id="half-troche-without-halving"),
        pytest.param({"dose_mg": "75"}, "dose_mg", "Use whole or half troches of 100 mg.",
                     id="not-a-half-troche"),
        pytest.param({"dose_mg": "300"}, "max_mg_per_24h",
                     "The 24-hour maximum must be at least one dose.", id="dose-over-24h-max"),
        pytest.param({"max_mg_per_7d": "150"}, "max_mg_per_7d",
                     "The 7-day maximum cannot be lower than the 24-hour maximum.",
                     id="7d-max-below-24h-max"),
        pytest.param({"induction": {"cadence": "weekdays", "weekdays": [], "at": "10:00"}},
                     "induction", "Choose at least one weekday.", id="weekdays-without-days"),
        pytest.param({"maintenance": {"cadence": "interval", "at": "10:00"}}, "maintenance",
                     "Enter how many days apart sessions are.", id="interval-without-n"),
        pytest.param({"reason": "   "}, "reason", "Say why, for the record.", id="blank-reason"),
        pytest.param({"reason": None}, "reason", "This is required.", id="no-reason"),
        pytest.param({"dose_mg": "-100"}, "dose_mg", "Enter more than 0.", id="negative-dose"),
        pytest.param({"strength_mg": "NaN"}, "strength_mg", None, id="nan-strength"),
        pytest.param({"required_checklist": ["sitter_present"]}, "required_checklist_0", None,
                     id="sitter-is-its-own-switch"),
        pytest.param({"unknown": "1"}, "unknown", "This field is not recognised.",
                     id="unknown-field"),
    ],
)
def test_invalid_protocol_names_the_field_and_writes_nothing(db, team, overrides, field,
                                                             message):
    prescriber, patient = team
    with pytest.raises(Invalid) as caught:
        _save(db, prescriber, patient, **overrides)
    assert field in caught.value.errors, caught.value.errors
    if message:
        assert caught.value.errors[field] == message
    assert _count(db) == 0


def test_both_thresholds_missing_are_both_reported(db, team):
    prescriber, patient = team
    with pytest.raises(Invalid) as caught:
        _save(db, prescriber, patient, bp_hold_systolic=None, bp_hold_diastolic=None)
    assert set(caught.value.errors) == {"bp_hold_systolic", "bp_hold_diastolic"}
    assert _count(db) == 0


def test_valid_protocol_is_saved_as_version_one(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient, reason="  Starting   treatment.  ")
    assert version.version == 1
    assert version.created_by_id == prescriber.id
    assert version.created_at == T0
    assert version.reason == "Starting treatment."
    assert version.dose_mg == Decimal(100) and version.strength_mg == Decimal(100)
    assert version.phases["induction"]["weekdays"] == [0, 3]
    assert version.timeline == [{"phase": "induction", "starts_on": "2026-01-05"},
                                {"phase": "maintenance", "starts_on": "2026-02-02"}]
    # The checklist is kept in a fixed order, without duplicates.
    assert version.required_checklist == ["fasted", "no_sedatives", "no_driving", "safe_place"]


# --- versions ---------------------------------------------------------------------------------


def test_every_save_is_a_new_version_with_who_when_why(db, team):
    prescriber, patient = team
    colleague = factories.user(db, role="prescriber")
    factories.link(db, patient, colleague)
    _save(db, prescriber, patient, now=T0, reason="Start.")
    _save(db, colleague, patient, now=T0 + timedelta(days=3), dose_mg="150",
          reason="Partial response at 100 mg.")
    _save(db, prescriber, patient, now=T0 + timedelta(days=9), dose_mg="200",
          reason="Still partial.")

    history = protocols.history(db, patient.id)
    assert [v.version for v in history] == [3, 2, 1]  # newest first
    assert [v.reason for v in history] == ["Still partial.", "Partial response at 100 mg.",
                                           "Start."]
    assert [v.created_by_id for v in history] == [prescriber.id, colleague.id, prescriber.id]
    assert [v.created_at for v in history] == [T0 + timedelta(days=9), T0 + timedelta(days=3),
                                               T0]
    assert [v.dose_mg for v in history] == [Decimal(200), Decimal(150), Decimal(100)]
    assert protocols.current(db, patient.id).version == 3


def test_a_double_submit_saves_once(db, team):
    prescriber, patient = team
    form_id = uuid.uuid4()
    first = _save(db, prescriber, patient, version_id=form_id)
    again = _save(db, prescriber, patient, version_id=form_id, dose_mg="200")
    assert again.id == first.id and again.dose_mg == Decimal(100)
    assert _count(db) == 1


def test_history_is_per_patient(db, team):
    prescriber, patient = team
    other = factories.user(db, role="patient")
    factories.link(db, other, prescriber)
    _save(db, prescriber, patient)
    _save(db, prescriber, other)
    _save(db, prescriber, other)
    assert [v.version for v in protocols.history(db, patient.id)] == [1]
    assert [v.version for v in protocols.history(db, other.id)] == [2, 1]


def test_prescriber_not_linked_to_the_patient_gets_not_found(db, team):
    _, patient = team
    stranger = factories.user(db, role="prescriber")
    with pytest.raises(NotFound):
        _save(db, stranger, patient)
    assert _count(db) == 0

    prescriber, _ = team
    _save(db, prescriber, patient)
    with pytest.raises(NotFound):
        _phase(db, stranger, patient, "maintenance", date(2026, 1, 12))
    assert _count(db) == 1


@pytest.mark.parametrize("role", ["patient", "caregiver"])
def test_other_roles_cannot_set_a_protocol(db, team, role):
    _, patient = team
    member = patient if role == "patient" else factories.user(db, role=role)
    if role == "caregiver":
        factories.link(db, patient, member)
    with pytest.raises(NotFound):
        _save(db, member, patient)
    assert _count(db) == 0


# --- the schedule follows ---------------------------------------------------------------------


def test_schedule_is_induction_then_maintenance(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient)
    sessions = _local_sessions(version, date(2026, 1, 5), 42)
    assert sessions[:3] == [("2026-01-05 Mon 10:00", "induction"),
                            ("2026-01-08 Thu 10:00", "induction"),
                            ("2026-01-12 Mon 10:00", "induction")]
    induction = [s for s in sessions if s[1] == "induction"]
    assert len(induction) == 8  # twice weekly for four weeks
    assert induction[-1][0] == "2026-01-29 Thu 10:00"
    assert [s for s in sessions if s[1] == "maintenance"] == [
        ("2026-02-02 Mon 10:00", "maintenance"),
        ("2026-02-09 Mon 10:00", "maintenance"),
    ]
    assert protocols.current_phase(version, date(2026, 1, 30)) == "induction"
    assert protocols.current_phase(version, date(2026, 2, 2)) == "maintenance"


def test_open_ended_induction_never_moves_to_maintenance(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient,
                    induction={"cadence": "interval", "every_n_days": 3, "at": "18:30"})
    assert version.timeline == [{"phase": "induction", "starts_on": "2026-01-05"}]
    sessions = _local_sessions(version, date(2026, 1, 5), 70)
    assert {phase for _, phase in sessions} == {"induction"}
    assert len(sessions) == 24


def test_phase_change_to_maintenance_early_then_back_to_induction(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient)

    early = _phase(db, prescriber, patient, "maintenance", date(2026, 1, 19),
                   reason="Good response; weekly from now.")
    assert early.version == 2
    assert early.reason == "Good response; weekly from now."
    assert early.timeline == [{"phase": "induction", "starts_on": "2026-01-05"},
                              {"phase": "maintenance", "starts_on": "2026-01-19"}]
    assert _local_sessions(early, date(2026, 1, 15), 14) == [
        ("2026-01-15 Thu 10:00", "induction"),
        ("2026-01-19 Mon 10:00", "maintenance"),
        ("2026-01-26 Mon 10:00", "maintenance"),
    ]

    back = _phase(db, prescriber, patient, "induction", date(2026, 3, 2),
                  reason="Symptoms returned after missed sessions.")
    assert back.version == 3
    # Back to induction from the date, and maintenance follows again after its four weeks.
    assert back.timeline == [{"phase": "induction", "starts_on": "2026-01-05"},
                             {"phase": "maintenance", "starts_on": "2026-01-19"},
                             {"phase": "induction", "starts_on": "2026-03-02"},
                             {"phase": "maintenance", "starts_on": "2026-03-30"}]
    sessions = _local_sessions(back, date(2026, 2, 23), 49)
    assert sessions[0] == ("2026-02-23 Mon 10:00", "maintenance")
    assert next(s for s in sessions if s[1] == "induction") == ("2026-03-02 Mon 10:00",
                                                                 "induction")
    assert len([s for s in sessions if s[1] == "induction"]) == 8
    assert [s for s in sessions if s[0] >= "2026-03-27"] == [
        ("2026-03-30 Mon 10:00", "maintenance"),
        ("2026-04-06 Mon 10:00", "maintenance"),
    ]
    # Everything else about the protocol is carried over unchanged.
    assert back.dose_mg == Decimal(100) and back.bp_hold_systolic == 160
    assert [v.version for v in protocols.history(db, patient.id)] == [3, 2, 1]


def test_phase_change_drops_later_planned_moves(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient)
    # Move to maintenance before the planned move on 2026-02-02: the plan is replaced.
    version = _phase(db, prescriber, patient, "maintenance", date(2026, 1, 22))
    assert version.timeline == [{"phase": "induction", "starts_on": "2026-01-05"},
                                {"phase": "maintenance", "starts_on": "2026-01-22"}]


def test_phase_change_to_taper(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient,
          taper={"cadence": "interval", "every_n_days": 14, "at": "11:00"})
    version = _phase(db, prescriber, patient, "taper", date(2026, 3, 2), reason="Tapering off.")
    assert protocols.current_phase(version, date(2026, 3, 2)) == "taper"
    assert _local_sessions(version, date(2026, 3, 1), 30) == [
        ("2026-03-02 Mon 11:00", "taper"),
        ("2026-03-16 Mon 11:00", "taper"),
        ("2026-03-30 Mon 11:00", "taper"),
    ]


@pytest.mark.parametrize(
    ("phase", "effective_on", "reason", "fields"),
    [
        ("taper", date(2026, 3, 2), "Why not.", {"phase"}),  # no taper schedule set
        ("maintenance", None, "Why not.", {"effective_on"}),
        ("maintenance", date(2026, 3, 2), "   ", {"reason"}),
        ("nonsense", None, "", {"phase", "effective_on", "reason"}),
    ],
)
def test_invalid_phase_change_writes_nothing(db, team, phase, effective_on, reason, fields):
    prescriber, patient = team
    _save(db, prescriber, patient)
    with pytest.raises(Invalid) as caught:
        _phase(db, prescriber, patient, phase, effective_on, reason=reason)
    assert set(caught.value.errors) == fields
    assert _count(db) == 1


def test_phase_change_needs_a_protocol(db, team):
    prescriber, patient = team
    with pytest.raises(Invalid):
        _phase(db, prescriber, patient, "maintenance", date(2026, 1, 12))
    assert _count(db) == 0


def test_editing_with_the_same_start_keeps_phase_moves(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient)
    _phase(db, prescriber, patient, "maintenance", date(2026, 1, 19))
    edited = _save(db, prescriber, patient, dose_mg="150", reason="Dose up.")
    assert edited.timeline[-1] == {"phase": "maintenance", "starts_on": "2026-01-19"}
    assert edited.dose_mg == Decimal(150)


def test_editing_the_induction_length_moves_maintenance(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient)
    longer = {"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00", "weeks": 6}
    edited = _save(db, prescriber, patient, induction=longer, reason="Six weeks of induction.")
    # The schedule follows the edit: maintenance after six weeks, not the old four.
    assert edited.timeline == [{"phase": "induction", "starts_on": "2026-01-05"},
                               {"phase": "maintenance", "starts_on": "2026-02-16"}]
    sessions = _local_sessions(edited, date(2026, 1, 5), 49)
    assert len([s for s in sessions if s[1] == "induction"]) == 12


def test_adding_maintenance_later_schedules_it(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient, maintenance=None)
    edited = _save(db, prescriber, patient, reason="Add maintenance.")
    assert edited.timeline[-1] == {"phase": "maintenance", "starts_on": "2026-02-02"}


def test_a_new_start_date_restarts_the_timeline(db, team):
    prescriber, patient = team
    _save(db, prescriber, patient)
    _phase(db, prescriber, patient, "maintenance", date(2026, 1, 19))
    edited = _save(db, prescriber, patient, starts_on="2026-04-06", reason="Restart.")
    assert edited.timeline == [{"phase": "induction", "starts_on": "2026-04-06"},
                               {"phase": "maintenance", "starts_on": "2026-05-04"}]


def test_as_input_round_trips_through_save(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient)
    values = protocols.as_input(version)
    assert values["starts_on"] == "2026-01-05"
    assert values["bp_hold_systolic"] == 160
    assert set(values["phases"]) == {"induction", "maintenance"}
