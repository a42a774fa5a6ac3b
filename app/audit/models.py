import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One entry of the append-only audit trail: who, in which role, on whose behalf, which
    patient, what, when, with what outcome, in which request. Never a health value.

    Entries form a hash chain (app/audit/chain.py): `hash` covers the entry and the previous
    entry's hash, in `seq` order, so an edited, removed or reordered entry breaks the chain at
    that point. The database refuses UPDATE and DELETE on this table (triggers in the migration).

    No foreign keys: an entry outlives the people it names. When an account is deleted its id
    stays here as a bare pseudonym that no other row resolves.
    """

    __tablename__ = "audit_events"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_audit_events_patient_id_at", "patient_id", "at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Position in the chain: 1, 2, 3 … assigned under a lock (app/audit/service.py).
    seq: int = Field(sa_type=BigInteger, unique=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    # Who acted; NULL when nobody could be named (a sign-in with an unknown email).
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    actor_role: str | None = Field(default=None, sa_type=String(20))
    # Whom the actor acted for, when not themselves (a sitter recording a patient's session).
    on_behalf_of_id: uuid.UUID | None = Field(default=None)
    # The patient whose record it concerns; NULL for the prescriber's whole panel or a sign-in.
    patient_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(sa_type=String(40))  # "export", "view", "sign_in", "consent.change", …
    outcome: str = Field(default="ok", sa_type=String(20))  # "ok", "denied", "failed"
    request_id: str | None = Field(default=None, sa_type=String(64))
    details: dict = Field(default_factory=dict, sa_type=JSON)  # shape only: {format, rows, …}
    prev_hash: str = Field(sa_type=String(64))
    hash: str = Field(sa_type=String(64), unique=True)
