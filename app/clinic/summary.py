"""The printable one-page summary of one patient: who, the protocol and phase, the last four
weeks at a glance (sessions, holds, scores, blood pressure, supply) and what is open."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import User
from app.alerts import service as alerts
from app.careteam import service as careteam
from app.checkins import service as checkins
from app.checkins.instruments import CATALOGUE
from app.clinic.flags import AGAINST_RULES_FLAGS
from app.doses import ledger, today
from app.exports import records as gathering
from app.i18n import gettext as _
from app.protocols import schedule
from app.protocols import service as protocols

WEEKS = 4


@dataclass(frozen=True)
class Score:
    title: str
    score: int | None
    band: str | None
    at: datetime
    previous: int | None
    instrument: str


def _scores(session: Session, patient: User, now: datetime) -> list[Score]:
    result = []
    for key in ("phq9", "gad7"):
        # The latest of the last four months, with the one before it for the change.
        responses = checkins.responses_between(session, patient.id, now - timedelta(days=120),
                                               now + timedelta(minutes=10), key)
        if responses:
            last = responses[-1]
            prev = responses[-2].score if len(responses) > 1 else None
            result.append(Score(_(CATALOGUE[key].title), last.score, last.band,
                                last.completed_at, prev, key))
    return result


def summary(session: Session, patient: User, now: datetime) -> dict:
    tz = ZoneInfo(patient.timezone)
    end_day = now.astimezone(tz).date()
    start_day = end_day - timedelta(weeks=WEEKS) + timedelta(days=1)
    found = gathering.gather(session, patient, start_day, end_day)
    version = protocols.current(session, patient.id)
    sessions = today.sessions_between(session, patient, found.start_at, now, now)
    recorded = [d for d in found.doses if d.status == "recorded"]
    bp = [(g.checked_at, g.systolic, g.diastolic) for g in found.gates] + [
        (c.recorded_at, c.values["systolic"], c.values["diastolic"]) for c in found.checkins
        if "systolic" in c.values and "diastolic" in c.values]
    return {
        "patient": patient,
        "now": now,
        "start_day": start_day,
        "end_day": end_day,
        "protocol": version,
        "phase": protocols.current_phase(version, end_day) if version else None,
        "scheduled": len(sessions),
        "taken": sum(1 for s in sessions if s.state == schedule.SessionState.TAKEN),
        "missed": sum(1 for s in sessions if s.state == schedule.SessionState.MISSED),
        "doses": recorded,
        "total_mg": sum((d.dose_mg for d in recorded), start=0),
        # A dose against a hold or through an override stays here once struck out, marked: the
        # list flags it (struck_flagged, by the same flags), and the summary left it out.
        "flagged": [d for d in found.doses if d.flags and (
            d.status == "recorded" or AGAINST_RULES_FLAGS & set(d.flags))],
        "holds": [g for g in found.gates if g.verdict != "ok"],
        "scores": _scores(session, patient, now),
        "bp_latest": max(bp) if bp else None,
        "bp_highest": max(bp, key=lambda r: (r[1], r[2])) if bp else None,
        "open_events": [e for e in checkins.safety_events(session, patient.id,
                                                          now - timedelta(days=90))
                        if e.reviewed_at is None],
        "open_alerts": alerts.views(session, alerts.open_for_patient(session, patient.id)),
        "caregivers": careteam.caregiver_rows(session, patient, now),
        "ledger": ledger.ledger_summary(session, patient, now) if version else None,
        # The four weeks' supply problems, as the list's supply flag counts them (the ledger's
        # own discrepancies are every count ever made).
        "mismatched_counts": sum("discrepancy" in e.flags for e in found.ledger),
        "early_refills": sum("early_refill" in e.flags for e in found.ledger),
    }
