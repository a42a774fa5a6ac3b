"""app.careteam.access: the one place that decides who may see or act on a patient's record."""

import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import Session, func, select

from app.accounts.models import User
from app.careteam import access
from app.careteam.access import Purpose
from app.careteam.models import CareLink, Relation
from app.db import REQUEST, engine, utcnow
from app.errors import NotFound
from tests import factories
from tests.helpers import counted


@dataclass
class World:
    patient: User
    other_patient: User
    caregiver: User
    unlinked_caregiver: User
    revoked_caregiver: User
    prescriber: User
    unlinked_prescriber: User
    revoked_prescriber: User


@pytest.fixture
def world(db: Session) -> World:
    patient = factories.user(db, role="patient", display_name="Pat Ient")
    other_patient = factories.user(db, role="patient", display_name="Other Patient")
    caregiver = factories.user(db, role="caregiver")
    unlinked_caregiver = factories.user(db, role="caregiver")
    revoked_caregiver = factories.user(db, role="caregiver")
    prescriber = factories.user(db, role="prescriber")
    unlinked_prescriber = factories.user(db, role="prescriber")
    revoked_prescriber = factories.user(db, role="prescriber")
    for member in (caregiver, revoked_caregiver, prescriber, revoked_prescriber):
        factories.link(db, patient, member)
    # The unlinked members do look after someone, just not this patient.
    factories.link(db, other_patient, unlinked_caregiver)
    factories.link(db, other_patient, unlinked_prescriber)
    for member in (revoked_caregiver, revoked_prescriber):
        row = db.exec(
            select(CareLink).where(
                CareLink.patient_id == patient.id, CareLink.member_id == member.id
            )
        ).one()
        row.revoked_at = utcnow()
        db.add(row)
    db.commit()
    return World(
        patient,
        other_patient,
        caregiver,
        unlinked_caregiver,
        revoked_caregiver,
        prescriber,
        unlinked_prescriber,
        revoked_prescriber,
    )


V, M, INV = Purpose.VIEW, Purpose.MANAGE_PROTOCOL, Purpose.INVITE_CAREGIVER
VS, VD, VC = Purpose.VIEW_SESSION, Purpose.VIEW_DOSES, Purpose.VIEW_CHECKINS
NONE = {V: False, VS: False, VD: False, VC: False, M: False, INV: False}

# (who asks, which purposes they have for world.patient). The linked caregiver has the least
# scope (supervision, the default); tests/careteam/test_scopes.py covers the other scopes.
MATRIX = [
    # their own record; the plan is the prescriber's
    ("patient", {V: True, VS: True, VD: True, VC: True, M: False, INV: True}),
    ("other_patient", NONE),
    ("caregiver", {**NONE, VS: True}),  # never the whole record
    ("unlinked_caregiver", NONE),
    ("revoked_caregiver", NONE),
    # caregivers are the patient's choice
    ("prescriber", {V: True, VS: True, VD: True, VC: True, M: True, INV: False}),
    ("unlinked_prescriber", NONE),
    ("revoked_prescriber", NONE),
]


@pytest.mark.parametrize(
    ("who", "purpose", "allowed"),
    [(who, purpose, allowed) for who, table in MATRIX for purpose, allowed in table.items()],
)
def test_can_access_patient(db, world, who, purpose, allowed):
    actor = getattr(world, who)
    assert access.can_access_patient(db, actor, world.patient.id, purpose) is allowed


def test_view_is_the_default_purpose(db, world):
    assert access.can_access_patient(db, world.prescriber, world.patient.id) is True
    # VIEW is the whole record: a caregiver never has it, whatever their scope.
    assert access.can_access_patient(db, world.caregiver, world.patient.id) is False


@pytest.mark.parametrize("who", ["patient", "caregiver", "prescriber"])
def test_inactive_accounts_reach_nobody(db, world, who):
    actor = getattr(world, who)
    assert access.can_access_patient(db, actor, world.patient.id, Purpose.VIEW_SESSION)
    actor.is_active = False
    db.add(actor)
    db.commit()
    for purpose in Purpose:
        assert access.can_access_patient(db, actor, world.patient.id, purpose) is False


def test_require_patient_access_returns_the_patient_or_not_found(db, world):
    assert access.require_patient_access(db, world.prescriber, world.patient.id).id == (
        world.patient.id
    )
    with pytest.raises(NotFound):
        access.require_patient_access(db, world.unlinked_prescriber, world.patient.id)
    with pytest.raises(NotFound):
        access.require_patient_access(db, world.prescriber, uuid.uuid4())
    with pytest.raises(NotFound):
        access.require_patient_access(
            db, world.caregiver, world.patient.id, Purpose.MANAGE_PROTOCOL
        )


def test_require_patient_access_refuses_a_non_patient_target(db, world):
    # A link row pointing at a prescriber must not turn that prescriber into a "patient".
    access.link(
        db,
        patient_id=world.unlinked_prescriber.id,
        member_id=world.prescriber.id,
        relation=Relation.PRESCRIBER,
        now=utcnow(),
    )
    db.commit()
    with pytest.raises(NotFound):
        access.require_patient_access(db, world.prescriber, world.unlinked_prescriber.id)


def test_team_lists_leave_out_revoked_members(db, world):
    caregivers = access.care_team_of(db, world.patient.id, Relation.CAREGIVER)
    prescribers = access.care_team_of(db, world.patient.id, Relation.PRESCRIBER)
    assert [u.id for u in caregivers] == [world.caregiver.id]
    assert [u.id for u in prescribers] == [world.prescriber.id]
    assert access.readable_patients(db, world.revoked_caregiver, VS) == []
    assert [u.id for u in access.readable_patients(db, world.prescriber, V)] == [
        world.patient.id
    ]


def test_readable_patients_is_sorted_by_name(db, world):
    third = factories.user(db, role="patient", display_name="Aaron First")
    factories.link(db, third, world.prescriber)
    db.commit()
    names = [u.display_name for u in access.readable_patients(db, world.prescriber, V)]
    assert names == ["Aaron First", "Pat Ient"]


def test_linking_again_reactivates_instead_of_duplicating(db, world):
    access.link(
        db,
        patient_id=world.patient.id,
        member_id=world.revoked_caregiver.id,
        relation=Relation.CAREGIVER,
        now=utcnow(),
    )
    db.commit()
    assert access.can_access_patient(db, world.revoked_caregiver, world.patient.id, VS)
    count = db.exec(
        select(func.count()).where(
            CareLink.patient_id == world.patient.id,
            CareLink.member_id == world.revoked_caregiver.id,
        )
    ).one()
    assert count == 1


def test_revoked_caregiver_no_longer_sees_the_patient_page(db, world, auth, client):
    assert auth.login(world.revoked_caregiver.email).status_code == 303
    page = client.get("/supporting")
    assert page.status_code == 200
    assert "Pat Ient" not in page.text


def test_linked_caregiver_sees_the_patient_on_supporting(db, world, auth, client):
    assert auth.login(world.caregiver.email).status_code == 303
    page = client.get("/supporting")
    assert "Pat Ient" in page.text
    assert "Other Patient" not in page.text


def _request_session() -> Session:
    """A session as a request has it (app/db.py get_session): access reads are kept for the
    rest of its transaction."""
    session = Session(engine, expire_on_commit=False)
    session.info[REQUEST] = True
    return session


def test_a_request_reads_a_link_once_and_its_own_changes_at_once(world):
    """A page asks "may they see this?" several times; the link is read once per request. A
    change this request writes (a new link, a removal) counts from its next question."""
    with _request_session() as session:
        caregiver = session.get(User, world.caregiver.id)
        with counted() as seen:
            for _ in range(3):
                assert access.can_access_patient(session, caregiver, world.patient.id, VS)
            assert access.require_patient_access(session, caregiver, world.patient.id, VS)
        assert len([s for s in seen if "FROM care_links" in s]) == 1, seen

        # A link this request makes or re-activates counts at once (the "none" it read before
        # is forgotten), flushed or not.
        for who in (world.unlinked_caregiver, world.revoked_caregiver):
            member = session.get(User, who.id)
            assert not access.can_access_patient(session, member, world.patient.id, VS)
            access.link(session, patient_id=world.patient.id, member_id=member.id,
                        relation=Relation.CAREGIVER, now=utcnow())
            assert access.can_access_patient(session, member, world.patient.id, VS)

        link = access.caregiver_link(session, caregiver, world.patient.id)
        link.revoked_at = utcnow()
        session.add(link)
        session.flush()
        assert not access.can_access_patient(session, caregiver, world.patient.id, VS)
        with pytest.raises(NotFound):
            access.require_patient_access(session, caregiver, world.patient.id, VS)
        session.rollback()


def test_the_next_request_sees_a_link_removed_by_another(world):
    """Kept for one request only: a removal another request commits is seen by the next one."""
    with _request_session() as first:
        caregiver = first.get(User, world.caregiver.id)
        assert access.can_access_patient(first, caregiver, world.patient.id, VS)
        first.commit()
        with _request_session() as other:
            link = access.caregiver_link(other, other.get(User, caregiver.id), world.patient.id)
            link.revoked_at = utcnow()
            other.add(link)
            other.commit()
        assert not access.can_access_patient(first, caregiver, world.patient.id, VS)
