"""A suicide-risk answer or an emergency reading stops dosing, end to end: the patient's pages,
the gate and dose APIs, the prescriber's review that clears the hold, and who may clear it."""

import html
import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.checkins.models import SafetyEvent
from app.db import utcnow
from app.doses.models import Dose
from tests import factories
from tests.conftest import Auth
from tests.factories import gate_data, sync_item, sync_post
from tests.helpers import another_client, shown


@pytest.fixture
def world(db, login_as):
    patient = login_as("patient")
    prescriber = factories.user(db, role="prescriber")
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    return prescriber, patient


def text_of(response) -> str:
    return html.unescape(response.text)


def screener_follows(client, phq) -> str:
    """Where a positive PHQ-9 leads (the screener, its address silent on item 9), and the PHQ-9
    the screener's page is linked to."""
    assert phq.headers["location"] == "/questionnaires/cssrs"
    page = client.get("/questionnaires/cssrs").text
    return re.search(r'name="follows" value="([0-9a-f-]{36})"', page).group(1)


def high_risk_screen(auth) -> str:
    """PHQ-9 with item 9 = 2, then a C-SSRS with intent (Q4 yes): the crisis screen's html."""
    phq = auth.post("/questionnaires/phq9", {f"q{i}": "1" for i in range(1, 9)} | {"q9": "2"})
    assert phq.status_code == 303, phq.text
    follows = screener_follows(auth.client, phq)
    screen = auth.post("/questionnaires/cssrs", {
        "follows": follows, "q1": "yes", "q2": "yes", "q3": "no", "q4": "yes", "q5": "no",
        "q6": "no"})
    assert screen.status_code == 303, screen.text
    return text_of(auth.client.get(screen.headers["location"]))


def gate(client, **answers) -> dict:
    return sync_post(client, sync_item("gate", gate_data(**answers))).json()["results"][0]


def dose(client, **extra) -> dict:
    item = sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                              "route": "sublingual", **extra})
    return sync_post(client, item).json()["results"][0]


def as_prescriber(prescriber):
    laptop = another_client().__enter__()
    assert Auth(laptop).login(prescriber.email).status_code == 303
    return laptop


def test_a_high_risk_screen_holds_dosing_until_the_prescriber_clears_it(db, client, auth,
                                                                        world):
    prescriber, patient = world
    crisis = high_risk_screen(auth)
    assert 'href="tel:988"' in crisis and "741741" in crisis
    assert "Your care team must review your answers before your next dose." in crisis

    # Today: on hold, with the reason and the crisis resources, and no safety check to take.
    today = text_of(client.get("/today"))
    assert "Dosing is on hold" in today
    assert "Your care team must review your recent answers before your next dose." in today
    assert 'href="tel:988"' in today
    assert 'action="/today/gate"' not in today
    assert "I have already taken a dose: record it" in today

    # The phone's snapshot carries the hold too, so an offline gate holds as well.
    holds = client.get("/api/v1/today").json()["holds"]
    assert [h["code"] for h in holds] == ["safety_review"]

    # The gate says hold, safety_review, whatever the readings; a dose is refused...
    verdict = gate(client)
    assert verdict["verdict"] == "hold"
    assert [r["code"] for r in verdict["reasons"]] == ["safety_review"]
    refused = dose(client, gate_id=verdict["id"], override_reason="I feel fine today.")
    assert refused["status"] == "rejected" and refused["overridable"] is False
    # ...unless it was already taken: then it is recorded, flagged, and the prescriber told.
    taken = dose(client, gate_id=verdict["id"], override_reason="Took it before I answered.",
                 already_taken=True)
    assert taken["status"] == "created"
    assert {"override", "safety_review", "against_hold"} <= set(taken["flags"])
    kinds = {e.kind for e in db.exec(select(SafetyEvent)).all()}
    assert kinds == {"phq9_item9", "positive_screen", "dose_against_hold"}

    laptop = as_prescriber(prescriber)
    try:
        page = text_of(laptop.get(f"/patients/{patient.id}"))
        assert "Dosing is on hold: a high-risk suicidality screen needs your review." in page
        assert "Dose taken against a hold" in page
        (event,) = db.exec(select(SafetyEvent).where(SafetyEvent.holds_dosing)).all()
        token = laptop.get("/api/v1/me").json()["csrf_token"]
        url = f"/patients/{patient.id}/safety-events/{event.id}/review"

        blank = laptop.post(url, data={"review_note": "   ", "csrf_token": token})
        assert blank.status_code == 422
        assert "Write what you reviewed and decided, for the record." in text_of(blank)
        assert gate(client)["verdict"] == "hold"  # still held
        # A long note pasted from the chart comes back beside the field to be cut, not lost
        # on an error page (a 4,000-character cap on the form field used to come first).
        pasted = "Called Sam; safety plan reviewed line by line. " * 100
        long = laptop.post(url, data={"review_note": pasted, "csrf_token": token})
        assert long.status_code == 422
        assert "Use at most 1000 characters." in text_of(long)
        assert html.escape(pasted, quote=False) in long.text
        assert gate(client)["verdict"] == "hold"

        cleared = laptop.post(url, data={"review_note": "Called; safety plan in place.",
                                         "csrf_token": token})
        assert cleared.status_code == 303
        page = text_of(laptop.get(cleared.headers["location"]))
        assert "Reviewed by " + prescriber.display_name in page
        assert "Called; safety plan in place." in page
        assert "needs your review" not in page
    finally:
        laptop.__exit__(None, None, None)

    db.expire_all()
    event = db.get(SafetyEvent, event.id)
    assert event.reviewed_by_id == prescriber.id and event.reviewed_at is not None
    # The hold is lifted: the safety-review reason is gone (the dose just taken still counts).
    after = gate(client)
    assert "safety_review" not in [r["code"] for r in after["reasons"]]
    assert "Dosing is on hold" not in text_of(client.get("/today"))


def test_a_low_or_moderate_screen_is_a_flag_but_does_not_hold(db, client, auth, world):
    phq = auth.post("/questionnaires/phq9", {f"q{i}": "0" for i in range(1, 9)} | {"q9": "1"})
    follows = screener_follows(auth.client, phq)
    auth.post("/questionnaires/cssrs", {"follows": follows, "q1": "yes", "q2": "yes",
                                        "q3": "yes", "q4": "no", "q5": "no", "q6": "no"})
    assert gate(client)["verdict"] == "ok"
    (screen,) = db.exec(select(SafetyEvent).where(SafetyEvent.kind == "positive_screen")).all()
    assert screen.level == "moderate" and not screen.holds_dosing


def test_a_phq9_item9_without_a_screener_is_pending_on_today_never_low(db, client, auth, world):
    phq = auth.post("/questionnaires/phq9", {f"q{i}": "0" for i in range(1, 9)} | {"q9": "1"})
    follows = screener_follows(auth.client, phq)
    # The patient leaves the screener unanswered and goes back to Today.
    today = text_of(client.get("/today"))
    assert "Your safety questions are not finished" in today
    assert 'href="/questionnaires/cssrs"' in today
    (flag,) = db.exec(select(SafetyEvent)).all()
    assert (flag.kind, flag.level) == ("phq9_item9", "unscreened")
    auth.post("/questionnaires/cssrs", {"follows": follows, "q1": "no", "q2": "no",
                                        "q6": "no"})
    # The prompt and the hold are gone (the phone's offline copies keep their words).
    assert 'href="/questionnaires/cssrs">' not in shown(text_of(client.get("/today")))
    db.expire_all()
    flag = db.get(SafetyEvent, flag.id)
    assert (flag.level, flag.details["screened_risk"]) == ("screened", "none")


def test_only_the_patients_own_prescriber_may_clear_a_hold(db, client, auth, world):
    _, patient = world
    high_risk_screen(auth)
    (event,) = db.exec(select(SafetyEvent).where(SafetyEvent.holds_dosing)).all()
    stranger = factories.user(db, role="prescriber")
    caregiver = factories.user(db, role="caregiver")
    factories.link(db, patient, caregiver)
    db.commit()
    url = f"/patients/{patient.id}/safety-events/{event.id}/review"
    # Everyone else gets the same 404 as for a patient who does not exist (issue 10).
    for someone, status in ((stranger, 404), (caregiver, 404)):
        other = as_prescriber(someone)
        try:
            token = other.get("/api/v1/me").json()["csrf_token"]
            response = other.post(url, data={"review_note": "ok", "csrf_token": token})
            assert response.status_code == status
        finally:
            other.__exit__(None, None, None)
    # The patient cannot clear their own hold either.
    assert auth.post(url, {"review_note": "I am fine"}).status_code == 404
    # Nor through a made-up event id.
    db.expire_all()
    assert db.get(SafetyEvent, event.id).reviewed_at is None
    assert uuid.UUID(str(event.id))


def test_an_emergency_reading_locks_dosing_for_the_period_whatever_rechecks_show(db, client,
                                                                                 world):
    first = gate(client, systolic=186, diastolic=100)
    assert first["verdict"] == "emergency"
    too_quick = gate(client)
    assert too_quick["status"] == "rejected"
    assert "Rest for 5 minutes" in too_quick["errors"]["systolic"]
    (event,) = db.exec(select(SafetyEvent)).all()
    assert (event.kind, event.level) == ("bp_emergency", "high")

    # Six minutes later (the reading's time moved back), a normal recheck still holds.
    event.occurred_at = event.occurred_at - timedelta(minutes=6)
    db.add(event)
    db.commit()
    recheck = gate(client, systolic=128, diastolic=82)
    assert recheck["verdict"] == "hold"
    assert [r["code"] for r in recheck["reasons"]] == ["recent_emergency"]
    page = text_of(client.get("/today"))
    assert "Dosing is on hold until" in page or "Hold: it is not safe to dose" in page
    assert "Take it anyway" not in page
    assert dose(client, gate_id=recheck["id"], override_reason="fine now")["status"] == \
        "rejected"
    assert db.exec(select(Dose)).all() == []


@pytest.mark.parametrize("ahead_minutes", [1, 3, 9])
def test_a_high_risk_screen_from_a_phone_whose_clock_runs_fast_holds_today_at_once(
        db, client, world, ahead_minutes):
    """The phone stamps its entries with its own clock, and the server takes them up to 10
    minutes ahead. Today judged the record's holds at the server's now, so a high-risk screen
    stamped 3 minutes ahead held nothing for 3 minutes: Today offered the safety check, and
    its offline copy too, right after the crisis screen. An entry the server holds has
    happened, whatever its stamp."""
    ahead = utcnow() + timedelta(minutes=ahead_minutes)
    phq = sync_post(client, sync_item("questionnaire", {
        "instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 2]}, recorded_at=ahead))
    (phq,) = phq.json()["results"]
    screen = sync_post(client, sync_item("questionnaire", {
        "instrument": "cssrs", "answers": [True, True, True, True, False, False, None],
        "follows_id": phq["id"]}, recorded_at=ahead + timedelta(seconds=30)))
    assert screen.json()["results"][0]["risk"] == "high"

    page = text_of(client.get("/today"))
    assert "Dosing is on hold" in page
    assert "Your care team must review your recent answers before your next dose." in page
    assert 'name="systolic"' not in page
    snapshot = client.get("/api/v1/today").json()
    assert [h["code"] for h in snapshot["holds"]] == ["safety_review"]
    assert snapshot["safety_state"]["review_pending"] is True


def test_a_crisis_reading_from_a_phone_whose_clock_runs_fast_holds_today_at_once(db, client,
                                                                                 world):
    reading_at = utcnow() + timedelta(minutes=3)
    item = sync_item("gate", gate_data(systolic=186, diastolic=100), recorded_at=reading_at)
    assert sync_post(client, item).json()["results"][0]["verdict"] == "emergency"

    snapshot = client.get("/api/v1/today").json()
    assert [h["code"] for h in snapshot["holds"]] == ["recent_emergency"]
    # The offline gate re-judges the same state with the phone's clock: the reading's own time.
    assert snapshot["safety_state"]["last_emergency_at"].startswith(
        reading_at.isoformat()[:16])
