import uuid
from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class ServerKey(SQLModel, table=True):
    """A key the server made for itself on first start (the VAPID pair), shared by every app
    instance and worker through the database. Settings override it in production."""

    __tablename__ = "server_keys"

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class PushSubscription(SQLModel, table=True):
    """One browser that agreed to receive this person's reminders. The endpoint is the push
    service's address for that browser: unique, so a phone handed to someone else who signs in
    and turns reminders on moves to them and stops receiving the first person's."""

    __tablename__ = "push_subscriptions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    endpoint: str = Field(sa_type=String(1024), unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    name: str = Field(max_length=80)  # "Chrome on Android", or what the person called it
    # The sign-in that subscribed: signing out there stops reminders on that device.
    auth_session_id: uuid.UUID | None = Field(default=None, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    last_delivery_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = None
    # The browser's own language when it subscribed (Accept-Language, "en"/"es"): what its
    # notifications say when the person has not chosen a language (app/i18n.py).
    language: str | None = Field(default=None, max_length=8)
