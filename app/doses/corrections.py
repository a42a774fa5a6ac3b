"""Corrections and "entered in error": a dose is never edited in place or deleted; each change
is a revision with who, when, why and every field before and after."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.doses import rules
from app.doses.models import Dose, DoseRevision, DoseStatus, GateCheck
from app.doses.service import (
    CLEARED_BY_CORRECTION,
    check_time,
    checked_for,
    past_doses_as_recorded,
    squash_blank,
)
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from app.validation import ClientInput, SaneDatetime, parse


def _own_dose(session: Session, patient: User, dose_id: uuid.UUID) -> Dose:
    dose = session.get(Dose, dose_id)
    if dose is None or dose.patient_id != patient.id:
        raise NotFound(_("That dose was not found."))
    return dose


# The column's length; the input is held to it too, so any reason past it reads the same limit.
REASON_MAX = 500


def _reason_text(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid(_("Say why, for the record."), field="reason")
    if len(reason) > REASON_MAX:
        raise Invalid(_("Use at most %(n)s characters.", n=REASON_MAX), field="reason")
    return reason


class DoseChanges(ClientInput):
    """What a correction may change; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    dose_mg: Annotated[Decimal, Field(allow_inf_nan=True)] | None = None
    taken_at: SaneDatetime | None = None
    lot: Annotated[str, Field(max_length=60)] | None = None
    rx_number: Annotated[str, Field(max_length=60)] | None = None

    @field_validator("dose_mg", mode="before")
    @classmethod
    def _amount(cls, value: object) -> object:
        if value is None or (isinstance(value, Decimal | int | float) and not isinstance(
                value, bool)):
            return value
        try:
            return Decimal(str(value).strip())
        except ArithmeticError:
            raise ValueError(_("Enter a number of mg.")) from None

    @field_validator("lot", "rx_number")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return squash_blank(value)


class RevisionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dose_id: uuid.UUID
    reason: Annotated[str, Field(max_length=REASON_MAX)] = ""
    changes: DoseChanges


class EnteredInErrorInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dose_id: uuid.UUID
    reason: Annotated[str, Field(max_length=REASON_MAX)] = ""


def entered_in_error_item(session: Session, *, patient: User, author: User,
                          revision_id: uuid.UUID, data: dict, now: datetime) -> Dose:
    payload = parse(EnteredInErrorInput, data)
    return mark_entered_in_error(session, patient=patient, author=author,
                                 dose_id=payload.dose_id, revision_id=revision_id,
                                 reason=payload.reason, now=now)


def revise_dose_item(session: Session, *, patient: User, author: User, revision_id: uuid.UUID,
                     data: dict, now: datetime) -> Dose:
    payload = parse(RevisionInput, data)
    return revise_dose(session, patient=patient, author=author, dose_id=payload.dose_id,
                       revision_id=revision_id, reason=payload.reason,
                       changes=payload.changes.model_dump(exclude_unset=True), now=now)


def mark_entered_in_error(
    session: Session, *, patient: User, author: User, dose_id: uuid.UUID,
    revision_id: uuid.UUID, reason: str | None, now: datetime,
) -> Dose:
    """The dose stays in the record, marked entered in error with who, when and why."""
    dose = _own_dose(session, patient, dose_id)
    reason = _reason_text(reason)
    if dose.status == DoseStatus.ENTERED_IN_ERROR:
        return dose
    dose.revision += 1
    session.add(DoseRevision(id=revision_id, dose_id=dose.id, revision=dose.revision,
                             revised_at=now, revised_by_id=author.id, reason=reason,
                             before={"status": DoseStatus(dose.status).value},
                             after={"status": DoseStatus.ENTERED_IN_ERROR.value}))
    dose.status = DoseStatus.ENTERED_IN_ERROR
    dose.status_reason = reason
    session.add(dose)
    session.flush()
    return dose


def revise_dose(
    session: Session, *, patient: User, author: User, dose_id: uuid.UUID,
    revision_id: uuid.UUID, reason: str | None, changes: dict, now: datetime,
) -> Dose:
    """Correct the amount, time, lot or Rx number of a dose; the old values stay in a revision.

    A correction records what really happened, so it is never refused for breaking a guard
    rule; instead the rules it breaks (judged at the corrected time and amount against every
    other dose) are added to the dose's flags for the prescriber, with "corrected_over_limit".
    """
    dose = _own_dose(session, patient, dose_id)
    reason = _reason_text(reason)
    if dose.status == DoseStatus.ENTERED_IN_ERROR:
        raise Invalid(_("This dose was marked entered in error and cannot be changed."))
    version = session.get(ProtocolVersion, dose.protocol_version_id)
    assert version is not None
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    new_mg = changes.get("dose_mg")
    if new_mg is not None and Decimal(str(new_mg)) != dose.dose_mg:
        new_mg = Decimal(str(new_mg))
        problem = rules.validate_dose_amount(new_mg, version.strength_mg, version.halving_allowed)
        if problem:
            raise Invalid(protocols.dose_amount_message(problem, version.strength_mg),
                          field="dose_mg")
        before["dose_mg"], after["dose_mg"] = str(dose.dose_mg), str(new_mg)
        dose.dose_mg = new_mg
        dose.troches = (new_mg / version.strength_mg).quantize(Decimal("0.01"))
    new_time = changes.get("taken_at")
    if new_time is not None and new_time.astimezone(UTC) == dose.taken_at.replace(
            second=0, microsecond=0):
        # The forms show the time to the minute: sent back as shown, it is no change (a lot
        # number added must not move the dose by its seconds and say its time was revised).
        new_time = None
    if new_time is not None and new_time.astimezone(UTC) != dose.taken_at:
        new_time = new_time.astimezone(UTC)
        check_time(new_time, now, field="taken_at")
        before["taken_at"], after["taken_at"] = dose.taken_at.isoformat(), new_time.isoformat()
        dose.taken_at = new_time
    for name in ("lot", "rx_number"):
        if name in changes and (changes[name] or None) != getattr(dose, name):
            before[name], after[name] = getattr(dose, name), changes[name] or None
            setattr(dose, name, changes[name] or None)
    if not after:
        raise Invalid(_("Nothing was changed."), field="changes")
    if {"dose_mg", "taken_at"} & after.keys():
        window = timedelta(days=8)
        policy = protocols.policy(version)
        others, as_first_recorded = past_doses_as_recorded(
            session, patient.id, start=dose.taken_at - window, end=dose.taken_at + window,
            exclude=dose.id)
        broken = rules.dose_limit_reasons(policy, others, dose.taken_at, dose.dose_mg)
        new_flags = [r.code.value for r in broken if r.code.value not in dose.flags]
        if new_flags:
            dose.flags = [*dose.flags, "corrected_over_limit", *new_flags]
        if (CLEARED_BY_CORRECTION not in dose.flags and as_first_recorded is not None
                and rules.limits_met_only_after_corrections(
                    policy, others, as_first_recorded, dose.taken_at, dose.dose_mg)):
            dose.flags = [*dose.flags, CLEARED_BY_CORRECTION]
        if dose.dose_mg != version.dose_mg and "off_protocol_amount" not in dose.flags:
            dose.flags = [*dose.flags, "off_protocol_amount"]
    if "taken_at" in after and dose.gate_id is not None and "no_gate" not in dose.flags:
        gate = session.get(GateCheck, dose.gate_id)
        if gate is not None and not checked_for(session, gate, dose.taken_at):
            # Moved before its safety check, or past the check's validity: at the time it was
            # really taken there was no check for it. The link to the check stays (the record
            # of what was logged); the flags say what the corrected time means.
            dose.flags = [*dose.flags, "no_gate"]
    dose.revision += 1
    session.add(DoseRevision(id=revision_id, dose_id=dose.id, revision=dose.revision,
                             revised_at=now, revised_by_id=author.id, reason=reason,
                             before=before, after=after))
    session.add(dose)
    session.flush()
    return dose


@dataclass
class RevisionView:
    """One correction as people read it: when, by whom, why, and each field before → after."""

    revision: int
    at: datetime
    by_id: uuid.UUID | None
    by_name: str | None
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changes(self) -> dict[str, dict[str, Any]]:
        return {name: {"before": self.before.get(name), "after": self.after.get(name)}
                for name in self.after}


def changed_since(session: Session, patient_id: uuid.UUID, at: datetime) -> bool:
    """Whether a dose within the rules' reach of `at` (8 days before it, the rolling maximums'
    window) was corrected or marked entered in error after `at`: a safety check made then was
    judged on a record that is no longer the record."""
    return session.exec(
        select(DoseRevision.id).join(Dose, col(Dose.id) == DoseRevision.dose_id)
        .where(Dose.patient_id == patient_id, col(Dose.taken_at) >= at - timedelta(days=8),
               col(Dose.taken_at) <= at + timedelta(days=1), col(DoseRevision.revised_at) > at)
        .limit(1)
    ).first() is not None


def revisions_of(session: Session, dose_ids: list[uuid.UUID]) -> dict[uuid.UUID,
                                                                     list[RevisionView]]:
    """Each dose's revisions in order, for many doses in two queries."""
    found: dict[uuid.UUID, list[RevisionView]] = {d: [] for d in dose_ids}
    if not dose_ids:
        return found
    rows = session.exec(
        select(DoseRevision).where(col(DoseRevision.dose_id).in_(dose_ids))
        .order_by(col(DoseRevision.revision))
    ).all()
    authors = {r.revised_by_id for r in rows if r.revised_by_id}
    names = {u.id: u.display_name for u in session.exec(
        select(User).where(col(User.id).in_(authors))).all()} if authors else {}
    for r in rows:
        found[r.dose_id].append(RevisionView(
            revision=r.revision, at=r.revised_at, by_id=r.revised_by_id,
            by_name=names.get(r.revised_by_id) if r.revised_by_id else None, reason=r.reason,
            before=r.before, after=r.after))
    return found
