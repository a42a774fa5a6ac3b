"""The dosing core: the pre-dose gate and the dose log, judged by the pure rules.

Corrections live in corrections.py, the count ledger in ledger.py, the Today state in
today.py. Every write takes the client UUID it was made with; app/sync makes replays
idempotent and serialises each patient's writes.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from app.accounts.models import User
from app.alerts import service as alerts
from app.checkins import service as checkins
from app.db import transaction_memo
from app.doses import reasons, rules
from app.doses.models import Dose, DoseRevision, DoseStatus, GateCheck
from app.errors import Invalid
from app.i18n import gettext as _
from app.protocols import schedule, versions
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion, Route
from app.safety import service as safety
from app.validation import ClientInput, SaneDatetime, parse
from app.web import pages
from app.web.formats import format_datetime, format_number

FUTURE_TOLERANCE = timedelta(minutes=10)
OLDEST_ENTRY = timedelta(days=30)
LATE_ENTRY_AFTER = timedelta(hours=1)
# A dose within the limits only because a dose near it was corrected or marked entered in
# error (rules.limits_met_only_after_corrections).
CLEARED_BY_CORRECTION = "cleared_by_correction"
# A dose recorded beside one of the same amount minutes from it (rules.same_dose_logged): most
# likely one troche entered twice, but it may be a second troche, so it is recorded as sent and
# marked for the patient to strike and the prescriber to ask about.
POSSIBLE_DUPLICATE = "possible_duplicate"
# A dose follows its gate within the protocol's validity (default 30 minutes); no protocol
# allows more than this, which bounds the look-up.
GATE_VALID_AT_MOST = timedelta(hours=2)
DUE_WINDOW = timedelta(hours=2)


# The rules judged for each dose at its own time and amount (rules.dose_limit_reasons).
DOSE_LIMIT_CODES = frozenset({rules.ReasonCode.TOO_SOON.value, rules.ReasonCode.OVER_24H_MAX.value,
                              rules.ReasonCode.OVER_7D_MAX.value})


class DoseRefused(Invalid):
    """A dose that breaks a guard rule without what it takes to record it: a stated reason for a
    hold the prescriber lets the patient override, or, for any other hold, a reason and the
    patient's statement that the dose was already taken (a record, never a permission)."""

    def __init__(self, reasons: list[dict], *, overridable: bool,
                 same_as: str | None = None, already_taken: bool = False) -> None:
        if already_taken:
            # Said to have been taken, without the account: "record it as taken" read as if
            # it had not been (a tester's dose logged offline as taken earlier).
            message = _("It is recorded as taken once you write what happened, and why.")
        elif overridable:
            message = _("Give a reason to take it anyway, or wait.")
        else:
            message = _("This cannot be overridden before dosing. If you have already taken "
                        "it, record it as taken, with a reason.")
        # A likely second entry of a dose already logged is said first: it needs nothing more.
        super().__init__(" ".join([*([same_as] if same_as else []),
                                   *(r["message"] for r in reasons), message]),
                         field="override_reason")
        self.reasons = reasons
        self.overridable = overridable
        self.same_as = same_as


def same_dose_words(dose: rules.PastDose, tz: str) -> str:
    """The hint beside a refusal when the entry looks like a dose already in the log."""
    return _("You already logged %(mg)s mg at %(time)s. If this is that dose, it is recorded "
             "and there is nothing more to do.",
             mg=format_number(dose.dose_mg),
             time=format_datetime(dose.taken_at.astimezone(ZoneInfo(tz)), "weekday_time"))


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


class GateInput(ClientInput):
    model_config = ConfigDict(extra="forbid")

    systolic: Annotated[int, Field(ge=50, le=300)]
    diastolic: Annotated[int, Field(ge=30, le=200)]
    heart_rate: Annotated[int, Field(ge=20, le=250)]
    checklist: Checklist = Checklist()
    # What the phone's offline gate said (app/static/offline-gate.js); the server judges again.
    offline_verdict: rules.Verdict | None = None

    # On the diastolic, not the whole reading: the form shows the message beside that field
    # and marks it (a model-wide error showed only above the form). Systolic comes first, so it
    # is here when valid.
    @field_validator("diastolic")
    @classmethod
    def _diastolic_below_systolic(cls, diastolic: int, info: ValidationInfo) -> int:
        systolic = info.data.get("systolic")
        if systolic is not None and diastolic >= systolic:
            raise ValueError(_("The lower number (diastolic) must be below the upper (systolic)."))
        return diastolic


class DoseInput(ClientInput):
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


# --- reading --------------------------------------------------------------------------------


def _recorded(patient_id: uuid.UUID, start: datetime | None, end: datetime | None) -> list:
    """The conditions of a patient's recorded doses in [start, end): `active_doses` and
    `past_doses` read the same rows."""
    return [*_in_range(patient_id, start, end), Dose.status == DoseStatus.RECORDED]


def _in_range(patient_id: uuid.UUID, start: datetime | None, end: datetime | None) -> list:
    found = [Dose.patient_id == patient_id]
    if start is not None:
        found.append(col(Dose.taken_at) >= start)
    if end is not None:
        found.append(col(Dose.taken_at) < end)
    return found


def active_doses(
    session: Session, patient_id: uuid.UUID, *, start: datetime | None = None,
    end: datetime | None = None,
) -> list[Dose]:
    stmt = select(Dose).where(*_recorded(patient_id, start, end))
    return list(session.exec(stmt.order_by(col(Dose.taken_at))).all())


def troches_taken(session: Session, patient_id: uuid.UUID, *, after: datetime | None,
                  until: datetime) -> Decimal:
    """Troches of the recorded doses after `after` (from the start, if None) up to `until`
    inclusive (a dose at a count's own minute was taken before the count: the count expects it
    gone, and the balance after starts from the count), summed by the database: a supply card
    reads one row, however long ago the last count was (a year of doses, read as rows, was most
    of Today's time for such a patient)."""
    stmt = select(func.coalesce(func.sum(Dose.troches), 0)).where(
        Dose.patient_id == patient_id, Dose.status == DoseStatus.RECORDED,
        col(Dose.taken_at) <= until)
    if after is not None:
        stmt = stmt.where(col(Dose.taken_at) > after)
    # SQLite sums NUMERIC as floating point; the column's type brings it back to two places.
    # An empty sum is a bare 0: given the same two places.
    return Decimal(str(session.exec(stmt).one())).quantize(Decimal("0.01"))


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


# The History page's length: a month of twice-weekly sessions. Each card carries its session
# record and two correction forms (about 5 KB of HTML, 0.4 KB compressed), so a page stays
# light on a phone and "Show older" is one small htmx swap.
HISTORY_PAGE = 8


def _dose_key(dose: Dose) -> pages.Cursor:
    return pages.Cursor(dose.taken_at, dose.id)


def _own_doses(patient_id: uuid.UUID):
    return select(Dose).where(Dose.patient_id == patient_id)


def history_page(session: Session, patient_id: uuid.UUID, before: pages.Cursor | None,
                 size: int = HISTORY_PAGE) -> pages.Page[Dose]:
    """One page of the patient's doses, newest first, entered-in-error ones included."""
    query = pages.older_than(_own_doses(patient_id), Dose.taken_at, Dose.id, before, size)
    return pages.page_of(session.exec(query).all(), size, _dose_key, before)


def history_cursor_of(session: Session, dose: Dose,
                      size: int = HISTORY_PAGE) -> pages.Cursor | None:
    """The cursor of the History page that shows `dose` (None: the newest page)."""
    return pages.holding_cursor(session, _own_doses(dose.patient_id), Dose.taken_at, Dose.id,
                                dose, size, _dose_key)


def past_doses(session: Session, patient_id: uuid.UUID, *, start: datetime,
               end: datetime) -> list[rules.PastDose]:
    """The recorded doses in [start, end) as the rules judge them: time and amount. The same
    rows as `active_doses`, read as two columns: every safety check and dose judges these,
    and whole rows (a dozen columns, JSON flags) cost more than the rules that read them."""
    rows = session.exec(
        select(Dose.taken_at, Dose.dose_mg).where(*_recorded(patient_id, start, end))
        .order_by(col(Dose.taken_at))).all()
    return [rules.PastDose(taken_at=taken_at, dose_mg=dose_mg) for taken_at, dose_mg in rows]


# How far a correction can move a dose: every time it is given lies within OLDEST_ENTRY of
# when it was entered (check_time), so a day more either side of a window finds every dose
# first recorded in it.
_MOVED_AT_MOST = OLDEST_ENTRY + timedelta(days=1)


def past_doses_as_recorded(
    session: Session, patient_id: uuid.UUID, *, start: datetime, end: datetime,
    exclude: uuid.UUID | None = None,
) -> tuple[list[rules.PastDose], list[rules.PastDose] | None]:
    """`past_doses` in [start, end), and the doses first recorded in it as they were first
    recorded: those since marked entered in error included, corrected ones at their first
    time and amount (None when no dose in reach was ever struck or corrected). `exclude`
    leaves out the dose being judged."""
    wide = _in_range(patient_id, start - _MOVED_AT_MOST, end + _MOVED_AT_MOST)
    rows = [row for row in session.exec(
        select(Dose.id, Dose.taken_at, Dose.dose_mg, Dose.status, Dose.revision)
        .where(*wide, or_(and_(col(Dose.taken_at) >= start, col(Dose.taken_at) < end),
                          col(Dose.revision) > 1))
        .order_by(col(Dose.taken_at))).all() if row[0] != exclude]
    recorded = [rules.PastDose(taken_at=at, dose_mg=mg) for _id, at, mg, status, _rev in rows
                if status == DoseStatus.RECORDED and start <= at < end]
    first = {dose_id: (at, mg) for dose_id, at, mg, _status, revision in rows if revision > 1}
    if not first:
        return recorded, None
    # Newest revision first, so each field ends at the value before its first correction.
    for dose_id, before in session.exec(
            select(DoseRevision.dose_id, DoseRevision.before)
            .where(col(DoseRevision.dose_id).in_(first))
            .order_by(col(DoseRevision.revision).desc())).all():
        at, mg = first[dose_id]
        first[dose_id] = (datetime.fromisoformat(before["taken_at"]) if "taken_at" in before
                          else at,
                          Decimal(before["dose_mg"]) if "dose_mg" in before else mg)
    as_first_recorded = [rules.PastDose(taken_at=at, dose_mg=mg) for at, mg in (
        first.get(dose_id, (at, mg)) for dose_id, at, mg, _status, _rev in rows)
        if start <= at < end]
    return recorded, as_first_recorded


def _history(session: Session, patient_id: uuid.UUID, around: datetime) -> list[rules.PastDose]:
    # Seven days either side covers every rolling window that can include `around`.
    return past_doses(session, patient_id, start=around - timedelta(days=8),
                      end=around + timedelta(days=8))


def require_protocol(session: Session, patient_id: uuid.UUID) -> ProtocolVersion:
    version = protocols.current(session, patient_id)
    if version is None:
        raise Invalid(_("Your prescriber has not set up your dosing plan yet."))
    return version


# --- the gate -------------------------------------------------------------------------------

_GATES_RECORDED = "doses.gates_recorded"


def gate_valid_for(version: ProtocolVersion) -> timedelta:
    return timedelta(minutes=version.gate_valid_minutes)


def checked_for(session: Session, gate: GateCheck, taken_at: datetime) -> bool:
    """Whether a dose at `taken_at` falls in the check's window: from the check (a form's
    minute of slack) to its plan's validity after it."""
    version = session.get(ProtocolVersion, gate.protocol_version_id)
    assert version is not None
    return (gate.checked_at - FUTURE_TOLERANCE <= taken_at
            <= gate.checked_at + gate_valid_for(version))


def record_gate(
    session: Session, *, patient: User, gate_id: uuid.UUID, checked_at: datetime,
    data: dict, now: datetime,
) -> GateCheck:
    answers = parse(GateInput, data)
    check_time(checked_at, now, field="recorded_at")
    version = require_protocol(session, patient.id)
    record = safety.state(session, patient.id, checked_at)
    wait_until = rules.emergency_recheck_at(record, checked_at)
    if wait_until is not None:
        # A quick recheck must not beat the emergency guidance: rest first, then measure.
        raise Invalid(_("Rest for 5 minutes after a dangerous reading. You can measure again "
                        "from %(when)s.", when=_clock(wait_until, patient.timezone)),
                      field="systolic")
    # Judged when it was made, as the phone judged it: a check made offline and sent hours
    # later must keep the verdict of its moment (a hold then is a hold, even if the interval has
    # run out since), and agree or disagree with the phone's on the same facts.
    result = rules.evaluate_gate(
        protocols.policy(version),
        _history(session, patient.id, checked_at),
        rules.GateAnswers(
            systolic=answers.systolic, diastolic=answers.diastolic,
            heart_rate=answers.heart_rate, checklist=answers.checklist.model_dump(),
        ),
        checked_at,
        version.dose_mg,
        record,
    )
    gate = GateCheck(
        id=gate_id, patient_id=patient.id, protocol_version_id=version.id, checked_at=checked_at,
        received_at=now, systolic=answers.systolic, diastolic=answers.diastolic,
        heart_rate=answers.heart_rate, checklist=answers.checklist.model_dump(),
        proposed_mg=version.dose_mg, verdict=result.verdict.value,
        reasons=reasons.stored(result.reasons),
    )
    # The sitter's co-signed checklist from their own account, if they signed shortly before:
    # the gate shows "sitter confirmed" and the session record names who confirmed.
    sitter_check = checkins.sitter_check_for_gate(session, patient.id, checked_at)
    gate.sitter_check_id = sitter_check.id if sitter_check else None
    session.add(gate)
    session.flush()
    # Held for the transaction: the session keeps only weak references to unchanged rows, so
    # the dose that uses this check, usually the next item of the same sync, would read it
    # back from the database.
    transaction_memo(session, _GATES_RECORDED, list).append(gate)
    if answers.offline_verdict is not None and answers.offline_verdict != result.verdict:
        # The phone and the server disagree: the patient is told on sync, the prescriber here.
        safety.raise_event(session, patient_id=patient.id, kind=safety.OFFLINE_GATE_DISAGREED,
                           level="moderate", occurred_at=checked_at, source_id=gate.id,
                           details={"offline": answers.offline_verdict.value,
                                    "server": result.verdict.value,
                                    "codes": [r.code.value for r in result.reasons]},
                           now=now)
    if result.verdict == rules.Verdict.EMERGENCY:
        safety.raise_event(session, patient_id=patient.id, kind=safety.BP_EMERGENCY,
                           level="high", occurred_at=checked_at, source_id=gate.id,
                           details={"slot": "gate", "values": {
                               "systolic": answers.systolic, "diastolic": answers.diastolic,
                               "heart_rate": answers.heart_rate}}, now=now)
    elif result.verdict == rules.Verdict.HOLD and any(
            r.code == rules.ReasonCode.BP_HOLD for r in result.reasons):
        # At or above the protocol's hold level: the caregivers who accepted alerts are told
        # (in this transaction; the gate is the source, so a replay raises nothing new).
        alerts.raise_for_bp_hold(session, patient_id=patient.id, gate_id=gate.id, now=now)
    _flag_doses_it_held(session, patient, gate, version, now)
    return gate


def _flag_doses_it_held(session: Session, patient: User, gate: GateCheck,
                        version: ProtocolVersion, now: datetime) -> None:
    """A check that arrives after a dose it would have held (two phones, an outbox sent late):
    the dose, recorded clean because it was judged first, is flagged as taken against the
    hold, as it would have been had the check come first (record_dose's newer check). The
    record shows what happened, in whichever order the phones sent it. A concurrency tester
    found a hold at 175/100 and, a minute later, a clean dose naming an older check."""
    # Its readings' and checklist's holds, and an emergency reading's.
    held_after = READING_CODES | {rules.ReasonCode.BP_EMERGENCY}
    codes = [r["code"] for r in gate.reasons if r["code"] in held_after]
    if not codes:
        return
    valid = gate_valid_for(version)
    doses = session.exec(
        select(Dose).where(
            Dose.patient_id == patient.id, Dose.status == DoseStatus.RECORDED,
            # Written down after this check, and taken within a check's validity of it.
            col(Dose.recorded_at) > gate.checked_at,
            col(Dose.taken_at) > gate.checked_at - valid,
            col(Dose.taken_at) <= gate.checked_at + valid)
    ).all()
    for dose in doses:
        # As record_dose counts a newer check: made before the dose was written down, or,
        # for a dose recorded as already taken, before its time (strictly: a form's time is
        # its minute, and a reading in that minute may have followed the dose).
        if dose.already_taken and not gate.checked_at < dose.taken_at:
            continue
        named = session.get(GateCheck, dose.gate_id) if dose.gate_id else None
        if named is not None and named.checked_at > gate.checked_at:
            continue  # it names a check made after this one: that one decided
        if named is None and gate.checked_at < dose.taken_at - valid:
            continue  # with no check named, only one within a check's validity before it
        new = [c for c in codes if c not in dose.flags]
        if not new:
            continue
        dose.flags = [*dose.flags, *new,
                      *(["against_hold"] if "against_hold" not in dose.flags else [])]
        session.add(dose)
        session.flush()
        safety.raise_event(session, patient_id=patient.id, kind=safety.DOSE_AGAINST_HOLD,
                           level="high", occurred_at=dose.taken_at, source_id=dose.id,
                           details={"codes": new, "dose_mg": str(dose.dose_mg),
                                    "reason": dose.override_reason, "check_sent_later": True},
                           now=now)


def _clock(value: datetime, tz: str) -> str:
    return format_datetime(value.astimezone(ZoneInfo(tz)), "time")


def gate_shown_until(gate: GateCheck, version: ProtocolVersion) -> datetime:
    """Until when `latest_gate` offers this gate (unless a dose uses it first): a saved copy of
    the page must not offer it longer. Counted from when it was made, as a dose using it is
    (`_usable_gate`), and from when it arrived: a check sent hours late is never offered."""
    valid = min(gate_valid_for(version), GATE_VALID_AT_MOST)
    return min(gate.received_at, gate.checked_at) + valid


def latest_gate(session: Session, patient_id: uuid.UUID, now: datetime,
                current: ProtocolVersion | None = None) -> GateCheck | None:
    """The gate the patient may still act on: the latest made, recent, and not yet used by a
    dose (latest by when it was made: a check sent late from the outbox must not hide a fresh
    one made online meanwhile), and made under the plan in force. `current`, when the caller
    has read it (Today has): a check made under it needs no look for a newer plan."""
    gate = session.exec(
        select(GateCheck)
        .where(GateCheck.patient_id == patient_id,
               col(GateCheck.checked_at) > now - GATE_VALID_AT_MOST)
        .order_by(col(GateCheck.checked_at).desc())
    ).first()
    if gate is None:
        return None
    version = session.get(ProtocolVersion, gate.protocol_version_id)
    if version is None or gate_shown_until(gate, version) <= now:
        return None
    used = session.exec(select(Dose.id).where(Dose.gate_id == gate.id)).first()
    if used or _plan_changed_since(session, patient_id, version, now, current):
        return None  # a check made under an earlier plan: the form asks for a new one
    return gate


def _plan_changed_since(session: Session, patient_id: uuid.UUID, version: ProtocolVersion,
                        at: datetime, current: ProtocolVersion | None = None) -> bool:
    """Whether the prescriber saved a version after `version`, by `at` (a minute's slack for a
    form's time, rounded down to its minute): a check made under `version` no longer answers
    the plan then in force. `current`, when the caller has read it: made under it, nothing
    newer to look for (a sync batch reads the protocol once)."""
    if current is not None and current.id == version.id:
        return False
    return session.exec(select(ProtocolVersion.id).where(
        ProtocolVersion.patient_id == patient_id, ProtocolVersion.version > version.version,
        col(ProtocolVersion.created_at) <= at + timedelta(minutes=1))).first() is not None


# --- doses ----------------------------------------------------------------------------------


def check_time(value: datetime, now: datetime, *, field: str) -> None:
    if value > now + FUTURE_TOLERANCE:
        raise Invalid(_("That time is in the future."), field=field)
    if value < now - OLDEST_ENTRY:
        raise Invalid(_("That is more than 30 days ago; ask your prescriber to add it."),
                      field=field)


def is_extra(session: Session, version: ProtocolVersion, patient: User, taken_at: datetime,
              others: Sequence[Dose | rules.PastDose]) -> bool:
    """True when the dose matches no scheduled session (an extra dose), each session under the
    version in force when it was due. `version` is the current one."""
    span = timedelta(days=3)
    start, end = taken_at - span, taken_at + span
    # The current version alone unless one was saved within the span (a dose logged late for
    # a session before a new time): then that session keeps its own version's time and grace.
    in_force = ([version] if version.created_at <= start
                else versions.for_patient(session, patient.id, start, end))
    times = [d.taken_at for d in others if abs(d.taken_at - taken_at) <= span] + [taken_at]
    occs = schedule.occurrences_in_force(versions.in_force(in_force),
                                         ZoneInfo(patient.timezone), start, end, doses=times,
                                         due_window=DUE_WINDOW)
    return taken_at in schedule.extra_doses(occs, times, due_window=DUE_WINDOW)


def _taken_before_check(session: Session, patient: User, gate_id: uuid.UUID,
                        taken_at: datetime) -> bool:
    """Whether the patient's check `gate_id` was made after `taken_at` (beyond a form's slack)."""
    gate = session.get(GateCheck, gate_id)
    return (gate is not None and gate.patient_id == patient.id
            and taken_at < gate.checked_at - FUTURE_TOLERANCE)


def _usable_gate(session: Session, patient: User, gate_id: uuid.UUID,
                 taken_at: datetime, current: ProtocolVersion) -> GateCheck:
    gate = session.get(GateCheck, gate_id)
    if gate is None or gate.patient_id != patient.id:
        raise Invalid(_("That safety check was not found."), field="gate_id")
    if session.exec(select(Dose.id).where(Dose.gate_id == gate.id)).first() is not None:
        # One check, one dose: a second dose needs a check of its own.
        raise Invalid(_("That safety check was already used for a dose. Check again."),
                      field="gate_id")
    version = session.get(ProtocolVersion, gate.protocol_version_id)
    assert version is not None
    if not checked_for(session, gate, taken_at):
        raise Invalid(_("That safety check is too old for this dose. Check again."),
                      field="gate_id")
    # A check answers the plan it was made under: once the prescriber saved another before the
    # dose (a lower blood-pressure hold, a sitter now required), its readings and checklist
    # were never judged by the plan the dose is taken under.
    if _plan_changed_since(session, patient.id, version, taken_at, current):
        raise Invalid(_("Your plan changed after this safety check. Check again."),
                      field="gate_id")
    return gate


# The holds a check's own answers raise (not the record's, nor the interval's and maxima).
READING_CODES = frozenset({rules.ReasonCode.BP_HOLD, rules.ReasonCode.PULSE_HOLD,
                           rules.ReasonCode.SITTER_REQUIRED, rules.ReasonCode.CHECKLIST_FAILED})


def _newer_check(session: Session, patient_id: uuid.UUID, gate: GateCheck | None,
                 taken_at: datetime, until: datetime, valid_for: timedelta) -> GateCheck | None:
    """The patient's latest safety check made after the one this dose names (without one,
    within a check's validity before the dose) and by `until`'s minute: the latest reading
    decides. A tester passed at 159/99, was held at 170/95 a minute later, and logged the dose
    from the first page's form: it was recorded clean, the 170/95 nowhere beside it. `until`:
    when the dose was written down, unless the patient says it was taken before (a form's
    "Taken at" is filled in when the page is drawn, so an old tab's said a time before the
    hold and passed it)."""
    since = gate.checked_at if gate else taken_at - valid_for
    stmt = select(GateCheck).where(
        GateCheck.patient_id == patient_id, col(GateCheck.checked_at) >= since,
        # A form's time is the minute: a check in the same minute as the dose came first.
        col(GateCheck.checked_at) < until + timedelta(minutes=1))
    if gate is not None:
        stmt = stmt.where(GateCheck.id != gate.id)
    return session.exec(stmt.order_by(col(GateCheck.checked_at).desc()).limit(1)).first()


def record_holds(session: Session, policy: rules.GuardPolicy, patient_id: uuid.UUID,
                 at: datetime) -> tuple[list[rules.Reason], rules.SafetyState]:
    """Holds from the record at `at`, and at up to FUTURE_TOLERANCE later: a form's time
    is rounded down to the minute, so a dose logged "at 10:04" right after a 10:04:30 crisis
    reading must still be held by it. Judged at the present (Today), the later moment counts
    every entry the record holds: each has reached the server, so it has happened, whatever
    its stamp, and a phone whose clock runs fast stamps its entries up to FUTURE_TOLERANCE
    ahead (a high-risk screen from a phone 3 minutes fast left Today open for 3 minutes).

    Returns the reasons and the record's state over the span, as the offline gate takes it."""
    found: dict[rules.ReasonCode, rules.Reason] = {}
    moments = (at + FUTURE_TOLERANCE, at)
    later, at_time = judged = safety.states(session, patient_id, moments)
    for moment, state in zip(moments, judged, strict=True):
        for reason in rules.safety_hold_reasons(policy, state, moment):
            found[reason.code] = reason
    span = rules.SafetyState(
        review_pending=later.review_pending or at_time.review_pending,
        last_emergency_at=later.last_emergency_at,  # the latest by the later moment
        # The later moment's two weeks for an unanswered screener end 10 minutes sooner.
        screener_pending=later.screener_pending or at_time.screener_pending)
    return list(found.values()), span


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
    # Every field's problem at once, each beside its field (not the time's, then the amount's).
    errors: dict[str, str] = {}
    for value, field in ((taken_at, "taken_at"), (recorded_at, "recorded_at")):
        try:
            check_time(value, now, field=field)
        except Invalid as err:
            errors.update(err.errors)
    if not errors and recorded_at < taken_at - FUTURE_TOLERANCE:
        # The phone's own times contradict each other; "logged late" is judged from them.
        errors["recorded_at"] = _("This entry says it was written down before the dose was "
                                  "taken. Check the phone's date and time.")
    problem = rules.validate_dose_amount(dose.dose_mg, version.strength_mg,
                                         version.halving_allowed)
    if problem:
        errors["dose_mg"] = protocols.dose_amount_message(problem, version.strength_mg)
    if errors:
        raise Invalid(" ".join(errors.values()), errors=errors)
    gate_id, no_gate_reason = dose.gate_id, dose.no_gate_reason
    if gate_id and dose.already_taken and _taken_before_check(session, patient, gate_id,
                                                              taken_at):
        # Recorded from a check that held, but taken before that check was made: the check
        # never preceded it, so the dose is one without a check, in the patient's words. It
        # was refused as "That safety check is too old for this dose. Check again", which no
        # check could mend (a tester, held at 10:28 PM, recording a dose taken at 8:30 PM).
        gate_id, no_gate_reason = None, no_gate_reason or dose.override_reason
        if not no_gate_reason:
            raise Invalid(_("Write what happened, and why: it is recorded with the dose."),
                          field="override_reason")
    gate = _usable_gate(session, patient, gate_id, taken_at, version) if gate_id else None
    if gate is None and not no_gate_reason:
        raise Invalid(_("Say why there was no safety check before this dose."),
                      field="no_gate_reason")

    policy = protocols.policy(version)
    # One read of the doses around it: the rolling limits' history (8 days either side),
    # below, the extra-dose check (3 days either side), and the doses as first recorded (a
    # second read, of revisions, only when a dose in reach was struck or corrected).
    around, as_first_recorded = past_doses_as_recorded(
        session, patient.id, start=taken_at - timedelta(days=8), end=taken_at + timedelta(days=8))
    found = [
        *record_holds(session, policy, patient.id, taken_at)[0],
        *rules.dose_limit_reasons(policy, around, taken_at, dose.dose_mg),
    ]
    held = reasons.stored(found)
    newer = _newer_check(session, patient.id, gate, taken_at,
                         taken_at if dose.already_taken else max(taken_at, recorded_at),
                         gate_valid_for(version))
    # Of a newer check, its readings' and checklist's holds: the record's (an emergency's
    # lockout, a pending review) are judged above at the dose's own time.
    newer_holds = [r for r in newer.reasons if r["code"] in READING_CODES] if newer else []
    for recorded in [*(gate.reasons if gate else []), *newer_holds]:
        # The gate's own reasons (its readings, checklist) stand as it recorded them, and a
        # newer check's hold is a hold on this dose too; their interval and maxima were judged
        # for the prescribed amount at the check's time, and this dose's own judgement above
        # replaces them (50 mg taken is not "250 mg").
        if recorded["code"] not in {r["code"] for r in held} | DOSE_LIMIT_CODES:
            held.append(recorded)
    codes = [r["code"] for r in held]
    as_reasons = [rules.Reason(rules.ReasonCode(c), {}) for c in codes]
    overridable = rules.may_override_before_dosing(policy, as_reasons)

    flags: list[str] = [] if gate else ["no_gate"]
    same = rules.same_dose_logged(around, taken_at, dose.dose_mg)
    if codes:
        if not dose.override_reason or not (overridable or dose.already_taken):
            raise DoseRefused(reasons.shown(held, patient.timezone), overridable=overridable,
                              already_taken=dose.already_taken,
                              same_as=same_dose_words(same, patient.timezone) if same else None)
        flags += ["override", *codes]
        if not overridable:
            flags.append("against_hold")
    if as_first_recorded is not None and rules.limits_met_only_after_corrections(
            policy, around, as_first_recorded, taken_at, dose.dose_mg):
        # Within the limits only because a dose near it was struck or corrected: the
        # prescriber looks.
        flags.append(CLEARED_BY_CORRECTION)
    if same is not None:
        flags.append(POSSIBLE_DUPLICATE)
    if dose.dose_mg != version.dose_mg:
        flags.append("off_protocol_amount")
    if recorded_at - taken_at > LATE_ENTRY_AFTER:
        flags.append("late_entry")
    span = timedelta(days=3)
    if is_extra(session, version, patient, taken_at,
                [d for d in around if taken_at - span <= d.taken_at < taken_at + span]):
        flags.append("extra")

    row = Dose(
        id=dose_id, patient_id=patient.id, protocol_version_id=version.id,
        gate_id=gate.id if gate else None, taken_at=taken_at, recorded_at=recorded_at,
        received_at=now, dose_mg=dose.dose_mg,
        troches=(dose.dose_mg / version.strength_mg).quantize(Decimal("0.01")),
        route=dose.route.value, hold_minutes=dose.hold_minutes or version.hold_minutes,
        swallowed=dose.swallowed, lot=dose.lot, rx_number=dose.rx_number,
        override_reason=dose.override_reason if codes else None,
        no_gate_reason=None if gate else no_gate_reason, flags=flags,
        already_taken=dose.already_taken,
    )
    session.add(row)
    session.flush()
    if "against_hold" in flags:
        safety.raise_event(session, patient_id=patient.id, kind=safety.DOSE_AGAINST_HOLD,
                           level="high", occurred_at=taken_at, source_id=row.id,
                           details={"codes": codes, "dose_mg": str(row.dose_mg),
                                    "reason": dose.override_reason}, now=now)
    return row
