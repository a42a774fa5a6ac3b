"""The holds that come from the record (a pending safety review, a recent crisis reading), the
pulse limits, the 5-minute recheck rule and which holds may be overridden before dosing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.doses.rules import (
    CHECKLIST_ITEMS,
    EMERGENCY_RECHECK_WAIT,
    NEVER_OVERRIDABLE,
    OVERRIDABLE_CHOICES,
    GateAnswers,
    GuardPolicy,
    Reason,
    ReasonCode,
    SafetyState,
    Verdict,
    emergency_recheck_at,
    evaluate_gate,
    may_override_before_dosing,
    safety_hold_reasons,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
ALL_YES = {item: True for item in CHECKLIST_ITEMS}


def policy(**changes) -> GuardPolicy:
    values = dict(min_hours_between_doses=Decimal(0), max_mg_per_24h=Decimal(1000),
                  max_mg_per_7d=Decimal(5000), bp_hold_systolic=140, bp_hold_diastolic=90,
                  sitter_required=False, required_checklist=frozenset())
    values.update(changes)
    return GuardPolicy(**values)


def gate(pulse: int = 70, sys_bp: int = 120, dia_bp: int = 80, state=None, p=None):
    answers = GateAnswers(systolic=sys_bp, diastolic=dia_bp, heart_rate=pulse,
                          checklist=ALL_YES)
    return evaluate_gate(p or policy(), [], answers, T0, Decimal(100), state)


def codes(result) -> list[ReasonCode]:
    return [r.code for r in result.reasons]


# --- pulse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("pulse", "held"), [(49, True), (50, False), (110, False), (111, True)])
def test_pulse_limits_hold_outside_the_range_and_the_limits_themselves_pass(pulse, held):
    result = gate(pulse, p=policy(pulse_hold_low=50, pulse_hold_high=110))
    assert (ReasonCode.PULSE_HOLD in codes(result)) is held
    assert result.verdict == (Verdict.HOLD if held else Verdict.OK)
    if held:
        assert result.reasons[0].params == {"heart_rate": pulse, "low": 50, "high": 110}


def test_no_pulse_limits_means_no_pulse_hold():
    assert gate(30).verdict == Verdict.OK
    assert gate(240).verdict == Verdict.OK
    assert codes(gate(240, p=policy(pulse_hold_low=40))) == []
    assert codes(gate(30, p=policy(pulse_hold_high=120))) == []


@pytest.mark.parametrize("bad", [{"pulse_hold_low": 100, "pulse_hold_high": 100},
                                 {"pulse_hold_low": 0}, {"pulse_hold_high": True},
                                 {"emergency_lockout_hours": 0},
                                 {"overridable": frozenset({"too_soon"})},
                                 {"overridable": "bp_hold"}])
def test_a_bad_policy_fails_loudly(bad):
    with pytest.raises((ValueError, TypeError)):
        policy(**bad)


# --- safety review and the emergency lockout --------------------------------------------------


def test_a_pending_review_holds_every_gate_whatever_the_readings():
    result = gate(state=SafetyState(review_pending=True))
    assert result.verdict == Verdict.HOLD
    assert codes(result) == [ReasonCode.SAFETY_REVIEW]


@pytest.mark.parametrize(
    ("reading_at", "held"),
    [
        (T0, True),  # this very instant
        (T0 - timedelta(hours=24) + US, True),  # just inside the 24 hours
        (T0 - timedelta(hours=24), False),  # exactly 24 hours ago: the hold has ended
        (T0 + US, False),  # after the dose: does not hold a dose taken before it
        (T0 - timedelta(days=30), False),
    ],
)
def test_a_crisis_reading_holds_for_the_lockout_period(reading_at, held):
    state = SafetyState(last_emergency_at=reading_at)
    reasons = safety_hold_reasons(policy(), state, T0)
    assert (reasons != ()) is held
    if held:
        assert reasons == (Reason(ReasonCode.RECENT_EMERGENCY,
                                  {"at": reading_at, "until": reading_at + timedelta(hours=24)}),)


def test_the_lockout_period_is_the_prescribers():
    state = SafetyState(last_emergency_at=T0 - timedelta(hours=30))
    assert safety_hold_reasons(policy(), state, T0) == ()
    held = safety_hold_reasons(policy(emergency_lockout_hours=48), state, T0)
    assert [r.code for r in held] == [ReasonCode.RECENT_EMERGENCY]


def test_a_normal_recheck_does_not_lift_the_lockout():
    """Rested, measured again, 128/82: still held, with the reading that started it named."""
    result = gate(sys_bp=128, dia_bp=82,
                  state=SafetyState(last_emergency_at=T0 - timedelta(minutes=20)))
    assert result.verdict == Verdict.HOLD
    assert codes(result) == [ReasonCode.RECENT_EMERGENCY]


def test_a_crisis_reading_now_is_still_an_emergency_verdict_with_the_record_holds_listed():
    result = gate(sys_bp=185, dia_bp=100, state=SafetyState(review_pending=True))
    assert result.verdict == Verdict.EMERGENCY
    assert codes(result) == [ReasonCode.BP_EMERGENCY, ReasonCode.SAFETY_REVIEW]


@pytest.mark.parametrize(
    ("since", "wait"),
    [(timedelta(0), True), (EMERGENCY_RECHECK_WAIT - US, True), (EMERGENCY_RECHECK_WAIT, False),
     (timedelta(hours=2), False)],
)
def test_a_recheck_within_five_minutes_of_a_crisis_reading_is_refused(since, wait):
    state = SafetyState(last_emergency_at=T0 - since)
    allowed = emergency_recheck_at(state, T0)
    assert (allowed is not None) is wait
    if wait:
        assert allowed == T0 - since + EMERGENCY_RECHECK_WAIT
    assert emergency_recheck_at(SafetyState(), T0) is None


def test_safety_state_refuses_naive_times_and_non_bool_flags():
    with pytest.raises(ValueError):
        SafetyState(last_emergency_at=datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        SafetyState(review_pending=1)  # type: ignore[arg-type]


# --- overrides --------------------------------------------------------------------------------


def reason(code: str) -> Reason:
    return Reason(ReasonCode(code), {})


def test_only_the_holds_the_prescriber_chose_may_be_overridden_before_dosing():
    nothing_allowed = policy()
    everything_allowed = policy(overridable=frozenset(OVERRIDABLE_CHOICES))
    for code in OVERRIDABLE_CHOICES:
        assert not may_override_before_dosing(nothing_allowed, [reason(code)])
        assert may_override_before_dosing(everything_allowed, [reason(code)])
        only_this = policy(overridable=frozenset({code}))
        assert may_override_before_dosing(only_this, [reason(code)])
        others = [reason(c) for c in OVERRIDABLE_CHOICES if c != code]
        assert not may_override_before_dosing(only_this, [reason(code), *others])
    assert not may_override_before_dosing(everything_allowed, [])


@given(st.sets(st.sampled_from(sorted(NEVER_OVERRIDABLE)), min_size=1),
       st.sets(st.sampled_from(OVERRIDABLE_CHOICES)),
       st.sets(st.sampled_from(OVERRIDABLE_CHOICES)))
def test_a_never_overridable_reason_is_never_overridable(never, fired, allowed):
    reasons = [reason(c) for c in never | fired]
    assert not may_override_before_dosing(policy(overridable=frozenset(allowed)), reasons)


def test_the_never_overridable_set_is_the_documented_one():
    assert {c.value for c in NEVER_OVERRIDABLE} == {
        "bp_emergency", "safety_review", "screener_pending", "recent_emergency", "too_soon",
        "over_24h_max", "over_7d_max"}
