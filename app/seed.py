"""The demo clinic, seeded on an empty database outside production.

Later capabilities extend `seed_demo` with realistic history for the same people.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.accounts.models import Role, User
from app.accounts.service import password_hash
from app.careteam import access
from app.careteam.models import Relation

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published demo credentials, never in production

DEMO_ACCOUNTS_AGE = timedelta(days=50)

DEMO_ACCOUNTS = (
    ("prescriber@demo.test", "Dr. Amara Okafor", Role.PRESCRIBER, "America/New_York"),
    ("patient@demo.test", "Jordan Reyes", Role.PATIENT, "America/New_York"),
    ("patient2@demo.test", "Sam Whitfield", Role.PATIENT, "America/Chicago"),
    ("caregiver@demo.test", "Alex Reyes", Role.CAREGIVER, "America/New_York"),
    # Speaks Spanish (issue 15): her account's language is set, whatever the browser's.
    ("paciente@demo.test", "Lucía Morales", Role.PATIENT, "America/Los_Angeles"),
    # Left the safety questions unfinished last evening: the screener hold, from both sides.
    ("patient3@demo.test", "Riley Chen", Role.PATIENT, "America/Denver"),
)
# Each demo account's language setting; the others follow the browser.
DEMO_LANGUAGES = {"paciente@demo.test": "es"}


def database_is_empty(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is None


def seed_demo(session: Session, now: datetime) -> dict[str, User]:
    hashed = password_hash.hash(DEMO_PASSWORD)
    users: dict[str, User] = {}
    for email, name, role, tz in DEMO_ACCOUNTS:
        user = User(
            email=email,
            display_name=name,
            role=role,
            timezone=tz,
            password_hash=hashed,
            password_changed_at=now,
            # The accounts predate the six weeks of history below (nothing is due before an
            # account existed).
            created_at=now - DEMO_ACCOUNTS_AGE,
            language=DEMO_LANGUAGES.get(email),
        )
        session.add(user)
        users[email] = user
    session.flush()
    prescriber = users["prescriber@demo.test"]
    prescriber.clinic_phone = "+1 (555) 010-2000"  # "Call my clinic" (a fictional 555 number)
    for patient_email in ("patient@demo.test", "patient2@demo.test", "paciente@demo.test",
                          "patient3@demo.test"):
        access.link(
            session,
            patient_id=users[patient_email].id,
            member_id=prescriber.id,
            relation=Relation.PRESCRIBER,
            now=now,
        )
    # The caregiver supports the first patient only, sees their sessions and doses (not their
    # check-ins), and accepted safety alerts about them: since the accounts began, before
    # Jordan's history, so the alerts in it were Alex's too (a sitter is told only of alerts
    # raised after joining).
    caregiver_link = access.link(
        session,
        patient_id=users["patient@demo.test"].id,
        member_id=users["caregiver@demo.test"].id,
        relation=Relation.CAREGIVER,
        now=now - DEMO_ACCOUNTS_AGE,
        scope=access.Scope.DOSES,
    )
    caregiver_link.receives_alerts = True
    session.add(caregiver_link)
    session.flush()
    from app.seed_history import (
        seed_checkins,
        seed_patient2_history,
        seed_patient_history,
        seed_spanish_patient_history,
        seed_unscreened_patient_history,
    )

    seed_patient_history(session, prescriber, users["patient@demo.test"], now,
                         sitter=users["caregiver@demo.test"])
    seed_checkins(session, users["patient@demo.test"], now)
    seed_caregiver_alerts(session, users["caregiver@demo.test"], users["patient@demo.test"])
    # The second patient's high-risk screen (raised through safety.raise_event): the review the
    # next morning cleared the dosing hold and answered its alert.
    seed_patient2_history(session, prescriber, users["patient2@demo.test"], now)
    seed_spanish_patient_history(session, prescriber, users["paciente@demo.test"], now)
    seed_unscreened_patient_history(session, prescriber, users["patient3@demo.test"], now)
    session.flush()
    from app.alerts import service as alerts

    # Riley's screener, unanswered since last evening: the alert the dispatcher would have
    # raised by now (only Riley's: every other item 9 answer in the demo was screened), unless
    # SCREENER_UNANSWERED_MINUTES is set longer than that; then the dispatcher raises it later.
    alerts.raise_unanswered_screeners(session, now)
    seed_reminders(session, users, now)
    seed_audit(session, users, now)
    return users


def seed_audit(session: Session, users: dict[str, User], now: datetime) -> None:
    """The audit trail beyond what the services above recorded: Dr. Okafor opened Jordan's
    record this week and exported it as a PDF before a visit, so Jordan's "Who has seen my
    records" and the prescriber's access log show something real."""
    from app.audit import service as audit

    prescriber, jordan = users["prescriber@demo.test"], users["patient@demo.test"]
    for days, hours in ((6, 2), (2, 5), (0, 3)):
        audit.record(session, action="view", actor=prescriber, patient_id=jordan.id,
                     details={"purpose": "treat"}, now=now - timedelta(days=days, hours=hours))
    start = (now - timedelta(days=89)).date().isoformat()
    audit.record(session, action="export", actor=prescriber, patient_id=jordan.id,
                 now=now - timedelta(days=2, hours=4),
                 details={"format": "pdf", "start": start, "end": now.date().isoformat(),
                          "rows": 120})


def seed_caregiver_alerts(session: Session, caregiver: User, patient: User) -> None:
    """Jordan's two blood-pressure holds alerted Alex (raised by the gate, in the history): the
    first Alex acknowledged with a note; the latest is still open on *People I support*."""
    from sqlmodel import col, select

    from app.alerts import service as alerts
    from app.alerts.models import Alert

    held = session.exec(select(Alert).where(Alert.patient_id == patient.id,
                                            Alert.kind == alerts.BP_HOLD)
                        .order_by(col(Alert.raised_at))).all()
    assert len(held) == 2, held  # the seed must show what it describes
    first = held[0]
    # Alex was notified at once, as the dispatcher does (alerts.notify_due), then acknowledged:
    # the record says who was told, not "Nobody was notified".
    alerts.notify_due(session, first.raised_at)
    alerts.acknowledge(session, user=caregiver, alert_id=first.id,
                       note="Called Jordan: rested, rechecked at 132/84 and went ahead.",
                       now=first.raised_at + timedelta(minutes=12))


def seed_reminders(session: Session, users: dict[str, User], now: datetime) -> None:
    """Reminder settings, and the next day and a half of reminders planned, so the reminders
    page shows what is coming before any phone has turned them on."""
    from datetime import time

    from app.reminders import service as reminders
    from app.reminders.models import ReminderPreferences

    # Jordan sleeps 22:00-07:00 and prefers the plainest text; a session scheduled inside
    # that window would still ring.
    session.add(ReminderPreferences(user_id=users["patient@demo.test"].id,
                                    quiet_start=time(22, 0), quiet_end=time(7, 0),
                                    message="check_app", snooze_minutes=30))
    session.flush()
    reminders.plan_all(session, now)
