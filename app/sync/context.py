"""What every sync handler gets: who writes, for whom, when, and the item itself.

Domains own their handlers (app/doses/sync.py, app/checkins/sync.py) and register them by
kind; app/sync/service.py applies them one by one. The author is kept apart from the patient
so caregiver writes and the audit trail can name who wrote, not only whose record it is.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from app.accounts.models import User


@dataclass(frozen=True)
class Write:
    session: Session
    author: User
    patient: User
    now: datetime  # server time the item was received
    item_id: uuid.UUID
    recorded_at: datetime  # the client's clock when the entry was made, UTC
    data: dict[str, Any]

    @classmethod
    def of(cls, session: Session, *, author: User, patient: User, now: datetime,
           item_id: uuid.UUID, recorded_at: datetime, data: dict[str, Any]) -> "Write":
        return cls(session, author, patient, now, item_id, recorded_at.astimezone(UTC), data)


# A handler applies one item and returns the result fields beyond id and status.
Handler = Callable[[Write], dict[str, Any]]
