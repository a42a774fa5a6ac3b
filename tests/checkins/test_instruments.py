"""The instrument catalogue against hand-worked examples: totals, bands, follow-up and the
C-SSRS screener's triage, plus every way an answer set can be unscorable."""

import pytest

from app.checkins.instruments import (
    CATALOGUE,
    CSSRS,
    GAD7,
    PHQ9,
    IncompleteAnswers,
    normalise,
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


# --- C-SSRS screener --------------------------------------------------------------------------
# Answers are Q1..Q6; Q3–Q5 are null unless Q2 is yes.


@pytest.mark.parametrize(
    ("answers", "risk"),
    [
        ([False, False, None, None, None, False], "none"),
        ([True, False, None, None, None, False], "low"),  # wish to be dead only
        ([False, True, False, False, False, False], "low"),  # thoughts, nothing more
        ([True, True, True, False, False, False], "moderate"),  # Q2 + Q3 (method)
        ([True, True, False, True, False, False], "high"),  # Q4 intent
        ([False, True, False, False, True, False], "high"),  # Q5 plan
        ([False, False, None, None, None, True], "high"),  # Q6 behaviour, Q2 no
        ([True, True, True, True, True, True], "high"),
    ],
)
def test_cssrs_triage(answers, risk):
    result = scored(CSSRS, answers)
    assert result.risk == risk
    assert result.crisis is (risk == "high")
    assert result.total is None and result.band is None


def test_cssrs_skipped_items_are_stored_as_null():
    answers = normalise(CSSRS, [True, False, None, None, None, False])
    assert answers == {"q1": True, "q2": False, "q3": None, "q4": None, "q5": None, "q6": False}


@pytest.mark.parametrize(
    ("answers", "item"),
    [
        # Q2 no, yet Q3 answered: the skip logic was not followed.
        ([False, False, True, None, None, False], "q3"),
        ([False, False, None, None, False, False], "q5"),
        # Q2 yes, yet Q3 left out: incomplete, never scored as if "no".
        ([False, True, None, False, False, False], "q3"),
        ([False, True, False, False, None, False], "q5"),
        # Q1, Q2 and Q6 are always asked.
        ([None, False, None, None, None, False], "q1"),
        ([False, False, None, None, None, None], "q6"),
    ],
)
def test_cssrs_skip_logic_is_enforced(answers, item):
    with pytest.raises(IncompleteAnswers) as err:
        normalise(CSSRS, answers)
    assert err.value.item == item
    assert item in str(err.value)


# --- answers that cannot be scored --------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [
        (PHQ9, [0] * 8),  # one short
        (PHQ9, [0] * 10),  # one too many
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
        (CSSRS, [1, False, None, None, None, False]),  # 1 is not "yes"
        (CSSRS, [False, 0, None, None, None, False]),  # 0 is not "no"
        (CSSRS, ["yes", False, None, None, None, False]),
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
    assert [len(CATALOGUE[k].items) for k in ("phq9", "gad7", "cssrs")] == [9, 7, 6]


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
    assert CSSRS.items[0].loinc == "93246-7"
    assert CSSRS.items[4].loinc == "93250-9"
    assert CSSRS.items[5].loinc == "93267-3"
    assert CSSRS.loinc_total == "93374-7"
    # Every PHQ-9 and GAD-7 item carries its own code, none repeated.
    codes = [i.loinc for inst in (PHQ9, GAD7, CSSRS) for i in inst.items]
    assert all(codes) and len(set(codes)) == len(codes)


def test_bands_cover_every_possible_total_exactly_once():
    for instrument in (PHQ9, GAD7):
        for total in range(instrument.max_score + 1):
            assert sum(b.low <= total <= b.high for b in instrument.bands) == 1, total


def test_only_q3_to_q5_of_the_screener_depend_on_q2():
    assert [i.key for i in CSSRS.items if i.asked_if == ("q2", True)] == ["q3", "q4", "q5"]
