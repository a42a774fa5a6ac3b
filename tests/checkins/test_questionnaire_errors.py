"""A refused questionnaire or check-in marks every field that is wrong at once, each beside its
question in words a patient reads (never an item key such as "q2"), with a summary that takes
focus and the answers given kept; the API and the phone's outbox get the same words."""

import html
import re

import pytest
from sqlmodel import func, select

from app.checkins.instruments import CSSRS, GAD7, PHQ9, IncompleteAnswers, normalise
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.checkins.service import clean_values
from app.errors import Invalid
from tests.factories import sync_item, sync_post
from tests.supervision.test_pages import post_form, supported

CHOOSE = "Choose an answer for this question."
ELIJA = "Elija una respuesta para esta pregunta."


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def visible_text(page: str) -> str:
    """What a person reads: the page without its tags (names, ids and values are not read)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def errors_by_item(page: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="field-error" id="(\w+)-error">([^<]*)</p>', page))


def checked(page: str, name: str) -> set[str]:
    found = set()
    for tag in re.findall(rf'<input type="radio" name="{name}"[^>]*>', page):
        if re.search(r"\schecked(\s|>|$)", tag):
            found.add(re.search(r'value="([^"]*)"', tag).group(1))
    return found


def summary(page: str) -> str | None:
    found = re.search(r'<div class="alert alert-error error-summary"([^>]*)>(.*?)</div>', page,
                      re.S)
    if not found:
        return None
    assert 'tabindex="-1"' in found.group(1) and "data-focus" in found.group(1)
    assert 'role="alert"' in found.group(1)
    return visible_text(found.group(2))


@pytest.fixture
def patient(db, login_as):
    return login_as("patient")


def test_every_unanswered_phq9_item_is_marked_in_words_and_the_answer_given_kept(
        client, db, auth, patient):
    response = auth.post("/questionnaires/phq9", {"q1": "2"})
    assert response.status_code == 422
    page = response.text
    assert errors_by_item(page) == {f"q{n}": CHOOSE for n in range(2, 10)}
    for n in range(2, 10):
        assert f'aria-invalid="true" aria-describedby="q{n}-error"' in page
    assert 'aria-describedby="difficulty-error"' not in page  # optional: never required
    assert summary(page) == "8 questions need an answer. Each one is marked below."
    assert page.count("data-focus") == 1  # the summary takes focus (app.js), not the heading
    assert checked(page, "q1") == {"2"}
    assert not re.search(r"\bq\d", visible_text(page))
    assert "Answer item" not in page
    assert count(db, QuestionnaireResponse) == 0


def _crisis_shown(page: str) -> bool:
    block = re.search(r'<div class="stack" id="q9-crisis"[^>]*><div class="([^"]*)">', page)
    assert block, "the PHQ-9 page keeps the crisis resources beside item 9"
    return "shown" in block.group(1).split()


@pytest.mark.parametrize(("q9", "shown"), [("2", True), ("1", True), ("0", False),
                                            (None, False)])
def test_item_9_above_0_brings_the_crisis_resources_even_when_the_rest_is_unanswered(
        client, db, auth, patient, q9, shown):
    """A tester answered item 9 and three others and left the rest: the page that came back
    listed the five unanswered and said nothing of help, and nothing was saved."""
    answers = {"q1": "1", "q2": "2", "q3": "1"} | ({"q9": q9} if q9 else {})
    page = auth.post("/questionnaires/phq9", answers).text
    assert _crisis_shown(page) is shown
    assert "tel:988" in page  # kept beside item 9 for app.css to show once chosen
    assert count(db, QuestionnaireResponse) == 0
    assert not _crisis_shown(client.get("/questionnaires/phq9").text)


def test_one_unanswered_item_is_said_in_the_singular(client, auth, patient):
    page = auth.post("/questionnaires/gad7", {f"q{n}": "1" for n in range(1, 7)}).text
    assert errors_by_item(page) == {"q7": CHOOSE}
    assert summary(page) == "1 question needs an answer. It is marked below."


def test_a_screener_marks_each_question_it_asks(client, auth, patient):
    page = auth.post("/questionnaires/cssrs", {"version": "recent"}).text
    # Q3–Q5 are asked only after a yes to Q2, the 3-month follow-up after a yes to Q6.
    assert errors_by_item(page) == {"q1": CHOOSE, "q2": CHOOSE, "q6": CHOOSE}
    assert summary(page) == "3 questions need an answer. Each one is marked below."


def test_the_spanish_page_marks_each_item_in_spanish(client, db, auth, login_as):
    login_as("patient", language="es")
    response = auth.post("/questionnaires/phq9", {"q1": "2", "q3": "1"})
    assert response.status_code == 422
    page = response.text
    assert errors_by_item(page) == {f"q{n}": ELIJA for n in (2, *range(4, 10))}
    assert summary(page) == ("7 preguntas necesitan una respuesta. Cada una está marcada "
                             "abajo.")
    assert checked(page, "q1") == {"2"} and checked(page, "q3") == {"1"}
    text = visible_text(page)
    assert not re.search(r"\bq\d", text)
    assert "Conteste la pregunta" not in text


def test_the_api_and_the_outbox_get_each_item_and_a_whole_in_words(client, patient):
    item = sync_item("questionnaire", {"instrument": "phq9", "answers": [1] + [None] * 8})
    (result,) = sync_post(client, item).json()["results"]
    assert result["status"] == "rejected"
    assert result["errors"] == {f"q{n}": CHOOSE for n in range(2, 10)}
    # The outbox shows `detail` to the patient when the entry is refused.
    assert result["detail"] == "8 questions need an answer."


def test_the_form_offers_the_same_words_to_the_phone(client, patient):
    """With JavaScript (online or offline) the browser's own check stops the form; app.js marks
    each unanswered question with these words, the server's."""
    page = client.get("/questionnaires/phq9").text
    assert f'data-text-unanswered="{CHOOSE}"' in page


@pytest.mark.parametrize(("instrument", "answers", "expected"), [
    (PHQ9, [0] + [None] * 8, {f"q{n}": CHOOSE for n in range(2, 10)}),
    (GAD7, [None, 0, None, 0, 0, 0, None], {"q1": CHOOSE, "q3": CHOOSE, "q7": CHOOSE}),
    (PHQ9, [4, 0, None, 0, 0, 0, 0, 0, 0],
     {"q1": "Choose one of the answers shown.", "q3": CHOOSE}),
    # Q2 missing: Q3 is then not asked, and an answer sent for it is refused too.
    (CSSRS, [False, None, True, None, None, None, None],
     {"q2": CHOOSE, "q3": "Leave this question unanswered unless you answered yes to question 2.",
      "q6": CHOOSE}),
])
def test_normalise_reports_every_item_at_once(instrument, answers, expected):
    with pytest.raises(IncompleteAnswers) as err:
        normalise(instrument, answers)
    assert err.value.errors == expected
    assert err.value.item == next(iter(expected))


# --- check-ins and the sitter's checklist: every number out of range at once --------------------


def test_every_reading_out_of_range_is_marked_at_once():
    with pytest.raises(Invalid) as err:
        clean_values({"systolic": 999, "diastolic": 0, "heart_rate": -3})
    assert err.value.errors == {"systolic": "Enter a whole number from 50 to 300.",
                                "diastolic": "Enter a whole number from 30 to 200.",
                                "heart_rate": "Enter a whole number from 20 to 250."}
    assert err.value.message == (
        "Blood pressure, upper (systolic): Enter a whole number from 50 to 300. "
        "Blood pressure, lower (diastolic): Enter a whole number from 30 to 200. "
        "Pulse: Enter a whole number from 20 to 250.")
    with pytest.raises(Invalid) as err:  # one error reads as before: its own words
        clean_values({"systolic": 120, "diastolic": 130})
    assert err.value.message == "The lower number (diastolic) must be below the upper (systolic)."
    assert err.value.errors == {"diastolic": err.value.message}


def test_the_patients_check_in_marks_every_reading(client, db, auth, patient):
    response = auth.post("/checkins/pre", {"systolic": "999", "diastolic": "0",
                                           "heart_rate": "-3", "mood": "6"})
    assert response.status_code == 422
    assert set(errors_by_item(response.text)) == {"systolic", "diastolic", "heart_rate"}
    assert count(db, CheckIn) == 0


def test_the_sitters_checklist_marks_every_reading(client, db, login_as):
    sitter = login_as("caregiver", display_name="Alex Sitter")
    patient = supported(db, sitter)
    response = post_form(client, f"/supporting/{patient.id}/session/sitter_check", {
        "sitter_present": "yes", "bp_taken": "yes", "safe_place": "yes", "no_driving": "yes",
        "systolic": "999", "diastolic": "0", "heart_rate": "-3"})
    assert response.status_code == 422
    errors = errors_by_item(response.text)
    assert set(errors) == {"systolic", "diastolic", "heart_rate"}, errors
    assert count(db, CheckIn) == 0
