"""Who may see a patient, and what of them: decided here and nowhere else.

Every patient-scoped route asks `require_patient_access` with the purpose it serves; templates never
decide access. What each role may do is one table (ROLE_PURPOSES); what a caregiver may see is the
scope the patient gave their link (SCOPE_PURPOSES). The link is read on every request, so a
change of scope, an end date or a removal takes effect on the caregiver's very next request.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import Select, event
from sqlmodel import Session, col, select

from app.accounts.models import Role, User
from app.audit import service as audit
from app.careteam.models import CareLink, Relation
from app.db import REQUEST, forget_transaction_memo, transaction_memo, utcnow
from app.errors import NotFound


class Purpose(StrEnum):
    VIEW = "view"  # the whole record: the patient themself and linked prescribers only
    VIEW_SESSION = "view_session"  # today's session state, the checklist, its session record
    VIEW_DOSES = "view_doses"  # dose history and the troche supply
    VIEW_CHECKINS = "view_checkins"  # daily mood, PHQ-9 / GAD-7 scores and trends
    MANAGE_PROTOCOL = "manage_protocol"  # set doses, rules and schedules
    INVITE_CAREGIVER = "invite_caregiver"
    TREAT = "treat"  # the prescriber's pages about a patient (/patients/{id}, reviews, re-invite)
    SUPPORT = "support"  # the caregiver's page about a person they support (/supporting/{id})
    SUPERVISE = "supervise"  # record the sitter's checklist and observations for the patient


class Scope(StrEnum):
    """What the patient lets one caregiver see. Each scope includes the one before."""

    SUPERVISION = "supervision"
    DOSES = "doses"
    CHECKINS = "checkins"


_READS = frozenset({Purpose.VIEW, Purpose.VIEW_SESSION, Purpose.VIEW_DOSES,
                    Purpose.VIEW_CHECKINS})

# Role → what it may do for a patient it is allowed near at all (the patient: their own record;
# a prescriber: a patient linked to them). A caregiver gets nothing from their role: only what
# their link's scope grants, below.
ROLE_PURPOSES: dict[Role, frozenset[Purpose]] = {
    Role.PATIENT: _READS | {Purpose.INVITE_CAREGIVER},
    Role.PRESCRIBER: _READS | {Purpose.MANAGE_PROTOCOL, Purpose.TREAT},
    Role.CAREGIVER: frozenset(),
}

# Scope → what a caregiver with an active link of that scope may see. Never VIEW (the whole
# record): the C-SSRS answers and free-text notes never reach a caregiver in any scope; a
# high-risk result reaches them only as an alert, when the patient consented (app/alerts).
SCOPE_PURPOSES: dict[Scope, frozenset[Purpose]] = {
    Scope.SUPERVISION: frozenset({Purpose.SUPPORT, Purpose.VIEW_SESSION, Purpose.SUPERVISE}),
    Scope.DOSES: frozenset({Purpose.SUPPORT, Purpose.VIEW_SESSION, Purpose.SUPERVISE,
                            Purpose.VIEW_DOSES}),
    Scope.CHECKINS: frozenset({Purpose.SUPPORT, Purpose.VIEW_SESSION, Purpose.SUPERVISE,
                               Purpose.VIEW_DOSES, Purpose.VIEW_CHECKINS}),
}


def purposes_for(scope: Scope | str | None) -> frozenset[Purpose]:
    """What a caregiver link's scope allows; an unknown or missing scope allows nothing."""
    try:
        return SCOPE_PURPOSES[Scope(scope)]  # type: ignore[arg-type]
    except ValueError:
        return frozenset()


def sees_notes(user: User) -> bool:
    """Whether `user`, reading a record they may read, sees its free text: a check-in's note,
    a dose's reasons (for an override, for no safety check, for entered in error) and its
    corrections' reasons. Never a caregiver, in any scope (SCOPE_PURPOSES above): the patient
    wrote them for their care team's clinicians. The serialisers ask here."""
    return user.role != Role.CAREGIVER


def local_today(patient: User, now: datetime) -> date:
    return now.astimezone(ZoneInfo(patient.timezone)).date()


def link_is_active(link: CareLink, patient: User, now: datetime) -> bool:
    """Not removed, and its last day (in the patient's time zone) not yet past."""
    if link.revoked_at is not None:
        return False
    return link.ends_on is None or link.ends_on >= local_today(patient, now)


# Transaction memo (app/db.py): what this request has read of links and patients, so one page
# that asks "may they see this?" several times (the page, its sections, the alerts beside it)
# reads each link once. Still read afresh by every request; forgotten as soon as this session
# writes a link or a user, and when the transaction ends.
_READ = "careteam.access"


def _memo(session: Session) -> dict | None:
    if not session.info.get(REQUEST):
        return None
    # What a query would do first: write this request's pending changes (a link re-activated,
    # say), which forgets the memo below. Free when nothing is pending.
    if session.autoflush:
        session.flush()
    return transaction_memo(session, _READ, dict)


def forget_reads(session: Session) -> None:
    """Forget this request's memo of links and patients: the next question reads them again
    (after waiting for a lock another writer held)."""
    forget_transaction_memo(session, _READ)


def _patient(session: Session, patient_id: uuid.UUID) -> User | None:
    known = _memo(session)
    key = ("patient", patient_id)
    if known is not None and key in known:
        return known[key]
    patient = session.get(User, patient_id)
    found = patient if patient is not None and patient.role == Role.PATIENT else None
    if known is not None:
        known[key] = found  # also keeps the User in the session's (weak) identity map
    return found


def _link(session: Session, member: User, patient_id: uuid.UUID, relation: Relation):
    known = _memo(session)
    key = ("link", member.id, patient_id, relation)
    if known is not None and key in known:
        return known[key]
    link = session.exec(
        select(CareLink).where(
            CareLink.patient_id == patient_id,
            CareLink.member_id == member.id,
            CareLink.relation == relation,
            col(CareLink.revoked_at).is_(None),
        )
    ).first()
    if known is not None:
        known[key] = link
    return link


@event.listens_for(Session, "after_flush")
def _forget_reads_on_write(session: Session, _context) -> None:
    if any(isinstance(obj, CareLink | User)
           for obj in (*session.new, *session.dirty, *session.deleted)):
        forget_transaction_memo(session, _READ)


def caregiver_link(
    session: Session, caregiver: User, patient_id: uuid.UUID, now: datetime | None = None
) -> CareLink | None:
    """The caregiver's active link to this patient, or None (none, removed, or ended)."""
    if caregiver.role != Role.CAREGIVER or not caregiver.is_active:
        return None
    link = _link(session, caregiver, patient_id, Relation.CAREGIVER)
    patient = _patient(session, patient_id) if link is not None else None
    if link is None or patient is None or not link_is_active(link, patient, now or utcnow()):
        return None
    return link


def can_access_patient(
    session: Session,
    user: User,
    patient_id: uuid.UUID,
    purpose: Purpose = Purpose.VIEW,
    now: datetime | None = None,
) -> bool:
    if not user.is_active:
        return False
    if user.role == Role.PATIENT:
        return user.id == patient_id and purpose in ROLE_PURPOSES[Role.PATIENT]
    if user.role == Role.PRESCRIBER:
        return purpose in ROLE_PURPOSES[Role.PRESCRIBER] and (
            _link(session, user, patient_id, Relation.PRESCRIBER) is not None
        )
    if user.role == Role.CAREGIVER:
        link = caregiver_link(session, user, patient_id, now)
        return link is not None and purpose in purposes_for(link.scope)
    return False


def require_patient_access(
    session: Session,
    user: User,
    patient_id: uuid.UUID,
    purpose: Purpose = Purpose.VIEW,
    now: datetime | None = None,
) -> User:
    """The patient, or NotFound: out of scope, ended, removed or never linked looks exactly like
    a patient who does not exist, so a stranger cannot even learn that the patient exists."""
    if not can_access_patient(session, user, patient_id, purpose, now):
        _refused(user, patient_id, purpose)
    patient = _patient(session, patient_id)
    if patient is None:
        _refused(user, patient_id, purpose)
    # The audit trail's choke point for reads: anyone but the patient is recorded.
    audit.note_view(session, actor=user, patient_id=patient_id, purpose=purpose, now=now)
    return patient  # type: ignore[return-value]


def _refused(user: User, patient_id: uuid.UUID, purpose: Purpose) -> NoReturn:
    # Kept though the request rolls back; the id is whatever was asked for (no foreign key).
    audit.note_denial(action="view", actor=user, patient_id=patient_id,
                      details={"purpose": str(purpose)})
    raise NotFound()


def readable_patients(
    session: Session, user: User, purpose: Purpose, now: datetime | None = None,
    *, audited: bool = True,
) -> list[User]:
    """The one "whose records may this person read for this purpose" query, by name.

    A list shows something of each patient on it (the panel's flags, today's session), so each
    listed patient gets a "view" entry (once per request). `audited=False` where the list
    filters a query and shows nothing of the patients themselves, or where the caller shows
    only a page of it and notes that page with `note_listed`."""
    patients = _readable(session, user, purpose, now)
    if audited:
        note_listed(session, user, patients, purpose, now)
    return patients


def readable_patient_refs(
    session: Session, user: User, purpose: Purpose, now: datetime | None = None,
) -> list[tuple[uuid.UUID, str, str]]:
    """`readable_patients` as (id, display name, email) only, for long lists that sort and page
    before they load anyone (a prescriber's list of thousands). Not audited: the caller notes
    the page it shows (`note_listed`)."""
    query = readable_patient_refs_query(user, purpose)
    if query is not None:
        return [tuple(row) for row in session.exec(query).all()]
    return [(p.id, p.display_name, p.email) for p in _readable(session, user, purpose, now)]


def readable_patient_refs_query(user: User, purpose: Purpose) -> Select | None:
    """`readable_patient_refs` as a query (columns id, display_name, email) that a caller may
    join more to, where the rule is one query (a prescriber's panel); else None."""
    if (user.is_active and user.role == Role.PRESCRIBER
            and purpose in ROLE_PURPOSES[Role.PRESCRIBER]):
        # The same rule as `_readable` for prescribers, without building a User per patient.
        return (select(User.id, User.display_name, User.email)
                .join(CareLink, col(CareLink.patient_id) == col(User.id))
                .where(*_linked_patients(user, Relation.PRESCRIBER)))
    return None


def note_listed(session: Session, user: User, patients: list[User], purpose: Purpose,
                now: datetime | None = None) -> None:
    """A "view" entry for each patient a list actually showed (a page of a long list: only
    that page, so a list of 1,000 does not write 1,000 entries per load)."""
    if user.role == Role.PATIENT:
        return
    for patient in patients:
        audit.note_view(session, actor=user, patient_id=patient.id, purpose=purpose,
                        listed=True, now=now)


def _linked_patients(user: User, relation: Relation) -> tuple:
    """The conditions of "a patient this person is linked to, not removed" (CareLink joined to
    the patient's User), shared by `_readable` and `readable_patient_refs`."""
    return (
        CareLink.member_id == user.id,
        CareLink.relation == relation,
        col(CareLink.revoked_at).is_(None),
        User.role == Role.PATIENT,
    )


def _readable(session: Session, user: User, purpose: Purpose, now: datetime | None) -> list[User]:
    if not user.is_active:
        return []
    if user.role == Role.PATIENT:
        return [user] if purpose in ROLE_PURPOSES[Role.PATIENT] else []
    relation = Relation.PRESCRIBER if user.role == Role.PRESCRIBER else Relation.CAREGIVER
    if user.role == Role.PRESCRIBER and purpose not in ROLE_PURPOSES[Role.PRESCRIBER]:
        return []
    rows = session.exec(
        select(CareLink, User)
        .join(User, col(User.id) == col(CareLink.patient_id))
        .where(*_linked_patients(user, relation))
        .order_by(col(User.display_name), col(User.id))
    ).all()
    if user.role == Role.PRESCRIBER:
        return [patient for _link_row, patient in rows]
    now = now or utcnow()
    # The end date is judged in each patient's own time zone, so it is checked here, not in SQL.
    return [
        patient
        for link, patient in rows
        if link_is_active(link, patient, now) and purpose in purposes_for(link.scope)
    ]


def care_team_of(
    session: Session, patient_id: uuid.UUID, relation: Relation, now: datetime | None = None
) -> list[User]:
    """Who is on the patient's team now (links removed or past their end date left out)."""
    patient = _patient(session, patient_id)
    now = now or utcnow()
    return [
        member
        for care_link, member in team_links(session, patient_id, relation)
        if relation != Relation.CAREGIVER
        or (patient is not None and link_is_active(care_link, patient, now))
    ]


def team_links(
    session: Session, patient_id: uuid.UUID, relation: Relation
) -> list[tuple[CareLink, User]]:
    """The patient's links of one relation that were not removed (ended ones included, so the
    patient can extend them), each with its member, by name."""
    rows = session.exec(
        select(CareLink, User)
        .join(User, col(User.id) == col(CareLink.member_id))
        .where(
            CareLink.patient_id == patient_id,
            CareLink.relation == relation,
            col(CareLink.revoked_at).is_(None),
        )
        .order_by(col(User.display_name), col(User.id))
    ).all()
    return [(link, member) for link, member in rows]


def link(
    session: Session,
    *,
    patient_id: uuid.UUID,
    member_id: uuid.UUID,
    relation: Relation,
    now,
    scope: Scope | str | None = None,
    ends_on: date | None = None,
) -> CareLink:
    """Add someone to a patient's team (re-activating a removed link rather than duplicating it).

    A caregiver link always has a scope: the least (supervision) unless the patient chose more.
    A prescriber link has none (prescribers see the whole record)."""
    if relation == Relation.CAREGIVER:
        scope = Scope(scope) if scope else Scope.SUPERVISION
    else:
        scope, ends_on = None, None
    existing = session.exec(
        select(CareLink).where(
            CareLink.patient_id == patient_id,
            CareLink.member_id == member_id,
            CareLink.relation == relation,
        )
    ).first()
    if existing:
        if existing.revoked_at is not None:
            # Back on the team from now: what was raised while they were off it (an alert the
            # patient shared with the team it had then) is not theirs (app/alerts/service.py).
            existing.created_at = now
        existing.revoked_at = None
        existing.scope = scope
        existing.ends_on = ends_on
        session.add(existing)
        return existing
    care_link = CareLink(
        patient_id=patient_id, member_id=member_id, relation=relation, created_at=now,
        scope=scope, ends_on=ends_on,
    )
    session.add(care_link)
    session.flush()
    return care_link
