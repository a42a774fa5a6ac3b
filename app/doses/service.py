"""The dosing core: the pre-dose gate, the dose log with corrections, and the count ledger.

Every write takes the client UUID it was made with; app/sync makes replays idempotent.
"""

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.doses import rules
from app.doses.models import Dose, DoseRevision, DoseStatus, GateCheck, LedgerEntry, LedgerKind
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion, Route
from app.validation import parse

FUTURE_TOLERANCE = timedelta(minutes=10)
OLDEST_ENTRY = timedelta(days=30)
LATE_ENTRY_AFTER = timedelta(hours=1)
GATE_VALID_FOR = timedelta(hours=2)  # a dose must follow its gate within this time
DUE_WINDOW = timedelta(hours=2)


class DoseRefused(Invalid):
    """A dose that breaks a guard rule and has no stated reason to override it."""

    def __init__(self, reasons: list[dict]) -> None:
        super().__init__(" ".join(r["message"] for r in reasons), field="override_reason")
        self.reasons = reasons


# --- inputs (the sync payloads; forms build the same) ---------------------------------------


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

    taken_at: AwareDatetime
    dose_mg: Annotated[Decimal, Field(allow_inf_nan=True)]
    route: Route
    gate_id: uuid.UUID | None = None
    override_reason: Annotated[str, Field(max_length=500)] | None = None
    lot: Annotated[str, Field(max_length=60)] | None = None
    hold_minutes: Annotated[int, Field(ge=0, le=120)] | None = None
    swallowed: bool | None = None

    @field_validator("override_reason", "lot")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        value = " ".join(value.split()) if value else None
        return value or None


class FillInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filled_on: date
    count: Annotated[int, Field(ge=1, le=500)]
    strength_mg: Annotated[Decimal, Field(gt=0, le=2000, allow_inf_nan=False, decimal_places=2)]
    rx_number: Annotated[str, Field(max_length=60)] | None = None
    pharmacy: Annotated[str, Field(max_length=120)] | None = None
    lot: Annotated[str, Field(max_length=60)] | None = None


class CountInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counted_at: AwareDatetime
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


def record_gate(
    session: Session, *, patient: User, gate_id: uuid.UUID, checked_at: datetime,
    data: dict, now: datetime,
) -> GateCheck:
    answers = parse(GateInput, data)
    _check_time(checked_at, now, field="recorded_at")
    version = require_protocol(session, patient.id)
    result = rules.evaluate_gate(
        protocols.policy(version),
        _history(session, patient.id, now),
        rules.GateAnswers(
            systolic=answers.systolic, diastolic=answers.diastolic,
            heart_rate=answers.heart_rate, checklist=answers.checklist.model_dump(),
        ),
        now,
        version.dose_mg,
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
    return gate


def latest_gate(session: Session, patient_id: uuid.UUID, now: datetime) -> GateCheck | None:
    """The gate the patient may still act on: recent, and not yet used by a dose."""
    gate = session.exec(
        select(GateCheck)
        .where(GateCheck.patient_id == patient_id,
               col(GateCheck.received_at) > now - GATE_VALID_FOR)
        .order_by(col(GateCheck.received_at).desc())
    ).first()
    if gate is None:
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


def _after_emergency(session: Session, patient_id: uuid.UUID, taken_at: datetime) -> bool:
    """True when the latest safety check shortly before `taken_at` was an emergency: a dose
    logged without a gate must not be a way round the emergency guidance. (A dose taken more
    than FUTURE_TOLERANCE before the reading, logged later, is not affected; the tolerance
    covers clock skew and form times rounded to the minute.)"""
    latest = session.exec(
        select(GateCheck)
        .where(GateCheck.patient_id == patient_id,
               col(GateCheck.checked_at) <= taken_at + FUTURE_TOLERANCE,
               col(GateCheck.checked_at) > taken_at - GATE_VALID_FOR)
        .order_by(col(GateCheck.checked_at).desc())
    ).first()
    return latest is not None and latest.verdict == rules.Verdict.EMERGENCY


def record_dose(
    session: Session, *, patient: User, dose_id: uuid.UUID, recorded_at: datetime, data: dict,
    now: datetime,
) -> Dose:
    dose = parse(DoseInput, data)
    version = require_protocol(session, patient.id)
    taken_at = dose.taken_at.astimezone(UTC)
    _check_time(taken_at, now, field="taken_at")
    problem = rules.validate_dose_amount(dose.dose_mg, version.strength_mg,
                                         version.halving_allowed)
    if problem:
        raise Invalid(protocols.dose_amount_message(problem, version.strength_mg),
                      field="dose_mg")

    policy = protocols.policy(version)
    unsafe = list(rules.dose_limit_reasons(policy, _history(session, patient.id, taken_at),
                                           taken_at, dose.dose_mg))
    flags: list[str] = []
    gate = None
    if dose.gate_id is not None:
        gate = session.get(GateCheck, dose.gate_id)
        if gate is None or gate.patient_id != patient.id:
            raise Invalid(_("That safety check was not found."), field="gate_id")
        if session.exec(select(Dose.id).where(Dose.gate_id == gate.id)).first() is not None:
            # One check, one dose: a second dose needs a check of its own.
            raise Invalid(_("That safety check was already used for a dose. Check again."),
                          field="gate_id")
        if gate.verdict == rules.Verdict.EMERGENCY:
            raise Invalid(_("Your blood pressure was at a dangerous level: do not take a dose. "
                            "Follow the emergency guidance."), field="gate_id")
        if not (gate.checked_at - FUTURE_TOLERANCE <= taken_at
                <= gate.checked_at + GATE_VALID_FOR):
            raise Invalid(_("That safety check is too old for this dose. Check again."),
                          field="gate_id")
        gate_reasons = [r["code"] for r in gate.reasons]
    else:
        gate_reasons = []
        flags.append("no_gate")
    if _after_emergency(session, patient.id, taken_at):
        raise Invalid(_("Your last blood pressure was at a dangerous level: do not take a "
                        "dose. Follow the emergency guidance and measure again."),
                      field="gate_id")

    codes = [r.code.value for r in unsafe] + [c for c in gate_reasons
                                              if c not in {r.code.value for r in unsafe}]
    if codes and not dose.override_reason:
        messages = _reasons_json(unsafe, patient.timezone) + [
            r for r in (gate.reasons if gate else []) if r["code"] not in {u.code for u in unsafe}
        ]
        raise DoseRefused(messages)
    if codes:
        flags += ["override", *codes]
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
        swallowed=dose.swallowed, lot=dose.lot,
        override_reason=dose.override_reason if codes else None, flags=flags,
    )
    session.add(row)
    session.flush()
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


def mark_entered_in_error(
    session: Session, *, patient: User, dose_id: uuid.UUID, revision_id: uuid.UUID,
    reason: str | None, now: datetime,
) -> Dose:
    dose = _own_dose(session, patient, dose_id)
    reason = _reason_text(reason)
    if dose.status == DoseStatus.ENTERED_IN_ERROR:
        return dose
    dose.revision += 1
    session.add(DoseRevision(id=revision_id, dose_id=dose.id, revision=dose.revision,
                             revised_at=now, reason=reason,
                             before={"status": DoseStatus(dose.status).value},
                             after={"status": DoseStatus.ENTERED_IN_ERROR.value}))
    dose.status = DoseStatus.ENTERED_IN_ERROR
    dose.status_reason = reason
    session.add(dose)
    session.flush()
    return dose


def revise_dose(
    session: Session, *, patient: User, dose_id: uuid.UUID, revision_id: uuid.UUID,
    reason: str | None, changes: dict, now: datetime,
) -> Dose:
    """Correct the amount or lot of a dose; the old values are kept in a revision.

    A correction records what really happened, so it is never refused for breaking a guard
    rule; instead the rules it breaks are added to the dose's flags for the prescriber.
    """
    dose = _own_dose(session, patient, dose_id)
    reason = _reason_text(reason)
    if dose.status == DoseStatus.ENTERED_IN_ERROR:
        raise Invalid(_("This dose was marked entered in error and cannot be changed."))
    version = session.get(ProtocolVersion, dose.protocol_version_id)
    assert version is not None
    before, after = {}, {}
    if "dose_mg" in changes and Decimal(str(changes["dose_mg"])) != dose.dose_mg:
        new_mg = Decimal(str(changes["dose_mg"]))
        problem = rules.validate_dose_amount(new_mg, version.strength_mg, version.halving_allowed)
        if problem:
            raise Invalid(protocols.dose_amount_message(problem, version.strength_mg),
                          field="dose_mg")
        before["dose_mg"], after["dose_mg"] = str(dose.dose_mg), str(new_mg)
        window = timedelta(days=8)
        others = [rules.PastDose(taken_at=d.taken_at, dose_mg=d.dose_mg)
                  for d in active_doses(session, patient.id, start=dose.taken_at - window,
                                        end=dose.taken_at + window) if d.id != dose.id]
        broken = rules.dose_limit_reasons(protocols.policy(version), others, dose.taken_at,
                                          new_mg)
        new_flags = [r.code.value for r in broken if r.code.value not in dose.flags]
        if new_flags:
            dose.flags = [*dose.flags, "corrected_over_limit", *new_flags]
        dose.dose_mg = new_mg
        dose.troches = (new_mg / version.strength_mg).quantize(Decimal("0.01"))
    if "lot" in changes and (changes["lot"] or None) != dose.lot:
        before["lot"], after["lot"] = dose.lot, changes["lot"] or None
        dose.lot = changes["lot"] or None
    if not after:
        raise Invalid(_("Nothing was changed."))
    dose.revision += 1
    session.add(DoseRevision(id=revision_id, dose_id=dose.id, revision=dose.revision,
                             revised_at=now, reason=reason, before=before, after=after))
    session.add(dose)
    session.flush()
    return dose


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
    )

