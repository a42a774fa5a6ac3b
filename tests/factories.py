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

PASSWORD = "correct horse battery"  # noqa: S105


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
) -> User:
    role = Role(role)
    tag = uuid.uuid4().hex[:8]
    account = User(
        email=email or f"{role.value}-{tag}@example.test",
        display_name=display_name or f"{role.value.title()} {tag}",
        role=role,
        timezone=timezone,
        password_hash=_hashed() if with_password else None,
    )
    db.add(account)
    db.flush()
    return account


def link(db: Session, patient: User, member: User, now: datetime | None = None) -> None:
    relation = Relation.PRESCRIBER if member.role == Role.PRESCRIBER else Relation.CAREGIVER
    access.link(db, patient_id=patient.id, member_id=member.id, relation=relation,
                now=now or utcnow())
    db.flush()
