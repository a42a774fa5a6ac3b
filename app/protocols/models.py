import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, Numeric, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Route(StrEnum):
    SUBLINGUAL = "sublingual"
    BUCCAL = "buccal"


class ProtocolVersion(SQLModel, table=True):
    """One version of a patient's protocol. Versions are never edited: a change adds a version
    with who, when and why, so the record shows which rules applied to every dose."""

    __tablename__ = "protocol_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: uuid.UUID = Field(primary_key=True)  # the client UUID of the form that saved it
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    version: int
    created_by_id: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=500)

    # The product
    strength_mg: Decimal = Field(sa_type=Numeric(8, 2))
    halving_allowed: bool
    dose_mg: Decimal = Field(sa_type=Numeric(8, 2))
    route: Route = Field(sa_type=String(20))
    hold_minutes: int

    # Guard rules (pure functions in app/doses/rules.py enforce them)
    min_hours_between_doses: Decimal = Field(sa_type=Numeric(6, 2))
    max_mg_per_24h: Decimal = Field(sa_type=Numeric(8, 2))
    max_mg_per_7d: Decimal = Field(sa_type=Numeric(8, 2))
    bp_hold_systolic: int
    bp_hold_diastolic: int
    sitter_required: bool
    required_checklist: list[str] = Field(default_factory=list, sa_type=JSON)
    fasting_hours: int
    sedative_free_hours: int

    # Schedule: a template per phase, and the timeline of which phase applies from which date.
    # phases: {"induction": {"cadence", "at", "weekdays", "every_n_days", "weeks"}, ...}
    phases: dict = Field(default_factory=dict, sa_type=JSON)
    # timeline: [{"phase": "induction", "starts_on": "2026-10-05"}, ...] sorted by date
    timeline: list = Field(default_factory=list, sa_type=JSON)
    grace_hours: Decimal = Field(sa_type=Numeric(5, 2))
    early_refill_days: int

    # Session safety settings (prescriber-set; defaults for versions saved before they existed)
    gate_valid_minutes: int = Field(default=30, sa_column_kwargs={"server_default": "30"})
    observation_minutes: int = Field(default=120, sa_column_kwargs={"server_default": "120"})
    # After a reading at or above 180/120, dosing holds this long whatever later rechecks show.
    emergency_lockout_hours: int = Field(default=24, sa_column_kwargs={"server_default": "24"})
    pulse_hold_low: int | None = None
    pulse_hold_high: int | None = None
    # Holds the patient may override before dosing, with a reason: any of "bp_hold",
    # "pulse_hold", "sitter_required", "checklist_failed". Empty: none may be.
    overridable_holds: list[str] = Field(
        default_factory=list, sa_type=JSON, sa_column_kwargs={"server_default": "[]"}
    )
