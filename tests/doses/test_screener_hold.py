"""A PHQ-9 with item 9 above 0 holds dosing until the C-SSRS screener that follows it is
answered (or a prescriber reviews the answer): the screener says how much the answer means
before a dissociative drug is taken at home. Through the one write path, as the phone sends
them, on both databases."""

import html
import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.alerts import service as alerts
from app.checkins.models import SafetyEvent
from app.db import utcnow
from app.doses.models import Dose
from tests import factories

ITEM9_ONE = [0, 0, 0, 0, 0, 0, 0, 0, 1]
LOW_RISK = [True, False, None, None, None, False, None]
HIGH_RISK = [True, True, True, True, False, False, None]


@pytest.fixture
def patient(db, auth):
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    assert auth.login(patient.email).status_code == 303
    return prescriber, patient


def _send(client, kind: str, data: dict, *, at=None) -> dict:
    response = factories.sync_post(client, factories.sync_item(kind, data, recorded_at=at))
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["status"] == "created", result  # a refused entry would prove nothing
    return result


def _phq9(client, answers=ITEM9_ONE, at=None) -> dict:
    """A PHQ-9 answered at `at` (the phone's time for it: the outbox item's recorded_at)."""
    return _send(client, "questionnaire", {"instrument": "phq9", "answers": answers}, at=at)


def _screener(client, answers=LOW_RISK, follows: dict | None = None, at=None) -> dict:
    data = {"instrument": "cssrs", "answers": answers}
    if follows is not None:
        data["follows_id"] = follows["id"]
    return _send(client, "questionnaire", data, at=at)


def _events(db, person) -> list[SafetyEvent]:
    return db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == person.id,
                                             SafetyEvent.kind == "phq9_item9")).all()


def _gate(client) -> dict:
    return _send(client, "gate", factories.gate_data())


def _codes(result: dict) -> list[str]:
    return [r["code"] for r in result["reasons"]]


def test_item9_holds_until_the_screener_is_answered(client, db, patient):
    assert _gate(client)["verdict"] == "ok"
    phq = _phq9(client)
    held = _gate(client)
    assert held["verdict"] == "hold" and _codes(held) == ["screener_pending"]
    assert held["reasons"][0]["message"] == (
        "Your safety questions are not finished. Answer them before your next dose.")
    today = client.get("/api/v1/today").json()
    assert today["safety_state"]["screener_pending"] is True
    # When the answer was given, for the phone: a screener it holds lifts only a hold before it.
    assert today["safety_state"]["screener_pending_since"] == \
        db.exec(select(SafetyEvent).where(SafetyEvent.kind == "phq9_item9")).one() \
        .occurred_at.isoformat()
    assert [h["code"] for h in today["holds"]] == ["screener_pending"]
    # Today asks for the screener above the check.
    page = client.get("/today").text
    assert "Answer the safety questions" in page and "Safety questions not answered" not in page
    # A suicidality answer always leads to the crisis resources, the hold included.
    assert page.count('href="tel:988"') >= 1

    _screener(client, follows=phq)
    assert _gate(client)["verdict"] == "ok"
    assert client.get("/api/v1/today").json()["safety_state"]["screener_pending"] is False


def test_the_first_screener_after_an_answer_speaks_for_it_whichever_arrives_first(
        client, db, patient):
    """Two screeners after one answer, the earlier one sent late from an offline phone: the
    flag says what the first one found, as it would had they arrived in order."""
    _, person = patient
    _phq9(client, at=utcnow() - timedelta(hours=3))
    later = _screener(client, HIGH_RISK, at=utcnow() - timedelta(hours=1))
    (event,) = _events(db, person)
    assert event.details["screener_id"] == later["id"]
    first = _screener(client, at=utcnow() - timedelta(hours=2))
    db.expire_all()
    (event,) = _events(db, person)
    assert (event.level, event.details["screener_id"], event.details["screened_risk"]) == (
        "screened", first["id"], "low")


def test_a_screener_more_than_two_weeks_after_an_answer_does_not_speak_for_it(
        client, db, patient):
    """The hold and Today's prompt wait two weeks for a screener; one answered later says
    nothing about that answer, so its flag still reads as never screened."""
    _, person = patient
    _phq9(client, at=utcnow() - timedelta(days=15))
    _screener(client)
    db.expire_all()
    (event,) = _events(db, person)
    assert event.level == "unscreened"
    # Nor does a late-arriving answer take a screener from more than two weeks on.
    _phq9(client, at=utcnow() - timedelta(days=16))
    db.expire_all()
    assert sorted(e.level for e in _events(db, person)) == ["unscreened", "unscreened"]


def _gate_section(page: str) -> str:
    start = page.index('<section id="gate-result"')
    return page[start:page.index("</section>", start)]


def test_the_hold_offers_the_screener_and_leaves_the_prompt_in_view(client, auth, patient):
    """The hold says to answer the safety questions; the way to do it is beside it. Standing,
    it no longer takes focus (which scrolled the prompt above it off a phone's screen); after
    a check the patient asked for, the verdict does."""
    _phq9(client)
    page = client.get("/today").text
    section = _gate_section(page)
    assert "Dosing is on hold" in section and "data-focus" not in section.split(">", 1)[0]
    assert '<a class="button primary" href="/questionnaires/cssrs">Answer the safety questions' \
        in section
    assert page.index("Your safety questions are not finished") < page.index('id="gate-result"')

    response = auth.post("/today/gate", {**factories.GATE_FORM_OK,
                                         "gate_client_id": str(uuid.uuid4())})
    assert response.status_code == 303
    section = _gate_section(client.get("/today").text)
    assert "Hold: it is not safe to dose right now" in section
    assert "data-focus" in section.split(">", 1)[0]
    assert 'href="/questionnaires/cssrs"' in section and 'href="tel:988"' in section


def test_a_check_held_before_the_screener_says_it_was_answered_since(client, auth, patient):
    """The held check stays on Today as it was, but no longer offers a screener already
    answered: it says so, with the check open to run again."""
    phq = _phq9(client)
    auth.post("/today/gate", {**factories.GATE_FORM_OK, "gate_client_id": str(uuid.uuid4())})
    _screener(client, follows=phq)
    section = _gate_section(client.get("/today").text)
    assert "Hold: it is not safe to dose right now" in section
    assert 'href="/questionnaires/cssrs"' not in section
    assert "The hold for your safety questions has ended since this check." in section
    assert "<details open><summary>Check again</summary>" in section


def test_a_passed_check_under_a_new_answer_leaves_the_prompt_in_view(client, patient):
    """A check that passed, then a PHQ-9 with item 9 above 0: the hold that now stands does
    not take focus from the prompt above it, and offers the screener itself."""
    assert _gate(client)["verdict"] == "ok"
    _phq9(client)
    section = _gate_section(client.get("/today").text)
    assert "Dosing is on hold" in section and "data-focus" not in section.split(">", 1)[0]
    assert 'href="/questionnaires/cssrs"' in section


def test_a_high_risk_screener_turns_the_hold_into_the_review_hold(client, patient):
    phq = _phq9(client)
    _screener(client, HIGH_RISK, follows=phq)
    assert _codes(_gate(client)) == ["safety_review"]


def test_a_prescribers_review_of_the_answer_lifts_the_hold(client, auth, db, patient):
    prescriber, person = patient
    _phq9(client)
    assert _codes(_gate(client)) == ["screener_pending"]
    event = db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == person.id,
                                              SafetyEvent.kind == "phq9_item9")).one()
    auth.logout()
    assert auth.login(prescriber.email).status_code == 303
    reviewed = auth.post(f"/patients/{person.id}/flags/review",
                         {"code": "safety_event", "key": str(event.id),
                          "note": "Called them: passive thoughts, safety plan in place.",
                          "next": "/patients"})
    assert reviewed.status_code == 303, reviewed.text
    auth.logout()
    assert auth.login(person.email).status_code == 303
    assert _gate(client)["verdict"] == "ok"


def test_one_screener_after_two_such_answers_lifts_the_hold(client, db, patient):
    _, person = patient
    _phq9(client, at=utcnow() - timedelta(days=3))
    second = _phq9(client)
    assert len(_events(db, person)) == 2
    assert _codes(_gate(client)) == ["screener_pending"]
    screener = _screener(client, follows=second)
    assert _gate(client)["verdict"] == "ok"
    # The older answer's flag says so too: the prescriber's list reads both as screened, and
    # neither raises the alert that the screener went unanswered.
    db.expire_all()
    assert sorted((e.level, e.details.get("screener_id")) for e in _events(db, person)) == \
        [("screened", screener["id"])] * 2
    assert alerts.raise_unanswered_screeners(db, utcnow() + timedelta(hours=2)) == []


def test_a_screener_answered_before_the_answer_does_not_lift_it(client, db, patient):
    _, person = patient
    _screener(client, at=utcnow() - timedelta(hours=2))
    _phq9(client, at=utcnow() - timedelta(hours=1))
    assert _codes(_gate(client)) == ["screener_pending"]
    (event,) = _events(db, person)
    assert event.level == "unscreened"
    (alert,) = alerts.raise_unanswered_screeners(db, utcnow() + timedelta(hours=2))
    assert alert.source_id == event.id


def test_an_answer_arriving_after_the_screener_that_followed_it_is_screened(client, db, patient):
    """An offline phone sends the PHQ-9 after a screener answered later on another device: the
    flag is screened as it is written, so no alert says the screener went unanswered."""
    _, person = patient
    screener = _screener(client, at=utcnow() - timedelta(hours=1))
    _phq9(client, at=utcnow() - timedelta(hours=2))
    (event,) = _events(db, person)
    assert (event.level, event.details["screener_id"]) == ("screened", screener["id"])
    assert event.details["screened_risk"] == "low"
    assert _gate(client)["verdict"] == "ok"
    assert alerts.raise_unanswered_screeners(db, utcnow() + timedelta(hours=2)) == []


def test_the_hold_lasts_the_two_weeks_today_asks_for_the_screener(client, db, patient):
    _, person = patient
    _phq9(client, at=utcnow() - timedelta(days=13, hours=23))
    assert len(_events(db, person)) == 1
    assert _codes(_gate(client)) == ["screener_pending"]


def test_an_answer_older_than_two_weeks_no_longer_holds(client, db, patient):
    _, person = patient
    _phq9(client, at=utcnow() - timedelta(days=14, minutes=1))
    assert len(_events(db, person)) == 1  # recorded, and flagged for the prescriber
    assert _gate(client)["verdict"] == "ok"


def test_a_dose_taken_before_the_screener_was_answered_is_recorded_against_the_hold(
        client, db, patient):
    """Judged as the record stood when it was taken: a screener answered an hour later does
    not make a dose taken in between clean."""
    phq = _phq9(client, at=utcnow() - timedelta(hours=3))
    _screener(client, follows=phq, at=utcnow() - timedelta(hours=1))
    dose_id = uuid.uuid4()
    taken = utcnow() - timedelta(hours=2)
    result = factories.sync_post(client, factories.sync_item("dose", {
        "taken_at": taken.isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Logged later.", "override_reason": "Took it before the questions.",
        "already_taken": True}, item_id=dose_id)).json()["results"][0]
    assert result["status"] == "created", result
    assert "against_hold" in db.exec(select(Dose).where(Dose.id == dose_id)).one().flags
    # Now, screened, the screener no longer holds (the dose's own interval does).
    assert _codes(_gate(client)) == ["too_soon"]


def test_a_zero_on_item9_holds_nothing(client, patient):
    _phq9(client, answers=[1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert _gate(client)["verdict"] == "ok"


def test_a_dose_taken_against_the_hold_is_recorded_and_flagged(client, db, patient):
    _, person = patient
    _phq9(client)
    dose_id = uuid.uuid4()
    result = factories.sync_post(client, factories.sync_item("dose", {
        "taken_at": utcnow().isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Forgot the check.", "override_reason": "Took it before I saw this.",
        "already_taken": True}, item_id=dose_id)).json()["results"][0]
    assert result["status"] == "created", result
    dose = db.exec(select(Dose).where(Dose.id == dose_id)).one()
    assert "against_hold" in dose.flags
    event = db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == person.id,
                                              SafetyEvent.kind == "dose_against_hold")).one()
    assert "screener_pending" in event.details["codes"]


def _badges(page: str, heading: str) -> list[str]:
    """The session badges of one of Today's sections, in order."""
    section = page.split(f">{heading}</h2>", 1)[1].split("</section>", 1)[0]
    return re.findall(r'<span class="state state-[a-z]+"[^>]*>([^<]+)</span>', section)


def test_today_never_shows_a_held_session_or_a_dose_against_a_hold_as_plain(client, db, patient):
    """Under the hold, the session due now says it is on hold, not "Due now" under "Do not take
    a dose"; the dose taken against it is not a plain green "Taken" in the last two weeks (the
    record shows what happened)."""
    today = html.unescape(client.get("/today").text)
    assert _badges(today, "Next session")[0] in ("Due now", "Overdue")
    _phq9(client)
    held = html.unescape(client.get("/today").text)
    assert _badges(held, "Next session") == ["Due, but on hold"]
    assert 'class="state state-against"' in held

    taken = utcnow() - timedelta(minutes=5)
    result = factories.sync_post(client, factories.sync_item("dose", {
        "taken_at": taken.isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Took it anyway.", "override_reason": "Took it before the questions.",
        "already_taken": True})).json()["results"][0]
    assert result["status"] == "created" and "against_hold" in result["flags"], result
    after = html.unescape(client.get("/today").text)
    assert "Taken against a hold" in _badges(after, "Last two weeks")
    assert "Taken" not in _badges(after, "Last two weeks")
