import uuid
from datetime import datetime, time

from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class ReminderPreferences(SQLModel, table=True):
    """A person's reminder settings: quiet hours (local wall times), kinds turned off, the snooze
    length the notification's Snooze button uses, and which neutral text the lock screen shows."""

    __tablename__ = "reminder_preferences"

    user_id: uuid.UUID = Field(primary_key=True, foreign_key="users.id", ondelete="CASCADE")
    quiet_start: time | None = None  # e.g. 22:00; both None = no quiet hours
    quiet_end: time | None = None  # e.g. 07:00 (may be earlier than start: across midnight)
    disabled_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    snooze_minutes: int = 15  # 15, 30 or 60
    message: str = Field(default="scheduled", max_length=20)  # a key of push.texts.MESSAGES


class OccurrenceStatus:
    PENDING = "pending"  # waiting for send_at
    DISPATCHED = "dispatched"  # deliveries made for the person's devices
    NO_DEVICE = "no_device"  # due, but the person had no device to send to
    SKIPPED = "skipped"  # no longer needed when due (the dose was logged, the alert acknowledged)
    CANCELLED = "cancelled"  # re-planning dropped it (protocol, timezone or settings changed)


class ReminderOccurrence(SQLModel, table=True):
    """One reminder to one person at one moment, planned ahead. The unique key (user, rule,
    local time) makes planning idempotent: planning twice, or on two instances, adds nothing."""

    __tablename__ = "reminder_occurrences"
    __table_args__ = (UniqueConstraint("user_id", "rule", "local_time"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    # The patient whose record it is about (the person themself, or the one a caregiver or
    # prescriber is reminded about): relevance is checked against their record when due.
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    kind: str = Field(sa_type=String(30))  # see reminders.planner.KINDS
    rule: str = Field(sa_type=String(120))  # "session", "recheck:<dose id>", "alert:<id>:<step>"
    local_time: str = Field(sa_type=String(40))  # wall time in the person's zone, ISO minutes
    due_at: datetime = Field(sa_type=UTCDateTime)
    send_at: datetime = Field(sa_type=UTCDateTime, index=True)  # due_at moved by quiet hours
    url: str = Field(max_length=200)
    subject_id: uuid.UUID | None = None  # the dose, alert or occurrence (snooze) it follows
    status: str = Field(default=OccurrenceStatus.PENDING, sa_type=String(20), index=True)
    skip_reason: str | None = Field(default=None, max_length=60)
    created_at: datetime = Field(sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryStatus:
    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"
    FAILED = "failed"  # refused for good (400/401/403/413) or out of retries
    GONE = "gone"  # 404/410: the subscription was removed


class PushDelivery(SQLModel, table=True):
    """An occurrence on its way to one device. Dispatchers claim these one at a time (FOR UPDATE
    SKIP LOCKED on PostgreSQL, a conditional update on SQLite), so two never send it twice."""

    __tablename__ = "push_deliveries"
    __table_args__ = (UniqueConstraint("occurrence_id", "subscription_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    occurrence_id: uuid.UUID = Field(
        foreign_key="reminder_occurrences.id", index=True, ondelete="CASCADE"
    )
    # SET NULL: a removed device keeps the history of what was sent to it.
    subscription_id: uuid.UUID | None = Field(
        default=None, foreign_key="push_subscriptions.id", index=True, ondelete="SET NULL"
    )
    status: str = Field(default=DeliveryStatus.PENDING, sa_type=String(20))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PushAttempt(SQLModel, table=True):
    """Every attempt to hand a delivery to a push service, and what it answered (never PHI:
    a status code, an outcome, an exception's class name)."""

    __tablename__ = "push_attempts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="push_deliveries.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    status_code: int | None = None
    outcome: str = Field(sa_type=String(20))  # sent, retry, gone, refused, error
    detail: str = Field(default="", max_length=200)
    retry_after_seconds: int | None = None


__all__ = [
    "DeliveryStatus",
    "OccurrenceStatus",
    "PushAttempt",
    "PushDelivery",
    "ReminderOccurrence",
    "ReminderPreferences",
]

