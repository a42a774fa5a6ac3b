"""/api/v1/push for the person's own devices: a test notification, and Snooze from a notification.

The service worker's Snooze action calls /snooze with the X-CSRF-Token it got from /api/v1/me.
"""

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.db import SessionDep, utcnow
from app.deps import CurrentUser
from app.errors import NotFound
from app.i18n import gettext as _
from app.push import service as push_service
from app.reminders import dispatcher
from app.reminders import service as reminders

router = APIRouter(prefix="/api/v1/push", tags=["reminders"])


class TestRequest(BaseModel):
    endpoint: str = Field(min_length=1, max_length=1024)


class TestQueued(BaseModel):
    id: uuid.UUID  # the test occurrence, sent on the dispatcher's next pass


class SnoozeRequest(BaseModel):
    id: uuid.UUID  # the occurrence the notification was for (its data.id)


class Snoozed(BaseModel):
    id: uuid.UUID  # the new occurrence that repeats the reminder
    send_at: datetime


@router.post("/test", status_code=202, response_model=TestQueued)
def send_test(body: TestRequest, session: SessionDep, user: CurrentUser) -> TestQueued:
    """A test notification to this person's device with that endpoint (404 if not theirs)."""
    device = next((d for d in push_service.devices(session, user) if d.endpoint == body.endpoint),
                  None)
    if device is None:
        raise NotFound(_("No device of yours has that subscription."))
    occurrence = dispatcher.send_test(session, user=user, subscription_id=device.id, now=utcnow())
    return TestQueued(id=occurrence.id)


@router.post("/snooze", response_model=Snoozed)
def snooze(body: SnoozeRequest, session: SessionDep, user: CurrentUser) -> Snoozed:
    """Repeat a reminder after the person's snooze length (404 if it is not theirs)."""
    again = reminders.snooze(session, user=user, occurrence_id=body.id, now=utcnow())
    return Snoozed(id=again.id, send_at=again.send_at)
