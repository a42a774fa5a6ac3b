"""A short, human label for a browser ("Chrome on Android") from its User-Agent.

Only the label is stored (AuthSession.device), never the header: it is enough for a person to
recognise their phone on the "signed-in devices" page and tells nobody more. Pure, no I/O.
"""

import re

from app.i18n import gettext as _

# Checked in order: the first match wins. Edge, Opera, Samsung Internet and Chrome on iOS all
# say "Chrome" or "Safari" too, so they come before the browsers they imitate.
_BROWSERS: tuple[tuple[str, str], ...] = (
    (r"\bEdg(?:e|A|iOS)?/", "Edge"),
    (r"\bOPR/|\bOpera\b", "Opera"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\bFirefox/|\bFxiOS/", "Firefox"),
    (r"\bCriOS/|\b(?:Headless)?Chrome/|\bChromium/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/|\bMobile/\w+ Safari|\(iP(?:hone|ad|od);", "Safari"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"\biPhone\b", "iPhone"),
    (r"\biPad\b", "iPad"),
    (r"\bAndroid\b", "Android"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\bWindows\b", "Windows"),
    (r"\bMac OS X\b|\bMacintosh\b", "Mac"),
    (r"\bLinux\b", "Linux"),
)
MAX_LENGTH = 80


def _first(patterns: tuple[tuple[str, str], ...], text: str) -> str | None:
    for pattern, name in patterns:
        if re.search(pattern, text):
            return name
    return None


def device_label(user_agent: str | None) -> str | None:
    """"Chrome on Android", "Safari on iPhone", "Firefox", "Android" … or None when nothing in
    the header is recognised (the page then says "Unknown device")."""
    if not user_agent:
        return None
    text = user_agent[:1000]  # a huge header costs no more than a normal one
    browser, system = _first(_BROWSERS, text), _first(_SYSTEMS, text)
    label = f"{browser} on {system}" if browser and system else browser or system
    return label[:MAX_LENGTH] if label else None


_BROWSER_NAMES = frozenset(name for _pattern, name in _BROWSERS)
_SYSTEM_NAMES = frozenset(name for _pattern, name in _SYSTEMS)


def in_words(label: str | None) -> str | None:
    """A stored label in the reader's language: "Chrome on Android" is "Chrome en Android" on a
    Spanish page. Stored labels stay as `device_label` wrote them (the names are brands; only the
    "on" between them is English), so rows written before this read the same way."""
    if not label:
        return label
    browser, sep, system = label.partition(" on ")
    if sep and browser in _BROWSER_NAMES and system in _SYSTEM_NAMES:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return label
