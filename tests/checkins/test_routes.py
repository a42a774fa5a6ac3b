"""The patient's check-in and questionnaire pages, and the safety path through real forms:
PHQ-9 item 9 → C-SSRS screener → crisis screen or support, flagged to the prescriber."""

import html
import re
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.checkins.instruments import CSSRS, CSSRS_SINCE_LAST_CONTACT, PHQ9
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.checkins.routes import answers_from_form
from app.db import utcnow
from app.doses import service as doses
from app.web.formats import format_datetime
from tests import factories
from tests.conftest import Auth
from tests.helpers import another_client, follow

CARE_TEAM_DELAY = "Your care team may not see your answers right away"
RESULT_URL = re.compile(r"^/questionnaires/result/([0-9a-f-]{36})$")


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def text_of(response) -> str:
    return html.unescape(response.text)


def checked(page: str, name: str) -> set[str]:
    """The values of the radio buttons named `name` that are checked."""
    found = set()
    for tag in re.findall(rf'<input type="radio" name="{name}"[^>]*>', page):
        if re.search(r"\schecked(\s|>|$)", tag):
            found.add(re.search(r'value="([^"]*)"', tag).group(1))
    return found


def phq9_form(*answers: int | None) -> dict:
    return {f"q{i}": str(a) for i, a in enumerate(answers, 1) if a is not None}


def cssrs_form(**answers: str) -> dict:
    return dict(answers)


@pytest.fixture
def patient(db, login_as):
    patient = login_as("patient")
    prescriber = factories.user(db, role="prescriber")
    factories.link(db, patient, prescriber)
    db.commit()
    return patient


@pytest.fixture
def prescriber_page(db, patient):
    """GET /patients/<patient> as their prescriber, from the prescriber's own browser."""
    from app.careteam import access
    from app.careteam.models import Relation

    prescriber = access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]

    def _get():
        with another_client() as laptop:
            assert Auth(laptop).login(prescriber.email).status_code == 303
            response = laptop.get(f"/patients/{patient.id}")
            assert response.status_code == 200
            return text_of(response)

    return _get


def dose_now(db, patient, minutes_ago: int = 41):
    from app.careteam import access
    from app.careteam.models import Relation

    prescriber = access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]
    factories.protocol(db, prescriber, patient)
    now = utcnow()
    dose = doses.record_dose(
        db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
        data={"taken_at": (now - timedelta(minutes=minutes_ago)).isoformat(), "dose_mg": "100",
              "route": "sublingual", "no_gate_reason": "Logged later."},
        now=now)
    db.commit()
    return dose


def screener_after_phq9(client, auth) -> tuple[str, str]:
    """Submit a PHQ-9 with item 9 = 2; return (the PHQ-9 id, the screener page's html)."""
    response = auth.post("/questionnaires/phq9", phq9_form(1, 1, 1, 1, 1, 1, 1, 1, 2))
    assert response.status_code == 303, response.text
    # The screener's address says nothing of item 9 (no ?follows=): the page links itself to
    # the PHQ-9 still unscreened.
    assert response.headers["location"] == "/questionnaires/cssrs"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    match = re.search(r'name="follows" value="([0-9a-f-]{36})"', page.text)
    assert match, page.text
    return match.group(1), text_of(page)


# --- the questionnaire pages ------------------------------------------------------------------


def test_the_phq9_page_shows_the_standard_items_and_answers(client, patient):
    page = text_of(client.get("/questionnaires/phq9"))
    assert PHQ9.prompt in page
    for item in PHQ9.items:
        assert item.text in page
    for label in ("Not at all", "Several days", "More than half the days", "Nearly every day",
                  "Not difficult at all", "Extremely difficult"):
        assert label in page
    assert page.count('type="radio"') == 9 * 4 + 4
    # The nine scored items must be answered; the difficulty item may be left blank.
    assert len(re.findall(r'<input type="radio"[^>]*\srequired', page)) == 9 * 4
    assert 'name="difficulty" value="very_difficult"' in page


def test_a_phq9_with_the_difficulty_item_answered_or_blank(client, db, auth, patient):
    response = auth.post("/questionnaires/phq9",
                         {**phq9_form(1, 1, 1, 1, 1, 1, 1, 1, 0), "difficulty": "very_difficult"})
    assert response.status_code == 303, response.text
    auth.post("/questionnaires/gad7", {f"q{i}": "1" for i in range(1, 8)})
    stored = {r.instrument: r for r in db.exec(select(QuestionnaireResponse)).all()}
    assert (stored["phq9"].score, stored["phq9"].answers["difficulty"]) == (8, "very_difficult")
    assert (stored["gad7"].score, stored["gad7"].answers["difficulty"]) == (7, None)


def test_an_unknown_questionnaire_is_404(client, patient):
    assert client.get("/questionnaires/bdi").status_code == 404
    assert Auth(client).post("/questionnaires/bdi", {"q1": "0"}).status_code == 404


def test_a_phq9_without_item9_goes_to_its_result(client, db, auth, patient):
    response = auth.post("/questionnaires/phq9", phq9_form(3, 3, 2, 2, 1, 1, 1, 1, 0))
    assert response.status_code == 303
    match = RESULT_URL.match(response.headers["location"])
    assert match, response.headers["location"]
    page = text_of(client.get(response.headers["location"]))
    assert "14" in page and "/ 27" in page
    assert "moderate range" in page
    assert count(db, SafetyEvent) == 0


def test_a_missing_phq9_answer_re_renders_the_form_keeping_the_others(client, db, auth,
                                                                       patient):
    response = auth.post("/questionnaires/phq9", phq9_form(1, 2, 3, 0, None, 1, 2, 3, 0))
    assert response.status_code == 422
    page = text_of(response)
    assert '<p class="field-error" id="q5-error">Choose an answer for this question.</p>' in page
    assert 'aria-invalid="true" aria-describedby="q5-error"' in page
    for key, value in {"q1": "1", "q2": "2", "q3": "3", "q4": "0", "q6": "1", "q7": "2",
                       "q8": "3", "q9": "0"}.items():
        assert checked(page, key) == {value}, key
    assert checked(page, "q5") == set()
    assert count(db, QuestionnaireResponse) == 0


def test_an_out_of_range_answer_is_422(client, db, auth, patient):
    response = auth.post("/questionnaires/gad7", {f"q{i}": "0" for i in range(1, 7)} | {"q7": "4"})
    assert response.status_code == 422
    assert "q7" in text_of(response)
    assert count(db, QuestionnaireResponse) == 0


def test_a_double_submit_writes_once(client, db, auth, patient):
    form = {**phq9_form(0, 0, 0, 0, 0, 0, 0, 0, 0), "client_id": str(uuid.uuid4())}
    first = auth.post("/questionnaires/phq9", form)
    second = auth.post("/questionnaires/phq9", form)
    assert first.headers["location"] == second.headers["location"]
    assert count(db, QuestionnaireResponse) == 1


def test_changed_answers_sent_again_from_the_back_button_can_be_saved(client, db, auth,
                                                                      patient):
    client_id = str(uuid.uuid4())
    first = auth.post("/questionnaires/phq9", {**phq9_form(*[0] * 9), "client_id": client_id})
    assert first.status_code == 303
    # Back, change one answer, send the same form (same client id) again.
    changed = auth.post("/questionnaires/phq9",
                        {**phq9_form(*[1] * 9), "client_id": client_id})
    assert changed.status_code == 422
    page = text_of(changed)
    assert "that entry is saved" in page
    new_id = re.search(r'name="client_id" value="([^"]+)"', page).group(1)
    assert new_id != client_id
    assert checked(page, "q1") == {"1"}
    again = auth.post("/questionnaires/phq9", {**phq9_form(*[1] * 9), "client_id": new_id})
    assert again.status_code == 303
    assert sorted(r.score for r in db.exec(select(QuestionnaireResponse)).all()) == [0, 9]


# --- the safety path --------------------------------------------------------------------------


def test_phq9_item9_leads_to_the_screener_linked_to_it(client, db, auth, patient):
    phq_id, page = screener_after_phq9(client, auth)
    assert f'name="follows" value="{phq_id}"' in page
    for item in CSSRS.items:
        assert item.text in page
    phq = db.get(QuestionnaireResponse, uuid.UUID(phq_id))
    assert (phq.score, phq.follow_up) == (10, "cssrs")
    # The crisis resources come with the screener's questions, before them: a journey tester
    # found 988 nowhere on this page, only after the screener was sent.
    assert page.index("Call 988 (Suicide & Crisis Lifeline)") < page.index(CSSRS.items[0].text)
    assert "Text HOME to 741741" in page and "Call 911" in page


def test_a_high_risk_screen_shows_the_crisis_screen(client, db, auth, patient, prescriber_page):
    phq_id, _ = screener_after_phq9(client, auth)
    response = auth.post("/questionnaires/cssrs", {
        "follows": phq_id, "q1": "yes", "q2": "yes", "q3": "no", "q4": "yes", "q5": "no",
        "q6": "no"})
    assert response.status_code == 303
    match = RESULT_URL.match(response.headers["location"])
    assert match, response.headers["location"]
    screen = db.get(QuestionnaireResponse, uuid.UUID(match.group(1)))
    assert (screen.risk, str(screen.follows_id)) == ("high", phq_id)

    page = text_of(client.get(response.headers["location"]))
    assert "Please reach out now" in page
    assert 'href="tel:988"' in page and 'href="sms:988"' in page
    assert "741741" in page and "HOME" in page
    assert 'href="tel:911"' in page and "nearest emergency room" in page
    assert CARE_TEAM_DELAY in page

    # Both positive screens reach the prescriber, with the time and the answers.
    events = {e.kind: e for e in db.exec(select(SafetyEvent)).all()}
    assert events["phq9_item9"].level == "screened"  # never "low": the screener decided
    assert events["phq9_item9"].details["screened_risk"] == "high"
    assert events["positive_screen"].level == "high" and events["positive_screen"].holds_dosing
    patient_page = prescriber_page()
    assert "Safety events" in patient_page
    assert "Positive suicidality screen (CSSRS), risk high" in patient_page
    assert "PHQ-9 item 9 answered above 0: screener done, risk high" in patient_page
    assert "Dosing is on hold: a high-risk suicidality screen needs your review." in \
        patient_page
    # The answers in words, not item keys.
    assert ("Have you wished you were dead or wished you could go to sleep and not wake up? "
            "Yes") in patient_page
    assert "Have you had these thoughts and had some intention of acting on them? Yes" in \
        patient_page
    assert ("Have you ever done anything, started to do anything, or prepared to do anything "
            "to end your life? No") in patient_page
    assert "Was this within the past 3 months?" not in patient_page  # not asked after a no
    assert ("Thoughts that you would be better off dead or of hurting yourself in some way: "
            "More than half the days") in patient_page
    assert "q1=" not in patient_page and "q9=" not in patient_page
    local = screen.completed_at.astimezone(ZoneInfo(patient.timezone))
    assert format_datetime(local, "time") in patient_page


def test_a_double_submitted_high_risk_screen_still_shows_the_crisis_screen(client, db, auth,
                                                                          patient):
    form = {"client_id": str(uuid.uuid4()), "q1": "yes", "q2": "yes", "q3": "yes",
            "q4": "yes", "q5": "no", "q6": "no"}
    first = auth.post("/questionnaires/cssrs", form)
    second = auth.post("/questionnaires/cssrs", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert "Please reach out now" in text_of(client.get(second.headers["location"]))
    assert count(db, QuestionnaireResponse) == 1 and count(db, SafetyEvent) == 1


@pytest.mark.parametrize(
    "answers",
    [
        {"q1": "yes", "q2": "yes", "q3": "no", "q4": "no", "q5": "yes", "q6": "no"},
        {"q1": "no", "q2": "no", "q6": "yes", "q6_past_3_months": "yes"},
    ],
    ids=["plan", "behaviour"],
)
def test_a_plan_or_recent_behaviour_is_a_crisis_too(client, auth, patient, answers):
    response = auth.post("/questionnaires/cssrs", answers)
    page = text_of(follow(client, response))
    assert "Please reach out now" in page and CARE_TEAM_DELAY in page


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        ({"q1": "yes", "q2": "no", "q6": "no"}, "low"),
        ({"q1": "yes", "q2": "yes", "q3": "yes", "q4": "no", "q5": "no", "q6": "no"},
         "moderate"),
        ({"q1": "no", "q2": "no", "q6": "yes", "q6_past_3_months": "no"}, "moderate"),
    ],
    ids=["low", "method", "lifetime-behaviour"],
)
def test_a_lower_risk_screen_shows_support_resources(client, db, auth, patient, answers, risk,
                                                      prescriber_page):
    phq_id, _ = screener_after_phq9(client, auth)
    response = auth.post("/questionnaires/cssrs", {**answers, "follows": phq_id})
    page = text_of(follow(client, response))
    assert "Please reach out now" not in page
    assert "Thank you for telling us" in page
    assert 'href="tel:988"' in page and "741741" in page
    stored = db.exec(select(QuestionnaireResponse).where(
        QuestionnaireResponse.instrument == "cssrs")).one()
    assert stored.risk == risk
    assert f"Positive suicidality screen (CSSRS), risk {risk}" in prescriber_page()


def test_a_negative_screen_is_not_flagged(client, db, auth, patient):
    response = auth.post("/questionnaires/cssrs", {"q1": "no", "q2": "no", "q6": "no"})
    assert response.status_code == 303
    assert count(db, SafetyEvent) == 0


def test_without_javascript_the_unasked_screener_items_are_ignored(client, db, auth, patient):
    # The form shows Q3–Q5 to a browser without JavaScript; after "no" to Q2 they do not apply.
    response = auth.post("/questionnaires/cssrs", {
        "q1": "yes", "q2": "no", "q3": "yes", "q4": "yes", "q5": "yes", "q6": "no"})
    assert response.status_code == 303
    stored = db.exec(select(QuestionnaireResponse)).one()
    assert stored.answers == {"q1": True, "q2": False, "q3": None, "q4": None, "q5": None,
                              "q6": False, "q6_past_3_months": None}
    assert stored.risk == "low"


def test_without_javascript_the_3_month_follow_up_is_ignored_after_a_no(client, db, auth,
                                                                       patient):
    response = auth.post("/questionnaires/cssrs", {
        "q1": "no", "q2": "no", "q6": "no", "q6_past_3_months": "yes"})
    assert response.status_code == 303
    stored = db.exec(select(QuestionnaireResponse)).one()
    assert stored.answers["q6_past_3_months"] is None
    assert stored.risk == "none"


def test_a_yes_to_q6_needs_the_3_month_follow_up(client, db, auth, patient):
    response = auth.post("/questionnaires/cssrs", {"q1": "no", "q2": "no", "q6": "yes"})
    assert response.status_code == 422
    page = text_of(response)
    assert ('<p class="field-error" id="q6_past_3_months-error">Choose an answer for this '
            'question.</p>') in page
    assert 'aria-invalid="true" aria-describedby="q6_past_3_months-error"' in page
    assert checked(page, "q6") == {"yes"}
    assert count(db, QuestionnaireResponse) == 0


def test_the_first_screener_asks_the_follow_up_only_after_a_yes_to_q6(client, db, patient):
    page = text_of(client.get("/questionnaires/cssrs"))
    assert CSSRS.prompt in page
    assert 'data-asked-if="q6"' in page and "Was this within the past 3 months?" in page
    assert "Answer only if you answered yes to question 6." in page
    assert 'name="version" value="recent"' in page
    assert "6a." in page


def test_a_repeat_screener_asks_since_last_contact(client, db, auth, patient):
    first = auth.post("/questionnaires/cssrs", {"q1": "no", "q2": "no", "q6": "no"})
    assert first.status_code == 303
    page = text_of(client.get("/questionnaires/cssrs"))
    assert "Since last contact:" in page
    assert ("Have you done anything, started to do anything, or prepared to do anything to "
            "end your life?") in page
    assert "Was this within the past 3 months?" not in page
    assert "q6_past_3_months" not in page
    assert 'name="version" value="since_last_contact"' in page
    second = auth.post("/questionnaires/cssrs", {
        "q1": "no", "q2": "no", "q6": "yes", "version": "since_last_contact"})
    assert "Please reach out now" in text_of(follow(client, second))
    screens = db.exec(select(QuestionnaireResponse).order_by(
        QuestionnaireResponse.completed_at)).all()
    assert [(s.version, s.risk) for s in screens] == [("recent", "none"),
                                                      ("since_last_contact", "high")]


def test_answers_from_form_follows_the_skip_logic():
    assert answers_from_form(CSSRS, {"q1": "no", "q2": "no", "q3": "yes", "q4": "no",
                                     "q5": "yes", "q6": "no", "q6_past_3_months": "no"}) == [
        False, False, None, None, None, False, None]
    assert answers_from_form(CSSRS, {"q1": "no", "q2": "yes", "q3": "yes", "q4": "no",
                                     "q5": "no", "q6": "yes", "q6_past_3_months": "no"}) == [
        False, True, True, False, False, True, False]
    # Q2 unanswered: Q3–Q5 are not asked either, and Q2 itself is reported missing.
    assert answers_from_form(CSSRS, {"q1": "no", "q3": "yes", "q6": "no"}) == [
        False, None, None, None, None, False, None]
    assert answers_from_form(CSSRS_SINCE_LAST_CONTACT, {
        "q1": "no", "q2": "no", "q6": "yes", "q6_past_3_months": "yes"}) == [
        False, False, None, None, None, True, None]
    assert answers_from_form(PHQ9, {"q1": "3", "q9": "", "q2": "x"})[:3] == [3, "x", None]
    assert answers_from_form(PHQ9, {"difficulty": "somewhat_difficult"})[-1] == (
        "somewhat_difficult")
    assert answers_from_form(PHQ9, {})[-1] is None


def test_q2_yes_with_q3_left_out_is_refused_with_the_item_marked(client, db, auth, patient):
    response = auth.post("/questionnaires/cssrs", {"q1": "yes", "q2": "yes", "q4": "no",
                                                   "q5": "no", "q6": "no"})
    assert response.status_code == 422
    page = text_of(response)
    assert '<p class="field-error" id="q3-error">Choose an answer for this question.</p>' in page
    assert checked(page, "q2") == {"yes"}
    assert count(db, QuestionnaireResponse) == 0 and count(db, SafetyEvent) == 0


def test_a_result_page_is_only_for_its_patient(client, db, auth, patient):
    response = auth.post("/questionnaires/phq9", phq9_form(*[0] * 9))
    url = response.headers["location"]
    with another_client() as other:
        someone = factories.user(db, role="patient")
        db.commit()
        Auth(other).login(someone.email)
        assert other.get(url).status_code == 404


def test_the_crisis_help_is_one_tap_from_every_page(client, patient):
    for path in ("/checkins", "/questionnaires/phq9", "/checkins/daily", "/trends"):
        assert 'href="/help"' in client.get(path).text, path
    help_page = text_of(client.get("/help"))
    assert "741741" in help_page and "they answer day and night" in help_page
    # Nothing was answered on the help page: it does not speak of "your answers".
    assert CARE_TEAM_DELAY not in help_page


def test_prescribers_do_not_fill_in_patient_questionnaires(client, login_as):
    login_as("prescriber")
    assert client.get("/questionnaires/phq9").status_code in (403, 404)


# --- check-in forms -----------------------------------------------------------------------------


def test_the_daily_mood_form_saves_and_says_so(client, db, auth, patient):
    form = client.get("/checkins/daily")
    assert form.status_code == 200 and "Mood right now" in form.text
    response = auth.post("/checkins/daily", {"mood": "6", "note": "Better."})
    assert response.status_code == 303
    assert response.headers["location"] == "/checkins?saved=1"
    assert "Your check-in is saved" in text_of(client.get(response.headers["location"]))
    assert db.exec(select(CheckIn)).one().values == {"mood": 6, "note": "Better."}


def test_an_empty_checkin_is_422_with_a_message(client, db, auth, patient):
    response = auth.post("/checkins/daily", {"note": ""})
    assert response.status_code == 422
    assert "Answer at least one question." in text_of(response)
    assert count(db, CheckIn) == 0


def test_a_bad_value_is_422_next_to_its_field_keeping_the_others(client, db, auth, patient):
    dose = dose_now(db, patient)
    response = auth.post("/checkins/plus40", {
        "dose_id": str(dose.id), "systolic": "120", "diastolic": "130", "nausea": "mild"})
    assert response.status_code == 422
    page = text_of(response)
    assert "The lower number (diastolic) must be below the upper (systolic)." in page
    assert 'id="diastolic-error"' in page
    assert 'value="120"' in page and checked(page, "nausea") == {"mild"}
    assert count(db, CheckIn) == 0


def test_a_session_checkin_without_its_dose_says_why(client, db, auth, patient):
    response = auth.post("/checkins/plus40", {"sedation": "1"})
    assert response.status_code == 422
    assert "This check-in follows a dose, and there is no recent dose for it." in text_of(response)
    assert count(db, CheckIn) == 0


def test_the_session_form_names_the_dose(client, db, patient):
    dose = dose_now(db, patient)
    page = text_of(client.get(f"/checkins/plus40?dose={dose.id}"))
    assert f'name="dose_id" value="{dose.id}"' in page
    assert "For your dose of 100 mg" in page
    assert "Hard to rouse" in page and "call 911 and put you on your side" in page
    # Sedation is the sitter's observation: the patient's own form says to ask them, and its
    # hints speak to the patient (it read "put them on their side").
    assert "Sedation: ask your sitter to answer this" in page
    assert "put them on their side" not in page and "(sitter's observation)" not in page
    end = text_of(client.get(f"/checkins/end?dose={dose.id}"))
    assert "you respond normally and your blood pressure is below the hold level" in end


def test_someone_elses_dose_is_404(client, db, patient):
    other = factories.user(db, role="patient")
    factories.link(db, other, factories.user(db, role="prescriber"))
    theirs = dose_now(db, other)
    assert client.get(f"/checkins/plus40?dose={theirs.id}").status_code == 404
    assert Auth(client).post("/checkins/plus40", {"dose_id": str(theirs.id),
                                                  "sedation": "1"}).status_code == 404
    assert client.get("/checkins/lunch").status_code == 404


def test_hard_to_rouse_shows_emergency_guidance_and_is_flagged(client, db, auth, patient,
                                                               prescriber_page):
    dose = dose_now(db, patient)
    response = auth.post("/checkins/plus40", {"dose_id": str(dose.id), "sedation": "3"})
    assert response.status_code == 200
    page = text_of(response)
    assert "recovery position" in page
    assert "Call 911" in page and 'href="tel:911"' in page
    assert "Your check-in is saved." in page
    event = db.exec(select(SafetyEvent)).one()
    assert (event.kind, event.level) == ("hard_to_rouse", "high")
    assert "Hard to rouse during a session" in prescriber_page()


def test_a_severe_side_effect_is_flagged_to_the_prescriber(client, db, auth, patient,
                                                           prescriber_page):
    dose = dose_now(db, patient)
    response = auth.post("/checkins/plus40", {"dose_id": str(dose.id), "nausea": "severe",
                                              "sedation": "1"})
    assert response.status_code == 303
    event = db.exec(select(SafetyEvent)).one()
    assert event.kind == "severe_side_effect"
    page = prescriber_page()
    assert "Severe side effect" in page
    assert "Nausea: severe" in page
    assert "Sedation: Drowsy, but responds to their name in a normal voice" in page


def test_a_crisis_blood_pressure_shows_emergency_guidance(client, db, auth, patient):
    dose = dose_now(db, patient)
    response = auth.post("/checkins/plus40", {"dose_id": str(dose.id), "systolic": "184",
                                              "diastolic": "104"})
    assert response.status_code == 200
    page = text_of(response)
    # Either number: "180/120 or higher" read to a patient at 186/100 as not theirs.
    assert "the upper number is 180 or more, or the lower number 120 or more" in page
    assert "measure again in 5 minutes" in page and "call 911" in page
    event = db.exec(select(SafetyEvent)).one()
    assert (event.kind, event.level) == ("bp_emergency", "high")


def test_ready_to_be_alone_too_soon_is_refused_next_to_the_field(client, db, auth, patient):
    # The end of session opens 5 minutes before the observation time is over (120 minutes);
    # "ready to be alone" waits for the whole of it.
    dose = dose_now(db, patient, minutes_ago=117)
    response = auth.post("/checkins/end", {"dose_id": str(dose.id), "systolic": "124",
                                           "diastolic": "80", "sedation": "0",
                                           "ready_alone": "yes"})
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="ready_alone-error"' in page
    allowed = (dose.taken_at + timedelta(minutes=120)).astimezone(ZoneInfo(patient.timezone))
    assert format_datetime(allowed, "time") in page
    assert checked(page, "ready_alone") == {"yes"} and 'value="124"' in page
    assert count(db, CheckIn) == 0


def test_the_end_of_session_opens_when_the_observation_time_is_over(client, db, auth, patient):
    """A tester saved the end of session two minutes after the dose, and it was marked Done:
    the form says when it opens before anything is typed, and an entry before then is refused
    with that time, saving nothing."""
    dose = dose_now(db, patient)  # taken 41 minutes ago
    opens = (dose.taken_at + timedelta(minutes=115)).astimezone(ZoneInfo(patient.timezone))
    words = ("The end-of-session check-in opens at "
             f"{format_datetime(opens, 'time')}, 5 minutes before the observation time is over.")
    assert words in text_of(client.get(f"/checkins/end?dose={dose.id}"))
    assert words in text_of(client.get("/checkins/end"))  # the latest dose's
    response = auth.post("/checkins/end", {"dose_id": str(dose.id), "systolic": "124",
                                           "diastolic": "80"})
    assert response.status_code == 422 and words in text_of(response)
    assert 'value="124"' in response.text
    assert count(db, CheckIn) == 0
    # The +40 recheck is open now, and its form says nothing of opening.
    assert "opens at" not in text_of(client.get(f"/checkins/plus40?dose={dose.id}"))


def test_the_checkin_list_shows_what_is_due(client, db, patient):
    dose = dose_now(db, patient)  # taken 41 minutes ago: the +40 recheck is due now
    page = text_of(client.get("/checkins"))
    assert f'href="/checkins/plus40?dose={dose.id}"' in page
    assert "Due now" in page
    assert 'href="/questionnaires/phq9"' in page and 'href="/checkins/daily"' in page


def test_the_checkin_list_says_when_a_later_session_checkin_opens(client, db, patient):
    """The list said "Later · 10:10 PM" (when it is due) while the form said "opens at
    10:05 PM": the list gives the opening time too."""
    from app.templating import local_time

    dose = dose_now(db, patient, minutes_ago=10)
    opens = local_time(dose.taken_at + timedelta(minutes=35), patient.timezone)
    due = local_time(dose.taken_at + timedelta(minutes=40), patient.timezone)
    item = re.search(rf'<a href="/checkins/plus40\?dose={dose.id}">.*?</li>',
                     client.get("/checkins").text, re.S).group(0)
    assert "Later" in item and f"Opens {opens}" in item and due not in item


def test_the_session_record_reaches_the_prescriber(client, db, auth, patient, prescriber_page):
    dose = dose_now(db, patient)
    auth.post("/checkins/plus40", {"dose_id": str(dose.id), "systolic": "142",
                                   "diastolic": "90", "dissociation": "6", "sedation": "1"})
    auth.post("/checkins/plus40", {"dose_id": str(dose.id), "systolic": "136",
                                   "diastolic": "86"})
    page = prescriber_page()
    assert "Session record" in page  # in the timeline, under the dose
    assert "142/90" in page and "6/10" in page and "drowsy, responds to their name" in page
    # Every reading, not only the last: both rechecks are in the readings table.
    table = re.search(r'<table class="table readings">.*?</table>', page, re.S).group(0)
    assert "142/90" in table and "136/86" in table


def test_a_prescriber_elsewhere_reads_the_session_in_the_patients_zone(
        client, db, auth, patient, prescriber_page):
    """The dose above the record says its time in the patient's zone; the readings under it
    said the viewer's, unlabelled, so a reading 7 minutes before a 6:37 PM CST dose read
    "7:30 PM"."""
    from app.careteam import access
    from app.careteam.models import Relation

    prescriber = access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]
    prescriber.timezone = "Asia/Tokyo"  # never the patient's offset
    db.add(prescriber)
    db.commit()
    dose = dose_now(db, patient)
    auth.post("/checkins/plus40", {"dose_id": str(dose.id), "systolic": "142",
                                   "diastolic": "90", "sedation": "1"})
    [reading] = db.exec(select(CheckIn).where(CheckIn.dose_id == dose.id)).all()
    page = prescriber_page()
    table = re.search(r'<table class="table readings">.*?</table>', page, re.S).group(0)
    theirs = reading.recorded_at.astimezone(ZoneInfo(patient.timezone))
    tokyo = reading.recorded_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"Time ({theirs.strftime('%Z')})" in table
    # Whole times between tags: "1:26 PM" is inside "11:26 PM".
    assert f'>{format_datetime(theirs, "time")}<' in table
    assert f'>{format_datetime(tokyo, "time")}<' not in table
