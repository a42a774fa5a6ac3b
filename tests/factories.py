"""Factories for test data. Password hashing is real Argon2, computed once per run."""

import uuid
from datetime import datetime
from functools import cache

from sqlmodel import Session

from app.accounts.models import Role, User
from app.accounts.service import password_hash
from app.careteam import access
from app.careteam.models import Relation
from app.db import utcnow

PASSWORD = "correct horse battery"


@cache
def _hashed() -> str:
    return password_hash.hash(PASSWORD)


def user(
    db: Session,
    *,
    role: Role | str = Role.PATIENT,
    email: str | None = None,
    display_name: str | None = None,
    timezone: str = "America/New_York",
    with_password: bool = True,
    language: str | None = None,
) -> User:
    role = Role(role)
    tag = uuid.uuid4().hex[:8]
    account = User(
        email=email or f"{role.value}-{tag}@example.test",
        display_name=display_name or f"{role.value.title()} {tag}",
        role=role,
        timezone=timezone,
        password_hash=_hashed() if with_password else None,
        language=language,
    )
    db.add(account)
    db.flush()
    return account


def link(db: Session, patient: User, member: User, now: datetime | None = None, *,
         scope: str | None = None, ends_on=None) -> None:
    relation = Relation.PRESCRIBER if member.role == Role.PRESCRIBER else Relation.CAREGIVER
    access.link(db, patient_id=patient.id, member_id=member.id, relation=relation,
                now=now or utcnow(), scope=scope, ends_on=ends_on)
    db.flush()


# --- protocols (appended for the dosing core tests) -----------------------------------------

PROTOCOL_DEFAULTS: dict = {
    "strength_mg": "100",
    "halving_allowed": True,
    "dose_mg": "100",
    "route": "sublingual",
    "hold_minutes": 15,
    "min_hours_between_doses": "48",
    "max_mg_per_24h": "200",
    "max_mg_per_7d": "400",
    "bp_hold_systolic": 160,
    "bp_hold_diastolic": 100,
    "sitter_required": True,
    "required_checklist": ["fasted", "no_sedatives", "no_driving", "safe_place"],
    "fasting_hours": 2,
    "sedative_free_hours": 24,
    "grace_hours": "4",
    "early_refill_days": 7,
    "starts_on": "2026-01-05",  # a Monday
    "induction": {"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00", "weeks": 4},
    "maintenance": {"cadence": "interval", "every_n_days": 7, "at": "10:00"},
    "reason": "Starting treatment.",
}

CHECKLIST_ALL_YES = {"fasted": True, "no_sedatives": True, "no_driving": True,
                     "safe_place": True, "sitter_present": True}


def protocol_values(**overrides) -> dict:
    """Sane protocol form values (as ProtocolInput takes them); overrides replace keys, and a key
    overridden with None is left out."""
    import copy

    values = copy.deepcopy(PROTOCOL_DEFAULTS)
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def protocol(db: Session, prescriber: User, patient: User, *, now: datetime | None = None,
             version_id: uuid.UUID | None = None, **overrides):
    """Link the prescriber to the patient (idempotent) and save a protocol version."""
    from app.protocols import service as protocols

    link(db, patient, prescriber)
    version = protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                             version_id=version_id or uuid.uuid4(),
                             values=protocol_values(**overrides), now=now or utcnow())
    db.flush()
    return version


def patient_with_protocol(db: Session, *, timezone: str = "America/New_York",
                          now: datetime | None = None, **overrides):
    """A prescriber, a linked patient with a password, and the patient's first protocol."""
    prescriber = user(db, role=Role.PRESCRIBER)
    patient = user(db, role=Role.PATIENT, timezone=timezone)
    version = protocol(db, prescriber, patient, now=now, **overrides)
    return prescriber, patient, version


def sync_item(kind: str, data: dict, *, item_id: uuid.UUID | str | None = None,
              recorded_at: datetime | None = None) -> dict:
    """One item of POST /api/v1/sync, as a phone's outbox sends it."""
    return {"id": str(item_id or uuid.uuid4()), "kind": kind,
            "recorded_at": (recorded_at or utcnow()).isoformat(), "data": data}


def sync_post(client, *items: dict):
    """POST /api/v1/sync with the session's CSRF header; returns the response."""
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.post("/api/v1/sync", json={"items": list(items)},
                       headers={"X-CSRF-Token": token})


# The same answers as the Today form sends them (gate_data is the phone's JSON).
GATE_FORM_OK = {"systolic": "124", "diastolic": "80", "heart_rate": "72",
                **{item: "yes" for item in CHECKLIST_ALL_YES}}


def gate_data(**overrides) -> dict:
    """Gate answers that pass every default rule; overrides replace keys."""
    data = {"systolic": 124, "diastolic": 80, "heart_rate": 72,
            "checklist": dict(CHECKLIST_ALL_YES)}
    data.update(overrides)
    return data


def session_now_protocol(patient: User, *, hours_from_now: float = 0, **overrides) -> dict:
    """Protocol overrides for tests on the real clock: one session a day at the patient's local
    time now (+ `hours_from_now`), started a week ago, open-ended."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    local = (utcnow() + timedelta(hours=hours_from_now)).astimezone(ZoneInfo(patient.timezone))
    starts = (utcnow().astimezone(ZoneInfo(patient.timezone)) - timedelta(days=7)).date()
    return {"starts_on": starts.isoformat(), "maintenance": None,
            "induction": {"cadence": "interval", "every_n_days": 1,
                          "at": local.strftime("%H:%M")},
            **overrides}


def dose_then_one_against_a_hold(db: Session, patient: User, now: datetime | None = None,
                                 ) -> list[uuid.UUID]:
    """Two doses recorded as already taken, 3 and 2 hours ago: the second is too soon under the
    default protocol, so it is a dose against a hold (flagged, with its high-risk event and
    alert). Returns their ids, oldest first; the caller commits."""
    from datetime import timedelta

    from app.doses import service as doses

    now = now or utcnow()
    ids = []
    for hours_ago in (3, 2):
        ids.append(uuid.uuid4())
        doses.record_dose(db, patient=patient, dose_id=ids[-1], recorded_at=now, data={
            "taken_at": (now - timedelta(hours=hours_ago)).isoformat(), "dose_mg": "100",
            "route": "sublingual", "no_gate_reason": "At home.", "already_taken": True,
            "override_reason": "Took it before I saw the hold."}, now=now)
    return ids
