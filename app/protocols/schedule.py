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

Protocol versions
-----------------
A version's plans say what is scheduled; WHEN the version was saved says from when that holds.
``occurrences_in_force`` judges each session by the version in force at its scheduled time: a
version applies from its ``since`` (when it was saved) until the next version's ``since``, so a
new version (a new time, a phase change) never rewrites the sessions taken or missed before it.
Each session carries its version's grace and number.

What a new version does decide is the session still OPEN when it is saved (neither taken by a
dose before the save nor past its grace): it gives way to the new version, which also takes its
own sessions still open by its grace at the save, on days with no session settled by then. So
a prescriber who moves today's pending session from 10:00 to 18:00 moves it (it is not left to
be missed), a new dose amount keeps today's open session open, and the first version takes the
session still open on the day it is set up. A session taken or missed before the save is never
replaced (one taken early, before the save though due after it, included), a day whose session
a dose took before the save gets no second session from the new version, and a dose taken
before a save goes first to a session of the schedule of its time. ``next_in_force`` reads the
session to act on the same way; ``next_session`` takes one version's plans alone.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = [
    "NEXT_SESSION_HORIZON",
    "Cadence",
    "InForce",
    "Occurrence",
    "Phase",
    "PhasePlan",
    "SessionState",
    "SessionStatus",
    "classify_sessions",
    "extra_doses",
    "most_sessions_within",
    "next_in_force",
    "next_session",
    "occurrences",
    "occurrences_in_force",
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


# The phases as the protocol's JSON keys them, in the order a treatment goes through them.
PHASE_NAMES: tuple[str, ...] = tuple(phase.value for phase in Phase)


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
    # Set by occurrences_in_force: the grace, number and save time of the version it was
    # scheduled under (classify_sessions judges it with that grace, and gives a dose to a
    # session of a version saved by then first). None: the caller's grace; no preference.
    grace: timedelta | None = None
    version: int | None = None
    saved_at: datetime | None = None


@dataclass(frozen=True)
class InForce:
    """One protocol version's schedule and the moment it took effect (when it was saved)."""

    version: int
    since: datetime  # aware
    plans: tuple[PhasePlan, ...]
    grace: timedelta

    def __post_init__(self) -> None:
        object.__setattr__(self, "plans", tuple(self.plans))
        _require_aware("since", self.since)
        if self.grace < timedelta(0):
            raise ValueError("grace must not be negative")


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


def occurrences_in_force(
    versions: Sequence[InForce],
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    *,
    doses: Sequence[datetime],
    due_window: timedelta = timedelta(hours=2),
) -> list[Occurrence]:
    """Sessions with ``start <= scheduled_at < end``, each under the version in force then.

    ``versions`` oldest first (by version number). A version is in force from its ``since``
    until the next one's (a later version saved with an earlier clock wins from its own
    ``since``; the one it overtook never rules). Each session carries its version's grace and
    number. At each save (see the module docstring) the earlier sessions still open then give
    way: those neither past their grace nor taken by a dose before the save (``doses``: the
    recorded doses, as ``classify_sessions`` gets them, reaching two days before ``start``; a
    dose counts from ``due_window`` before a session to its grace after). The new version takes
    its own sessions still open by its grace then, on days that had no session settled by then,
    and none on a day whose session a dose took before the save.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    for version in versions:
        if not isinstance(version, InForce):
            raise TypeError(f"expected InForce, got {version!r}")
    for dose in doses:
        _require_aware("dose time", dose)
    taken = sorted(d.astimezone(UTC) for d in doses)
    # The versions that rule at all: each saved before every later one.
    ruling: list[InForce] = []
    for version in reversed(versions):
        if not ruling or version.since < ruling[-1].since:
            ruling.append(version)
    ruling.reverse()
    # Two days before `start` are expanded too, so the sessions settled on a day that straddles
    # it are known; only [start, end) is returned.
    first = start - _DAY_SLACK
    found: list[Occurrence] = []
    for n, version in enumerate(ruling):
        settled = [o for o in found if _settled(o, version.since, taken, due_window)]
        settled_days = {o.local_date for o in settled}
        # A day whose session a dose took before the save gets no second session from the new
        # version, at any time: a new time saved after today's dose must not ask for another.
        taken_days = {o.local_date for o in settled
                      if _taken_before(o, version.since, taken, due_window)}
        # Compared this way round: a version in force "forever" (since = datetime.min) must not
        # overflow.
        lo = first if version.since - first <= version.grace else version.since - version.grace
        # Up to a due window past the next save: a session after the save that a dose before it
        # already took (taken early) stays, settled, under this version.
        hi = min(ruling[n + 1].since + due_window, end) if n + 1 < len(ruling) else end
        found = settled + [
            replace(o, grace=version.grace, version=version.version, saved_at=version.since)
            for o in occurrences(version.plans, tz, lo, hi)
            if o.local_date not in taken_days
            and (o.scheduled_at >= version.since or o.local_date not in settled_days)]
    return sorted((o for o in found if o.scheduled_at >= start), key=lambda o: o.scheduled_at)


_DAY_SLACK = timedelta(days=2)


def _settled(occ: Occurrence, at: datetime, taken: Sequence[datetime],
             due_window: timedelta) -> bool:
    """Whether a session was settled at ``at``: past its grace (missed), or a dose before ``at``
    in its window (taken; without the nearest-session rule of ``_match``: a day holds one
    session, and the window says which)."""
    assert occ.grace is not None  # occurrences_in_force sets it
    return at > occ.scheduled_at + occ.grace or _taken_before(occ, at, taken, due_window)


def _taken_before(occ: Occurrence, at: datetime, taken: Sequence[datetime],
                  due_window: timedelta) -> bool:
    """Whether a dose before ``at`` falls in the session's window (see ``_settled``)."""
    assert occ.grace is not None
    first = bisect_left(taken, occ.scheduled_at - due_window)
    return (first < len(taken) and taken[first] < at
            and taken[first] <= occ.scheduled_at + occ.grace)


def _check_windows(grace: timedelta, due_window: timedelta) -> None:
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    if due_window < timedelta(0):
        raise ValueError("due_window must not be negative")


def _graces(ordered: Sequence[Occurrence], grace: timedelta | None) -> list[timedelta]:
    """Each session's grace: its own (set by occurrences_in_force), else the caller's."""
    found = []
    for occ in ordered:
        own = occ.grace if occ.grace is not None else grace
        if own is None:
            raise ValueError("a session without a grace of its own needs the caller's grace")
        found.append(own)
    return found


def _match(
    occs: Sequence[Occurrence],
    dose_times: Sequence[datetime],
    grace: timedelta | None,
    due_window: timedelta,
) -> tuple[list[Occurrence], list[timedelta], dict[int, datetime], list[datetime]]:
    """Pair doses with sessions.

    A dose can match a session when ``scheduled_at - due_window <= dose <= scheduled_at + grace``
    (the session's own grace when it carries one, else ``grace``). Doses are taken in time
    order; each picks the nearest still-unmatched session it can match (ties go to the earlier
    session, which is already due), a session of a version saved by the dose's time before one
    saved after it (the dose was taken for the schedule of its time: a later save must not take
    it from the session it settled). Greedy, not globally optimal: an early second dose can
    claim a session that a later dose was nearer to, and the later one is extra.

    Returns the sessions sorted by time, their graces, {session index: dose (UTC)}, and the
    unmatched doses.
    """
    ordered = sorted(occs, key=lambda o: o.scheduled_at)
    graces = _graces(ordered, grace)
    for each in graces:
        _check_windows(each, due_window)
    _check_windows(grace or timedelta(0), due_window)
    for dose in dose_times:
        _require_aware("dose time", dose)
    times = [o.scheduled_at for o in ordered]
    widest = max(graces, default=timedelta(0))
    matched: dict[int, datetime] = {}
    extras: list[datetime] = []
    for dose in sorted(d.astimezone(UTC) for d in dose_times):
        # Candidate sessions satisfy dose - grace <= scheduled_at <= dose + due_window.
        lo = bisect_left(times, dose - widest)
        hi = bisect_right(times, dose + due_window)
        best: int | None = None
        best_key: tuple[bool, timedelta] | None = None
        for i in range(lo, hi):
            if i in matched or times[i] < dose - graces[i]:
                continue
            saved = ordered[i].saved_at
            key = (saved is not None and saved > dose, abs(times[i] - dose))
            if best_key is None or key < best_key:
                best, best_key = i, key  # strict < keeps the earlier session on a tie
        if best is None:
            extras.append(dose)
        else:
            matched[best] = dose
    return ordered, graces, matched, extras


def classify_sessions(
    occs: Sequence[Occurrence],
    dose_times: Sequence[datetime],
    now: datetime,
    *,
    grace: timedelta | None = None,
    due_window: timedelta = timedelta(hours=2),
) -> list[SessionStatus]:
    """State of each session at ``now``, sorted by scheduled time.

    Matched sessions are TAKEN (see ``_match`` for the greedy nearest-session rule). Unmatched:
    UPCOMING before ``scheduled_at - due_window``; DUE from then through ``scheduled_at``;
    OVERDUE after that through ``scheduled_at + grace`` inclusive; MISSED afterwards. ``grace``
    is for sessions that carry none (``occurrences``); those from ``occurrences_in_force`` are
    judged by their own version's. Doses are used as given (even if later than ``now``); pass
    only recorded doses.
    """
    _require_aware("now", now)
    ordered, graces, matched, _ = _match(occs, dose_times, grace, due_window)
    statuses: list[SessionStatus] = []
    for i, occ in enumerate(ordered):
        at = occ.scheduled_at
        if i in matched:
            state = SessionState.TAKEN
        elif now < at - due_window:
            state = SessionState.UPCOMING
        elif now <= at:
            state = SessionState.DUE
        elif now <= at + graces[i]:
            state = SessionState.OVERDUE
        else:
            state = SessionState.MISSED
        statuses.append(SessionStatus(occurrence=occ, state=state, dose_at=matched.get(i)))
    return statuses


def extra_doses(
    occs: Sequence[Occurrence],
    dose_times: Sequence[datetime],
    *,
    grace: timedelta | None = None,
    due_window: timedelta = timedelta(hours=2),
) -> list[datetime]:
    """Doses (UTC, sorted) that match no session under the same rule as ``classify_sessions``."""
    return _match(occs, dose_times, grace, due_window)[3]


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
    return _to_act_on(classify_sessions(occs, doses, now, grace=grace, due_window=due_window))


def next_in_force(
    versions: Sequence[InForce],
    tz: ZoneInfo,
    now: datetime,
    doses: Sequence[datetime],
    *,
    due_window: timedelta = timedelta(hours=2),
) -> SessionStatus | None:
    """``next_session`` under the versions in force (``occurrences_in_force``), so the card
    agrees with the sessions listed beside it: a session taken before a save is not asked for
    again that day, and an overdue one keeps its own version's grace. ``versions`` must reach
    back over the look-back (two graces and due windows and a week before ``now``)."""
    _require_aware("now", now)
    widest = max((v.grace for v in versions), default=timedelta(0))
    lookback = 2 * (widest + due_window) + _LOOKBACK_MARGIN
    occs = occurrences_in_force(versions, tz, now - lookback, now + NEXT_SESSION_HORIZON,
                                doses=doses, due_window=due_window)
    return _to_act_on(classify_sessions(occs, doses, now, due_window=due_window))


def _to_act_on(statuses: Sequence[SessionStatus]) -> SessionStatus | None:
    """The earliest DUE or OVERDUE session, else the next UPCOMING one."""
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


# Cached: the prescriber's patient page asks on every view, and a year of a daily phase is some
# 370 sessions to expand (about 3 ms a phase); the answer changes only with the plan's start.
@lru_cache(maxsize=512)
def most_sessions_within(template: PhasePlan, span: timedelta, tz: ZoneInfo) -> int:
    """The most sessions of one phase (``template``, open-ended from its ``starts_on``) in any
    window ``(e - span, e]`` (the rolling maxima's window, rules.dose_limit_reasons) over the
    year from its start, in the patient's zone: sessions keep their wall time, so across a
    daylight-saving change daily at 10:00 puts two sessions in 24 hours, and weekly two in 7
    days."""
    plan = replace(template, weeks=None)
    first = datetime.combine(plan.starts_on, time(0), tzinfo=tz)
    times = [o.scheduled_at for o in occurrences([plan], tz, first, first + timedelta(days=370))]
    most, oldest = 0, 0
    for newest, at in enumerate(times):
        while at - times[oldest] >= span:
            oldest += 1
        most = max(most, newest - oldest + 1)
    return most


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
