"""The patient's say over their caregivers: what each sees, until when, and removing them.

Services take an explicit `now`, flush but never commit (the request commits once).
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from app.accounts.models import Role, User
from app.audit import service as audit
from app.careteam import access
from app.careteam.access import Scope
from app.careteam.models import CareLink, Relation
from app.errors import Invalid, NotFound
from app.i18n import gettext as _


def parse_scope(raw: str | None) -> Scope:
    """The scope chosen on a form; nothing chosen means the least (a hand-made request)."""
    if not raw:
        return Scope.SUPERVISION
    try:
        return Scope(raw)
    except ValueError:
        raise Invalid(_("Choose one of the three options."), field="scope") from None


def parse_ends_on(raw: str | None, patient: User, now: datetime) -> date | None:
    """An optional last day, in the patient's own time zone: today or later."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise Invalid(_("Enter a date like 2026-12-31, or leave it empty."),
                      field="ends_on") from None
    if value < access.local_today(patient, now):
        raise Invalid(_("Choose today or a later day, or leave it empty."), field="ends_on")
    return value


def _own_caregiver_link(session: Session, patient: User, link_id: uuid.UUID) -> CareLink:
    """The patient's active link to one caregiver, read under the patient's write lock: a
    change to it waits for a sitter's entry being written, and an entry sent after it sees it
    (a sitter's checklist was saved a second after their removal had been answered)."""
    from app.sync.service import lock_patient  # at call time: sync imports every domain

    lock_patient(session, patient.id)
    link = session.get(CareLink, link_id)
    if (
        patient.role != Role.PATIENT
        or link is None
        or link.patient_id != patient.id
        or link.relation != Relation.CAREGIVER
        or link.revoked_at is not None
    ):
        raise NotFound()
    return link


def set_caregiver_terms(
    session: Session, *, patient: User, link_id: uuid.UUID, scope: str, ends_on: str,
    now: datetime,
) -> CareLink:
    """The patient changes what one caregiver sees and until when; it holds from their next
    request, because the access check reads the link every time."""
    link = _own_caregiver_link(session, patient, link_id)
    errors: dict[str, str] = {}
    new_scope: Scope | None = None
    new_end: date | None = None
    try:
        new_scope = parse_scope(scope)
    except Invalid as err:
        errors.update(err.errors)
    try:
        new_end = parse_ends_on(ends_on, patient, now)
    except Invalid as err:
        errors.update(err.errors)
    if errors:
        raise Invalid(errors=errors)
    changed = [name for name, before, after in (("scope", link.scope, new_scope),
                                                 ("end_date", link.ends_on, new_end))
               if before != after]
    link.scope = new_scope
    link.ends_on = new_end
    session.add(link)
    session.flush()
    if changed:
        consent_changed(session, patient, link, "_and_".join(changed))
    return link


def remove_caregiver(session: Session, *, patient: User, link_id: uuid.UUID,
                     now: datetime) -> CareLink:
    """The caregiver loses access on their very next request. The row stays: the record keeps
    who had access, and until when."""
    link = _own_caregiver_link(session, patient, link_id)
    link.revoked_at = now
    link.receives_alerts = False
    session.add(link)
    session.flush()
    consent_changed(session, patient, link, "removed")
    return link


def consent_changed(session: Session, actor: User, link: CareLink | Any, change: str) -> None:
    """A consent entry in the audit trail: what changed and the scope it leaves (shape only:
    the link or invite by id, never the caregiver's name or address)."""
    audit.record(session, action="consent.change", actor=actor, patient_id=link.patient_id,
                 details={"change": change, "scope": str(link.scope) if link.scope else None,
                          "ends_on": link.ends_on.isoformat() if link.ends_on else None,
                          "ref": str(link.id)})


def scope_label(scope: str | None) -> str:
    """The scope's short name, as the patient chose it on the care-team page."""
    return {
        access.Scope.SUPERVISION: _("Sessions only"),
        access.Scope.DOSES: _("Sessions and doses"),
        access.Scope.CHECKINS: _("Sessions, doses and check-ins"),
    }.get(scope, _("Sessions only"))  # type: ignore[call-overload]


def has_caregiver(session: Session, patient: User, now: datetime) -> bool:
    """Whether a caregiver (a sitter) is on the patient's team now."""
    return bool(access.care_team_of(session, patient.id, Relation.CAREGIVER, now))


def caregiver_rows(session: Session, patient: User, now: datetime) -> list[dict]:
    """The patient's caregivers for the care-team page, each with its scope and end date."""
    return [
        {"link": link, "member": member, "active": access.link_is_active(link, patient, now)}
        for link, member in access.team_links(session, patient.id, Relation.CAREGIVER)
    ]


def clinic_phone_for(session: Session, patient: User) -> str | None:
    """The number behind the patient's "Call my clinic": from the first prescriber who joined
    their team (and is still on it) with a clinic phone set; None when no prescriber has one."""
    return session.exec(
        select(User.clinic_phone)
        .join(CareLink, col(CareLink.member_id) == col(User.id))
        .where(
            CareLink.patient_id == patient.id,
            CareLink.relation == Relation.PRESCRIBER,
            col(CareLink.revoked_at).is_(None),
            col(User.clinic_phone).is_not(None),
            User.role == Role.PRESCRIBER,
        )
        .order_by(col(CareLink.created_at), col(CareLink.id))
        .limit(1)
    ).first()
