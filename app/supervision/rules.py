"""When the sitter is prompted during a session: pure, `now` passed in.

An observation every 15 minutes for the first hour (instruments.OBSERVE_AT_MINUTES) and the
blood pressure recheck at +40 minutes. Each prompt counts as done by an entry made from a few
minutes before it until the next prompt is near, so an observation at +17 answers the +15 one
and is not also taken for the +30 one.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.checkins.instruments import OBSERVE_AT_MINUTES, SLOTS

EARLY = timedelta(minutes=5)  # an entry this long before a prompt already answers it
OBSERVE_WINDOW = timedelta(minutes=15)  # then the next prompt takes over
RECHECK_AT = SLOTS["plus40"].offset_minutes or 40
RECHECK_WINDOW = timedelta(minutes=SLOTS["plus40"].window_minutes)


class PromptState(StrEnum):
    DONE = "done"
    DUE = "due"
    UPCOMING = "upcoming"
    MISSED = "missed"


@dataclass(frozen=True)
class Prompt:
    kind: str  # "observe" or "recheck"
    minutes: int  # after the dose
    at: datetime
    state: PromptState


def _state(at: datetime, until: datetime, now: datetime, done: bool) -> PromptState:
    if done:
        return PromptState.DONE
    if now < at - EARLY:
        return PromptState.UPCOMING
    return PromptState.DUE if now < until else PromptState.MISSED


def prompts(taken_at: datetime, now: datetime, observed_at: list[datetime],
            rechecked_at: list[datetime]) -> list[Prompt]:
    """The session's prompts in time order, each with its state at `now`."""
    found: list[Prompt] = []
    for minutes in OBSERVE_AT_MINUTES:
        at = taken_at + timedelta(minutes=minutes)
        until = at + OBSERVE_WINDOW - EARLY
        done = any(at - EARLY <= t < until for t in observed_at)
        found.append(Prompt("observe", minutes, at, _state(at, until, now, done)))
    at = taken_at + timedelta(minutes=RECHECK_AT)
    until = at + RECHECK_WINDOW
    done = any(t >= at - EARLY for t in rechecked_at)
    found.append(Prompt("recheck", RECHECK_AT, at, _state(at, until, now, done)))
    return sorted(found, key=lambda p: (p.at, p.kind))


def next_prompt(found: list[Prompt]) -> Prompt | None:
    """The prompt to act on: the first one due, else the first still to come."""
    return (next((p for p in found if p.state == PromptState.DUE), None)
            or next((p for p in found if p.state == PromptState.UPCOMING), None))
