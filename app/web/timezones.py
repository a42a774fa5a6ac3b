"""Time zones offered in forms: the common ones first-class, any IANA name accepted by the API."""

from app.i18n import gettext as _

TIMEZONE_CHOICES: tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Halifax",
    "America/St_Johns",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Bogota",
    "America/Lima",
    "America/Santiago",
    "America/Argentina/Buenos_Aires",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Rome",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Cairo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Hong_Kong",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)


def timezone_label(name: str) -> str:
    """A zone in words: "Los Angeles (Pacific)", "Lisbon", "UTC"."""
    # Built per call: the region names are translated into the request's language.
    regions = {
        "America/New_York": _("Eastern"),
        "America/Toronto": _("Eastern"),
        "America/Chicago": _("Central"),
        "America/Mexico_City": _("Central"),
        "America/Denver": _("Mountain"),
        "America/Phoenix": _("Mountain, no daylight saving time"),
        "America/Los_Angeles": _("Pacific"),
        "America/Vancouver": _("Pacific"),
        "America/Anchorage": _("Alaska"),
        "Pacific/Honolulu": _("Hawaii"),
        "America/Puerto_Rico": _("Atlantic"),
        "America/Halifax": _("Atlantic"),
        "America/St_Johns": _("Newfoundland"),
    }
    city = timezone_place(name)
    region = regions.get(name)
    return f"{city} ({region})" if region else city


def timezone_place(name: str) -> str:
    """A zone named inside a sentence, by its place: "Los Angeles", "UTC" (the select's
    "Los Angeles (Pacific)" would nest parentheses there)."""
    return name.rsplit("/", 1)[-1].replace("_", " ")
