"""What to remind a person of in the next 36 hours, as values: pure functions, `now` passed in.

reminders.service gathers a person's facts from the database, calls `plan`, and materialises the
result into ReminderOccurrence rows keyed by (user, rule, local time).

Keys and time
-------------
`local_time` is the wall time ("YYYY-MM-DDTHH:MM") in the person's zone of the moment a reminder
is about. Reminders tied to the schedule (sessions, the gate, the overdue follow-up, daily mood,
questionnaires, counts, supply) are wall-time reminders: their key is the scheduled wall time, so
after a timezone change the key stays and only the instant moves (a row already sent for that
wall time is never sent again). Sessions and the mood time use the nominal wall time even in the
spring-forward gap, where they fire at the moved-forward instant (schedule.py's fold=0 rule); the
autumn repeat fires once, the first time. Reminders tied to a dose (the +40 recheck, later
check-ins, the caregiver's escalation) are instants; their rule names the dose.

Which reminders
---------------
Only what is still useful: a session already taken gets no reminder, a check-in already logged
none, a turned-off kind none. `still_needed` in the service checks again just before sending.
Everything planned has `due_at < now + HORIZON` and `send_at >= now`; an item whose due time has
passed is returned only while quiet hours still hold it (so re-planning keeps, rather than
cancels, a reminder waiting for the morning); the service never inserts a new row for a due time
in the past.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from app.checkins.instruments import SLOTS
from app.checkins.service import NEXT_MORNING_AT, last_questionnaire_day
from app.protocols import schedule
from app.protocols.schedule import PhasePlan, SessionState
from app.reminders.kinds import KINDS

__all__ = [
    "COUNT_EVERY",
    "GATE_LEAD",
    "HORIZON",
    "OVERDUE_AFTER",
    "QUIET_HOLD_MAX",
    "RECHECK_AFTER",
    "Desired",
    "DoseFacts",
    "PatientFacts",
    "PersonFacts",
    "SupplyFacts",
    "held_as_too_soon",
    "is_supply_low",
    "overdue_after",
    "plan",
    "send_at_for",
    "wall",
]

HORIZON = timedelta(hours=36)
GATE_LEAD = timedelta(minutes=15)
# The overdue follow-up: an hour after the session, or halfway through the grace period when
# that is shorter. Today calls a session OVERDUE from its time through time + grace (inclusive)
# and MISSED after; a reminder at the very end of the grace period would arrive as the session
# stops being takeable, so a short grace gets its follow-up at its middle, leaving the patient
# half of it to act. With no grace at all a session is never overdue and gets no follow-up.
OVERDUE_AFTER = timedelta(minutes=60)
RECHECK_AFTER = timedelta(minutes=SLOTS["plus40"].offset_minutes or 40)
# A count is asked for when the last one is this old on the weekly count day.
COUNT_EVERY = timedelta(days=6)
# Quiet hours hold a reminder at most a day; items due this long ago may still be waiting.
QUIET_HOLD_MAX = timedelta(hours=24)
INSTRUMENTS = ("phq9", "gad7")
LATER_SLOTS = ("end", "next_morning")


class Preferences(Protocol):
    """What the planner reads of ReminderPreferences (the model itself fits)."""

    quiet_start: time | None
    quiet_end: time | None
    disabled_kinds: list[str]


@dataclass(frozen=True)
class DoseFacts:
    id: UUID
    taken_at: datetime  # aware
    slots_done: frozenset[str] = frozenset()  # check-in slots already logged for this dose
    # The observation time of the plan it was taken under: its end of session is due then.
    observation: timedelta | None = None


@dataclass(frozen=True)
class SupplyFacts:
    balance: Decimal  # troches on hand by the record (negative: a fill not recorded)
    troches_per_week: Decimal  # at the current schedule
    early_refill_days: int  # the prescriber's refill window
    last_count_at: datetime | None


@dataclass(frozen=True)
class PatientFacts:
    """One patient's record as the planner needs it. `plans` is empty without a protocol."""

    patient_id: UUID
    timezone: str
    has_protocol: bool = False
    plans: tuple[PhasePlan, ...] = ()
    grace: timedelta = timedelta(0)
    due_window: timedelta = timedelta(hours=2)
    doses: tuple[DoseFacts, ...] = ()  # recorded doses of the last few days
    # The protocol versions in force over those days, oldest first: sessions are judged by the
    # version in force when due, as Today judges them (empty: `plans` and `grace` alone).
    in_force: tuple[schedule.InForce, ...] = ()
    gate_checks: tuple[datetime, ...] = ()  # pre-dose safety checks of the last few days
    # The protocol's minimum interval and the last recorded dose however long ago (`doses`
    # holds only the last few days): a session too soon after it is held, not reminded of.
    min_interval: timedelta | None = None
    last_dose_at: datetime | None = None
    mood_time: time = time(20, 0)
    questionnaire_weekday: int = 0
    questionnaire_every_weeks: int = 1
    daily_checkins: tuple[datetime, ...] = ()  # daily mood check-ins of the last few days
    questionnaires: tuple[tuple[str, datetime], ...] = ()  # (instrument, completed_at)
    supply: SupplyFacts | None = None
    shares_alerts: bool = True  # the patient lets safety alerts reach their caregiver
    # How long a missed dose or +40 minute check-in waits before the caregivers are told (the
    # patient's or prescriber's choice); None: the person's default escalation.
    caregiver_delay: timedelta | None = None


@dataclass(frozen=True)
class PersonFacts:
    """The person to remind: their own record (patients), or the patients whose alerts they
    accepted (caregivers: an active link with receives_alerts)."""

    user_id: UUID
    role: str
    timezone: str
    prefs: Preferences
    patient: PatientFacts | None = None
    supported: tuple[PatientFacts, ...] = ()
    escalation: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class Desired:
    kind: str
    rule: str
    local_time: str  # "YYYY-MM-DDTHH:MM", wall time in the person's zone
    due_at: datetime  # UTC
    send_at: datetime  # UTC, due_at moved by quiet hours
    url: str
    patient_id: UUID | None = None
    subject_id: UUID | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.local_time


# --- time helpers ---------------------------------------------------------------------------


def wall(value: datetime | date, at: time | None = None, tz: ZoneInfo | None = None) -> str:
    """ISO minutes of a wall time: wall(day, at) for a nominal time, or wall(instant, tz=tz)."""
    if at is not None:
        return f"{value.isoformat()}T{at.hour:02d}:{at.minute:02d}"
    assert isinstance(value, datetime) and tz is not None
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    # fold=0, as schedule.py: a gap time fires at the moved-forward instant, a repeat once.
    return datetime.combine(day, at.replace(fold=0, tzinfo=None), tzinfo=tz).astimezone(UTC)


def _days(start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[date]:
    """Every local date touching [start, end], with a day of slack each side."""
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        yield day
        day += timedelta(days=1)


def send_at_for(prefs: Preferences | None, kind: str, due_at: datetime, tz: ZoneInfo) -> datetime:
    """When to send a reminder due at `due_at`: the end of the person's quiet hours when due_at
    falls inside [quiet_start, quiet_end) in their zone (the window may cross midnight), else
    due_at. Kinds that ignore quiet hours (a session the patient scheduled, alerts) are never
    held. The end is a local wall time resolved with fold=0, like sessions, so an end in the
    spring gap is the moved-forward instant."""
    spec = KINDS.get(kind)
    if prefs is None or (spec is not None and spec.ignores_quiet_hours):
        return due_at
    start, end = prefs.quiet_start, prefs.quiet_end
    if start is None or end is None or start == end:
        return due_at
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    local = due_at.astimezone(tz)
    clock = local.time().replace(tzinfo=None, fold=0)
    if start < end:
        if not start <= clock < end:
            return due_at
        end_day = local.date()
    elif clock >= start:
        end_day = local.date() + timedelta(days=1)  # across midnight, held to tomorrow's end
    elif clock < end:
        end_day = local.date()
    else:
        return due_at
    # max(): an end that resolves before due_at (an autumn repeat inside the window) holds
    # nothing rather than sending early.
    return max(_instant(end_day, end, tz), due_at)


def overdue_after(grace: timedelta) -> timedelta | None:
    """How long after a missed session's time the follow-up goes (None: no follow-up)."""
    if grace <= timedelta(0):
        return None
    return min(OVERDUE_AFTER, grace / 2)


def is_supply_low(supply: SupplyFacts) -> bool:
    """Troches run out within the refill window, or the record is negative (a fill not
    recorded). The window test mirrors ledger.record_fill's early-refill flag (more than
    early_refill_days of supply is early), so "low" is exactly "a refill would be on time"."""
    if supply.balance < 0:
        return True
    if supply.troches_per_week <= 0:
        return False  # no sessions ahead (a gap in the schedule): nothing runs out
    return supply.balance / supply.troches_per_week * 7 <= supply.early_refill_days


# --- the plan -------------------------------------------------------------------------------


class _Builder:
    """Collects items for one person, applying turned-off kinds, quiet hours and the window."""

    def __init__(self, person: PersonFacts, now: datetime) -> None:
        self.person = person
        self.now = now
        self.tz = ZoneInfo(person.timezone)
        self.disabled = {
            k for k in (person.prefs.disabled_kinds or ()) if k in KINDS and KINDS[k].can_turn_off
        }
        self.items: dict[tuple[str, str], Desired] = {}

    def wants(self, kind: str) -> bool:
        return self.person.role in KINDS[kind].roles and kind not in self.disabled

    def add(self, kind: str, rule: str, due_at: datetime, url: str, *,
            local_time: str | None = None, patient_id: UUID | None = None,
            subject_id: UUID | None = None, latest_send: datetime | None = None) -> None:
        """Add unless out of the window; `latest_send`: drop it if quiet hours would hold it
        past that moment (it would arrive when it no longer helps)."""
        if not self.wants(kind):
            return
        due_at = due_at.astimezone(UTC)
        if due_at >= self.now + HORIZON or due_at < self.now - QUIET_HOLD_MAX:
            return
        send_at = send_at_for(self.person.prefs, kind, due_at, self.tz)
        if send_at < self.now:
            return  # its moment has passed (and quiet hours do not hold it any more)
        if latest_send is not None and send_at > latest_send:
            return
        item = Desired(kind=kind, rule=rule,
                       local_time=local_time or wall(due_at, tz=self.tz), due_at=due_at,
                       send_at=send_at, url=url, patient_id=patient_id, subject_id=subject_id)
        # Keys are unique by construction; keep the first if a DST repeat ever made two equal.
        self.items.setdefault(item.key, item)


def _plan_on(plans: Sequence[PhasePlan], day: date) -> PhasePlan | None:
    """The plan in effect on `day` (the latest that started by then), for its wall time."""
    found = None
    for plan_ in sorted(plans, key=lambda p: p.starts_on):
        if plan_.starts_on <= day:
            found = plan_
    return found


def _sessions(patient: PatientFacts, now: datetime, ahead: timedelta,
              after: timedelta = timedelta(0)) -> list[schedule.SessionStatus]:
    """The patient's sessions from far enough back to now + ahead, classified against their
    recorded doses as Today classifies them. `after`: the longest a reminder follows its
    session (a follow-up, an escalation), so sessions whose reminder is still to come are in."""
    if not patient.has_protocol or not patient.plans:
        return []
    tz = ZoneInfo(patient.timezone)
    # The due window and a day of slack so doses near the start match the sessions they
    # match in Today's wider view (the greedy nearest-session rule looks both ways).
    back = max(after, patient.grace) + patient.due_window + QUIET_HOLD_MAX + timedelta(days=1)
    taken = [d.taken_at for d in patient.doses]
    if patient.in_force:
        # No reminder to take a second dose on a day whose session a dose took before the
        # prescriber moved its time (schedule.occurrences_in_force).
        occs = schedule.occurrences_in_force(patient.in_force, tz, now - back, now + ahead,
                                             doses=taken, due_window=patient.due_window)
    else:
        occs = schedule.occurrences(patient.plans, tz, now - back, now + ahead)
    return schedule.classify_sessions(occs, taken, now, grace=patient.grace,
                                      due_window=patient.due_window)


def _gate_done(patient: PatientFacts, at: datetime) -> bool:
    # A safety check once the session's due window opened is the gate for that session.
    return any(at - patient.due_window <= check <= at for check in patient.gate_checks)


def held_as_too_soon(last_dose_at: datetime | None, moment: datetime, now: datetime,
                     min_interval: timedelta | None) -> bool:
    """Whether a dose at `moment`, or now if that is later, would be held as too soon after
    the last recorded dose (strictly closer than the minimum interval, as the gate's rule):
    a reminder to take it, or a caregiver's "not logged in time", would ask for a dose the
    safety check refuses. Today warns of such a session instead (next_too_soon)."""
    if last_dose_at is None or min_interval is None:
        return False
    ref = max(moment, now)
    return last_dose_at <= ref and ref - last_dose_at < min_interval


def _too_soon(p: PatientFacts, moment: datetime, now: datetime) -> bool:
    ref = max(moment, now)
    before = [d.taken_at for d in p.doses if d.taken_at <= ref]
    if p.last_dose_at is not None and p.last_dose_at <= ref:
        before.append(p.last_dose_at)
    return held_as_too_soon(max(before, default=None), moment, now, p.min_interval)


def _patient_items(b: _Builder, p: PatientFacts) -> None:
    tz = b.tz
    now = b.now
    pid = p.patient_id
    for status in _sessions(p, now, HORIZON + GATE_LEAD):
        if status.state is SessionState.TAKEN:
            continue  # the dose is logged: nothing to remind of
        at = status.occurrence.scheduled_at
        plan_ = _plan_on(p.plans, status.occurrence.local_date)
        nominal = wall(status.occurrence.local_date, plan_.at) if plan_ else None
        if at >= now and not _too_soon(p, at, now):
            b.add("session", "session", at, "/today", local_time=nominal, patient_id=pid)
            if not _gate_done(p, at):
                # A gate held by quiet hours past the session itself is noise: the session's
                # own reminder (never held) has already said it.
                b.add("gate", "gate", at - GATE_LEAD, "/today", patient_id=pid,
                      latest_send=at)
        follow = overdue_after(p.grace)
        if follow is not None and not _too_soon(p, at + follow, now):
            b.add("overdue", "overdue", at + follow, "/today", patient_id=pid,
                  latest_send=at + p.grace)

    for dose in p.doses:
        if "plus40" not in dose.slots_done:
            window = timedelta(minutes=SLOTS["plus40"].window_minutes)
            b.add("recheck", f"recheck:{dose.id}", dose.taken_at + RECHECK_AFTER,
                  f"/checkins/plus40?dose={dose.id}", patient_id=pid, subject_id=dose.id,
                  latest_send=dose.taken_at + RECHECK_AFTER + window)
        for slot_key in LATER_SLOTS:
            if slot_key in dose.slots_done:
                continue
            due = slot_due(slot_key, dose.taken_at, tz, dose.observation)
            # A check-in held by quiet hours beyond its window would be missed on arrival.
            b.add("checkin", f"checkin:{slot_key}:{dose.id}", due,
                  f"/checkins/{slot_key}?dose={dose.id}", patient_id=pid, subject_id=dose.id,
                  latest_send=due + timedelta(minutes=SLOTS[slot_key].window_minutes))

    for day in _days(now - QUIET_HOLD_MAX, now + HORIZON, tz):
        at = _instant(day, p.mood_time, tz)
        nominal = wall(day, p.mood_time)
        day_start = _instant(day, time(0), tz)
        if not any(c >= day_start for c in p.daily_checkins):
            b.add("mood", "mood", at, "/checkins/daily", local_time=nominal, patient_id=pid)
        weekly = day.weekday() == p.questionnaire_weekday
        if weekly and last_questionnaire_day(day, p.questionnaire_weekday,
                                             p.questionnaire_every_weeks) == day:
            answered = {i for i, t in p.questionnaires if t >= day_start}
            if not answered.issuperset(INSTRUMENTS):
                b.add("questionnaire", "questionnaire", at, "/checkins", local_time=nominal,
                      patient_id=pid)
        if p.supply is None:
            continue
        # The weekly count goes on the questionnaire weekday (every week, whatever the
        # questionnaire cadence), at the mood time, when the last count is 6 days old by then.
        last = p.supply.last_count_at
        if weekly and (last is None or last <= at - COUNT_EVERY):
            b.add("count", "count", at, "/supply", local_time=nominal, patient_id=pid)
        if is_supply_low(p.supply):
            b.add("supply", "supply", at, "/supply", local_time=nominal, patient_id=pid)


def slot_due(slot_key: str, taken_at: datetime, tz: ZoneInfo,
             observation: timedelta | None = None) -> datetime:
    """When a dose's check-in slot is due, as checkins.service.due_checkins says: the end of
    session when the dose's plan's observation time is over (`observation`, else 2 hours)."""
    slot = SLOTS[slot_key]
    if slot_key == "end" and observation is not None:
        return (taken_at + observation).astimezone(UTC)
    if slot.offset_minutes is not None:
        return (taken_at + timedelta(minutes=slot.offset_minutes)).astimezone(UTC)
    day = taken_at.astimezone(tz).date() + timedelta(days=1)
    return _instant(day, NEXT_MORNING_AT, tz)


def _caregiver_items(b: _Builder, p: PatientFacts) -> None:
    if not p.shares_alerts:
        return  # the patient's consent decides, whatever the caregiver accepted
    pid = p.patient_id
    delay = p.caregiver_delay or b.person.escalation
    for status in _sessions(p, b.now, HORIZON, delay):
        if status.state is SessionState.TAKEN:
            continue
        if _too_soon(p, status.occurrence.scheduled_at + delay, b.now):
            continue  # the check would hold it: not taking it is no missed dose
        b.add("caregiver_missed", f"caregiver_missed:{pid}:session",
              status.occurrence.scheduled_at + delay, "/supporting", patient_id=pid)
    for dose in p.doses:
        if "plus40" in dose.slots_done:
            continue
        b.add("caregiver_missed", f"caregiver_missed:{pid}:recheck:{dose.id}",
              dose.taken_at + RECHECK_AFTER + delay, "/supporting", patient_id=pid,
              subject_id=dose.id)


def plan(person: PersonFacts, now: datetime) -> list[Desired]:
    """The reminders `person` should have from `now` to `now + HORIZON`, sorted by send time."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    b = _Builder(person, now)
    if person.role == "patient" and person.patient is not None:
        _patient_items(b, person.patient)
    if person.role == "caregiver":
        for patient in person.supported:
            _caregiver_items(b, patient)
    return sorted(b.items.values(), key=lambda d: (d.send_at, d.rule, d.local_time))


def keys(items: Iterable[Desired]) -> set[tuple[str, str]]:
    return {item.key for item in items}

