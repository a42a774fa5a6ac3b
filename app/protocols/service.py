"""Protocols: validate, version and read a patient's dosing plan and guard rules."""

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.audit import service as audit
from app.careteam import access
from app.db import REQUEST, forget_transaction_memo, transaction_memo
from app.doses import rules
from app.errors import Conflict, Invalid
from app.i18n import gettext as _
from app.i18n import ngettext
from app.protocols.models import ProtocolVersion, Route
from app.protocols.schedule import (
    PHASE_NAMES,
    Cadence,
    Phase,
    PhasePlan,
    most_sessions_within,
    shortest_gap,
)
from app.validation import ClientInput, SaneDate, date_range_problem, field_errors
from app.web.formats import format_datetime, format_number

PRESCRIBER_CHECKLIST = ("fasted", "no_sedatives", "no_driving", "safe_place")
# The holds a prescriber may let the patient override before dosing, in display order.
OVERRIDABLE_HOLDS = ("bp_hold", "pulse_hold", "sitter_required", "checklist_failed")
# Set in the editor, stored on the version as they are (as_input and save use this list).
SESSION_SAFETY_FIELDS = (
    "gate_valid_minutes", "observation_minutes", "emergency_lockout_hours", "pulse_hold_low",
    "pulse_hold_high", "overridable_holds",
)
# A daylight-saving change moves the real time between two sessions by this many hours.
DST_SHIFT_HOURS = 1
MAX_INTERVAL_HOURS = 720  # a 30-day minimum interval: the most the form takes
REASON_MAX = 500  # a version's reason: the column's length
# How long after its time an unlogged session counts as missed. Below an hour, a session logged a
# few minutes late would already be "missed" (and its caregivers alerted).
GRACE_MIN_HOURS = 1
GRACE_MAX_HOURS = 48
GRACE_USUAL_HOURS = 4
# A plan's start and a phase change may be set at most this many days ahead of the patient's today.
MAX_DAYS_AHEAD = 365
# No max_digits on these numbers: the bound and the two decimal places already keep them within
# their columns, and a bound is what a person needs to hear ("Enter 2000 or less."), where
# a digit count was checked first ("1e308": "should have no more than 8 digits").
Mg = Annotated[Decimal, Field(gt=0, le=2000, decimal_places=2, allow_inf_nan=False)]


class PhaseTemplate(ClientInput):
    model_config = ConfigDict(extra="forbid")

    cadence: Cadence
    at: time
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=list)
    every_n_days: Annotated[int, Field(ge=1, le=90)] | None = None
    weeks: Annotated[int, Field(ge=1, le=104)] | None = None

    @field_validator("at")
    @classmethod
    def _to_the_minute(cls, value: time) -> time:
        # Sessions, reminders and the form are to the minute: "10:00:30" would be stored as
        # given and shown as 10:00, a session half a minute off what the prescriber saw.
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError(_("Enter a time like %(example)s", example="10:00") + ".")
        return value

    @model_validator(mode="after")
    def _cadence_fields(self) -> "PhaseTemplate":
        if self.cadence == Cadence.WEEKDAYS:
            if not self.weekdays:
                raise ValueError(_("Choose at least one weekday."))
            self.every_n_days = None
        else:
            if self.every_n_days is None:
                raise ValueError(_("Enter how many days apart sessions are."))
            self.weekdays = []
        self.weekdays = sorted(set(self.weekdays))
        return self


class ProtocolInput(ClientInput):
    """Everything a prescriber sets. Validated the same way from the form and the API."""

    model_config = ConfigDict(extra="forbid")

    strength_mg: Mg
    halving_allowed: bool = False
    dose_mg: Mg
    route: Route = Route.SUBLINGUAL
    hold_minutes: Annotated[int, Field(ge=1, le=60)] = 15
    min_hours_between_doses: Annotated[
        Decimal, Field(gt=0, le=MAX_INTERVAL_HOURS, decimal_places=2, allow_inf_nan=False)
    ]
    max_mg_per_24h: Mg
    max_mg_per_7d: Mg
    # Hold thresholds have no default on purpose: no primary source gives one for troches.
    # They must be below the fixed emergency level (checked below, with a message that says why).
    bp_hold_systolic: Annotated[int, Field(ge=90)]
    bp_hold_diastolic: Annotated[int, Field(ge=50)]
    # Optional pulse limits: blank is no limit.
    pulse_hold_low: Annotated[int, Field(ge=30, le=100)] | None = None
    pulse_hold_high: Annotated[int, Field(ge=60, le=200)] | None = None
    sitter_required: bool = True
    required_checklist: list[Literal["fasted", "no_sedatives", "no_driving", "safe_place"]] = (
        Field(default_factory=list))
    fasting_hours: Annotated[int, Field(ge=0, le=24)] = 2
    sedative_free_hours: Annotated[int, Field(ge=0, le=168)] = 24
    # Session safety settings.
    gate_valid_minutes: Annotated[int, Field(ge=5, le=120)] = 30
    observation_minutes: Annotated[int, Field(ge=60, le=480)] = 120
    emergency_lockout_hours: Annotated[int, Field(ge=1, le=168)] = 24
    # Empty: no hold may be overridden before dosing. Too soon, the maxima, a recent emergency
    # reading and a pending safety review are not in the list: they can never be.
    overridable_holds: list[
        Literal["bp_hold", "pulse_hold", "sitter_required", "checklist_failed"]
    ] = Field(default_factory=list)
    grace_hours: Annotated[
        Decimal,
        Field(ge=GRACE_MIN_HOURS, le=GRACE_MAX_HOURS, decimal_places=2, allow_inf_nan=False),
    ] = Decimal(GRACE_USUAL_HOURS)
    early_refill_days: Annotated[int, Field(ge=0, le=90)] = 7
    induction: PhaseTemplate
    maintenance: PhaseTemplate | None = None
    taper: PhaseTemplate | None = None
    starts_on: SaneDate
    reason: Annotated[str, Field(min_length=1, max_length=REASON_MAX)]

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError(_("Say why, for the record."))
        return value

    # Cross-field checks are field validators (fields validate in declaration order, so the
    # ones they compare with are in `info.data` when valid): the error then sits next to the
    # field the prescriber has to change, not in a page-level message that marks no field.
    @field_validator("dose_mg")
    @classmethod
    def _whole_troches(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        strength = info.data.get("strength_mg")
        if strength is not None:
            halving = bool(info.data.get("halving_allowed"))
            problem = rules.validate_dose_amount(value, strength, halving)
            if problem:
                raise ValueError(dose_amount_message(problem, strength))
        return value

    @field_validator("max_mg_per_24h")
    @classmethod
    def _at_least_one_dose(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        dose = info.data.get("dose_mg")
        if dose is not None and dose > value:
            raise ValueError(_("The 24-hour maximum must be at least one dose."))
        return value

    @field_validator("max_mg_per_7d")
    @classmethod
    def _week_covers_day(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        day = info.data.get("max_mg_per_24h")
        if day is not None and day > value:
            raise ValueError(_("The 7-day maximum cannot be lower than the 24-hour maximum."))
        return value

    @field_validator("bp_hold_systolic")
    @classmethod
    def _systolic_below_emergency(cls, value: int) -> int:
        if value >= rules.CRISIS_SYSTOLIC:
            raise ValueError(_(
                "Enter less than %(v)s: at %(v)s systolic or more the emergency guidance "
                "applies whatever the hold.", v=rules.CRISIS_SYSTOLIC))
        return value

    @field_validator("bp_hold_diastolic")
    @classmethod
    def _diastolic_below_emergency(cls, value: int) -> int:
        if value >= rules.CRISIS_DIASTOLIC:
            raise ValueError(_(
                "Enter less than %(v)s: at %(v)s diastolic or more the emergency guidance "
                "applies whatever the hold.", v=rules.CRISIS_DIASTOLIC))
        return value

    @field_validator("bp_hold_diastolic")
    @classmethod
    def _diastolic_below_systolic(cls, value: int, info: ValidationInfo) -> int:
        systolic = info.data.get("bp_hold_systolic")
        if systolic is not None and value >= systolic:
            raise ValueError(_(
                "Enter less than %(v)s: the diastolic hold must be below the systolic hold.",
                v=systolic))
        return value

    @field_validator("starts_on")
    @classmethod
    def _starts_within_reach(cls, value: date, info: ValidationInfo) -> date:
        # The patient's today comes from the caller (save() passes it as context). A start in
        # the past is allowed: an edit sends the running plan's own start again, and a patient
        # already dosing keeps the schedule counted from the day they really began.
        today = (info.context or {}).get("today")
        if today is not None and (problem := too_far_ahead(value, today)):
            raise ValueError(problem)
        return value

    @field_validator("pulse_hold_high")
    @classmethod
    def _pulse_limits_apart(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("pulse_hold_low")
        if value is not None and low is not None and value <= low:
            raise ValueError(_("The upper pulse limit must be above the lower one."))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ProtocolInput":
        self.required_checklist = [i for i in PRESCRIBER_CHECKLIST if i in self.required_checklist]
        self.overridable_holds = [h for h in OVERRIDABLE_HOLDS if h in self.overridable_holds]
        return self


def date_bounds(timezone: str, now: datetime) -> tuple[date, date]:
    """The first and last day a phase change may take effect (and the last a plan may start):
    the patient's today, in their time zone, and MAX_DAYS_AHEAD days after it."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return today, today + timedelta(days=MAX_DAYS_AHEAD)


def too_far_ahead(value: date, today: date) -> str | None:
    last = today + timedelta(days=MAX_DAYS_AHEAD)
    if value <= last:
        return None
    return _("Enter a date at most %(days)s days ahead: %(last)s or earlier.",
             days=MAX_DAYS_AHEAD, last=format_datetime(last, "date_year"))


def dose_amount_message(code: str, strength_mg: Decimal) -> str:
    return {
        "not_finite": _("Enter a number of mg."),
        "not_positive": _("Enter more than 0 mg."),
        "not_whole_troche": _(
            "Use whole troches of %(mg)s mg: halving is not allowed.", mg=_mg(strength_mg)
        ),
        "not_half_troche": _("Use whole or half troches of %(mg)s mg.", mg=_mg(strength_mg)),
        "absurd": _("That is more than 10 troches: check the amount."),
    }.get(code, _("That amount is not valid."))


def _mg(value: Decimal) -> str:
    """Read in the viewer's locale (app/web/formats.py): 12.5, 1,200."""
    return format_number(value)


# --- reading --------------------------------------------------------------------------------


_CURRENT = "protocols.current"  # transaction memo: {patient_id: version or None}


def current(session: Session, patient_id: uuid.UUID) -> ProtocolVersion | None:
    """The patient's protocol now. In a request it is read once per transaction: Today, its
    supply card and each item of a sync batch all ask (forgotten when the transaction ends or
    a version is saved)."""
    if not session.info.get(REQUEST):
        return _read_current(session, patient_id)
    known = transaction_memo(session, _CURRENT, dict)
    if patient_id not in known:
        known[patient_id] = _read_current(session, patient_id)
    return known[patient_id]


def _read_current(session: Session, patient_id: uuid.UUID) -> ProtocolVersion | None:
    return session.exec(
        select(ProtocolVersion)
        .where(ProtocolVersion.patient_id == patient_id)
        .order_by(col(ProtocolVersion.version).desc())
    ).first()


@event.listens_for(Session, "after_flush")
def _forget_current_on_save(session, _context) -> None:
    if any(isinstance(obj, ProtocolVersion)
           for obj in (*session.new, *session.dirty, *session.deleted)):
        forget_transaction_memo(session, _CURRENT)


def history(session: Session, patient_id: uuid.UUID) -> list[ProtocolVersion]:
    return list(
        session.exec(
            select(ProtocolVersion)
            .where(ProtocolVersion.patient_id == patient_id)
            .order_by(col(ProtocolVersion.version).desc())
        ).all()
    )


def authors(session: Session, versions: list[ProtocolVersion]) -> dict[uuid.UUID, str]:
    """Who saved each of `versions`: user id → display name, in one query."""
    ids = {v.created_by_id for v in versions}
    if not ids:
        return {}
    return {u.id: u.display_name
            for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}


def plans(version: ProtocolVersion) -> list[PhasePlan]:
    """The schedule as the pure schedule module wants it."""
    result = []
    for entry in version.timeline:
        template = version.phases.get(entry["phase"])
        if not template:
            continue
        result.append(_plan_of(template, Phase(entry["phase"]),
                               date.fromisoformat(entry["starts_on"]), template.get("weeks")))
    return result


def _plan_of(template: Mapping, phase: Phase, starts_on: date,
             weeks: int | None = None) -> PhasePlan:
    """A stored phase template (times as text) as a plan from `starts_on`."""
    return PhasePlan(phase=phase, starts_on=starts_on, cadence=Cadence(template["cadence"]),
                     at=time.fromisoformat(template["at"]),
                     weekdays=frozenset(template.get("weekdays") or ()),
                     every_n_days=template.get("every_n_days"), weeks=weeks)


def min_interval(version: ProtocolVersion) -> timedelta:
    """The plan's minimum time between doses, as a duration (pages and reminders compare
    sessions and doses against it; the gate's own rule is rules.dose_limit_reasons)."""
    return timedelta(hours=float(version.min_hours_between_doses))


def policy(version: ProtocolVersion) -> rules.GuardPolicy:
    return rules.GuardPolicy(
        min_hours_between_doses=version.min_hours_between_doses,
        max_mg_per_24h=version.max_mg_per_24h,
        max_mg_per_7d=version.max_mg_per_7d,
        bp_hold_systolic=version.bp_hold_systolic,
        bp_hold_diastolic=version.bp_hold_diastolic,
        sitter_required=version.sitter_required,
        required_checklist=frozenset(version.required_checklist),
        emergency_lockout_hours=version.emergency_lockout_hours,
        pulse_hold_low=version.pulse_hold_low,
        pulse_hold_high=version.pulse_hold_high,
        overridable=frozenset(version.overridable_holds),
    )


def current_phase(version: ProtocolVersion, today: date) -> str | None:
    phase = None
    for entry in version.timeline:
        if date.fromisoformat(entry["starts_on"]) <= today:
            phase = entry["phase"]
    return phase


def interval_warning(min_hours: Decimal, templates: Iterable[Mapping]) -> str | None:
    """Why this minimum interval would hold a scheduled session, or None.

    Sessions keep their local wall time, so across the spring daylight-saving change two of
    them are an hour closer than the wall clock says: every 3 days at 10:00 is 72 hours apart
    on the wall clock but 71 across the change, and a 72-hour minimum would hold that session.
    ``templates`` are phase templates (every phase the protocol has, whether or not it is on
    the timeline yet). A warning, not an error: the prescriber may mean it.
    """
    gap = shortest_gap(templates)
    if gap is None:
        return None
    nominal = Decimal(int(gap.total_seconds())) / 3600
    shortest = nominal - DST_SHIFT_HOURS
    if min_hours <= shortest:
        return None
    if min_hours > nominal:
        # Every session that close is held, all year: the schedule is what to look at, and
        # the warning must not read as advice to shorten a safety minimum (a prescriber read
        # "Use 23 hours or less" under a 48-hour minimum and daily sessions).
        return _(
            "Sessions are as little as %(gap)s hours apart, less than the %(min)s-hour minimum "
            "between doses: every session that close to the one before would be held as too "
            "soon. Space the sessions at least %(min)s hours apart, or check the minimum.",
            gap=_mg(nominal), min=_mg(min_hours))
    return _(
        "Sessions are as little as %(gap)s hours apart; across a daylight-saving change they "
        "are %(dst)s hours apart, so a %(min)s-hour minimum would hold that session as too "
        "soon, for up to an hour. If that wait is not what you mean, change the session times.",
        gap=_mg(nominal), dst=_mg(shortest), min=_mg(min_hours),
    )


# Published at-home regimens dose once a day at most (PRODUCT.md): a shorter minimum that the
# 24-hour maximum also allows lets a second troche be logged the same day, as permitted.
SHORT_INTERVAL_HOURS = Decimal(12)


def short_interval_warning(min_hours: Decimal, dose_mg: Decimal | None,
                           max_mg_per_24h: Decimal | None) -> str | None:
    """Why a minimum this short may not be meant (0.5 hours was accepted without a word), or
    None: only when the 24-hour maximum lets two doses through as well."""
    if min_hours >= SHORT_INTERVAL_HOURS or dose_mg is None or max_mg_per_24h is None:
        return None
    if max_mg_per_24h < 2 * dose_mg:
        return None  # the 24-hour maximum holds a second dose anyway
    return _(
        "A minimum of %(min)s hours between doses, with a 24-hour maximum of %(max)s mg, lets "
        "a second %(dose)s mg dose be taken the same day. At-home regimens dose once a day at "
        "most: check that this is what you mean.",
        min=_mg(min_hours), max=_mg(max_mg_per_24h), dose=_mg(dose_mg))


def interval_warnings(min_hours: Decimal, templates: Iterable[Mapping], dose_mg: Decimal | None,
                      max_mg_per_24h: Decimal | None) -> str | None:
    """``interval_warning`` and ``short_interval_warning``, together."""
    found = [interval_warning(min_hours, templates),
             short_interval_warning(min_hours, dose_mg, max_mg_per_24h)]
    return " ".join(w for w in found if w) or None


def _over_maximum_words(week: bool, only_across_clock_change: bool, count: int,
                        total: str, limit: str) -> str:
    """The maxima warning's sentence for the 7-day (`week`) or 24-hour maximum. Over it only
    across a daylight-saving change, it says so: a prescriber read "in some 7 days … 3 sessions"
    as every week held and raised the maximum for it."""
    if week and only_across_clock_change:
        return ngettext(
            "Only across a daylight-saving change: sessions keep their clock time, so that week "
            "some 7 days hold %(num)s session (%(total)s mg), over the 7-day maximum of "
            "%(max)s mg, and one would be held.",
            "Only across a daylight-saving change: sessions keep their clock time, so that week "
            "some 7 days hold %(num)s sessions (%(total)s mg), over the 7-day maximum of "
            "%(max)s mg, and one would be held.", count, total=total, max=limit)
    if only_across_clock_change:
        return ngettext(
            "Only across a daylight-saving change: sessions keep their clock time, so that day "
            "some 24 hours hold %(num)s session (%(total)s mg), over the 24-hour maximum of "
            "%(max)s mg, and one would be held.",
            "Only across a daylight-saving change: sessions keep their clock time, so that day "
            "some 24 hours hold %(num)s sessions (%(total)s mg), over the 24-hour maximum of "
            "%(max)s mg, and one would be held.", count, total=total, max=limit)
    if week:
        return ngettext(
            "In some 7 days this schedule has %(num)s session (%(total)s mg), over the 7-day "
            "maximum of %(max)s mg, so sessions would be held.",
            "In some 7 days this schedule has %(num)s sessions (%(total)s mg), over the 7-day "
            "maximum of %(max)s mg, so sessions would be held.", count, total=total, max=limit)
    return ngettext(
        "In some 24 hours this schedule has %(num)s session (%(total)s mg), over the 24-hour "
        "maximum of %(max)s mg, so sessions would be held.",
        "In some 24 hours this schedule has %(num)s sessions (%(total)s mg), over the "
        "24-hour maximum of %(max)s mg, so sessions would be held.", count, total=total,
        max=limit)


def maxima_warning(dose_mg: Decimal, max_24h: Decimal, max_7d: Decimal,
                   templates: Iterable[Mapping], tz: str, around: date) -> str | None:
    """Why the schedule's own sessions would break a rolling maximum, or None: the most
    sessions any phase puts in 24 hours or 7 days in the patient's zone over a year from
    `around` (an hour closer across a daylight-saving change, schedule.most_sessions_within) at
    the prescribed dose. A warning, as ``interval_warning``: a session over the limit would be
    held, then read missed."""
    zone = ZoneInfo(tz)
    plans = []
    for template in templates:
        try:
            plans.append(_plan_of(template, Phase.INDUCTION, around))
        except (KeyError, TypeError, ValueError):
            continue  # an unreadable phase has its own error

    def most(span: timedelta, where: ZoneInfo = zone) -> int:
        return max((most_sessions_within(p, span, where) for p in plans), default=0)

    found = []
    for week, span, limit in ((True, timedelta(days=7), max_7d),
                              (False, timedelta(hours=24), max_24h)):
        count = most(span)
        if not count or count * dose_mg <= limit:
            continue
        # A clock that never changes: the schedule's ordinary weeks and days.
        usual = most(span, ZoneInfo("UTC"))
        only_across = usual * dose_mg <= limit
        found.append(_over_maximum_words(week, only_across, count, _mg(count * dose_mg),
                                         _mg(limit)))
        if not only_across and count > usual:
            found.append(_("Sessions keep their clock time, so across a daylight-saving change "
                           "two of them are an hour closer."))
    return " ".join(found) or None


def version_warning(version: ProtocolVersion, tz: str, around: date) -> str | None:
    """``interval_warning`` and ``maxima_warning`` for a saved version."""
    found = [interval_warnings(version.min_hours_between_doses, version.phases.values(),
                               version.dose_mg, version.max_mg_per_24h),
             version_maxima_warning(version, tz, around)]
    return " ".join(w for w in found if w) or None


def version_maxima_warning(version: ProtocolVersion, tz: str, around: date) -> str | None:
    return maxima_warning(version.dose_mg, version.max_mg_per_24h, version.max_mg_per_7d,
                          version.phases.values(), tz, around)


def values_warning(values: Mapping) -> str | None:
    """``interval_warning`` for values as submitted (ProtocolInput's shape, possibly invalid):
    what can be read is used, the rest (which has its own error) is left out."""
    min_hours = _readable_min_hours(values)
    if min_hours is None:
        return None
    return interval_warnings(min_hours, _readable_phases(values),
                             _readable_amount(values, "dose_mg"),
                             _readable_amount(values, "max_mg_per_24h"))


def values_short_interval_warning(values: Mapping) -> str | None:
    """``short_interval_warning`` for values as submitted, or None where one of them cannot be
    read (it has its own error)."""
    min_hours = _readable_min_hours(values)
    if min_hours is None:
        return None
    return short_interval_warning(min_hours, _readable_amount(values, "dose_mg"),
                                  _readable_amount(values, "max_mg_per_24h"))


def _readable_min_hours(values: Mapping) -> Decimal | None:
    """The submitted minimum interval when it reads as one the form accepts, or None (its own
    error says so, for a number past any format such as 1e308 too)."""
    try:
        min_hours = Decimal(str(values.get("min_hours_between_doses", "")).strip())
    except InvalidOperation:
        return None
    if not min_hours.is_finite() or not 0 < min_hours <= MAX_INTERVAL_HOURS:
        return None
    return min_hours


def _readable_amount(values: Mapping, name: str) -> Decimal | None:
    """A submitted amount that reads as a positive number, or None (it has its own error)."""
    try:
        amount = Decimal(str(values.get(name, "")).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


def values_maxima_warning(values: Mapping, tz: str, around: date) -> str | None:
    """``maxima_warning`` for values as submitted, when the amounts and a phase can be read."""
    amounts = [_readable_amount(values, name)
               for name in ("dose_mg", "max_mg_per_24h", "max_mg_per_7d")]
    if not all(a is not None and a < 10**6 for a in amounts):
        return None  # each has its own error
    return maxima_warning(*amounts, _readable_phases(values), tz, around)


def _readable_phases(values: Mapping) -> list[dict]:
    """The submitted phases that read as phases; the others have their own errors."""
    templates = []
    for name in PHASE_NAMES:
        raw = values.get(name)
        if raw is None:
            continue
        try:
            templates.append(PhaseTemplate.model_validate(raw).model_dump(mode="json"))
        except ValidationError:
            continue
    return templates


def as_input(version: ProtocolVersion) -> dict:
    """A version as form values, to prefill the next edit."""
    values: dict = {
        name: getattr(version, name)
        for name in (
            "strength_mg", "halving_allowed", "dose_mg", "route", "hold_minutes",
            "min_hours_between_doses", "max_mg_per_24h", "max_mg_per_7d", "bp_hold_systolic",
            "bp_hold_diastolic", "sitter_required", "required_checklist", "fasting_hours",
            "sedative_free_hours", "grace_hours", "early_refill_days", *SESSION_SAFETY_FIELDS,
        )
    }
    values["overridable_holds"] = list(version.overridable_holds)
    values["phases"] = version.phases
    values["starts_on"] = version.timeline[0]["starts_on"] if version.timeline else ""
    return values


# --- writing --------------------------------------------------------------------------------


def _planned(starts_on: date, phases: dict) -> list[dict]:
    """The timeline a protocol gets on its own: induction, then maintenance after its weeks."""
    timeline = [{"phase": Phase.INDUCTION.value, "starts_on": starts_on.isoformat()}]
    weeks = (phases.get(Phase.INDUCTION.value) or {}).get("weeks")
    if Phase.MAINTENANCE.value in phases and weeks:
        start = starts_on + timedelta(weeks=weeks)
        timeline.append({"phase": Phase.MAINTENANCE.value, "starts_on": start.isoformat()})
    return timeline


def _timeline(data: ProtocolInput) -> list[dict]:
    return _planned(data.starts_on, _phases(data))


def _phases(data: ProtocolInput) -> dict:
    phases = {}
    for name in PHASE_NAMES:
        template: PhaseTemplate | None = getattr(data, name)
        if template is not None:
            phases[name] = template.model_dump(mode="json")
    return phases


def _next_version(session: Session, patient_id: uuid.UUID) -> int:
    latest = current(session, patient_id)
    return latest.version + 1 if latest else 1


def _claim_id(session: Session, version_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
    """True when this form was already saved (a double submit): nothing more to do."""
    existing = session.get(ProtocolVersion, version_id)
    if existing is None:
        return False
    if existing.patient_id != patient_id:
        raise Conflict(_("That form was already used for something else. Please start again."))
    return True


def save(
    session: Session,
    *,
    prescriber: User,
    patient_id: uuid.UUID,
    version_id: uuid.UUID,
    values: dict,
    now: datetime,
) -> ProtocolVersion:
    """A new protocol version from the prescriber's values (raises Invalid with field errors)."""
    patient = access.require_patient_access(session, prescriber, patient_id,
                                            access.Purpose.MANAGE_PROTOCOL)
    _serialise_with_doses(session, patient_id)
    if _claim_id(session, version_id, patient_id):
        return session.get(ProtocolVersion, version_id)  # type: ignore[return-value]
    today = date_bounds(patient.timezone, now)[0]
    try:
        data = ProtocolInput.model_validate(values, context={"today": today})
    except ValidationError as exc:
        raise Invalid(errors=field_errors(exc)) from None
    previous = current(session, patient_id)
    timeline = _timeline(data)
    if previous is not None and previous.timeline and (
        previous.timeline[0]["starts_on"] == data.starts_on.isoformat()
    ) and previous.timeline != _planned(data.starts_on, previous.phases):
        # Same start date and the prescriber moved phases since: keep those moves. (Without
        # moves the timeline follows the edit, e.g. a longer induction moves maintenance.)
        timeline = [e for e in previous.timeline if e["phase"] in _phases(data)] or timeline
    version = ProtocolVersion(
        id=version_id,
        patient_id=patient_id,
        version=_next_version(session, patient_id),
        created_by_id=prescriber.id,
        created_at=now,
        reason=data.reason,
        **data.model_dump(
            include={
                "strength_mg", "halving_allowed", "dose_mg", "route", "hold_minutes",
                "min_hours_between_doses", "max_mg_per_24h", "max_mg_per_7d",
                "bp_hold_systolic", "bp_hold_diastolic", "sitter_required",
                "required_checklist", "fasting_hours", "sedative_free_hours", "grace_hours",
                "early_refill_days", *SESSION_SAFETY_FIELDS,
            }
        ),
        phases=_phases(data),
        timeline=timeline,
    )
    return _store(session, version, prescriber, "protocol")


def change_phase(
    session: Session,
    *,
    prescriber: User,
    patient_id: uuid.UUID,
    version_id: uuid.UUID,
    phase: str,
    effective_on: date | None,
    reason: str,
    now: datetime,
) -> ProtocolVersion:
    """Move the patient to `phase` from `effective_on`; later planned moves are dropped.

    `effective_on` is from the patient's today (in their time zone) to MAX_DAYS_AHEAD days
    after: a version applies from when it is saved, so an earlier date would only misstate the
    record."""
    patient = access.require_patient_access(session, prescriber, patient_id,
                                            access.Purpose.MANAGE_PROTOCOL)
    _serialise_with_doses(session, patient_id)
    if _claim_id(session, version_id, patient_id):
        return session.get(ProtocolVersion, version_id)  # type: ignore[return-value]
    previous = current(session, patient_id)
    errors = {}
    if previous is None:
        raise Invalid(_("Set up a protocol first."))
    if phase not in previous.phases:
        errors["phase"] = _("This protocol has no schedule for that phase.")
    if effective_on is None:
        errors["effective_on"] = _("Enter the date the change takes effect.")
    elif problem := date_range_problem(effective_on):
        errors["effective_on"] = problem
    else:
        first = date_bounds(patient.timezone, now)[0]
        if effective_on < first:
            errors["effective_on"] = _(
                "A phase change cannot be backdated: enter %(first)s (today in the patient's "
                "time zone) or later.", first=format_datetime(first, "date_year"))
        elif problem := too_far_ahead(effective_on, first):
            errors["effective_on"] = problem
    reason = " ".join(reason.split())
    if not reason:
        errors["reason"] = _("Say why, for the record.")
    elif len(reason) > REASON_MAX:  # the column's length (a 500 on PostgreSQL past it)
        errors["reason"] = _("Use at most %(n)s characters.", n=REASON_MAX)
    if errors:
        raise Invalid(errors=errors)
    assert effective_on is not None
    kept = [e for e in previous.timeline if date.fromisoformat(e["starts_on"]) < effective_on]
    timeline = [*kept, {"phase": phase, "starts_on": effective_on.isoformat()}]
    template = previous.phases[phase]
    if phase == Phase.INDUCTION and template.get("weeks") and "maintenance" in previous.phases:
        # Back to induction: maintenance follows again after the induction weeks.
        after = effective_on + timedelta(weeks=template["weeks"])
        timeline.append({"phase": Phase.MAINTENANCE.value, "starts_on": after.isoformat()})
    # Attribute copies, not model_dump(): values loaded from the database (route as a plain
    # str) make pydantic's serializer warn on every phase change.
    renewed = {"id", "version", "created_by_id", "created_at", "reason", "timeline"}
    copied = {name: getattr(previous, name) for name in ProtocolVersion.model_fields
              if name not in renewed}
    version = ProtocolVersion(
        **copied,
        id=version_id,
        version=previous.version + 1,
        created_by_id=prescriber.id,
        created_at=now,
        reason=reason,
        timeline=timeline,
    )
    return _store(session, version, prescriber, "phase")


def _serialise_with_doses(session: Session, patient_id: uuid.UUID) -> None:
    """A new version changes how the next dose is judged (its safety check, its limits), so it
    is saved under the patient's write lock, as a dose is judged: a dose sent meanwhile waits
    for the save and sees it (a check made under the old plan is then refused), rather than
    being judged by a plan replaced in the same instant."""
    from app.sync.service import lock_patient  # at call time: sync imports every domain

    lock_patient(session, patient_id)


def _store(session: Session, version: ProtocolVersion, prescriber: User,
           change: str) -> ProtocolVersion:
    """Add a version; if another save took this version number first, say so plainly.
    Audited as a protocol change: which version and what kind of edit, never the doses."""
    try:
        with session.begin_nested():
            session.add(version)
            session.flush()
    except IntegrityError:
        raise Conflict(
            _("Someone saved this protocol a moment ago. Reload to see it, then try again.")
        ) from None
    audit.record(session, action="protocol.change", actor=prescriber,
                 patient_id=version.patient_id, now=version.created_at,
                 details={"change": change, "version": version.version})
    return version
