import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, Index, Numeric, String, false
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class GateCheck(SQLModel, table=True):
    """A pre-dose safety gate: the readings and answers, and what the rules said."""

    __tablename__ = "gate_checks"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_gate_checks_patient_id_checked_at", "patient_id", "checked_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    protocol_version_id: uuid.UUID = Field(foreign_key="protocol_versions.id")
    checked_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    systolic: int
    diastolic: int
    heart_rate: int
    checklist: dict = Field(default_factory=dict, sa_type=JSON)
    proposed_mg: Decimal = Field(sa_type=Numeric(8, 2))
    verdict: str = Field(max_length=20)
    # [{"code", "params"}], put into words when shown (doses/reasons.py); rows from before
    # parameters were kept hold [{"code", "message"}] and show that message.
    reasons: list = Field(default_factory=list, sa_type=JSON)
    # The sitter's co-signed checklist this gate was checked with (a "sitter_check" check-in
    # from the caregiver's own account, shortly before), so the record shows who confirmed.
    # No foreign key: check-ins already point at doses and doses at gates (a cycle).
    sitter_check_id: uuid.UUID | None = None

    @property
    def sitter_confirmed(self) -> bool:
        """Whether the record shows this check as the sitter's confirmed one: co-signed, and
        not held for the sitter's absence (a check held because the patient did not confirm a
        sitter must not also read "Sitter confirmed" from an earlier co-signature)."""
        return self.sitter_check_id is not None and not any(
            isinstance(r, dict) and r.get("code") == "sitter_required" for r in self.reasons)


class DoseStatus(StrEnum):
    RECORDED = "recorded"
    ENTERED_IN_ERROR = "entered_in_error"


class Dose(SQLModel, table=True):
    __tablename__ = "doses"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_doses_patient_id_taken_at", "patient_id", "taken_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    protocol_version_id: uuid.UUID = Field(foreign_key="protocol_versions.id")
    # One check, one dose: the service refuses a second with a message; the unique index
    # holds the rule for every writer. Each dose logged also asks it by this index.
    gate_id: uuid.UUID | None = Field(default=None, foreign_key="gate_checks.id", index=True,
                                      unique=True)
    taken_at: datetime = Field(sa_type=UTCDateTime, index=True)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    dose_mg: Decimal = Field(sa_type=Numeric(8, 2))
    troches: Decimal = Field(sa_type=Numeric(6, 2))
    route: str = Field(sa_type=String(20))
    hold_minutes: int | None = None
    swallowed: bool | None = None  # saliva swallowed (True) or spat (False) after the hold
    lot: str | None = Field(default=None, max_length=60)
    rx_number: str | None = Field(default=None, max_length=60)
    override_reason: str | None = Field(default=None, max_length=500)
    no_gate_reason: str | None = Field(default=None, max_length=500)  # why no safety check
    # Recorded as already taken at its time (not taken as it was written down): a safety check
    # made between its time and its writing down does not count against it.
    already_taken: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Machine codes: the guard reasons overridden, "extra" (outside a session), "late_entry".
    flags: list = Field(default_factory=list, sa_type=JSON)
    status: DoseStatus = Field(default=DoseStatus.RECORDED, sa_type=String(20))
    status_reason: str | None = Field(default=None, max_length=500)
    revision: int = 1


class DoseRevision(SQLModel, table=True):
    """A correction: what changed, why, and when; the dose row holds the current values."""

    __tablename__ = "dose_revisions"

    id: uuid.UUID = Field(primary_key=True)
    dose_id: uuid.UUID = Field(foreign_key="doses.id", index=True, ondelete="CASCADE")
    revision: int
    revised_at: datetime = Field(sa_type=UTCDateTime)
    revised_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    reason: str = Field(max_length=500)
    before: dict = Field(default_factory=dict, sa_type=JSON)
    after: dict = Field(default_factory=dict, sa_type=JSON)


class LedgerKind(StrEnum):
    FILL = "fill"
    COUNT = "count"


class LedgerEntry(SQLModel, table=True):
    """The troche count ledger: fills add, doses subtract (derived), counts check."""

    __tablename__ = "ledger_entries"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_ledger_entries_patient_id_occurred_at", "patient_id", "occurred_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: LedgerKind = Field(sa_type=String(10))
    occurred_at: datetime = Field(sa_type=UTCDateTime)  # fill date (local noon) or count time
    received_at: datetime = Field(sa_type=UTCDateTime)
    count: Decimal = Field(sa_type=Numeric(8, 2))  # troches; halves possible on a count
    filled_on: date | None = None
    strength_mg: Decimal | None = Field(default=None, sa_type=Numeric(8, 2))
    rx_number: str | None = Field(default=None, max_length=60)
    pharmacy: str | None = Field(default=None, max_length=120)
    lot: str | None = Field(default=None, max_length=60)
    expected_balance: Decimal | None = Field(default=None, sa_type=Numeric(8, 2))  # at a count
    flags: list = Field(default_factory=list, sa_type=JSON)  # "early_refill", "discrepancy"
