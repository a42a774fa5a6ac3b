"""The `start`/`end` query window shared by the read APIs."""

from datetime import datetime, timedelta

from app.db import utcnow
from app.errors import Invalid
from app.i18n import gettext as _
from app.validation import datetime_range_problem

DEFAULT_SPAN = timedelta(days=90)
MAX_SPAN = timedelta(days=400)


def query_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end): by default the last 90 days; at most 400 days, so a page stays small.
    Both ends lie between 2000 and 2100 (the ends of the calendar overflowed the arithmetic)."""
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
