"""Text that does not fit its column is refused before the write, the same on both databases
(app/db.py): PostgreSQL refused it with a 500 and lost the request, SQLite stored it whole.
Each form and sync kind checks its own fields first, with its own message beside the field
(a phase change's reason past 500 characters was the last one found without); this is the
floor under them."""

import uuid

import pytest
from sqlalchemy import String
from sqlmodel import SQLModel, select
from sqlmodel.sql.sqltypes import AutoString

from app.accounts.models import User
from app.db import bounded_text, utcnow
from app.doses import service
from app.doses.models import Dose
from app.errors import Invalid
from tests import factories


def test_every_limited_text_column_in_the_schema_is_guarded():
    in_schema = {(table.name, column.name, column.type.length)
                 for table in SQLModel.metadata.sorted_tables for column in table.columns
                 if isinstance(column.type, String | AutoString) and column.type.length}
    guarded = set()
    for mapper in SQLModel._sa_registry.mappers:
        columns = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
        guarded |= {(columns[key].table.name, columns[key].name, length)
                    for key, length in bounded_text(mapper.class_)}
    assert len(in_schema) > 60  # users, doses, notes, reasons, push, reminders, audit...
    assert in_schema == guarded


def test_a_new_row_with_text_too_long_is_refused_and_nothing_is_written(db):
    name = "Ana " + "ñ" * 117  # 121 characters (more bytes): PostgreSQL counts characters
    with pytest.raises(Invalid) as refused:
        factories.user(db, display_name=name)
    assert refused.value.field == "display_name"
    assert refused.value.message == "Use at most 120 characters."
    db.rollback()
    assert db.exec(select(User).where(User.display_name == name)).first() is None


def test_text_that_just_fits_is_kept_whole_on_both_databases(db):
    name = "Ana " + "ñ" * 116  # 120 characters, 236 bytes
    account = factories.user(db, display_name=name)
    db.commit()
    db.expire_all()
    assert db.get(User, account.id).display_name == name


def test_a_changed_row_with_text_too_long_is_refused_and_keeps_what_it_had(db):
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    now = utcnow()
    dose = service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
                               data={"taken_at": now.isoformat(), "dose_mg": "100",
                                     "route": "sublingual", "no_gate_reason": "Logged later.",
                                     "override_reason": "history", "already_taken": True},
                               now=now)
    db.commit()
    dose.no_gate_reason = "x" * 501
    with pytest.raises(Invalid) as refused:
        db.flush()
    assert (refused.value.field, refused.value.message) == (
        "no_gate_reason", "Use at most 500 characters.")
    db.rollback()
    db.expire_all()
    assert db.get(Dose, dose.id).no_gate_reason == "Logged later."
