"""Client UUIDs: every write a client makes carries one, so a replay writes once."""

import uuid
from datetime import UTC, datetime, timedelta

from app.validation import datetime_range_problem

# The form field the page's script fills with the phone's clock as a form is sent
# (app/static/offline.js). The outbox keeps the same time if the answer is lost, so its replay
# is the same entry as what the server may have stored.
WRITTEN_AT = "written_at"
# A stamp further from the server's clock than this is the phone's clock being wrong, not the
# time in flight: the server's own time is used.
WRITTEN_AT_SLACK = timedelta(minutes=10)


def new_client_id() -> str:
    """The UUID a form carries so a double submit or an offline replay writes once."""
    return str(uuid.uuid4())


def parse_client_id(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        # A missing id still writes exactly once: this submission just cannot be replayed.
        return uuid.uuid4()


def parse_stamp(value: object) -> datetime | None:
    """A form's `written_at` stamp as UTC, when it reads as a time with its offset within the
    years the app accepts; otherwise None. Kept as the entry's time only within
    WRITTEN_AT_SLACK of the server's clock (app/sync/service.py apply_form)."""
    try:
        stamp = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    if stamp.tzinfo is None or datetime_range_problem(stamp):
        return None
    return stamp.astimezone(UTC)
