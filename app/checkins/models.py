import uuid
from datetime import datetime, time

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class CheckIn(SQLModel, table=True):
    """Answers to a check-in slot: before, +40 min, end of a session, next morning, or daily."""

    __tablename__ = "checkins"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_checkins_patient_id_recorded_at", "patient_id", "recorded_at"),
    )

    id: uuid.UUID = Field(primary_key=True)  # the client UUID
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="users.id")
    dose_id: uuid.UUID | None = Field(default=None, foreign_key="doses.id", index=True)
    slot: str = Field(sa_type=String(20))
    values: dict = Field(default_factory=dict, sa_type=JSON)
    recorded_at: datetime = Field(sa_type=UTCDateTime, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    flags: list = Field(default_factory=list, sa_type=JSON)  # "severe_side_effect", "hard_to_rouse"


class QuestionnaireResponse(SQLModel, table=True):
    __tablename__ = "questionnaire_responses"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_questionnaire_responses_patient_id_completed_at", "patient_id", "completed_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    instrument: str = Field(sa_type=String(20))
    answers: dict = Field(default_factory=dict, sa_type=JSON)  # {item key: answer or null}
    score: int | None = None
    band: str | None = Field(default=None, sa_type=String(30))
    risk: str | None = Field(default=None, sa_type=String(10))
    follow_up: str | None = Field(default=None, sa_type=String(20))
    # The wording the patient answered, for instruments published in more than one version:
    # the C-SSRS screener's "recent" (first screen) or "since_last_contact" (every later one).
    version: str | None = Field(default=None, sa_type=String(30))
    # The PHQ-9 whose item 9 led to this screener, so the record shows the path.
    follows_id: uuid.UUID | None = Field(default=None, foreign_key="questionnaire_responses.id")
    completed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)


class SafetyEvent(SQLModel, table=True):
    """Something the care team must see: a positive suicidality screen, a severe side effect.

    Recorded now; the prescriber's flag list and the caregiver's alert read these rows.
    """

    __tablename__ = "safety_events"
    # A patient's entries in time order (pages, flags, exports): one index range.
    __table_args__ = (
        Index("ix_safety_events_patient_id_occurred_at", "patient_id", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(sa_type=String(40))  # positive_screen, severe_side_effect, hard_to_rouse
    # low / moderate / high; a PHQ-9 item 9 answer's is "unscreened" or "screened" (its
    # screener's risk is then details["screened_risk"]): severity() below reads both.
    level: str = Field(sa_type=String(10))
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    source_id: uuid.UUID  # the questionnaire response or check-in
    details: dict = Field(default_factory=dict, sa_type=JSON)
    share_with_caregiver: bool = False  # the patient's consent at the time of the event
    # Answered by its review below; the people it notified acknowledge its Alert
    # (app/alerts/models.py).
    # A high-risk screen holds dosing until a prescriber reviews it and clears it with a note.
    holds_dosing: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    review_note: str | None = Field(default=None, max_length=1000)


SEVERITIES = ("high", "moderate", "low")


def severity(level: str, screened_risk: str | None) -> str | None:
    """How severe a safety event is: its level, or for a PHQ-9 item 9 answer (whose level says
    whether a screener followed) the risk its screener found; None while nobody knows. The
    patient list ranks events by it and the FHIR export states it."""
    if level in SEVERITIES:
        return level
    return screened_risk if screened_risk in SEVERITIES else None


class CheckinSettings(SQLModel, table=True):
    """Per-patient check-in times: the patient picks the daily mood time; the prescriber sets
    the weekly questionnaire day and cadence."""

    __tablename__ = "checkin_settings"

    patient_id: uuid.UUID = Field(primary_key=True, foreign_key="users.id", ondelete="CASCADE")
    mood_time: time = Field(default=time(20, 0))
    questionnaire_weekday: int = 0  # 0 = Monday
    questionnaire_every_weeks: int = 1  # 1 weekly, 2 every two weeks
    share_alerts_with_caregiver: bool = True
    # How long after a session's dose or +40 minute check-in was due, unlogged, the caregivers
    # who accepted alerts are told (minutes). Set by the patient or the prescriber; NULL: the
    # clinic's default (settings.caregiver_escalation_minutes).
    caregiver_alert_minutes: int | None = None
