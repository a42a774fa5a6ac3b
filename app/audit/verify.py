"""Walk the stored trail in `seq` order, a batch at a time, and check its chain."""

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.audit import chain
from app.audit.models import AuditEvent

BATCH = 1000


@dataclass(frozen=True)
class Report:
    entries: int  # how many entries were checked (up to and including a break)
    broken: chain.Break | None


def _entries(session: Session, batch: int) -> Iterator[AuditEvent]:
    # Keyset pages: each batch starts after the last seq seen, so memory stays one batch.
    last = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(col(AuditEvent.seq) > last)
            .order_by(col(AuditEvent.seq)).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(engine: Engine, batch: int = BATCH) -> Report:
    counted = 0

    def counting(entries: Iterator[AuditEvent]) -> Iterator[AuditEvent]:
        nonlocal counted
        for entry in entries:
            counted += 1
            yield entry

    with Session(engine) as session:
        broken = chain.first_break(counting(_entries(session, batch)))
    return Report(counted, broken)


REASONS = {
    "hash": "the entry was changed",
    "link": "an entry before it was changed or removed",
    "gap": "an entry before it is missing",
}


def message(report: Report) -> str:
    if report.broken is None:
        return f"audit trail intact: {report.entries} entries"
    reason = REASONS.get(report.broken.reason, report.broken.reason)
    return f"audit trail broken at entry {report.broken.seq} ({reason})"
