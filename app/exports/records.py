"""One patient's record for a date range, gathered once for every export format.

The range is days in the patient's own zone (`end` inclusive), turned into UTC instants here,
so a CSV, a PDF and a FHIR Bundle of the same request hold the same rows. Each list is in time
order. Generators (csv_export.py, pdf.py, fhir.py) only shape what is here; they never query.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.accounts.models import User
from app.alerts.models import Alert
from app.checkins import service as checkins
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.checkins.service import SessionRecord
from app.clinic.models import FlagReview
from app.doses import corrections, ledger
from app.doses import service as doses
from app.doses.corrections import RevisionView
from app.doses.models import Dose, DoseStatus, GateCheck, LedgerEntry
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion


def day_bounds(patient: User, start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`) in the patient's zone."""
    tz = ZoneInfo(patient.timezone)
    return (datetime.combine(start, time(0), tzinfo=tz),
            datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz))


@dataclass
class PatientRecords:
    patient: User
    start: date  # the patient's local days, end inclusive
    end: date
    start_at: datetime  # the same range as UTC-comparable instants, end exclusive
    end_at: datetime
    protocols: list[ProtocolVersion] = field(default_factory=list)  # every version, oldest first
    doses: list[Dose] = field(default_factory=list)  # entered-in-error ones included, marked
    revisions: dict[uuid.UUID, list[RevisionView]] = field(default_factory=dict)  # by dose
    gates: list[GateCheck] = field(default_factory=list)  # every verdict: ok, hold, emergency
    checkins: list[CheckIn] = field(default_factory=list)  # the sitter's entries included
    questionnaires: list[QuestionnaireResponse] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    # Each count's expectation by the record as it stands now (ledger.expected_by_the_record_now)
    expected_now: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    safety_events: list[SafetyEvent] = field(default_factory=list)
    # The prescriber's reviews of list flags made in the range, and (the PDF's, set by its
    # route) the flags open on the patient list when the export was made.
    flag_reviews: list[FlagReview] = field(default_factory=list)
    open_flags: list | None = None  # app.clinic.flags.Flag, most urgent first
    # The alerts raised in the range, and who acknowledged each (not counted as records: an
    # alert is the notice of a safety event, gate or screen that is in the export itself).
    alerts: list[Alert] = field(default_factory=list)
    authors: dict[uuid.UUID, str] = field(default_factory=dict)  # user id → display name
    # Each recorded dose's session record, by dose id: with all of its check-ins, those that
    # fall after the range's end (a late-evening dose's end-of-session entry) included.
    sessions: dict[uuid.UUID, SessionRecord] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.patient.timezone)

    def rows(self) -> int:
        """How many records the export holds (for the audit)."""
        return (len(self.doses) + len(self.gates) + len(self.checkins)
                + len(self.questionnaires) + len(self.ledger) + len(self.safety_events))


def gather(session: Session, patient: User, start: date, end: date) -> PatientRecords:
    start_at, end_at = day_bounds(patient, start, end)
    pid = patient.id
    found = PatientRecords(patient=patient, start=start, end=end, start_at=start_at,
                           end_at=end_at)
    found.protocols = sorted(protocols.history(session, pid), key=lambda v: v.version)
    found.doses = sorted(doses.list_doses(session, pid, start_at, end_at),
                         key=lambda d: (d.taken_at, d.id.hex))
    found.revisions = corrections.revisions_of(session, [d.id for d in found.doses])
    found.gates = list(session.exec(
        select(GateCheck).where(GateCheck.patient_id == pid,
                                col(GateCheck.checked_at) >= start_at,
                                col(GateCheck.checked_at) < end_at)
        .order_by(col(GateCheck.checked_at))).all())
    found.checkins = checkins.checkins_between(session, pid, start_at, end_at)
    found.questionnaires = checkins.responses_between(session, pid, start_at, end_at)
    found.ledger = list(session.exec(
        select(LedgerEntry).where(LedgerEntry.patient_id == pid,
                                  col(LedgerEntry.occurred_at) >= start_at,
                                  col(LedgerEntry.occurred_at) < end_at)
        .order_by(col(LedgerEntry.occurred_at), col(LedgerEntry.received_at))).all())
    found.expected_now = ledger.expected_by_the_record_now(session, pid, found.ledger)
    found.safety_events = list(session.exec(
        select(SafetyEvent).where(SafetyEvent.patient_id == pid,
                                  col(SafetyEvent.occurred_at) >= start_at,
                                  col(SafetyEvent.occurred_at) < end_at)
        .order_by(col(SafetyEvent.occurred_at))).all())
    found.flag_reviews = list(session.exec(
        select(FlagReview).where(FlagReview.patient_id == pid,
                                 col(FlagReview.reviewed_at) >= start_at,
                                 col(FlagReview.reviewed_at) < end_at)
        .order_by(col(FlagReview.reviewed_at))).all())
    found.alerts = list(session.exec(
        select(Alert).where(Alert.patient_id == pid, col(Alert.raised_at) >= start_at,
                            col(Alert.raised_at) < end_at)
        .order_by(col(Alert.raised_at))).all())
    ids = {c.author_id for c in found.checkins} | {
        a.acknowledged_by_id for a in found.alerts if a.acknowledged_by_id} | {
        r.reviewed_by_id for r in found.flag_reviews} | {
        e.reviewed_by_id for e in found.safety_events if e.reviewed_by_id} | {
        v.created_by_id for v in found.protocols}  # who wrote each protocol version (PDF)
    found.authors = {u.id: u.display_name for u in session.exec(
        select(User).where(col(User.id).in_(ids))).all()} if ids else {}
    found.sessions = checkins.session_records(
        session, [d for d in found.doses if d.status == DoseStatus.RECORDED])
    return found
