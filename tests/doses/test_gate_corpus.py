"""The shared gate corpus (tests/doses/gate_corpus.json) against the Python rules.

The same cases run through app/static/offline-gate.js in tests/browser/test_gate_corpus.py, so
the phone's offline verdict and the server's cannot drift apart unnoticed. A change to
app/doses/rules.py that changes any verdict, code, param, recheck time or override answer fails
here until the corpus is regenerated (`python -m tests.doses.make_gate_corpus`) and the
JavaScript is brought along.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.checkins.models import SafetyEvent
from app.doses.rules import OVERRIDABLE_CHOICES, ReasonCode, Verdict
from tests.doses import make_gate_corpus as gen
from tests.factories import gate_data, sync_item, sync_post

CORPUS = json.loads(gen.CORPUS.read_text())
CASES = {c["name"]: c for c in CORPUS["cases"]}
INVALID = CORPUS["invalid"]


def test_the_corpus_is_what_the_generator_writes():
    # Catches a hand edit of the JSON, and a generator change that was never regenerated.
    assert gen.CORPUS.read_text() == gen.render(), (
        "tests/doses/gate_corpus.json is stale: run `python -m tests.doses.make_gate_corpus`"
    )


@pytest.mark.parametrize("case", CORPUS["cases"], ids=lambda c: c["name"])
def test_python_rules_give_the_expected_result(case):
    assert gen.evaluate_case(case) == case["expected"]


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c["name"])
def test_python_rules_refuse_the_invalid_inputs(case):
    assert case["expected"] == {"error": True}
    assert gen.evaluate_case(case) == {"error": True}


# --- the corpus covers what it claims to ---------------------------------------------------


def test_the_corpus_is_large_and_names_are_unique():
    names = [c["name"] for c in CORPUS["cases"] + INVALID]
    assert len(CORPUS["cases"]) >= 60
    assert len(names) == len(set(names))


def test_the_corpus_covers_every_reason_code_and_verdict():
    seen = {code for c in CORPUS["cases"] for code in c["expected"]["codes"]}
    assert seen == {code.value for code in ReasonCode}
    assert {c["expected"]["verdict"] for c in CORPUS["cases"]} == {v.value for v in Verdict}


def test_the_corpus_covers_each_reason_alone_and_several_together():
    alone = {c["expected"]["codes"][0] for c in CORPUS["cases"]
             if len(c["expected"]["codes"]) == 1}
    assert alone == {code.value for code in ReasonCode}
    assert max(len(c["expected"]["codes"]) for c in CORPUS["cases"]) == len(ReasonCode) - 1


def test_the_corpus_covers_rechecks_and_overrides():
    expected = [c["expected"] for c in CORPUS["cases"]]
    assert any(e["recheck_at"] for e in expected)
    assert any(e["recheck_at"] is None and "recent_emergency" in e["codes"] for e in expected)
    assert {e["may_override"] for e in expected} == {True, False}
    overridden = {code for e in expected if e["may_override"] for code in e["codes"]}
    assert overridden == set(OVERRIDABLE_CHOICES)


def test_every_policy_is_shaped_like_the_today_snapshot():
    keys = set(gen.snapshot_rules())
    assert all(set(c["policy"]) == keys for c in CORPUS["cases"] + INVALID)


# --- a handful checked by hand (not by running the rules) ----------------------------------


def only(name: str) -> dict:
    return CASES[name]["expected"]


def params(name: str, code: str) -> dict:
    expected = only(name)
    return expected["params"][expected["codes"].index(code)]


def test_hand_checked_interval_cases():
    # A dose 24 h - 1 s ago: one second too soon; free again one second from now.
    assert only("too_soon_one_second_inside")["codes"] == ["too_soon"]
    assert params("too_soon_one_second_inside", "too_soon") == {
        "hours": "24",
        "next_allowed_at": "2026-03-01T12:00:01+00:00",
        "conflicting_at": ["2026-02-28T12:00:01+00:00"],
    }
    assert only("interval_exactly_the_minimum_is_allowed")["verdict"] == "ok"
    # Doses at -23 h, +12 h, +30 h: +36 h clashes with +30 h, so the first free time is +54 h.
    chain = params("next_allowed_at_chains_past_several_doses", "too_soon")
    assert chain["next_allowed_at"] == "2026-03-03T18:00:00+00:00"
    assert chain["conflicting_at"] == ["2026-02-28T13:00:00+00:00", "2026-03-02T00:00:00+00:00"]
    # 20:00 EST to 20:00 EDT the next day is 23 h: free at 01:00 UTC on the 9th.
    spring = params("dst_spring_forward_same_wall_time_is_23h", "too_soon")
    assert spring["next_allowed_at"] == "2026-03-09T01:00:00+00:00"
    assert only("dst_fall_back_same_wall_time_is_25h")["verdict"] == "ok"


def test_hand_checked_window_cases():
    # 80 mg 10 h before and 80 mg 10 h after share the window ending at +10 h: 260 > 200.
    assert params("over_24h_worst_window_spans_both_sides", "over_24h_max") == {
        "limit_mg": "200", "total_mg": "260"}
    assert only("over_24h_doses_either_side_never_share_a_window")["verdict"] == "ok"
    # 0.1 + 0.2 + 0.3 is exactly 0.6 (a float sum would be 0.6000000000000001).
    assert only("exact_hundredths_no_float_drift")["verdict"] == "ok"
    assert params("exact_hundredths_one_above", "over_24h_max") == {
        "limit_mg": "0.59", "total_mg": "0.6"}
    assert params("over_7d_one_hundredth_above", "over_7d_max")["total_mg"] == "600.01"


def test_hand_checked_blood_pressure_and_record_cases():
    assert only("bp_emergency_diastolic_at_120_supersedes_the_hold") == {
        "verdict": "emergency", "codes": ["bp_emergency"],
        "params": [{"systolic": 120, "diastolic": 120, "crisis_systolic": 180,
                    "crisis_diastolic": 120}],
        "recheck_at": None, "may_override": False}
    assert only("bp_hold_just_below_the_crisis")["codes"] == ["bp_hold"]
    lockout = params("recent_emergency_one_microsecond_before_the_lockout_ends",
                     "recent_emergency")
    assert lockout == {"at": "2026-02-28T12:00:00.000001+00:00",
                       "until": "2026-03-01T12:00:00.000001+00:00"}
    assert only("recent_emergency_lockout_ends_exactly")["verdict"] == "ok"
    assert only("recheck_wait_one_microsecond_short")["recheck_at"] == \
        "2026-03-01T12:00:00.000001+00:00"
    assert only("recheck_wait_exactly_five_minutes")["recheck_at"] is None


def test_hand_checked_checklist_override_and_combined_cases():
    assert params("checklist_items_in_canonical_order", "checklist_failed") == {
        "items": ["fasted", "no_driving", "safe_place"]}
    assert only("override_sitter_and_checklist")["may_override"] is True
    assert only("override_never_for_too_soon")["may_override"] is False
    assert only("every_hold_at_once")["codes"] == [
        "bp_hold", "pulse_hold", "safety_review", "screener_pending", "recent_emergency",
        "too_soon", "over_24h_max", "over_7d_max", "sitter_required", "checklist_failed"]
    assert only("every_hold_at_once")["verdict"] == "hold"
    assert only("everything_at_once_in_an_emergency")["codes"][0] == "bp_emergency"
    assert "bp_hold" not in only("everything_at_once_in_an_emergency")["codes"]


# --- the real snapshot is enough to reach the server's verdict offline ---------------------


def test_today_snapshot_carries_what_the_offline_gate_reads(db, client, patient):
    first = sync_post(client, sync_item("gate", gate_data(systolic=186, diastolic=100)))
    assert first.json()["results"][0]["verdict"] == "emergency"
    # Six minutes on (the reading moved back), past the recheck wait but inside the lockout.
    event = db.exec(select(SafetyEvent)).one()
    event.occurred_at -= timedelta(minutes=6)
    db.add(event)
    db.commit()

    body = client.get("/api/v1/today").json()
    assert set(body["protocol"]["rules"]) == set(gen.snapshot_rules())
    assert body["safety_state"] == {
        "review_pending": False, "last_emergency_at": event.occurred_at.isoformat(),
        "screener_pending": False, "screener_pending_since": None}

    answers = gate_data(systolic=128, diastolic=82)
    offline = gen.evaluate_case({
        "policy": body["protocol"]["rules"], "history": body["recent_doses"],
        "answers": answers, "now": body["now"], "proposed_mg": body["protocol"]["dose_mg"],
        "state": body["safety_state"]})
    server = sync_post(client, sync_item("gate", answers)).json()["results"][0]
    assert offline["verdict"] == server["verdict"] == "hold"
    assert offline["codes"] == [r["code"] for r in server["reasons"]] == ["recent_emergency"]
    assert [h["code"] for h in body["holds"]] == ["recent_emergency"]
    assert Decimal(body["protocol"]["dose_mg"]) > 0
