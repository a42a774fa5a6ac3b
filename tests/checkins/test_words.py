"""Answers and check-in values in words for the prescriber's screens: each item's text with the
answer's label, each measure's label with its value, never item keys or codes."""

from app.checkins.words import Worded, answers_in_words, values_in_words

Q1 = "Have you wished you were dead or wished you could go to sleep and not wake up?"


def pairs(worded: list[Worded]) -> list[tuple[str, str]]:
    return [(w.text, w.answer) for w in worded]


def test_screener_answers_in_words_only_what_was_asked():
    answers = {"q1": True, "q2": False, "q3": None, "q4": None, "q5": None, "q6": True,
               "q6_past_3_months": False}
    assert pairs(answers_in_words("cssrs", answers, "recent")) == [
        (Q1, "Yes"),
        ("Have you actually had any thoughts of killing yourself?", "No"),
        ("Have you ever done anything, started to do anything, or prepared to do anything to "
         "end your life?", "Yes"),
        ("Was this within the past 3 months?", "No"),
    ]


def test_since_last_contact_answers_say_so():
    answers = {"q1": False, "q2": False, "q3": None, "q4": None, "q5": None, "q6": False,
               "q6_past_3_months": None}
    worded = answers_in_words("cssrs", answers, "since_last_contact")
    assert pairs(worded)[-1] == (
        "Since last contact: Have you done anything, started to do anything, or prepared to "
        "do anything to end your life?", "No")
    assert worded[0].text == f"Since last contact: {Q1}"


def test_the_version_is_inferred_when_not_given():
    # A yes to Q6 with no follow-up can only be the since-last-contact version.
    answers = {"q1": False, "q2": False, "q3": None, "q4": None, "q5": None, "q6": True,
               "q6_past_3_months": None}
    assert answers_in_words("cssrs", answers)[-1].text.startswith("Since last contact: ")
    answers["q6_past_3_months"] = True
    assert pairs(answers_in_words("cssrs", answers))[-1] == (
        "Was this within the past 3 months?", "Yes")


def test_screens_stored_before_the_follow_up_existed_keep_the_question_they_asked():
    legacy = {"q1": True, "q2": True, "q3": False, "q4": False, "q5": False, "q6": False}
    worded = pairs(answers_in_words("cssrs", legacy))
    assert worded[-1] == ("In the past 3 months, have you done anything, started to do "
                          "anything, or prepared to do anything to end your life?", "No")
    assert worded[1] == ("Have you actually had any thoughts about killing yourself?", "Yes")


def test_phq9_answers_in_words_with_the_difficulty_item():
    answers = {f"q{i}": 0 for i in range(1, 9)} | {"q9": 2, "difficulty": "very_difficult"}
    worded = pairs(answers_in_words("phq9", answers))
    assert worded[0] == ("Little interest or pleasure in doing things", "Not at all")
    assert worded[8] == ("Thoughts that you would be better off dead or of hurting yourself "
                         "in some way", "More than half the days")
    assert worded[9][1] == "Very difficult"
    # Left blank: not shown.
    answers["difficulty"] = None
    assert len(answers_in_words("phq9", answers)) == 9


def test_unknown_instruments_and_values_fall_back_to_what_was_stored():
    assert pairs(answers_in_words("bdi", {"q1": 2})) == [("q1", "2")]
    assert pairs(answers_in_words("phq9", {"q1": 7})) == [
        ("Little interest or pleasure in doing things", "7")]


def test_checkin_values_in_words_in_catalogue_order():
    values = {"note": "Slept a lot", "nausea": "severe", "sedation": 1, "diastolic": 100,
              "systolic": 184, "heart_rate": 92, "dissociation": 6, "ready_alone": False}
    assert pairs(values_in_words(values)) == [
        ("Dissociation", "6/10"),
        ("Sedation", "Drowsy, but responds to their name in a normal voice"),
        ("Nausea", "severe"),
        ("Blood pressure", "184/100 mmHg"),
        ("Pulse", "92/min"),
        ("Ready to be alone", "No"),
        ("Notes", "Slept a lot"),
    ]


def test_half_a_blood_pressure_reading_still_shows():
    assert pairs(values_in_words({"systolic": 150})) == [
        ("Blood pressure, upper (systolic)", "150 mmHg")]


def test_daily_values_in_words():
    assert pairs(values_in_words({"mood": 3, "slept": True, "residual": "mild"})) == [
        ("Mood right now", "3/10"), ("Slept well last night", "Yes"),
        ("Leftover effects this morning", "mild")]
    assert pairs(values_in_words({"mystery": 1})) == [("mystery", "1")]
