"""The instrument catalogue against hand-worked examples: totals, bands, follow-up and the
C-SSRS screener's triage, plus every way an answer set can be unscorable."""

import pytest

from app.checkins.instruments import (
    CATALOGUE,
    CSSRS,
    CSSRS_SINCE_LAST_CONTACT,
    DIFFICULTY_TEXT,
    GAD7,
    PHQ9,
    RISK_LEVEL_LOINC,
    IncompleteAnswers,
    instrument_for,
    normalise,
    risk_loinc,
    score,
)


def scored(instrument, answers):
    return score(instrument, normalise(instrument, answers))


# --- PHQ-9 ------------------------------------------------------------------------------------
# Each row is worked by hand: the answers, their sum, and the band the published cut-offs give
# (0–4 minimal, 5–9 mild, 10–14 moderate, 15–19 moderately severe, 20–27 severe).


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),  # 1+1+1+1
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),  # 1×5
        ([3, 3, 3, 0, 0, 0, 0, 0, 0], 9, "mild"),  # 3×3
        ([3, 3, 3, 1, 0, 0, 0, 0, 0], 10, "moderate"),  # 9+1
        ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate"),  # 2×7
        ([3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "moderately_severe"),  # 3×5
        ([3, 3, 3, 3, 3, 2, 2, 0, 0], 19, "moderately_severe"),  # 15+2+2
        ([3, 3, 3, 3, 2, 2, 2, 2, 0], 20, "severe"),  # 12+8
        ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),  # 3×9
    ],
)
def test_phq9_total_and_band_at_each_boundary(answers, total, band):
    result = scored(PHQ9, answers)
    assert result.total == total
    assert result.band == band
    assert result.risk is None


def test_phq9_band_labels_read_as_people_say_them():
    assert scored(PHQ9, [3, 3, 3, 3, 3, 0, 0, 0, 0]).band_label == "Moderately severe"
    assert scored(PHQ9, [0] * 9).band_label == "Minimal"


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_above_zero_leads_to_the_cssrs_screener(item9):
    # Even when the total is minimal: it is the item, not the score, that decides.
    result = scored(PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, item9])
    assert result.follow_up == "cssrs"
    assert result.total == item9
    assert result.band == "minimal"


def test_phq9_item9_zero_has_no_follow_up_even_when_severe():
    result = scored(PHQ9, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert result.total == 24
    assert result.band == "severe"
    assert result.follow_up is None


# --- GAD-7 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
        ([2, 2, 0, 0, 0, 0, 0], 4, "minimal"),
        ([2, 2, 1, 0, 0, 0, 0], 5, "mild"),
        ([3, 3, 3, 0, 0, 0, 0], 9, "mild"),
        ([3, 3, 3, 1, 0, 0, 0], 10, "moderate"),
        ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
        ([3, 3, 3, 3, 3, 0, 0], 15, "severe"),
        ([3, 3, 3, 3, 3, 3, 3], 21, "severe"),
    ],
)
def test_gad7_total_and_band_at_each_boundary(answers, total, band):
    result = scored(GAD7, answers)
    assert (result.total, result.band) == (total, band)
    assert result.follow_up is None  # GAD-7 is trend only


# --- the optional "how difficult" item of PHQ-9 and GAD-7 ---------------------------------------


@pytest.mark.parametrize("instrument", [PHQ9, GAD7], ids=["phq9", "gad7"])
def test_the_difficulty_item_is_last_optional_and_not_scored(instrument):
    item = instrument.items[-1]
    assert item.key == "difficulty"
    assert item.text == DIFFICULTY_TEXT == (
        "If you checked off any problems, how difficult have these problems made it for you "
        "to do your work, take care of things at home, or get along with other people?")
    assert [o.label for o in instrument.options_for(item)] == [
        "Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult"]
    assert (item.optional, item.scored) == (True, False)
    n = len(instrument.items) - 1
    answered = normalise(instrument, [3] * n + ["extremely_difficult"])
    assert answered["difficulty"] == "extremely_difficult"
    # Not part of the total: all 3s are the maximum score either way.
    assert score(instrument, answered).total == instrument.max_score


@pytest.mark.parametrize("instrument", [PHQ9, GAD7], ids=["phq9", "gad7"])
def test_the_difficulty_item_may_be_left_blank_or_left_out(instrument):
    n = len(instrument.items) - 1
    blank = normalise(instrument, [1] * n + [None])
    assert blank["difficulty"] is None and len(blank) == n + 1
    # An older client that sends only the scored items: the blank item is still in the answers.
    assert normalise(instrument, [1] * n) == blank
    assert score(instrument, blank).total == n


@pytest.mark.parametrize(
    ("instrument", "value"),
    [(PHQ9, 0), (PHQ9, 3), (PHQ9, "Very difficult"), (PHQ9, True), (GAD7, "hard"),
     (GAD7, 1)],
)
def test_the_difficulty_answer_is_one_of_its_own_options(instrument, value):
    n = len(instrument.items) - 1
    with pytest.raises(IncompleteAnswers) as err:
        normalise(instrument, [0] * n + [value])
    assert err.value.item == "difficulty"


def test_only_the_optional_item_may_be_left_out():
    with pytest.raises(IncompleteAnswers):
        normalise(PHQ9, [0] * 8)
    with pytest.raises(IncompleteAnswers):
        normalise(GAD7, [0] * 6)


# --- C-SSRS screener, recent version -----------------------------------------------------------
# Answers are Q1..Q6 and the 3-month follow-up to Q6; Q3–Q5 are null unless Q2 is yes, and the
# follow-up is null unless Q6 is yes.


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        ([False, False, None, None, None, False, None], "none"),
        ([True, False, None, None, None, False, None], "low"),  # wish to be dead only
        ([False, True, False, False, False, False, None], "low"),  # thoughts, nothing more
        ([True, True, True, False, False, False, None], "moderate"),  # Q2 + Q3 (method)
        ([True, True, False, True, False, False, None], "high"),  # Q4 intent
        ([False, True, False, False, True, False, None], "high"),  # Q5 plan
        ([False, False, None, None, None, True, True], "high"),  # behaviour in past 3 months
        ([False, False, None, None, None, True, False], "moderate"),  # lifetime only
        ([True, False, None, None, None, True, False], "moderate"),  # lifetime + wish
        ([False, True, True, False, False, True, False], "moderate"),  # lifetime + method
        ([False, True, False, True, False, True, False], "high"),  # lifetime + intent
        ([False, True, False, False, True, True, False], "high"),  # lifetime + plan
        ([True, True, True, True, True, True, True], "high"),
    ],
)
def test_cssrs_triage(answers, risk):
    result = scored(CSSRS, answers)
    assert result.risk == risk
    assert result.crisis is (risk == "high")
    assert result.total is None and result.band is None


def test_cssrs_skipped_items_are_stored_as_null_in_item_order():
    answers = normalise(CSSRS, [True, False, None, None, None, False, None])
    assert list(answers.items()) == [
        ("q1", True), ("q2", False), ("q3", None), ("q4", None), ("q5", None), ("q6", False),
        ("q6_past_3_months", None)]


@pytest.mark.parametrize(
    ("answers", "item"),
    [
        # Q2 no, yet Q3 answered: the skip logic was not followed.
        ([False, False, True, None, None, False, None], "q3"),
        ([False, False, None, None, False, False, None], "q5"),
        # Q2 yes, yet Q3 left out: incomplete, never scored as if "no".
        ([False, True, None, False, False, False, None], "q3"),
        ([False, True, False, False, None, False, None], "q5"),
        # Q1, Q2 and Q6 are always asked.
        ([None, False, None, None, None, False, None], "q1"),
        ([False, False, None, None, None, None, None], "q6"),
        # The 3-month follow-up: only after a yes to Q6, and then it must be answered.
        ([False, False, None, None, None, False, True], "q6_past_3_months"),
        ([False, False, None, None, None, False, False], "q6_past_3_months"),
        ([False, False, None, None, None, True, None], "q6_past_3_months"),
        ([False, False, None, None, None, True, 1], "q6_past_3_months"),
    ],
)
def test_cssrs_skip_logic_is_enforced(answers, item):
    with pytest.raises(IncompleteAnswers) as err:
        normalise(CSSRS, answers)
    assert err.value.item == item
    assert item in str(err.value)


def test_the_old_six_answer_shape_is_refused():
    with pytest.raises(IncompleteAnswers) as err:
        normalise(CSSRS, [False, False, None, None, None, False])
    assert "7" in str(err.value) and "6" in str(err.value)


def test_the_recent_screener_wording_as_published():
    texts = {i.key: i.text for i in CSSRS.items}
    assert texts["q2"] == "Have you actually had any thoughts of killing yourself?"
    assert texts["q5"] == ("Have you started to work out or worked out the details of how to "
                           "kill yourself? Do you intend to carry out this plan?")
    assert texts["q6"] == ("Have you ever done anything, started to do anything, or prepared "
                           "to do anything to end your life?")
    assert texts["q6_past_3_months"] == "Was this within the past 3 months?"
    follow_up = CSSRS.items[-1]
    assert follow_up.asked_if == ("q6", True)
    assert CSSRS.number_of("q6_past_3_months") == "6a"
    assert [CSSRS.number_of(i.key) for i in CSSRS.items[:6]] == ["1", "2", "3", "4", "5", "6"]


# --- C-SSRS screener, since-last-contact version (repeat screens) ------------------------------
# Same seven answers; the behaviour question asks about the time since last contact, so it has
# no 3-month follow-up (always null) and a yes is recent behaviour: high risk.


def test_the_since_last_contact_version_keeps_the_answer_shape():
    slc = CSSRS_SINCE_LAST_CONTACT
    assert (slc.key, slc.version, CSSRS.version) == ("cssrs", "since_last_contact", "recent")
    assert [i.key for i in slc.items] == [i.key for i in CSSRS.items]
    assert slc.prompt == "Since last contact:"
    assert slc.items[0].text == CSSRS.items[0].text
    assert slc.items[5].text == ("Have you done anything, started to do anything, or prepared "
                                 "to do anything to end your life?")
    assert slc.items[6].asked is False
    assert instrument_for("cssrs", "since_last_contact") is slc
    assert instrument_for("cssrs", "recent") is instrument_for("cssrs") is CSSRS
    assert instrument_for("cssrs", "weekly") is None
    assert instrument_for("phq9") is PHQ9 and instrument_for("phq9", "recent") is None


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        ([False, False, None, None, None, False, None], "none"),
        ([True, False, None, None, None, False, None], "low"),
        ([True, True, True, False, False, False, None], "moderate"),
        ([True, True, False, False, True, False, None], "high"),
        ([False, False, None, None, None, True, None], "high"),  # behaviour since last contact
    ],
)
def test_since_last_contact_triage(answers, risk):
    assert scored(CSSRS_SINCE_LAST_CONTACT, answers).risk == risk


@pytest.mark.parametrize("follow_up", [True, False])
def test_since_last_contact_never_asks_the_3_month_follow_up(follow_up):
    with pytest.raises(IncompleteAnswers) as err:
        normalise(CSSRS_SINCE_LAST_CONTACT, [False, False, None, None, None, True, follow_up])
    assert err.value.item == "q6_past_3_months"


def test_risk_levels_map_to_the_loinc_answer_list_of_93374_7():
    assert CSSRS.loinc_total == CSSRS_SINCE_LAST_CONTACT.loinc_total == "93374-7"
    assert RISK_LEVEL_LOINC == {"low": ("LA9194-7", "Low"), "moderate": ("LA6751-7", "Moderate"),
                                "high": ("LA9193-9", "High")}
    assert risk_loinc("high") == ("LA9193-9", "High")
    # LOINC's list has no "no risk" answer: nothing is coded rather than something made up.
    assert risk_loinc("none") is None and risk_loinc(None) is None


# --- answers that cannot be scored --------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [
        (PHQ9, [0] * 8),  # one short
        (PHQ9, [0] * 9 + ["not_difficult", 0]),  # one too many
        (PHQ9, []),
        (PHQ9, [0, 0, 0, 0, None, 0, 0, 0, 0]),  # item 5 missing
        (PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, None]),  # item 9 missing: never assumed 0
        (PHQ9, [4, 0, 0, 0, 0, 0, 0, 0, 0]),
        (PHQ9, [-1, 0, 0, 0, 0, 0, 0, 0, 0]),
        (PHQ9, [True, 0, 0, 0, 0, 0, 0, 0, 0]),  # a yes is not a "several days"
        (PHQ9, [1.0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (PHQ9, ["1", 0, 0, 0, 0, 0, 0, 0, 0]),
        (PHQ9, "000000000"),
        (GAD7, [0] * 6),
        (GAD7, [0, 0, 0, 0, 0, 0, 4]),
        (GAD7, [0, 0, 0, None, 0, 0, 0]),
        (CSSRS, [False] * 5),
        (CSSRS, [1, False, None, None, None, False, None]),  # 1 is not "yes"
        (CSSRS, [False, 0, None, None, None, False, None]),  # 0 is not "no"
        (CSSRS, ["yes", False, None, None, None, False, None]),
        (CSSRS, [False, False, None, None, None, False, None, None]),
    ],
)
def test_unscorable_answers_are_refused(instrument, answers):
    with pytest.raises(IncompleteAnswers):
        normalise(instrument, answers)


def test_the_refusal_says_which_item_and_why():
    with pytest.raises(IncompleteAnswers) as err:
        normalise(PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, None])
    assert err.value.item == "q9"
    with pytest.raises(IncompleteAnswers) as err:
        normalise(PHQ9, [0] * 8)
    assert "9" in str(err.value) and "8" in str(err.value)


# --- the catalogue: wording and codes -------------------------------------------------------------


def test_catalogue_holds_the_three_instruments_keyed_by_their_api_names():
    assert set(CATALOGUE) == {"phq9", "gad7", "cssrs"}
    assert [len(CATALOGUE[k].items) for k in ("phq9", "gad7", "cssrs")] == [10, 8, 7]


def test_standard_wording():
    assert PHQ9.items[8].text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert PHQ9.items[0].text == "Little interest or pleasure in doing things"
    assert PHQ9.prompt.startswith("Over the last 2 weeks, how often have you been bothered")
    assert GAD7.items[0].text == "Feeling nervous, anxious, or on edge"
    assert GAD7.items[1].text == "Not being able to stop or control worrying"
    assert CSSRS.items[0].text == (
        "Have you wished you were dead or wished you could go to sleep and not wake up?"
    )
    assert [o.label for o in PHQ9.options] == [
        "Not at all", "Several days", "More than half the days", "Nearly every day"]
    assert [o.value for o in PHQ9.options] == [0, 1, 2, 3]
    assert PHQ9.recall == GAD7.recall == "2 weeks"


def test_loinc_codes():
    assert (PHQ9.loinc_panel, PHQ9.loinc_total, PHQ9.items[8].loinc) == (
        "44249-1", "44261-6", "44260-8")
    assert (GAD7.loinc_panel, GAD7.loinc_total) == ("69737-5", "70274-6")
    assert [i.loinc for i in CSSRS.items] == [
        "93246-7", "93247-5", "93248-3", "93249-1", "93250-9",
        "93267-3",  # Q6, lifetime ("Have you ever done anything…")
        "93269-9",  # its follow-up, "Was this within the past 3 months?"
    ]
    assert CSSRS.loinc_total == "93374-7"
    assert PHQ9.items[-1].loinc == "69722-7"
    # GAD-7's difficulty item has no LOINC code that could be confirmed (69730-0 is LOINC's
    # "Instructions" section, not this item): none rather than a guess.
    assert GAD7.items[-1].loinc is None
    # LOINC publishes nothing for the "since last contact" window: those items carry no code.
    assert all(i.loinc is None for i in CSSRS_SINCE_LAST_CONTACT.items)
    # Every other item carries its own code, none repeated.
    codes = [i.loinc for inst in (PHQ9, GAD7, CSSRS) for i in inst.items
             if i is not GAD7.items[-1]]
    assert all(codes) and len(set(codes)) == len(codes)


def test_bands_cover_every_possible_total_exactly_once():
    for instrument in (PHQ9, GAD7):
        for total in range(instrument.max_score + 1):
            assert sum(b.low <= total <= b.high for b in instrument.bands) == 1, total


def test_only_q3_to_q5_of_the_screener_depend_on_q2():
    assert [i.key for i in CSSRS.items if i.asked_if == ("q2", True)] == ["q3", "q4", "q5"]
    assert [i.key for i in CSSRS.items if i.asked_if == ("q6", True)] == ["q6_past_3_months"]


def test_a_scale_end_never_shares_its_words_with_a_questionnaire_answer():
    """One English text is one translation: the PHQ-9's "Not at all" is a frequency in Spanish
    ("Ningún día"), so a 0-10 scale whose end read "Not at all" said "0 = Ningún día"."""
    from app import i18n
    from app.checkins.instruments import FREQUENCY, MEASURES

    answers = {option.label for option in FREQUENCY}
    for measure in MEASURES.values():
        assert not {measure.low_label, measure.high_label} & answers, measure.key
    with i18n.using("es"):
        low = i18n.gettext(MEASURES["dissociation"].low_label)
    assert low == "Nada en absoluto"
