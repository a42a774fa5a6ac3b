"""Generate tests/doses/gate_corpus.json: the shared (policy, history, proposal) -> verdict cases
that app/doses/rules.py and app/static/offline-gate.js must both satisfy.

    .venv/bin/python -m tests.doses.make_gate_corpus

The cases below are written by hand to sit on every boundary; the expected results are not:
they come from running the Python rules, so the corpus cannot drift from the server. The JSON is
committed and is what the tests read: tests/doses/test_gate_corpus.py re-runs the Python rules
(and checks this script still produces the committed file), tests/browser/test_gate_corpus.py
runs the JavaScript. After changing a rule, regenerate and review the diff.

Case shape (all JSON):
    policy      the `protocol.rules` object of GET /api/v1/today (what the phone holds offline)
    history     [{"taken_at": iso, "dose_mg": "100.00"}]
    answers     {"systolic", "diastolic", "heart_rate", "checklist": {item: bool}}
    now         iso instant of the proposed dose, proposed_mg a decimal string
    state       GET /api/v1/today's `safety_state`: {"review_pending", "last_emergency_at",
                "screener_pending"}
    expected    {"verdict", "codes", "params", "recheck_at", "may_override"}
                params are JSON-ready: UTC datetimes as datetime.isoformat(), decimals in their
                shortest exact form ("200", "12.5"), tuples as lists.
Invalid inputs (which both sides must refuse) are listed under "invalid" with
expected {"error": true}.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.doses import rules

CORPUS = Path(__file__).with_name("gate_corpus.json")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
MS = timedelta(milliseconds=1)
SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PLUS2 = timezone(timedelta(hours=2))
MINUS7 = timezone(timedelta(hours=-7))
MINUS10 = timezone(timedelta(hours=-10))
PLUS0530 = timezone(timedelta(hours=5, minutes=30))
ALL_YES = {item: True for item in rules.CHECKLIST_ITEMS}
NON_SITTER = [i for i in rules.CHECKLIST_ITEMS if i != "sitter_present"]


# --- JSON <-> rules ------------------------------------------------------------------------


def snapshot_rules(**changes: Any) -> dict[str, Any]:
    """A `protocol.rules` object shaped like GET /api/v1/today's (app/doses/api.py)."""
    body: dict[str, Any] = {
        "min_hours_between_doses": "24.00",
        "max_mg_per_24h": "200.00",
        "max_mg_per_7d": "600.00",
        "bp_hold_systolic": 160,
        "bp_hold_diastolic": 100,
        "bp_emergency_systolic": rules.CRISIS_SYSTOLIC,
        "bp_emergency_diastolic": rules.CRISIS_DIASTOLIC,
        "pulse_hold_low": None,
        "pulse_hold_high": None,
        "gate_valid_minutes": 30,
        "emergency_lockout_hours": 24,
        "emergency_recheck_minutes": int(rules.EMERGENCY_RECHECK_WAIT.total_seconds() // 60),
        "overridable_holds": [],
        "never_overridable": sorted(c.value for c in rules.NEVER_OVERRIDABLE),
        "sitter_required": False,
        "required_checklist": [],
    }
    unknown = set(changes) - set(body)
    if unknown:
        raise KeyError(f"not snapshot fields: {sorted(unknown)}")
    body.update(changes)
    return body


def policy_from_json(body: dict[str, Any]) -> rules.GuardPolicy:
    """The GuardPolicy a snapshot stands for (as app.protocols.service.policy builds it)."""
    return rules.GuardPolicy(
        min_hours_between_doses=Decimal(body["min_hours_between_doses"]),
        max_mg_per_24h=Decimal(body["max_mg_per_24h"]),
        max_mg_per_7d=Decimal(body["max_mg_per_7d"]),
        bp_hold_systolic=body["bp_hold_systolic"],
        bp_hold_diastolic=body["bp_hold_diastolic"],
        sitter_required=body["sitter_required"],
        required_checklist=frozenset(body["required_checklist"]),
        emergency_lockout_hours=body["emergency_lockout_hours"],
        pulse_hold_low=body["pulse_hold_low"],
        pulse_hold_high=body["pulse_hold_high"],
        overridable=frozenset(body["overridable_holds"]),
    )


def history_from_json(items: list[dict[str, Any]]) -> list[rules.PastDose]:
    return [rules.PastDose(taken_at=datetime.fromisoformat(d["taken_at"]),
                           dose_mg=Decimal(d["dose_mg"])) for d in items]


def answers_from_json(body: dict[str, Any]) -> rules.GateAnswers:
    return rules.GateAnswers(systolic=body["systolic"], diastolic=body["diastolic"],
                             heart_rate=body["heart_rate"], checklist=body["checklist"])


def state_from_json(body: dict[str, Any] | None) -> rules.SafetyState:
    body = body or {}
    last = body.get("last_emergency_at")
    return rules.SafetyState(review_pending=body.get("review_pending", False),
                             last_emergency_at=datetime.fromisoformat(last) if last else None,
                             screener_pending=body.get("screener_pending", False))


def decimal_text(value: Decimal) -> str:
    """The shortest exact text of a decimal: 200.00 -> "200", 12.50 -> "12.5"."""
    return format(value.normalize(), "f")


def param_json(value: object) -> object:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, tuple | list):
        return [param_json(v) for v in value]
    return value


def evaluate_case(case: dict[str, Any]) -> dict[str, Any]:
    """What the Python rules say about a corpus case, in the corpus's JSON form."""
    try:
        policy = policy_from_json(case["policy"])
        now = datetime.fromisoformat(case["now"])
        state = state_from_json(case["state"])
        result = rules.evaluate_gate(policy, history_from_json(case["history"]),
                                     answers_from_json(case["answers"]), now,
                                     Decimal(case["proposed_mg"]), state)
        recheck = rules.emergency_recheck_at(state, now)
    except (TypeError, ValueError, ArithmeticError):
        return {"error": True}
    return {
        "verdict": result.verdict.value,
        "codes": [r.code.value for r in result.reasons],
        "params": [{k: param_json(v) for k, v in r.params.items()} for r in result.reasons],
        "recheck_at": recheck.isoformat() if recheck else None,
        "may_override": rules.may_override_before_dosing(policy, result.reasons),
    }


# --- the cases -----------------------------------------------------------------------------


def iso(delta: timedelta = timedelta(0), tz: timezone = UTC) -> str:
    """T0 + delta as an ISO string in the given offset."""
    return (T0 + delta).astimezone(tz).isoformat()


def dose(delta: timedelta, mg: str = "100.00", tz: timezone = UTC) -> dict[str, str]:
    return {"taken_at": iso(delta, tz), "dose_mg": mg}


def answers(sys_bp: int = 120, dia_bp: int = 80, pulse: int = 70,
            checklist: dict[str, object] | None = None) -> dict[str, Any]:
    return {"systolic": sys_bp, "diastolic": dia_bp, "heart_rate": pulse,
            "checklist": dict(ALL_YES) if checklist is None else checklist}


def state(review: bool = False, last: str | None = None,
          screener: bool = False) -> dict[str, Any]:
    return {"review_pending": review, "last_emergency_at": last, "screener_pending": screener}


def case(name: str, *, policy: dict[str, Any] | None = None, history=(), reading=None,
         now: str | None = None, proposed: str = "100", safety=None) -> dict[str, Any]:
    return {
        "name": name,
        "policy": policy or snapshot_rules(),
        "history": list(history),
        "answers": reading or answers(),
        "now": now or iso(),
        "proposed_mg": proposed,
        "state": safety or state(),
    }


def build_cases() -> list[dict[str, Any]]:
    free = snapshot_rules(min_hours_between_doses="0.00")  # windows without the interval rule
    all_overridable = list(rules.OVERRIDABLE_CHOICES)
    return [
        # -- nothing fires
        case("ok_no_history"),
        case("ok_dose_two_days_before", history=[dose(-2 * DAY)]),
        # -- minimum interval (24 h): strictly closer holds, exactly equal is allowed
        case("too_soon_one_second_inside", history=[dose(-DAY + SEC)]),
        case("too_soon_one_millisecond_inside", history=[dose(-DAY + MS)]),
        case("too_soon_one_microsecond_inside", history=[dose(-DAY + US)]),
        case("interval_exactly_the_minimum_is_allowed", history=[dose(-DAY)]),
        case("interval_one_microsecond_past_the_minimum", history=[dose(-DAY - US)]),
        case("too_soon_backdated_before_a_later_dose", history=[dose(23 * HOUR)]),
        case("later_dose_exactly_the_minimum_after_is_allowed", history=[dose(DAY)]),
        case("too_soon_on_both_sides", history=[dose(-20 * HOUR), dose(20 * HOUR)]),
        case("backdated_between_two_doses_exactly_the_minimum_apart",
             history=[dose(-DAY), dose(DAY)]),
        case("next_allowed_at_chains_past_several_doses",
             history=[dose(-23 * HOUR), dose(12 * HOUR), dose(30 * HOUR)]),
        case("same_instant_twice_lists_both_conflicts",
             history=[dose(-HOUR), dose(-HOUR)]),
        case("fractional_minimum_inside",
             policy=snapshot_rules(min_hours_between_doses="1.50"),
             history=[dose(-90 * MIN + SEC)]),
        case("fractional_minimum_exact",
             policy=snapshot_rules(min_hours_between_doses="1.50"),
             history=[dose(-90 * MIN)]),
        case("hundredth_of_an_hour_minimum_inside",
             policy=snapshot_rules(min_hours_between_doses="0.01"),
             history=[dose(-35 * SEC)]),
        case("hundredth_of_an_hour_minimum_exact",
             policy=snapshot_rules(min_hours_between_doses="0.01"),
             history=[dose(-36 * SEC)]),
        case("zero_minimum_allows_the_same_instant", policy=free, history=[dose(timedelta(0))]),
        case("mixed_offsets_too_soon", history=[dose(-DAY + SEC, tz=PLUS2)],
             now=iso(tz=MINUS7)),
        case("mixed_offsets_exactly_the_minimum", history=[dose(-DAY, tz=PLUS2)],
             now=iso(tz=MINUS7)),
        case("z_suffix_and_short_fractions",
             history=[{"taken_at": "2026-02-28T12:00:00.5Z", "dose_mg": "100"}],
             now="2026-03-01T17:30:00.250+05:30"),
        # US spring forward (2026-03-08): the same wall time a day later is only 23 h on.
        case("dst_spring_forward_same_wall_time_is_23h",
             history=[{"taken_at": "2026-03-07T20:00:00-05:00", "dose_mg": "100.00"}],
             now="2026-03-08T20:00:00-04:00"),
        # US fall back (2026-11-01): the same wall time a day later is 25 h on.
        case("dst_fall_back_same_wall_time_is_25h",
             history=[{"taken_at": "2026-10-31T20:00:00-04:00", "dose_mg": "100.00"}],
             now="2026-11-01T20:00:00-05:00"),
        case("dst_fall_back_25h_minimum_exactly_met",
             policy=snapshot_rules(min_hours_between_doses="25.00"),
             history=[{"taken_at": "2026-10-31T20:00:00-04:00", "dose_mg": "100.00"}],
             now="2026-11-01T20:00:00-05:00"),
        # -- 24 h maximum (200 mg): windows (e - 24h, e] containing the dose; above holds
        case("over_24h_exactly_at_the_limit", policy=free, history=[dose(-23 * HOUR)]),
        case("over_24h_one_hundredth_above", policy=free,
             history=[dose(-23 * HOUR, "100.01")]),
        case("over_24h_dose_exactly_24h_before_is_outside", policy=free,
             history=[dose(-DAY, "150.00")]),
        case("over_24h_dose_one_microsecond_inside", policy=free,
             history=[dose(-DAY + US, "150.00")]),
        case("over_24h_later_dose_within_24h", policy=free,
             history=[dose(DAY - MIN, "150.00")]),
        case("over_24h_later_dose_exactly_24h_after_is_outside", policy=free,
             history=[dose(DAY, "150.00")]),
        case("over_24h_worst_window_spans_both_sides", policy=free,
             history=[dose(-10 * HOUR, "80.00"), dose(10 * HOUR, "80.00")]),
        case("over_24h_doses_either_side_never_share_a_window", policy=free,
             history=[dose(-20 * HOUR, "80.00"), dose(20 * HOUR, "80.00")]),
        case("exact_hundredths_no_float_drift",
             policy=snapshot_rules(min_hours_between_doses="0.00", max_mg_per_24h="0.60"),
             history=[dose(-2 * HOUR, "0.20"), dose(-HOUR, "0.10")], proposed="0.3"),
        case("exact_hundredths_one_above",
             policy=snapshot_rules(min_hours_between_doses="0.00", max_mg_per_24h="0.59"),
             history=[dose(-2 * HOUR, "0.20"), dose(-HOUR, "0.10")], proposed="0.3"),
        case("thirds_sum_exactly_to_the_limit", policy=free,
             history=[dose(-3 * HOUR, "33.33"), dose(-2 * HOUR, "33.33"),
                      dose(-HOUR, "33.34")]),
        case("limit_zero_holds_any_dose",
             policy=snapshot_rules(min_hours_between_doses="0.00", max_mg_per_24h="0.00",
                                   max_mg_per_7d="0.00")),
        case("zero_mg_past_dose_adds_nothing",
             policy=snapshot_rules(min_hours_between_doses="0.00", max_mg_per_24h="100.00"),
             history=[dose(-HOUR, "0.00")]),
        case("half_troche_to_the_limit", policy=free, history=[dose(-HOUR, "187.50")],
             proposed="12.5"),
        case("half_troche_one_hundredth_over", policy=free, history=[dose(-HOUR, "187.51")],
             proposed="12.50"),
        # -- 7 day maximum (600 mg)
        case("over_7d_exactly_at_the_limit", policy=free,
             history=[dose(-n * DAY) for n in range(1, 6)]),
        case("over_7d_one_hundredth_above", policy=free,
             history=[dose(-n * DAY, "100.01" if n == 3 else "100.00") for n in range(1, 6)]),
        case("over_7d_dose_exactly_7d_before_is_outside", policy=free,
             history=[dose(-7 * DAY, "600.00")]),
        case("over_7d_dose_one_microsecond_inside", policy=free,
             history=[dose(-7 * DAY + US, "600.00")]),
        case("over_7d_later_dose_backdated_proposal", policy=free,
             history=[dose(6 * DAY, "550.00")]),
        case("over_7d_later_dose_exactly_7d_after_is_outside", policy=free,
             history=[dose(7 * DAY, "550.00")]),
        case("over_24h_and_over_7d_together",
             policy=snapshot_rules(min_hours_between_doses="0.00", max_mg_per_7d="240.00"),
             history=[dose(-HOUR, "150.00")]),
        # -- blood pressure: hold at >= the prescriber's values, emergency at >= 180 or >= 120
        case("bp_just_below_the_hold", reading=answers(159, 99)),
        case("bp_hold_systolic_at_the_threshold", reading=answers(160, 80)),
        case("bp_hold_diastolic_at_the_threshold", reading=answers(120, 100)),
        case("bp_hold_just_below_the_crisis", reading=answers(179, 119)),
        case("bp_emergency_systolic_at_180_supersedes_the_hold", reading=answers(180, 80)),
        case("bp_emergency_diastolic_at_120_supersedes_the_hold", reading=answers(120, 120)),
        case("bp_emergency_both", reading=answers(200, 130)),
        case("bp_emergency_below_a_hold_set_above_the_crisis",
             policy=snapshot_rules(bp_hold_systolic=190, bp_hold_diastolic=130),
             reading=answers(185, 80)),
        case("bp_below_a_hold_set_above_the_crisis_is_ok",
             policy=snapshot_rules(bp_hold_systolic=190, bp_hold_diastolic=130),
             reading=answers(175, 115)),
        case("bp_hold_with_low_thresholds",
             policy=snapshot_rules(bp_hold_systolic=130, bp_hold_diastolic=85),
             reading=answers(130, 70)),
        # -- pulse: outside [low, high] holds; the limits themselves pass; none means no limit
        case("pulse_no_limits_very_low", reading=answers(pulse=30)),
        case("pulse_no_limits_very_high", reading=answers(pulse=220)),
        case("pulse_low_only_below", policy=snapshot_rules(pulse_hold_low=50),
             reading=answers(pulse=49)),
        case("pulse_low_only_at_the_limit", policy=snapshot_rules(pulse_hold_low=50),
             reading=answers(pulse=50)),
        case("pulse_low_only_high_pulse_ok", policy=snapshot_rules(pulse_hold_low=50),
             reading=answers(pulse=190)),
        case("pulse_high_only_above", policy=snapshot_rules(pulse_hold_high=110),
             reading=answers(pulse=111)),
        case("pulse_high_only_at_the_limit", policy=snapshot_rules(pulse_hold_high=110),
             reading=answers(pulse=110)),
        case("pulse_both_below", policy=snapshot_rules(pulse_hold_low=50, pulse_hold_high=110),
             reading=answers(pulse=49)),
        case("pulse_both_inside", policy=snapshot_rules(pulse_hold_low=50, pulse_hold_high=110),
             reading=answers(pulse=80)),
        case("pulse_both_above", policy=snapshot_rules(pulse_hold_low=50, pulse_hold_high=110),
             reading=answers(pulse=111)),
        # -- a pending safety review
        case("safety_review_pending", safety=state(review=True)),
        case("safety_review_never_overridable",
             policy=snapshot_rules(overridable_holds=all_overridable),
             reading=answers(165, 80), safety=state(review=True)),
        # -- a PHQ-9 item 9 answer above 0 awaiting its screener
        case("screener_pending", safety=state(screener=True)),
        case("screener_pending_never_overridable",
             policy=snapshot_rules(overridable_holds=all_overridable),
             reading=answers(165, 80, checklist={**ALL_YES, "fasted": False}),
             safety=state(screener=True)),
        case("screener_pending_and_safety_review_both_listed",
             safety=state(review=True, screener=True)),
        case("screener_pending_with_a_recent_emergency",
             safety=state(screener=True, last=iso(-HOUR))),
        # -- a recent crisis reading: held for last <= now < last + lockout hours
        case("recent_emergency_at_the_reading_instant", safety=state(last=iso())),
        case("recent_emergency_one_microsecond_before_the_lockout_ends",
             safety=state(last=iso(-DAY + US))),
        case("recent_emergency_lockout_ends_exactly", safety=state(last=iso(-DAY))),
        case("recent_emergency_reading_after_now_does_not_hold", safety=state(last=iso(US))),
        case("recent_emergency_48h_lockout_still_on",
             policy=snapshot_rules(emergency_lockout_hours=48),
             safety=state(last=iso(-47 * HOUR))),
        case("recent_emergency_48h_lockout_ended",
             policy=snapshot_rules(emergency_lockout_hours=48),
             safety=state(last=iso(-48 * HOUR))),
        case("recent_emergency_mixed_offsets", now=iso(tz=PLUS0530),
             safety=state(last=iso(-HOUR, MINUS10))),
        # -- the 5-minute recheck wait after a crisis reading
        case("recheck_wait_one_microsecond_short", safety=state(last=iso(-5 * MIN + US))),
        case("recheck_wait_exactly_five_minutes", safety=state(last=iso(-5 * MIN))),
        case("recheck_too_soon_and_still_in_crisis", reading=answers(185, 95),
             safety=state(last=iso(-2 * MIN))),
        # -- sitter
        case("sitter_required_and_present", policy=snapshot_rules(sitter_required=True)),
        case("sitter_required_missing", policy=snapshot_rules(sitter_required=True),
             reading=answers(checklist={})),
        case("sitter_required_answered_false", policy=snapshot_rules(sitter_required=True),
             reading=answers(checklist={"sitter_present": False})),
        case("sitter_required_truthy_is_not_yes", policy=snapshot_rules(sitter_required=True),
             reading=answers(checklist={"sitter_present": 1})),
        case("sitter_not_required_nothing_answered", reading=answers(checklist={})),
        # -- checklist (missing items listed in CHECKLIST_ITEMS order)
        case("checklist_all_required_yes", policy=snapshot_rules(required_checklist=NON_SITTER)),
        case("checklist_one_missing",
             policy=snapshot_rules(required_checklist=["fasted", "safe_place"]),
             reading=answers(checklist={"fasted": True})),
        case("checklist_items_in_canonical_order",
             policy=snapshot_rules(required_checklist=["safe_place", "no_driving", "fasted"]),
             reading=answers(checklist={})),
        case("checklist_false_and_string_answers_fail",
             policy=snapshot_rules(required_checklist=["fasted", "no_sedatives"]),
             reading=answers(checklist={"fasted": False, "no_sedatives": "true"})),
        case("checklist_unrequired_items_may_be_no",
             policy=snapshot_rules(required_checklist=["fasted"]),
             reading=answers(checklist={"fasted": True, "no_driving": False})),
        case("sitter_and_checklist_together",
             policy=snapshot_rules(sitter_required=True, required_checklist=["fasted"]),
             reading=answers(checklist={})),
        # -- overriding before dosing
        case("override_bp_hold_allowed", policy=snapshot_rules(overridable_holds=["bp_hold"]),
             reading=answers(165, 80)),
        case("override_not_listed", policy=snapshot_rules(overridable_holds=["pulse_hold"]),
             reading=answers(165, 80)),
        case("override_pulse_hold_allowed",
             policy=snapshot_rules(overridable_holds=["pulse_hold"], pulse_hold_high=110),
             reading=answers(pulse=118)),
        case("override_only_some_listed",
             policy=snapshot_rules(overridable_holds=["bp_hold"], pulse_hold_low=50),
             reading=answers(165, 80, pulse=45)),
        case("override_sitter_and_checklist",
             policy=snapshot_rules(overridable_holds=["sitter_required", "checklist_failed"],
                                   sitter_required=True, required_checklist=["safe_place"]),
             reading=answers(checklist={})),
        case("override_never_for_too_soon",
             policy=snapshot_rules(overridable_holds=all_overridable),
             history=[dose(-HOUR)], reading=answers(165, 80)),
        case("override_never_for_an_emergency",
             policy=snapshot_rules(overridable_holds=all_overridable),
             reading=answers(181, 80)),
        case("override_nothing_to_override",
             policy=snapshot_rules(overridable_holds=all_overridable)),
        # -- several at once
        case("every_hold_at_once",
             policy=snapshot_rules(max_mg_per_7d="200.00", pulse_hold_low=50,
                                   sitter_required=True, required_checklist=["fasted"]),
             history=[dose(-HOUR, "150.00")], reading=answers(170, 90, pulse=40, checklist={}),
             safety=state(review=True, last=iso(-HOUR), screener=True)),
        case("everything_at_once_in_an_emergency",
             policy=snapshot_rules(max_mg_per_7d="200.00", pulse_hold_high=100,
                                   sitter_required=True, required_checklist=NON_SITTER),
             history=[dose(-HOUR, "150.00")],
             reading=answers(185, 125, pulse=120, checklist={"no_driving": True}),
             safety=state(review=True, last=iso(-HOUR), screener=True)),
        case("emergency_with_the_interval", history=[dose(-HOUR)], reading=answers(181, 70)),
    ]


def build_invalid() -> list[dict[str, Any]]:
    """Inputs both sides must refuse (a refusal offline means: the phone cannot clear it)."""
    return [
        case("invalid_naive_now", now="2026-03-01T12:00:00"),
        case("invalid_naive_history",
             history=[{"taken_at": "2026-02-28T12:00:00", "dose_mg": "100"}]),
        case("invalid_naive_last_emergency", safety=state(last="2026-03-01T11:00:00")),
        case("invalid_screener_pending_not_a_bool",
             safety={**state(), "screener_pending": "yes"}),
        case("invalid_zero_proposal", proposed="0"),
        case("invalid_negative_proposal", proposed="-100"),
        case("invalid_negative_past_dose", history=[dose(-2 * DAY, "-100.00")]),
        case("invalid_pulse_limits_crossed",
             policy=snapshot_rules(pulse_hold_low=110, pulse_hold_high=50)),
        case("invalid_sitter_in_the_required_checklist",
             policy=snapshot_rules(required_checklist=["sitter_present"])),
        case("invalid_overridable_too_soon", policy=snapshot_rules(overridable_holds=["too_soon"])),
        case("invalid_zero_systolic", reading=answers(0, 80)),
        case("invalid_not_a_date", now="yesterday"),
    ]


def corpus() -> dict[str, Any]:
    def with_expected(items):
        return [{**c, "expected": evaluate_case(c)} for c in items]

    return {
        "about": "Shared gate cases for app/doses/rules.py and app/static/offline-gate.js. "
                 "Generated by `python -m tests.doses.make_gate_corpus`; expected values "
                 "come from the Python rules. Do not edit by hand.",
        "cases": with_expected(build_cases()),
        "invalid": with_expected(build_invalid()),
    }


def render() -> str:
    return json.dumps(corpus(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    CORPUS.write_text(render())
    data = json.loads(CORPUS.read_text())
    print(f"wrote {CORPUS} ({len(data['cases'])} cases, {len(data['invalid'])} invalid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
