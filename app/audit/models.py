import uuid
from datetime import datetime

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """Who did what to whose record, and when: an export, for now (app/exports). Written in the
    same transaction as what it records; never holds the record itself, only its shape (format,
    range, row count)."""

    __tablename__ = "audit_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    action: str = Field(sa_type=String(40))  # "export"
    # The patient whose record it was; NULL for the prescriber's whole panel.
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    details: dict = Field(default_factory=dict, sa_type=JSON)  # {format, start, end, rows}
