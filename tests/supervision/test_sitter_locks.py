"""A sitter's batch can carry entries for two patients. Each patient's writes are serialised
by a lock (app/sync/service.py lock_patient); a batch that took them item by item could hold
one patient's lock while waiting for the other's, against a batch doing the opposite."""

import threading
import time

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from app.checkins.models import CheckIn
from app.db import engine, utcnow
from app.sync.service import patient_lock_key
from tests import factories
from tests.conftest import IS_POSTGRES
from tests.helpers import signed_in_clients

CHECKLIST = {"sitter_present": True, "bp_taken": True, "safe_place": True, "no_driving": True}


def _checklist(patient) -> dict:
    return factories.sync_item("sitter_checkin", {"patient_id": str(patient.id),
                                                  "slot": "sitter_check", "values": CHECKLIST})


def _lock(session: Session, patient) -> None:
    key = patient_lock_key(patient.id)
    session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=key))


def _waiting_for_a_lock(session: Session) -> bool:
    return session.exec(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).one()[0] > 0


def _until_someone_waits_for_a_lock() -> bool:
    """Whether another transaction came to wait for an advisory lock within 30 seconds."""
    with Session(engine) as watcher:
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(watcher) and time.monotonic() < deadline:
            watcher.rollback()
            time.sleep(0.05)
        return _waiting_for_a_lock(watcher)


@pytest.mark.skipif(not IS_POSTGRES, reason="advisory locks are PostgreSQL's (SQLite: one writer)")
def test_a_sitters_batch_for_two_patients_takes_their_locks_in_one_order(db):
    """Another writer holds the first patient's lock (in the lock order) and then asks for the
    second's, as a sitter's batch naming both would. The batch under test names them the other
    way round. Before, it took the second patient's lock for its first item and waited for the
    first's: PostgreSQL ended one of the two as a deadlock, and the phone got a 500."""
    sitter = factories.user(db, role="caregiver")
    patients = []
    for _ in range(2):
        _prescriber, patient, _version = factories.patient_with_protocol(db)
        factories.link(db, patient, sitter)
        patients.append(patient)
    db.commit()
    first, second = sorted(patients, key=lambda p: patient_lock_key(p.id))
    (web,) = signed_in_clients(sitter.email, 1, factories.PASSWORD)
    answer: list = []
    try:
        csrf = web.get("/api/v1/me").json()["csrf_token"]
        with Session(engine) as other:
            other.exec(text("SET LOCAL lock_timeout = '10s'"))
            _lock(other, first)
            batch = threading.Thread(target=lambda: answer.append(web.post(
                "/api/v1/sync", json={"items": [_checklist(second), _checklist(first)]},
                headers={"X-CSRF-Token": csrf})))
            batch.start()
            _until_someone_waits_for_a_lock()
            # The batch waits on a lock now; the other writer goes on to the second patient.
            _lock(other, second)
            other.commit()
            batch.join(timeout=60)
    finally:
        web.__exit__(None, None, None)
    assert [a.status_code for a in answer] == [200], [a.text for a in answer]
    assert [r["status"] for r in answer[0].json()["results"]] == ["created", "created"]
    db.expire_all()
    assert db.exec(select(func.count()).select_from(CheckIn)).one() == 2


@pytest.mark.skipif(not IS_POSTGRES, reason="advisory locks are PostgreSQL's (SQLite: one writer)")
def test_a_sitters_entry_waiting_for_the_lock_sees_a_removal_made_meanwhile(db):
    """A concurrency tester's sitter sent a checklist while the patient's long batch held the
    lock; the patient removed the sitter meanwhile, was answered, and a second later the
    checklist was saved: the link had been read before the wait. Now the removal waits for the
    lock too, and the entry asks again once it holds it."""
    from sqlalchemy import update

    from app.careteam.models import CareLink

    sitter = factories.user(db, role="caregiver")
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    factories.link(db, patient, sitter)
    db.commit()
    (web,) = signed_in_clients(sitter.email, 1, factories.PASSWORD)
    answer: list = []
    try:
        csrf = web.get("/api/v1/me").json()["csrf_token"]
        with Session(engine) as other:  # the patient's long batch
            other.exec(text("SET LOCAL lock_timeout = '10s'"))
            _lock(other, patient)
            entry = threading.Thread(target=lambda: answer.append(web.post(
                "/api/v1/sync", json={"items": [_checklist(patient)]},
                headers={"X-CSRF-Token": csrf})))
            entry.start()
            _until_someone_waits_for_a_lock()
            # The removal, in the transaction that holds the lock (as it now takes it).
            other.exec(update(CareLink).where(CareLink.member_id == sitter.id)
                       .values(revoked_at=func.now()))
            other.commit()
            entry.join(timeout=60)
    finally:
        web.__exit__(None, None, None)
    assert [a.status_code for a in answer] == [200], [a.text for a in answer]
    (result,) = answer[0].json()["results"]
    assert result["status"] == "rejected" and result["code"] == "not_supporting", result
    db.expire_all()
    assert db.exec(select(func.count()).select_from(CheckIn)).one() == 0


@pytest.mark.skipif(not IS_POSTGRES, reason="advisory locks are PostgreSQL's (SQLite: one writer)")
def test_removing_a_sitter_waits_for_the_patients_lock(db):
    """The removal waits for a sitter's entry being written, as a dose or a protocol save
    does, so the two are judged one after the other."""
    from app.careteam import service as careteam
    from app.careteam.models import CareLink

    sitter = factories.user(db, role="caregiver")
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    factories.link(db, patient, sitter)
    db.commit()
    link_id = db.exec(select(CareLink.id).where(CareLink.member_id == sitter.id)).one()
    done: list = []

    def remove() -> None:
        with Session(engine) as mine:
            careteam.remove_caregiver(mine, patient=mine.get(type(patient), patient.id),
                                      link_id=link_id, now=utcnow())
            mine.commit()
            done.append(True)

    with Session(engine) as other:
        other.exec(text("SET LOCAL lock_timeout = '10s'"))
        _lock(other, patient)
        removal = threading.Thread(target=remove)
        removal.start()
        assert _until_someone_waits_for_a_lock() and not done
        other.commit()
    removal.join(timeout=60)
    assert done == [True]
