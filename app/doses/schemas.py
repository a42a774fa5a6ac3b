"""The shapes of the dosing JSON API's answers, for /openapi.json: what a phone may rely on.

The routes build their bodies as plain dicts (app/doses/api.py) and these models describe them
in the schema only: the phone's offline gate (static/offline-gate.js) reads `/api/v1/today`
field by field, and a client generated from the schema must meet the same fields. Validating
every answer against them would spend time on the hottest read the service worker makes;
tests/doses/test_api_schemas.py validates real answers instead, strictly (no field unknown to
the model, none of the wrong type), across the demo's patients and the edge states.
"""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DECIMAL = "A decimal number written as a string, e.g. \"100\" or \"12.5\"."


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Shape):
    code: str = Field(description="Stable code: too_soon, bp_hold, screener_pending, …")
    params: dict[str, Any] = Field(description="The values behind the reason (times, limits).")
    message: str = Field(description="The reason in words, in the reader's language.")


class Rules(_Shape):
    """The guard rules the offline gate judges with, as the server does (app/doses/rules.py)."""

    min_hours_between_doses: str = Field(description=DECIMAL)
    max_mg_per_24h: str = Field(description=DECIMAL)
    max_mg_per_7d: str = Field(description=DECIMAL)
    bp_hold_systolic: int
    bp_hold_diastolic: int
    bp_emergency_systolic: int
    bp_emergency_diastolic: int
    pulse_hold_low: int | None
    pulse_hold_high: int | None
    gate_valid_minutes: int
    emergency_lockout_hours: int
    emergency_recheck_minutes: int
    overridable_holds: list[str]
    never_overridable: list[str]
    sitter_required: bool
    required_checklist: list[str]


class Plan(_Shape):
    phase: Literal["induction", "maintenance", "taper"]
    starts_on: date
    cadence: Literal["weekdays", "interval"]
    # A string, not `time`: JSON Schema's "time" format wants a UTC offset, and this is a wall
    # time in the patient's zone (schemathesis holds answers to the schema: tests/security).
    at: str = Field(pattern=r"^\d{2}:\d{2}:\d{2}$",
                    description="Local wall time of each session (HH:MM:SS), in the patient's "
                                "zone.")
    weekdays: list[int] = Field(description="0 = Monday … 6 = Sunday (weekdays cadence).")
    every_n_days: int | None
    weeks: int | None = Field(description="How long the phase lasts; null: open-ended.")


class Protocol(_Shape):
    version: int
    strength_mg: str = Field(description=DECIMAL)
    halving_allowed: bool
    dose_mg: str = Field(description=DECIMAL)
    route: str
    hold_minutes: int
    rules: Rules
    phase: str | None
    plans: list[Plan]
    grace_hours: str = Field(description=DECIMAL)


class RecentDose(_Shape):
    id: str
    taken_at: datetime
    dose_mg: str = Field(description=DECIMAL)


class NextSession(_Shape):
    scheduled_at: datetime
    phase: str
    state: Literal["upcoming", "due", "overdue", "taken", "missed"]


class RevisionBy(_Shape):
    id: str
    name: str


class Revision(_Shape):
    revision: int
    at: datetime
    by: RevisionBy | None
    reason: str | None = Field(description="Why it was corrected. Null for a caregiver: the "
                                            "patient's own words are never theirs to read.")
    changes: dict[str, Any]


class DoseOut(_Shape):
    id: str
    taken_at: datetime
    recorded_at: datetime
    received_at: datetime
    dose_mg: str = Field(description=DECIMAL)
    troches: str = Field(description=DECIMAL)
    route: str
    gate_id: str | None
    override_reason: str | None = Field(description="Null for a caregiver, as every reason.")
    no_gate_reason: str | None = Field(description="Null for a caregiver, as every reason.")
    lot: str | None
    rx_number: str | None
    flags: list[str]
    status: str
    status_reason: str | None
    revision: int
    revisions: list[Revision]


class SafetyState(_Shape):
    review_pending: bool
    last_emergency_at: datetime | None
    screener_pending: bool
    screener_pending_since: datetime | None = Field(
        description="When the latest answer still waiting for a screener was given.")


class Ledger(_Shape):
    balance: str = Field(description=DECIMAL)
    days_of_supply: int | None


class Today(_Shape):
    """`GET /api/v1/today`. Without a protocol only `now`, `timezone`, `protocol` (null) and
    `next_session` (null) are present; with one, the rest too (`ledger` once there is a fill)."""

    now: datetime = Field(description="When the server began its answer, before it read.")
    timezone: str
    protocol: Protocol | None
    next_session: NextSession | None
    recent_doses: list[RecentDose] = Field(
        default_factory=list, description="Doses of the last 8 days, for the offline gate.")
    last_dose: DoseOut | None = None
    holds: list[Reason] = Field(default_factory=list,
                                description="Holds from the record, with their codes.")
    safety_state: SafetyState | None = None
    ledger: Ledger | None = None


class DoseList(_Shape):
    """`GET /api/v1/doses`."""

    doses: list[DoseOut]
