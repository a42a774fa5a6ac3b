"""The kinds of reminder, who gets each, and which a person may turn off.

One list for the planner, the dispatcher, the settings page and the tests.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    key: str
    label: str  # English source text: pages show _(kind.label) in the reader's language
    roles: tuple[str, ...]
    can_turn_off: bool = True
    # Sent inside quiet hours: a dose session the patient scheduled at that time, and safety
    # alerts (they must reach someone; the next contact follows if nobody acknowledges).
    ignores_quiet_hours: bool = False


def _(text: str) -> str:
    """Marks a label for extraction; it is translated where it is shown."""
    return text


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("session", _("Dose sessions, at the scheduled time"), ("patient",),
             ignores_quiet_hours=True),
        Kind("gate", _("The safety check, shortly before a session"), ("patient",)),
        Kind("overdue", _("A follow-up when a session is overdue"), ("patient",)),
        Kind("recheck", _("The blood pressure recheck 40 minutes after a dose"), ("patient",)),
        Kind("checkin", _("Later session check-ins (end of session, next morning)"),
             ("patient",)),
        Kind("mood", _("Daily mood"), ("patient",)),
        Kind("questionnaire", _("Weekly questionnaires"), ("patient",)),
        Kind("count", _("Counting the troches on hand"), ("patient",)),
        Kind("supply", _("Supply running low, or a fill not recorded"), ("patient",)),
        Kind("caregiver_missed",
             _("A session's dose or 40-minute check-in not logged in time"), ("caregiver",)),
        Kind("alert", _("Safety alerts"), ("prescriber", "caregiver"), can_turn_off=False,
             ignores_quiet_hours=True),
        Kind("test", _("Test notifications"), ("patient", "caregiver", "prescriber"),
             can_turn_off=False, ignores_quiet_hours=True),
    )
}


def kinds_for(role: str) -> list[Kind]:
    """The kinds a person in this role can receive, in the order the settings page lists them."""
    return [k for k in KINDS.values() if role in k.roles and k.key != "test"]
