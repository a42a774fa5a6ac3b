"""Helpers for the audit trail's tests: read entries back, check they carry shape only."""

import json

import pytest
from sqlmodel import col, select

from app.audit.models import AuditEvent

# Every key an entry's details may hold: the shape of what happened, never its content.
SHAPE_KEYS = {"method", "reason", "purpose", "list", "path", "format", "start", "end", "rows",
              "patients", "complete", "export", "change", "scope", "ends_on", "ref", "version",
              "kind", "offline_copy"}


def entries(db, **where) -> list[AuditEvent]:
    db.expire_all()
    query = select(AuditEvent).order_by(col(AuditEvent.seq))
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.exec(query).all())


def assert_shape_only(entry: AuditEvent, *canaries: str) -> None:
    """No health value, name or address in the entry: only known keys, no canary text."""
    assert set(entry.details) <= SHAPE_KEYS, entry.details
    text = json.dumps(entry.details, default=str)
    for canary in canaries:
        assert canary not in text, (canary, entry.action)


@pytest.fixture
def read_entries(db):
    return lambda **where: entries(db, **where)
