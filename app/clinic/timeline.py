"""One patient's course as the prescriber reads it: every dose (with its corrections and its
session record), every safety check (each verdict, holds and emergencies included), check-ins,
questionnaires, ledger events, safety events and missed sessions, newest first, grouped by the
patient's own days. Built from app/exports/records.py, the same gathering the exports use, so
the page and an export of the same days hold the same entries."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import User
from app.checkins.instruments import CATALOGUE, SLOTS
from app.doses import today
from app.exports import records as gathering
from app.i18n import gettext as _
from app.protocols import schedule

SPANS = (14, 42, 90)  # days the page offers
DEFAULT_SPAN = 14


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # dose, gate, checkin, questionnaire, ledger, safety, missed
    item: Any  # the row (or the session status for a missed session)
    extra: dict = field(default_factory=dict)


@dataclass
class Day:
    day: date
    entries: list[Entry]


def span_of(raw: str | None) -> int:
    try:
        value = int(raw or DEFAULT_SPAN)
    except ValueError:
        return DEFAULT_SPAN
    return value if value in SPANS else DEFAULT_SPAN


def until_of(raw: str | None, patient: User, now: datetime) -> date | None:
    """The last day of an older stretch ("Older" links), or None for one ending today (also
    for anything unreadable or not in the past)."""
    try:
        value = date.fromisoformat(raw or "")
    except ValueError:
        return None
    return value if value < now.astimezone(ZoneInfo(patient.timezone)).date() else None


def window(patient: User, days: int, now: datetime, until: date | None = None
           ) -> tuple[date, date]:
    """The days shown: `days` days ending `until` (the patient's today by default)."""
    end_day = until or now.astimezone(ZoneInfo(patient.timezone)).date()
    return end_day - timedelta(days=days - 1), end_day


def build(session: Session, patient: User, days: int, now: datetime,
          until: date | None = None) -> list[Day]:
    """`days` days ending `until` (today by default): a page of the course, so the page stays
    the same size however long the treatment has run; "Older" goes back a page at a time."""
    tz = ZoneInfo(patient.timezone)
    start_day, end_day = window(patient, days, now, until)
    found = gathering.gather(session, patient, start_day, end_day)
    entries: list[Entry] = []
    for dose in found.doses:
        entries.append(Entry(dose.taken_at, "dose", dose, {
            "revisions": found.revisions.get(dose.id, []),
            "record": found.sessions.get(dose.id) if dose.status == "recorded" else None,
        }))
    entries += [Entry(g.checked_at, "gate", g) for g in found.gates]
    entries += [Entry(c.recorded_at, "checkin", c, {
        "slot": _(SLOTS[c.slot].title) if c.slot in SLOTS else c.slot,
        "by": found.authors.get(c.author_id) if c.author_id != patient.id else None,
    }) for c in found.checkins]
    entries += [Entry(q.completed_at, "questionnaire", q, {
        "title": _(CATALOGUE[q.instrument].title) if q.instrument in CATALOGUE else q.instrument,
    }) for q in found.questionnaires]
    entries += [Entry(e.occurred_at, "ledger", e) for e in found.ledger]
    entries += [Entry(e.occurred_at, "safety", e) for e in found.safety_events]
    entries += [Entry(s.occurrence.scheduled_at, "missed", s)
                for s in today.sessions_between(session, patient, found.start_at, found.end_at,
                                                now)
                if s.state == schedule.SessionState.MISSED]
    by_day: dict[date, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_day[entry.at.astimezone(tz).date()].append(entry)
    return [Day(day, sorted(items, key=lambda e: e.at, reverse=True))
            for day, items in sorted(by_day.items(), reverse=True)]
