"""A synthetic clinic with a year of data, inserted in bulk, usable through the real pages.

    from bench.dataset import seed
    clinic = seed("sqlite:///…/bench.db", patients=1000)   # or an Engine; the schema must exist
    clinic.director_email, clinic.patient_emails[0], clinic.password

The clinic: PRESCRIBERS prescribers. The medical director is on every patient's team (the
worst case for the patient list: 1,000 patients on one list); each patient also has one of the
other prescribers, in turn (so each of them sees patients / (PRESCRIBERS - 1)). Every account
can sign in with `PASSWORD` (one Argon2 hash at production cost, computed once and reused).

Each patient, over `days` days ending today (or from `start`): one protocol (twice-weekly
induction for 4 weeks from a Monday, then weekly, at 10:00 New York time), each session's
safety check and dose with its two session check-ins, a daily mood check-in, PHQ-9 and GAD-7
every two weeks, a monthly fill; the phone's idempotency receipts (client_writes) for each
safety check and dose; and the director's weekly look at the patient in the audit trail (a
valid hash chain). Nothing is dated after `now`.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, insert
from sqlmodel import Session, col, select

from app.accounts.models import Role, User, name_key
from app.audit import chain
from app.audit.models import AuditEvent
from app.careteam.models import CareLink, Relation
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.doses.models import Dose, GateCheck, LedgerEntry
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from app.sync.models import ClientWrite
from bench.server import analyze
from tests.factories import protocol_values

PASSWORD = "bench-password-0123"  # noqa: S105 - synthetic accounts only
PRESCRIBERS = 5
ZONE = "America/New_York"
TEMPLATE_EMAIL = "bench-template@example.test"
DIRECTOR_EMAIL = "bench-prescriber@example.test"
# The clinical records (what an export counts); the rest is the app's own bookkeeping.
CLINICAL = (GateCheck, Dose, CheckIn, QuestionnaireResponse, LedgerEntry)

_MOOD = {"mood": 6, "note": "Steady day."}
_SESSION = {"systolic": 128, "diastolic": 82, "heart_rate": 74, "dissociation": 3,
            "sedation": 1, "nausea": "mild", "vomiting": "none", "dizziness": "none",
            "headache": "none", "anxiety": "none", "other": "none", "note": ""}
_PHQ = {f"q{i}": 1 for i in range(1, 10)} | {"difficulty": "somewhat_difficult"}
_GAD = {f"q{i}": 1 for i in range(1, 8)} | {"difficulty": "somewhat_difficult"}
_CHECKLIST = {"fasted": True, "no_sedatives": True, "no_driving": True, "safe_place": True,
              "sitter_present": True}


@dataclass
class Clinic:
    start: date
    end: date
    password: str
    director_id: uuid.UUID
    director_email: str
    prescriber_emails: list[str]
    patient_ids: list[uuid.UUID]
    patient_emails: list[str]
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows inserted

    @property
    def clinical_rows(self) -> int:
        return sum(self.rows.get(m.__tablename__, 0) for m in CLINICAL)


def password_hash() -> str:
    """One Argon2id hash at the production cost (app/config.py's defaults)."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(time_cost=3, memory_cost=65536),)).hash(PASSWORD)


def _monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())


def seed(target: Engine | str, patients: int, *, days: int = 365, start: date | None = None,
         now: datetime | None = None, batch: int = 100) -> Clinic:
    """Insert the clinic into an already migrated database; returns who can sign in."""
    engine = create_engine(target) if isinstance(target, str) else target
    try:
        return _seed(engine, patients, days, start, now or datetime.now(UTC), batch)
    finally:
        if isinstance(target, str):
            engine.dispose()


def _seed(engine: Engine, patients: int, days: int, start: date | None, now: datetime,
          batch: int) -> Clinic:
    tz = ZoneInfo(ZONE)
    if start is None:  # ending today, from a Monday (the protocol's first session)
        today = now.astimezone(tz).date()
        start = _monday_on_or_before(today - timedelta(days=days - 1))
        days = (today - start).days + 1
    end = start + timedelta(days=days - 1)
    began = datetime.combine(start - timedelta(days=7), time(9), tzinfo=tz).astimezone(UTC)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)

    hashed = password_hash()
    with Session(engine) as session:
        prescribers = [
            User(email=DIRECTOR_EMAIL if i == 0 else f"bench-prescriber-{i}@example.test",
                 display_name="Dr. Bench" if i == 0 else f"Dr. Bench {i}",
                 role=Role.PRESCRIBER, timezone=ZONE, password_hash=hashed,
                 password_changed_at=began, created_at=began, clinic_phone="+1 555 010 2000")
            for i in range(PRESCRIBERS)]
        template_patient = User(email=TEMPLATE_EMAIL, display_name="Template", role=Role.PATIENT,
                                timezone=ZONE, created_at=began)
        session.add_all([*prescribers, template_patient])
        session.flush()
        director = prescribers[0]
        session.add(CareLink(patient_id=template_patient.id, member_id=director.id,
                             relation=Relation.PRESCRIBER, created_at=began))
        version = protocols.save(session, prescriber=director, patient_id=template_patient.id,
                                 version_id=uuid.uuid4(),
                                 values=protocol_values(starts_on=start.isoformat()), now=began)
        session.flush()
        template = {c.name: getattr(version, c.name) for c in ProtocolVersion.__table__.columns}
        template["created_at"] = began
        director_id = director.id
        others = [p.id for p in prescribers[1:]] or [director_id]
        prescriber_emails = [p.email for p in prescribers]
        session.commit()
    with Session(engine) as session:
        head = session.exec(select(AuditEvent.seq, AuditEvent.hash)
                            .order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)

    clinic = Clinic(start=start, end=end, password=PASSWORD, director_id=director_id,
                    director_email=DIRECTOR_EMAIL, prescriber_emails=prescriber_emails,
                    patient_ids=[], patient_emails=[])
    models = (User, CareLink, ProtocolVersion, *CLINICAL, ClientWrite, AuditEvent)
    for first in range(0, patients, batch):
        rows: dict[type, list[dict]] = {m: [] for m in models}
        receipts = rows[ClientWrite]

        def receipt(pid, kind: str, recorded: datetime, result: dict,
                    receipts: list[dict] = receipts) -> None:
            receipts.append({
                "id": uuid.uuid4(), "patient_id": pid, "author_id": pid, "kind": kind,
                "content_hash": uuid.uuid4().hex + uuid.uuid4().hex, "recorded_at": recorded,
                "received_at": recorded, "result": result})

        for i in range(first, min(first + batch, patients)):
            pid, vid = uuid.uuid4(), uuid.uuid4()
            email = f"bench-{i}@example.test"
            clinic.patient_ids.append(pid)
            clinic.patient_emails.append(email)
            name = f"Patient {i:04d}"
            rows[User].append({"id": pid, "email": email, "display_name": name,
                               "name_key": name_key(name),
                               "role": Role.PATIENT, "timezone": ZONE, "is_active": True,
                               "created_at": began, "password_hash": hashed,
                               "password_changed_at": began})
            for member in {director_id, others[i % len(others)]}:
                rows[CareLink].append({"id": uuid.uuid4(), "patient_id": pid,
                                       "member_id": member, "relation": Relation.PRESCRIBER,
                                       "created_at": began, "receives_alerts": False})
            rows[ProtocolVersion].append({**template, "id": vid, "patient_id": pid})
            for offset in range(days):
                day = start + timedelta(days=offset)
                dosing = day.weekday() in (0, 3) if offset < 28 else day.weekday() == 0
                if dosing and at(day, 12, 5) <= now:
                    gid, did = uuid.uuid4(), uuid.uuid4()
                    rows[GateCheck].append({
                        "id": gid, "patient_id": pid, "protocol_version_id": vid,
                        "checked_at": at(day, 10), "received_at": at(day, 10),
                        "systolic": 126, "diastolic": 80, "heart_rate": 72,
                        "checklist": _CHECKLIST, "proposed_mg": Decimal(100), "verdict": "ok",
                        "reasons": [], "sitter_check_id": None})
                    rows[Dose].append({
                        "id": did, "patient_id": pid, "protocol_version_id": vid,
                        "gate_id": gid, "taken_at": at(day, 10, 5),
                        "recorded_at": at(day, 10, 6), "received_at": at(day, 10, 6),
                        "dose_mg": Decimal(100), "troches": Decimal(1), "route": "sublingual",
                        "hold_minutes": 15, "swallowed": False, "lot": "B-2025",
                        "rx_number": "RX1", "override_reason": None, "no_gate_reason": None,
                        "flags": [], "status": "recorded", "status_reason": None,
                        "revision": 1})
                    receipt(pid, "gate", at(day, 10), {"gate_id": str(gid)})
                    receipt(pid, "dose", at(day, 10, 6), {"dose_id": str(did)})
                    for slot, minute in (("plus40", 45), ("end", 125)):
                        moment = at(day, 10) + timedelta(minutes=minute)
                        rows[CheckIn].append({
                            "id": uuid.uuid4(), "patient_id": pid, "author_id": pid,
                            "dose_id": did, "slot": slot, "values": _SESSION,
                            "recorded_at": moment, "received_at": moment, "flags": []})
                    # The director looks at the patient after each session.
                    rows[AuditEvent].append({
                        "id": uuid.uuid4(), "at": at(day, 16), "actor_id": director_id,
                        "actor_role": "prescriber", "on_behalf_of_id": None,
                        "patient_id": pid, "action": "view", "outcome": "ok",
                        "request_id": None, "details": {"purpose": "treat"}})
                if at(day, 20) <= now:
                    rows[CheckIn].append({
                        "id": uuid.uuid4(), "patient_id": pid, "author_id": pid,
                        "dose_id": None, "slot": "daily", "values": _MOOD,
                        "recorded_at": at(day, 20), "received_at": at(day, 20), "flags": []})
                if offset % 14 == 0 and at(day, 19) <= now:
                    for key, answers, score in (("phq9", _PHQ, 9), ("gad7", _GAD, 7)):
                        rows[QuestionnaireResponse].append({
                            "id": uuid.uuid4(), "patient_id": pid, "instrument": key,
                            "answers": answers, "score": score, "band": "mild", "risk": None,
                            "follow_up": None, "version": None, "follows_id": None,
                            "completed_at": at(day, 19), "received_at": at(day, 19)})
                if offset % 30 == 0 and at(day, 12) <= now:
                    rows[LedgerEntry].append({
                        "id": uuid.uuid4(), "patient_id": pid, "kind": "fill",
                        "occurred_at": at(day, 12), "received_at": at(day, 12),
                        "count": Decimal(8), "filled_on": day, "strength_mg": Decimal(100),
                        "rx_number": "RX1", "pharmacy": "Compounding Co", "lot": "B-2025",
                        "expected_balance": None, "flags": []})
        # The chain in time order within the batch (seq order is what verification walks).
        rows[AuditEvent].sort(key=lambda e: e["at"])
        for entry in rows[AuditEvent]:
            entry.update(seq=seq, prev_hash=prev_hash)
            entry["hash"] = prev_hash = chain.entry_hash(entry)
            seq += 1
        with Session(engine) as session:
            for model, values in rows.items():
                if values:
                    session.execute(insert(model), values)
                    name = model.__tablename__
                    clinic.rows[name] = clinic.rows.get(name, 0) + len(values)
            session.commit()
    analyze(engine)
    return clinic
