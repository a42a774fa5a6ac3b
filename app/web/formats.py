"""How dates and times read, per locale: one table of named formats every page and message uses.

English (US) follows what the phone's own pickers show: a 12-hour clock with AM/PM ("8:00 PM")
and month before day ("Tue Dec 1"). Templates and services ask for a format by name
(`format_datetime(value, "time")`); only this module knows the patterns, so Spanish (issue 15)
adds one more table here instead of touching every page.

Patterns use strftime's letters, except that names (%a %A %b %B %p) go through gettext and a few
portable non-padded forms are handled here: %-I (hour 1–12), %-d (day 1–31), %-m (month 1–12).
Values of HTML inputs (type=time/date/datetime-local) are not display text: they stay ISO.
"""

import re
from datetime import date, datetime, time

from app import i18n
from app.i18n import gettext as _

# Named formats per language. "time" is a clock time; "date" a day without the year; "*_year"
# adds the year; "weekday_*" starts with the short day name; "long_*" spells names in full.
FORMATS: dict[str, dict[str, str]] = {
    "en": {
        "time": "%-I:%M %p",                       # 8:00 PM
        "weekday_time": "%a %-I:%M %p",            # Tue 8:00 PM
        "date": "%b %-d",                          # Dec 1
        "weekday_date": "%a %b %-d",               # Tue Dec 1
        "date_year": "%b %-d, %Y",                 # Dec 1, 2026
        "long_date_year": "%A, %B %-d, %Y",        # Tuesday, December 1, 2026
        "datetime": "%a %b %-d, %-I:%M %p",        # Tue Dec 1, 8:00 PM
        "short_datetime": "%b %-d, %-I:%M %p",     # Dec 1, 8:00 PM
        "long_datetime": "%A, %B %-d, %-I:%M %p",  # Tuesday, December 1, 8:00 PM
        "datetime_year": "%b %-d, %Y, %-I:%M %p",  # Dec 1, 2026, 8:00 PM (tables over months)
        # How the phone's native pickers show a value, for the hints beside them.
        "picker_time": "%I:%M %p",                 # 08:00 PM
        "picker_date": "%m/%d/%Y",                 # 12/01/2026
        "picker_datetime": "%m/%d/%Y, %I:%M %p",   # 12/01/2026, 08:00 PM
    },
}

# Day and month names through gettext when shown (strftime's names follow the process's C locale,
# never the viewer's); written out so `pybabel extract` finds them.
def _days() -> tuple[str, ...]:
    return (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
            _("Saturday"), _("Sunday"))


def _days_short() -> tuple[str, ...]:
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


def _months() -> tuple[str, ...]:
    return (_("January"), _("February"), _("March"), _("April"), _("May"), _("June"),
            _("July"), _("August"), _("September"), _("October"), _("November"),
            _("December"))


def _months_short() -> tuple[str, ...]:
    return (_("Jan"), _("Feb"), _("Mar"), _("Apr"), _("May"), _("Jun"), _("Jul"), _("Aug"),
            _("Sep"), _("Oct"), _("Nov"), _("Dec"))


_TOKEN = re.compile(r"%-?[a-zA-Z%]")


def pattern(name: str, language: str | None = None) -> str:
    """The pattern of a named format in a language (English when it has none)."""
    table = FORMATS.get(language or i18n.current_language(), FORMATS[i18n.DEFAULT_LANGUAGE])
    return table.get(name) or FORMATS[i18n.DEFAULT_LANGUAGE][name]


def _field(value: date | time, token: str) -> str:
    hour = getattr(value, "hour", 0)
    match token:
        case "%a":
            return _days_short()[value.weekday()]  # type: ignore[union-attr]
        case "%A":
            return _days()[value.weekday()]  # type: ignore[union-attr]
        case "%b":
            return _months_short()[value.month - 1]  # type: ignore[union-attr]
        case "%B":
            return _months()[value.month - 1]  # type: ignore[union-attr]
        case "%p":
            return _("AM") if hour < 12 else _("PM")
        case "%-I":
            return str(hour % 12 or 12)
        case "%-d":
            return str(value.day)  # type: ignore[union-attr]
        case "%-m":
            return str(value.month)  # type: ignore[union-attr]
        case "%%":
            return "%"
    return value.strftime(token)


def format_datetime(value: datetime | date | time | None, name: str,
                    language: str | None = None) -> str:
    """`value` (already in the zone it should be read in) in the named format."""
    if value is None:
        return ""
    return _TOKEN.sub(lambda m: _field(value, m.group(0)), pattern(name, language))


def example(kind: str, language: str | None = None) -> str:
    """A hint for a native picker: how it shows a value ("For example 08:00 PM")."""
    sample = datetime(2026, 12, 1, 20, 0)
    name = {"time": "picker_time", "date": "picker_date",
            "datetime-local": "picker_datetime"}[kind]
    return _("For example %(value)s", value=format_datetime(sample, name, language))


_CLOCK = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*([ap])\.?\s*m?\.?\s*$|"
                    r"^\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*$", re.IGNORECASE)


def parse_time(text: str) -> time:
    """A clock time as people type it: "20:00" (what pickers send), "8:00 PM", "8pm".
    Raises ValueError for anything else."""
    m = _CLOCK.match(text or "")
    if not m:
        raise ValueError(text)
    if m.group(3):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if m.group(3).lower() == "p" else 0)
    else:
        hour, minute = int(m.group(4)), int(m.group(5))
    return time(hour, minute)  # raises ValueError for 25:99
