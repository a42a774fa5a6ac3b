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


# --- session safety settings -------------------------------------------------------------------


def test_session_safety_settings_have_defaults(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient)
    assert (version.gate_valid_minutes, version.observation_minutes,
            version.emergency_lockout_hours) == (30, 120, 24)
    assert version.pulse_hold_low is None and version.pulse_hold_high is None
    assert version.overridable_holds == []


def test_session_safety_settings_are_saved_copied_and_prefilled(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient, gate_valid_minutes="45", observation_minutes=180,
                    emergency_lockout_hours=48, pulse_hold_low="50", pulse_hold_high=110,
                    overridable_holds=["checklist_failed", "bp_hold", "bp_hold"])
    assert (version.gate_valid_minutes, version.observation_minutes,
            version.emergency_lockout_hours) == (45, 180, 48)
    assert (version.pulse_hold_low, version.pulse_hold_high) == (50, 110)
    # A fixed order, without duplicates.
    assert version.overridable_holds == ["bp_hold", "checklist_failed"]

    moved = _phase(db, prescriber, patient, "maintenance", date(2026, 1, 19))
    assert (moved.gate_valid_minutes, moved.observation_minutes, moved.emergency_lockout_hours,
            moved.pulse_hold_low, moved.pulse_hold_high, moved.overridable_holds) == (
        45, 180, 48, 50, 110, ["bp_hold", "checklist_failed"])

    values = protocols.as_input(moved)
    assert values["gate_valid_minutes"] == 45 and values["pulse_hold_high"] == 110
    assert values["overridable_holds"] == ["bp_hold", "checklist_failed"]
    # The prefilled values save again unchanged.
    again = protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                           version_id=uuid.uuid4(), now=T0,
                           values={**{k: v for k, v in values.items() if k != "phases"},
                                   **moved.phases, "reason": "Same again."})
    assert (again.pulse_hold_low, again.pulse_hold_high, again.overridable_holds) == (
        50, 110, ["bp_hold", "checklist_failed"])


def test_one_pulse_limit_alone_is_allowed(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient, pulse_hold_high=120)
    assert (version.pulse_hold_low, version.pulse_hold_high) == (None, 120)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"min_hours_between_doses": "0"}, "min_hours_between_doses",
                     "Enter more than 0.", id="interval-zero"),
        pytest.param({"bp_hold_systolic": 180}, "bp_hold_systolic",
                     "Enter less than 180: at 180 systolic or more the emergency guidance "
                     "applies whatever the hold.", id="systolic-at-emergency-level"),
        pytest.param({"bp_hold_diastolic": 120}, "bp_hold_diastolic",
                     "Enter less than 120: at 120 diastolic or more the emergency guidance "
                     "applies whatever the hold.", id="diastolic-at-emergency-level"),
        pytest.param({"gate_valid_minutes": 4}, "gate_valid_minutes", "Enter 5 or more.",
                     id="gate-too-short"),
        pytest.param({"gate_valid_minutes": 121}, "gate_valid_minutes", "Enter 120 or less.",
                     id="gate-too-long"),
        pytest.param({"observation_minutes": 59}, "observation_minutes", "Enter 60 or more.",
                     id="observation-too-short"),
        pytest.param({"observation_minutes": 481}, "observation_minutes", "Enter 480 or less.",
                     id="observation-too-long"),
        pytest.param({"emergency_lockout_hours": 0}, "emergency_lockout_hours",
                     "Enter 1 or more.", id="lockout-zero"),
        pytest.param({"emergency_lockout_hours": 169}, "emergency_lockout_hours",
                     "Enter 168 or less.", id="lockout-over-a-week"),
        pytest.param({"pulse_hold_low": 29}, "pulse_hold_low", "Enter 30 or more.",
                     id="pulse-low-too-low"),
        pytest.param({"pulse_hold_low": 101}, "pulse_hold_low", "Enter 100 or less.",
                     id="pulse-low-too-high"),
        pytest.param({"pulse_hold_high": 59}, "pulse_hold_high", "Enter 60 or more.",
                     id="pulse-high-too-low"),
        pytest.param({"pulse_hold_high": 201}, "pulse_hold_high", "Enter 200 or less.",
                     id="pulse-high-too-high"),
        pytest.param({"pulse_hold_low": 90, "pulse_hold_high": 90}, "pulse_hold_high",
                     "The upper pulse limit must be above the lower one.", id="pulse-equal"),
        pytest.param({"pulse_hold_low": 100, "pulse_hold_high": 60}, "pulse_hold_high",
                     "The upper pulse limit must be above the lower one.", id="pulse-crossed"),
        pytest.param({"overridable_holds": ["too_soon"]}, "overridable_holds_0", None,
                     id="too-soon-is-never-overridable"),
        pytest.param({"overridable_holds": ["bp_emergency"]}, "overridable_holds_0", None,
                     id="emergency-is-never-overridable"),
        pytest.param({"gate_valid_minutes": "abc"}, "gate_valid_minutes",
                     "Enter a whole number.", id="gate-not-a-number"),
    ],
)
def test_invalid_session_safety_settings_name_the_field(db, team, overrides, field, message):
    prescriber, patient = team
    with pytest.raises(Invalid) as caught:
        _save(db, prescriber, patient, **overrides)
    assert field in caught.value.errors, caught.value.errors
    if message:
        assert caught.value.errors[field] == message
    assert _count(db) == 0


def test_thresholds_just_below_the_emergency_level_are_accepted(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient, bp_hold_systolic=179, bp_hold_diastolic=119,
                    min_hours_between_doses="0.5")
    assert (version.bp_hold_systolic, version.bp_hold_diastolic) == (179, 119)
    assert version.min_hours_between_doses == Decimal("0.5")


# --- the daylight-saving warning ----------------------------------------------------------------

EVERY_3_DAYS = {"cadence": "interval", "every_n_days": 3, "at": "10:00"}
DST_WARNING = ("Sessions are as little as 72 hours apart; across a daylight-saving change they "
               "are 71 hours apart, so a 72-hour minimum would hold that session as too soon, "
               "for up to an hour. If that wait is not what you mean, change the session times.")


@pytest.mark.parametrize(
    ("min_hours", "phases", "expected"),
    [
        pytest.param("72", [EVERY_3_DAYS], DST_WARNING, id="every-3-days-72h"),
        pytest.param("71", [EVERY_3_DAYS], None, id="every-3-days-71h-is-fine"),
        pytest.param("71.5", [EVERY_3_DAYS], DST_WARNING.replace("a 72-hour", "a 71.5-hour"),
                     id="fraction-of-an-hour-over"),
        pytest.param("48", [{"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00"},
                            {"cadence": "interval", "every_n_days": 7, "at": "10:00"}], None,
                     id="default-protocol"),
        # Maintenance weekly, but the taper is every two days: the shortest gap counts.
        pytest.param("48", [{"cadence": "interval", "every_n_days": 7, "at": "10:00"},
                            {"cadence": "interval", "every_n_days": 2, "at": "10:00"}],
                     "Sessions are as little as 48 hours apart; across a daylight-saving change "
                     "they are 47 hours apart, so a 48-hour minimum would hold that session as "
                     "too soon, for up to an hour. If that wait is not what you mean, change the "
                     "session times.", id="taper-is-closer"),
        pytest.param("72", [], None, id="no-schedule"),
        # Longer than the schedule's own gap: every other session is held all year, not one
        # across the clock change, and the words point at the schedule, not at a shorter
        # minimum (they said "Use 23 hours or less" under a 48-hour minimum).
        pytest.param("48", [{"cadence": "interval", "every_n_days": 1, "at": "10:00"}],
                     "Sessions are as little as 24 hours apart, less than the 48-hour minimum "
                     "between doses: every session that close to the one before would be held "
                     "as too soon. Space the sessions at least 48 hours apart, or check the "
                     "minimum.", id="daily-under-48h"),
        pytest.param("72.5", [EVERY_3_DAYS], "Sessions are as little as 72 hours apart, less "
                     "than the 72.5-hour minimum", id="just-over-the-gap"),
    ],
)
def test_interval_warning(min_hours, phases, expected):
    found = protocols.interval_warning(Decimal(min_hours), phases)
    assert found == expected or (expected is not None and found.startswith(expected))
    if found:  # never advice to shorten the safety minimum
        assert "or less" not in found


def test_interval_warning_for_a_saved_version_considers_every_phase(db, team):
    prescriber, patient = team
    quiet = _save(db, prescriber, patient)
    assert protocols.version_warning(quiet, patient.timezone, TODAY) is None
    weekly = {"cadence": "interval", "every_n_days": 7, "at": "10:00"}
    fortnightly = {"cadence": "interval", "every_n_days": 14, "at": "10:00"}
    tapered = _save(db, prescriber, patient, min_hours_between_doses="72", induction=weekly,
                    maintenance=None, taper=fortnightly)
    assert protocols.version_warning(tapered, patient.timezone, TODAY) is None
    # The taper is not on the timeline yet, but the patient may be moved to it at any time.
    warned = _save(db, prescriber, patient, min_hours_between_doses="72",
                   induction={"cadence": "interval", "every_n_days": 7, "at": "10:00"},
                   maintenance=None, taper=EVERY_3_DAYS)
    assert "taper" not in {e["phase"] for e in warned.timeline}
    assert protocols.version_warning(warned, patient.timezone, TODAY) == DST_WARNING


def test_saving_with_the_warning_is_allowed(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient, min_hours_between_doses="72",
                    induction=EVERY_3_DAYS, maintenance=None)
    assert version.min_hours_between_doses == Decimal(72)
    assert protocols.version_warning(version, patient.timezone, TODAY) == DST_WARNING


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"min_hours_between_doses": "72", "induction": EVERY_3_DAYS}, DST_WARNING,
                     id="as-submitted"),
        # An unreadable phase is left out (its own error is shown); the others still count.
        pytest.param({"min_hours_between_doses": "72", "induction": EVERY_3_DAYS,
                      "maintenance": {"cadence": "weekdays", "weekdays": [], "at": "10:00"}},
                     DST_WARNING, id="one-phase-invalid"),
        pytest.param({"min_hours_between_doses": "abc", "induction": EVERY_3_DAYS}, None,
                     id="interval-not-a-number"),
        pytest.param({"induction": EVERY_3_DAYS}, None, id="interval-missing"),
        pytest.param({"min_hours_between_doses": "NaN", "induction": EVERY_3_DAYS}, None,
                     id="interval-nan"),
        pytest.param({"min_hours_between_doses": "72"}, None, id="no-phases"),
    ],
)
def test_interval_warning_from_submitted_values(values, expected):
    assert protocols.values_warning(values) == expected


SHORT = ("A minimum of 0.5 hours between doses, with a 24-hour maximum of 200 mg, lets a second "
         "100 mg dose be taken the same day. At-home regimens dose once a day at most: check that "
         "this is what you mean.")


@pytest.mark.parametrize(("min_hours", "dose", "max_24h", "expected"), [
    ("0.5", "100", "200", SHORT),
    ("11.99", "100", "200", SHORT.replace("0.5 hours", "11.99 hours")),
    ("12", "100", "200", None),  # twice a day at most by the interval: a regimen may mean it
    ("0.5", "100", "199", None),  # the 24-hour maximum holds a second dose anyway
    ("0.5", "100", "150", None),
])
def test_a_minimum_interval_this_short_is_questioned(min_hours, dose, max_24h, expected):
    """0.5 hours between doses was accepted without a word: a second troche the same day,
    as the rules allow, may not be what the prescriber meant. A warning, not an error."""
    assert protocols.short_interval_warning(Decimal(min_hours), Decimal(dose),
                                            Decimal(max_24h)) == expected


def test_the_short_interval_warning_reaches_the_saved_version_and_the_form(db, team):
    prescriber, patient = team
    version = _save(db, prescriber, patient, min_hours_between_doses="0.5",
                    max_mg_per_24h="200", dose_mg="100")
    assert SHORT in protocols.version_warning(version, patient.timezone, TODAY)
    assert SHORT in protocols.values_warning({"min_hours_between_doses": "0.5",
                                              "dose_mg": "100", "max_mg_per_24h": "200"})
    # An amount that cannot be read leaves this warning out (its field has its own error).
    assert protocols.values_warning({"min_hours_between_doses": "0.5", "dose_mg": "x",
                                     "max_mg_per_24h": "200"}) is None


TODAY = date(2026, 12, 6)
DAILY = {"cadence": "interval", "every_n_days": 1, "at": "10:00"}


@pytest.mark.parametrize(("dose", "max_24h", "max_7d", "phases", "tz", "expected"), [
    # Mon/Thu at 100: three in some 7 days across the spring change, within 300.
    ("100", "200", "300", [{"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00"}],
     "America/New_York", None),
    # Over only across the spring change: said so (read as every week, a journey tester
    # raised the maximum for it).
    ("100", "200", "250", [{"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00"}],
     "America/New_York",
     "Only across a daylight-saving change: sessions keep their clock time, so that week some "
     "7 days hold 3 sessions (300 mg), over the 7-day maximum of 250 mg, and one would be "
     "held."),
    # Over every week, and more so across the change: the ordinary words, and the clock's.
    ("100", "200", "150", [{"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00"}],
     "America/New_York",
     "In some 7 days this schedule has 3 sessions (300 mg), over the 7-day maximum of 150 mg, "
     "so sessions would be held. Sessions keep their clock time, so across a daylight-saving "
     "change two of them are an hour closer."),
    # Daily at 100 with 300 a week: over it in any week, and no clock change to blame.
    ("100", "100", "300", [DAILY], "UTC",
     "In some 7 days this schedule has 7 sessions (700 mg), over the 7-day maximum of 300 mg, "
     "so sessions would be held."),
    ("100", "100", "800", [DAILY], "America/New_York",
     "Only across a daylight-saving change: sessions keep their clock time, so that day some 24 "
     "hours hold 2 sessions (200 mg), over the 24-hour maximum of 100 mg, and one would be "
     "held."),
    # One session alone over a maximum (the function is pure; a save refuses a dose over the
    # 24-hour maximum): one session, in the singular.
    ("150", "100", "800", [{"cadence": "interval", "every_n_days": 7, "at": "10:00"}], "UTC",
     "In some 24 hours this schedule has 1 session (150 mg), over the 24-hour maximum of 100 "
     "mg, so sessions would be held."),
    # Any phase the patient may be moved to counts; an unreadable one is left out.
    ("100", "200", "400", [{"cadence": "interval", "every_n_days": 7, "at": "10:00"}, DAILY,
                           {"cadence": "weekdays", "weekdays": [], "at": "10:00"}],
     "UTC",
     "In some 7 days this schedule has 7 sessions (700 mg), over the 7-day maximum of 400 mg, "
     "so sessions would be held."),
])
def test_maxima_warning(dose, max_24h, max_7d, phases, tz, expected):
    assert protocols.maxima_warning(Decimal(dose), Decimal(max_24h), Decimal(max_7d), phases,
                                    tz, TODAY) == expected


def test_maxima_warning_from_submitted_values_reads_what_it_can():
    values = {"dose_mg": "100", "max_mg_per_24h": "100", "max_mg_per_7d": "300",
              "induction": DAILY}
    assert protocols.values_maxima_warning(values, "UTC", TODAY).startswith("In some 7 days")
    assert protocols.values_maxima_warning({**values, "dose_mg": "abc"}, "UTC", TODAY) is None
    assert protocols.values_maxima_warning({**values, "max_mg_per_7d": "1e999"}, "UTC",
                                           TODAY) is None
