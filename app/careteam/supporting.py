"""What a caregiver sees of the people they support: today's session for each, the open alerts,
and, on one person's page, only the history that person chose to share (the link's scope).

Every read goes through app.careteam.access for the purpose it serves, so a narrower scope
leaves a section out rather than showing it empty. Nothing here returns a dose amount unless the
scope allows dose history: the session state carries times and states only.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import User
from app.alerts import service as alerts
from app.careteam import access
from app.checkins import service as checkins
from app.checkins.instruments import CATALOGUE, band_label
from app.doses import ledger
from app.doses import service as doses
from app.doses.models import Dose
from app.i18n import gettext as _
from app.protocols import schedule, versions
from app.protocols import service as protocols

DOSE_DAYS = 14
MOOD_DAYS = 7
RECENT_ACKNOWLEDGED = 10
# How far back a PHQ-9 or GAD-7 still counts as "the latest score" worth showing.
SCORE_LOOKBACK = timedelta(days=120)
# Doses looked at to match sessions: enough for any grace period a protocol allows.
MATCH_LOOKBACK = timedelta(days=14)


def scope_words(scope: str | None) -> str:
    """What the person chose to share, in one sentence the caregiver reads."""
    words = {
        access.Scope.SUPERVISION: _(
            "Shares their sessions with you: today's session and how it is going."),
        access.Scope.DOSES: _(
            "Shares their sessions, their dose history and their troche supply with you."),
        access.Scope.CHECKINS: _(
            "Shares their sessions, dose history and supply, and their mood and "
            "questionnaire scores with you."),
    }
    return words.get(scope, words[access.Scope.SUPERVISION])  # type: ignore[call-overload]


@dataclass(frozen=True)
class SessionToday:
    """Today's session for one patient, without any dose amount."""

    has_protocol: bool
    next_session: schedule.SessionStatus | None  # the session to act on now, or the next one
    earlier_today: list[schedule.SessionStatus]  # today's sessions already taken or missed
    # The latest dose taken today (the patient's day), or the one whose session runs past
    # midnight; dose_yesterday says it was taken the day before.
    dose_at: datetime | None
    plus40: checkins.Due | None  # that dose's +40 minute check-in
    dose_yesterday: bool = False
    # That dose was recorded as taken against a hold: the sitter's pages read "Dose taken today
    # at 12:35 AM" under a green "Taken" as if all was well (a tester). No reasons: the hold's
    # own words are the patient's check, shown before the dose.
    against_hold: bool = False


def _schedule(session: Session, patient: User, now: datetime):
    """The protocol, its doses of the last two weeks and the session to act on now (or the next
    one): the same reading of the schedule as the patient's Today (app/doses/today.py), the
    protocol's sessions matched against recorded doses with its grace and due window."""
    version = protocols.current(session, patient.id)
    if version is None:
        return None, [], None, []
    recorded = doses.active_doses(session, patient.id, start=now - MATCH_LOOKBACK,
                                  end=now + doses.FUTURE_TOLERANCE)
    in_force = versions.in_force(versions.for_patient(
        session, patient.id, now - MATCH_LOOKBACK, now + timedelta(seconds=1)))
    nxt = schedule.next_in_force(in_force, ZoneInfo(patient.timezone), now,
                                 [d.taken_at for d in recorded], due_window=doses.DUE_WINDOW)
    return version, recorded, nxt, in_force


def session_today(session: Session, patient: User, now: datetime) -> SessionToday:
    version, recorded, nxt, in_force = _schedule(session, patient, now)
    if version is None:
        return SessionToday(False, None, [], None, None)
    tz = ZoneInfo(patient.timezone)
    local_date = now.astimezone(tz).date()
    day_start = datetime.combine(local_date, time(0), tzinfo=tz)
    # Classified over the same two weeks as the patient's Today, each session under the
    # version in force when it was due, so a dose matches the same session here as there;
    # then today's are kept.
    since, until = now - MATCH_LOOKBACK, now + timedelta(seconds=1)
    taken = [d.taken_at for d in recorded]
    occs = schedule.occurrences_in_force(in_force, tz, since, until, doses=taken,
                                         due_window=doses.DUE_WINDOW)
    classified = schedule.classify_sessions(occs, taken, now, due_window=doses.DUE_WINDOW)
    # The session to act on is not among the earlier ones: the same session is the one at the
    # same time.
    earlier = [s for s in classified
               if s.occurrence.local_date == local_date
               and s.state in (schedule.SessionState.TAKEN, schedule.SessionState.MISSED)
               and (nxt is None or s.occurrence.scheduled_at != nxt.occurrence.scheduled_at)]
    # A session is followed for SESSION_SPAN after its dose, midnight or not: at 00:10 the
    # sitter still sees the 23:50 dose and its +40 minute check-in, not "no dose logged today".
    current: list[Dose] = [d for d in recorded if d.taken_at >= min(
        day_start, now - checkins.SESSION_SPAN)]
    dose = current[-1] if current else None
    plus40 = None
    if dose is not None:
        plus40 = next((d for d in checkins.due_checkins(session, patient, now)
                       if d.key == f"plus40:{dose.id}"), None)
    return SessionToday(True, nxt, earlier, dose.taken_at if dose else None, plus40,
                        dose_yesterday=dose is not None and dose.taken_at < day_start,
                        against_hold=dose is not None and "against_hold" in dose.flags)


def next_session_at(session: Session, patient: User, now: datetime) -> datetime | None:
    """When the session to act on now (or the next one) is scheduled: the list API's field."""
    _version, _recorded, nxt, _in_force = _schedule(session, patient, now)
    return nxt.occurrence.scheduled_at if nxt else None


def _scope_of(session: Session, user: User, patient_id: uuid.UUID, now: datetime) -> str | None:
    link = access.caregiver_link(session, user, patient_id, now=now)
    return link.scope if link else None


# --- the caregiver's home ---------------------------------------------------------------------


@dataclass
class Supported:
    patient: User
    scope: str | None
    scope_words: str
    today: SessionToday
    open_alerts: list[alerts.AlertView] = field(default_factory=list)
    receives_alerts: bool = False


def home(session: Session, user: User, now: datetime, **extra) -> dict:
    """The /supporting page: each person the caregiver supports, their session and alerts."""
    patients = access.readable_patients(session, user, access.Purpose.VIEW_SESSION, now=now)
    receiving = alerts.receives_alerts_by_patient(session, user)
    by_patient: dict[uuid.UUID, list[alerts.AlertView]] = {}
    for view in alerts.views(session, alerts.open_alerts(session, user)):
        by_patient.setdefault(view.alert.patient_id, []).append(view)
    people = []
    for patient in patients:
        scope = _scope_of(session, user, patient.id, now)
        people.append(Supported(
            patient=patient, scope=scope, scope_words=scope_words(scope),
            today=session_today(session, patient, now),
            open_alerts=by_patient.get(patient.id, []),
            receives_alerts=receiving.get(patient.id, False),
        ))
    return {
        "people": people,
        # The alerts switch (app/alerts/routes.py) reads these two.
        "patients": patients,
        "receives_alerts": receiving,
        **extra,
    }


# --- one person's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mood:
    at: datetime
    value: int


@dataclass(frozen=True)
class Score:
    title: str
    score: int | None
    max_score: int | None
    band: str | None
    completed_at: datetime


def _latest_score(session: Session, patient_id: uuid.UUID, key: str,
                  now: datetime) -> Score | None:
    found = checkins.responses_between(session, patient_id, now - SCORE_LOOKBACK,
                                       now + checkins.FUTURE_TOLERANCE, key)
    if not found:
        return None
    latest = found[-1]
    instrument = CATALOGUE[key]
    band = band_label(key, latest.band)
    # Score and band only: item answers stay with the patient and the prescriber.
    return Score(_(instrument.title), latest.score, instrument.max_score,
                 _(band) if band else None, latest.completed_at)


def patient_page(session: Session, user: User, patient_id: uuid.UUID, now: datetime) -> dict:
    """/supporting/{id}: NotFound unless the caregiver's active link allows the session."""
    patient = access.require_patient_access(session, user, patient_id,
                                            access.Purpose.VIEW_SESSION, now=now)
    scope = _scope_of(session, user, patient.id, now)
    can_doses = access.can_access_patient(session, user, patient.id, access.Purpose.VIEW_DOSES,
                                          now=now)
    can_checkins = access.can_access_patient(session, user, patient.id,
                                             access.Purpose.VIEW_CHECKINS, now=now)
    context: dict = {
        "patient": patient,
        "scope": scope,
        "scope_words": scope_words(scope),
        "today": session_today(session, patient, now),
        "open_alerts": alerts.views(session, alerts.open_alerts(session, user,
                                                                patient_id=patient.id)),
        "acknowledged": alerts.views(session, alerts.recent_acknowledged(
            session, user, RECENT_ACKNOWLEDGED, patient_id=patient.id)),
        "receives_alerts": alerts.receives_alerts_by_patient(session, user).get(patient.id,
                                                                                False),
        "can_doses": can_doses,
        "can_checkins": can_checkins,
    }
    if can_doses:
        context["doses"] = doses.list_doses(session, patient.id, now - timedelta(days=DOSE_DAYS),
                                            now + doses.FUTURE_TOLERANCE)
        has_protocol = protocols.current(session, patient.id) is not None
        context["ledger"] = ledger.ledger_summary(session, patient, now) if has_protocol else None
    if can_checkins:
        recent = checkins.checkins_between(session, patient.id, now - timedelta(days=MOOD_DAYS),
                                           now + checkins.FUTURE_TOLERANCE)
        # The mood number only: a check-in's note is the patient's own.
        context["moods"] = [Mood(c.recorded_at, c.values["mood"]) for c in reversed(recent)
                            if isinstance(c.values.get("mood"), int)]
        context["scores"] = [s for s in (_latest_score(session, patient.id, key, now)
                                         for key in ("phq9", "gad7")) if s]
    return context
