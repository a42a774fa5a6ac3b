"""Dosing schedules: expand a prescriber's phase plans into concrete sessions and classify them.

Pure functions only: no I/O and no clock reads (``now`` is always passed in).

Time rules
----------
Plans store a local wall time (``PhasePlan.at``) and the caller passes the patient's *current*
IANA zone. Each session is the wall time on a local date, converted to UTC with ``fold=0``:

* Spring-forward gap: a wall time that does not exist (02:30 on 2026-03-08 in New York) uses the
  offset from before the transition, i.e. it fires at the moved-forward instant (03:30 EDT).
* Autumn repeat: a wall time that happens twice (01:30 on 2026-11-01 in New York) fires ONCE, at
  the first occurrence (fold=0, still on summer time).
* Zone changes: the schedule follows the zone the caller passes, so after a move sessions stay at
  the same local wall time in the new zone. Past sessions recomputed with the new zone shift too;
  callers that need historical instants must expand past ranges with the zone in effect then.

Plan succession
---------------
Plans are sorted by ``starts_on``. A plan is in effect from its ``starts_on`` until the earliest of
``starts_on + weeks * 7 days`` and the next plan's ``starts_on`` (both exclusive). When a plan with
``weeks`` ends and no later plan exists, there are NO sessions from then on (a gap): the schedule
never silently extends a finished phase; the prescriber must add the next plan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = [
    "NEXT_SESSION_HORIZON",
    "Cadence",
    "Occurrence",
    "Phase",
    "PhasePlan",
    "SessionState",
    "SessionStatus",
    "classify_sessions",
    "extra_doses",
    "next_session",
    "occurrences",
    "shortest_gap",
]

# How far ahead next_session looks for an upcoming session (two months covers every-4-weeks
# maintenance with room to spare).
NEXT_SESSION_HORIZON = timedelta(days=62)
# Extra history next_session expands so doses near now are matched against the same neighbouring
# sessions as they would be with the full history.
_LOOKBACK_MARGIN = timedelta(days=7)


class Phase(StrEnum):
    INDUCTION = "induction"
    MAINTENANCE = "maintenance"
    TAPER = "taper"


class Cadence(StrEnum):
    WEEKDAYS = "weekdays"
    INTERVAL = "interval"


class SessionState(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    TAKEN = "taken"
    MISSED = "missed"


def _require_int(name: str, value: object) -> int:
    # bool is an int subclass; True as "every 1 day" is almost certainly a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return value


@dataclass(frozen=True)
class PhasePlan:
    """One phase of a prescription, in effect from ``starts_on`` (a local date)."""

    phase: Phase
    starts_on: date
    cadence: Cadence
    at: time
    weekdays: frozenset[int] = field(default_factory=frozenset)  # 0=Monday..6=Sunday
    every_n_days: int | None = None  # INTERVAL only, anchored on starts_on
    weeks: int | None = None  # None = open-ended

    def __post_init__(self) -> None:
        # Coerce so plans loaded from strings/sets compare and hash like hand-built ones.
        object.__setattr__(self, "phase", Phase(self.phase))
        object.__setattr__(self, "cadence", Cadence(self.cadence))
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        # datetime is a date subclass; accepting one would hide a time-of-day bug.
        if not isinstance(self.starts_on, date) or isinstance(self.starts_on, datetime):
            raise TypeError(f"starts_on must be a date, got {self.starts_on!r}")
        if not isinstance(self.at, time):
            raise TypeError(f"at must be a time, got {self.at!r}")
        if self.at.tzinfo is not None:
            raise ValueError("at must be a naive wall time; the zone is passed separately")
        if self.cadence is Cadence.WEEKDAYS:
            if not self.weekdays:
                raise ValueError("WEEKDAYS cadence needs at least one weekday")
            for day in self.weekdays:
                if not 0 <= _require_int("weekday", day) <= 6:
                    raise ValueError(f"weekday must be 0..6 (Monday..Sunday), got {day}")
            if self.every_n_days is not None:
                raise ValueError("every_n_days only applies to INTERVAL cadence")
        else:
            if self.every_n_days is None or _require_int("every_n_days", self.every_n_days) < 1:
                raise ValueError("INTERVAL cadence needs every_n_days >= 1")
            if self.weekdays:
                raise ValueError("weekdays only apply to WEEKDAYS cadence")
        if self.weeks is not None and _require_int("weeks", self.weeks) < 1:
            raise ValueError("weeks must be >= 1 (or None for open-ended)")


@dataclass(frozen=True)
class Occurrence:
    scheduled_at: datetime  # aware, UTC
    local_date: date  # the local date the session belongs to in the patient's zone
    phase: Phase


@dataclass(frozen=True)
class SessionStatus:
    occurrence: Occurrence
    state: SessionState
    dose_at: datetime | None  # UTC, set only when TAKEN


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def _add_days(day: date, days: int) -> date:
    # Clamp instead of overflowing for open-ended ranges near date.min/date.max.
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    # fold=0: gap times take the pre-transition offset (moved forward), repeats fire the first time.
    local = datetime.combine(day, at.replace(fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def _plan_dates(plan: PhasePlan, first: date, last: date) -> Iterator[date]:
    """Session dates of ``plan`` within [first, last] (inclusive)."""
    if first > last:
        return
    if plan.cadence is Cadence.INTERVAL:
        step = plan.every_n_days
        assert step is not None  # guaranteed by PhasePlan validation
        # Anchor on starts_on so the cadence does not drift with the query window.
        offset = (-(first - plan.starts_on).days) % step
        if (last - first).days < offset:
            return
        day = first + timedelta(days=offset)
        while True:
            yield day
            # Compare before adding so stepping past date.max never overflows.
            if (last - day).days < step:
                return
            day += timedelta(days=step)
    else:
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            if day.weekday() in plan.weekdays:
                yield day


def _sorted_plans(plans: Sequence[PhasePlan]) -> list[PhasePlan]:
    ordered = sorted(plans, key=lambda p: p.starts_on)
    for earlier, later in pairwise(ordered):
        if earlier.starts_on == later.starts_on:
            # Two plans effective the same day is ambiguous; refuse rather than guess.
            raise ValueError(f"two plans start on {later.starts_on}")
    return ordered


def occurrences(
    plans: Sequence[PhasePlan], tz: ZoneInfo, start: datetime, end: datetime
) -> list[Occurrence]:
    """Sessions with ``start <= scheduled_at < end``, sorted by time.

    ``plans`` may be in any order. See the module docstring for plan succession (including the
    gap after a finished, weeks-limited last plan) and DST handling.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    for plan in plans:
        if not isinstance(plan, PhasePlan):
            raise TypeError(f"expected PhasePlan, got {plan!r}")
    ordered = _sorted_plans(plans)
    if start >= end or not ordered:
        return []
    # One day of slack each side: a gap can push a session across local midnight, and the
    # query bounds may be in a different zone than tz.
    lo = _add_days(start.astimezone(tz).date(), -1)
    hi = _add_days(end.astimezone(tz).date(), 1)
    found: list[Occurrence] = []
    for index, plan in enumerate(ordered):
        stop = date.max  # exclusive end of this plan's effect
        if plan.weeks is not None:
            stop = _add_days(plan.starts_on, plan.weeks * 7)
        if index + 1 < len(ordered):
            stop = min(stop, ordered[index + 1].starts_on)
        first = max(plan.starts_on, lo)
        last = min(_add_days(stop, -1), hi)
        for day in _plan_dates(plan, first, last):
            at = _to_utc(day, plan.at, tz)
            if start <= at < end:
                found.append(Occurrence(scheduled_at=at, local_date=day, phase=plan.phase))
    found.sort(key=lambda o: o.scheduled_at)
    return found


def _check_windows(grace: timedelta, due_window: timedelta) -> None:
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    if due_window < timedelta(0):
        raise ValueError("due_window must not be negative")


def _match(
    occs: Sequence[Occurrence],
    dose_times: Sequence[datetime],
    grace: timedelta,
    due_window: timedelta,
) -> tuple[list[Occurrence], dict[int, datetime], list[datetime]]:
    """Pair doses with sessions.

    A dose can match a session when ``scheduled_at - due_window <= dose <= scheduled_at + grace``.
    Doses are taken in time order; each picks the nearest still-unmatched session it can match
    (ties go to the earlier session, which is already due). Greedy, not globally optimal: an early
    second dose can claim a session that a later dose was nearer to, and the later one is extra.

    Returns the sessions sorted by time, {session index: dose (UTC)}, and the unmatched doses.
    """
    _check_windows(grace, due_window)
    for dose in dose_times:
        _require_aware("dose time", dose)
    ordered = sorted(occs, key=lambda o: o.scheduled_at)
    times = [o.scheduled_at for o in ordered]
    matched: dict[int, datetime] = {}
    extras: list[datetime] = []
    for dose in sorted(d.astimezone(UTC) for d in dose_times):
        # Candidate sessions satisfy dose - grace <= scheduled_at <= dose + due_window.
        lo = bisect_left(times, dose - grace)
        hi = bisect_right(times, dose + due_window)
        best: int | None = None
        for i in range(lo, hi):
            if i in matched:
                continue
            if best is None or abs(times[i] - dose) < abs(times[best] - dose):
                best = i  # strict < keeps the earlier session on a tie
        if best is None:
            extras.append(dose)
        else:
            matched[best] = dose
    return ordered, matched, extras


def classify_sessions(
    occs: Sequence[Occurrence],
    dose_times: Sequence[datetime],
    now: datetime,
    *,
    grace: timedelta,
    due_window: timedelta = timedelta(hours=2),
) -> list[SessionStatus]:
    """State of each session at ``now``, sorted by scheduled time.

    Matched sessions are TAKEN (see ``_match`` for the greedy nearest-session rule). Unmatched:
    UPCOMING before ``scheduled_at - due_window``; DUE from then through ``scheduled_at``;
    OVERDUE after that through ``scheduled_at + grace`` inclusive; MISSED afterwards.
    Doses are used as given (even if later than ``now``); pass only recorded doses.
    """
    _require_aware("now", now)
    ordered, matched, _ = _match(occs, dose_times, grace, due_window)
    statuses: list[SessionStatus] = []
    for i, occ in enumerate(ordered):
        at = occ.scheduled_at
        if i in matched:
            state = SessionState.TAKEN
        elif now < at - due_window:
            state = SessionState.UPCOMING
        elif now <= at:
            state = SessionState.DUE
        elif now <= at + grace:
            state = SessionState.OVERDUE
        else:
            state = SessionState.MISSED
        statuses.append(SessionStatus(occurrence=occ, state=state, dose_at=matched.get(i)))
    return statuses


def extra_doses(
    occs: Sequence[Occurrence],
    dose_times: Sequence[datetime],
    *,
    grace: timedelta,
    due_window: timedelta = timedelta(hours=2),
) -> list[datetime]:
    """Doses (UTC, sorted) that match no session under the same rule as ``classify_sessions``."""
    return _match(occs, dose_times, grace, due_window)[2]


def next_session(
    plans: Sequence[PhasePlan],
    tz: ZoneInfo,
    now: datetime,
    doses: Sequence[datetime],
    *,
    grace: timedelta,
    due_window: timedelta = timedelta(hours=2),
) -> SessionStatus | None:
    """The session to act on now: the earliest DUE or OVERDUE one, else the next UPCOMING one.

    Looks ahead ``NEXT_SESSION_HORIZON``; returns None if nothing is pending in that span (e.g.
    the gap after a finished last plan). Looks back past ``grace`` so overdue sessions, and the
    doses that might already cover them, are seen.
    """
    _require_aware("now", now)
    _check_windows(grace, due_window)
    lookback = 2 * (grace + due_window) + _LOOKBACK_MARGIN
    occs = occurrences(plans, tz, now - lookback, now + NEXT_SESSION_HORIZON)
    statuses = classify_sessions(occs, doses, now, grace=grace, due_window=due_window)
    pending = (SessionState.DUE, SessionState.OVERDUE)
    for status in statuses:
        if status.state in pending:
            return status
    for status in statuses:
        if status.state is SessionState.UPCOMING:
            return status
    return None


def _template_gap(template: PhasePlan | Mapping[str, object]) -> timedelta:
    if isinstance(template, PhasePlan):
        cadence, weekdays, every_n_days = template.cadence, template.weekdays, template.every_n_days
    else:
        cadence = Cadence(template["cadence"])
        weekdays = template.get("weekdays") or ()
        every_n_days = template.get("every_n_days")
    if cadence is Cadence.INTERVAL:
        if every_n_days is None or _require_int("every_n_days", every_n_days) < 1:
            raise ValueError("INTERVAL cadence needs every_n_days >= 1")
        return timedelta(days=every_n_days)
    days = sorted({_require_int("weekday", day) for day in weekdays})
    if not days:
        raise ValueError("WEEKDAYS cadence needs at least one weekday")
    if days[0] < 0 or days[-1] > 6:
        raise ValueError(f"weekday must be 0..6 (Monday..Sunday), got {days}")
    # Consecutive chosen weekdays, and from the last one round to the first one next week.
    return timedelta(days=min(b - a for a, b in pairwise([*days, days[0] + 7])))


def shortest_gap(templates: Iterable[PhasePlan | Mapping[str, object]]) -> timedelta | None:
    """The shortest wall-clock time between consecutive sessions of any one phase, or None.

    ``templates`` are ``PhasePlan``s or phase templates as stored on a protocol version
    (mappings with ``cadence``, ``weekdays``, ``every_n_days``; other keys are ignored). Weekday
    cadences: the smallest distance between consecutive chosen weekdays, wrapping the week (one
    weekday is seven days); interval cadences: ``every_n_days`` days. The gap is nominal: across a
    daylight-saving change the real time between two sessions is that much plus or minus the
    shift (usually one hour), since sessions keep their local wall time. Gaps across a phase
    change (which depend on the dates of the change) are not considered.
    """
    gaps = [_template_gap(template) for template in templates]
    return min(gaps) if gaps else None
