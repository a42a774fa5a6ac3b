"""Two saves racing for the same version number: one wins, the other gets a plain conflict."""

import uuid

import pytest
from sqlmodel import Session, select

from app.db import engine, utcnow
from app.errors import Conflict
from app.protocols import service
from app.protocols.models import ProtocolVersion
from tests import factories


def test_a_save_that_loses_the_race_is_a_conflict_not_a_crash(db, monkeypatch):
    prescriber, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    values = factories.protocol_values(reason="Raise dose")
    # Both requests read version 1 as the latest, as two tabs would.
    with Session(engine) as first, Session(engine) as second:
        one = service.save(first, prescriber=first.get(type(prescriber), prescriber.id),
                           patient_id=patient.id, version_id=uuid.uuid4(), values=values,
                           now=utcnow())
        first.commit()
        assert one.version == 2
        # The second request read "version 1 is the latest" before the first committed.
        monkeypatch.setattr(service, "current", lambda session, patient_id: session.get(
            ProtocolVersion, _version_id(session, patient_id, 1)))
        with pytest.raises(Conflict, match="Someone saved this protocol"):
            service.save(second, prescriber=second.get(type(prescriber), prescriber.id),
                         patient_id=patient.id, version_id=uuid.uuid4(), values=values,
                         now=utcnow())
    db.expire_all()
    assert len(db.exec(select(ProtocolVersion)).all()) == 2


def _version_id(session, patient_id, number):
    return session.exec(select(ProtocolVersion.id).where(
        ProtocolVersion.patient_id == patient_id, ProtocolVersion.version == number)).one()
