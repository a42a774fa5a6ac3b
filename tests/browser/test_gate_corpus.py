"""The offline gate (app/static/offline-gate.js) in Chromium against the shared corpus
(tests/doses/gate_corpus.json), whose expected results come from app/doses/rules.py: the phone
and the server must reach the same verdict, with the same codes and params, on every case."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page

from app.doses import rules
from tests.doses import make_gate_corpus as gen

pytestmark = pytest.mark.browser

CORPUS = json.loads(gen.CORPUS.read_text())
GATE_JS = "/static/offline-gate.js"

# Each case through the JavaScript, in the corpus's "expected" form (a throw becomes an error).
RUN_CASES = """
(cases) => cases.map((c) => {
  const G = window.TrocheGate;
  try {
    const r = G.evaluateGate(c.policy, c.history, c.answers, c.now, c.proposed_mg, c.state);
    return {
      verdict: r.verdict,
      codes: r.reasons.map((x) => x.code),
      params: r.reasons.map((x) => x.params),
      recheck_at: G.emergencyRecheckAt(c.state, c.now),
      may_override: G.mayOverrideBeforeDosing(c.policy, r.reasons),
    };
  } catch (e) {
    return {error: true, message: String(e)};
  }
})
"""


def load_gate(page: Page, path: str = "/offline") -> None:
    """A real page of the app (under its CSP), with the offline gate added as a script."""
    page.goto(path)
    page.add_script_tag(url=GATE_JS)
    assert page.evaluate("typeof window.TrocheGate.evaluateGate") == "function"


def run(page: Page, cases: list[dict]) -> list[dict]:
    return page.evaluate(RUN_CASES, cases)


def test_javascript_gate_agrees_with_python_on_every_corpus_case(page: Page):
    load_gate(page)
    cases = CORPUS["cases"]
    results = run(page, cases)

    wrong_verdict, wrong_details = [], []
    for case, got in zip(cases, results, strict=True):
        want = case["expected"]
        if got.get("error"):
            wrong_verdict.append(f"{case['name']}: threw {got['message']}")
        elif (got["verdict"], got["codes"]) != (want["verdict"], want["codes"]):
            wrong_verdict.append(f"{case['name']}: got {got['verdict']} {got['codes']}, "
                                 f"want {want['verdict']} {want['codes']}")
        elif got != want:
            fields = sorted(k for k in want if got.get(k) != want[k])
            wrong_details.append(f"{case['name']}: {fields}: got {got}, want {want}")
    assert not wrong_verdict, (f"{len(wrong_verdict)} of {len(cases)} cases disagree:\n"
                               + "\n".join(wrong_verdict))
    assert not wrong_details, "params, recheck or override disagree:\n" + "\n".join(wrong_details)


def test_javascript_gate_refuses_what_python_refuses(page: Page):
    load_gate(page)
    cases = CORPUS["invalid"]
    accepted = [c["name"] for c, got in zip(cases, run(page, cases), strict=True)
                if not got.get("error")]
    assert not accepted, f"the JavaScript accepted invalid input: {accepted}"


def test_next_allowed_at_and_total_mg_agree_with_python(page: Page):
    # A back-dated proposal between doses, with microsecond and mixed-offset times: too soon
    # on both sides (free at 21:15, which clashes with the 21:15 dose, so 03:30 next day) and
    # over the 24 h maximum in the window ending at 21:15: 75.5 + 100.1 + 80.25 + 33.33.
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    policy_json = gen.snapshot_rules(min_hours_between_doses="6.25", max_mg_per_24h="250.00")
    history_json = [
        {"taken_at": (at - timedelta(hours=5, microseconds=7)).isoformat(), "dose_mg": "75.50"},
        {"taken_at": (at + timedelta(hours=3)).astimezone(gen.MINUS7).isoformat(),
         "dose_mg": "80.25"},
        {"taken_at": (at + timedelta(hours=9, minutes=15)).astimezone(gen.PLUS2).isoformat(),
         "dose_mg": "33.33"},
    ]
    python = rules.dose_limit_reasons(gen.policy_from_json(policy_json),
                                      gen.history_from_json(history_json), at, Decimal("100.1"))
    load_gate(page)
    js = page.evaluate("([p, h, at, mg]) => window.TrocheGate.doseLimitReasons(p, h, at, mg)",
                       [policy_json, history_json, at.isoformat(), "100.1"])

    assert [r.code.value for r in python] == [r["code"] for r in js] == [
        "too_soon", "over_24h_max"]
    too_soon, over = python[0].params, python[1].params
    assert js[0]["params"]["next_allowed_at"] == too_soon["next_allowed_at"].isoformat()
    assert js[0]["params"]["next_allowed_at"] == "2026-03-02T03:30:00+00:00"
    assert js[0]["params"]["conflicting_at"] == [t.isoformat() for t in too_soon["conflicting_at"]]
    assert Decimal(js[1]["params"]["total_mg"]) == over["total_mg"] == Decimal("289.18")
    assert Decimal(js[1]["params"]["limit_mg"]) == over["limit_mg"]


def test_javascript_constants_are_the_python_ones(page: Page):
    load_gate(page)
    got = page.evaluate("""() => {
      const G = window.TrocheGate;
      return {checklist: G.CHECKLIST_ITEMS, crisis: [G.CRISIS_SYSTOLIC, G.CRISIS_DIASTOLIC],
              recheck: G.EMERGENCY_RECHECK_MINUTES, never: G.NEVER_OVERRIDABLE,
              choices: G.OVERRIDABLE_CHOICES, codes: G.REASON_CODES,
              fields: G.SNAPSHOT_FIELDS, state: G.STATE_FIELDS};
    }""")
    assert got["checklist"] == list(rules.CHECKLIST_ITEMS)
    assert got["crisis"] == [rules.CRISIS_SYSTOLIC, rules.CRISIS_DIASTOLIC]
    assert got["recheck"] * 60 == rules.EMERGENCY_RECHECK_WAIT.total_seconds()
    assert set(got["never"]) == {c.value for c in rules.NEVER_OVERRIDABLE}
    assert got["choices"] == list(rules.OVERRIDABLE_CHOICES)
    assert set(got["codes"]) == {c.value for c in rules.ReasonCode}
    # Everything the JavaScript reads is in the /api/v1/today snapshot (whose keys
    # tests/doses/test_gate_corpus.py checks against the real endpoint).
    assert set(got["fields"]) <= set(gen.snapshot_rules())
    assert got["state"] == ["review_pending", "last_emergency_at", "screener_pending",
                            "screener_pending_since"]


def test_offline_gate_runs_on_the_real_today_snapshot(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")
    page.wait_for_url("**/today")
    page.add_script_tag(url=GATE_JS)
    answers = {"systolic": 150, "diastolic": 85, "heart_rate": 72,
               "checklist": dict(gen.ALL_YES)}
    body, got = page.evaluate("""async (answers) => {
      const body = await (await fetch('/api/v1/today')).json();
      const G = window.TrocheGate;
      const input = G.fromToday(body);
      const r = G.evaluateGate(input.snapshot, input.history, answers, body.now,
                               body.protocol.dose_mg, input.state);
      return [body, {verdict: r.verdict, codes: r.reasons.map((x) => x.code),
                     params: r.reasons.map((x) => x.params),
                     recheck_at: G.emergencyRecheckAt(input.state, body.now),
                     may_override: G.mayOverrideBeforeDosing(input.snapshot, r.reasons)}];
    }""", answers)
    assert body["recent_doses"], "the demo patient should have doses to weigh"
    want = gen.evaluate_case({
        "policy": body["protocol"]["rules"], "history": body["recent_doses"],
        "answers": answers, "now": body["now"], "proposed_mg": body["protocol"]["dose_mg"],
        "state": body["safety_state"]})
    assert got == want


def test_a_screener_on_the_phone_lifts_only_a_hold_from_an_answer_before_it(page: Page):
    """The server lifts the screener hold with a screener answered at or after the latest
    item 9 answer. The phone folds its own PHQ-9s and screeners into the snapshot's state the
    same way, and never lifts a hold whose answer's time it does not know."""
    load_gate(page)
    got = page.evaluate("""() => {
      const G = window.TrocheGate;
      const held = {review_pending: false, last_emergency_at: null, screener_pending: true,
                    screener_pending_since: "2026-03-01T10:00:00+00:00"};
      const pending = (s) => s.screener_pending;
      return {
        // A screener queued before an answer given on another device: still held.
        before: pending(G.noteScreener(held, false, "2026-03-01T09:59:59+00:00")),
        at: pending(G.noteScreener(held, false, "2026-03-01T10:00:00+00:00")),
        after: pending(G.noteScreener(held, false, "2026-03-01T10:05:00+00:00")),
        // No time for the answer: the careful side.
        unknown: pending(G.noteScreener({...held, screener_pending_since: null}, false,
                                        "2026-03-01T11:00:00+00:00")),
        // The phone's own answer, then an older screener, then a newer one.
        own: [G.noteScreener(held, true, "2026-03-01T12:00:00+00:00")].map((s) => [
          pending(G.noteScreener(s, false, "2026-03-01T11:00:00+00:00")),
          pending(G.noteScreener(s, false, "2026-03-01T12:01:00+00:00"))])[0],
        reasons: G.safetyHoldReasons({min_hours_between_doses: "48", max_mg_per_24h: "200",
          max_mg_per_7d: "450", bp_hold_systolic: 160, bp_hold_diastolic: 100,
          emergency_lockout_hours: 24, sitter_required: false, required_checklist: [],
          overridable_holds: []}, held, "2026-03-01T10:30:00+00:00").map((r) => r.code),
      };
    }""")
    assert got == {"before": True, "at": False, "after": False, "unknown": True,
                   "own": [True, False], "reasons": ["screener_pending"]}
