"""What a notification says on the lock screen: never a drug, a dose, a score or a condition.

The person picks one of these neutral texts on their reminders page. Stored as a key, shown in
the reader's language when the payload is built.
"""

TITLE = "TrocheLog"

# key → English source text (translated where the payload is built)
MESSAGES: dict[str, str] = {
    "scheduled": "You have a scheduled reminder.",
    "check_app": "Please open the app.",
    "time_for_it": "It's time.",
}
DEFAULT_MESSAGE = "scheduled"
# Safety alerts to the care team: still nothing about the patient or what happened.
ALERT_MESSAGE = "An alert needs your attention. Open the app."
TEST_MESSAGE = "Test notification: reminders work on this device."
