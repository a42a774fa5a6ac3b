"""Pure dose-safety rules: interval, rolling maxima, blood-pressure gate and dose amounts.

Everything here is a pure function of its arguments: no I/O, no clock reads (``now`` is passed
in) and no i18n. Results are machine codes plus parameters; the caller renders the messages.

Conventions (fixed, relied on by the tests):

* All datetimes must be timezone-aware; naive ones raise ``ValueError``. Instants are compared
  in UTC, so doses recorded in different offsets mix correctly. Datetimes returned in reason
  params are in UTC.
* mg amounts are ``Decimal``. ``int`` and ``float`` are accepted and converted via ``str()`` so a
  float such as ``12.5`` becomes ``Decimal("12.5")`` rather than its binary expansion.
* Mg arithmetic runs in a private high-precision decimal context that traps ``Inexact``: if a
  sum would ever need rounding we raise instead of silently under-counting a total.
* ``Reason.params`` is a read-only ``MappingProxyType`` over a private copy of the dict the
  reason was built with; ``Reason`` hashes by ``(code, frozenset(params.items()))``.
* Reason order in ``evaluate_gate``: bp_emergency, bp_hold, pulse_hold, safety_review,
  screener_pending, recent_emergency, too_soon, over_24h_max, over_7d_max, sitter_required,
  checklist_failed.
  ``bp_hold`` is omitted when ``bp_emergency`` fires (the emergency supersedes it); every other
  reason is still listed so the record is complete.
* Overrides: ``NEVER_OVERRIDABLE`` reasons can never be overridden before dosing; the others
  only when the prescriber's policy lists them (``GuardPolicy.overridable``). A dose already
  taken is recorded whatever the reasons; that is the caller's business, not a permission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_CEILING,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "CHECKLIST_ITEMS",
    "CRISIS_DIASTOLIC",
    "CRISIS_SYSTOLIC",
    "EMERGENCY_RECHECK_WAIT",
    "NEVER_OVERRIDABLE",
    "OVERRIDABLE_CHOICES",
    "GateAnswers",
    "GateResult",
    "GuardPolicy",
    "PastDose",
    "Reason",
    "ReasonCode",
    "SafetyState",
    "Verdict",
    "dose_limit_reasons",
    "emergency_recheck_at",
    "evaluate_gate",
    "may_override_before_dosing",
    "safety_hold_reasons",
    "validate_dose_amount",
]

CHECKLIST_ITEMS: tuple[str, ...] = (
    "fasted",
    "no_sedatives",
    "no_driving",
    "safe_place",
    "sitter_present",
)
# Hypertensive-crisis threshold: fixed, deliberately independent of the prescriber's settings.
CRISIS_SYSTOLIC = 180
CRISIS_DIASTOLIC = 120
# After a crisis reading the patient rests this long before measuring again.
EMERGENCY_RECHECK_WAIT = timedelta(minutes=5)
# More than this many troches in one dose is treated as a typo, never as a real dose.
MAX_TROCHES_PER_DOSE = 10

_DAY = timedelta(hours=24)
_WEEK = timedelta(days=7)
_SITTER_ITEM = "sitter_present"
# Exact arithmetic or an exception: a rounded (smaller) total could let an unsafe dose through.
_CTX = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])


class Verdict(StrEnum):
    OK = "ok"
    HOLD = "hold"
    EMERGENCY = "emergency"


class ReasonCode(StrEnum):
    TOO_SOON = "too_soon"
    OVER_24H_MAX = "over_24h_max"
    OVER_7D_MAX = "over_7d_max"
    BP_HOLD = "bp_hold"
    BP_EMERGENCY = "bp_emergency"
    SITTER_REQUIRED = "sitter_required"
    CHECKLIST_FAILED = "checklist_failed"
    PULSE_HOLD = "pulse_hold"
    SAFETY_REVIEW = "safety_review"  # a high-risk screen awaits the prescriber's review
    # A PHQ-9 item 9 answer above 0 awaits the C-SSRS screener that says how much it means.
    SCREENER_PENDING = "screener_pending"
    RECENT_EMERGENCY = "recent_emergency"  # a crisis reading within the lockout period


# No stated reason makes these safe to dose through; the prescriber cannot allow it either.
NEVER_OVERRIDABLE = frozenset({
    ReasonCode.BP_EMERGENCY,
    ReasonCode.SAFETY_REVIEW,
    ReasonCode.SCREENER_PENDING,
    ReasonCode.RECENT_EMERGENCY,
    ReasonCode.TOO_SOON,
    ReasonCode.OVER_24H_MAX,
    ReasonCode.OVER_7D_MAX,
})
# The holds a prescriber may allow the patient to override before dosing, with a reason.
OVERRIDABLE_CHOICES: tuple[str, ...] = (
    ReasonCode.BP_HOLD.value,
    ReasonCode.PULSE_HOLD.value,
    ReasonCode.SITTER_REQUIRED.value,
    ReasonCode.CHECKLIST_FAILED.value,
)


@dataclass(frozen=True)
class Reason:
    """One rule that fired. ``params`` is read-only; values are hashable (Decimal, int, datetime,
    tuples), so reasons can be compared, hashed and put in sets."""

    code: ReasonCode
    params: Mapping[str, object]

    def __post_init__(self) -> None:
        # Copy first so later mutation of the caller's dict cannot change a recorded reason.
        object.__setattr__(self, "code", ReasonCode(self.code))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.code, frozenset(self.params.items())))


@dataclass(frozen=True)
class GuardPolicy:
    """Prescriber-set limits. Validated on construction so a bad policy fails loudly, never open.

    ``required_checklist`` may hold any of ``CHECKLIST_ITEMS`` except ``sitter_present``, which is
    governed by ``sitter_required`` alone (one switch, no ambiguity about which wins).
    ``pulse_hold_low``/``pulse_hold_high`` are optional (None: no limit); ``overridable`` holds
    any of ``OVERRIDABLE_CHOICES``.
    """

    min_hours_between_doses: Decimal
    max_mg_per_24h: Decimal
    max_mg_per_7d: Decimal
    bp_hold_systolic: int
    bp_hold_diastolic: int
    sitter_required: bool
    required_checklist: frozenset[str]
    emergency_lockout_hours: int = 24
    pulse_hold_low: int | None = None
    pulse_hold_high: int | None = None
    overridable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("min_hours_between_doses", "max_mg_per_24h", "max_mg_per_7d"):
            value = _as_decimal(getattr(self, name), name)
            if not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
            object.__setattr__(self, name, value)
        _hours_to_timedelta(self.min_hours_between_doses)  # fail now if it cannot be a duration
        for name in ("bp_hold_systolic", "bp_hold_diastolic"):
            _require_positive_int(getattr(self, name), name)
        if not isinstance(self.sitter_required, bool):
            raise TypeError("sitter_required must be a bool")
        if isinstance(self.required_checklist, str):
            raise TypeError("required_checklist must be a collection of item names, not a str")
        items = frozenset(self.required_checklist)
        allowed = set(CHECKLIST_ITEMS) - {_SITTER_ITEM}
        unknown = items - allowed
        if unknown:
            raise ValueError(f"required_checklist has unsupported items: {sorted(unknown)}")
        object.__setattr__(self, "required_checklist", items)
        _require_positive_int(self.emergency_lockout_hours, "emergency_lockout_hours")
        for name in ("pulse_hold_low", "pulse_hold_high"):
            if getattr(self, name) is not None:
                _require_positive_int(getattr(self, name), name)
        low, high = self.pulse_hold_low, self.pulse_hold_high
        if low is not None and high is not None and low >= high:
            raise ValueError(f"pulse_hold_low must be below pulse_hold_high, got {low}, {high}")
        if isinstance(self.overridable, str):
            raise TypeError("overridable must be a collection of reason codes, not a str")
        chosen = frozenset(self.overridable)
        if chosen - set(OVERRIDABLE_CHOICES):
            raise ValueError(f"overridable has unsupported codes: {sorted(chosen)}")
        object.__setattr__(self, "overridable", chosen)


@dataclass(frozen=True)
class SafetyState:
    """What the record says right now, beyond the dose history: whether a high-risk screen
    awaits review, whether a PHQ-9 item 9 answer above 0 awaits its screener, and when the
    latest reading at or above the crisis level was taken."""

    review_pending: bool = False
    last_emergency_at: datetime | None = None
    screener_pending: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.review_pending, bool):
            raise TypeError("review_pending must be a bool")
        if not isinstance(self.screener_pending, bool):
            raise TypeError("screener_pending must be a bool")
        if self.last_emergency_at is not None:
            _to_utc(self.last_emergency_at, "last_emergency_at")


@dataclass(frozen=True)
class PastDose:
    """A dose already in the log (the caller has excluded entries marked entered-in-error)."""

    taken_at: datetime
    dose_mg: Decimal

    def __post_init__(self) -> None:
        _to_utc(self.taken_at, "taken_at")
        mg = _as_decimal(self.dose_mg, "dose_mg")
        # A negative or NaN past dose would shrink window totals and make the next dose easier.
        if not mg.is_finite() or mg < 0:
            raise ValueError(f"dose_mg must be finite and >= 0, got {mg}")
        object.__setattr__(self, "dose_mg", mg)


@dataclass(frozen=True)
class GateAnswers:
    """What the patient entered just before dosing. ``checklist`` is copied and made read-only;
    only an answer that is exactly ``True`` counts as yes (missing, ``False``, 1, "yes" do not)."""

    systolic: int
    diastolic: int
    heart_rate: int
    checklist: Mapping[str, bool]

    def __post_init__(self) -> None:
        for name in ("systolic", "diastolic", "heart_rate"):
            _require_positive_int(getattr(self, name), name)
        object.__setattr__(self, "checklist", MappingProxyType(dict(self.checklist)))

    def __hash__(self) -> int:
        items = frozenset(self.checklist.items())
        return hash((self.systolic, self.diastolic, self.heart_rate, items))


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    reasons: tuple[Reason, ...]


def dose_limit_reasons(
    policy: GuardPolicy,
    history: Iterable[PastDose],
    taken_at: datetime,
    dose_mg: Decimal | int | float,
) -> tuple[Reason, ...]:
    """Interval and rolling-maximum reasons against placing ``dose_mg`` at ``taken_at``.

    ``taken_at`` may be in the past (back-dated entries), so doses both before and after it count.

    * too_soon: some dose is strictly closer than the minimum interval (exactly equal is allowed).
      params: ``hours`` (the policy minimum), ``conflicting_at`` (UTC times of the conflicting
      doses, ascending) and ``next_allowed_at`` (the earliest instant >= taken_at that is at least
      the minimum away from every logged dose; interval rule only, the maxima are separate).
    * over_24h_max / over_7d_max: some window ``(e - span, e]`` containing taken_at would total
      more than the limit (exactly equal is allowed). params: ``limit_mg`` and ``total_mg`` (the
      worst such window's total including this dose).
    """
    at = _to_utc(taken_at, "taken_at")
    mg = _as_decimal(dose_mg, "dose_mg")
    if not mg.is_finite() or mg <= 0:
        raise ValueError(f"dose_mg must be finite and > 0, got {mg}")
    past = _normalise_history(history)

    reasons: list[Reason] = []
    gap = _hours_to_timedelta(policy.min_hours_between_doses)
    conflicts = tuple(t for t, _ in past if abs(t - at) < gap)
    if conflicts:
        params = {
            "hours": policy.min_hours_between_doses,
            "next_allowed_at": _next_free_time([t for t, _ in past], at, gap),
            "conflicting_at": conflicts,
        }
        reasons.append(Reason(ReasonCode.TOO_SOON, params))

    for code, span, limit in (
        (ReasonCode.OVER_24H_MAX, _DAY, policy.max_mg_per_24h),
        (ReasonCode.OVER_7D_MAX, _WEEK, policy.max_mg_per_7d),
    ):
        total = _worst_window_total(past, at, mg, span)
        if total > limit:
            reasons.append(Reason(code, {"limit_mg": limit, "total_mg": total}))
    return tuple(reasons)


# A dose of the same amount logged this close is most likely the same troche entered twice
# (the phone's outbox and the web form, or a late entry of a dose already logged).
SAME_DOSE_WITHIN = timedelta(minutes=15)


def same_dose_logged(history: Iterable[PastDose], taken_at: datetime,
                     dose_mg: Decimal | int | float) -> PastDose | None:
    """The logged dose this entry most likely repeats: the same amount within SAME_DOSE_WITHIN
    of it (the nearest, the earlier on a tie), or None. A hint for the refusal's words only; it
    permits nothing and refuses nothing."""
    at = _to_utc(taken_at, "taken_at")
    mg = _as_decimal(dose_mg, "dose_mg")
    near = [d for d in history
            if d.dose_mg == mg and abs(_to_utc(d.taken_at, "taken_at") - at) <= SAME_DOSE_WITHIN]
    return min(near, key=lambda d: (abs(d.taken_at - at), d.taken_at), default=None)


def limits_met_only_after_corrections(
    policy: GuardPolicy,
    history: Iterable[PastDose],
    as_first_recorded: Iterable[PastDose],
    taken_at: datetime,
    dose_mg: Decimal | int | float,
) -> tuple[Reason, ...]:
    """The limit reasons a dose would meet against the doses as they were first recorded
    (``as_first_recorded``: doses later marked entered in error still there, corrected ones at
    their first time and amount), beyond those it meets against ``history`` as it stands.

    A correction or a strike is how a mistaken entry is put right, so the record as it stands
    judges the next dose; but a real dose struck, or moved, to clear a "too soon" would make
    the next one look clean. A dose for which this is not empty is flagged for the
    prescriber, never refused.
    """
    history = list(history)
    met = {r.code for r in dose_limit_reasons(policy, history, taken_at, dose_mg)}
    return tuple(r for r in dose_limit_reasons(policy, as_first_recorded, taken_at, dose_mg)
                 if r.code not in met)


def safety_hold_reasons(
    policy: GuardPolicy, state: SafetyState, at: datetime
) -> tuple[Reason, ...]:
    """Holds that come from the record rather than the readings: a pending safety review, a
    PHQ-9 item 9 answer above 0 whose screener is not answered yet, and a crisis reading
    within the prescriber's lockout period before ``at`` (whatever later rechecks showed). A
    crisis reading after ``at`` does not hold a dose taken before it.

    params: recent_emergency has ``at`` (the reading, UTC) and ``until`` (when the hold ends).
    """
    at = _to_utc(at, "at")
    reasons: list[Reason] = []
    if state.review_pending:
        reasons.append(Reason(ReasonCode.SAFETY_REVIEW, {}))
    if state.screener_pending:
        reasons.append(Reason(ReasonCode.SCREENER_PENDING, {}))
    if state.last_emergency_at is not None:
        last = _to_utc(state.last_emergency_at, "last_emergency_at")
        until = last + timedelta(hours=policy.emergency_lockout_hours)
        if last <= at < until:
            reasons.append(Reason(ReasonCode.RECENT_EMERGENCY, {"at": last, "until": until}))
    return tuple(reasons)


def emergency_recheck_at(state: SafetyState, at: datetime) -> datetime | None:
    """When a new reading may be taken, if ``at`` is too soon after a crisis reading (the
    patient rests 5 minutes first, so a quick recheck cannot beat the guidance); else None."""
    at = _to_utc(at, "at")
    if state.last_emergency_at is None:
        return None
    allowed = _to_utc(state.last_emergency_at, "last_emergency_at") + EMERGENCY_RECHECK_WAIT
    return allowed if at < allowed else None


def may_override_before_dosing(policy: GuardPolicy, reasons: Iterable[Reason]) -> bool:
    """True when every reason is one the prescriber allows the patient to override before
    dosing (with a stated reason). No reasons: nothing to override, so False."""
    codes = {r.code for r in reasons}
    return bool(codes) and not (codes & NEVER_OVERRIDABLE) and all(
        c.value in policy.overridable for c in codes
    )


def evaluate_gate(
    policy: GuardPolicy,
    history: Iterable[PastDose],
    answers: GateAnswers,
    now: datetime,
    proposed_mg: Decimal | int | float,
    state: SafetyState | None = None,
) -> GateResult:
    """The pre-dose safety gate for taking ``proposed_mg`` at ``now``.

    Verdict is EMERGENCY if the BP reading is at or above the fixed crisis threshold, otherwise
    HOLD if any reason fired, otherwise OK. See the module docstring for the reason order.
    """
    _to_utc(now, "now")
    history = tuple(history)  # iterated more than once below
    reasons: list[Reason] = []
    sys_bp, dia_bp = answers.systolic, answers.diastolic

    emergency = sys_bp >= CRISIS_SYSTOLIC or dia_bp >= CRISIS_DIASTOLIC
    if emergency:
        params = {
            "systolic": sys_bp,
            "diastolic": dia_bp,
            "crisis_systolic": CRISIS_SYSTOLIC,
            "crisis_diastolic": CRISIS_DIASTOLIC,
        }
        reasons.append(Reason(ReasonCode.BP_EMERGENCY, params))
    elif sys_bp >= policy.bp_hold_systolic or dia_bp >= policy.bp_hold_diastolic:
        params = {
            "systolic": sys_bp,
            "diastolic": dia_bp,
            "hold_systolic": policy.bp_hold_systolic,
            "hold_diastolic": policy.bp_hold_diastolic,
        }
        reasons.append(Reason(ReasonCode.BP_HOLD, params))

    low, high, pulse = policy.pulse_hold_low, policy.pulse_hold_high, answers.heart_rate
    if (low is not None and pulse < low) or (high is not None and pulse > high):
        reasons.append(Reason(ReasonCode.PULSE_HOLD, {"heart_rate": pulse, "low": low,
                                                      "high": high}))

    reasons.extend(safety_hold_reasons(policy, state or SafetyState(), now))
    reasons.extend(dose_limit_reasons(policy, history, now, proposed_mg))

    if policy.sitter_required and answers.checklist.get(_SITTER_ITEM) is not True:
        reasons.append(Reason(ReasonCode.SITTER_REQUIRED, {}))

    failed = tuple(
        item
        for item in CHECKLIST_ITEMS
        if item in policy.required_checklist and answers.checklist.get(item) is not True
    )
    if failed:
        reasons.append(Reason(ReasonCode.CHECKLIST_FAILED, {"items": failed}))

    if emergency:
        verdict = Verdict.EMERGENCY
    elif reasons:
        verdict = Verdict.HOLD
    else:
        verdict = Verdict.OK
    return GateResult(verdict=verdict, reasons=tuple(reasons))


def validate_dose_amount(
    dose_mg: Decimal | int | float,
    strength_mg: Decimal | int | float,
    halving_allowed: bool,
) -> str | None:
    """Return an error code for an implausible dose amount, or None if it is acceptable.

    Codes, checked in this order (first match wins): "not_finite", "not_positive", "absurd"
    (more than 10 troches), then "not_whole_troche" / "not_half_troche". "absurd" is checked
    before the granularity codes because it is the more important message for a huge typo.
    ``strength_mg`` is configuration, so a non-finite or non-positive strength raises ValueError.
    """
    dose = _as_decimal(dose_mg, "dose_mg")
    strength = _as_decimal(strength_mg, "strength_mg")
    if not strength.is_finite() or strength <= 0:
        raise ValueError(f"strength_mg must be finite and > 0, got {strength}")
    if not dose.is_finite():
        return "not_finite"
    if dose <= 0:
        return "not_positive"
    step, code = (strength / 2, "not_half_troche") if halving_allowed else (
        strength, "not_whole_troche")
    with localcontext(_CTX):
        if dose > MAX_TROCHES_PER_DOSE * strength:
            return "absurd"
        try:
            return None if dose % step == 0 else code
        except (Inexact, InvalidOperation):
            # A remainder that needs rounding (1e-999999999 mg, or more digits than the context
            # holds) is not 0: an exact multiple of at most ten troches never needs any.
            return code


# --- helpers -------------------------------------------------------------------------------------


def _as_decimal(value: object, name: str) -> Decimal:
    # bool is an int subclass; True mg is certainly a bug, not one milligram.
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a Decimal, int or float, not bool")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    raise TypeError(f"{name} must be a Decimal, int or float, got {type(value).__name__}")


def _require_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _to_utc(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    # A tzinfo whose utcoffset() is None is naive too, per the datetime docs.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _hours_to_timedelta(hours: Decimal) -> timedelta:
    # Round the interval up to the next microsecond: a shorter interval would be less safe.
    with localcontext(_CTX):
        micros = (hours * 3_600_000_000).to_integral_value(rounding=ROUND_CEILING)
    try:
        return timedelta(microseconds=int(micros))
    except OverflowError as exc:
        raise ValueError(f"min_hours_between_doses is too large: {hours}") from exc


def _normalise_history(history: Iterable[PastDose]) -> tuple[tuple[datetime, Decimal], ...]:
    out = []
    for dose in history:
        if not isinstance(dose, PastDose):
            raise TypeError(f"history must contain PastDose items, got {type(dose).__name__}")
        out.append((_to_utc(dose.taken_at, "taken_at"), dose.dose_mg))
    return tuple(sorted(out, key=lambda pair: pair[0]))


def _next_free_time(times: list[datetime], start: datetime, gap: timedelta) -> datetime:
    """Earliest t >= start with |t - d| >= gap for every d in times.

    While t conflicts, every instant up to the furthest conflicting d + gap also conflicts with
    that d, so jumping there skips no valid time; t strictly increases, so this terminates.
    """
    t = start
    while True:
        conflicting = [d for d in times if abs(d - t) < gap]
        if not conflicting:
            return t
        t = max(conflicting) + gap


def _worst_window_total(
    past: tuple[tuple[datetime, Decimal], ...], at: datetime, mg: Decimal, span: timedelta
) -> Decimal:
    """Largest total, including the new dose, over windows (e - span, e] that contain ``at``.

    Such a window's total only rises when e passes a dose, so it suffices to try e = at and
    e = each logged dose in [at, at + span); windows not containing ``at`` are unchanged.
    """
    ends = [at, *(t for t, _ in past if at <= t < at + span)]
    with localcontext(_CTX):
        return max(mg + sum((m for t, m in past if e - span < t <= e), Decimal(0)) for e in ends)
