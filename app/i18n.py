"""gettext for every user-facing string, in Python and in templates.

The active translation lives in a context variable so each request (and each test) can speak its
own language without touching process-wide state. Catalogues live in app/locale/<lang>/LC_MESSAGES;
until a language ships, gettext falls back to the English source strings.
"""

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
SUPPORTED_LANGUAGES = ("en",)

_current: ContextVar[_gettext.NullTranslations | None] = ContextVar("translations", default=None)
_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


@cache
def translations_for(language: str) -> _gettext.NullTranslations:
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def activate(language: str) -> None:
    lang = language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE
    _current.set(translations_for(lang))
    _language.set(lang)


def current_language() -> str:
    """The active language's code (for app/web/formats.py's per-locale date and time formats)."""
    return _language.get()


def pick_language(accept_language: str | None) -> str:
    """The first supported language in an Accept-Language header."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        base = tag.split("-")[0]
        if base in SUPPORTED_LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


def _active() -> _gettext.NullTranslations:
    return _current.get() or translations_for(DEFAULT_LANGUAGE)


def gettext(message: str, **params: object) -> str:
    text = _active().gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = _active().ngettext(singular, plural, n)
    return text % {"num": n, **params}


_ = gettext
