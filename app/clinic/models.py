import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class FlagReview(SQLModel, table=True):
    """A prescriber reviewed one flag on their patient list (with a note), so it drops off.

    Flags are derived from the record (app/clinic/flags.py); each has a code and a key that names
    the one occurrence (a dose id, a session date, a count id), so a review clears that one and
    a new occurrence flags again.
    """

    __tablename__ = "flag_reviews"
    __table_args__ = (UniqueConstraint("patient_id", "code", "key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    code: str = Field(sa_type=String(40))
    key: str = Field(sa_type=String(120))
    reviewed_at: datetime = Field(sa_type=UTCDateTime)
    reviewed_by_id: uuid.UUID = Field(foreign_key="users.id")
    note: str = Field(max_length=1000)
