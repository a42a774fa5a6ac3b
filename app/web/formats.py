"""How dates and times read, per locale: one table of named formats every page and message uses.

English (US) follows what the phone's own pickers show: a 12-hour clock with AM/PM ("8:00 PM")
and month before day ("Tue Dec 1"). Templates and services ask for a format by name
(`format_datetime(value, "time")`); only this module knows the patterns, so Spanish (issue 15)
adds one more table here instead of touching every page.

Spanish (es) follows CLDR's es_US, what a phone set to "Español (Estados Unidos)" shows (our
patients live in the US; es_MX reads the same): day before month with lower-case names
("mar 1 dic"), "de" in long dates ("martes, 1 de diciembre de 2026"), and a 12-hour clock with
"p.m." ("8:00 p.m.") rather than Spain's 24-hour "20:00", because that is what the phone's own
clock and time pickers show these patients; `parse_time` reads "8:00 p.m." too.

Patterns use strftime's letters, except that names (%a %A %b %B %p) come from the language's
CLDR data (Babel; never strftime, whose names follow the process's C locale) and a few portable
non-padded forms are handled here: %-I (hour 1–12), %-d (day 1–31), %-m (month 1–12).
Values of HTML inputs (type=time/date/datetime-local) are not display text: they stay ISO.
Numbers to read go through `format_number` (the locale's decimal sign and grouping); numbers a
machine reads (input values, data- attributes) stay plain: "12.5".
"""

import re
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache, lru_cache

from babel import Locale
from babel.numbers import format_decimal

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
    "es": {
        "time": "%-I:%M %p",                            # 8:00 p.m.
        "weekday_time": "%a %-I:%M %p",                 # mar 8:00 p.m.
        "date": "%-d %b",                               # 1 dic
        "weekday_date": "%a %-d %b",                    # mar 1 dic
        "date_year": "%-d %b %Y",                       # 1 dic 2026
        "long_date_year": "%A, %-d de %B de %Y",        # martes, 1 de diciembre de 2026
        "datetime": "%a %-d %b, %-I:%M %p",             # mar 1 dic, 8:00 p.m.
        "short_datetime": "%-d %b, %-I:%M %p",          # 1 dic, 8:00 p.m.
        "long_datetime": "%A %-d de %B, %-I:%M %p",     # martes 1 de diciembre, 8:00 p.m.
        "datetime_year": "%-d %b %Y, %-I:%M %p",        # 1 dic 2026, 8:00 p.m.
        "picker_time": "%I:%M %p",                      # 08:00 p.m.
        "picker_date": "%d/%m/%Y",                      # 01/12/2026
        "picker_datetime": "%d/%m/%Y, %I:%M %p",        # 01/12/2026, 08:00 p.m.
    },
}

@cache
def _names(language: str) -> dict[str, tuple[str, ...]]:
    """Day, month and AM/PM names in a language, from CLDR: Monday first, January first."""
    locale = Locale.parse(i18n.LOCALES.get(language, i18n.LOCALES[i18n.DEFAULT_LANGUAGE]))
    periods = locale.day_periods["format"]["abbreviated"]
    return {
        "%a": tuple(locale.days["format"]["abbreviated"][d] for d in range(7)),
        "%A": tuple(locale.days["format"]["wide"][d] for d in range(7)),
        "%b": tuple(locale.months["format"]["abbreviated"][m] for m in range(1, 13)),
        "%B": tuple(locale.months["format"]["wide"][m] for m in range(1, 13)),
        "%p": (periods["am"], periods["pm"]),
    }


def format_number(value: object, language: str | None = None) -> str:
    """A number to read, without trailing zeros, in the language's conventions: "12.5",
    "1,200" (es_US writes numbers as the US does; a future es_ES would give "12,5")."""
    if value is None:
        return ""
    return _formatted(str(value), i18n.LOCALES.get(language or i18n.current_language(), "en_US"))


# Babel spends some 10 µs on each number; a page shows the same few amounts again and again
# (a timeline's mg in every reason and dose), and the answer depends only on these two.
@lru_cache(maxsize=4096)
def _formatted(text: str, locale: str) -> str:
    return format_decimal(Decimal(text).normalize(), locale=locale, decimal_quantization=False)


_TOKEN = re.compile(r"%-?[a-zA-Z%]")


def pattern(name: str, language: str | None = None) -> str:
    """The pattern of a named format in a language (English when it has none)."""
    table = FORMATS.get(language or i18n.current_language(), FORMATS[i18n.DEFAULT_LANGUAGE])
    return table.get(name) or FORMATS[i18n.DEFAULT_LANGUAGE][name]


def _field(value: date | time, token: str, language: str) -> str:
    hour = getattr(value, "hour", 0)
    match token:
        case "%a" | "%A":
            return _names(language)[token][value.weekday()]  # type: ignore[union-attr]
        case "%b" | "%B":
            return _names(language)[token][value.month - 1]  # type: ignore[union-attr]
        case "%p":
            return _names(language)["%p"][0 if hour < 12 else 1]
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
    language = language or i18n.current_language()
    return _TOKEN.sub(lambda m: _field(value, m.group(0), language), pattern(name, language))


# The formats the phone writes itself (app/static/app.js TrocheClock): offline, and on a saved copy.
PHONE_FORMATS = ("datetime", "time", "weekday_time")


def phone_clock(timezone: str, language: str | None = None) -> dict:
    """What the phone needs to write a time as format_datetime does (the patterns, the names
    they use, the zone to read instants in) and a number as format_number does (the locale).
    Without it the phone wrote "Sun, Dec 6" in its own style and zone beside the server's
    "Sun Dec 6", and a Spanish "12,5 mg" beside the server's "12.5 mg"."""
    language = language or i18n.current_language()
    patterns = {name: pattern(name, language) for name in PHONE_FORMATS}
    used = set(_TOKEN.findall(" ".join(patterns.values())))
    locale = i18n.LOCALES.get(language, i18n.LOCALES[i18n.DEFAULT_LANGUAGE])
    return {"zone": timezone, "locale": locale.replace("_", "-"), "patterns": patterns,
            "names": {token: list(names) for token, names in _names(language).items()
                      if token in used}}


def example(kind: str, language: str | None = None) -> str:
    """A hint for a native picker: how it shows a value ("For example 08:00 PM")."""
    sample = datetime(2026, 12, 1, 20, 0)
    name = {"time": "picker_time", "date": "picker_date",
            "datetime-local": "picker_datetime"}[kind]
    return _("For example %(value)s", value=format_datetime(sample, name, language))


def full_stop(text: str) -> str:
    """The sentence ended with one period: an example that ends with one already ("08:00
    p.m." in Spanish) does not get a second."""
    return text if text.endswith(".") else f"{text}."


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
