"""Two dispatchers at once: each notification step of each alert is queued once.

Meant for PostgreSQL (run with TEST_DATABASE_URL), where the two passes really overlap; on
SQLite the write lock queues them one after the other and the outcome must be the same.
"""

import threading
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app.alerts import service as alerts
from app.alerts.models import Alert
from app.config import settings
from app.db import engine
from app.reminders.models import ReminderOccurrence
from tests import factories
from tests.alerts.conftest import bp_emergency_gate

ALERTS = 40
REPEAT = timedelta(minutes=settings.alert_repeat_minutes)


def two_dispatchers_at(now) -> list[int]:
    start = threading.Barrier(2)
    queued: list[int] = []
    errors: list[BaseException] = []

    def dispatcher():
        try:
            with Session(engine) as session:
                start.wait(timeout=30)
                queued.append(alerts.notify_due(session, now))
                session.commit()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return queued


def test_two_dispatchers_queue_each_step_once(db, clinic):
    t0 = clinic.t0
    for n in range(ALERTS):
        bp_emergency_gate(db, clinic.patient, t0 - timedelta(seconds=n))
    other = factories.user(db, role="patient")
    factories.link(db, other, clinic.first)
    db.commit()

    for step, contact in enumerate((clinic.first, clinic.second, clinic.caregiver)):
        queued = two_dispatchers_at(t0 + step * REPEAT)
        assert sum(queued) == ALERTS  # between them, each alert's step once
        db.expire_all()
        per_alert = db.exec(
            select(ReminderOccurrence.subject_id, func.count())
            .where(ReminderOccurrence.local_time == str(step))
            .group_by(ReminderOccurrence.subject_id)
        ).all()
        assert len(per_alert) == ALERTS and {n for _, n in per_alert} == {1}
        users = set(
            db.exec(
                select(ReminderOccurrence.user_id).where(ReminderOccurrence.local_time == str(step))
            ).all()
        )
        assert users == {contact.id}
        counts = set(db.exec(select(Alert.notified_count)).all())
        assert counts == {step + 1}
    assert db.exec(select(func.count()).select_from(ReminderOccurrence)).one() == 3 * ALERTS
