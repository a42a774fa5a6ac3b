import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Alert(SQLModel, table=True):
    """A safety alert the care team must acknowledge. Raised in the same transaction as what
    caused it (a safety event, an unanswered screener); notified by push to the first contact
    and, while nobody acknowledges it, to the next contact after the clinic's delay."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("kind", "source_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    # app.alerts.service.CONTACTS: cssrs_high, screener_unanswered, bp_emergency, hard_to_rouse,
    # breathing_concern, dose_against_hold, severe_side_effect, bp_hold
    kind: str = Field(sa_type=String(40))
    # the safety event (or the PHQ-9 whose screener is unanswered, or a bp_hold's gate)
    source_id: uuid.UUID
    raised_at: datetime = Field(sa_type=UTCDateTime, index=True)
    notified_count: int = 0  # how many contacts have been notified so far
    next_notify_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    acknowledgement_note: str | None = Field(default=None, max_length=1000)
