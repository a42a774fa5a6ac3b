"""Reminder settings, planning ahead into occurrences, and the last check before one is sent.

`plan` gathers a person's facts, asks the pure planner (reminders.planner) what they should be
reminded of in the next 36 hours, and materialises that into ReminderOccurrence rows keyed by
(user, rule, local time): new rows are inserted with ON CONFLICT DO NOTHING (two dispatchers
planning one person at once add each row once and fail nowhere), pending rows follow the plan
(a protocol, timezone or quiet-hours change moves their instant), cancelled rows the plan has
again come back, and pending rows the plan dropped are cancelled. Rows already dispatched,
skipped or found without a device are history and never change. Every write to an existing
row is conditional on its status, so a dispatcher claiming a row at the same moment wins
cleanly. Alerts (app.alerts) and snoozes live in the same table but are not the planner's:
it leaves them alone.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.accounts.models import Role, User
from app.careteam import access
from app.careteam.models import CareLink, Relation
from app.checkins import service as checkins_service
from app.checkins.models import CheckIn, CheckinSettings, QuestionnaireResponse
from app.checkins.service import caregiver_alert_delay
from app.doses import ledger
from app.doses.models import Dose, DoseStatus, GateCheck, LedgerEntry, LedgerKind
from app.doses.service import DUE_WINDOW, FUTURE_TOLERANCE
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols import versions as protocol_versions
from app.protocols.models import ProtocolVersion
from app.push.texts import MESSAGES
from app.reminders import planner
from app.reminders.kinds import KINDS
from app.reminders.models import OccurrenceStatus, ReminderOccurrence, ReminderPreferences
from app.reminders.planner import (
    COUNT_EVERY,
    GATE_LEAD,
    QUIET_HOLD_MAX,
    Desired,
    DoseFacts,
    PatientFacts,
    PersonFacts,
    SupplyFacts,
    send_at_for,
)
from app.web.formats import format_datetime, full_stop, parse_time

__all__ = [
    "SNOOZE_CHOICES",
    "PlanResult",
    "plan",
    "plan_all",
    "preferences",
    "send_at_for",
    "snooze",
    "still_needed",
    "update_preferences",
]

SNOOZE_CHOICES = (15, 30, 60)
SNOOZE_PREFIX = "snooze:"
# Kinds the planner owns. Alerts are raised by app.alerts, tests by the dispatcher: planning
# never cancels or moves them.
PLANNED_KINDS = frozenset(k for k in KINDS if k not in ("alert", "test"))
NOT_SNOOZABLE = frozenset({"alert", "test"})
# Recent history the facts need: doses and check-ins whose reminders (a next-morning check-in,
# held by quiet hours) may still be ahead.
RECENT = timedelta(days=3)
# Rows whose key the plan may name: due up to a quiet-hours hold ago, moved by up to a day by
# a timezone change (UTC-12 to UTC+14), with slack.
EXISTING_WINDOW = QUIET_HOLD_MAX + timedelta(days=2)
USERS_PER_BATCH = 200
INSERT_BATCH = 500
# Fields a re-plan may change on a pending row (the key, user and status are not among them).
PLANNED_FIELDS = ("kind", "due_at", "send_at", "url", "patient_id", "subject_id")


@dataclass
class PlanResult:
    planned: int = 0  # items the plan wants (including rows that already exist)
    inserted: int = 0
    updated: int = 0  # pending rows moved or changed
    revived: int = 0  # cancelled rows the plan has again
    cancelled: int = 0  # pending rows the plan no longer has

    def add(self, other: "PlanResult") -> None:
        for name in ("planned", "inserted", "updated", "revived", "cancelled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- preferences ----------------------------------------------------------------------------


def preferences(session: Session, user: User) -> ReminderPreferences:
    """The person's settings, or unsaved defaults (nothing quiet, nothing off, 15-minute snooze)."""
    return session.get(ReminderPreferences, user.id) or ReminderPreferences(user_id=user.id)


def _not_a_time() -> str:
    return full_stop(_("Enter a time like %(example)s",
                       example=format_datetime(time(22, 0), "time")))


def _clock(value: time | str | None, field: str, errors: dict[str, str]) -> time | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = parse_time(value)
        except ValueError:
            errors[field] = _not_a_time()
            return None
    if not isinstance(value, time):
        errors[field] = _not_a_time()
        return None
    return value.replace(second=0, microsecond=0, tzinfo=None, fold=0)


def update_preferences(
    session: Session, *, user: User, quiet_start: time | str | None, quiet_end: time | str | None,
    disabled_kinds: Iterable[str], snooze_minutes: int | str, message: str,
) -> ReminderPreferences:
    """Save the person's reminder settings; Invalid (naming each field) writes nothing."""
    errors: dict[str, str] = {}
    start = _clock(quiet_start, "quiet_start", errors)
    end = _clock(quiet_end, "quiet_end", errors)
    if not errors:
        if (start is None) != (end is None):
            missing = "quiet_end" if end is None else "quiet_start"
            errors[missing] = _("Set both the start and the end of quiet hours, or neither.")
        elif start is not None and start == end:
            errors["quiet_end"] = _("Quiet hours must end at a different time than they start.")
    try:
        snooze_value = int(snooze_minutes)
    except (TypeError, ValueError):
        snooze_value = 0
    if isinstance(snooze_minutes, bool) or snooze_value not in SNOOZE_CHOICES:
        errors["snooze_minutes"] = _("Choose 15, 30 or 60 minutes.")
    if message not in MESSAGES:
        errors["message"] = _("Choose one of the texts offered.")
    off: set[str] = set()
    for key in disabled_kinds:
        kind = KINDS.get(key) if isinstance(key, str) else None
        if kind is None or user.role not in kind.roles or not kind.can_turn_off:
            errors["disabled_kinds"] = _("That reminder cannot be turned off.")
            break
        off.add(key)
    if errors:
        if len(errors) == 1:
            (field, text), = errors.items()
            raise Invalid(text, field=field)
        raise Invalid(errors=errors)
    prefs = preferences(session, user)
    prefs.quiet_start, prefs.quiet_end = start, end
    prefs.disabled_kinds = [k for k in KINDS if k in off]  # a stable order
    prefs.snooze_minutes = snooze_value
    prefs.message = message
    session.add(prefs)
    session.flush()
    return prefs


# --- facts ----------------------------------------------------------------------------------


def _escalation(patient_settings: CheckinSettings | None = None) -> timedelta:
    """How long a missed dose or +40 minute check-in waits before the caregivers are told: the
    patient's own choice, else the clinic's default."""
    return caregiver_alert_delay(patient_settings)


def _grace(version: ProtocolVersion) -> timedelta:
    return timedelta(hours=float(version.grace_hours))


def _current_versions(session: Session, patient_ids: Sequence[uuid.UUID]
                      ) -> dict[uuid.UUID, ProtocolVersion]:
    latest = (
        select(ProtocolVersion.patient_id, func.max(ProtocolVersion.version).label("v"))
        .where(col(ProtocolVersion.patient_id).in_(patient_ids))
        .group_by(ProtocolVersion.patient_id)
        .subquery()
    )
    rows = session.exec(
        select(ProtocolVersion).join(
            latest,
            (ProtocolVersion.patient_id == latest.c.patient_id)  # type: ignore[arg-type]
            & (ProtocolVersion.version == latest.c.v),
        )
    ).all()
    return {v.patient_id: v for v in rows}


def _dose_troches_since_count(session: Session, patient_ids: Sequence[uuid.UUID],
                              now: datetime) -> dict[uuid.UUID, Decimal]:
    """Troches of recorded doses after each patient's last count up to now, in one query: the
    dose side of ledger.expected_balance for many patients at once."""
    last_count = (
        select(func.max(LedgerEntry.occurred_at))
        .where(LedgerEntry.patient_id == Dose.patient_id, LedgerEntry.kind == LedgerKind.COUNT,
               col(LedgerEntry.occurred_at) <= now)
        .correlate(Dose)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Dose.patient_id, func.sum(Dose.troches))
        .where(col(Dose.patient_id).in_(patient_ids), Dose.status == DoseStatus.RECORDED,
               col(Dose.taken_at) < now, or_(last_count.is_(None), Dose.taken_at > last_count))
        .group_by(Dose.patient_id)
    ).all()
    return {pid: Decimal(total or 0) for pid, total in rows}


def _supply(version: ProtocolVersion, tz: str, entries: list[LedgerEntry], taken: Decimal,
            now: datetime) -> SupplyFacts:
    # As ledger.expected_balance: the last count up to now, then fills, minus doses since.
    balance = Decimal(0)
    last_count_at = None
    for entry in entries:
        if entry.occurred_at > now:
            break
        if entry.kind == LedgerKind.COUNT:
            balance, last_count_at = Decimal(entry.count), entry.occurred_at
        else:
            balance += Decimal(entry.count)
    return SupplyFacts(balance=balance - taken,
                       troches_per_week=ledger.troches_per_week(version, tz, now),
                       early_refill_days=version.early_refill_days, last_count_at=last_count_at)


def _patient_facts(session: Session, patients: Sequence[User], now: datetime
                   ) -> dict[uuid.UUID, PatientFacts]:
    """Facts for many patients in a fixed number of queries (no query per patient)."""
    if not patients:
        return {}
    ids = [p.id for p in patients]
    versions = _current_versions(session, ids)
    check_settings = {s.patient_id: s for s in session.exec(
        select(CheckinSettings).where(col(CheckinSettings.patient_id).in_(ids))).all()}
    longest = max([_grace(v) for v in versions.values()] + [_escalation()]
                  + [_escalation(cs) for cs in check_settings.values()])
    dose_since = now - (longest + DUE_WINDOW + QUIET_HOLD_MAX + timedelta(days=2))
    doses = session.exec(
        select(Dose).where(col(Dose.patient_id).in_(ids), Dose.status == DoseStatus.RECORDED,
                           col(Dose.taken_at) >= dose_since,
                           col(Dose.taken_at) < now + FUTURE_TOLERANCE)
        .order_by(col(Dose.taken_at))
    ).all()
    slots: dict[uuid.UUID, set[str]] = defaultdict(set)
    dose_ids = [d.id for d in doses]
    for offset in range(0, len(dose_ids), 500):
        for dose_id, slot in session.execute(
            select(CheckIn.dose_id, CheckIn.slot)
            .where(col(CheckIn.dose_id).in_(dose_ids[offset:offset + 500]))
        ).all():
            slots[dose_id].add(slot)
    # Each dose's plan's observation time (its end of session): one read for the batch.
    observation = checkins_service.observations(session, list(doses))
    doses_by: dict[uuid.UUID, list[DoseFacts]] = defaultdict(list)
    for d in doses:
        doses_by[d.patient_id].append(DoseFacts(d.id, d.taken_at, frozenset(slots[d.id]),
                                                observation.get(d.protocol_version_id)))
    daily: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for pid, at in session.execute(
        select(CheckIn.patient_id, CheckIn.recorded_at)
        .where(col(CheckIn.patient_id).in_(ids), CheckIn.slot == "daily",
               col(CheckIn.recorded_at) >= now - RECENT)
    ).all():
        daily[pid].append(at)
    gates: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for pid, at in session.execute(
        select(GateCheck.patient_id, GateCheck.checked_at)
        .where(col(GateCheck.patient_id).in_(ids), col(GateCheck.checked_at) >= now - RECENT)
    ).all():
        gates[pid].append(at)
    answered: dict[uuid.UUID, list[tuple[str, datetime]]] = defaultdict(list)
    for pid, instrument, at in session.execute(
        select(QuestionnaireResponse.patient_id, QuestionnaireResponse.instrument,
               QuestionnaireResponse.completed_at)
        .where(col(QuestionnaireResponse.patient_id).in_(ids),
               col(QuestionnaireResponse.instrument).in_(planner.INSTRUMENTS),
               col(QuestionnaireResponse.completed_at) >= now - RECENT - timedelta(days=7))
    ).all():
        answered[pid].append((instrument, at))
    with_protocol = [pid for pid in ids if pid in versions]
    history = protocol_versions.overlapping(session, with_protocol, dose_since, now)
    last_dose = dict(session.execute(
        select(Dose.patient_id, func.max(Dose.taken_at))
        .where(col(Dose.patient_id).in_(with_protocol), Dose.status == DoseStatus.RECORDED,
               col(Dose.taken_at) < now + FUTURE_TOLERANCE)
        .group_by(col(Dose.patient_id))).all()) if with_protocol else {}
    entries: dict[uuid.UUID, list[LedgerEntry]] = defaultdict(list)
    taken: dict[uuid.UUID, Decimal] = {}
    if with_protocol:
        for entry in session.exec(
            select(LedgerEntry).where(col(LedgerEntry.patient_id).in_(with_protocol))
            .order_by(col(LedgerEntry.occurred_at))
        ).all():
            entries[entry.patient_id].append(entry)
        taken = _dose_troches_since_count(session, with_protocol, now)

    facts = {}
    for patient in patients:
        version = versions.get(patient.id)
        cs = check_settings.get(patient.id) or CheckinSettings(patient_id=patient.id)
        facts[patient.id] = PatientFacts(
            patient_id=patient.id,
            timezone=patient.timezone,
            has_protocol=version is not None,
            plans=tuple(protocols.plans(version)) if version else (),
            grace=_grace(version) if version else timedelta(0),
            in_force=tuple(protocol_versions.in_force(history.get(patient.id, []))),
            due_window=DUE_WINDOW,
            doses=tuple(doses_by[patient.id]),
            gate_checks=tuple(gates[patient.id]),
            min_interval=protocols.min_interval(version) if version else None,
            last_dose_at=last_dose.get(patient.id),
            mood_time=cs.mood_time,
            questionnaire_weekday=cs.questionnaire_weekday,
            questionnaire_every_weeks=cs.questionnaire_every_weeks,
            daily_checkins=tuple(daily[patient.id]),
            questionnaires=tuple(answered[patient.id]),
            supply=_supply(version, patient.timezone, entries[patient.id],
                           taken.get(patient.id, Decimal(0)), now) if version else None,
            shares_alerts=cs.share_alerts_with_caregiver,
            caregiver_delay=_escalation(cs),
        )
    return facts


def _gather(session: Session, users: Sequence[User], now: datetime) -> dict[uuid.UUID, PersonFacts]:
    """Each person's facts, for a batch of people, with a fixed number of queries."""
    ids = [u.id for u in users]
    if not ids:
        return {}
    prefs = {p.user_id: p for p in session.exec(
        select(ReminderPreferences).where(col(ReminderPreferences.user_id).in_(ids))).all()}
    caregiver_ids = [u.id for u in users if u.role == Role.CAREGIVER and u.is_active]
    accepted: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if caregiver_ids:
        links = session.exec(
            select(CareLink).where(
                col(CareLink.member_id).in_(caregiver_ids),
                CareLink.relation == Relation.CAREGIVER,
                col(CareLink.revoked_at).is_(None),
                col(CareLink.receives_alerts).is_(True),
            )
        ).all()
        linked = {u.id: u for u in session.exec(select(User).where(
            col(User.id).in_({link.patient_id for link in links}))).all()}
        for link in links:
            # A link past its end date (the patient's day) no longer escalates to them.
            patient = linked.get(link.patient_id)
            if patient is not None and access.link_is_active(link, patient, now):
                accepted[link.member_id].append(link.patient_id)
    patients = {u.id: u for u in users if u.role == Role.PATIENT and u.is_active}
    others = {pid for pids in accepted.values() for pid in pids} - patients.keys()
    if others:
        for u in session.exec(select(User).where(col(User.id).in_(others))).all():
            patients[u.id] = u
    patients = {pid: u for pid, u in patients.items()
                if u.is_active and u.role == Role.PATIENT}
    patient_facts = _patient_facts(session, list(patients.values()), now)
    escalation = _escalation()
    result = {}
    for user in users:
        result[user.id] = PersonFacts(
            user_id=user.id,
            role=str(user.role),  # Role is a StrEnum: "patient", "caregiver"
            timezone=user.timezone,
            prefs=prefs.get(user.id) or ReminderPreferences(user_id=user.id),
            patient=patient_facts.get(user.id) if user.is_active else None,
            supported=tuple(patient_facts[pid] for pid in sorted(accepted[user.id])
                            if pid in patient_facts),
            escalation=escalation,
        )
    return result


def _desired(person: PersonFacts | None, user: User, now: datetime) -> list[Desired]:
    if person is None or not user.is_active:
        return []  # nothing for a deactivated account: its pending rows are cancelled
    return planner.plan(person, now)


# --- materialising --------------------------------------------------------------------------


def _existing(session: Session, user_ids: Sequence[uuid.UUID], now: datetime
              ) -> dict[uuid.UUID, list[ReminderOccurrence]]:
    """The planner's rows of these people that a plan at `now` may name or cancel."""
    rows = session.exec(
        select(ReminderOccurrence).where(
            col(ReminderOccurrence.user_id).in_(user_ids),
            col(ReminderOccurrence.kind).in_(PLANNED_KINDS),
            ~col(ReminderOccurrence.rule).startswith(SNOOZE_PREFIX, autoescape=True),
            or_(col(ReminderOccurrence.due_at) >= now - EXISTING_WINDOW,
                col(ReminderOccurrence.send_at) > now),
        )
    ).all()
    by_user: dict[uuid.UUID, list[ReminderOccurrence]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    return by_user


def _set_if(session: Session, row_id: uuid.UUID, status: str, values: dict) -> int:
    """Update one row only while it still has `status` (a dispatcher may have claimed it)."""
    result = session.execute(
        update(ReminderOccurrence)
        .where(col(ReminderOccurrence.id) == row_id, col(ReminderOccurrence.status) == status)
        .values(**values)
    )
    return result.rowcount or 0


def _insert_ignoring_conflicts(session: Session, rows: list[dict]) -> int:
    """INSERT ... ON CONFLICT (user, rule, local time) DO NOTHING: a row another planner added
    a moment ago stays as it is, and this one neither fails nor duplicates it."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ReminderOccurrence.__table__  # type: ignore[attr-defined]
    inserted = 0
    for offset in range(0, len(rows), INSERT_BATCH):
        stmt = insert(table).values(rows[offset:offset + INSERT_BATCH]).on_conflict_do_nothing(
            index_elements=["user_id", "rule", "local_time"]).returning(table.c.id)
        # RETURNING counts what was inserted: a driver's rowcount may be -1 for many rows.
        inserted += len(session.execute(stmt).all())
    return inserted


def _new_row(user_id: uuid.UUID, item: Desired, now: datetime) -> dict:
    return {
        "id": uuid.uuid4(), "user_id": user_id, "patient_id": item.patient_id,
        "kind": item.kind, "rule": item.rule, "local_time": item.local_time,
        "due_at": item.due_at, "send_at": item.send_at, "url": item.url,
        "subject_id": item.subject_id, "status": OccurrenceStatus.PENDING,
        "skip_reason": None, "created_at": now, "dispatched_at": None,
    }


def _reconcile(session: Session, user_id: uuid.UUID, desired: list[Desired],
               existing: list[ReminderOccurrence], now: datetime
               ) -> tuple[PlanResult, list[dict]]:
    """Bring one person's rows in line with the plan; returns the rows still to insert.

    Works in key order, so two planners of the same person lock rows in the same order."""
    result = PlanResult(planned=len(desired))
    by_key = {(row.rule, row.local_time): row for row in existing}
    wanted = {item.key for item in desired}
    new_rows = []
    for item in sorted(desired, key=lambda d: d.key):
        row = by_key.get(item.key)
        if row is None:
            # Never a new row for a moment already past (a held item is kept, not created).
            if item.due_at >= now:
                new_rows.append(_new_row(user_id, item, now))
            continue
        values = {name: getattr(item, name) for name in PLANNED_FIELDS}
        if row.status == OccurrenceStatus.PENDING:
            if any(getattr(row, name) != value for name, value in values.items()):
                result.updated += _set_if(session, row.id, OccurrenceStatus.PENDING, values)
        elif row.status == OccurrenceStatus.CANCELLED and item.send_at > now:
            result.revived += _set_if(session, row.id, OccurrenceStatus.CANCELLED,
                                      {**values, "status": OccurrenceStatus.PENDING,
                                       "skip_reason": None})
        # dispatched, no_device, skipped: history, never touched
    for row in sorted(existing, key=lambda r: (r.rule, r.local_time)):
        if (row.status == OccurrenceStatus.PENDING and row.send_at > now
                and (row.rule, row.local_time) not in wanted):
            result.cancelled += _set_if(session, row.id, OccurrenceStatus.PENDING,
                                        {"status": OccurrenceStatus.CANCELLED})
    return result, new_rows


def _plan_batch(session: Session, users: Sequence[User], now: datetime) -> PlanResult:
    facts = _gather(session, users, now)
    existing = _existing(session, [u.id for u in users], now)
    total = PlanResult()
    new_rows: list[dict] = []
    for user in users:
        result, rows = _reconcile(session, user.id, _desired(facts.get(user.id), user, now),
                                  existing[user.id], now)
        total.add(result)
        new_rows.extend(rows)
    total.inserted += _insert_ignoring_conflicts(session, new_rows)
    session.flush()
    return total


def plan(session: Session, user: User, now: datetime) -> PlanResult:
    """Materialise this person's reminders for the next 36 hours (idempotent)."""
    return _plan_batch(session, [user], now.astimezone(UTC))


def plan_all(session: Session, now: datetime) -> PlanResult:
    """Plan every active patient and caregiver, a batch of people at a time. Deactivated
    people's pending reminders are skipped at send time (still_needed)."""
    now = now.astimezone(UTC)
    total = PlanResult()
    last_id: uuid.UUID | None = None
    while True:
        stmt = select(User).where(
            col(User.is_active).is_(True),
            col(User.role).in_([Role.PATIENT.value, Role.CAREGIVER.value]),
        )
        if last_id is not None:
            stmt = stmt.where(col(User.id) > last_id)
        users = list(session.exec(stmt.order_by(col(User.id)).limit(USERS_PER_BATCH)).all())
        if not users:
            return total
        total.add(_plan_batch(session, users, now))
        last_id = users[-1].id


# --- snooze ---------------------------------------------------------------------------------


def snooze(session: Session, *, user: User, occurrence_id: uuid.UUID,
           now: datetime) -> ReminderOccurrence:
    """Repeat a reminder after the person's snooze length (quiet hours do not hold it: they
    just asked for it). Idempotent per occurrence: snoozing it again returns the same row."""
    original = session.get(ReminderOccurrence, occurrence_id)
    if original is None or original.user_id != user.id:
        raise NotFound()
    if original.kind in NOT_SNOOZABLE:
        raise Invalid(_("This notification cannot be snoozed."), field="id")
    at = now.astimezone(UTC) + timedelta(minutes=preferences(session, user).snooze_minutes)
    rule = f"{SNOOZE_PREFIX}{original.id}"
    _insert_ignoring_conflicts(session, [{
        "id": uuid.uuid4(), "user_id": user.id, "patient_id": original.patient_id,
        "kind": original.kind, "rule": rule, "local_time": original.local_time,
        "due_at": at, "send_at": at, "url": original.url, "subject_id": original.id,
        "status": OccurrenceStatus.PENDING, "skip_reason": None, "created_at": now,
        "dispatched_at": None,
    }])
    return session.exec(
        select(ReminderOccurrence).where(
            ReminderOccurrence.user_id == user.id, ReminderOccurrence.rule == rule,
            ReminderOccurrence.local_time == original.local_time)
    ).one()


# --- still needed? --------------------------------------------------------------------------


def _day_start(local_time: str, tz: ZoneInfo) -> datetime:
    day = date.fromisoformat(local_time[:10])
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _session_of(session: Session, version: ProtocolVersion, patient: User,
                occurrence: ReminderOccurrence, now: datetime,
                follows_by: timedelta) -> schedule.SessionStatus | None:
    """The session an occurrence is about: the latest one scheduled at or before its due time
    plus the gate's lead, and at most `follows_by` (and a day of slack) before it. Sessions are
    a day or more apart, so this is the one it was planned for."""
    tz = ZoneInfo(patient.timezone)
    grace = _grace(version)
    ref = occurrence.due_at + GATE_LEAD
    start = ref - follows_by - timedelta(days=1)
    occs = schedule.occurrences(protocols.plans(version), tz, start, ref + timedelta(seconds=1))
    if not occs:
        return None
    doses = session.exec(
        select(Dose.taken_at).where(
            Dose.patient_id == patient.id, Dose.status == DoseStatus.RECORDED,
            col(Dose.taken_at) >= start - grace - DUE_WINDOW,
            col(Dose.taken_at) < now + FUTURE_TOLERANCE)
    ).all()
    statuses = schedule.classify_sessions(occs, list(doses), now, grace=grace,
                                          due_window=DUE_WINDOW)
    return statuses[-1]


def _too_soon(session: Session, patient: User, version: ProtocolVersion, moment: datetime,
              now: datetime) -> bool:
    """planner.held_as_too_soon against the last dose recorded before `moment` (or now)."""
    last = session.exec(
        select(func.max(Dose.taken_at)).where(
            Dose.patient_id == patient.id, Dose.status == DoseStatus.RECORDED,
            col(Dose.taken_at) <= max(moment, now))).one()
    return planner.held_as_too_soon(last, moment, now, protocols.min_interval(version))


def _slot_logged(session: Session, dose_id: uuid.UUID | None, slot: str) -> str | None:
    dose = session.get(Dose, dose_id) if dose_id else None
    if dose is None or dose.status != DoseStatus.RECORDED:
        return "dose_removed"
    logged = session.exec(
        select(CheckIn.id).where(CheckIn.dose_id == dose.id, CheckIn.slot == slot)).first()
    return "done" if logged is not None else None


def _supply_low(session: Session, patient: User, version: ProtocolVersion,
                now: datetime) -> bool:
    summary_balance = ledger.expected_balance(session, patient.id, now)
    return planner.is_supply_low(SupplyFacts(
        balance=summary_balance,
        troches_per_week=ledger.troches_per_week(version, patient.timezone, now),
        early_refill_days=version.early_refill_days, last_count_at=None))


def _patient_reason(session: Session, patient: User, occ: ReminderOccurrence,
                    now: datetime) -> str | None:
    tz = ZoneInfo(patient.timezone)
    kind = occ.kind
    if kind == "mood":
        logged = session.exec(select(CheckIn.id).where(
            CheckIn.patient_id == patient.id, CheckIn.slot == "daily",
            col(CheckIn.recorded_at) >= _day_start(occ.local_time, tz))).first()
        return "done" if logged is not None else None
    if kind == "questionnaire":
        done = set(session.exec(select(QuestionnaireResponse.instrument).where(
            QuestionnaireResponse.patient_id == patient.id,
            col(QuestionnaireResponse.instrument).in_(planner.INSTRUMENTS),
            col(QuestionnaireResponse.completed_at) >= _day_start(occ.local_time, tz))).all())
        return "done" if done.issuperset(planner.INSTRUMENTS) else None
    if kind == "recheck":
        return _slot_logged(session, occ.subject_id, "plus40")
    if kind == "checkin":
        # rule "checkin:<slot>:<dose id>"
        return _slot_logged(session, occ.subject_id, occ.rule.split(":")[1])
    version = protocols.current(session, patient.id)
    if version is None:
        return "no_protocol"
    if kind == "count":
        counted = session.exec(select(LedgerEntry.id).where(
            LedgerEntry.patient_id == patient.id, LedgerEntry.kind == LedgerKind.COUNT,
            col(LedgerEntry.occurred_at) > occ.due_at - COUNT_EVERY)).first()
        return "done" if counted is not None else None
    if kind == "supply":
        return None if _supply_low(session, patient, version, now) else "resolved"
    # session, gate, overdue
    status = _session_of(session, version, patient, occ, now,
                         planner.overdue_after(_grace(version)) or timedelta(0))
    if status is None:
        return "no_session"
    if status.state is schedule.SessionState.TAKEN:
        return "done"
    at = status.occurrence.scheduled_at
    if kind == "gate" and session.exec(select(GateCheck.id).where(
            GateCheck.patient_id == patient.id,
            col(GateCheck.checked_at) >= at - DUE_WINDOW)).first() is not None:
        return "done"
    if kind == "overdue" and status.state is schedule.SessionState.MISSED:
        return "missed"  # past the grace period: the session can no longer be taken
    # A session or gate reminder asks for the dose at the session's time; the follow-up at
    # its own.
    moment = occ.due_at if kind == "overdue" else at
    return "too_soon" if _too_soon(session, patient, version, moment, now) else None


def _caregiver_reason(session: Session, caregiver: User, occ: ReminderOccurrence,
                      now: datetime) -> str | None:
    patient = session.get(User, occ.patient_id) if occ.patient_id else None
    if patient is None or not patient.is_active:
        return "inactive"
    link = access.caregiver_link(session, caregiver, patient.id, now)
    consent = session.get(CheckinSettings, patient.id) or CheckinSettings(patient_id=patient.id)
    if link is None or not link.receives_alerts or not consent.share_alerts_with_caregiver:
        return "no_consent"
    if occ.subject_id is not None:  # "caregiver_missed:<patient>:recheck:<dose>"
        return _slot_logged(session, occ.subject_id, "plus40")
    version = protocols.current(session, patient.id)
    if version is None:
        return "no_protocol"
    status = _session_of(session, version, patient, occ, now, _escalation(consent))
    if status is None:
        return "no_session"
    if status.state is schedule.SessionState.TAKEN:
        return "done"
    return "too_soon" if _too_soon(session, patient, version, occ.due_at, now) else None


def still_needed(session: Session, occurrence: ReminderOccurrence, now: datetime) -> str | None:
    """Why a due occurrence need not be sent after all (a skip reason), or None to send it.

    "done": the dose, check-in, mood, both questionnaires or the count was logged meanwhile;
    "resolved": supply is fine again; "turned_off": the kind is off now; "no_protocol";
    "no_session": the schedule no longer has that session; "dose_removed": the dose it follows
    was marked entered in error; "missed": an overdue follow-up past the grace period;
    "too_soon": the session's check would hold a dose now as too soon after the last one (a
    session, gate, overdue or caregiver's missed-dose reminder for it asks for a refused dose);
    "no_consent": a caregiver's link, their acceptance or the patient's consent is gone;
    "inactive": the account (or the patient's) is deactivated. Alerts and tests are always
    needed here (alerts check themselves). A snooze is judged as the reminder it repeats."""
    if occurrence.kind not in PLANNED_KINDS:
        return None
    about = occurrence
    if occurrence.rule.startswith(SNOOZE_PREFIX) and occurrence.subject_id is not None:
        about = session.get(ReminderOccurrence, occurrence.subject_id) or occurrence
    user = session.get(User, occurrence.user_id)
    if user is None or not user.is_active:
        return "inactive"
    if about.kind in preferences(session, user).disabled_kinds and KINDS[about.kind].can_turn_off:
        return "turned_off"
    now = now.astimezone(UTC)
    if about.kind == "caregiver_missed":
        return _caregiver_reason(session, user, about, now)
    return _patient_reason(session, user, about, now)
