"""The dosing core: the pre-dose gate, the dose log with corrections, and the count ledger.

Every write takes the client UUID it was made with; app/sync makes replays idempotent.
"""

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.doses import rules
from app.doses.models import Dose, DoseRevision, DoseStatus, GateCheck, LedgerEntry, LedgerKind
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion, Route
from app.safety import service as safety
from app.validation import SaneDate, SaneDatetime, parse

FUTURE_TOLERANCE = timedelta(minutes=10)
OLDEST_ENTRY = timedelta(days=30)
LATE_ENTRY_AFTER = timedelta(hours=1)
# A dose follows its gate within the protocol's validity (default 30 minutes); no protocol
# allows more than this, which bounds the look-up.
GATE_VALID_AT_MOST = timedelta(hours=2)
DUE_WINDOW = timedelta(hours=2)


class DoseRefused(Invalid):
    """A dose that breaks a guard rule without what it takes to record it: a stated reason for a
    hold the prescriber lets the patient override, or, for any other hold, a reason and the
    patient's statement that the dose was already taken (a record, never a permission)."""

    def __init__(self, reasons: list[dict], *, overridable: bool) -> None:
        if overridable:
            message = _("Give a reason to take it anyway, or wait.")
        else:
            message = _("This cannot be overridden before dosing. If you have already taken "
                        "it, record it as taken, with a reason.")
        super().__init__(" ".join([*(r["message"] for r in reasons), message]),
                         field="override_reason")
        self.reasons = reasons
        self.overridable = overridable


# --- inputs (the sync payloads; forms build the same) ---------------------------------------


def squash_blank(value: str | None) -> str | None:
    """Free text with its runs of white space folded; blank is None."""
    value = " ".join(value.split()) if value else None
    return value or None


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fasted: bool = False
    no_sedatives: bool = False
    no_driving: bool = False
    safe_place: bool = False
    sitter_present: bool = False


class GateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    systolic: Annotated[int, Field(ge=50, le=300)]
    diastolic: Annotated[int, Field(ge=30, le=200)]
    heart_rate: Annotated[int, Field(ge=20, le=250)]
    checklist: Checklist = Checklist()

    @model_validator(mode="after")
    def _diastolic_below_systolic(self) -> "GateInput":
        if self.diastolic >= self.systolic:
            raise ValueError(_("The lower number (diastolic) must be below the upper (systolic)."))
        return self


class DoseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taken_at: SaneDatetime
    dose_mg: Annotated[Decimal, Field(allow_inf_nan=True)]
    route: Route
    gate_id: uuid.UUID | None = None
    override_reason: Annotated[str, Field(max_length=500)] | None = None
    # Why there was no safety check before this dose (required when gate_id is absent).
    no_gate_reason: Annotated[str, Field(max_length=500)] | None = None
    # The patient says the dose was already taken: a hold no longer decides whether it is
    # recorded, only how it is flagged (the record shows what happened).
    already_taken: bool = False
    lot: Annotated[str, Field(max_length=60)] | None = None
    rx_number: Annotated[str, Field(max_length=60)] | None = None
    hold_minutes: Annotated[int, Field(ge=0, le=120)] | None = None
    swallowed: bool | None = None

    @field_validator("override_reason", "no_gate_reason", "lot", "rx_number")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return squash_blank(value)


class FillInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filled_on: SaneDate
    count: Annotated[int, Field(ge=1, le=500)]
    strength_mg: Annotated[Decimal, Field(gt=0, le=2000, allow_inf_nan=False, decimal_places=2)]
    rx_number: Annotated[str, Field(max_length=60)] | None = None
    pharmacy: Annotated[str, Field(max_length=120)] | None = None
    lot: Annotated[str, Field(max_length=60)] | None = None


class CountInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counted_at: SaneDatetime
    count: Annotated[Decimal, Field(ge=0, le=1000, allow_inf_nan=False, decimal_places=1)]


# --- messages -------------------------------------------------------------------------------


def _mg(value: object) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def reason_message(reason: rules.Reason, tz: str) -> str:
    p = reason.params
    code = reason.code
    if code == rules.ReasonCode.TOO_SOON:
        nxt = p.get("next_allowed_at")
        when = nxt.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M") if nxt else ""
        return _(
            "Too soon: doses must be at least %(hours)s hours apart. Next allowed: %(when)s.",
            hours=_mg(p.get("hours", 0)), when=when,
        )
    if code == rules.ReasonCode.OVER_24H_MAX:
        return _("Over the 24-hour maximum of %(limit)s mg (this would make %(total)s mg).",
                 limit=_mg(p["limit_mg"]), total=_mg(p["total_mg"]))
    if code == rules.ReasonCode.OVER_7D_MAX:
        return _("Over the 7-day maximum of %(limit)s mg (this would make %(total)s mg).",
                 limit=_mg(p["limit_mg"]), total=_mg(p["total_mg"]))
    if code == rules.ReasonCode.BP_EMERGENCY:
        return _("Blood pressure %(s)s/%(d)s is at a dangerous level (180/120 or above).",
                 s=p["systolic"], d=p["diastolic"])
    if code == rules.ReasonCode.BP_HOLD:
        return _("Blood pressure %(s)s/%(d)s is at or above your hold limit of %(hs)s/%(hd)s.",
                 s=p["systolic"], d=p["diastolic"], hs=p["hold_systolic"],
                 hd=p["hold_diastolic"])
    if code == rules.ReasonCode.SITTER_REQUIRED:
        return _("Your sitter must be with you for this session.")
    if code == rules.ReasonCode.CHECKLIST_FAILED:
        labels = [checklist_labels().get(item, item) for item in p.get("items", ())]
        return _("Not yet safe: %(items)s.", items=", ".join(labels))
    if code == rules.ReasonCode.PULSE_HOLD:
        return _("Pulse %(hr)s is outside your limits of %(low)s to %(high)s.",
                 hr=p["heart_rate"], low=p.get("low") or "—", high=p.get("high") or "—")
    if code == rules.ReasonCode.SAFETY_REVIEW:
        return _("Your care team must review your recent answers before your next dose.")
    if code == rules.ReasonCode.RECENT_EMERGENCY:
        when = p["until"].astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")
        return _("Your blood pressure reached a dangerous level recently. Dosing is on hold "
                 "until %(when)s, whatever later readings show.", when=when)
    return str(code)


def checklist_labels() -> dict[str, str]:
    return {
        "fasted": _("fasted"),
        "no_sedatives": _("no alcohol or sedatives"),
        "no_driving": _("no driving until tomorrow"),
        "safe_place": _("in a safe place"),
        "sitter_present": _("sitter present"),
    }


def _reasons_json(reasons, tz: str) -> list[dict]:
    return [{"code": r.code.value, "message": reason_message(r, tz)} for r in reasons]


# --- reading --------------------------------------------------------------------------------


def active_doses(
    session: Session, patient_id: uuid.UUID, *, start: datetime | None = None,
    end: datetime | None = None,
) -> list[Dose]:
    stmt = select(Dose).where(Dose.patient_id == patient_id, Dose.status == DoseStatus.RECORDED)
    if start is not None:
        stmt = stmt.where(col(Dose.taken_at) >= start)
    if end is not None:
        stmt = stmt.where(col(Dose.taken_at) < end)
    return list(session.exec(stmt.order_by(col(Dose.taken_at))).all())


def list_doses(session: Session, patient_id: uuid.UUID, start: datetime, end: datetime):
    """Every dose in the range, entered-in-error ones included (the record hides nothing)."""
    return list(
        session.exec(
            select(Dose)
            .where(Dose.patient_id == patient_id, col(Dose.taken_at) >= start,
                   col(Dose.taken_at) < end)
            .order_by(col(Dose.taken_at).desc())
        ).all()
    )


def _history(session: Session, patient_id: uuid.UUID, around: datetime) -> list[rules.PastDose]:
    # Seven days either side covers every rolling window that can include `around`.
    doses = active_doses(session, patient_id, start=around - timedelta(days=8),
                         end=around + timedelta(days=8))
    return [rules.PastDose(taken_at=d.taken_at, dose_mg=d.dose_mg) for d in doses]


def require_protocol(session: Session, patient_id: uuid.UUID) -> ProtocolVersion:
    version = protocols.current(session, patient_id)
    if version is None:
        raise Invalid(_("Your prescriber has not set up your dosing plan yet."))
    return version


# --- the gate -------------------------------------------------------------------------------


def gate_valid_for(version: ProtocolVersion) -> timedelta:
    return timedelta(minutes=version.gate_valid_minutes)


def record_gate(
    session: Session, *, patient: User, gate_id: uuid.UUID, checked_at: datetime,
    data: dict, now: datetime,
) -> GateCheck:
    answers = parse(GateInput, data)
    _check_time(checked_at, now, field="recorded_at")
    version = require_protocol(session, patient.id)
    record = safety.state(session, patient.id, checked_at)
    wait_until = rules.emergency_recheck_at(record, checked_at)
    if wait_until is not None:
        # A quick recheck must not beat the emergency guidance: rest first, then measure.
        raise Invalid(_("Rest for 5 minutes after a dangerous reading before you measure "
                        "again: from %(when)s.", when=_clock(wait_until, patient.timezone)),
                      field="systolic")
    result = rules.evaluate_gate(
        protocols.policy(version),
        _history(session, patient.id, now),
        rules.GateAnswers(
            systolic=answers.systolic, diastolic=answers.diastolic,
            heart_rate=answers.heart_rate, checklist=answers.checklist.model_dump(),
        ),
        now,
        version.dose_mg,
        record,
    )
    gate = GateCheck(
        id=gate_id, patient_id=patient.id, protocol_version_id=version.id, checked_at=checked_at,
        received_at=now, systolic=answers.systolic, diastolic=answers.diastolic,
        heart_rate=answers.heart_rate, checklist=answers.checklist.model_dump(),
        proposed_mg=version.dose_mg, verdict=result.verdict.value,
        reasons=_reasons_json(result.reasons, patient.timezone),
    )
    session.add(gate)
    session.flush()
    if result.verdict == rules.Verdict.EMERGENCY:
        safety.raise_event(session, patient_id=patient.id, kind=safety.BP_EMERGENCY,
                           level="high", occurred_at=checked_at, source_id=gate.id,
                           details={"slot": "gate", "values": {
                               "systolic": answers.systolic, "diastolic": answers.diastolic,
                               "heart_rate": answers.heart_rate}})
    return gate


def _clock(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def latest_gate(session: Session, patient_id: uuid.UUID, now: datetime) -> GateCheck | None:
    """The gate the patient may still act on: recent, and not yet used by a dose."""
    gate = session.exec(
        select(GateCheck)
        .where(GateCheck.patient_id == patient_id,
               col(GateCheck.received_at) > now - GATE_VALID_AT_MOST)
        .order_by(col(GateCheck.received_at).desc())
    ).first()
    if gate is None:
        return None
    version = session.get(ProtocolVersion, gate.protocol_version_id)
    if version is None or gate.received_at <= now - gate_valid_for(version):
        return None
    used = session.exec(select(Dose.id).where(Dose.gate_id == gate.id)).first()
    return None if used else gate


# --- doses ----------------------------------------------------------------------------------


def _check_time(value: datetime, now: datetime, *, field: str) -> None:
    if value > now + FUTURE_TOLERANCE:
        raise Invalid(_("That time is in the future."), field=field)
    if value < now - OLDEST_ENTRY:
        raise Invalid(_("That is more than 30 days ago; ask your prescriber to add it."),
                      field=field)


def _is_extra(session: Session, version: ProtocolVersion, patient: User, taken_at: datetime,
              others: list[Dose]) -> bool:
    """True when the dose matches no scheduled session (an extra dose)."""
    span = timedelta(days=3)
    occs = schedule.occurrences(protocols.plans(version), ZoneInfo(patient.timezone),
                                taken_at - span, taken_at + span)
    times = [d.taken_at for d in others if abs(d.taken_at - taken_at) <= span] + [taken_at]
    grace = timedelta(hours=float(version.grace_hours))
    return taken_at in schedule.extra_doses(occs, times, grace=grace, due_window=DUE_WINDOW)


def _usable_gate(session: Session, patient: User, gate_id: uuid.UUID,
                 taken_at: datetime) -> GateCheck:
    gate = session.get(GateCheck, gate_id)
    if gate is None or gate.patient_id != patient.id:
        raise Invalid(_("That safety check was not found."), field="gate_id")
    if session.exec(select(Dose.id).where(Dose.gate_id == gate.id)).first() is not None:
        # One check, one dose: a second dose needs a check of its own.
        raise Invalid(_("That safety check was already used for a dose. Check again."),
                      field="gate_id")
    version = session.get(ProtocolVersion, gate.protocol_version_id)
    assert version is not None
    if not (gate.checked_at - FUTURE_TOLERANCE <= taken_at
            <= gate.checked_at + gate_valid_for(version)):
        raise Invalid(_("That safety check is too old for this dose. Check again."),
                      field="gate_id")
    return gate


def _record_holds(session: Session, policy: rules.GuardPolicy, patient_id: uuid.UUID,
                  taken_at: datetime) -> list[rules.Reason]:
    """Holds from the record at `taken_at`, and at up to FUTURE_TOLERANCE later: a form's time
    is rounded down to the minute, so a dose logged "at 10:04" right after a 10:04:30 crisis
    reading must still be held by it."""
    found: dict[rules.ReasonCode, rules.Reason] = {}
    for at in (taken_at + FUTURE_TOLERANCE, taken_at):
        for reason in rules.safety_hold_reasons(policy, safety.state(session, patient_id, at),
                                                at):
            found[reason.code] = reason
    return list(found.values())


def record_dose(
    session: Session, *, patient: User, dose_id: uuid.UUID, recorded_at: datetime, data: dict,
    now: datetime,
) -> Dose:
    """Log a dose. Every guard rule is judged at `taken_at` against the history as committed
    (the caller holds the patient's write lock, so concurrent doses are judged one by one).

    A dose that breaks a rule is refused (DoseRefused) unless it carries a reason and either
    every hold is one the prescriber lets the patient override before dosing, or the patient
    says it was already taken: then it is recorded, flagged with the hold's codes, and a dose
    taken against a hold that may not be overridden raises a safety event.
    """
    dose = parse(DoseInput, data)
    version = require_protocol(session, patient.id)
    taken_at = dose.taken_at.astimezone(UTC)
    _check_time(taken_at, now, field="taken_at")
    problem = rules.validate_dose_amount(dose.dose_mg, version.strength_mg,
                                         version.halving_allowed)
    if problem:
        raise Invalid(protocols.dose_amount_message(problem, version.strength_mg),
                      field="dose_mg")
    gate = _usable_gate(session, patient, dose.gate_id, taken_at) if dose.gate_id else None
    if gate is None and not dose.no_gate_reason:
        raise Invalid(_("Say why there was no safety check before this dose."),
                      field="no_gate_reason")

    policy = protocols.policy(version)
    found = [
        *_record_holds(session, policy, patient.id, taken_at),
        *rules.dose_limit_reasons(policy, _history(session, patient.id, taken_at), taken_at,
                                  dose.dose_mg),
    ]
    messages = _reasons_json(found, patient.timezone)
    for stored in gate.reasons if gate else []:
        # The gate's own reasons (its readings, checklist) stand as it recorded them.
        if stored["code"] not in {m["code"] for m in messages}:
            messages.append(stored)
    codes = [m["code"] for m in messages]
    as_reasons = [rules.Reason(rules.ReasonCode(c), {}) for c in codes]
    overridable = rules.may_override_before_dosing(policy, as_reasons)

    flags: list[str] = [] if gate else ["no_gate"]
    if codes:
        if not dose.override_reason or not (overridable or dose.already_taken):
            raise DoseRefused(messages, overridable=overridable)
        flags += ["override", *codes]
        if not overridable:
            flags.append("against_hold")
    if dose.dose_mg != version.dose_mg:
        flags.append("off_protocol_amount")
    if recorded_at - taken_at > LATE_ENTRY_AFTER:
        flags.append("late_entry")
    if _is_extra(session, version, patient, taken_at,
                 active_doses(session, patient.id, start=taken_at - timedelta(days=3),
                              end=taken_at + timedelta(days=3))):
        flags.append("extra")

    row = Dose(
        id=dose_id, patient_id=patient.id, protocol_version_id=version.id,
        gate_id=gate.id if gate else None, taken_at=taken_at, recorded_at=recorded_at,
        received_at=now, dose_mg=dose.dose_mg,
        troches=(dose.dose_mg / version.strength_mg).quantize(Decimal("0.01")),
        route=dose.route.value, hold_minutes=dose.hold_minutes or version.hold_minutes,
        swallowed=dose.swallowed, lot=dose.lot, rx_number=dose.rx_number,
        override_reason=dose.override_reason if codes else None,
        no_gate_reason=None if gate else dose.no_gate_reason, flags=flags,
    )
    session.add(row)
    session.flush()
    if "against_hold" in flags:
        safety.raise_event(session, patient_id=patient.id, kind=safety.DOSE_AGAINST_HOLD,
                           level="high", occurred_at=taken_at, source_id=row.id,
                           details={"codes": codes, "dose_mg": str(row.dose_mg),
                                    "reason": dose.override_reason})
    return row


def _own_dose(session: Session, patient: User, dose_id: uuid.UUID) -> Dose:
    dose = session.get(Dose, dose_id)
    if dose is None or dose.patient_id != patient.id:
        raise NotFound(_("That dose was not found."))
    return dose


def _reason_text(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid(_("Say why, for the record."), field="reason")
    if len(reason) > 500:
        raise Invalid(_("Use at most 500 characters."), field="reason")
    return reason


class DoseChanges(BaseModel):
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
    reason: Annotated[str, Field(max_length=2000)] = ""
    changes: DoseChanges


class EnteredInErrorInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dose_id: uuid.UUID
    reason: Annotated[str, Field(max_length=2000)] = ""


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
    if new_time is not None and new_time.astimezone(UTC) != dose.taken_at:
        new_time = new_time.astimezone(UTC)
        _check_time(new_time, now, field="taken_at")
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
        others = [rules.PastDose(taken_at=d.taken_at, dose_mg=d.dose_mg)
                  for d in active_doses(session, patient.id, start=dose.taken_at - window,
                                        end=dose.taken_at + window) if d.id != dose.id]
        broken = rules.dose_limit_reasons(protocols.policy(version), others, dose.taken_at,
                                          dose.dose_mg)
        new_flags = [r.code.value for r in broken if r.code.value not in dose.flags]
        if new_flags:
            dose.flags = [*dose.flags, "corrected_over_limit", *new_flags]
        if dose.dose_mg != version.dose_mg and "off_protocol_amount" not in dose.flags:
            dose.flags = [*dose.flags, "off_protocol_amount"]
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


def original_values(revisions: list[RevisionView]) -> dict[str, Any]:
    """The values first recorded for each field a correction changed."""
    original: dict[str, Any] = {}
    for revision in revisions:
        for name, value in revision.before.items():
            original.setdefault(name, value)
    return original


# --- the count ledger -----------------------------------------------------------------------


@dataclass
class LedgerSummary:
    balance: Decimal  # troches on hand by the record (last count, then fills minus doses)
    days_of_supply: int | None
    last_count: LedgerEntry | None
    discrepancies: list[LedgerEntry]
    entries: list[LedgerEntry]


def _ledger_entries(session: Session, patient_id: uuid.UUID) -> list[LedgerEntry]:
    return list(session.exec(
        select(LedgerEntry).where(LedgerEntry.patient_id == patient_id)
        .order_by(col(LedgerEntry.occurred_at))
    ).all())


def expected_balance(session: Session, patient_id: uuid.UUID, at: datetime) -> Decimal:
    """What should be on hand at `at`: from the last count before it, plus fills, minus doses."""
    balance = Decimal(0)
    since = None
    for entry in _ledger_entries(session, patient_id):
        if entry.occurred_at > at:
            break
        if entry.kind == LedgerKind.COUNT:
            balance, since = entry.count, entry.occurred_at
        else:
            balance += entry.count
    taken = sum(
        (d.troches for d in active_doses(session, patient_id, start=since, end=at)
         if since is None or d.taken_at > since),
        Decimal(0),
    )
    return balance - taken


def troches_per_week(version: ProtocolVersion, tz: str, now: datetime) -> Decimal:
    occs = schedule.occurrences(protocols.plans(version), ZoneInfo(tz), now,
                                now + timedelta(days=28))
    per_session = version.dose_mg / version.strength_mg
    return Decimal(len(occs)) * per_session / 4


def ledger_summary(session: Session, patient: User, now: datetime) -> LedgerSummary:
    entries = _ledger_entries(session, patient.id)
    balance = expected_balance(session, patient.id, now)
    version = protocols.current(session, patient.id)
    days = None
    if version is not None:
        weekly = troches_per_week(version, patient.timezone, now)
        if weekly > 0:
            days = max(0, math.floor(balance / weekly * 7))
    counts = [e for e in entries if e.kind == LedgerKind.COUNT]
    return LedgerSummary(
        balance=balance, days_of_supply=days, last_count=counts[-1] if counts else None,
        discrepancies=[e for e in counts if "discrepancy" in e.flags], entries=entries,
    )


def record_fill(
    session: Session, *, patient: User, entry_id: uuid.UUID, data: dict, now: datetime,
) -> LedgerEntry:
    fill = parse(FillInput, data)
    tz = ZoneInfo(patient.timezone)
    # A fill counts from local noon of its date, or from now when recorded earlier that day:
    # otherwise a count made the morning of a same-day fill missed it (a false discrepancy).
    occurred = min(datetime.combine(fill.filled_on, time(12), tzinfo=tz).astimezone(UTC), now)
    # Compare dates in the patient's zone (a day of slack for a phone in another zone): the
    # old instant-based check refused fills from 29 days ago as "more than 30 days ago".
    local_today = now.astimezone(tz).date()
    if fill.filled_on > local_today + timedelta(days=1):
        raise Invalid(_("That time is in the future."), field="filled_on")
    if fill.filled_on < local_today - OLDEST_ENTRY:
        raise Invalid(_("That is more than 30 days ago; ask your prescriber to add it."),
                      field="filled_on")
    flags = []
    version = protocols.current(session, patient.id)
    if version is not None:
        if fill.strength_mg != version.strength_mg:
            flags.append("strength_mismatch")
        weekly = troches_per_week(version, patient.timezone, now)
        on_hand = expected_balance(session, patient.id, occurred)
        if weekly > 0 and on_hand / weekly * 7 > version.early_refill_days:
            flags.append("early_refill")
    entry = LedgerEntry(
        id=entry_id, patient_id=patient.id, kind=LedgerKind.FILL, occurred_at=occurred,
        received_at=now, count=Decimal(fill.count), filled_on=fill.filled_on,
        strength_mg=fill.strength_mg, rx_number=fill.rx_number, pharmacy=fill.pharmacy,
        lot=fill.lot, flags=flags,
    )
    session.add(entry)
    session.flush()
    return entry


def record_count(
    session: Session, *, patient: User, entry_id: uuid.UUID, data: dict, now: datetime,
) -> LedgerEntry:
    count = parse(CountInput, data)
    counted_at = count.counted_at.astimezone(UTC)
    _check_time(counted_at, now, field="counted_at")
    expected = expected_balance(session, patient.id, counted_at)
    entry = LedgerEntry(
        id=entry_id, patient_id=patient.id, kind=LedgerKind.COUNT, occurred_at=counted_at,
        received_at=now, count=count.count, expected_balance=expected,
        flags=["discrepancy"] if count.count != expected else [],
    )
    session.add(entry)
    session.flush()
    return entry


# --- Today ----------------------------------------------------------------------------------


@dataclass
class Today:
    protocol: ProtocolVersion | None
    phase: str | None
    next_session: schedule.SessionStatus | None
    recent: list[schedule.SessionStatus]
    last_dose: Dose | None
    gate: GateCheck | None
    ledger: LedgerSummary | None
    troches_per_dose: Decimal | None
    # Holds from the record (a pending safety review, a recent crisis reading), rendered.
    holds: list[dict] = field(default_factory=list)
    # The scheduled session a dose now would push back, when a dose now would be extra.
    extra_pushes: schedule.Occurrence | None = None


def extra_dose_pushes(session: Session, patient: User, version: ProtocolVersion,
                      now: datetime) -> schedule.Occurrence | None:
    """If a dose now would match no scheduled session, the first session it would hold back
    (one due before the minimum interval has passed); else None."""
    nearby = active_doses(session, patient.id, start=now - timedelta(days=3),
                          end=now + timedelta(days=3))
    if not _is_extra(session, version, patient, now, nearby):
        return None
    gap = timedelta(hours=float(version.min_hours_between_doses))
    upcoming = schedule.occurrences(protocols.plans(version), ZoneInfo(patient.timezone), now,
                                    now + gap)
    return upcoming[0] if upcoming else None


def today(session: Session, patient: User, now: datetime) -> Today:
    version = protocols.current(session, patient.id)
    if version is None:
        return Today(None, None, None, [], None, None, None, None)
    tz = ZoneInfo(patient.timezone)
    grace = timedelta(hours=float(version.grace_hours))
    doses = active_doses(session, patient.id, start=now - timedelta(days=70),
                         end=now + FUTURE_TOLERANCE)
    dose_times = [d.taken_at for d in doses]
    plans = protocols.plans(version)
    nxt = schedule.next_session(plans, tz, now, dose_times, grace=grace, due_window=DUE_WINDOW)
    occs = schedule.occurrences(plans, tz, now - timedelta(days=14), now)
    recent = schedule.classify_sessions(occs, dose_times, now, grace=grace,
                                        due_window=DUE_WINDOW)
    return Today(
        protocol=version,
        phase=protocols.current_phase(version, now.astimezone(tz).date()),
        next_session=nxt,
        recent=list(reversed(recent)),
        last_dose=doses[-1] if doses else None,
        gate=latest_gate(session, patient.id, now),
        ledger=ledger_summary(session, patient, now),
        troches_per_dose=(version.dose_mg / version.strength_mg).quantize(
            Decimal("0.1"), rounding=ROUND_CEILING),
        holds=_reasons_json(rules.safety_hold_reasons(
            protocols.policy(version), safety.state(session, patient.id, now), now),
            patient.timezone),
        extra_pushes=extra_dose_pushes(session, patient, version, now),
    )

