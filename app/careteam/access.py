"""Who may see a patient: decided here and nowhere else.

Every patient-scoped route asks `require_patient_access`; templates never decide access. Later the
caregiver's shared scopes and time boxes plug in here, so no route has to change.
"""

import uuid
from enum import StrEnum

from sqlmodel import Session, select

from app.accounts.models import Role, User
from app.careteam.models import CareLink, Relation
from app.errors import NotFound


class Purpose(StrEnum):
    VIEW = "view"  # read the patient's record
    MANAGE_PROTOCOL = "manage_protocol"  # set doses, rules and schedules
    INVITE_CAREGIVER = "invite_caregiver"


def _active_link(session: Session, member: User, patient_id: uuid.UUID, relation: Relation) -> bool:
    stmt = select(CareLink.id).where(
        CareLink.patient_id == patient_id,
        CareLink.member_id == member.id,
        CareLink.relation == relation,
        CareLink.revoked_at.is_(None),  # type: ignore[union-attr]
    )
    return session.exec(stmt).first() is not None


def can_access_patient(
    session: Session, user: User, patient_id: uuid.UUID, purpose: Purpose = Purpose.VIEW
) -> bool:
    if not user.is_active:
        return False
    if user.role == Role.PATIENT:
        # Patients see and act on their own record only.
        return user.id == patient_id and purpose in (Purpose.VIEW, Purpose.INVITE_CAREGIVER)
    if user.role == Role.PRESCRIBER:
        return purpose != Purpose.INVITE_CAREGIVER and _active_link(
            session, user, patient_id, Relation.PRESCRIBER
        )
    if user.role == Role.CAREGIVER:
        return purpose == Purpose.VIEW and _active_link(
            session, user, patient_id, Relation.CAREGIVER
        )
    return False


def require_patient_access(
    session: Session, user: User, patient_id: uuid.UUID, purpose: Purpose = Purpose.VIEW
) -> User:
    """The patient, or NotFound: a stranger cannot even learn that the patient exists."""
    if not can_access_patient(session, user, patient_id, purpose):
        raise NotFound()
    patient = session.get(User, patient_id)
    if patient is None or patient.role != Role.PATIENT:
        raise NotFound()
    return patient


def patients_of(session: Session, member: User, relation: Relation) -> list[User]:
    """The patients a prescriber treats or a caregiver supports, by name."""
    stmt = (
        select(User)
        .join(CareLink, CareLink.patient_id == User.id)  # type: ignore[arg-type]
        .where(
            CareLink.member_id == member.id,
            CareLink.relation == relation,
            CareLink.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(User.display_name)
    )
    return list(session.exec(stmt).all())


def care_team_of(session: Session, patient_id: uuid.UUID, relation: Relation) -> list[User]:
    stmt = (
        select(User)
        .join(CareLink, CareLink.member_id == User.id)  # type: ignore[arg-type]
        .where(
            CareLink.patient_id == patient_id,
            CareLink.relation == relation,
            CareLink.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(User.display_name)
    )
    return list(session.exec(stmt).all())


def link(
    session: Session, *, patient_id: uuid.UUID, member_id: uuid.UUID, relation: Relation, now
) -> CareLink:
    """Add someone to a patient's team (re-activating a revoked link rather than duplicating it)."""
    existing = session.exec(
        select(CareLink).where(
            CareLink.patient_id == patient_id,
            CareLink.member_id == member_id,
            CareLink.relation == relation,
        )
    ).first()
    if existing:
        existing.revoked_at = None
        session.add(existing)
        return existing
    care_link = CareLink(
        patient_id=patient_id, member_id=member_id, relation=relation, created_at=now
    )
    session.add(care_link)
    session.flush()
    return care_link
