"""What a notification says on the lock screen: never a drug, a dose, a score or a condition.

The person picks one of these neutral texts on their reminders page. Stored as a key, shown in
the reader's language when the payload is built.
"""

from app.i18n import N_

TITLE = "TrocheLog"

# key → English source text (N_ marks it for the catalogue; translated where the payload is
# built, in the recipient's language)
MESSAGES: dict[str, str] = {
    "scheduled": N_("You have a scheduled reminder."),
    "check_app": N_("Please open the app."),
    "time_for_it": N_("It's time."),
}
DEFAULT_MESSAGE = "scheduled"
# Safety alerts to the care team: still nothing about the patient or what happened.
ALERT_MESSAGE = N_("An alert needs your attention. Open the app.")
TEST_MESSAGE = N_("Test notification: reminders work on this device.")
