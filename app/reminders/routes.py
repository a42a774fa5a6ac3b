"""The person's reminders page: this device, their devices, and what they want reminded.

Every signed-in role has one: patients for their own schedule, caregivers for the sessions they
watch over, prescribers for safety alerts.
"""

import uuid
from datetime import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.db import SessionDep, utcnow
from app.deps import CurrentUser
from app.errors import Invalid
from app.push import service as push_service
from app.push import texts
from app.reminders import dispatcher, kinds
from app.reminders import service as reminders
from app.reminders.models import OccurrenceStatus, ReminderOccurrence
from app.templating import render
from app.web.forms import form_error, see_other

router = APIRouter()

PAGE = "/account/reminders"
TEMPLATE = "reminders/settings.html"


def _hhmm(value: time | None) -> str:
    return value.strftime("%H:%M") if value else ""


def _upcoming(session: Session, user: User, limit: int = 8) -> list[tuple[str, object]]:
    """The next reminders planned for this person (label, when), so they can see what will
    ring before it does."""
    rows = session.exec(
        select(ReminderOccurrence)
        .where(
            ReminderOccurrence.user_id == user.id,
            ReminderOccurrence.status == OccurrenceStatus.PENDING,
            col(ReminderOccurrence.send_at) >= utcnow(),
            col(ReminderOccurrence.kind).in_([k for k in kinds.KINDS if k != "test"]),
        )
        .order_by(col(ReminderOccurrence.send_at))
        .limit(limit)
    ).all()
    return [(kinds.KINDS[o.kind].label, o.send_at) for o in rows]


def _context(session: Session, user: User, **extra) -> dict:
    role_kinds = kinds.kinds_for(user.role)
    return {
        "devices": push_service.devices(session, user),
        "upcoming": _upcoming(session, user),
        "optional_kinds": [k for k in role_kinds if k.can_turn_off],
        "fixed_kinds": [k for k in role_kinds if not k.can_turn_off],
        "messages": texts.MESSAGES,
        "snooze_choices": reminders.SNOOZE_CHOICES,
        **extra,
    }


def _saved_values(session: Session, user: User) -> dict:
    prefs = reminders.preferences(session, user)
    disabled = set(prefs.disabled_kinds or [])
    return {
        "quiet_start": _hhmm(prefs.quiet_start),
        "quiet_end": _hhmm(prefs.quiet_end),
        "enabled": [k.key for k in kinds.kinds_for(user.role) if k.key not in disabled],
        "snooze_minutes": str(prefs.snooze_minutes),
        "message": prefs.message,
    }


@router.get(PAGE)
def reminders_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    status: str | None = None,
):
    ctx = _context(session, user, values=_saved_values(session, user), status=status)
    return render(request, TEMPLATE, ctx)


@router.post(PAGE)
def save_preferences(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    quiet_start: Annotated[str, Form(max_length=20)] = "",
    quiet_end: Annotated[str, Form(max_length=20)] = "",
    # One checkbox per kind that can be turned off; an unticked box is simply not sent.
    enabled: Annotated[list[str] | None, Form(max_length=40)] = None,
    snooze_minutes: Annotated[str, Form(max_length=10)] = "",
    message: Annotated[str, Form(max_length=40)] = "",
):
    enabled = enabled or []
    values = {
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "enabled": enabled,
        "snooze_minutes": snooze_minutes,
        "message": message,
    }
    offered = [k.key for k in kinds.kinds_for(user.role) if k.can_turn_off]
    try:
        # The service reads the time inputs and the snooze length as typed, and names the field
        # of every mistake.
        reminders.update_preferences(
            session,
            user=user,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            # Only the kinds this page offers: kinds of other roles, and those that cannot be
            # turned off, are never written as "off" from here.
            disabled_kinds=[key for key in offered if key not in enabled],
            snooze_minutes=snooze_minutes,
            message=message,
        )
    except Invalid as err:
        return form_error(request, session, TEMPLATE, err, values, _context(session, user))
    # Quiet hours and kinds change when this person's reminders go out: plan again now, so a
    # reminder already planned inside the new quiet hours moves (or goes) before it is sent.
    reminders.plan(session, user, utcnow())
    return see_other(f"{PAGE}?status=saved")


@router.post(PAGE + "/devices/{subscription_id}/test")
def send_test_notification(session: SessionDep, user: CurrentUser, subscription_id: uuid.UUID):
    # NotFound for another person's device: the same page as an unknown id.
    dispatcher.send_test(session, user=user, subscription_id=subscription_id, now=utcnow())
    return see_other(f"{PAGE}?status=test#devices")


@router.post(PAGE + "/devices/{subscription_id}/remove")
def remove_device(session: SessionDep, user: CurrentUser, subscription_id: uuid.UUID):
    push_service.remove(session, user=user, subscription_id=subscription_id)
    return see_other(f"{PAGE}?status=removed#devices")
