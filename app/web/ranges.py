"""The `start`/`end` query window shared by the read APIs and the exports.

Each end is either an instant (ISO 8601 with an offset) or a day (`YYYY-MM-DD`), a day in the
patient's own zone; a day given as `end` is included (the window runs to the start of the next
day)."""

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from app.db import utcnow
from app.errors import Invalid
from app.i18n import gettext as _
from app.validation import DAY_OR_INSTANT, datetime_range_problem

DEFAULT_SPAN = timedelta(days=90)
MAX_SPAN = timedelta(days=400)

def _day_only(value: object) -> object:
    # pydantic reads "2026-02-01T00:00:00" as a date (midnight, no zone): a time without an
    # offset must be refused, not taken as a day. Refused by a type of our own, worded when the
    # answer is written (app/validation.py error_message), in the reader's language.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError(DAY_OR_INSTANT, "Not a day or a date-time with an offset.")
    return value


Day = Annotated[date, BeforeValidator(_day_only)]

# An instant with its offset, or a day: the order matters (a day is not an instant).
DayOrInstant = Annotated[
    AwareDatetime | Day,
    Field(description="A day (YYYY-MM-DD, in the patient's zone; `end` inclusive) or an "
                      "ISO 8601 date-time with an offset."),
]


def _instant(value: datetime | date | None, tz: ZoneInfo, *, is_end: bool) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    day = value + timedelta(days=1) if is_end else value
    return datetime.combine(day, time(0), tzinfo=tz)


def query_window(start: datetime | date | None, end: datetime | date | None,
                 timezone: str = "UTC") -> tuple[datetime, datetime]:
    """[start, end): by default the last 90 days; at most 400 days, so a page stays small.
    Both ends lie between 2000 and 2100 (the ends of the calendar overflowed the arithmetic)."""
    tz = ZoneInfo(timezone)
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, date) and not isinstance(value, datetime) and not (
                2000 <= value.year < 2100):
            raise Invalid(f"{name}: " + _("Use a date between 2000 and 2099."), field=name)
    start, end = _instant(start, tz, is_end=False), _instant(end, tz, is_end=True)
    for name, value in (("start", start), ("end", end)):
        if value is not None and (problem := datetime_range_problem(value)):
            raise Invalid(f"{name}: {problem}", field=name)
    end = end or utcnow() + timedelta(days=1)
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise Invalid(_("start must be before end."), field="start")
    if end - start > MAX_SPAN:
        raise Invalid(_("Ask for at most 400 days at a time."), field="start")
    return start, end
