"""The main menu: which places each role has, which of them a phone's bottom bar shows and which
wait on the More page, and which section the current address belongs to.

One function, `section_of`, decides the current section from the path, so a sub-page
(/checkins/daily, /today/dose after a refused form, /account/reminders) marks its place in the
menu, and a place kept under More marks More on a phone.
"""

from dataclasses import dataclass

from app.i18n import N_
from app.i18n import gettext as _

# Section → the address prefixes that belong to it (a prefix matches itself and what is below it).
SECTIONS: dict[str, tuple[str, ...]] = {
    "today": ("/today",),
    "checkins": ("/checkins", "/questionnaires"),
    "history": ("/doses",),
    "trends": ("/trends",),
    "supply": ("/supply",),
    "care_team": ("/care-team",),
    "supporting": ("/supporting",),
    "patients": ("/patients",),
    "alerts": ("/alerts",),
    "audit": ("/audit",),
    "account": ("/account",),
    "help": ("/help",),
    "more": ("/more",),
}

# Per role: the bottom bar (before More), then what the More page lists.
_BAR = {
    "patient": ("today", "checkins", "history", "trends"),
    "caregiver": ("supporting", "alerts"),
    "prescriber": ("patients", "alerts"),
}
_MORE = {
    "patient": ("supply", "care_team", "account", "help"),
    "caregiver": ("account", "help"),
    "prescriber": ("audit", "account", "help"),
}
_HREF = {
    "today": "/today", "checkins": "/checkins", "history": "/doses", "trends": "/trends",
    "supply": "/supply", "care_team": "/care-team", "supporting": "/supporting",
    "patients": "/patients", "alerts": "/alerts", "audit": "/audit", "account": "/account",
    "help": "/help",
    "more": "/more",
}


# Marked here and translated when the page is rendered, in the reader's language: one lookup
# per item shown rather than the whole table for each (every page draws the menu).
_LABELS = {
    "today": N_("Today"),
    "checkins": N_("Check-ins"),
    "history": N_("History"),
    "trends": N_("Trends"),
    "supply": N_("Supply"),
    "care_team": N_("Care team"),
    "supporting": N_("People I support"),
    "patients": N_("Patients"),
    "alerts": N_("Alerts"),
    "audit": N_("Access log"),
    "account": N_("Account"),
    "help": N_("Help"),
    "more": N_("More"),
}


def _label(key: str) -> str:
    return _(_LABELS[key])


def section_of(path: str) -> str | None:
    """The menu section an address belongs to, or None (the front door, an invite, sign-in)."""
    path = "/" + path.strip("/") if path else "/"
    for key, prefixes in SECTIONS.items():
        if any(path == p or path.startswith(p + "/") for p in prefixes):
            return key
    return None


@dataclass(frozen=True)
class NavItem:
    key: str
    href: str
    label: str
    current: bool
    place: str  # "bar": always shown; "extra": on wide screens only (on More for phones); "more"


def menu(role: str, path: str) -> list[NavItem]:
    """The main menu in order: the bar's places, the More link (phones), then the places a
    phone finds under More (shown inline on wide screens). Help stays in the header."""
    if role not in _BAR:
        return []
    here = section_of(path)
    more = _MORE[role]
    items = [NavItem(k, _HREF[k], _label(k), k == here, "bar") for k in _BAR[role]]
    items.append(NavItem("more", "/more", _label("more"), here == "more" or here in more, "more"))
    items += [
        NavItem(k, _HREF[k], _label(k), k == here, "extra") for k in more if k != "help"
    ]
    return items


def more_items(role: str, path: str = "/more") -> list[NavItem]:
    """What the More page lists for a role (its own page is not one of them)."""
    here = section_of(path)
    return [NavItem(k, _HREF[k], _label(k), k == here, "more") for k in _MORE.get(role, ())]
