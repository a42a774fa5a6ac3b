"""The stored chain: writers at once never fork or skip it, the database refuses to change or
remove an entry, and an entry changed behind the database's back is found at its place."""

import threading

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from app.audit import chain, guard
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.audit.verify import verify
from app.db import engine
from tests import figures

THREADS = 6
EACH = 15


def _seqs() -> list[int]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq))).all())


def _write(n: int) -> None:
    with Session(engine) as session:
        for _ in range(n):
            audit.record(session, action="sign_in", outcome="failed",
                         details={"method": "password"})
        session.commit()


def test_writers_at_once_leave_one_unbroken_chain():
    """Threads, each with its own connection, append at the same moment (one commit per entry,
    so their transactions interleave as requests' do). On PostgreSQL the advisory lock orders
    them; on SQLite the database's write lock does."""
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            start.wait()
            for _ in range(EACH):
                _write(1)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = THREADS * EACH
    assert _seqs() == list(range(1, total + 1))  # no gap, no two entries in one place
    report = verify(engine, batch=7)
    assert (report.entries, report.broken) == (total, None)
    figures.add("audit entries appended concurrently, chain verified", total)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET outcome = 'ok' WHERE seq = 1",
    "DELETE FROM audit_events WHERE seq = 1",
    "DELETE FROM audit_events",
])
def test_the_database_refuses_to_change_or_remove_an_entry(statement):
    _write(2)
    with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert "append-only" in str(refused.value.orig)
    assert _seqs() == [1, 2]
    assert verify(engine).broken is None


def _tamper(statement: str) -> None:
    """What an intruder with the database's keys could do: lift the guard, edit, put it back,
    all in one transaction so no one sees the guard down."""
    with engine.begin() as conn:
        guard.drop(conn)
        conn.exec_driver_sql(statement)
        guard.create(conn)


def test_an_entry_edited_behind_the_guard_breaks_the_chain_at_that_entry():
    _write(5)
    _tamper("UPDATE audit_events SET outcome = 'ok' WHERE seq = 3")
    assert verify(engine).broken == chain.Break(3, "hash")
    figures.add("audit tamperings caught at the right entry")


def test_an_entry_removed_behind_the_guard_is_a_gap_after_it():
    _write(5)
    _tamper("DELETE FROM audit_events WHERE seq = 3")
    assert verify(engine).broken == chain.Break(4, "gap")
    figures.add("audit tamperings caught at the right entry")


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_link_of_the_next():
    """Recomputing the edited entry's own hash does not help: the next entry names the old one."""
    _write(5)
    with Session(engine) as session:
        third = session.exec(select(AuditEvent).where(AuditEvent.seq == 3)).one()
        fields = chain.fields_of(third) | {"outcome": "ok"}
        new_hash = chain.entry_hash(fields)
    assert new_hash.isalnum()  # a hex digest, safe to write into the statement
    _tamper(f"UPDATE audit_events SET outcome = 'ok', hash = '{new_hash}' WHERE seq = 3")  # noqa: S608
    assert verify(engine).broken == chain.Break(4, "link")
    figures.add("audit tamperings caught at the right entry")
