import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Relation(StrEnum):
    PRESCRIBER = "prescriber"
    CAREGIVER = "caregiver"


class CareLink(SQLModel, table=True):
    """Someone on a patient's care team. Revoking keeps the row: the record shows who had access."""

    __tablename__ = "care_links"
    __table_args__ = (UniqueConstraint("patient_id", "member_id", "relation"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    member_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    relation: Relation = Field(sa_type=String(20))
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A caregiver who accepted alerts about this patient (they turn it on; the patient's
    # sharing consent must also allow it when an alert is sent).
    receives_alerts: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # What a caregiver may see (app.careteam.access.Scope); NULL for prescribers, who see the
    # whole record. Set by the patient, changeable at any time.
    scope: str | None = Field(default=None, sa_type=String(20))
    # The last day (in the patient's time zone) a caregiver's link lasts; NULL: until removed.
    ends_on: date | None = Field(default=None)
