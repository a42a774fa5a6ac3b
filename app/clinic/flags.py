"""Flags on the prescriber's patient list: what about each patient needs a look, most urgent first.

Two halves:

* ``gather(session, patients, now)`` reads the facts for MANY patients in a fixed number of
  queries (never one per patient), so a list of a few hundred stays quick.
* ``evaluate(facts, now)`` is pure: facts in, flags out, ``now`` passed in. The rules below are
  tested as tables in tests/clinic/test_flags.py.

Each flag has a ``key`` naming the occurrence it is about (an event id, a dose id, the local date
of the latest missed session, the latest PHQ-9's id). A prescriber's review (app/clinic/models.py
FlagReview) clears that occurrence AND every earlier one of the same code; a later occurrence
flags again. A high-risk screen is the exception: it is cleared only by the safety review that
ends its dosing hold (app/safety/service.py review), one event at a time.

The rules, in urgency order (most urgent first):

cssrs_high       a safety event that holds dosing (a high-risk C-SSRS screen) not yet reviewed;
                 one flag per event.
screener_pending a PHQ-9 item 9 answer above 0 that no C-SSRS screener has followed yet, not
                 yet reviewed, in the last 90 days: nobody knows yet whether it was a passing
                 thought or a plan, and for its first two weeks dosing holds for it (app/safety/
                 service.py states; the review ends the hold), so it ranks above the screened
                 events. One flag per event; once a screener is answered the same event (same
                 key) is a safety_event saying what it found.
safety_event     any other safety event the patient's page lists to review (PHQ-9 item 9 above
                 0 and screened; a positive screen short of high risk; a severe side effect;
                 hard to rouse or a breathing concern in a session; an offline check the server
                 disagreed with; a dose taken against a hold), not yet reviewed, in the last 90
                 days (the page's window); one flag per event, cleared by the event's own
                 review, as a high-risk screen is. A crisis reading has a flag of its own
                 (bp_emergency), so its event is not flagged twice. A dose against a hold was
                 flagged `override` instead, far down the list, and reviewing that flag left its
                 high-risk event open on the patient's page (a tester): one incident, one flag,
                 one review. These flags rank by the event's severity (high, moderate, low,
                 then not known), on one patient's page and across the list; a severe one
                 above bp_emergency, the others below it (RANKS).
bp_emergency     a reading at or above 180/120 (gate or check-in) in the last 14 days.
bp_hold          a safety check held for blood pressure (at or above the protocol's hold level)
                 in the last 14 days.
override         a dose taken through a guard override the prescriber allows (a hold the patient
                 may override with a reason), last 30 days. A dose against a hold is a
                 safety_event (its event), not this.
struck_flagged   a dose taken against a hold or through an override, later marked entered in
                 error, last 30 days (by when it was taken). Striking it takes it out of the
                 summaries, the limits and the override count; the strike may be right (the
                 same troche logged twice) or may hide a dose that happened, so the prescriber
                 looks. A dose against a hold keeps its own event (safety_event) as well.
cleared_by_correction
                 a dose within the limits only because a dose near it was corrected or marked
                 entered in error (app/doses/rules.py limits_met_only_after_corrections), last
                 30 days: striking or moving a real dose must not make the next look clean.
missed_sessions  scheduled sessions missed in the last 14 days, each judged by the protocol version
                 in force when it was due (a version applies from when it was saved until the
                 next one: a new time or phase never turns sessions taken on the old schedule
                 into missed ones; app/protocols/schedule.py occurrences_in_force), with the
                 same matching of doses to sessions as the patient's Today.
late_or_extra    doses flagged late_entry (logged over an hour after) or extra (matching no
                 session), last 30 days.
supply           a troche count that did not match the ledger, or a refill flagged early, last
                 30 days.
dose_creep       the mg taken in the last 7 days is more than ONE DOSE above what the protocol
                 scheduled in those 7 days: taken > the dose of each scheduled session (under
                 the version in force when it was due) + the current dose. Sessions are counted
                 generously (from 7 days + the grace period ago to now + the due window), so a
                 dose taken a little early or late at either edge of the window never flags on
                 its own. No protocol, no rule.
phq9_worse       the latest PHQ-9 is 5 or more points above the one before, or in a worse band.
no_data          nothing logged (no dose, check-in or questionnaire, by anyone) for NO_DATA_DAYS
                 days, counted from the last entry or, when there is none, from when treatment
                 began (the first protocol, or its first session date if later). Only for
                 patients with a protocol: nobody expects entries before treatment starts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.checkins.instruments import CATALOGUE
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent, severity
from app.clinic.models import FlagReview
from app.doses.models import Dose, DoseStatus, GateCheck, LedgerEntry
from app.doses.service import CLEARED_BY_CORRECTION
from app.i18n import gettext as _
from app.i18n import ngettext
from app.protocols import schedule, versions
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from app.web.formats import format_number

# In urgency order, most urgent first: each flag code, and a safety event's by its severity
# (app/checkins/models.py severity). A reading at or above 180/120 stops dosing, as a high-risk
# screen does, so it ranks above the safety events that do not: a low-risk item 9 answer from
# three weeks ago sat above a crisis reading of five minutes ago (a tester). Severe events (hard
# to rouse, a breathing concern, a severe side effect, a dose against a hold) stay above it.
# Events of one severity tied, and the list went by name.
RANKS: tuple[tuple[str, str | None], ...] = (
    ("cssrs_high", None),
    ("screener_pending", None),
    ("safety_event", "high"),
    ("bp_emergency", None),
    ("safety_event", "moderate"),
    ("safety_event", "low"),
    ("safety_event", None),  # severity not known
    ("bp_hold", None),
    ("override", None),
    ("struck_flagged", None),
    ("cleared_by_correction", None),
    ("missed_sessions", None),
    ("late_or_extra", None),
    ("supply", None),
    ("dose_creep", None),
    ("phq9_worse", None),
    ("no_data", None),
)
# Each code once, where it first ranks (the list's filter and the API name them in this order).
CODES: tuple[str, ...] = tuple(dict.fromkeys(code for code, _severity in RANKS))
_RANK = {rank: len(RANKS) - i for i, rank in enumerate(RANKS)}  # higher is more urgent


def urgency(code: str, severity: str | None = None) -> int:
    """How urgent a flag is: its code's rank, a safety event's by its severity."""
    return _RANK.get((code, severity), _RANK[(code, None)])


# Each code's urgency when nothing more is known of it.
URGENCY: dict[str, int] = {code: urgency(code) for code in CODES}

BP_DAYS = 14
# Safety events to review are flagged as long as the patient's page lists them (90 days).
EVENT_DAYS = 90
# The safety events flagged as safety_event (or screener_pending): every kind but those with a
# flag of their own.
EVENT_KINDS = ("phq9_item9", "positive_screen", "severe_side_effect", "hard_to_rouse",
               "breathing_concern", "offline_gate_disagreed", "dose_against_hold")
# The codes whose key is a safety event's id, reviewed by reviewing the event.
EVENT_CODES = ("cssrs_high", "screener_pending", "safety_event")
MISSED_DAYS = 14
RECENT_DAYS = 30  # override, cleared_by_correction, late_or_extra, supply
CREEP_DAYS = 7
NO_DATA_DAYS = 7
PHQ9_RISE = 5
# Reviews older than this are not read: a windowed occurrence (30 days at most) is always
# reviewed after it happened, so this only lets a standing state flag (a worse PHQ-9, no data,
# dose creep) that was reviewed long ago come back for another look.
REVIEW_HORIZON = timedelta(days=90)
# Doses are matched to sessions as on the patient's Today (app/doses/service.py DUE_WINDOW).
DUE_WINDOW = timedelta(hours=2)
FUTURE_TOLERANCE = timedelta(minutes=10)
# Doses read for the rules: the longest window, plus room to match sessions near its start.
_DOSE_LOOKBACK = timedelta(days=RECENT_DAYS) + timedelta(days=2)
# Protocol versions read for the rules: those in force since the earliest session a rule looks
# at (settled_until: MISSED_DAYS + 1 days and the grace, which a protocol keeps within 48 hours).
_VERSION_LOOKBACK = timedelta(days=MISSED_DAYS + 1) + timedelta(hours=48)
_FOREVER = datetime.min.replace(tzinfo=UTC)
# The PHQ-9s and the last entries are looked for here first (see gather).
RECENT_LOOKBACK = timedelta(days=90)
LATE_OR_EXTRA_FLAGS = frozenset({"late_entry", "extra"})
# A dose with either, marked entered in error, is flagged struck_flagged.
AGAINST_RULES_FLAGS = frozenset({"against_hold", "override"})
SUPPLY_FLAGS = frozenset({"discrepancy", "early_refill"})


def code_label(code: str) -> str:
    """A flag code in a few words, for the filter and the badges."""
    return {
        "cssrs_high": _("High-risk screen to review"),
        "screener_pending": _("C-SSRS screener not answered"),
        "safety_event": _("Safety event to review"),
        "bp_emergency": _("Blood pressure emergency"),
        "bp_hold": _("Blood pressure hold"),
        "override": _("Dose taken through an override"),
        "struck_flagged": _("Held dose marked in error"),
        "cleared_by_correction": _("Limits met only after a correction"),
        "missed_sessions": _("Missed sessions"),
        "late_or_extra": _("Late or extra doses"),
        "supply": _("Supply: count or early refill"),
        "dose_creep": _("Dose creep"),
        "phq9_worse": _("PHQ-9 worse"),
        "no_data": _("No data"),
    }.get(code, code)


@dataclass(frozen=True)
class Flag:
    code: str
    message: str
    since: datetime
    key: str
    urgency: int


@dataclass(frozen=True)
class Seen:
    """One occurrence: when, the key a review names it by, and for a supply flag which kind
    (a count that did not match, or an early refill)."""

    at: datetime
    key: str
    what: str = ""


@dataclass(frozen=True)
class EventFact:
    """A safety event to review (safety_event): the key is the event's id."""

    at: datetime
    key: str
    kind: str
    level: str
    screened_risk: str | None = None
    instrument: str = ""


@dataclass(frozen=True)
class DoseFact:
    key: str
    taken_at: datetime
    mg: Decimal
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Phq9:
    key: str
    completed_at: datetime
    score: int
    band: str | None


@dataclass
class PatientFacts:
    """What the rules need about one patient. Built by `gather`, or by hand in tests."""

    timezone: str = "UTC"
    # The current protocol: its schedule, dose and grace; None without a protocol.
    plans: list[schedule.PhasePlan] | None = None
    dose_mg: Decimal | None = None
    grace: timedelta = timedelta(hours=4)
    phase: str | None = None
    # The versions in force over the rules' windows, oldest first, and each one's dose by
    # version number: past sessions are judged by the version in force when they were due.
    # None (facts built by hand): the current protocol, in force all along.
    in_force: list[schedule.InForce] | None = None
    doses_mg: dict[int, Decimal] = field(default_factory=dict)
    # When entries began to be expected (treatment start); None without a protocol.
    started_at: datetime | None = None
    pending_reviews: list[Seen] = field(default_factory=list)
    events_to_review: list[EventFact] = field(default_factory=list)
    bp_emergencies: list[Seen] = field(default_factory=list)
    bp_holds: list[Seen] = field(default_factory=list)
    doses: list[DoseFact] = field(default_factory=list)  # recorded doses, the last month
    # Doses of the last month taken against a hold or through an override, then marked
    # entered in error (keyed by the dose's id, at when it was taken).
    struck_flagged: list[Seen] = field(default_factory=list)
    supply: list[Seen] = field(default_factory=list)
    phq9: list[Phq9] = field(default_factory=list)  # the latest two, oldest first
    last_logged: datetime | None = None
    reviewed: frozenset[tuple[str, str]] = frozenset()  # (code, key)
    # When the oldest review read stops counting (REVIEW_HORIZON): a flag it hid may return.
    reviews_lapse_at: datetime | None = None

    def schedules(self) -> list[schedule.InForce]:
        if self.in_force is not None:
            return self.in_force
        if not self.plans:
            return []
        return [schedule.InForce(version=0, since=_FOREVER, plans=tuple(self.plans),
                                 grace=self.grace)]

    def sessions(self, start: datetime, end: datetime) -> list[schedule.Occurrence]:
        """The sessions from `start` to `end`, each under the version in force when due (and
        carrying its grace)."""
        return schedule.occurrences_in_force(
            self.schedules(), ZoneInfo(self.timezone), start, end,
            doses=[d.taken_at for d in self.doses], due_window=DUE_WINDOW)

    def widest_grace(self) -> timedelta:
        return max((v.grace for v in self.schedules()), default=self.grace)


# --- the rules (pure) ---------------------------------------------------------------------------


def _open(code: str, seen: Iterable[Seen], reviewed: frozenset[tuple[str, str]]) -> list[Seen]:
    """The occurrences after the latest reviewed one (a review clears it and all before it)."""
    ordered = sorted(seen, key=lambda s: (s.at, s.key))
    last_reviewed = max((i for i, s in enumerate(ordered) if (code, s.key) in reviewed),
                        default=-1)
    return ordered[last_reviewed + 1:]


def _supply_words(still: Sequence[Seen]) -> str:
    """Counts and early refills, each by its own number: "2 troche counts that did not match,
    or early refills" was read as two of each for one of each (a tester)."""
    refills = sum(1 for s in still if s.what == "early_refill")
    counts = len(still) - refills
    counted = ngettext("%(num)s troche count that did not match",
                       "%(num)s troche counts that did not match", counts)
    refilled = ngettext("%(num)s early refill", "%(num)s early refills", refills)
    if counts and refills:
        return _("%(counts)s and %(refills)s in 30 days.", counts=counted, refills=refilled)
    return _("%(what)s in 30 days.", what=counted if counts else refilled)


def _flag(code: str, message: str, since: datetime, key: str, severity: str | None = None
          ) -> Flag:
    return Flag(code=code, message=message, since=since, key=key,
                urgency=urgency(code, severity))


def _summary(code: str, seen: Sequence[Seen], reviewed, message) -> list[Flag]:
    """One flag for a code's occurrences not yet reviewed, worded by `message` from them."""
    still = _open(code, seen, reviewed)
    if not still:
        return []
    words = message(still)
    if done := len(seen) - len(still):
        # "2 … in 30 days" counted only what came after the last review: a prescriber set it
        # beside the summary's 4 for the same weeks.
        words += " " + ngettext("Not counting %(num)s already reviewed.",
                                "Not counting %(num)s already reviewed.", done)
    return [_flag(code, words, still[0].at, still[-1].key)]


def _within(items: Iterable, at, start: datetime, now: datetime) -> list:
    return [i for i in items if start <= at(i) <= now + FUTURE_TOLERANCE]


def _mg(value: Decimal) -> str:
    """Read in the viewer's locale (app/web/formats.py): 12.5, 1,200."""
    return format_number(value)


def _unscreened_holds_for() -> timedelta:
    """How long an unscreened item 9 answer holds dosing (app/safety/service.py), for the
    moment the flag's words change; read at call time: the safety service imports this
    package's neighbours."""
    from app.safety.service import UNSCREENED_SHOWN_FOR

    return UNSCREENED_SHOWN_FOR


def review_ends_a_hold(code: str, since: datetime, now: datetime) -> bool:
    """Whether reviewing this flag ends a dosing hold (its form and its words say so): a
    high-risk screen's always; an unscreened item 9 answer's while it holds."""
    # At call time: the safety service imports this package's neighbours.
    from app.safety.service import unscreened_still_holds

    return code == "cssrs_high" or (code == "screener_pending"
                                    and unscreened_still_holds(since, now))


def event_code(event: EventFact) -> str:
    """An event's flag: an item 9 answer no screener has followed yet ranks above the rest."""
    if event.kind == "phq9_item9" and event.level == "unscreened":
        return "screener_pending"
    return "safety_event"


def event_words(event: EventFact) -> str:
    """What happened, in the words the patient's page lists it with among the safety events to
    review (one wording for both: app/templating.py safety_event_words)."""
    from app.templating import safety_event_words  # at call time: templating imports a lot

    return safety_event_words(event.kind, event.level, {"instrument": event.instrument,
                                                        "screened_risk": event.screened_risk})


def missed_sessions(facts: PatientFacts, now: datetime) -> list[Seen]:
    """Sessions missed in the last MISSED_DAYS, each judged by the version in force when it was
    due (with that version's grace), keyed by local date."""
    occs = facts.sessions(now - timedelta(days=MISSED_DAYS), now)
    if not occs:
        return []
    statuses = schedule.classify_sessions(
        occs, [d.taken_at for d in facts.doses], now, due_window=DUE_WINDOW)
    return [Seen(s.occurrence.scheduled_at, s.occurrence.local_date.isoformat())
            for s in statuses if s.state is schedule.SessionState.MISSED]


@dataclass(frozen=True)
class Creep:
    taken_mg: Decimal
    expected_mg: Decimal
    since: datetime  # the dose that took the 7-day total past the limit
    key: str  # the latest dose in the window


def dose_creep(facts: PatientFacts, now: datetime) -> Creep | None:
    """The 7-day total against the schedule (see the module docstring), or None when within."""
    if not facts.plans or facts.dose_mg is None:
        return None
    start = now - timedelta(days=CREEP_DAYS)
    recent = sorted(_within(facts.doses, lambda d: d.taken_at, start, now),
                    key=lambda d: d.taken_at)
    if not recent:
        return None
    # Each session with its own version's grace and dose (a raised dose does not raise the
    # sessions before it).
    sessions = [o for o in facts.sessions(start - facts.widest_grace(), now + DUE_WINDOW)
                if o.scheduled_at >= start - (o.grace or timedelta(0))]
    expected = sum((facts.doses_mg.get(o.version or 0, facts.dose_mg) for o in sessions),
                   Decimal(0))
    limit = expected + facts.dose_mg
    total = Decimal(0)
    crossed: DoseFact | None = None
    for dose in recent:
        total += dose.mg
        if crossed is None and total > limit:
            crossed = dose
    if crossed is None:
        return None
    return Creep(total, expected, crossed.taken_at, recent[-1].key)


def phq9_worse(facts: PatientFacts) -> tuple[Phq9, Phq9] | None:
    """(previous, latest) when the latest PHQ-9 is PHQ9_RISE points up or in a worse band."""
    if len(facts.phq9) < 2:
        return None
    previous, latest = sorted(facts.phq9, key=lambda p: p.completed_at)[-2:]
    ranks = {band.key: i for i, band in enumerate(CATALOGUE["phq9"].bands)}
    rose = latest.score - previous.score >= PHQ9_RISE
    worse_band = ranks.get(latest.band or "", -1) > ranks.get(previous.band or "", 99)
    return (previous, latest) if rose or worse_band else None


def _band_label(key: str | None) -> str:
    band = next((b for b in CATALOGUE["phq9"].bands if b.key == key), None)
    return _(band.label) if band else ""


def occurrences(facts: PatientFacts, now: datetime) -> dict[str, list[Seen]]:
    """The occurrences each code that counts them is counted from, in its window, reviewed or
    not: what `evaluate` counts (those after the latest reviewed one) and what a review of that
    code may name."""
    bp_start = now - timedelta(days=BP_DAYS)
    recent_start = now - timedelta(days=RECENT_DAYS)
    recent = _within(facts.doses, lambda d: d.taken_at, recent_start, now)
    return {
        "bp_emergency": _within(facts.bp_emergencies, lambda s: s.at, bp_start, now),
        "bp_hold": _within(facts.bp_holds, lambda s: s.at, bp_start, now),
        # Every dose against a hold raised its event (app/doses/service.py), flagged as such.
        "override": [Seen(d.taken_at, d.key) for d in recent
                     if "override" in d.flags and "against_hold" not in d.flags],
        "struck_flagged": _within(facts.struck_flagged, lambda s: s.at, recent_start, now),
        "cleared_by_correction": [Seen(d.taken_at, d.key) for d in recent
                                  if CLEARED_BY_CORRECTION in d.flags],
        "missed_sessions": missed_sessions(facts, now),
        "late_or_extra": [Seen(d.taken_at, d.key) for d in recent
                          if d.flags & LATE_OR_EXTRA_FLAGS],
        "supply": _within(facts.supply, lambda s: s.at, recent_start, now),
    }


def _quiet(facts: PatientFacts, now: datetime) -> tuple[datetime, str] | None:
    """Since when nothing was logged, and the no_data key, once that is NO_DATA_DAYS or more
    (only for a patient with a protocol); else None."""
    quiet_since = facts.last_logged or facts.started_at
    if (facts.plans is None or quiet_since is None
            or now - quiet_since < timedelta(days=NO_DATA_DAYS)):
        return None
    return quiet_since, quiet_since.astimezone(UTC).isoformat(timespec="seconds")


def reviewable(facts: PatientFacts, now: datetime) -> dict[str, set[str]]:
    """The keys a review may name now, by code: each occurrence a counted code counts (a review
    clears it and those before it, so a list loaded before a newer occurrence still works), a
    standing flag's current key (dose creep, a worse PHQ-9, no data) and each safety event the
    list flags. Any other key names nothing the list shows: its review is refused."""
    keys = {code: {s.key for s in seen} for code, seen in occurrences(facts, now).items()}
    keys["cssrs_high"] = {s.key for s in facts.pending_reviews}
    since = now - timedelta(days=EVENT_DAYS)
    for code in ("screener_pending", "safety_event"):
        keys[code] = {e.key for e in facts.events_to_review
                      if since <= e.at and event_code(e) == code}
    creep = dose_creep(facts, now)
    keys["dose_creep"] = {creep.key} if creep is not None else set()
    worse = phq9_worse(facts)
    keys["phq9_worse"] = {worse[1].key} if worse is not None else set()
    quiet = _quiet(facts, now)
    keys["no_data"] = {quiet[1]} if quiet is not None else set()
    return keys


def names_a_flag(session: Session, patient: User, code: str, key: str, now: datetime) -> bool:
    """Whether a review of (code, key) names a flag of this patient's: one `reviewable` now, one
    reviewed already (reviewing twice keeps the first review), or, for a safety event, the
    patient's own event of that kind (reviewed or not: its review is kept on the event). False
    for a key made up or edited in the form, or another patient's."""
    if code in EVENT_CODES:
        try:
            event = session.get(SafetyEvent, uuid.UUID(key))
        except ValueError:
            return False
        if event is None or event.patient_id != patient.id:
            return False
        if code == "cssrs_high":
            return bool(event.holds_dosing)
        if code == "screener_pending":
            # Any item 9 answer: a list loaded before its screener was answered still works.
            return event.kind == "phq9_item9" and not event.holds_dosing
        return event.kind in EVENT_KINDS and not event.holds_dosing
    if code not in CODES:
        return False
    reviewed = session.exec(select(FlagReview.id).where(
        FlagReview.patient_id == patient.id, FlagReview.code == code, FlagReview.key == key,
    )).first()
    if reviewed is not None:
        return True
    facts = gather(session, [patient], now)[patient.id]
    return key in reviewable(facts, now)[code]


def evaluate(facts: PatientFacts, now: datetime) -> list[Flag]:
    """Every open flag of one patient, most urgent first (then oldest first)."""
    reviewed = facts.reviewed
    found: list[Flag] = []

    for event in sorted(facts.pending_reviews, key=lambda s: s.at):
        found.append(_flag("cssrs_high", _(
            "High-risk answers on the suicidality screener (C-SSRS): dosing is on hold until "
            "you review them."), event.at, event.key))
    since = now - timedelta(days=EVENT_DAYS)
    for fact in sorted(facts.events_to_review, key=lambda e: e.at):
        if since <= fact.at:
            code, words = event_code(fact), event_words(fact) + "."
            if review_ends_a_hold(code, fact.at, now):
                words += " " + _("Dosing is on hold until the screener is answered or you "
                                 "review it.")
            found.append(_flag(code, words, fact.at, fact.key,
                               severity(fact.level, fact.screened_risk)))

    seen = occurrences(facts, now)
    found += _summary("bp_emergency", seen["bp_emergency"], reviewed,
                      lambda still: ngettext(
                          "Blood pressure at or above 180/120: %(num)s reading in 14 days.",
                          "Blood pressure at or above 180/120: %(num)s readings in 14 days.",
                          len(still)))
    found += _summary("bp_hold", seen["bp_hold"], reviewed,
                      lambda still: ngettext(
                          "Held for blood pressure: %(num)s safety check in 14 days.",
                          "Held for blood pressure: %(num)s safety checks in 14 days.",
                          len(still)))
    found += _summary("override", seen["override"], reviewed,
                      lambda still: ngettext(
                          "%(num)s dose taken through an override in 30 days.",
                          "%(num)s doses taken through an override in 30 days.",
                          len(still)))
    found += _summary("struck_flagged", seen["struck_flagged"], reviewed,
                      lambda still: ngettext(
                          "%(num)s dose taken despite a hold was later marked entered in "
                          "error, in 30 days.",
                          "%(num)s doses taken despite a hold were later marked entered in "
                          "error, in 30 days.",
                          len(still)))
    found += _summary("cleared_by_correction", seen["cleared_by_correction"], reviewed,
                      lambda still: ngettext(
                          "%(num)s dose within the limits only because a dose near it was "
                          "corrected or marked entered in error, in 30 days.",
                          "%(num)s doses within the limits only because a dose near them was "
                          "corrected or marked entered in error, in 30 days.",
                          len(still)))
    found += _summary("missed_sessions", seen["missed_sessions"], reviewed,
                      lambda still: ngettext(
                          "%(num)s scheduled session missed in 14 days.",
                          "%(num)s scheduled sessions missed in 14 days.",
                          len(still)))
    found += _summary("late_or_extra", seen["late_or_extra"], reviewed,
                      lambda still: ngettext(
                          "%(num)s dose logged late or taken outside a session in 30 days.",
                          "%(num)s doses logged late or taken outside a session in 30 days.",
                          len(still)))
    # Worded by kind (counts, early refills), not by the number alone.
    found += _summary("supply", seen["supply"], reviewed, _supply_words)

    creep = dose_creep(facts, now)
    if creep is not None and ("dose_creep", creep.key) not in reviewed:
        found.append(_flag("dose_creep", _(
            "%(taken)s mg taken in the last 7 days; the schedule plans %(expected)s mg.",
            taken=_mg(creep.taken_mg), expected=_mg(creep.expected_mg)), creep.since, creep.key))

    worse = phq9_worse(facts)
    if worse is not None and ("phq9_worse", worse[1].key) not in reviewed:
        previous, latest = worse
        found.append(_flag("phq9_worse", _(
            "PHQ-9 went from %(before)s to %(after)s (%(band)s).", before=previous.score,
            after=latest.score, band=_band_label(latest.band)), latest.completed_at, latest.key))

    quiet = _quiet(facts, now)
    if quiet is not None:
        quiet_since, key = quiet
        if ("no_data", key) not in reviewed:
            days = (now - quiet_since).days
            found.append(_flag("no_data", ngettext(
                "Nothing logged for %(num)s day.", "Nothing logged for %(num)s days.", days),
                quiet_since, key))

    found.sort(key=lambda f: (-f.urgency, f.since))
    return found


# The rules' edition, stored with each brief (app/clinic/flag_index.py): a brief written by other
# rules is outdated, so a deploy that changes them needs no migration to retire the old briefs,
# and a process still running the old code cannot pass its briefs off as current. Raise it with
# any change to which flags a record raises, their codes, keys, urgencies or words (Spanish too),
# here or in what they are worded with (flag_index._worded, the phase names of
# app/protocols/schedule.py, app/web/formats.py numbers, the instruments' names);
# tests/clinic/test_flag_summary.py holds a fingerprint of this file and its Spanish words that
# fails at a change here.
RULES_VERSION = 6

# How long an evaluation may stand at most, whatever `settled_until` finds: it also covers rows
# dated further ahead than FUTURE_TOLERANCE, which `gather` does not read until they come close.
SETTLED_MAX = timedelta(hours=1)
_WINDOWS = (timedelta(days=CREEP_DAYS), timedelta(days=BP_DAYS), timedelta(days=RECENT_DAYS),
            timedelta(days=MISSED_DAYS))


def settled_until(facts: PatientFacts, now: datetime) -> datetime:
    """The earliest moment after `now` at which `evaluate` could answer differently (which flags
    and how they read) with no new entry: a session turning due or missed or leaving a window, an
    entry entering or leaving a window, the quiet spell reaching NO_DATA_DAYS or another whole
    day, a review lapsing, the patient's midnight (phase, daily counts), and SETTLED_MAX at the
    latest. Conservative:
    every instant a rule compares against is a candidate, so an earlier answer only costs a
    recomputation, never a stale list (tests/clinic/test_flag_summary.py sweeps time to check)."""
    tz = ZoneInfo(facts.timezone)
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    candidates = [now + SETTLED_MAX, midnight.astimezone(UTC)]
    moments = [d.taken_at for d in facts.doses]
    moments += [s.at for s in (*facts.bp_emergencies, *facts.bp_holds, *facts.supply,
                               *facts.struck_flagged)]
    for at in moments:
        candidates.append(at - FUTURE_TOLERANCE)
        candidates += [at + window for window in _WINDOWS]
    candidates += [e.at + timedelta(days=EVENT_DAYS) for e in facts.events_to_review]
    # An unscreened answer's flag says it holds dosing for as long as it does.
    candidates += [e.at + _unscreened_holds_for() for e in facts.events_to_review
                   if event_code(e) == "screener_pending"]
    if facts.plans:
        for occ in facts.sessions(now - timedelta(days=MISSED_DAYS + 1) - facts.widest_grace(),
                                  now + timedelta(days=2)):
            at, grace = occ.scheduled_at, occ.grace or timedelta(0)
            candidates += [at - DUE_WINDOW, at, at + grace, at + timedelta(days=CREEP_DAYS) + grace,
                           at + timedelta(days=MISSED_DAYS)]
    quiet_since = facts.last_logged or facts.started_at
    if facts.plans is not None and quiet_since is not None:
        candidates.append(quiet_since + timedelta(days=NO_DATA_DAYS))
        # Its wording counts the days ("Nothing logged for 8 days"): the next one changes it.
        candidates.append(quiet_since + timedelta(days=(now - quiet_since).days + 1))
    if facts.reviews_lapse_at is not None:
        candidates.append(facts.reviews_lapse_at)
    # Some comparisons include their bound (a reading exactly 14 days old still counts), so
    # the answer changes just after it: a moment past each bound is a candidate too.
    tick = timedelta(microseconds=1)
    return min(c for bound in candidates for c in (bound, bound + tick) if c > now)


# --- the facts, for many patients in a fixed number of queries ---------------------------------


def gather(session: Session, patients: Sequence[User], now: datetime) -> dict[uuid.UUID,
                                                                               PatientFacts]:
    """The facts of every patient given, read in the same queries however many there are
    (eleven, and up to four more for patients with no recent PHQ-9 or entry)."""
    facts = {p.id: PatientFacts(timezone=p.timezone) for p in patients}
    if not facts:
        return {}
    ids = list(facts)

    # 1. Protocols: the versions in force over the rules' windows (the last is the current
    # one), then when treatment began (the first version of each).
    current: dict[uuid.UUID, ProtocolVersion] = {}
    for pid, read in versions.overlapping(session, ids, now - _VERSION_LOOKBACK).items():
        facts[pid].in_force = versions.in_force(read)
        facts[pid].doses_mg = {v.version: v.dose_mg for v in read}
        current[pid] = read[-1]
    first_at: dict[uuid.UUID, datetime] = {}
    for pid, first in session.exec(
            select(ProtocolVersion.patient_id, func.min(ProtocolVersion.created_at))
            .where(col(ProtocolVersion.patient_id).in_(ids))
            .group_by(ProtocolVersion.patient_id)).all():
        first_at[pid] = _aware(first)
    for pid, version in current.items():
        item = facts[pid]
        tz = ZoneInfo(item.timezone)
        item.plans = protocols.plans(version)
        item.dose_mg = version.dose_mg
        item.grace = timedelta(hours=float(version.grace_hours))
        item.phase = protocols.current_phase(version, now.astimezone(tz).date())
        starts = [p.starts_on for p in item.plans]
        start = first_at[pid]
        if starts:
            start = max(start, datetime.combine(min(starts), time(0), tzinfo=tz).astimezone(UTC))
        item.started_at = start

    # 2. Doses of the last month: the recorded ones (every rule on doses reads these), and
    # those struck out that were taken against the rules (struck_flagged), in the same read.
    for row in session.exec(
            select(Dose.id, Dose.patient_id, Dose.taken_at, Dose.dose_mg, Dose.flags,
                   Dose.status)
            .where(col(Dose.patient_id).in_(ids),
                   col(Dose.taken_at) >= now - _DOSE_LOOKBACK,
                   col(Dose.taken_at) < now + FUTURE_TOLERANCE)
            .order_by(col(Dose.taken_at))).all():
        flags = frozenset(row.flags or ())
        if row.status == DoseStatus.RECORDED:
            facts[row.patient_id].doses.append(
                DoseFact(str(row.id), row.taken_at, row.dose_mg, flags))
        elif flags & AGAINST_RULES_FLAGS:
            facts[row.patient_id].struck_flagged.append(Seen(row.taken_at, str(row.id)))

    # 3. Safety events: reviews pending, other events to review, and crisis readings of the
    # last two weeks.
    for event in session.exec(
            select(SafetyEvent.id, SafetyEvent.patient_id, SafetyEvent.kind, SafetyEvent.level,
                   SafetyEvent.occurred_at, SafetyEvent.holds_dosing, SafetyEvent.reviewed_at,
                   SafetyEvent.details)
            .where(col(SafetyEvent.patient_id).in_(ids),
                   or_(and_(col(SafetyEvent.holds_dosing).is_(True),
                            col(SafetyEvent.reviewed_at).is_(None)),
                       and_(col(SafetyEvent.kind).in_(EVENT_KINDS),
                            col(SafetyEvent.reviewed_at).is_(None),
                            col(SafetyEvent.occurred_at) >= now - timedelta(days=EVENT_DAYS)),
                       and_(SafetyEvent.kind == "bp_emergency",
                            col(SafetyEvent.occurred_at) >= now - timedelta(days=BP_DAYS))))
    ).all():
        seen = Seen(event.occurred_at, str(event.id))
        if event.holds_dosing and event.reviewed_at is None:
            facts[event.patient_id].pending_reviews.append(seen)
        elif event.kind in EVENT_KINDS and event.reviewed_at is None:
            details = event.details or {}
            facts[event.patient_id].events_to_review.append(EventFact(
                event.occurred_at, str(event.id), event.kind, event.level,
                details.get("screened_risk"), str(details.get("instrument") or "")))
        if event.kind == "bp_emergency":
            facts[event.patient_id].bp_emergencies.append(seen)

    # 4. Safety checks held for blood pressure in the last two weeks.
    for gate in session.exec(
            select(GateCheck.id, GateCheck.patient_id, GateCheck.checked_at, GateCheck.reasons)
            .where(col(GateCheck.patient_id).in_(ids), GateCheck.verdict == "hold",
                   col(GateCheck.checked_at) >= now - timedelta(days=BP_DAYS))).all():
        if any(isinstance(r, dict) and r.get("code") == "bp_hold" for r in gate.reasons or ()):
            facts[gate.patient_id].bp_holds.append(Seen(gate.checked_at, str(gate.id)))

    # 5. Ledger entries of the last month that carry a flag.
    for entry in session.exec(
            select(LedgerEntry.id, LedgerEntry.patient_id, LedgerEntry.occurred_at,
                   LedgerEntry.flags)
            .where(col(LedgerEntry.patient_id).in_(ids),
                   col(LedgerEntry.occurred_at) >= now - timedelta(days=RECENT_DAYS))).all():
        if set(entry.flags or ()) & SUPPLY_FLAGS:
            what = "early_refill" if "early_refill" in (entry.flags or ()) else "discrepancy"
            facts[entry.patient_id].supply.append(Seen(entry.occurred_at, str(entry.id), what))

    # 6. The latest two PHQ-9s of each patient: read from the recent ones first (an index range
    # per patient, not a patient's whole history), then, for the few with fewer than two
    # there, from all of theirs.
    def latest_phq9(among: list[uuid.UUID], since: datetime | None) -> None:
        rank = func.row_number().over(
            partition_by=col(QuestionnaireResponse.patient_id),
            order_by=(col(QuestionnaireResponse.completed_at).desc(),
                      col(QuestionnaireResponse.id).desc()),
        ).label("rank")
        where = [col(QuestionnaireResponse.patient_id).in_(among),
                 QuestionnaireResponse.instrument == "phq9",
                 col(QuestionnaireResponse.score).is_not(None)]
        if since is not None:
            where.append(col(QuestionnaireResponse.completed_at) >= since)
        latest = (
            select(QuestionnaireResponse.id, QuestionnaireResponse.patient_id,
                   QuestionnaireResponse.completed_at, QuestionnaireResponse.score,
                   QuestionnaireResponse.band, rank)
            .where(*where)
            .subquery()
        )
        for row in session.exec(
                select(latest.c.id, latest.c.patient_id, latest.c.completed_at, latest.c.score,
                       latest.c.band).where(latest.c.rank <= 2)).all():
            facts[row.patient_id].phq9.append(
                Phq9(str(row.id), _aware(row.completed_at), row.score, row.band))

    latest_phq9(ids, now - RECENT_LOOKBACK)
    fewer = [pid for pid in ids if len(facts[pid].phq9) < 2]
    for pid in fewer:
        facts[pid].phq9 = []
    if fewer:
        latest_phq9(fewer, None)

    # 7-9. The last thing logged of each kind: recent first, then all time for the patients
    # with nothing recent (the same split as above).
    def last_logged(among: list[uuid.UUID], since: datetime | None) -> None:
        for model, column in ((Dose, Dose.taken_at), (CheckIn, CheckIn.recorded_at),
                              (QuestionnaireResponse, QuestionnaireResponse.completed_at)):
            where = [col(model.patient_id).in_(among)]  # type: ignore[attr-defined]
            if since is not None:
                where.append(col(column) >= since)
            for pid, last in session.exec(
                    select(model.patient_id, func.max(column))  # type: ignore[attr-defined]
                    .where(*where)
                    .group_by(model.patient_id)).all():  # type: ignore[attr-defined]
                last = _aware(last)
                item = facts[pid]
                if last is not None and (item.last_logged is None or last > item.last_logged):
                    item.last_logged = last

    last_logged(ids, now - RECENT_LOOKBACK)
    quiet = [pid for pid in ids if facts[pid].last_logged is None]
    if quiet:
        last_logged(quiet, None)

    # 10. Reviews.
    reviewed: dict[uuid.UUID, set[tuple[str, str]]] = {}
    for pid, code, key, reviewed_at in session.exec(
            select(FlagReview.patient_id, FlagReview.code, FlagReview.key,
                   FlagReview.reviewed_at)
            .where(col(FlagReview.patient_id).in_(ids),
                   col(FlagReview.reviewed_at) >= now - REVIEW_HORIZON)).all():
        reviewed.setdefault(pid, set()).add((code, key))
        lapse = _aware(reviewed_at) + REVIEW_HORIZON
        item = facts[pid]
        if item.reviews_lapse_at is None or lapse < item.reviews_lapse_at:
            item.reviews_lapse_at = lapse
    for pid, keys in reviewed.items():
        facts[pid].reviewed = frozenset(keys)
    return facts


def _aware(value: datetime | str | None) -> datetime | None:
    """A datetime read through a subquery or an aggregate: SQLite may hand it back naive or as
    text; it is UTC either way."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def for_patients(session: Session, patients: Sequence[User],
                 now: datetime) -> dict[uuid.UUID, tuple[PatientFacts, list[Flag]]]:
    """Each patient's facts (for the phase) and open flags."""
    return {pid: (item, evaluate(item, now)) for pid, item in gather(session, patients,
                                                                      now).items()}
