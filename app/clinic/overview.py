"""The prescriber's view of one patient: what needs attention first (open alerts, safety events
to review), then the timeline of their course, the protocol, flags and supply, gathered from
each domain's service."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import User
from app.alerts import service as alerts
from app.careteam import service as careteam
from app.checkins import service as checkins
from app.clinic import flags as flag_rules
from app.clinic import service as clinic
from app.clinic import timeline
from app.db import utcnow
from app.doses import corrections, ledger
from app.doses import service as doses
from app.doses.models import DoseStatus
from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols import versions as protocol_versions
from app.safety import service as safety
from app.web.forms import new_client_id

# Dose flags the prescriber is shown (besides entered in error and corrected doses).
FLAGS_SHOWN = frozenset({"override", "against_hold", "extra", "no_gate", "corrected_over_limit",
                         "off_protocol_amount", "cleared_by_correction"})


def needs_attention(dose) -> bool:
    return bool(set(dose.flags) & FLAGS_SHOWN) or dose.status == "entered_in_error" or (
        dose.revision > 1)


@dataclass(frozen=True)
class TooSoon:
    """The next session falls within the minimum interval after the last dose: it will be held
    as too soon (a phase change to every N days counted from today, a session moved earlier)."""

    session_at: datetime
    last_dose_at: datetime
    hours: Decimal


def next_session_too_soon(session: Session, patient: User, version, recent: list,
                          now: datetime) -> TooSoon | None:
    """The session Today will ask for next (read as Today reads it), when it is closer to the
    last dose than the protocol's minimum interval."""
    if version is None:
        return None
    taken = sorted(d.taken_at for d in recent if d.status == DoseStatus.RECORDED
                   and d.taken_at < now + doses.FUTURE_TOLERANCE)
    if not taken:
        return None
    in_force = protocol_versions.in_force(protocol_versions.for_patient(
        session, patient.id, now - timedelta(days=14), now))
    nxt = schedule.next_in_force(in_force, ZoneInfo(patient.timezone), now, taken,
                                 due_window=doses.DUE_WINDOW)
    gap = protocols.min_interval(version)
    if nxt is None or nxt.occurrence.scheduled_at - taken[-1] >= gap:
        return None
    return TooSoon(nxt.occurrence.scheduled_at, taken[-1], version.min_hours_between_doses)


def patient_overview(session: Session, patient: User, days: int = timeline.DEFAULT_SPAN,
                     until: str | None = None, **extra) -> dict:
    now = utcnow()
    last_day = timeline.until_of(until, patient, now)
    first_shown, last_shown = timeline.window(patient, days, now, last_day)
    base = f"/patients/{patient.id}?days={days}"
    newer = last_shown + timedelta(days=days)
    events = checkins.safety_events(session, patient.id, now - timedelta(days=90))
    version = protocols.current(session, patient.id)
    recent = doses.list_doses(session, patient.id, now - timedelta(days=42),
                              now + timedelta(days=1))
    local_today = now.astimezone(ZoneInfo(patient.timezone)).date()
    list_flags = flag_rules.for_patients(session, [patient], now)[patient.id][1]
    return {
        "patient": patient,
        # What needs attention first: events not yet reviewed; the reviewed ones further down.
        "open_events": [e for e in events if e.reviewed_at is None],
        # Those that hold dosing now, as the patient's Today does: their review clears the hold.
        "holding": {e.id for e in events if safety.holds_dosing_now(e, now)},
        "reviewed_events": [e for e in events if e.reviewed_at is not None],
        # The patient list's flags, to review here too (a safety event's is its event, above),
        # and those reviewed lately, from here or the list.
        "list_flags": [f for f in list_flags if f.code not in flag_rules.EVENT_CODES],
        "flag_reviews": clinic.flag_reviews_since(session, patient.id, now - timedelta(days=90)),
        "code_label": flag_rules.code_label,
        "since_words": lambda since: clinic.since_words(since, now),
        "ends_a_hold": lambda f: flag_rules.review_ends_a_hold(f.code, f.since, now),
        "timeline": timeline.build(session, patient, days, now, last_day),
        "days": days,
        "timeline_from": first_shown,
        "timeline_until": last_shown,
        # Newest first, a stretch of `days` at a time (plain links: no JavaScript needed).
        "older_url": f"{base}&until={first_shown - timedelta(days=1)}#timeline"
        if first_shown > patient.created_at.astimezone(ZoneInfo(patient.timezone)).date()
        else None,
        "newer_url": None if last_day is None else (
            f"{base}&until={newer}#timeline"
            if newer < now.astimezone(ZoneInfo(patient.timezone)).date()
            else f"{base}#timeline"),
        "spans": timeline.SPANS,
        # With what the patient lets each one see, and until when (ended ones too, marked).
        "caregivers": [
            {**row, "scope": careteam.scope_label(row["link"].scope)}
            for row in careteam.caregiver_rows(session, patient, now)
        ],
        "client_id": new_client_id(),
        "phase_client_id": new_client_id(),
        "protocol": version,
        "protocol_warning": (protocols.version_warning(version, patient.timezone, local_today)
                             if version else None),
        "too_soon": next_session_too_soon(session, patient, version, recent, now),
        "phase": protocols.current_phase(version, local_today) if version else None,
        "doses": recent,
        "flagged": [d for d in recent if needs_attention(d)],
        "revisions": corrections.revisions_of(session, [d.id for d in recent]),
        "pending_reviews": safety.pending_reviews(session, patient.id),
        "patient_alerts": alerts.views(session, alerts.open_for_patient(session, patient.id)),
        # Who acknowledged the recent ones, and when (a caregiver, another prescriber).
        "acknowledged_alerts": alerts.views(session, alerts.about_patient(
            session, patient.id, now - timedelta(days=30), limit=10, acknowledged_only=True)),
        "reviewers": safety.reviewer_names(session, patient.id),
        "ledger": ledger.ledger_summary(session, patient, now) if version else None,
        "today_iso": local_today.isoformat(),
        # A phase change takes effect from the patient's today, at most a year ahead.
        "phase_last_iso": (local_today + timedelta(days=protocols.MAX_DAYS_AHEAD)).isoformat(),
        "checkin_settings": checkins.settings_for(session, patient.id),
        "alert_delay": checkins.caregiver_alert_form(
            checkins.settings_for(session, patient.id), f"/patients/{patient.id}/caregiver-alerts"),
        **extra,
    }
