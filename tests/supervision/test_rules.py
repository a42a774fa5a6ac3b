"""When the sitter is prompted: every 15 minutes for the first hour, and the +40 recheck."""

from datetime import UTC, datetime, timedelta

from app.supervision.rules import PromptState, next_prompt, prompts

DOSE = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return DOSE + timedelta(minutes=minutes)


def states(now_minutes, observed=(), rechecked=()):
    found = prompts(DOSE, at(now_minutes), [at(m) for m in observed], [at(m) for m in rechecked])
    return [(p.kind, p.minutes, p.state) for p in found]


def test_the_prompts_of_a_session_in_time_order():
    assert [(k, m) for k, m, _s in states(0)] == [
        ("observe", 15), ("observe", 30), ("recheck", 40), ("observe", 45), ("observe", 60)]
    assert {s for _k, _m, s in states(0)} == {PromptState.UPCOMING}


def test_a_prompt_is_due_from_five_minutes_before_until_the_next_takes_over():
    assert states(9)[0][2] == PromptState.UPCOMING
    assert states(10)[0][2] == PromptState.DUE
    assert states(24.9)[0][2] == PromptState.DUE
    assert states(25)[0][2] == PromptState.MISSED


def test_one_observation_answers_one_prompt_only():
    found = states(31, observed=[17])
    assert found[0][2] == PromptState.DONE
    assert found[1] == ("observe", 30, PromptState.DUE)


def test_an_early_observation_answers_the_coming_prompt():
    assert states(27, observed=[26])[1][2] == PromptState.DONE


def test_the_recheck_is_done_by_a_reading_from_35_minutes_and_missed_after_80():
    assert states(50, rechecked=[36])[2][2] == PromptState.DONE
    assert states(50, rechecked=[20])[2][2] == PromptState.DUE
    assert states(80)[2][2] == PromptState.MISSED


def test_the_next_prompt_is_the_due_one_else_the_next_to_come():
    found = prompts(DOSE, at(31), [at(15)], [])
    assert (next_prompt(found).kind, next_prompt(found).minutes) == ("observe", 30)
    found = prompts(DOSE, at(2), [], [])
    assert next_prompt(found).minutes == 15
    everything = prompts(DOSE, at(120), [at(m) for m in (15, 30, 45, 60)], [at(40)])
    assert next_prompt(everything) is None
