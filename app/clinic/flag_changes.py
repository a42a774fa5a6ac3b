"""Counting writes to what a patient's flags are made of (see app/clinic/flag_index.py).

Called after every flush (app/db.py registers it, so every process counts). It imports models
only, never a module that registers Session listeners: it is first imported during a flush,
while SQLAlchemy iterates those listeners.
"""

import uuid
from collections.abc import Iterable

from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.clinic.models import FlagSummary

# Every table `flags.gather` reads (tests/clinic/test_flag_summary.py checks the two agree).
FLAG_SOURCE_TABLES = frozenset({
    "protocol_versions", "doses", "safety_events", "gate_checks", "ledger_entries",
    "questionnaire_responses", "checkins", "flag_reviews",
})
_TABLE = FlagSummary.__table__  # type: ignore[attr-defined]


def note_flush(session: Session) -> None:
    """Count a change for each patient whose flag sources this flush wrote."""
    touched: set[uuid.UUID] = set()
    deleted_users: set[uuid.UUID] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__tablename__", None)
        if table in FLAG_SOURCE_TABLES:
            touched.add(obj.patient_id)
        elif table == "users":
            if obj in session.deleted:
                deleted_users.add(obj.id)  # their brief goes with them (ON DELETE CASCADE)
            elif obj in session.dirty and inspect(obj).attrs.timezone.history.has_changes():
                touched.add(obj.id)  # the patient's midnight: their phase and daily counts
    touched -= deleted_users
    if touched:
        count_changes(session.connection(), touched)


def upsert(connection: Connection):
    return (pg_insert if connection.dialect.name == "postgresql" else sqlite_insert)(_TABLE)


def count_changes(connection: Connection, patient_ids: Iterable[uuid.UUID]) -> None:
    """One more change for each patient (in id order, so concurrent writers lock rows in the
    same order and cannot deadlock)."""
    rows = [{"patient_id": pid, "changes": 1, "computed_from": -1, "urgency": 0, "codes": ""}
            for pid in sorted(set(patient_ids))]
    connection.execute(upsert(connection).on_conflict_do_update(
        index_elements=[_TABLE.c.patient_id], set_={"changes": _TABLE.c.changes + 1}), rows)
