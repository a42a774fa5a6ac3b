"""The `start`/`end` query window shared by the read APIs."""

from datetime import datetime, timedelta

from app.db import utcnow
from app.errors import Invalid
from app.i18n import gettext as _

DEFAULT_SPAN = timedelta(days=90)
MAX_SPAN = timedelta(days=400)


def query_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end): by default the last 90 days; at most 400 days, so a page stays small."""
    end = end or utcnow() + timedelta(days=1)
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise Invalid(_("start must be before end."), field="start")
    if end - start > MAX_SPAN:
        raise Invalid(_("Ask for at most 400 days at a time."), field="start")
    return start, end
