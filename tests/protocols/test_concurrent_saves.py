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


def test_a_dose_sent_while_a_new_plan_is_being_saved_waits_for_it(db):
    """The prescriber's save and the patient's dose at the same instant: the dose read the
    versions before the save committed, so a check made under the old plan cleared it. The save
    takes the patient's write lock, as a dose does: the dose waits, then sees the new plan and
    its check is refused."""
    import threading
    import time

    from tests.helpers import signed_in_clients

    prescriber, patient, _ = factories.patient_with_protocol(
        db, **factories.session_now_protocol(factories.user(db, role="patient")))
    db.commit()
    (web,) = signed_in_clients(patient.email, 1, factories.PASSWORD)
    csrf = web.get("/api/v1/me").json()["csrf_token"]

    def sync(*items):
        return web.post("/api/v1/sync", json={"items": list(items)},
                        headers={"X-CSRF-Token": csrf}).json()["results"]

    (checked,) = sync(factories.sync_item("gate", factories.gate_data()))
    assert checked["verdict"] == "ok"
    answer: list = []
    with Session(engine) as saver:
        service.save(saver, prescriber=saver.get(type(prescriber), prescriber.id),
                     patient_id=patient.id, version_id=uuid.uuid4(),
                     values=factories.protocol_values(**factories.session_now_protocol(
                         patient, bp_hold_systolic=115, reason="Lower hold.")), now=utcnow())
        dose = threading.Thread(target=lambda: answer.extend(sync(factories.sync_item("dose", {
            "taken_at": utcnow().isoformat(), "dose_mg": "100", "route": "sublingual",
            "gate_id": checked["id"]}))))
        dose.start()
        time.sleep(1)
        assert dose.is_alive() and not answer  # waiting for the save
        saver.commit()
    dose.join(timeout=20)
    (result,) = answer
    assert result["status"] == "rejected", result
    assert result["errors"] == {"gate_id": "Your plan changed after this safety check. "
                                           "Check again."}
