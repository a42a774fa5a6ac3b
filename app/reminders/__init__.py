"""Reminders: what to remind whom and when (planned ahead into occurrences), and the dispatcher
that sends due occurrences as Web Push, in-process or as `python -m app.reminders.worker`."""
