"""The one link a notification carries: /reminders/<occurrence id>/open.

The payload names no page of the person's record (a check-in for a dose, a patient's file):
the server looks the occurrence up for whoever is signed in and sends them on. Someone else's
occurrence, or nobody signed in, lands on their own home (or the sign-in page) instead.
"""

import uuid

from fastapi import APIRouter

from app.db import SessionDep
from app.deps import CurrentUser
from app.reminders.models import ReminderOccurrence
from app.web.forms import safe_next, see_other

router = APIRouter()


def open_url(occurrence_id: uuid.UUID) -> str:
    return f"/reminders/{occurrence_id}/open"


@router.get("/reminders/{occurrence_id}/open", include_in_schema=False)
def open_reminder(occurrence_id: uuid.UUID, session: SessionDep, user: CurrentUser):
    occurrence = session.get(ReminderOccurrence, occurrence_id)
    if occurrence is None or occurrence.user_id != user.id:
        return see_other("/")
    return see_other(safe_next(occurrence.url))
