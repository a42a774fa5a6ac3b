"""What an export request may ask for, who may ask, and the audit of every export.

Rules only: the routes (api.py, routes.py) parse HTTP and shape responses; generators
(csv_export.py, pdf.py, fhir.py) shape records; access is decided in app/careteam/access.py.
Services only flush: the request's session commits (app/db.py).
"""

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.accounts.models import Role, User
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.careteam import access
from app.errors import Forbidden, Invalid
from app.i18n import gettext as _
from app.validation import date_range_problem
from app.web.ranges import DEFAULT_SPAN, MAX_SPAN

FORMATS = ("csv", "pdf", "fhir")
PANEL_FORMATS = ("csv",)
# One constant for every read window (app/web/ranges.py): at most 400 days, 90 by default.
MAX_DAYS = MAX_SPAN.days
DEFAULT_DAYS = DEFAULT_SPAN.days
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ExportRequest:
    format: str
    start: date  # a day in the patient's zone (the prescriber's, for the panel's default)
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self) -> dict[str, str]:
        return {"format": self.format, "start": self.start.isoformat(),
                "end": self.end.isoformat()}

    def filename(self, extension: str) -> str:
        """No name, no id: nothing that says whose record it is (URLs and file names leak)."""
        return f"trochelog-export-{self.start:%Y%m%d}-{self.end:%Y%m%d}.{extension}"


def _day(value: str, zone: ZoneInfo) -> date:
    """YYYY-MM-DD, or an ISO 8601 date-time with an offset taken as its day in `zone`."""
    value = value.strip()
    if _DAY.fullmatch(value):
        day = date.fromisoformat(value)
    else:
        instant = datetime.fromisoformat(value)  # ValueError when it is neither
        if instant.tzinfo is None:
            raise ValueError(value)
        day = instant.astimezone(zone).date()
    return day


def parse_request(
    format: str | None,
    start: str | None,
    end: str | None,
    *,
    today: date,
    zone: ZoneInfo,
    formats: Iterable[str] = FORMATS,
) -> ExportRequest:
    """The request's format and days, or Invalid naming each bad field (nothing is written).

    Missing ends: the last 90 days up to `today` (the patient's day); a missing format: CSV."""
    formats = tuple(formats)
    errors: dict[str, str] = {}
    chosen = (format or "csv").strip().lower()
    if chosen not in formats:
        errors["format"] = (
            _("Choose one of: %(formats)s.", formats=", ".join(formats)) if len(formats) > 1
            else _("Only %(format)s is available here.", format=formats[0]))
    days: dict[str, date | None] = {}
    for name, value in (("start", start), ("end", end)):
        days[name] = None
        if value is None or not value.strip():
            continue
        try:
            day = _day(value, zone)
        except (ValueError, OverflowError):
            errors[name] = _("Enter a date as YYYY-MM-DD.")
            continue
        if problem := date_range_problem(day):
            errors[name] = problem
        else:
            days[name] = day
    if not errors:
        last = days["end"] or today
        first = days["start"] or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            errors["start"] = _("The start date must be on or before the end date.")
        elif (last - first).days + 1 > MAX_DAYS:
            errors["end"] = _("Export at most %(n)s days at a time.", n=MAX_DAYS)
        else:
            return ExportRequest(chosen, first, last)
    raise Invalid(errors=errors)


def patient_for_export(session: Session, user: User, patient_id: uuid.UUID) -> User:
    """The patient, for their linked prescriber only; anyone else: NotFound."""
    return access.require_patient_access(session, user, patient_id, access.Purpose.TREAT)


def panel_for_export(session: Session, user: User) -> list[User]:
    """The prescriber's own patients. Not a prescriber: Forbidden (the panel is not a secret,
    only its contents are)."""
    if user.role != Role.PRESCRIBER:
        raise Forbidden(_("Only a prescriber can export their panel."))
    return access.readable_patients(session, user, access.Purpose.VIEW)


def record_export(
    session: Session,
    *,
    actor: User,
    patient_id: uuid.UUID | None,
    request: ExportRequest,
    rows: int | None,
    now: datetime,
    **extra,
) -> AuditEvent:
    """Who exported whose record (None: the whole panel), which days, what format, how many
    records. In the request's transaction: no audit, no export."""
    return audit.record(
        session, action="export", actor=actor, patient_id=patient_id, now=now,
        details={"format": request.format, "start": request.start.isoformat(),
                 "end": request.end.isoformat(), "rows": rows, **extra},
    )


def finish_export(session: Session, event_id: uuid.UUID, *, rows: int) -> None:
    """A streamed export is audited before its first byte; its row count is known at the end.
    The trail is append-only, so the count is a second entry that names the first."""
    event = session.get(AuditEvent, event_id)
    if event is not None:
        audit.record(session, action="export.finished", actor_id=event.actor_id,
                     actor_role=event.actor_role, patient_id=event.patient_id,
                     details={"export": str(event.id), "rows": rows, "complete": True})
