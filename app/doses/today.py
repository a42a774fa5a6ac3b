"""The patient's Today: the next session, recent ones, the gate to act on, holds from the
record, the extra-dose notice and the supply, gathered for the page and /api/v1/today."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import User
from app.doses import reasons, rules
from app.doses.ledger import LedgerSummary, ledger_summary
from app.doses.models import Dose, GateCheck
from app.doses.service import (
    DUE_WINDOW,
    FUTURE_TOLERANCE,
    POSSIBLE_DUPLICATE,
    active_doses,
    is_extra,
    latest_gate,
    record_holds,
)
from app.protocols import schedule, versions
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion

NEARBY = timedelta(days=3)  # the doses that decide whether a dose now would be extra
RECENT_DOSES = timedelta(days=70)  # how far back Today reads doses (sessions, last dose)
RECENT_SESSIONS = timedelta(days=14)  # the sessions Today lists ("Last two weeks")


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
    # The record's holds as the rules take them (what `holds` was rendered from).
    safety_state: rules.SafetyState | None = None
    # The scheduled session a dose now would push back, when a dose now would be extra (and
    # not held: then dose_now_held says why instead).
    extra_pushes: schedule.Occurrence | None = None
    # What the interval and maxima say of the prescribed dose taken now, rendered: straight
    # after a dose, Today offered the check with "this would be an extra dose" as if it could.
    dose_now_held: list[dict] = field(default_factory=list)
    # The next session is within the minimum interval of the last dose: its check will hold.
    next_too_soon: bool = False
    # The recorded doses read for all this (RECENT_DOSES before now to NEARBY after), in time
    # order: the page's check-ins and the API reuse them instead of reading doses again.
    doses_read: list[Dose] = field(default_factory=list)
    # Doses of the last two weeks that took no session (extra doses), newest first: listed
    # among the sessions, where "Last two weeks" left them out while History had them.
    recent_extra: list[Dose] = field(default_factory=list)

    def recent_entries(self) -> list[tuple[schedule.SessionStatus | None, Dose | None]]:
        """The last two weeks as listed: each session (status, None) and each extra dose
        (None, dose), newest first, a session placed at its dose's time when taken."""
        entries: list[tuple[datetime, schedule.SessionStatus | None, Dose | None]] = [
            (s.dose_at or s.occurrence.scheduled_at, s, None) for s in self.recent]
        entries += [(d.taken_at, None, d) for d in self.recent_extra]
        entries.sort(key=lambda e: e[0], reverse=True)
        return [(s, d) for _, s, d in entries]

    def next_session_window(self) -> tuple[datetime, datetime] | None:
        """When a dose counts for the next session (its due window before to its grace after),
        while it is due or overdue: a dose kept on the phone in it is that session's, and the
        phone says so instead of "Due now" (offline.js doseOnPhone)."""
        s = self.next_session
        if s is None or s.state not in (schedule.SessionState.DUE, schedule.SessionState.OVERDUE):
            return None
        grace = s.occurrence.grace
        if grace is None and self.protocol is not None:
            grace = timedelta(hours=float(self.protocol.grace_hours))
        at = s.occurrence.scheduled_at
        return at - DUE_WINDOW, at + (grace or timedelta(0))

    def taken_against_rules(self, taken_at: datetime | None) -> str | None:
        """How the dose taken at `taken_at` went against the plan's rules, if it did: its
        "against_hold" or "override" flag, for the session list to say so rather than show a
        plain green "Taken" (the record shows what happened). None for any other dose."""
        for dose in self.doses_read:
            if dose.taken_at == taken_at:
                flags = dose.flags or ()
                return next((f for f in ("against_hold", "override") if f in flags), None)
        return None


def extra_dose_pushes(session: Session, patient: User, version: ProtocolVersion,
                      now: datetime, nearby: list[Dose] | None = None
                      ) -> schedule.Occurrence | None:
    """If a dose now would match no scheduled session, the first session it would hold back
    (one due before the minimum interval has passed); else None. `nearby`: the doses from 3
    days before `now` to 3 days after, when the caller has them already."""
    if nearby is None:
        nearby = active_doses(session, patient.id, start=now - NEARBY, end=now + NEARBY)
    if not is_extra(session, version, patient, now, nearby):
        return None
    gap = protocols.min_interval(version)
    upcoming = schedule.occurrences(protocols.plans(version), ZoneInfo(patient.timezone), now,
                                    now + gap)
    # Not a session a dose already took (a dose just before its time matches it): naming the
    # session just covered as the one held back read as if it were still to come.
    for status in schedule.classify_sessions(
            upcoming, [d.taken_at for d in nearby], now,
            grace=timedelta(hours=float(version.grace_hours)), due_window=DUE_WINDOW):
        if status.state is not schedule.SessionState.TAKEN:
            return status.occurrence
    return None


def sessions_between(session: Session, patient: User, start: datetime, end: datetime,
                     now: datetime) -> list[schedule.SessionStatus]:
    """The sessions scheduled from `start` until `end` (never past `now`, but for one a dose
    already took early, as Today lists it), each under the protocol version in force when it
    was due and classified against the recorded doses with that version's grace, as Today
    reads them; [] without a protocol. Doses a little either side count, so an edge session
    matches."""
    until = now + DUE_WINDOW if end >= now else end
    in_force = versions.for_patient(session, patient.id, start, until)
    if not in_force:
        return []
    taken = [d.taken_at for d in active_doses(session, patient.id, start=start - timedelta(days=3),
                                              end=until + timedelta(days=1))]
    occs = schedule.occurrences_in_force(versions.in_force(in_force), ZoneInfo(patient.timezone),
                                         start, until, doses=taken, due_window=DUE_WINDOW)
    # A session due later today that a dose already took counts as taken (its dose is counted
    # beside it); one still ahead and untaken is not counted yet.
    return [s for s in schedule.classify_sessions(occs, taken, now, due_window=DUE_WINDOW)
            if s.occurrence.scheduled_at <= min(end, now)
            or s.state == schedule.SessionState.TAKEN]


def _just_logged(state: Today, now: datetime) -> Dose | None:
    """The dose the server received last, if that was in the last few minutes: what Today's
    "logged" greeting speaks of (read from the record, the address carrying only logged=1)."""
    recent = [d for d in state.doses_read or () if d.received_at >= now - timedelta(minutes=10)]
    return max(recent, key=lambda d: d.received_at, default=None)


def just_logged_against_hold(state: Today, now: datetime) -> bool:
    """The dose just logged was taken against a hold: Today greets it as that, never with the
    green "Dose logged"."""
    latest = _just_logged(state, now)
    return latest is not None and "against_hold" in (latest.flags or ())


def just_logged_same_as(state: Today, now: datetime) -> Dose | None:
    """The dose already in the log that the one just logged looks like a second entry of (it
    was flagged so when recorded), for Today to say which, and how to strike one."""
    latest = _just_logged(state, now)
    if latest is None or POSSIBLE_DUPLICATE not in (latest.flags or ()):
        return None
    return rules.same_dose_logged([d for d in state.doses_read if d.id != latest.id],
                                  latest.taken_at, latest.dose_mg)


def _held_now(version: ProtocolVersion, read: list[Dose], now: datetime,
              tz: str) -> list[dict]:
    """What the interval and maxima say of the prescribed dose taken now, in words, against
    the doses `read` (RECENT_DOSES before now to NEARBY after)."""
    past = [rules.PastDose(d.taken_at, d.dose_mg) for d in read]
    return reasons.in_words(rules.dose_limit_reasons(protocols.policy(version), past, now,
                                                     version.dose_mg), tz)


def dose_now_held(session: Session, patient: User, version: ProtocolVersion,
                  now: datetime) -> list[dict]:
    """Today's `dose_now_held`, for a page that has not read the doses: the sitter's, before
    the dose."""
    read = active_doses(session, patient.id, start=now - RECENT_DOSES, end=now + NEARBY)
    return _held_now(version, read, now, patient.timezone)


def today(session: Session, patient: User, now: datetime) -> Today:
    version = protocols.current(session, patient.id)
    if version is None:
        return Today(None, None, None, [], None, None, None, None)
    tz = ZoneInfo(patient.timezone)
    # One read for the page and the extra-dose notice (which looks 3 days either side).
    read = active_doses(session, patient.id, start=now - RECENT_DOSES, end=now + NEARBY)
    doses = [d for d in read if d.taken_at < now + FUTURE_TOLERANCE]
    nearby = [d for d in read if d.taken_at >= now - NEARBY]
    dose_times = [d.taken_at for d in doses]
    # The session to act on and the last two weeks are each judged by the version in force
    # when they were due (a new time does not turn taken ones missed, nor ask again the day a
    # dose took its session).
    since = now - RECENT_SESSIONS
    in_force = versions.in_force(versions.for_patient(session, patient.id, since, now))
    nxt = schedule.next_in_force(in_force, tz, now, dose_times, due_window=DUE_WINDOW)
    # Up to the sessions a dose may already have taken (it counts from DUE_WINDOW before its
    # session), so a dose taken early is listed at once; one still ahead and untaken is left to
    # the next-session card.
    occs = schedule.occurrences_in_force(in_force, tz, since, now + DUE_WINDOW,
                                         doses=dose_times, due_window=DUE_WINDOW)
    recent = [s for s in schedule.classify_sessions(occs, dose_times, now, due_window=DUE_WINDOW)
              if s.occurrence.scheduled_at < now or s.state == schedule.SessionState.TAKEN]
    took_a_session = {s.dose_at for s in recent}
    # A dose near the window's start may have taken a session before it: is_extra judges each
    # with three days either side (rarely more than one dose to ask about).
    recent_extra = [d for d in reversed(doses)
                    if d.taken_at >= since and d.taken_at not in took_a_session
                    and is_extra(session, version, patient, d.taken_at, read)]
    policy = protocols.policy(version)
    # Every entry received so far holds, however fast the phone's clock that stamped it.
    record_reasons, record = record_holds(session, policy, patient.id, now)
    held = _held_now(version, read, now, patient.timezone)
    last = doses[-1] if doses else None
    gap = protocols.min_interval(version)
    return Today(
        protocol=version,
        phase=protocols.current_phase(version, now.astimezone(tz).date()),
        next_session=nxt,
        recent=list(reversed(recent)),
        last_dose=last,
        gate=latest_gate(session, patient.id, now, version),
        ledger=ledger_summary(session, patient, now),
        troches_per_dose=(version.dose_mg / version.strength_mg).quantize(
            Decimal("0.1"), rounding=ROUND_CEILING),
        holds=reasons.in_words(record_reasons, patient.timezone),
        safety_state=record,
        # Said only when a dose now would not be held (the held notice takes its place).
        extra_pushes=None if held else extra_dose_pushes(session, patient, version, now, nearby),
        doses_read=read,
        recent_extra=recent_extra,
        dose_now_held=held,
        next_too_soon=bool(nxt and last and nxt.occurrence.scheduled_at - last.taken_at < gap),
    )

