"""The gate and the dose log through the API (/api/v1/sync, /api/v1/doses, /api/v1/today) and
the patient's forms (/today/gate, /today/dose, /doses/<id>/entered-in-error), on the real clock.
"""

import html
import json
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.careteam import access
from app.careteam.models import Relation
from app.checkins.models import SafetyEvent
from app.db import utcnow
from app.doses import service
from app.doses.models import Dose, DoseRevision, DoseStatus, GateCheck
from app.sync.models import ClientWrite
from app.web.formats import format_datetime
from tests import factories
from tests.factories import gate_data, sync_item, sync_post
from tests.helpers import follow, names_error
from tests.web.page_checks import page_problems

CRISIS_GUIDANCE = "Do not take your dose"


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def nothing_written(db) -> bool:
    return count(db, Dose) == 0 and count(db, GateCheck) == 0 and count(db, ClientWrite) == 0


def prescriber_of(db, patient):
    return access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]


def new_protocol(db, patient, **overrides):
    """Replace the patient's protocol (a new version) with these overrides."""
    factories.protocol(db, prescriber_of(db, patient), patient,
                       **factories.session_now_protocol(patient, **overrides))
    db.commit()


def past_dose(db, patient, ago: timedelta, mg="100"):
    """A dose already in the log (no gate), written through the service."""
    now = utcnow()
    row = service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
                              data={"taken_at": (now - ago).isoformat(), "dose_mg": mg,
                                    "route": "sublingual",
                                    "no_gate_reason": "Logged later.",
                                    "override_reason": "history",
                                    "already_taken": True},
                              now=now)
    db.commit()
    return row


def gate(client, **data):
    response = sync_post(client, sync_item("gate", gate_data(**data)))
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def dose_item(**data):
    body = {"taken_at": utcnow().isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Logged later.", **data}
    return sync_item("dose", {k: v for k, v in body.items() if v is not None})


def send_dose(client, **data):
    response = sync_post(client, dose_item(**data))
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def local_input(patient, when: datetime) -> str:
    return when.astimezone(ZoneInfo(patient.timezone)).strftime("%Y-%m-%dT%H:%M")


# --- the gate ---------------------------------------------------------------------------------


def test_gate_ok(db, client, patient):
    result = gate(client)
    assert result["status"] == "created"
    assert result["verdict"] == "ok" and result["reasons"] == []
    row = db.get(GateCheck, uuid.UUID(result["id"]))
    assert (row.systolic, row.diastolic, row.heart_rate) == (124, 80, 72)
    assert row.proposed_mg == Decimal(100)

    page = client.get("/today").text
    assert "Safety check passed" in page
    assert f'name="gate_id" value="{result["id"]}"' in page


def said(result: dict) -> list[dict]:
    """A sync result's reasons as the patient reads them: code and words."""
    return [{"code": r["code"], "message": r["message"]} for r in result["reasons"]]


@pytest.mark.parametrize(
    ("answers", "code", "message"),
    [
        ({"systolic": 165, "diastolic": 90}, "bp_hold",
         "Blood pressure 165/90 is at or above your hold limit of 160/100."),
        ({"systolic": 140, "diastolic": 100}, "bp_hold",
         "Blood pressure 140/100 is at or above your hold limit of 160/100."),
        ({"checklist": {**factories.CHECKLIST_ALL_YES, "sitter_present": False}},
         "sitter_required", "Your sitter must be with you for this session."),
        ({"checklist": {**factories.CHECKLIST_ALL_YES, "fasted": False, "no_driving": False}},
         "checklist_failed",
         "You have not confirmed that you have gone without food for as long as your plan "
         "asks. Wait until you have, then check again. You have not confirmed that you will "
         "not drive or use machinery until tomorrow. Make plans so you do not have to, then "
         "check again."),
        ({"checklist": {"sitter_present": True, "fasted": True, "no_sedatives": True,
                        "safe_place": True}},  # an answer left out is not a yes
         "checklist_failed",
         "You have not confirmed that you will not drive or use machinery until tomorrow. "
         "Make plans so you do not have to, then check again."),
    ],
)
def test_gate_hold_for_readings_and_answers(db, client, patient, answers, code, message):
    result = gate(client, **answers)
    assert result["status"] == "created"
    assert result["verdict"] == "hold"
    assert said(result) == [{"code": code, "message": message}]


def test_gate_hold_too_soon_after_a_recent_dose(db, client, patient):
    past_dose(db, patient, timedelta(hours=3))
    result = gate(client)
    assert result["verdict"] == "hold"
    assert [r["code"] for r in result["reasons"]] == ["too_soon"]
    message = result["reasons"][0]["message"]
    assert message.startswith("Too soon: doses must be at least 48 hours apart. Next allowed: ")
    # The next allowed time is shown in the patient's own clock.
    nxt = (utcnow() + timedelta(hours=45)).astimezone(ZoneInfo(patient.timezone))
    assert format_datetime(nxt, "weekday_date") in message


def test_gate_hold_over_the_24h_maximum(db, client, patient):
    new_protocol(db, patient, min_hours_between_doses="0.5", max_mg_per_24h="150",
                 max_mg_per_7d="1000")
    past_dose(db, patient, timedelta(hours=3))
    result = gate(client)
    assert said(result) == [{
        "code": "over_24h_max",
        "message": "Over the 24-hour maximum of 150 mg (this would make 200 mg).",
    }]
    # The answer carries the numbers too, so a client can word it in its own language.
    assert result["reasons"][0]["params"] == {"limit_mg": "150.00", "total_mg": "200.00"}


def test_gate_hold_over_the_7_day_maximum(db, client, patient):
    new_protocol(db, patient, min_hours_between_doses="0.5", max_mg_per_24h="100",
                 max_mg_per_7d="250")
    past_dose(db, patient, timedelta(days=2))
    past_dose(db, patient, timedelta(days=4))
    result = gate(client)
    assert said(result) == [{
        "code": "over_7d_max",
        "message": "Over the 7-day maximum of 250 mg (this would make 300 mg).",
    }]


def test_gate_hold_lists_every_reason(db, client, patient):
    new_protocol(db, patient, max_mg_per_24h="100", max_mg_per_7d="200")
    past_dose(db, patient, timedelta(days=3))
    past_dose(db, patient, timedelta(hours=3))
    result = gate(client, systolic=170, diastolic=95, checklist={"fasted": True})
    assert result["verdict"] == "hold"
    assert [r["code"] for r in result["reasons"]] == [
        "bp_hold", "too_soon", "over_24h_max", "over_7d_max", "sitter_required",
        "checklist_failed"]
    assert all(r["message"] and r["message"] != r["code"] for r in result["reasons"])

    page = client.get("/today").text
    assert "Hold: it is not safe to dose right now" in page
    for reason in result["reasons"]:
        assert reason["message"].replace("'", "&#39;") in page
    # Too soon and over the maxima can never be overridden before dosing: only a record.
    assert "Take it anyway" not in page
    assert "I have already taken a dose: record it" in page


@pytest.mark.parametrize(("systolic", "diastolic"), [(180, 90), (150, 120), (210, 130)])
def test_gate_emergency_shows_guidance_and_no_way_to_dose(db, client, patient, systolic,
                                                          diastolic):
    result = gate(client, systolic=systolic, diastolic=diastolic,
                  checklist={"sitter_present": False})
    assert result["verdict"] == "emergency"
    # The emergency comes first; the hold limit is not repeated, the other reasons still are.
    assert [r["code"] for r in result["reasons"]] == ["bp_emergency", "sitter_required",
                                                      "checklist_failed"]
    assert result["reasons"][0]["message"] == (
        f"Blood pressure {systolic}/{diastolic} is at a dangerous level (180/120 or above).")

    page = client.get("/today").text
    assert CRISIS_GUIDANCE in page
    assert "call 911 now" in page and 'href="tel:911"' in page
    assert_only_a_record_of_a_dose_taken(page)
    assert 'action="/today/gate"' in page  # measuring again is the only way on


def test_gate_just_below_the_crisis_threshold_is_a_hold(db, client, patient):
    result = gate(client, systolic=179, diastolic=119)
    assert result["verdict"] == "hold"
    assert [r["code"] for r in result["reasons"]] == ["bp_hold"]


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"systolic": 49}, "systolic", "Enter 50 or more."),
        ({"systolic": 301}, "systolic", "Enter 300 or less."),
        ({"diastolic": 29}, "diastolic", "Enter 30 or more."),
        ({"diastolic": 201, "systolic": 250}, "diastolic", "Enter 200 or less."),
        ({"systolic": 120, "diastolic": 120}, "diastolic",
         "The lower number (diastolic) must be below the upper (systolic)."),
        ({"systolic": 110, "diastolic": 130}, "diastolic",
         "The lower number (diastolic) must be below the upper (systolic)."),
        ({"heart_rate": 0}, "heart_rate", "Enter 20 or more."),
        ({"systolic": "high"}, "systolic", "Enter a whole number."),
        ({"systolic": None}, "systolic", None),
        ({"weight_kg": 80}, "weight_kg", "This field is not recognised."),
        ({"checklist": {"meditated": True}}, "checklist_meditated",
         "This field is not recognised."),
    ],
)
def test_gate_bad_input_is_rejected_and_writes_nothing(db, client, patient, answers, field,
                                                       message):
    data = gate_data(**answers)
    if answers.get("systolic", 0) is None:
        del data["systolic"]
    response = sync_post(client, sync_item("gate", data))
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "rejected"
    assert field in result["errors"]
    if message:
        assert result["errors"][field] == message
        assert message in result["detail"]
    assert nothing_written(db)


def test_gate_with_a_clock_far_off_is_rejected(db, client, patient):
    response = sync_post(client, sync_item("gate", gate_data(),
                                           recorded_at=utcnow() + timedelta(minutes=11)))
    result = response.json()["results"][0]
    assert result["status"] == "rejected" and result["detail"] == "That time is in the future."
    assert nothing_written(db)


# --- the gate through the form ----------------------------------------------------------------


GATE_FORM_OK = factories.GATE_FORM_OK


def test_gate_form_ok_then_log_the_dose(db, auth, client, patient):
    page = client.get("/today")
    assert "Before you dose: safety check" in page.text
    gate_id = str(uuid.uuid4())
    response = auth.post("/today/gate", {**GATE_FORM_OK, "gate_client_id": gate_id})
    assert response.status_code == 303
    assert response.headers["location"] == "/today#gate-result"
    assert db.get(GateCheck, uuid.UUID(gate_id)).verdict == "ok"
    again = auth.post("/today/gate", {**GATE_FORM_OK, "gate_client_id": gate_id})
    assert again.status_code == 303 and count(db, GateCheck) == 1

    page = client.get("/today").text
    assert "Safety check passed" in page
    dose_id = re.search(r'name="dose_client_id" value="([^"]+)"', page).group(1)
    assert f'name="gate_id" value="{gate_id}"' in page
    assert 'name="dose_mg" type="number"' in page and 'value="100"' in page

    logged_at = local_input(patient, utcnow())
    response = auth.post("/today/dose", {
        "dose_client_id": dose_id, "gate_id": gate_id, "dose_mg": "100",
        "taken_at": logged_at, "route": "sublingual", "no_gate_reason": "Logged later.",
        "hold_minutes": "15", "swallowed": "spat", "lot": "K-22",
    })
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/today?logged=1"
    assert "Dose logged." in client.get("/today?logged=1").text

    doses = client.get("/api/v1/doses").json()["doses"]
    assert len(doses) == 1
    logged = doses[0]
    assert logged["id"] == dose_id and logged["gate_id"] == gate_id
    assert Decimal(logged["dose_mg"]) == 100
    assert logged["flags"] == [] and logged["lot"] == "K-22"
    assert logged["status"] == "recorded" and logged["revision"] == 1
    row = db.get(Dose, uuid.UUID(dose_id))
    assert row.swallowed is False and row.hold_minutes == 15
    # Posting the same form again (a double tap) logs it once and lands in the same place.
    again = auth.post("/today/dose", {
        "dose_client_id": dose_id, "gate_id": gate_id, "dose_mg": "100",
        "taken_at": logged_at, "route": "sublingual", "no_gate_reason": "Logged later.",
        "hold_minutes": "15", "swallowed": "spat", "lot": "K-22",
    })
    assert again.status_code == 303, again.text
    assert again.headers["location"] == "/today?logged=1"
    assert count(db, Dose) == 1


def assert_only_a_record_of_a_dose_taken(page: str) -> None:
    """No way to "take it anyway": the one dose form records a dose already taken."""
    assert "anyway" not in page.lower()
    assert page.count('action="/today/dose"') == 1
    assert page.count('name="already_taken" value="yes"') == 1
    assert "This records what happened; it is not permission to dose." in page


def test_gate_form_hold_shows_every_reason_and_no_override_unless_allowed(db, auth, client,
                                                                          patient):
    form = {**GATE_FORM_OK, "systolic": "165", "sitter_present": "",
            "gate_client_id": str(uuid.uuid4())}
    page = follow(client, auth.post("/today/gate", form)).text
    assert "Hold: it is not safe to dose right now" in page
    assert "Blood pressure 165/80 is at or above your hold limit of 160/100." in page
    assert "Your sitter must be with you for this session." in page
    assert_only_a_record_of_a_dose_taken(page)


def test_gate_form_hold_offers_take_it_anyway_when_the_prescriber_allows_it(db, auth, client,
                                                                            patient):
    new_protocol(db, patient, overridable_holds=["bp_hold", "sitter_required"])
    form = {**GATE_FORM_OK, "systolic": "165", "sitter_present": "",
            "gate_client_id": str(uuid.uuid4())}
    page = follow(client, auth.post("/today/gate", form)).text
    assert "Reason to take it anyway" in page and "Take anyway and log it" in page
    # One hold the prescriber did not allow (the checklist) and it is a record only again.
    new_protocol(db, patient, overridable_holds=["bp_hold"])
    form["gate_client_id"] = str(uuid.uuid4())
    page = follow(client, auth.post("/today/gate", form)).text
    assert_only_a_record_of_a_dose_taken(page)


def test_gate_form_emergency(db, auth, client, patient):
    form = {**GATE_FORM_OK, "systolic": "185", "diastolic": "110",
            "gate_client_id": str(uuid.uuid4())}
    page = follow(client, auth.post("/today/gate", form)).text
    assert CRISIS_GUIDANCE in page
    assert "Your blood pressure is 185/110. That is dangerously high." in page
    assert_only_a_record_of_a_dose_taken(page)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"systolic": ""}, "systolic", "This is required."),
        ({"systolic": "350"}, "systolic", "Enter 300 or less."),
        ({"diastolic": "abc"}, "diastolic", "Enter a whole number."),
        ({"diastolic": "20"}, "diastolic", "Enter 30 or more."),
        # Beside the lower number, which is marked (it was above the form, on neither field).
        ({"systolic": "90", "diastolic": "95"}, "diastolic",
         "The lower number (diastolic) must be below the upper (systolic)."),
    ],
)
def test_gate_form_bad_input_is_shown_again(db, auth, patient, changes, field, message):
    form = {**GATE_FORM_OK, **changes, "gate_client_id": str(uuid.uuid4())}
    response = auth.post("/today/gate", form)
    assert response.status_code == 422
    html = response.text
    if field:
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in html
        assert names_error(html, f"{field}-error")
    else:
        assert message in html
    # The readings typed are kept, and the ticks too.
    assert f'value="{form["heart_rate"]}"' in html
    assert 'name="fasted" value="yes" checked' in html
    assert nothing_written(db)


def test_gate_form_bad_input_after_a_hold_is_shown(db, auth, client, patient):
    gate(client, systolic=165)  # a hold: the gate form sits under "Check again"
    form = {**GATE_FORM_OK, "systolic": "90", "diastolic": "95",
            "gate_client_id": str(uuid.uuid4())}
    response = auth.post("/today/gate", form)
    assert response.status_code == 422
    assert "The lower number (diastolic) must be below the upper (systolic)." in response.text
    assert count(db, GateCheck) == 1


# --- doses ------------------------------------------------------------------------------------


def test_dose_after_an_ok_gate_through_the_api(db, client, patient):
    gate_id = gate(client)["id"]
    result = send_dose(client, gate_id=gate_id, lot="K-1", hold_minutes=20, swallowed=True)
    assert result["status"] == "created"
    assert result["flags"] == [] and Decimal(result["troches"]) == 1
    row = db.get(Dose, uuid.UUID(result["id"]))
    assert row.lot == "K-1" and row.hold_minutes == 20 and row.swallowed is True


def _rule_breaking_history(db, patient):
    new_protocol(db, patient, max_mg_per_24h="100", max_mg_per_7d="200")
    past_dose(db, patient, timedelta(days=3))
    past_dose(db, patient, timedelta(hours=3))


def test_dose_breaking_the_rules_without_a_reason_is_rejected(db, client, patient):
    _rule_breaking_history(db, patient)
    before = count(db, Dose)
    result = send_dose(client)
    assert result["status"] == "rejected"
    assert [r["code"] for r in result["reasons"]] == ["too_soon", "over_24h_max", "over_7d_max"]
    assert all(r["message"] for r in result["reasons"])
    assert "Too soon" in result["detail"]
    assert count(db, Dose) == before and count(db, ClientWrite) == 0


def test_dose_breaking_the_rules_with_a_reason_is_flagged_to_the_prescriber(db, auth, client,
                                                                           patient):
    _rule_breaking_history(db, patient)
    refused = send_dose(client, override_reason="Prescriber said by phone to take it.")
    assert refused["status"] == "rejected" and refused["overridable"] is False
    result = send_dose(client, override_reason="  Prescriber said by phone to take it.  ",
                       already_taken=True)
    assert result["status"] == "created"
    assert result["flags"] == ["no_gate", "override", "too_soon", "over_24h_max",
                               "over_7d_max", "against_hold"]
    row = db.get(Dose, uuid.UUID(result["id"]))
    assert row.override_reason == "Prescriber said by phone to take it."

    auth.logout()
    assert auth.login(prescriber_of(db, patient).email).status_code == 303
    page = client.get(f"/patients/{patient.id}").text
    flags = page[page.index('id="flags-heading"'):]
    assert "Too soon" in flags and "Over 24-hour maximum" in flags
    # Against a hold that may not be overridden: said first, and never as an "Override".
    badges = re.findall(r'<span class="badge flag">([^<]+)</span>', flags)
    assert badges[:2] == ["Taken against a hold", "No safety check"], badges
    assert "Override" not in badges
    assert ("Logged after it was taken. What happened: Prescriber said by phone to take it."
            in flags)


def test_dose_after_a_hold_gate_needs_the_reason_too(db, client, patient):
    new_protocol(db, patient, overridable_holds=["bp_hold"])
    gate_id = gate(client, systolic=165)["id"]
    refused = send_dose(client, gate_id=gate_id)
    assert refused["status"] == "rejected" and refused["overridable"] is True
    assert [r["code"] for r in refused["reasons"]] == ["bp_hold"]
    created = send_dose(client, gate_id=gate_id, override_reason="Rechecked: 150/85.")
    assert created["status"] == "created"
    assert created["flags"] == ["override", "bp_hold"]


def test_dose_form_refused_then_taken_anyway(db, auth, client, patient):
    _rule_breaking_history(db, patient)
    form = {"dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Logged later.",
            "taken_at": local_input(patient, utcnow())}
    response = auth.post("/today/dose", form)
    assert response.status_code == 422
    html = response.text
    assert "This dose breaks your plan&#39;s safety rules:" in html or \
        "This dose breaks your plan's safety rules:" in html
    assert "Too soon: doses must be at least 48 hours apart." in html
    assert "Take anyway" not in html and "Record the dose I took" in html
    assert 'id="override_reason-error"' in html
    assert count(db, Dose) == 2

    # Taking it anyway is not on offer; a reason alone is refused again...
    response = auth.post("/today/dose", {**form, "override_reason": "Severe symptoms today."})
    assert response.status_code == 422
    assert count(db, Dose) == 2
    # Recording it as taken with the box left empty: the message says the box is what is
    # missing, beside it (it said only that a dose already taken can be recorded).
    response = auth.post("/today/dose", {**form, "already_taken": "yes"})
    assert response.status_code == 422
    assert ('<p class="field-error" id="override_reason-error">Write what happened, and why: '
            "it is recorded with the dose.</p>") in response.text
    assert count(db, Dose) == 2
    # ...but a dose already taken is recorded, flagged, and the prescriber is told.
    response = auth.post("/today/dose", {**form, "override_reason": "Took it at 9, sorry.",
                                         "already_taken": "yes"})
    assert response.status_code == 303
    assert count(db, Dose) == 3
    events = db.exec(select(SafetyEvent).where(SafetyEvent.kind == "dose_against_hold")).all()
    assert [e.details["codes"] for e in events] == [["too_soon", "over_24h_max", "over_7d_max"]]


def test_a_dose_against_a_hold_is_judged_by_its_own_amount_not_the_checks(db, client, patient):
    """The check was held for the prescribed 150 mg after 100 mg taken (250 over 200 in a day);
    the patient then recorded 50 mg as already taken. The dose carried the check's "over the
    24-hour maximum", which 150 mg in the day does not break: the record said it did."""
    new_protocol(db, patient, dose_mg="150", strength_mg="50", max_mg_per_24h="200",
                 max_mg_per_7d="1000", min_hours_between_doses="1")
    past_dose(db, patient, timedelta(hours=2))
    held = gate(client, checklist={**factories.CHECKLIST_ALL_YES, "sitter_present": False})
    assert {r["code"] for r in held["reasons"]} == {"over_24h_max", "sitter_required"}
    recorded = send_dose(client, gate_id=held["id"], dose_mg="50", already_taken=True,
                         override_reason="Took a half dose while my sitter was late.")
    assert recorded["status"] == "created", recorded
    assert "over_24h_max" not in recorded["flags"]
    assert "sitter_required" in recorded["flags"] and "against_hold" in recorded["flags"]
    event = db.exec(select(SafetyEvent).where(SafetyEvent.kind == "dose_against_hold")).one()
    assert event.details["codes"] == ["sitter_required"]


def test_a_check_made_before_the_plan_changed_does_not_clear_a_dose_after(db, client, patient):
    """The check passed at 120/80; the prescriber then lowered the blood-pressure hold to
    115/75 and the dose form already on the screen was sent: the dose was logged as checked,
    its reading never judged by the plan it was taken under."""
    checked = gate(client, systolic=120, diastolic=80)
    assert checked["verdict"] == "ok"
    new_protocol(db, patient, bp_hold_systolic=115, bp_hold_diastolic=75)
    refused = send_dose(client, gate_id=checked["id"])
    assert refused["status"] == "rejected"
    assert refused["errors"] == {"gate_id": "Your plan changed after this safety check. "
                                            "Check again."}
    assert count(db, Dose) == 0
    # Today no longer offers the check as passed: it asks for a new one.
    assert "You can take your dose now" not in html.unescape(client.get("/today").text)
    # Checked again under the new plan, the same reading holds.
    assert gate(client, systolic=120, diastolic=80)["verdict"] == "hold"


def test_a_dose_taken_before_the_plan_changed_keeps_its_check(db, client, patient):
    """Taken offline after a check that passed, sent after the prescriber saved a new plan: the
    plan changed after the dose, so the check the dose was taken on stands."""
    checked = gate(client)
    taken = utcnow()
    factories.protocol(db, prescriber_of(db, patient), patient, now=utcnow() + timedelta(minutes=3),
                       **factories.session_now_protocol(patient, bp_hold_systolic=115))
    db.commit()
    recorded = send_dose(client, gate_id=checked["id"], taken_at=taken.isoformat())
    assert recorded["status"] == "created", recorded


def test_after_the_dose_today_says_until_when_to_stay_seated_by_the_plan(db, client, patient):
    """"For the next two hours" was wrong for a plan whose observation time is 180 minutes."""
    new_protocol(db, patient, observation_minutes=180)
    result = send_dose(client, gate_id=gate(client)["id"])
    assert result["status"] == "created", result
    taken = db.get(Dose, uuid.UUID(result["id"])).taken_at
    until = format_datetime((taken + timedelta(minutes=180)).astimezone(
        ZoneInfo(patient.timezone)), "time")
    page = html.unescape(client.get("/today?logged=1").text)
    assert f"Dose logged. Stay seated and keep your sitter close until {until}." in page


def test_dose_referencing_an_emergency_gate_is_refused(db, client, patient):
    gate_id = gate(client, systolic=185)["id"]
    for reason in (None, "I feel fine."):
        result = send_dose(client, gate_id=gate_id, override_reason=reason)
        assert result["status"] == "rejected" and result["overridable"] is False
        assert "dangerous level" in result["detail"]
    assert count(db, Dose) == 0


def test_a_newer_check_that_held_holds_a_dose_naming_an_older_check_that_passed(
        db, client, patient):
    """A tester passed at 159/99, was held at 170/95 a minute later, and logged the dose from
    the first page's form: it was recorded clean. The latest reading decides: the dose is
    refused with the newer check's reason, and recorded only with a reason, flagged."""
    passed = gate(client, systolic=159, diastolic=99)
    assert passed["verdict"] == "ok"
    assert gate(client, systolic=170, diastolic=95)["verdict"] == "hold"
    refused = send_dose(client, gate_id=passed["id"])
    assert refused["status"] == "rejected"
    assert "Blood pressure 170/95 is at or above your hold limit" in refused["detail"]
    # Logged without naming any check, the newer one still stands beside it.
    assert send_dose(client, gate_id=None)["status"] == "rejected"
    assert count(db, Dose) == 0
    taken = send_dose(client, gate_id=passed["id"], override_reason="I took it anyway.",
                      already_taken=True)
    assert taken["status"] == "created", taken
    assert {"override", "bp_hold"} <= set(taken["flags"])


def test_a_newer_hold_holds_an_old_tabs_dose_whose_time_was_filled_in_before_it(
        db, client, patient):
    """A retester's old tab said "Taken at 15:31" (filled in when the page was drawn); a check
    at 15:32 held in another tab; "Log dose" in the old tab at 15:32 was recorded clean: the
    hold came more than a minute after the time the form said. A dose logged now is judged
    by the checks made before it was written down, unless the patient says it was taken
    earlier ("I have already taken a dose")."""
    drawn = utcnow() - timedelta(minutes=3)
    first = sync_post(client, sync_item("gate", gate_data(), recorded_at=drawn))
    passed = first.json()["results"][0]["id"]
    assert gate(client, systolic=170, diastolic=95)["verdict"] == "hold"
    refused = send_dose(client, gate_id=passed, taken_at=drawn.isoformat())
    assert refused["status"] == "rejected", refused
    assert "Blood pressure 170/95" in refused["detail"]
    # Taken at that time, and recorded as such: the later check does not count against it.
    earlier = send_dose(client, gate_id=passed, taken_at=drawn.isoformat(), already_taken=True,
                        override_reason="Took it before the second reading.")
    assert earlier["status"] == "created" and "bp_hold" not in earlier["flags"], earlier


def test_a_check_after_the_dose_does_not_hold_it(db, client, patient):
    """A dose taken before a check that held (logged later as taken then, naming the check
    before it) is judged by what came before it: the session's later reading does not make it
    a hold."""
    before = utcnow() - timedelta(minutes=20)
    passed = sync_post(client, sync_item("gate", gate_data(), recorded_at=before))
    passed_id = passed.json()["results"][0]["id"]
    assert gate(client, systolic=170, diastolic=95)["verdict"] == "hold"
    taken = send_dose(client, gate_id=passed_id,
                      taken_at=(before + timedelta(minutes=2)).isoformat(), already_taken=True)
    assert taken["status"] == "created" and "bp_hold" not in taken["flags"], taken


def test_a_dose_logged_without_a_gate_right_after_an_emergency_is_refused(db, client, patient):
    gate(client, systolic=185)
    result = send_dose(client, override_reason="I feel fine.")
    assert result["status"] == "rejected"
    assert count(db, Dose) == 0


def test_extra_dose_outside_any_session_is_flagged(db, client, patient):
    new_protocol(db, patient, **factories.session_now_protocol(patient, hours_from_now=8))
    gate_id = gate(client)["id"]
    result = send_dose(client, gate_id=gate_id)
    assert result["status"] == "created"
    assert result["flags"] == ["extra"]


def test_an_extra_dose_says_which_session_it_pushes_back_before_it_is_logged(db, client,
                                                                            patient):
    new_protocol(db, patient, **factories.session_now_protocol(patient, hours_from_now=8))
    page = html.unescape(client.get("/today").text)
    session_at = (utcnow() + timedelta(hours=8)).astimezone(ZoneInfo(patient.timezone))
    notice = ("No session is scheduled now, so this would be an extra dose. It would push back "
              f"your session on {format_datetime(session_at, 'long_datetime').rsplit(',', 1)[0]}")
    assert notice in page and "doses must be at least 48 hours apart" in page
    gate(client)
    ok_screen = html.unescape(client.get("/today").text)
    assert notice in ok_screen  # and on the OK screen, first, with no "take your dose now"
    assert "You can take your dose now" not in ok_screen
    assert ok_screen.index(notice) < ok_screen.index("within your plan's limits")
    # At session time there is nothing to push back.
    new_protocol(db, patient)
    assert "extra dose" not in client.get("/today").text


def test_the_notice_after_a_dose_says_a_dose_now_would_be_held(db, client, patient):
    """A dose 30 minutes before the session takes it; the notice on the next check named that
    session as the one a further dose would push back."""
    new_protocol(db, patient, **factories.session_now_protocol(patient, hours_from_now=0.5))
    assert send_dose(client, gate_id=gate(client)["id"])["status"] == "created"
    zone = ZoneInfo(patient.timezone)
    today_at = (utcnow() + timedelta(minutes=30)).astimezone(zone)
    tomorrow_at = today_at + timedelta(days=1)

    def named(at) -> str:
        return f"push back your session on {format_datetime(at, 'long_datetime').rsplit(',', 1)[0]}"

    page = html.unescape(client.get("/today").text)
    assert named(today_at) not in page
    # Nor does it speak of pushing tomorrow's back as if a dose now could be taken: a dose now
    # is too soon, and Today says that instead (a journey tester read the check offered, under
    # "this would be an extra dose", straight after the dose).
    assert "this would be an extra dose" not in page and named(tomorrow_at) not in page
    held = page[page.index("A dose now would be held:"):].split("</div>")[0]
    assert "Too soon: doses must be at least 48 hours apart." in held
    # Tomorrow's session is within the 48 hours too: its card says the check will hold it.
    assert ("This session is less than 48 hours after your last dose, so its safety check "
            "will hold it as too soon.") in page


def test_a_safety_check_is_valid_for_the_prescribers_window(db, client, patient):
    new_protocol(db, patient, gate_valid_minutes=10)
    old = sync_post(client, sync_item("gate", gate_data(),
                                      recorded_at=utcnow() - timedelta(minutes=11)))
    old_id = old.json()["results"][0]["id"]
    refused = send_dose(client, gate_id=old_id)
    assert refused["status"] == "rejected"
    assert refused["errors"]["gate_id"] == (
        "That safety check is too old for this dose. Check again.")
    fresh = gate(client)["id"]
    assert send_dose(client, gate_id=fresh)["status"] == "created"


def test_pulse_limits_hold_the_gate_like_blood_pressure(db, client, patient):
    new_protocol(db, patient, pulse_hold_low=50, pulse_hold_high=110)
    held = gate(client, heart_rate=118)
    assert held["verdict"] == "hold"
    assert said(held) == [{"code": "pulse_hold",
                           "message": "Pulse 118 is outside your limits of 50 to 110."}]
    assert gate(client, heart_rate=110)["verdict"] == "ok"


def test_late_entry_is_flagged(db, client, patient):
    taken = utcnow() - timedelta(minutes=90)
    result = send_dose(client, taken_at=taken.isoformat())
    assert result["status"] == "created"
    assert "late_entry" in result["flags"]
    row = db.get(Dose, uuid.UUID(result["id"]))
    assert row.taken_at == taken
    assert row.recorded_at - row.taken_at > timedelta(hours=1)


def test_late_entry_through_the_form(db, auth, client, patient):
    page = client.get("/today").text
    assert "Log a dose you took earlier" in page
    form = {"dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "buccal",
            "taken_at": local_input(patient, utcnow() - timedelta(hours=2))}
    refused = auth.post("/today/dose", form)
    assert refused.status_code == 422
    assert "Say why there was no safety check before this dose." in refused.text
    assert count(db, Dose) == 0
    response = auth.post("/today/dose", {**form, "no_gate_reason": "Forgot the cuff."})
    assert response.status_code == 303, response.text
    (logged,) = client.get("/api/v1/doses").json()["doses"]
    assert "late_entry" in logged["flags"] and "no_gate" in logged["flags"]
    assert logged["route"] == "buccal"


def test_half_troche_refused_when_halving_is_not_allowed(db, client, patient):
    new_protocol(db, patient, halving_allowed=False)
    result = send_dose(client, dose_mg="50")
    assert result["status"] == "rejected"
    assert result["errors"] == {"dose_mg": "Use whole troches of 100 mg: halving is not allowed."}
    assert nothing_written(db)


def test_half_troche_accepted_when_halving_is_allowed(db, client, patient):
    result = send_dose(client, dose_mg="50")
    assert result["status"] == "created" and Decimal(result["troches"]) == Decimal("0.5")


@pytest.mark.parametrize(
    ("mg", "message"),
    [
        ("-100", "Enter more than 0 mg."),
        (-100, "Enter more than 0 mg."),
        ("0", "Enter more than 0 mg."),
        (0, "Enter more than 0 mg."),
        ("NaN", "Enter a number of mg."),
        ("Infinity", "Enter a number of mg."),
        ("-Infinity", "Enter a number of mg."),
        # An exponent is a typo, not an amount ("1e3" was read as 1000).
        ("1e400", "Enter a number."),
        ("1e2", "Enter a number."),
        (100000, "That is more than 10 troches: check the amount."),
        ("1100", "That is more than 10 troches: check the amount."),
        ("75", "Use whole or half troches of 100 mg."),
        ("100.001", "Use whole or half troches of 100 mg."),
        ("lots", "Enter a number."),
        (True, None),
        (None, "This is required."),
    ],
)
def test_bad_dose_amounts_are_rejected(db, client, patient, mg, message):
    item = dose_item(dose_mg=mg) if mg is not None else dose_item()
    if mg is None:
        del item["data"]["dose_mg"]
    response = sync_post(client, item)
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "rejected"
    assert "dose_mg" in result["errors"]
    if message:
        assert result["errors"]["dose_mg"] == message
    assert nothing_written(db)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_numbers_are_rejected_not_a_500(db, client, patient, literal):
    token = client.get("/api/v1/me").json()["csrf_token"]
    item = dose_item()
    body = json.dumps({"items": [item]}).replace('"dose_mg": "100"', f'"dose_mg": {literal}')
    response = client.post("/api/v1/sync", content=body,
                           headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert response.json()["results"][0]["status"] == "rejected"
    else:
        assert response.json()["detail"]
    assert nothing_written(db)


@pytest.mark.parametrize(
    ("taken", "field", "message"),
    [
        (timedelta(minutes=11), "taken_at", "That time is in the future."),
        (-timedelta(days=31), "taken_at",
         "That is more than 30 days ago; ask your prescriber to add it."),
    ],
)
def test_dose_time_out_of_range_is_rejected(db, client, patient, taken, field, message):
    result = send_dose(client, taken_at=(utcnow() + taken).isoformat(),
                       override_reason="anything")
    assert result["status"] == "rejected"
    assert result["errors"] == {field: message}
    assert nothing_written(db)


def test_dose_time_a_little_ahead_of_the_server_clock_is_fine(db, client, patient):
    result = send_dose(client, taken_at=(utcnow() + timedelta(minutes=9)).isoformat())
    assert result["status"] == "created"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"taken_at": "2026-01-12T10:00:00"}, "taken_at"),  # no offset
        ({"taken_at": "yesterday"}, "taken_at"),
        ({"route": "oral"}, "route"),
        ({"gate_id": "not-a-uuid"}, "gate_id"),
        ({"gate_id": str(uuid.uuid4())}, "gate_id"),  # unknown gate
        ({"mood": 7}, "mood"),
        ({"lot": "x" * 61}, "lot"),
        ({"override_reason": "x" * 501}, "override_reason"),
    ],
)
def test_bad_dose_fields_are_rejected(db, client, patient, data, field):
    result = send_dose(client, **data)
    assert result["status"] == "rejected"
    assert field in result["errors"], result
    assert result["detail"]
    assert nothing_written(db)


def test_another_patients_gate_cannot_be_used(db, client, patient):
    other = factories.user(db, role="patient")
    factories.protocol(db, prescriber_of(db, patient), other)
    now = utcnow()
    foreign = service.record_gate(db, patient=other, gate_id=uuid.uuid4(), checked_at=now,
                                  data=gate_data(), now=now)
    db.commit()
    result = send_dose(client, gate_id=str(foreign.id))
    assert result["status"] == "rejected"
    assert result["errors"] == {"gate_id": "That safety check was not found."}
    assert count(db, Dose) == 0


def test_dose_form_bad_amount_is_shown_again_with_values(db, auth, client, patient):
    gate_id = gate(client)["id"]
    response = auth.post("/today/dose", {
        "dose_client_id": str(uuid.uuid4()), "gate_id": gate_id, "dose_mg": "75",
        "taken_at": local_input(patient, utcnow()), "route": "sublingual",
            "no_gate_reason": "Logged later.", "lot": "K-9",
    })
    assert response.status_code == 422
    assert '<p class="field-error" id="dose_mg-error">Use whole or half troches of 100 mg.</p>' \
        in response.text
    assert 'value="75"' in response.text and 'value="K-9"' in response.text
    assert count(db, Dose) == 0


def test_dose_form_bad_time_is_shown_again(db, auth, client, patient):
    response = auth.post("/today/dose", {
        "dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "sublingual",
            "no_gate_reason": "Logged later.",
        "taken_at": "not a time",
    })
    assert response.status_code == 422
    assert 'id="taken_at-late-error"' in response.text
    assert count(db, Dose) == 0



@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hold_minutes", "500", "Enter 120 or less."),
        ("hold_minutes", "abc", "Enter a whole number."),  # was dropped and the dose written
        ("hold_minutes", "-5", "Enter 0 or more."),
        ("lot", "x" * 70, "Use at most 60 characters."),
        ("rx_number", "y" * 80, "Use at most 60 characters."),
        ("route", "nasal", "Choose one of the options."),
        ("swallowed", "maybe", "Answer yes or no."),
    ],
)
def test_a_bad_detail_of_the_dose_is_shown_beside_its_field(db, auth, client, patient, field,
                                                            value, message):
    """Route, hold time, lot: folded under "Route, hold time, lot", which opens on an error
    there, with the error under the field it is about, not a bare "Enter 120 or less." above
    the page."""
    response = auth.post("/today/dose", {
        "dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Logged later.", "taken_at": local_input(patient, utcnow()),
        field: value})
    assert response.status_code == 422
    assert f'<p class="field-error" id="{field}-late-error">{message}</p>' in response.text
    assert names_error(response.text, f"{field}-late-error")
    assert "alert-error" not in response.text
    assert page_problems(response.text) == []  # not folded away in a closed <details>
    assert count(db, Dose) == 0


def test_the_offline_dose_form_is_fresh_after_a_refused_one(db, auth, client, patient):
    """The dose form the phone brings up after an offline check starts clean: not with the
    amount and error of a dose the server just sent back."""
    response = auth.post("/today/dose", {
        "dose_client_id": str(uuid.uuid4()), "dose_mg": "250", "route": "sublingual",
        "no_gate_reason": "Logged later.", "taken_at": "not a time"})
    assert response.status_code == 422
    late, offline = (re.search(rf'<input id="{name}"[^>]*>', response.text).group(0)
                     for name in ("dose_mg-late", "dose_mg-offline"))
    assert 'value="250"' in late and 'value="100"' in offline
    template = response.text.split('<template id="offline-dose-form">')[1].split("</template>")[0]
    assert "field-error" not in template and "aria-invalid" not in template


def test_dose_form_with_an_expired_gate_says_why(db, auth, client, patient):
    now = utcnow()
    old = service.record_gate(db, patient=patient, gate_id=uuid.uuid4(),
                              checked_at=now - timedelta(hours=3), data=gate_data(),
                              now=now - timedelta(hours=3))
    db.commit()
    response = auth.post("/today/dose", {
        "dose_client_id": str(uuid.uuid4()), "gate_id": str(old.id), "dose_mg": "100",
        "route": "sublingual",
            "no_gate_reason": "Logged later.", "taken_at": local_input(patient, now),
    })
    assert response.status_code == 422
    assert "That safety check is too old for this dose. Check again." in response.text
    assert count(db, Dose) == 0


# --- entered in error -------------------------------------------------------------------------


def test_entered_in_error_through_the_form(db, auth, client, patient):
    row = past_dose(db, patient, timedelta(hours=3))
    history = client.get("/doses").text
    assert f'action="/doses/{row.id}/entered-in-error"' in history
    # The form says what striking does, and the reason's field is described by it.
    field = re.search(rf'<input id="reason-{row.id}"[^>]*>', history).group(0)
    assert f'aria-describedby="reason-{row.id}-hint"' in field
    assert (f'<p class="hint" id="reason-{row.id}-hint">The dose stays in your record, marked, '
            "and your prescriber sees it.</p>") in history
    response = auth.post(f"/doses/{row.id}/entered-in-error",
                         {"client_id": str(uuid.uuid4()), "reason": "Logged the wrong day."})
    assert response.status_code == 303
    assert response.headers["location"] == "/doses"
    db.expire_all()
    kept = db.get(Dose, row.id)
    assert kept.status == DoseStatus.ENTERED_IN_ERROR and kept.revision == 2
    assert kept.status_reason == "Logged the wrong day."
    assert count(db, DoseRevision) == 1
    page = client.get("/doses").text
    assert "Entered in error" in page and "Logged the wrong day." in page
    (listed,) = client.get("/api/v1/doses").json()["doses"]
    assert listed["status"] == "entered_in_error" and listed["revision"] == 2
    # No longer counted by the guard: a gate now is OK instead of too soon.
    assert gate(client)["verdict"] == "ok"


def test_entered_in_error_without_a_reason_is_refused(db, auth, client, patient):
    row = past_dose(db, patient, timedelta(hours=3))
    response = auth.post(f"/doses/{row.id}/entered-in-error",
                         {"client_id": str(uuid.uuid4()), "reason": "  "})
    assert response.status_code == 422
    assert "Say why, for the record." in response.text
    db.expire_all()
    assert db.get(Dose, row.id).status == DoseStatus.RECORDED
    assert count(db, DoseRevision) == 0


def test_a_refused_reason_for_entered_in_error_is_kept_whole(db, auth, client, patient):
    """A long explanation pasted in is neither cut at the field (no maxlength) nor lost when
    refused: it comes back in the field with the limit beside it."""
    row = past_dose(db, patient, timedelta(hours=3))
    page = client.get("/doses").text
    field = re.search(rf'<input id="reason-{row.id}"[^>]*>', page).group(0)
    assert "maxlength" not in field
    reason = "The pharmacy label was misread, " * 20  # 660 characters
    response = auth.post(f"/doses/{row.id}/entered-in-error",
                         {"client_id": str(uuid.uuid4()), "reason": reason})
    assert response.status_code == 422
    field = re.search(rf'<input id="reason-{row.id}"[^>]*>', response.text).group(0)
    assert f'value="{reason}"' in field and 'aria-invalid="true"' in field
    assert f'aria-describedby="reason-{row.id}-hint reason-{row.id}-error"' in field
    assert f'id="reason-{row.id}-error" tabindex="-1" data-focus>Use at most 500 characters.' \
        in response.text
    db.expire_all()
    assert db.get(Dose, row.id).status == DoseStatus.RECORDED


def test_another_patients_dose_cannot_be_marked(db, auth, patient):
    other = factories.user(db, role="patient")
    factories.protocol(db, prescriber_of(db, patient), other)
    now = utcnow()
    theirs = service.record_dose(db, patient=other, dose_id=uuid.uuid4(), recorded_at=now,
                                 data={"taken_at": now.isoformat(), "dose_mg": "100",
                                       "route": "sublingual",
                                           "no_gate_reason": "Logged later."}, now=now)
    db.commit()
    response = auth.post(f"/doses/{theirs.id}/entered-in-error",
                         {"client_id": str(uuid.uuid4()), "reason": "not mine"})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Dose, theirs.id).status == DoseStatus.RECORDED


# --- reading ----------------------------------------------------------------------------------


def test_dose_list_by_range(db, client, patient):
    new_protocol(db, patient, min_hours_between_doses="0.5", max_mg_per_24h="1000",
                 max_mg_per_7d="2000")
    old = past_dose(db, patient, timedelta(days=10))
    mid = past_dose(db, patient, timedelta(days=5))
    new = past_dose(db, patient, timedelta(hours=1))
    now = utcnow()

    def ids(**params):
        response = client.get("/api/v1/doses", params=params)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["doses"]]

    assert ids() == [str(new.id), str(mid.id), str(old.id)]  # newest first
    assert ids(start=(now - timedelta(days=7)).isoformat(), end=now.isoformat()) == [
        str(new.id), str(mid.id)]
    assert ids(start=(now - timedelta(days=12)).isoformat(),
               end=(now - timedelta(days=4)).isoformat()) == [str(mid.id), str(old.id)]
    # Offsets other than UTC are understood.
    eastern = (now - timedelta(days=7)).astimezone(ZoneInfo("America/New_York"))
    assert ids(start=eastern.isoformat()) == [str(new.id), str(mid.id)]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-01-12T10:00:00"},  # no offset
        {"start": "whenever"},
        {"start": "2026-02-01T00:00:00+00:00", "end": "2026-01-01T00:00:00+00:00"},
        {"start": "2020-01-01T00:00:00+00:00", "end": "2026-01-01T00:00:00+00:00"},
        {"patient_id": "not-a-uuid"},
    ],
)
def test_dose_list_bad_query_is_a_readable_422(client, patient, params):
    response = client.get("/api/v1/doses", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


def _login_member(db, auth, role, patient, linked: bool):
    member = factories.user(db, role=role)
    if linked:
        # A caregiver reads doses only when the patient shares their dose history.
        factories.link(db, patient, member, scope="doses" if role == "caregiver" else None)
    db.commit()
    auth.logout()
    assert auth.login(member.email).status_code == 303
    return member


@pytest.mark.parametrize(("role", "linked", "status"), [
    ("prescriber", True, 200), ("prescriber", False, 404),
    ("caregiver", True, 200), ("caregiver", False, 404),
])
def test_care_team_reads_a_patients_doses_with_patient_id(db, auth, client, patient, role,
                                                          linked, status):
    row = past_dose(db, patient, timedelta(hours=2))
    _login_member(db, auth, role, patient, linked)
    response = client.get("/api/v1/doses", params={"patient_id": str(patient.id)})
    assert response.status_code == status
    if status == 200:
        assert [d["id"] for d in response.json()["doses"]] == [str(row.id)]
    else:
        assert "doses" not in response.json()
    # Without patient_id a care team member has no doses of their own to list.
    assert client.get("/api/v1/doses").status_code == 404


def test_a_patient_cannot_read_another_patients_doses(db, client, patient):
    other = factories.user(db, role="patient")
    factories.protocol(db, prescriber_of(db, patient), other)
    db.commit()
    response = client.get("/api/v1/doses", params={"patient_id": str(other.id)})
    assert response.status_code == 404
    response = client.get("/api/v1/doses", params={"patient_id": str(uuid.uuid4())})
    assert response.status_code == 404


def test_today_json_has_the_protocol_snapshot_and_next_session(db, client, patient):
    past_dose(db, patient, timedelta(days=3))
    body = client.get("/api/v1/today").json()
    assert body["timezone"] == "America/New_York"
    protocol = body["protocol"]
    assert protocol["version"] == 1
    assert Decimal(protocol["dose_mg"]) == 100 and Decimal(protocol["strength_mg"]) == 100
    assert protocol["halving_allowed"] is True and protocol["route"] == "sublingual"
    assert protocol["rules"] == {
        "min_hours_between_doses": protocol["rules"]["min_hours_between_doses"],
        "max_mg_per_24h": protocol["rules"]["max_mg_per_24h"],
        "max_mg_per_7d": protocol["rules"]["max_mg_per_7d"],
        "bp_hold_systolic": 160, "bp_hold_diastolic": 100,
        "bp_emergency_systolic": 180, "bp_emergency_diastolic": 120,
        "sitter_required": True,
        "required_checklist": ["fasted", "no_sedatives", "no_driving", "safe_place"],
        "pulse_hold_low": None, "pulse_hold_high": None, "gate_valid_minutes": 30,
        "emergency_lockout_hours": 24, "emergency_recheck_minutes": 5,
        "overridable_holds": [],
        "never_overridable": ["bp_emergency", "over_24h_max", "over_7d_max",
                              "recent_emergency", "safety_review", "screener_pending",
                              "too_soon"],
    }
    assert Decimal(protocol["rules"]["min_hours_between_doses"]) == 48
    assert Decimal(protocol["rules"]["max_mg_per_24h"]) == 200
    (plan,) = protocol["plans"]
    assert plan["phase"] == "induction" and plan["cadence"] == "interval"
    assert plan["every_n_days"] == 1 and plan["weeks"] is None
    assert protocol["phase"] == "induction"
    # The session right now is due or overdue.
    nxt = body["next_session"]
    assert nxt["state"] in ("due", "overdue") and nxt["phase"] == "induction"
    scheduled = datetime.fromisoformat(nxt["scheduled_at"])
    assert abs(scheduled - utcnow()) < timedelta(minutes=2)
    assert len(body["recent_doses"]) == 1
    assert body["holds"] == []
    assert body["safety_state"] == {"review_pending": False, "last_emergency_at": None,
                                    "screener_pending": False, "screener_pending_since": None}
    assert body["last_dose"]["dose_mg"]
    assert "balance" in body["ledger"]


def test_today_json_without_a_protocol(db, client, login_as):
    login_as("patient")
    body = client.get("/api/v1/today").json()
    assert body["protocol"] is None and body["next_session"] is None


@pytest.mark.parametrize("role", ["prescriber", "caregiver"])
def test_today_json_is_for_patients(client, login_as, role):
    login_as(role)
    assert client.get("/api/v1/today").status_code == 403


def test_today_page_shows_the_next_session_in_local_time(db, client, patient):
    page = client.get("/today").text
    local = utcnow().astimezone(ZoneInfo(patient.timezone))
    assert "Next session" in page
    assert "Due now" in page or "Overdue" in page
    assert format_datetime(local, "long_datetime").rsplit(",", 1)[0] in page


def test_no_protocol_today_page(client, login_as):
    login_as("patient")
    page = client.get("/today").text
    assert "Your prescriber has not set up your dosing plan yet." in page
    assert 'action="/today/gate"' not in page


def test_gate_without_a_protocol_is_rejected(db, client, login_as):
    login_as("patient")
    result = gate(client)
    assert result["status"] == "rejected"
    assert result["detail"] == "Your prescriber has not set up your dosing plan yet."
    assert nothing_written(db)


def test_a_dose_against_a_hold_is_shown_so_and_an_allowed_override_stays_one():
    from app.templating import shown_flags

    stored = ["no_gate", "override", "too_soon", "over_24h_max", "against_hold", "extra"]
    assert shown_flags(stored) == ["against_hold", "no_gate", "too_soon", "over_24h_max",
                                   "extra"]
    # A hold the prescriber lets the patient override with a reason is an override.
    assert shown_flags(["override", "bp_hold"]) == ["override", "bp_hold"]
    assert shown_flags(None) == []


def test_a_dose_refused_for_its_amount_alone_can_be_put_right_and_logged(db, auth, client,
                                                                        patient):
    """300 mg typed for 100 after a check that passed: over the 24-hour maximum, refused. The
    page offered only "record a dose you already took"; it brings back the plain form to check
    the amount, and the amount put right logs the dose as usual, nothing overridden."""
    new_protocol(db, patient, max_mg_per_24h="200")
    gate_id = str(uuid.uuid4())
    assert auth.post("/today/gate", {**GATE_FORM_OK, "gate_client_id": gate_id}).status_code \
        == 303
    form = {"dose_client_id": str(uuid.uuid4()), "gate_id": gate_id, "dose_mg": "300",
            "taken_at": local_input(patient, utcnow()), "route": "sublingual"}
    refused = auth.post("/today/dose", form)
    assert refused.status_code == 422
    page = html.unescape(refused.text)
    assert "Over the 24-hour maximum of 200 mg" in page
    assert "Check the amount" in page
    amount = page.split("Check the amount", 1)[1].split("</form>", 1)[0]
    assert 'id="dose_mg-amount"' in amount and 'value="300"' in amount
    assert ">Log dose</button>" in amount and "override_reason" not in amount

    logged = auth.post("/today/dose", {**form, "dose_mg": "100"})
    assert logged.status_code == 303, logged.text
    (dose,) = db.exec(select(Dose).where(Dose.patient_id == patient.id)).all()
    assert dose.dose_mg == 100 and "override" not in (dose.flags or [])


def test_a_dose_refused_for_more_than_its_amount_brings_no_plain_form(db, auth, patient):
    new_protocol(db, patient, min_hours_between_doses="48")
    past_dose(db, patient, timedelta(hours=3))
    form = {"dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "sublingual",
            "no_gate_reason": "Forgot.", "taken_at": local_input(patient, utcnow())}
    refused = auth.post("/today/dose", form)
    assert refused.status_code == 422
    assert "Check the amount" not in refused.text  # too soon: no amount would do


def test_a_new_patient_is_told_what_to_get_ready_until_the_first_dose(db, client, auth, patient):
    """A journey tester's brand-new patient opened Today on a safety check and a dose form: no
    word that the plan asks for a sitter and none had joined, nor that no fill was recorded
    (the supply then read -1 after the first dose)."""
    def getting_ready() -> str | None:
        page = html.unescape(client.get("/today").text)
        if 'id="ready-heading"' not in page:
            return None
        return page[page.index('id="ready-heading"'):].split("</section>")[0]

    card = getting_ready()
    assert card and "none has joined your care team yet" in card and 'href="/care-team"' in card
    assert "Record the troches the pharmacy gave you" in card

    factories.link(db, patient, factories.user(db, role="caregiver"))
    db.commit()
    card = getting_ready()
    assert card and "care team" not in card and "pharmacy" in card
    fill = auth.post("/supply/fill", {"fill_client_id": str(uuid.uuid4()),
                                      "fill_filled_on": utcnow().date().isoformat(),
                                      "fill_count": "8", "fill_strength_mg": "100"})
    assert fill.status_code == 303, fill.text
    assert getting_ready() is None


def test_after_the_first_dose_getting_ready_is_not_said_again(db, client, patient):
    """A sitter need not use the app (the patient confirms them at the check), and a missing
    fill has its own notice on the supply card: after the first dose, no card."""
    assert send_dose(client, gate_id=gate(client)["id"])["status"] == "created"
    assert 'id="ready-heading"' not in client.get("/today").text
