"""Tests for app.doses.rules: every rule, every boundary, plus property-based invariants."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.doses.rules import (
    CHECKLIST_ITEMS,
    CRISIS_DIASTOLIC,
    CRISIS_SYSTOLIC,
    GateAnswers,
    GateResult,
    GuardPolicy,
    PastDose,
    Reason,
    ReasonCode,
    Verdict,
    dose_limit_reasons,
    evaluate_gate,
    limits_met_only_after_corrections,
    same_dose_logged,
    validate_dose_amount,
)

D = Decimal
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))
MINUS7 = timezone(timedelta(hours=-7))
SEC = timedelta(seconds=1)
ALL_YES = {item: True for item in CHECKLIST_ITEMS}
NON_SITTER_ITEMS = tuple(i for i in CHECKLIST_ITEMS if i != "sitter_present")


def H(hours: float) -> timedelta:
    return timedelta(hours=hours)


def policy(
    *,
    min_hours: Decimal | int = D(0),
    max24: Decimal | int = D(1000),
    max7d: Decimal | int = D(5000),
    hold_sys: int = 140,
    hold_dia: int = 90,
    sitter: bool = False,
    checklist: frozenset[str] = frozenset(),
) -> GuardPolicy:
    return GuardPolicy(
        min_hours_between_doses=D(min_hours),
        max_mg_per_24h=D(max24),
        max_mg_per_7d=D(max7d),
        bp_hold_systolic=hold_sys,
        bp_hold_diastolic=hold_dia,
        sitter_required=sitter,
        required_checklist=checklist,
    )


def dose(at: datetime, mg: str | int = 100) -> PastDose:
    return PastDose(taken_at=at, dose_mg=D(mg))


def answers(sys_bp: int = 120, dia_bp: int = 80, checklist: dict | None = None) -> GateAnswers:
    return GateAnswers(
        systolic=sys_bp,
        diastolic=dia_bp,
        heart_rate=70,
        checklist=ALL_YES if checklist is None else checklist,
    )


def codes(reasons: tuple[Reason, ...]) -> list[ReasonCode]:
    return [r.code for r in reasons]


class _NoOffset(tzinfo):
    """A tzinfo that reports no offset: datetimes using it count as naive."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


# --- types and validation ------------------------------------------------------------------------


def test_reason_params_are_read_only_copied_and_hashable() -> None:
    source = {"limit_mg": D(200), "total_mg": D(250)}
    reason = Reason(ReasonCode.OVER_24H_MAX, source)
    source["total_mg"] = D(1)
    assert reason.params == {"limit_mg": D(200), "total_mg": D(250)}
    with pytest.raises(TypeError):
        reason.params["total_mg"] = D(0)  # type: ignore[index]
    same = Reason(ReasonCode.OVER_24H_MAX, {"total_mg": D(250), "limit_mg": D(200)})
    assert reason == same
    assert hash(reason) == hash(same)
    assert len({reason, same}) == 1
    assert reason != Reason(ReasonCode.OVER_7D_MAX, source)


def test_reason_code_is_coerced_from_string() -> None:
    assert Reason("too_soon", {}).code is ReasonCode.TOO_SOON  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Reason("nonsense", {})  # type: ignore[arg-type]


def test_enum_values_are_the_documented_machine_codes() -> None:
    assert [v.value for v in Verdict] == ["ok", "hold", "emergency"]
    assert {c.value for c in ReasonCode} == {
        "too_soon",
        "over_24h_max",
        "over_7d_max",
        "bp_hold",
        "bp_emergency",
        "sitter_required",
        "checklist_failed",
        "pulse_hold",
        "safety_review",
        "screener_pending",
        "recent_emergency",
    }
    assert CHECKLIST_ITEMS == (
        "fasted",
        "no_sedatives",
        "no_driving",
        "safe_place",
        "sitter_present",
    )
    assert (CRISIS_SYSTOLIC, CRISIS_DIASTOLIC) == (180, 120)


def test_gate_answers_checklist_is_a_read_only_copy() -> None:
    source = {"fasted": True}
    ans = answers(checklist=source)
    source["fasted"] = False
    assert ans.checklist == {"fasted": True}
    with pytest.raises(TypeError):
        ans.checklist["fasted"] = False  # type: ignore[index]
    assert hash(ans) == hash(answers(checklist={"fasted": True}))


def test_gate_result_is_hashable() -> None:
    result = evaluate_gate(policy(), [], answers(), T0, D(100))
    assert result == GateResult(Verdict.OK, ())
    assert hash(result) == hash(GateResult(Verdict.OK, ()))


def test_policy_coerces_numbers_and_checklist() -> None:
    p = GuardPolicy(
        min_hours_between_doses=24,  # type: ignore[arg-type]
        max_mg_per_24h=137.5,  # type: ignore[arg-type]
        max_mg_per_7d=D(500),
        bp_hold_systolic=140,
        bp_hold_diastolic=90,
        sitter_required=True,
        required_checklist=["fasted", "safe_place"],  # type: ignore[arg-type]
    )
    assert p.min_hours_between_doses == D(24) and isinstance(p.min_hours_between_doses, Decimal)
    assert p.max_mg_per_24h == D("137.5") and isinstance(p.max_mg_per_24h, Decimal)
    assert p.required_checklist == frozenset({"fasted", "safe_place"})
    hash(p)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"min_hours": D(-1)}, ValueError),
        ({"min_hours": D("NaN")}, ValueError),
        ({"min_hours": D("Infinity")}, ValueError),
        ({"min_hours": D("1E+20")}, ValueError),  # cannot be a timedelta
        ({"max24": D(-1)}, ValueError),
        ({"max24": D("NaN")}, ValueError),
        ({"max7d": D("-0.01")}, ValueError),
        ({"max7d": D("Infinity")}, ValueError),
        ({"hold_sys": 0}, ValueError),
        ({"hold_dia": -5}, ValueError),
        ({"hold_sys": True}, TypeError),
        ({"hold_dia": 90.0}, TypeError),
        ({"sitter": 1}, TypeError),
        ({"checklist": frozenset({"sitter_present"})}, ValueError),
        ({"checklist": frozenset({"fasted", "wore_a_hat"})}, ValueError),
        ({"checklist": "fasted"}, TypeError),
    ],
)
def test_policy_rejects_invalid_settings(overrides: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        policy(**overrides)


def test_policy_rejects_non_numeric_limit() -> None:
    with pytest.raises(TypeError):
        GuardPolicy(D(1), "200", D(1), 140, 90, False, frozenset())  # type: ignore[arg-type]


def test_zero_min_interval_is_allowed() -> None:
    assert policy(min_hours=0).min_hours_between_doses == 0


@pytest.mark.parametrize("mg", [D(-1), D("NaN"), D("-Infinity"), float("nan")])
def test_past_dose_rejects_negative_or_non_finite(mg: object) -> None:
    with pytest.raises(ValueError):
        PastDose(T0, mg)  # type: ignore[arg-type]


def test_past_dose_coerces_float_via_str() -> None:
    assert PastDose(T0, 12.5).dose_mg == D("12.5")  # type: ignore[arg-type]
    assert PastDose(T0, D(0)).dose_mg == 0


@pytest.mark.parametrize(
    "field_values",
    [
        {"systolic": 0},
        {"diastolic": -1},
        {"heart_rate": 0},
    ],
)
def test_gate_answers_reject_non_positive_vitals(field_values: dict) -> None:
    kwargs = {"systolic": 120, "diastolic": 80, "heart_rate": 70, "checklist": {}} | field_values
    with pytest.raises(ValueError):
        GateAnswers(**kwargs)


@pytest.mark.parametrize("value", [True, 120.0, "120"])
def test_gate_answers_reject_non_int_vitals(value: object) -> None:
    with pytest.raises(TypeError):
        GateAnswers(systolic=value, diastolic=80, heart_rate=70, checklist={})  # type: ignore[arg-type]


# --- naive datetimes -----------------------------------------------------------------------------

NAIVE = datetime(2024, 3, 1, 12, 0)
NO_OFFSET = datetime(2024, 3, 1, 12, 0, tzinfo=_NoOffset())


@pytest.mark.parametrize("bad", [NAIVE, NO_OFFSET])
def test_naive_past_dose_raises(bad: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PastDose(bad, D(100))


@pytest.mark.parametrize("bad", [NAIVE, NO_OFFSET])
def test_naive_taken_at_raises(bad: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        dose_limit_reasons(policy(), [], bad, D(100))


@pytest.mark.parametrize("bad", [NAIVE, NO_OFFSET])
def test_naive_now_raises(bad: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_gate(policy(), [], answers(), bad, D(100))


def test_naive_now_raises_even_with_empty_everything() -> None:
    with pytest.raises(ValueError):
        evaluate_gate(policy(), (), answers(), NAIVE, D(1))


def test_non_datetime_raises_type_error() -> None:
    with pytest.raises(TypeError):
        dose_limit_reasons(policy(), [], T0.date(), D(100))  # type: ignore[arg-type]


def test_history_must_hold_past_doses() -> None:
    with pytest.raises(TypeError):
        dose_limit_reasons(policy(), [(T0, D(100))], T0 + H(1), D(100))  # type: ignore[list-item]


@pytest.mark.parametrize("mg", [D(0), D(-5), D("NaN"), D("Infinity"), float("inf")])
def test_dose_limit_reasons_rejects_non_positive_or_non_finite_dose(mg: object) -> None:
    with pytest.raises(ValueError):
        dose_limit_reasons(policy(), [], T0, mg)  # type: ignore[arg-type]


def test_dose_limit_reasons_rejects_bool_dose() -> None:
    with pytest.raises(TypeError):
        dose_limit_reasons(policy(), [], T0, True)  # type: ignore[arg-type]


# --- minimum interval ----------------------------------------------------------------------------


def test_empty_history_has_no_reasons() -> None:
    assert dose_limit_reasons(policy(min_hours=72, max24=100, max7d=100), [], T0, D(100)) == ()


def test_exactly_min_interval_after_previous_is_allowed() -> None:
    p = policy(min_hours=72)
    assert dose_limit_reasons(p, [dose(T0)], T0 + H(72), D(100)) == ()


def test_one_second_short_of_min_interval_is_too_soon() -> None:
    p = policy(min_hours=72)
    reasons = dose_limit_reasons(p, [dose(T0)], T0 + H(72) - SEC, D(100))
    assert reasons == (
        Reason(
            ReasonCode.TOO_SOON,
            {"hours": D(72), "next_allowed_at": T0 + H(72), "conflicting_at": (T0,)},
        ),
    )


def test_exactly_min_interval_before_a_later_dose_is_allowed() -> None:
    p = policy(min_hours=72)
    assert dose_limit_reasons(p, [dose(T0)], T0 - H(72), D(100)) == ()


def test_one_second_short_before_a_later_dose_is_too_soon() -> None:
    p = policy(min_hours=72)
    (reason,) = dose_limit_reasons(p, [dose(T0)], T0 - H(72) + SEC, D(100))
    assert reason.code is ReasonCode.TOO_SOON
    assert reason.params["conflicting_at"] == (T0,)
    # The earliest conflict-free instant at or after the proposed time is after the later dose.
    assert reason.params["next_allowed_at"] == T0 + H(72)


def test_same_instant_is_too_soon() -> None:
    (reason,) = dose_limit_reasons(policy(min_hours=1), [dose(T0)], T0, D(100))
    assert reason.code is ReasonCode.TOO_SOON
    assert reason.params["next_allowed_at"] == T0 + H(1)


def test_zero_min_interval_allows_same_instant() -> None:
    assert dose_limit_reasons(policy(min_hours=0), [dose(T0)], T0, D(100)) == ()


def test_fractional_hours_interval() -> None:
    p = policy(min_hours=D("1.5"))
    assert dose_limit_reasons(p, [dose(T0)], T0 + timedelta(minutes=90), D(10)) == ()
    (reason,) = dose_limit_reasons(p, [dose(T0)], T0 + timedelta(minutes=90) - SEC, D(10))
    assert reason.params == {
        "hours": D("1.5"),
        "next_allowed_at": T0 + timedelta(minutes=90),
        "conflicting_at": (T0,),
    }


def test_interval_that_is_not_a_whole_microsecond_rounds_up() -> None:
    # 1e-10 h = 0.36 µs, rounded up to 1 µs, never down to 0 (which would allow the same instant).
    p = policy(min_hours=D("1E-10"))
    assert codes(dose_limit_reasons(p, [dose(T0)], T0, D(1))) == [ReasonCode.TOO_SOON]
    micro = timedelta(microseconds=1)
    assert dose_limit_reasons(p, [dose(T0)], T0 + micro, D(1)) == ()


def test_back_dated_dose_exactly_between_two_doses_is_allowed() -> None:
    p = policy(min_hours=24)
    history = [dose(T0), dose(T0 + H(48))]
    assert dose_limit_reasons(p, history, T0 + H(24), D(100)) == ()


def test_back_dated_dose_squeezed_near_the_earlier_dose() -> None:
    p = policy(min_hours=24)
    history = [dose(T0 + H(48)), dose(T0)]  # unordered on purpose
    (reason,) = dose_limit_reasons(p, history, T0 + H(12), D(100))
    assert reason.params == {
        "hours": D(24),
        "next_allowed_at": T0 + H(24),
        "conflicting_at": (T0,),
    }


def test_back_dated_dose_squeezed_near_the_later_dose() -> None:
    p = policy(min_hours=24)
    history = [dose(T0), dose(T0 + H(48))]
    (reason,) = dose_limit_reasons(p, history, T0 + H(30), D(100))
    assert reason.params["conflicting_at"] == (T0 + H(48),)
    assert reason.params["next_allowed_at"] == T0 + H(72)


def test_back_dated_dose_squeezed_between_two_close_doses_conflicts_with_both() -> None:
    p = policy(min_hours=24)
    history = [dose(T0 + H(30)), dose(T0)]
    (reason,) = dose_limit_reasons(p, history, T0 + H(15), D(100))
    assert reason.params == {
        "hours": D(24),
        "next_allowed_at": T0 + H(54),
        "conflicting_at": (T0, T0 + H(30)),
    }


def test_next_allowed_at_skips_over_a_chain_of_doses() -> None:
    # From T0+1h: T0 blocks until 24h; T0+20h blocks until 44h; T0+60h blocks (36h, 84h).
    p = policy(min_hours=24)
    history = [dose(T0), dose(T0 + H(20)), dose(T0 + H(60))]
    (reason,) = dose_limit_reasons(p, history, T0 + H(1), D(1))
    assert reason.params["conflicting_at"] == (T0, T0 + H(20))
    assert reason.params["next_allowed_at"] == T0 + H(84)


def test_mixed_time_zones_interval() -> None:
    p = policy(min_hours=24)
    earlier = dose(datetime(2024, 3, 1, 14, 0, tzinfo=PLUS2))  # == 12:00 UTC == T0
    assert dose_limit_reasons(p, [earlier], T0 + H(24), D(100)) == ()
    (reason,) = dose_limit_reasons(p, [earlier], T0 + H(24) - SEC, D(100))
    assert reason.params["next_allowed_at"] == T0 + H(24)
    assert reason.params["next_allowed_at"].utcoffset() == timedelta(0)
    assert reason.params["conflicting_at"] == (T0,)
    # Proposed time in yet another zone.
    proposed = (T0 + H(23)).astimezone(MINUS7)
    assert codes(dose_limit_reasons(p, [earlier], proposed, D(100))) == [ReasonCode.TOO_SOON]


def test_interval_is_elapsed_time_across_a_dst_change() -> None:
    # Europe/Berlin springs forward on 2024-03-31: 24 wall-clock hours are only 23 real hours.
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2024, 3, 30, 12, 0, tzinfo=berlin)
    same_wall_time_next_day = datetime(2024, 3, 31, 12, 0, tzinfo=berlin)
    p = policy(min_hours=24)
    reasons = dose_limit_reasons(p, [dose(before)], same_wall_time_next_day, D(1))
    assert codes(reasons) == [ReasonCode.TOO_SOON]
    assert reasons[0].params["next_allowed_at"] == datetime(2024, 3, 31, 11, 0, tzinfo=UTC)


# --- rolling 24 h maximum ------------------------------------------------------------------------


def test_24h_total_exactly_at_max_is_allowed() -> None:
    p = policy(max24=D("200.00"))
    assert dose_limit_reasons(p, [dose(T0 - H(5), "150")], T0, D(50)) == ()


def test_24h_total_one_hundredth_over_max_is_refused() -> None:
    p = policy(max24=D(200))
    reasons = dose_limit_reasons(p, [dose(T0 - H(5), "150")], T0, D("50.01"))
    assert reasons == (
        Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(200), "total_mg": D("200.01")}),
    )


def test_single_dose_above_24h_max_is_refused_with_empty_history() -> None:
    reasons = dose_limit_reasons(policy(max24=100), [], T0, D("100.01"))
    assert reasons == (
        Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(100), "total_mg": D("100.01")}),
    )


def test_dose_exactly_24h_earlier_is_outside_the_window() -> None:
    p = policy(max24=200)
    assert dose_limit_reasons(p, [dose(T0 - H(24), "150")], T0, D(100)) == ()


def test_dose_one_second_inside_24h_earlier_counts() -> None:
    p = policy(max24=200)
    reasons = dose_limit_reasons(p, [dose(T0 - H(24) + SEC, "150")], T0, D(100))
    assert reasons == (Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(200), "total_mg": D(250)}),)


def test_24h_window_exceeded_only_when_a_later_dose_is_included() -> None:
    # Back-dated dose at T0; the window ending at T0 holds only 100 mg, but the window
    # ending at the later dose (T0+10h) would hold 250 mg.
    p = policy(max24=200)
    history = [dose(T0 + H(10), "150")]
    reasons = dose_limit_reasons(p, history, T0, D(100))
    assert reasons == (Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(200), "total_mg": D(250)}),)


def test_later_dose_exactly_24h_after_is_outside_the_window() -> None:
    p = policy(max24=200)
    assert dose_limit_reasons(p, [dose(T0 + H(24), "150")], T0, D(100)) == ()
    later_inside = [dose(T0 + H(24) - SEC, "150")]
    assert codes(dose_limit_reasons(p, later_inside, T0, D(100))) == [ReasonCode.OVER_24H_MAX]


def test_24h_total_is_the_worst_rolling_window_not_a_plus_minus_24h_sum() -> None:
    # Window ending T0: 80 + 60 = 140. Window ending T0+5h: (T0-19h, T0+5h] = 60 + 150 = 210.
    # A naive T0±24h sum would say 290; 290 is never in any single 24 h window.
    p = policy(max24=200)
    history = [dose(T0 - H(20), "80"), dose(T0 + H(5), "150")]
    reasons = dose_limit_reasons(p, history, T0, D(60))
    assert reasons == (Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(200), "total_mg": D(210)}),)


def test_24h_windows_on_both_sides_within_limit_are_allowed() -> None:
    # Each side alone fits, and no single 24 h window holds both neighbours.
    p = policy(max24=200)
    history = [dose(T0 - H(13), "100"), dose(T0 + H(12), "100")]
    assert dose_limit_reasons(p, history, T0, D(100)) == ()
    # Neighbours exactly 24 h apart: the half-open window ending T0+12h excludes T0-12h.
    history = [dose(T0 - H(12), "100"), dose(T0 + H(12), "100")]
    assert dose_limit_reasons(p, history, T0, D(100)) == ()
    # One second closer and the window ending T0+12h holds all three.
    history = [dose(T0 - H(12) + SEC, "100"), dose(T0 + H(12), "100")]
    reasons = dose_limit_reasons(p, history, T0, D(100))
    assert reasons == (Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(200), "total_mg": D(300)}),)


def test_24h_doses_at_the_same_instant_count() -> None:
    p = policy(max24=200)
    reasons = dose_limit_reasons(p, [dose(T0, "150")], T0, D(100))
    assert reasons[0].params["total_mg"] == D(250)


def test_24h_already_over_history_is_still_reported() -> None:
    p = policy(max24=100)
    reasons = dose_limit_reasons(p, [dose(T0 - H(1), "150")], T0, D(1))
    assert reasons == (Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": D(100), "total_mg": D(151)}),)


def test_zero_maximum_refuses_any_dose() -> None:
    reasons = dose_limit_reasons(policy(max24=0, max7d=0), [], T0, D("0.01"))
    assert codes(reasons) == [ReasonCode.OVER_24H_MAX, ReasonCode.OVER_7D_MAX]


def test_24h_max_mixed_time_zones() -> None:
    p = policy(max24=200)
    # 23:30 on Feb 29 at -07:00 == 06:30 UTC Mar 1, inside the window ending T0.
    history = [dose(datetime(2024, 2, 29, 23, 30, tzinfo=MINUS7), "150")]
    assert codes(dose_limit_reasons(p, history, T0.astimezone(PLUS2), D(51))) == [
        ReasonCode.OVER_24H_MAX
    ]
    assert dose_limit_reasons(p, history, T0.astimezone(PLUS2), D(50)) == ()
    # 05:00 on Feb 29 at -07:00 == 12:00 UTC Feb 29, exactly 24 h before T0: outside.
    history = [dose(datetime(2024, 2, 29, 5, 0, tzinfo=MINUS7), "150")]
    assert dose_limit_reasons(p, history, T0, D(100)) == ()


# --- rolling 7 day maximum -----------------------------------------------------------------------


def test_7d_total_exactly_at_max_is_allowed() -> None:
    p = policy(max7d=D(300))
    history = [dose(T0 - timedelta(days=6), "100"), dose(T0 - timedelta(days=3), "100")]
    assert dose_limit_reasons(p, history, T0, D(100)) == ()


def test_7d_total_one_hundredth_over_max_is_refused() -> None:
    p = policy(max7d=D(300))
    history = [dose(T0 - timedelta(days=6), "100"), dose(T0 - timedelta(days=3), "100")]
    reasons = dose_limit_reasons(p, history, T0, D("100.01"))
    assert reasons == (
        Reason(ReasonCode.OVER_7D_MAX, {"limit_mg": D(300), "total_mg": D("300.01")}),
    )


def test_dose_exactly_7d_earlier_is_outside_the_window() -> None:
    p = policy(max7d=300)
    history = [dose(T0 - timedelta(days=7), "250")]
    assert dose_limit_reasons(p, history, T0, D(100)) == ()
    history = [dose(T0 - timedelta(days=7) + SEC, "250")]
    assert codes(dose_limit_reasons(p, history, T0, D(100))) == [ReasonCode.OVER_7D_MAX]


def test_7d_window_exceeded_only_when_a_later_dose_is_included() -> None:
    p = policy(max7d=300)
    history = [dose(T0 - timedelta(days=5), "100"), dose(T0 + timedelta(days=3), "150")]
    # Window ending T0: 100 + 100 = 200. Window ending T0+3d: (T0-4d, T0+3d] = 100 + 150 = 250.
    assert dose_limit_reasons(p, history, T0, D(100)) == ()
    history.append(dose(T0 + timedelta(days=4), "60"))
    # Window ending T0+4d: (T0-3d, T0+4d] = 100 + 150 + 60 = 310.
    reasons = dose_limit_reasons(p, history, T0, D(100))
    assert reasons == (Reason(ReasonCode.OVER_7D_MAX, {"limit_mg": D(300), "total_mg": D(310)}),)


def test_later_dose_exactly_7d_after_is_outside_the_window() -> None:
    p = policy(max7d=300)
    assert dose_limit_reasons(p, [dose(T0 + timedelta(days=7), "250")], T0, D(100)) == ()
    inside = [dose(T0 + timedelta(days=7) - SEC, "250")]
    assert codes(dose_limit_reasons(p, inside, T0, D(100))) == [ReasonCode.OVER_7D_MAX]


def test_dose_limit_reason_order_is_interval_then_24h_then_7d() -> None:
    p = policy(min_hours=24, max24=150, max7d=150)
    reasons = dose_limit_reasons(p, [dose(T0 - H(1), "100")], T0, D(100))
    assert codes(reasons) == [
        ReasonCode.TOO_SOON,
        ReasonCode.OVER_24H_MAX,
        ReasonCode.OVER_7D_MAX,
    ]
    assert reasons[1].params == {"limit_mg": D(150), "total_mg": D(200)}
    assert reasons[2].params == {"limit_mg": D(150), "total_mg": D(200)}


def test_dose_mg_accepts_int_and_float() -> None:
    p = policy(max24=D("12.5"))
    assert dose_limit_reasons(p, [], T0, 12.5) == ()
    assert codes(dose_limit_reasons(p, [], T0, 13)) == [ReasonCode.OVER_24H_MAX]


def test_history_may_be_a_one_shot_iterator() -> None:
    p = policy(min_hours=24, max24=150)
    history = iter([dose(T0 - H(1), "100")])
    result = evaluate_gate(p, history, answers(), T0, D(100))
    assert codes(result.reasons) == [ReasonCode.TOO_SOON, ReasonCode.OVER_24H_MAX]


# --- blood pressure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sys_bp", "dia_bp", "expected"),
    [
        (140, 80, Verdict.HOLD),  # systolic exactly at hold threshold
        (139, 80, Verdict.OK),
        (120, 90, Verdict.HOLD),  # diastolic exactly at hold threshold
        (120, 89, Verdict.OK),
        (139, 89, Verdict.OK),
        (140, 90, Verdict.HOLD),
        (179, 119, Verdict.HOLD),  # just below crisis, but above hold
        (180, 60, Verdict.EMERGENCY),
        (110, 120, Verdict.EMERGENCY),
        (180, 120, Verdict.EMERGENCY),
        (250, 150, Verdict.EMERGENCY),
    ],
)
def test_bp_thresholds(sys_bp: int, dia_bp: int, expected: Verdict) -> None:
    result = evaluate_gate(policy(), [], answers(sys_bp, dia_bp), T0, D(100))
    assert result.verdict is expected
    if expected is Verdict.OK:
        assert result.reasons == ()
    elif expected is Verdict.HOLD:
        assert result.reasons == (
            Reason(
                ReasonCode.BP_HOLD,
                {
                    "systolic": sys_bp,
                    "diastolic": dia_bp,
                    "hold_systolic": 140,
                    "hold_diastolic": 90,
                },
            ),
        )
    else:
        assert result.reasons == (
            Reason(
                ReasonCode.BP_EMERGENCY,
                {
                    "systolic": sys_bp,
                    "diastolic": dia_bp,
                    "crisis_systolic": 180,
                    "crisis_diastolic": 120,
                },
            ),
        )


def test_179_over_119_is_not_an_emergency_even_with_lenient_hold_thresholds() -> None:
    p = policy(hold_sys=200, hold_dia=130)
    result = evaluate_gate(p, [], answers(179, 119), T0, D(100))
    assert result == GateResult(Verdict.OK, ())


@pytest.mark.parametrize(("sys_bp", "dia_bp"), [(180, 60), (120, 120)])
def test_crisis_threshold_is_independent_of_prescriber_hold_thresholds(
    sys_bp: int, dia_bp: int
) -> None:
    # Even a misconfigured hold threshold above the crisis line cannot suppress the emergency.
    p = policy(hold_sys=250, hold_dia=200)
    result = evaluate_gate(p, [], answers(sys_bp, dia_bp), T0, D(100))
    assert result.verdict is Verdict.EMERGENCY
    assert codes(result.reasons) == [ReasonCode.BP_EMERGENCY]


def test_custom_hold_thresholds_are_used() -> None:
    p = policy(hold_sys=160, hold_dia=100)
    assert evaluate_gate(p, [], answers(159, 99), T0, D(1)).verdict is Verdict.OK
    result = evaluate_gate(p, [], answers(160, 70), T0, D(1))
    assert result.reasons[0].params == {
        "systolic": 160,
        "diastolic": 70,
        "hold_systolic": 160,
        "hold_diastolic": 100,
    }
    held = evaluate_gate(p, [], answers(110, 100), T0, D(1))
    assert codes(held.reasons) == [ReasonCode.BP_HOLD]


# --- sitter and checklist ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checklist", "blocked"),
    [
        ({}, True),
        ({"sitter_present": False}, True),
        ({"sitter_present": None}, True),
        ({"sitter_present": 1}, True),  # only exactly True counts as yes
        ({"sitter_present": "yes"}, True),
        ({"sitter_present": True}, False),
    ],
)
def test_sitter_required(checklist: dict, blocked: bool) -> None:
    result = evaluate_gate(policy(sitter=True), [], answers(checklist=checklist), T0, D(100))
    if blocked:
        assert result == GateResult(Verdict.HOLD, (Reason(ReasonCode.SITTER_REQUIRED, {}),))
    else:
        assert result == GateResult(Verdict.OK, ())


def test_sitter_not_required_ignores_missing_sitter() -> None:
    result = evaluate_gate(policy(sitter=False), [], answers(checklist={}), T0, D(100))
    assert result == GateResult(Verdict.OK, ())


def test_checklist_all_required_and_answered_true_is_ok() -> None:
    p = policy(checklist=frozenset(NON_SITTER_ITEMS))
    assert evaluate_gate(p, [], answers(checklist=ALL_YES), T0, D(100)).verdict is Verdict.OK


def test_checklist_missing_counts_as_failed() -> None:
    p = policy(checklist=frozenset({"fasted", "safe_place"}))
    result = evaluate_gate(p, [], answers(checklist={"fasted": True}), T0, D(100))
    assert result == GateResult(
        Verdict.HOLD, (Reason(ReasonCode.CHECKLIST_FAILED, {"items": ("safe_place",)}),)
    )


def test_checklist_failures_listed_in_canonical_order() -> None:
    p = policy(checklist=frozenset({"safe_place", "fasted", "no_driving", "no_sedatives"}))
    given_answers = {"safe_place": False, "no_driving": 1, "no_sedatives": True}
    result = evaluate_gate(p, [], answers(checklist=given_answers), T0, D(100))
    assert result.reasons == (
        Reason(ReasonCode.CHECKLIST_FAILED, {"items": ("fasted", "no_driving", "safe_place")}),
    )


def test_checklist_items_not_required_are_ignored() -> None:
    p = policy(checklist=frozenset({"fasted"}))
    given_answers = {"fasted": True, "no_driving": False, "safe_place": False}
    assert evaluate_gate(p, [], answers(checklist=given_answers), T0, D(100)).reasons == ()


# --- whole gate ----------------------------------------------------------------------------------


def test_gate_all_clear_is_ok() -> None:
    p = policy(
        min_hours=72, max24=100, max7d=200, sitter=True, checklist=frozenset(NON_SITTER_ITEMS)
    )
    history = [dose(T0 - H(72), "100")]
    assert evaluate_gate(p, history, answers(), T0, D(100)) == GateResult(Verdict.OK, ())


def test_gate_dose_limits_use_now() -> None:
    p = policy(min_hours=72)
    history = [dose(T0 - H(71), "100")]
    result = evaluate_gate(p, history, answers(), T0, D(100))
    assert result == GateResult(
        Verdict.HOLD,
        (
            Reason(
                ReasonCode.TOO_SOON,
                {"hours": D(72), "next_allowed_at": T0 + H(1), "conflicting_at": (T0 - H(71),)},
            ),
        ),
    )


def test_gate_mixed_time_zones() -> None:
    p = policy(min_hours=72)
    history = [dose((T0 - H(72)).astimezone(PLUS2), "100")]
    assert evaluate_gate(p, history, answers(), T0, D(100)).verdict is Verdict.OK
    now_plus2 = (T0 - SEC).astimezone(PLUS2)
    result = evaluate_gate(p, history, answers(), now_plus2, D(100))
    assert result.verdict is Verdict.HOLD
    assert result.reasons[0].params["next_allowed_at"] == T0


def test_gate_counts_doses_logged_after_now() -> None:
    # A dose logged in the future (clock skew, mistaken entry) must still constrain the gate.
    p = policy(min_hours=24)
    result = evaluate_gate(p, [dose(T0 + H(2))], answers(), T0, D(100))
    assert codes(result.reasons) == [ReasonCode.TOO_SOON]


def test_gate_reason_order_with_hold() -> None:
    p = policy(
        min_hours=24,
        max24=150,
        max7d=150,
        sitter=True,
        checklist=frozenset({"fasted", "no_driving"}),
    )
    result = evaluate_gate(p, [dose(T0 - H(1), "100")], answers(150, 80, {}), T0, D(100))
    assert result.verdict is Verdict.HOLD
    assert codes(result.reasons) == [
        ReasonCode.BP_HOLD,
        ReasonCode.TOO_SOON,
        ReasonCode.OVER_24H_MAX,
        ReasonCode.OVER_7D_MAX,
        ReasonCode.SITTER_REQUIRED,
        ReasonCode.CHECKLIST_FAILED,
    ]
    assert result.reasons[-1].params == {"items": ("fasted", "no_driving")}


def test_gate_emergency_dominates_but_lists_every_other_reason() -> None:
    p = policy(min_hours=24, max24=150, max7d=150, sitter=True, checklist=frozenset({"safe_place"}))
    result = evaluate_gate(p, [dose(T0 - H(1), "100")], answers(200, 130, {}), T0, D(100))
    assert result.verdict is Verdict.EMERGENCY
    assert codes(result.reasons) == [
        ReasonCode.BP_EMERGENCY,  # bp_hold is superseded, not listed
        ReasonCode.TOO_SOON,
        ReasonCode.OVER_24H_MAX,
        ReasonCode.OVER_7D_MAX,
        ReasonCode.SITTER_REQUIRED,
        ReasonCode.CHECKLIST_FAILED,
    ]


@pytest.mark.parametrize(
    ("p", "ans", "code"),
    [
        (policy(min_hours=24), answers(), ReasonCode.TOO_SOON),
        (policy(max24=150), answers(), ReasonCode.OVER_24H_MAX),
        (policy(max7d=150), answers(), ReasonCode.OVER_7D_MAX),
        (policy(sitter=True), answers(checklist={}), ReasonCode.SITTER_REQUIRED),
        (
            policy(checklist=frozenset({"fasted"})),
            answers(checklist={}),
            ReasonCode.CHECKLIST_FAILED,
        ),
    ],
)
def test_any_single_non_bp_reason_gives_hold(p: GuardPolicy, ans: GateAnswers, code: str) -> None:
    result = evaluate_gate(p, [dose(T0 - H(1), "100")], ans, T0, D(100))
    assert result.verdict is Verdict.HOLD
    assert codes(result.reasons) == [code]


def test_gate_rejects_invalid_proposed_dose() -> None:
    with pytest.raises(ValueError):
        evaluate_gate(policy(), [], answers(), T0, D(0))


# --- validate_dose_amount ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose_mg", "strength", "halving", "expected"),
    [
        (D("NaN"), D(25), False, "not_finite"),
        (D("sNaN"), D(25), True, "not_finite"),
        (D("Infinity"), D(25), False, "not_finite"),
        (D("-Infinity"), D(25), True, "not_finite"),
        (float("inf"), D(25), False, "not_finite"),
        (float("-inf"), D(25), False, "not_finite"),
        (float("nan"), D(25), True, "not_finite"),
        (D(0), D(25), False, "not_positive"),
        (D("-0"), D(25), False, "not_positive"),
        (-0.0, D(25), True, "not_positive"),
        (D(-25), D(25), False, "not_positive"),
        (-12.5, 25, True, "not_positive"),
        # whole troches only
        (D(25), D(25), False, None),
        (D("25.00"), D(25), False, None),
        (D(50), D(25), False, None),
        (D("12.5"), D(25), False, "not_whole_troche"),
        (D("37.5"), D(25), False, "not_whole_troche"),
        (D("25.01"), D(25), False, "not_whole_troche"),
        (D(250), D(25), False, None),  # exactly 10 troches
        (D(275), D(25), False, "absurd"),
        (D("250.01"), D(25), False, "absurd"),  # absurd is reported before granularity
        # halves allowed
        (D("12.5"), D(25), True, None),
        (D("37.5"), D(25), True, None),
        (D(25), D(25), True, None),
        (D(10), D(25), True, "not_half_troche"),
        (D("12.6"), D(25), True, "not_half_troche"),
        (D(250), D(25), True, None),
        (D("262.5"), D(25), True, "absurd"),
        (D("250.5"), D(25), True, "absurd"),
        # odd strengths, int and float inputs
        (12.5, 25, True, None),
        (25, 25, False, None),
        (D("0.3"), 0.1, False, None),
        (0.3, 0.1, False, None),  # str() conversion keeps this exact
        (0.15, 0.1, True, None),
        (0.15, 0.1, False, "not_whole_troche"),
        (D("1E-30"), D(25), True, "not_half_troche"),
        (D("1E+50"), D(25), False, "absurd"),
        (D("1E+999"), D(25), True, "absurd"),
        # A remainder the exact context cannot hold is an answer, not an exception (a 500 that
        # lost a phone's whole batch): below its smallest exponent, or more digits than it has.
        (D("1E-999999999"), D(25), True, "not_half_troche"),
        (D("1E-999999999"), D(25), False, "not_whole_troche"),
        (D("50." + "0" * 120 + "1"), D(25), False, "not_whole_troche"),
        (D("50." + "0" * 120 + "1"), D(25), True, "not_half_troche"),
        (D("50." + "0" * 300), D(25), False, None),
    ],
)
def test_validate_dose_amount(dose_mg: object, strength: object, halving: bool, expected) -> None:
    assert validate_dose_amount(dose_mg, strength, halving) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("strength", [D(0), D(-25), D("NaN"), D("Infinity"), float("nan")])
def test_validate_dose_amount_rejects_bad_strength(strength: object) -> None:
    with pytest.raises(ValueError):
        validate_dose_amount(D(25), strength, False)  # type: ignore[arg-type]


@pytest.mark.parametrize(("dose_mg", "strength"), [(True, D(25)), ("25", D(25)), (D(25), None)])
def test_validate_dose_amount_rejects_non_numbers(dose_mg: object, strength: object) -> None:
    with pytest.raises(TypeError):
        validate_dose_amount(dose_mg, strength, False)  # type: ignore[arg-type]


# --- property-based tests ------------------------------------------------------------------------

MIN_HOURS = [D(0), D(1), D("1.5"), D(12), D(24), D(72)]
MAX_24H = [D(0), D("12.5"), D(25), D(50), D(100), D("137.5")]
MAX_7D = [D(25), D(100), D(200), D("337.5"), D(1000)]
AMOUNTS = [D("0.01"), D("6.25"), D("12.5"), D(25), D(50), D("37.49")]
ZONES = [UTC, PLUS2, MINUS7, timezone(timedelta(hours=5, minutes=30))]
BASE = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 14 * 24 * 3600

# Quarter-hour offsets make exact-boundary collisions common; arbitrary seconds cover the rest.
offsets = st.one_of(
    st.integers(0, SPAN_SECONDS // 900).map(lambda q: q * 900),
    st.integers(0, SPAN_SECONDS),
)
instants = st.builds(
    lambda secs, zone: (BASE + timedelta(seconds=secs)).astimezone(zone),
    offsets,
    st.sampled_from(ZONES),
)
policies = st.builds(
    policy,
    min_hours=st.sampled_from(MIN_HOURS),
    max24=st.sampled_from(MAX_24H),
    max7d=st.sampled_from(MAX_7D),
)
past_doses = st.builds(PastDose, instants, st.sampled_from(AMOUNTS))


def _window_totals(doses: list[tuple[datetime, Decimal]], span: timedelta) -> list[Decimal]:
    """Brute force: total of every window (e - span, e] ending at a dose."""
    return [sum((m for t, m in doses if e - span < t <= e), D(0)) for e, _ in doses]


def _hours(p: GuardPolicy) -> timedelta:
    return timedelta(hours=float(p.min_hours_between_doses))


@settings(max_examples=150, deadline=None)
@given(p=policies, proposals=st.lists(st.tuples(instants, st.sampled_from(AMOUNTS)), max_size=30))
def test_accepted_sequence_never_breaks_any_rule(p: GuardPolicy, proposals: list) -> None:
    accepted: list[PastDose] = []
    for at, mg in proposals:  # random order, so many proposals are back-dated
        if not dose_limit_reasons(p, accepted, at, mg):
            accepted.append(PastDose(at, mg))
    pairs = [(d.taken_at, d.dose_mg) for d in accepted]
    assert all(total <= p.max_mg_per_24h for total in _window_totals(pairs, H(24)))
    assert all(total <= p.max_mg_per_7d for total in _window_totals(pairs, timedelta(days=7)))
    gap = _hours(p)
    for (a, _), (b, _) in itertools.combinations(pairs, 2):
        assert abs(a - b) >= gap


@settings(max_examples=200, deadline=None)
@given(
    p=policies,
    history=st.lists(past_doses, max_size=12),
    at=instants,
    mg=st.sampled_from(AMOUNTS),
)
def test_dose_limit_reasons_match_brute_force(
    p: GuardPolicy, history: list[PastDose], at: datetime, mg: Decimal
) -> None:
    """Exactness, for arbitrary (even already-inconsistent) histories: each reason fires iff
    the brute-force rule says so, so the guard is neither too lax nor too strict."""
    reasons = {r.code: r for r in dose_limit_reasons(p, history, at, mg)}
    gap = _hours(p)
    conflicts = sorted(d.taken_at for d in history if abs(d.taken_at - at) < gap)
    assert (ReasonCode.TOO_SOON in reasons) == bool(conflicts)
    if conflicts:
        params = reasons[ReasonCode.TOO_SOON].params
        assert params["hours"] == p.min_hours_between_doses
        assert params["conflicting_at"] == tuple(conflicts)
        nxt = params["next_allowed_at"]
        assert nxt > at and nxt.utcoffset() == timedelta(0)
        assert all(abs(d.taken_at - nxt) >= gap for d in history)
        # ...and it is the earliest such instant: a microsecond sooner still conflicts.
        sooner = nxt - timedelta(microseconds=1)
        assert any(abs(d.taken_at - sooner) < gap for d in history)

    new_set = [(d.taken_at, d.dose_mg) for d in history] + [(at, mg)]
    for code, span, limit in (
        (ReasonCode.OVER_24H_MAX, H(24), p.max_mg_per_24h),
        (ReasonCode.OVER_7D_MAX, timedelta(days=7), p.max_mg_per_7d),
    ):
        containing = [
            sum((m for t, m in new_set if e - span < t <= e), D(0))
            for e, _ in new_set
            if e - span < at <= e
        ]
        worst = max(containing)
        assert (code in reasons) == (worst > limit)
        if code in reasons:
            assert reasons[code].params == {"limit_mg": limit, "total_mg": worst}
    assert list(reasons) == sorted(reasons, key=list(ReasonCode).index)


vitals = st.tuples(st.integers(60, 260), st.integers(30, 170))
checklist_answers = st.dictionaries(
    st.sampled_from(CHECKLIST_ITEMS), st.sampled_from([True, False, None, 1]), max_size=5
)
gate_policies = st.builds(
    policy,
    min_hours=st.sampled_from(MIN_HOURS),
    max24=st.sampled_from(MAX_24H),
    max7d=st.sampled_from(MAX_7D),
    hold_sys=st.integers(100, 260),
    hold_dia=st.integers(60, 170),
    sitter=st.booleans(),
    checklist=st.frozensets(st.sampled_from(NON_SITTER_ITEMS)),
)
RANK = [
    ReasonCode.BP_EMERGENCY,
    ReasonCode.BP_HOLD,
    ReasonCode.TOO_SOON,
    ReasonCode.OVER_24H_MAX,
    ReasonCode.OVER_7D_MAX,
    ReasonCode.SITTER_REQUIRED,
    ReasonCode.CHECKLIST_FAILED,
]


@settings(max_examples=300, deadline=None)
@given(
    p=gate_policies,
    history=st.lists(past_doses, max_size=6),
    bp=vitals,
    checklist=checklist_answers,
    now=instants,
    mg=st.sampled_from(AMOUNTS),
)
def test_gate_verdict_invariants(
    p: GuardPolicy,
    history: list[PastDose],
    bp: tuple[int, int],
    checklist: dict,
    now: datetime,
    mg: Decimal,
) -> None:
    sys_bp, dia_bp = bp
    result = evaluate_gate(p, history, answers(sys_bp, dia_bp, checklist), now, mg)
    found = codes(result.reasons)
    crisis = sys_bp >= 180 or dia_bp >= 120
    held = sys_bp >= p.bp_hold_systolic or dia_bp >= p.bp_hold_diastolic

    assert (result.verdict is Verdict.OK) == (result.reasons == ())
    assert (result.verdict is Verdict.EMERGENCY) == crisis
    assert (ReasonCode.BP_EMERGENCY in found) == crisis
    assert (ReasonCode.BP_HOLD in found) == (held and not crisis)
    if crisis:
        assert found[0] is ReasonCode.BP_EMERGENCY
    # Fixed order, no duplicates, and the dose-limit reasons are exactly dose_limit_reasons'.
    assert found == sorted(set(found), key=RANK.index)
    limits = [r for r in result.reasons if r.code in RANK[2:5]]
    assert tuple(limits) == dose_limit_reasons(p, history, now, mg)
    assert (ReasonCode.SITTER_REQUIRED in found) == (
        p.sitter_required and checklist.get("sitter_present") is not True
    )
    failing = tuple(
        i for i in CHECKLIST_ITEMS if i in p.required_checklist and checklist.get(i) is not True
    )
    failed = [r for r in result.reasons if r.code is ReasonCode.CHECKLIST_FAILED]
    assert failed == ([Reason(ReasonCode.CHECKLIST_FAILED, {"items": failing})] if failing else [])


@settings(max_examples=200, deadline=None)
@given(
    strength=st.sampled_from([D(25), D("12.5"), D(50), D("0.1"), D(100), D(200), D(3)]),
    halves=st.integers(1, 24),
    halving=st.booleans(),
)
def test_validate_dose_amount_on_half_troche_grid(
    strength: Decimal, halves: int, halving: bool
) -> None:
    dose_mg = strength * halves / 2
    result = validate_dose_amount(dose_mg, strength, halving)
    if halves > 20:
        assert result == "absurd"
    elif halving or halves % 2 == 0:
        assert result is None
    else:
        assert result == "not_whole_troche"


@settings(max_examples=200, deadline=None)
@given(
    strength=st.sampled_from([D(25), D("12.5"), D(50), D(100), D(200)]),
    dose_mg=st.decimals(min_value=D("0.01"), max_value=D(3000), places=2),
    halving=st.booleans(),
)
def test_validate_dose_amount_accepts_only_whole_or_half_multiples(
    strength: Decimal, dose_mg: Decimal, halving: bool
) -> None:
    result = validate_dose_amount(dose_mg, strength, halving)
    step = strength / 2 if halving else strength
    if result is None:
        assert dose_mg <= 10 * strength
        assert (dose_mg / step) == (dose_mg / step).to_integral_value()
    else:
        assert result in {"absurd", "not_half_troche" if halving else "not_whole_troche"}


# --- limits met only after corrections (against the doses as first recorded) ----------------


@pytest.mark.parametrize(("history", "struck", "mg", "expected"), [
    # Nothing struck: nothing to say, whatever the history holds.
    ([], [], 100, []),
    ([dose(T0 - H(1))], [], 100, []),
    # A struck dose within the interval: the dose would have been too soon.
    ([], [dose(T0 - H(1))], 100, [ReasonCode.TOO_SOON]),
    ([], [dose(T0 + H(1))], 100, [ReasonCode.TOO_SOON]),  # a back-dated dose, struck one after
    # Exactly the interval away is allowed, with or without the struck dose.
    ([], [dose(T0 - H(48))], 100, []),
    ([], [dose(T0 - H(48) + SEC)], 100, [ReasonCode.TOO_SOON]),
    # Already too soon against the recorded history, and the day's total stays within the
    # maximum with the struck dose: it adds nothing to say.
    ([dose(T0 - H(2), 50)], [dose(T0 - H(1), 50)], 100, []),
    # ... but a struck dose that takes the day over the maximum adds that.
    ([dose(T0 - H(2))], [dose(T0 - H(1))], 100, [ReasonCode.OVER_24H_MAX]),
    ([], [dose(T0 - H(23), 150)], 100, [ReasonCode.TOO_SOON, ReasonCode.OVER_24H_MAX]),
    # Outside the interval and the day; the week's total stays within: nothing.
    ([], [dose(T0 - H(49), 150)], 100, []),
    ([dose(T0 - H(60), 50)], [dose(T0 - H(49), 150)], 100, []),
    ([dose(T0 - H(60), 100)], [dose(T0 - H(49), 150)], 100, [ReasonCode.OVER_7D_MAX]),
    # Over the 7-day maximum only with the struck dose counted.
    ([dose(T0 - H(24 * 5)), dose(T0 - H(24 * 3))], [dose(T0 - H(24 * 6))], 100,
     [ReasonCode.OVER_7D_MAX]),
    # Over it already: nothing added.
    ([dose(T0 - H(24 * 6)), dose(T0 - H(24 * 5)), dose(T0 - H(24 * 3))],
     [dose(T0 - H(24 * 4))], 100, []),
])
def test_limits_met_only_without_the_struck_doses(history, struck, mg, expected):
    p = policy(min_hours=48, max24=200, max7d=300)
    assert codes(limits_met_only_after_corrections(p, history, [*history, *struck], T0,
                                                   D(mg))) == expected


@pytest.mark.parametrize(("first", "now", "expected"), [
    # A dose moved back two days by a correction: at its first time it made this one too soon.
    (dose(T0 - H(1)), dose(T0 - H(49)), [ReasonCode.TOO_SOON]),
    # A correction of a few minutes changes nothing that matters.
    (dose(T0 - H(49)), dose(T0 - H(50)), []),
    # An amount corrected down: at its first amount the day would have been over.
    (dose(T0 - H(49), 150), dose(T0 - H(49), 50), []),
    (dose(T0 - H(20), 150), dose(T0 - H(20), 50), [ReasonCode.OVER_24H_MAX]),
    # Moved later, away from this one (a back-dated dose, say): nothing cleared.
    (dose(T0 - H(60)), dose(T0 - H(1)), []),
])
def test_limits_met_only_after_a_correction_moved_a_dose(first, now, expected):
    p = policy(min_hours=48, max24=200, max7d=1000)
    assert codes(limits_met_only_after_corrections(p, [now], [first], T0, D(100))) == expected


def test_a_struck_dose_over_the_daily_maximum_alone_is_named():
    p = policy(min_hours=0, max24=200)
    history = [dose(T0 - H(3), 100)]
    [reason] = limits_met_only_after_corrections(p, history, [*history, dose(T0 - H(2), 100)],
                                                 T0, D(100))
    assert reason.code is ReasonCode.OVER_24H_MAX
    assert reason.params["total_mg"] == D(300)


@settings(max_examples=300, deadline=None)
@given(
    history=st.lists(st.integers(-24 * 9, 24 * 9), max_size=5),
    struck=st.lists(st.integers(-24 * 9, 24 * 9), max_size=3),
    mg=st.sampled_from([50, 100, 150]),
)
def test_limits_met_only_after_corrections_are_those_the_first_record_adds(history, struck, mg):
    p = policy(min_hours=48, max24=200, max7d=400)
    recorded = [dose(T0 + H(h)) for h in history]
    struck_doses = [dose(T0 + H(h)) for h in struck]
    found = set(codes(limits_met_only_after_corrections(p, recorded, [*recorded, *struck_doses],
                                                        T0, D(mg))))
    alone = set(codes(dose_limit_reasons(p, recorded, T0, D(mg))))
    together = set(codes(dose_limit_reasons(p, [*recorded, *struck_doses], T0, D(mg))))
    assert found == together - alone


MIN = timedelta(minutes=1)


@pytest.mark.parametrize(("history", "at", "mg", "expected"), [
    ([], T0, 100, None),
    ([(T0, 100)], T0, 100, T0),  # the same minute, the same amount
    ([(T0, 100)], T0 + 15 * MIN, 100, T0),  # 15 minutes either side, inclusive
    ([(T0, 100)], T0 - 15 * MIN, 100, T0),
    ([(T0, 100)], T0 + 15 * MIN + SEC, 100, None),
    ([(T0, 100)], T0, 50, None),  # another amount: a second, smaller troche, not a repeat
    ([(T0, 100)], T0.astimezone(PLUS2), D("100.0"), T0),  # the same instant and amount
    ([(T0 - 10 * MIN, 100), (T0 + 5 * MIN, 100)], T0, 100, T0 + 5 * MIN),  # the nearest
    ([(T0 - 5 * MIN, 100), (T0 + 5 * MIN, 100)], T0, 100, T0 - 5 * MIN),  # a tie: the earlier
    ([(T0 - 5 * MIN, 50), (T0 + 10 * MIN, 100)], T0, 100, T0 + 10 * MIN),
])
def test_same_dose_logged_is_the_nearest_of_the_same_amount_within_15_minutes(
        history, at, mg, expected):
    found = same_dose_logged([PastDose(taken_at=t, dose_mg=D(m)) for t, m in history], at, mg)
    assert (found.taken_at if found else None) == expected
