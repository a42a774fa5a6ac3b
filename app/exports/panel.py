"""The whole panel's CSV, streamed: one record type at a time, a chunk of patients at a time.

A zip is written one file after another, so the panel is read file by file: for each record
type, patients in chunks of CHUNK, one query per chunk (their own local days filtered here,
as each patient has their own zone). Memory holds one chunk of one record type, whatever the
size of the panel; the first bytes leave before the last patient is read. The rows are those
records.gather() selects for one patient (the same columns and time windows); the panel test
checks the two agree.

The stream reads in a session of its own: the request's session has committed (with the audit
row) by the time the first byte is sent. The audit row gets its row count when the stream ends.
"""

import uuid
from collections.abc import Iterator
from datetime import date, datetime

from sqlmodel import Session, col, select

from app.accounts.models import User
from app.alerts.models import Alert
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.clinic.models import FlagReview
from app.doses import corrections
from app.doses.models import Dose, GateCheck, LedgerEntry
from app.exports import csv_export
from app.exports.records import PatientRecords, day_bounds
from app.exports.service import ExportRequest, finish_export
from app.exports.stream import zip_stream
from app.protocols.models import ProtocolVersion

CHUNK = 25

_SOURCES = {
    "doses": (Dose, Dose.taken_at),
    "gates": (GateCheck, GateCheck.checked_at),
    "checkins": (CheckIn, CheckIn.recorded_at),
    "questionnaires": (QuestionnaireResponse, QuestionnaireResponse.completed_at),
    "ledger": (LedgerEntry, LedgerEntry.occurred_at),
    "safety_events": (SafetyEvent, SafetyEvent.occurred_at),
    "flag_reviews": (FlagReview, FlagReview.reviewed_at),
    "alerts": (Alert, Alert.raised_at),
}


def records_for(session: Session, patients: list[User], start: date, end: date,
                kind: str) -> list[PatientRecords]:
    """PatientRecords for each patient (in order) holding only `kind` (and what its rows
    name: protocol versions, revisions, author names)."""
    found: dict[uuid.UUID, PatientRecords] = {}
    for patient in patients:
        start_at, end_at = day_bounds(patient, start, end)
        found[patient.id] = PatientRecords(patient=patient, start=start, end=end,
                                           start_at=start_at, end_at=end_at)
    if not found:
        return []
    ids = list(found)
    low = min(r.start_at for r in found.values())
    high = max(r.end_at for r in found.values())
    if kind == "patients":
        return [found[p.id] for p in patients]  # the patients themselves: nothing to read
    model, at = _SOURCES[kind]
    rows = session.exec(select(model).where(col(model.patient_id).in_(ids), col(at) >= low,
                                            col(at) < high).order_by(col(at))).all()
    for row in rows:
        records = found[row.patient_id]
        if records.start_at <= getattr(row, at.key) < records.end_at:
            getattr(records, kind).append(row)
    if kind in ("doses", "gates"):
        for version in session.exec(select(ProtocolVersion).where(
                col(ProtocolVersion.patient_id).in_(ids))).all():
            found[version.patient_id].protocols.append(version)
    if kind == "doses":
        revisions = corrections.revisions_of(session, [d.id for r in found.values()
                                                       for d in r.doses])
        for records in found.values():
            records.revisions = {d.id: revisions.get(d.id, []) for d in records.doses}
    people = set()
    for records in found.values():
        people |= {c.author_id for c in records.checkins}
        people |= {e.reviewed_by_id for e in records.safety_events if e.reviewed_by_id}
        people |= {r.reviewed_by_id for r in records.flag_reviews}
        people |= {a.acknowledged_by_id for a in records.alerts if a.acknowledged_by_id}
    if people:
        names = {u.id: u.display_name for u in session.exec(
            select(User).where(col(User.id).in_(people))).all()}
        for records in found.values():
            records.authors = names
    return [found[p.id] for p in patients]


def _batches(session: Session, patients: list[User], request: ExportRequest,
             kind: str) -> Iterator[PatientRecords]:
    for first in range(0, len(patients), CHUNK):
        chunk = patients[first:first + CHUNK]
        yield from records_for(session, chunk, request.start, request.end, kind)
        session.expunge_all()  # nothing of this chunk stays in memory


def panel_zip(engine, patients: list[User], request: ExportRequest, *,
              generated_at: datetime, audit_id: uuid.UUID) -> Iterator[bytes]:
    """The panel's zip as it is written. `patients` are detached rows (id, zone)."""
    counter = csv_export.Counter()
    with Session(engine, expire_on_commit=False) as session:
        files = [("README.txt", [csv_export.readme(
            start=request.start, end=request.end, generated_at=generated_at,
            patients=f"{len(patients)} patients (the prescriber's panel)")])]
        files += [(name, csv_export.csv_chunks(
            name, _batches(session, patients, request, csv_export.NEEDS[name]), counter))
            for name in csv_export.FILES]
        yield from zip_stream(files, modified=generated_at)
        finish_export(session, audit_id, rows=counter.records)
        session.commit()
