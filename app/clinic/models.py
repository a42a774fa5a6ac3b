import uuid
from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
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


class FlagSummary(SQLModel, table=True):
    """Each patient's open flags in brief (their codes and the top urgency, and as shown), so a
    list of thousands is sorted, paged and shown without evaluating every patient
    (app/clinic/flag_index.py).

    `changes` counts writes to what the flags are made of (bumped in the writer's transaction);
    `computed_from` is the count the stored answer was computed at. The answer is trusted only
    while the two are equal, before `settled_until` (time alone may change it then), and by the
    rules that wrote it (`rules_version` is `flags.RULES_VERSION`: during a rolling deploy the
    old code and the new each take the other's answers for outdated)."""

    __tablename__ = "flag_summaries"

    patient_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    changes: int = Field(default=0)
    computed_from: int = Field(default=-1)
    urgency: int = Field(default=0)
    codes: str = Field(default="", sa_type=String(400))  # space-separated flag codes
    settled_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the list shows of the patient, computed with the rest: the phase, and each open flag
    # ({code, key, since, urgency, message: {language: text}}) worded in every language, so any
    # reader's language is there. NULL until computed (rows from before these columns).
    phase: str | None = Field(default=None, sa_type=String(20))
    shown: list | None = Field(default=None, sa_type=JSON)
    rules_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
