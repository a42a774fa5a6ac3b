"""The load benchmark's clinic, written into the database in DATABASE_URL (bench/load.py runs
this in a child process: the app's engine reads DATABASE_URL at import).

    DATABASE_URL=… APP_ENV=production … python -m bench.load_seed PATIENTS PRESCRIBERS \
        [CAREGIVERS] [FIRST_DOSERS]

PATIENTS patients split over PRESCRIBERS prescribers; each of CAREGIVERS caregivers (sitters)
supports two of the patients, seeing what the widest scope shares (the session, doses and
check-ins), as a sitter of a spouse and a parent might. Each patient has one
protocol version (a session every day at the local time of seeding, so the run's doses are
on schedule: not "extra", not "too soon" after yesterday's) and six weeks of history in the
shape of the demo's: a dose on most days with its safety check and +40 min / end-of-session
check-ins, a daily mood, a PHQ-9 and GAD-7 every two weeks, a fill every month. Accounts are
ORM rows with one Argon2 hash shared by all (hashing at the production cost is slow); history
is inserted in bulk. Prints the accounts as JSON on the last line.

FIRST_DOSERS more patients, the same plan and the last FIRST_DOSER_DAYS of that history (what
their doses' rules read), under a prescriber of their own (so the bench prescribers' lists do
not grow with them), each already signed in: a session started by
`accounts.service.start_session`, as every way in starts one, its cookie token printed. Each
one logs the day's first dose once, so the benchmark can measure the goal's batch (a safety
check and a dose) clean, without the correction that keeps a repeating patient's doses clean.
Signing that many in through the form would spend minutes on Argon2 before the run starts.
"""

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session

from app.accounts.models import Role, User
from app.accounts.service import password_hash, start_session
from app.careteam.models import CareLink, Relation
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.config import settings
from app.db import engine
from app.doses.models import Dose, GateCheck, LedgerEntry
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from bench.server import analyze
from tests.factories import protocol_values

PASSWORD = "bench-load-password-2026"  # noqa: S105 - bench accounts on a throwaway database
ZONE = "America/New_York"
HISTORY_DAYS = 42
# The first dosers' history: the days a dose's rules read (the rolling limits look 8 days back,
# the extra-dose check 3), so their doses are judged on as many rows as a six-week patient's.
FIRST_DOSER_DAYS = 10
MISSED = (2, 5)  # day offsets (mod 7) without a dose: a believable, mostly adherent patient


def patient_email(i: int) -> str:
    return f"bench-patient-{i:04d}@example.test"


def prescriber_email(i: int) -> str:
    return f"bench-prescriber-{i:02d}@example.test"


def first_doser_email(i: int) -> str:
    return f"bench-first-dose-{i:04d}@example.test"


def caregiver_email(i: int) -> str:
    return f"bench-caregiver-{i:02d}@example.test"


SUPPORTED = 2  # patients per caregiver


def bench_protocol(now: datetime) -> dict:
    """A session every day at this local minute, started six weeks ago; 20 h minimum between
    doses (a daily plan), maxima that a daily 100 mg dose respects."""
    local = now.astimezone(ZoneInfo(ZONE))
    return protocol_values(
        starts_on=(local.date() - timedelta(days=HISTORY_DAYS)).isoformat(),
        induction={"cadence": "interval", "every_n_days": 1, "at": local.strftime("%H:%M")},
        maintenance=None, min_hours_between_doses="20", max_mg_per_24h="200",
        max_mg_per_7d="800", reason="Bench clinic.")


def seed(patients: int, prescribers: int, now: datetime, caregivers: int = 0,
         first_dosers: int = 0) -> dict:
    hashed = password_hash.hash(PASSWORD)  # once: every bench account shares it
    created = now - timedelta(days=HISTORY_DAYS + 8)
    with Session(engine) as session:
        doctors = [User(email=prescriber_email(i), display_name=f"Dr. Bench {i:02d}",
                        role=Role.PRESCRIBER, timezone=ZONE, password_hash=hashed,
                        password_changed_at=created, created_at=created)
                   for i in range(prescribers)]
        people = [User(email=patient_email(i), display_name=f"Patient {i:04d}",
                       role=Role.PATIENT, timezone=ZONE, password_hash=hashed,
                       password_changed_at=created, created_at=created)
                  for i in range(patients)]
        caregivers = min(caregivers, patients // SUPPORTED)
        sitters = [User(email=caregiver_email(i), display_name=f"Sitter {i:02d}",
                        role=Role.CAREGIVER, timezone=ZONE, password_hash=hashed,
                        password_changed_at=created, created_at=created)
                   for i in range(caregivers)]
        # The first dosers' prescriber, never signed in by the benchmark.
        their_doctor = User(email="bench-first-dose-prescriber@example.test",
                            display_name="Dr. First Doses",
                            role=Role.PRESCRIBER, timezone=ZONE, password_hash=hashed,
                            password_changed_at=created, created_at=created)
        dosers = [User(email=first_doser_email(i), display_name=f"First dose {i:04d}",
                       role=Role.PATIENT, timezone=ZONE, password_hash=hashed,
                       password_changed_at=created, created_at=created)
                  for i in range(first_dosers)]
        session.add_all(doctors + people + sitters + [their_doctor] + dosers)
        session.flush()
        for i, person in enumerate(people):
            session.add(CareLink(patient_id=person.id, member_id=doctors[i % prescribers].id,
                                 relation=Relation.PRESCRIBER, created_at=created))
        for person in dosers:
            session.add(CareLink(patient_id=person.id, member_id=their_doctor.id,
                                 relation=Relation.PRESCRIBER, created_at=created))
        for i, sitter in enumerate(sitters):
            for person in people[SUPPORTED * i:SUPPORTED * (i + 1)]:
                session.add(CareLink(patient_id=person.id, member_id=sitter.id,
                                     relation=Relation.CAREGIVER, scope="checkins",
                                     created_at=created))
        session.flush()
        # One protocol saved through the service, copied for the others (same plan, own ids).
        template = protocols.save(session, prescriber=doctors[0], patient_id=people[0].id,
                                  version_id=uuid.uuid4(), values=bench_protocol(now),
                                  now=created)
        session.flush()
        columns = {c.name: getattr(template, c.name) for c in ProtocolVersion.__table__.columns}
        versions = {people[0].id: template.id}
        copies = []
        for i, person in enumerate(people[1:], start=1):
            versions[person.id] = uuid.uuid4()
            copies.append({**columns, "id": versions[person.id], "patient_id": person.id,
                           "created_by_id": doctors[i % prescribers].id})
        for person in dosers:
            versions[person.id] = uuid.uuid4()
            copies.append({**columns, "id": versions[person.id], "patient_id": person.id,
                           "created_by_id": their_doctor.id})
        if copies:
            session.execute(insert(ProtocolVersion), copies)
        rows = _history([p.id for p in people], versions, now)
        for model, values in _history([p.id for p in dosers], versions, now,
                                      FIRST_DOSER_DAYS).items():
            rows[model] += values
        for model, values in rows.items():
            for start in range(0, len(values), 2000):
                session.execute(insert(model), values[start:start + 2000])
        tokens = [start_session(session, person, now, user_agent="trochelog-bench-load")
                  for person in dosers]
        session.commit()
        analyze(engine)
        return {"password": PASSWORD,
                "patients": [p.email for p in people],
                "prescribers": [d.email for d in doctors],
                "caregivers": [c.email for c in sitters],
                "first_dosers": tokens,
                "cookie": settings.session_cookie,  # its name over http, as the bench serves
                "rows": sum(len(v) for v in rows.values())}


def _history(patient_ids: list[uuid.UUID], versions: dict, now: datetime,
             days: int = HISTORY_DAYS) -> dict:
    """`days` (six weeks) before today (today itself is left for the run), at the session's
    minute."""
    checklist = {"fasted": True, "no_sedatives": True, "no_driving": True, "safe_place": True,
                 "sitter_present": True}
    session_values = {"systolic": 128, "diastolic": 82, "heart_rate": 74, "dissociation": 3,
                      "sedation": 1, "nausea": "mild", "vomiting": "none",
                      "dizziness": "none", "headache": "none", "anxiety": "none",
                      "other": "none"}
    phq = {f"q{i}": 1 for i in range(1, 10)} | {"difficulty": "somewhat_difficult"}
    gad = {f"q{i}": 1 for i in range(1, 8)} | {"difficulty": "somewhat_difficult"}
    rows: dict = {m: [] for m in (GateCheck, Dose, CheckIn, QuestionnaireResponse, LedgerEntry)}
    session_at = now.replace(second=0, microsecond=0)
    for pid in patient_ids:
        vid = versions[pid]
        for back in range(days, 0, -1):
            at = session_at - timedelta(days=back)  # UTC arithmetic: fine for a bench
            if back % 7 not in MISSED:
                gid, did = uuid.uuid4(), uuid.uuid4()
                checked = at - timedelta(minutes=5)
                rows[GateCheck].append({
                    "id": gid, "patient_id": pid, "protocol_version_id": vid,
                    "checked_at": checked, "received_at": checked, "systolic": 126,
                    "diastolic": 80, "heart_rate": 72, "checklist": checklist,
                    "proposed_mg": Decimal(100), "verdict": "ok", "reasons": [],
                    "sitter_check_id": None})
                rows[Dose].append({
                    "id": did, "patient_id": pid, "protocol_version_id": vid, "gate_id": gid,
                    "taken_at": at, "recorded_at": at, "received_at": at,
                    "dose_mg": Decimal(100), "troches": Decimal(1), "route": "sublingual",
                    "hold_minutes": 15, "swallowed": False, "lot": "B-2026", "rx_number": "RX1",
                    "override_reason": None, "no_gate_reason": None, "flags": [],
                    "status": "recorded", "status_reason": None, "revision": 1})
                for slot, minutes in (("plus40", 40), ("end", 120)):
                    when = at + timedelta(minutes=minutes)
                    rows[CheckIn].append({
                        "id": uuid.uuid4(), "patient_id": pid, "author_id": pid,
                        "dose_id": did, "slot": slot, "values": session_values,
                        "recorded_at": when, "received_at": when, "flags": []})
            mood_at = at + timedelta(hours=9)
            if mood_at < now:
                rows[CheckIn].append({
                    "id": uuid.uuid4(), "patient_id": pid, "author_id": pid, "dose_id": None,
                    "slot": "daily", "values": {"mood": 5 + back % 3, "note": "Steady day."},
                    "recorded_at": mood_at, "received_at": mood_at, "flags": []})
            if back % 14 == 0:
                for key, answers, score in (("phq9", phq, 9), ("gad7", gad, 7)):
                    rows[QuestionnaireResponse].append({
                        "id": uuid.uuid4(), "patient_id": pid, "instrument": key,
                        "answers": answers, "score": score, "band": "mild", "risk": None,
                        "follow_up": None, "version": None, "follows_id": None,
                        "completed_at": mood_at, "received_at": mood_at})
            if back % 30 == 0:
                rows[LedgerEntry].append({
                    "id": uuid.uuid4(), "patient_id": pid, "kind": "fill",
                    "occurred_at": at, "received_at": at, "count": Decimal(30),
                    "filled_on": at.date(), "strength_mg": Decimal(100), "rx_number": "RX1",
                    "pharmacy": "Compounding Co", "lot": "B-2026", "expected_balance": None,
                    "flags": []})
    return rows


if __name__ == "__main__":
    result = seed(int(sys.argv[1]), int(sys.argv[2]), datetime.now(UTC),
                  int(sys.argv[3]) if len(sys.argv) > 3 else 0,
                  int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    print(json.dumps(result))
