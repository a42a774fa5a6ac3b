"""gettext for every user-facing string, in Python and in templates.

The active translation lives in a context variable so each request (and each test) can speak its
own language without touching process-wide state. Catalogues are the committed sources
app/locale/<lang>/LC_MESSAGES/messages.po, compiled in memory when first used: no generated .mo
file is kept in the repository or needed at deploy time. Fuzzy entries are never used (a guess is
worse than the English source), and a string without a translation falls back to English.

Which language a request speaks (`resolve_language`): the signed-in person's own setting, then
the browser's Accept-Language, then English. Work done for someone else outside their request
(a push, an email, a PDF for whoever asked) speaks the recipient's language:
`with using(language_for(user)): ...`.
"""

import gettext as _gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
SUPPORTED_LANGUAGES = ("en", "es")
# The CLDR locale each language formats dates and numbers with (app/web/formats.py): US
# conventions for both, as our patients live in the US (es_US: "12.5", "1,200", "p.m.").
LOCALES = {"en": "en_US", "es": "es_US"}
# Each language's name in that language (never translated): a person who cannot read the
# current language still finds their own.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}

_current: ContextVar[_gettext.NullTranslations | None] = ContextVar("translations", default=None)
_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


# Which plural form a count takes, per language: gettext's two-form rule for Spanish, whatever
# the file's header says (`pybabel init` writes CLDR's three forms, whose third, used for 2, 3 …,
# a translator following the gettext convention leaves out: every plural would fall back to
# English).
PLURAL_RULES = {"es": lambda n: int(n != 1)}


def load_catalogue(path: Path, language: str | None = None) -> _gettext.GNUTranslations:
    """A .po file as translations, compiled in memory; fuzzy and empty entries are left out."""
    with path.open("rb") as f:
        catalog = read_po(f, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    translations = _gettext.GNUTranslations(compiled)
    rule = PLURAL_RULES.get(language or catalog.locale_identifier or "")
    if rule is not None:
        translations.plural = rule  # type: ignore[method-assign]
    return translations


@cache
def translations_for(language: str) -> _gettext.NullTranslations:
    """The language's translations, read once per process; English (the source) needs none."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or language not in SUPPORTED_LANGUAGES or not path.exists():
        return _gettext.NullTranslations()
    return load_catalogue(path, language)


def supported(language: str | None) -> str | None:
    """`language` if it is one we speak, else None."""
    return language if language in SUPPORTED_LANGUAGES else None


def activate(language: str | None) -> str:
    """Speak `language` (English when it is not supported) from here on in this context;
    returns the language now active."""
    lang = supported(language) or DEFAULT_LANGUAGE
    _current.set(translations_for(lang))
    _language.set(lang)
    return lang


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Speak `language` inside the block only, then whatever was active before: for text made
    for someone other than the person whose request (or job) this is."""
    lang = supported(language) or DEFAULT_LANGUAGE
    translations = _current.set(translations_for(lang))
    code = _language.set(lang)
    try:
        yield lang
    finally:
        _current.reset(translations)
        _language.reset(code)


def current_language() -> str:
    """The active language's code (for app/web/formats.py's per-locale date and time formats)."""
    return _language.get()


def current_locale() -> str:
    """The active language's CLDR locale, for Babel: "en_US", "es_US"."""
    return LOCALES[_language.get()]


def first_supported(*languages: str | None) -> str:
    """The first of `languages` we speak, else English."""
    return next((lang for lang in languages if supported(lang)), DEFAULT_LANGUAGE)


def language_for(user: object | None, fallback: str | None = None) -> str:
    """The language to write to `user` in: their own setting, else `fallback` (the browser's
    language, when they are the one asking, or their device's), else English."""
    return first_supported(getattr(user, "language", None), fallback)


def resolve_language(setting: str | None, accept_language: str | None) -> str:
    """A request's language: the signed-in person's setting, then the browser, then English."""
    return first_supported(setting, pick_language(accept_language))


def pick_language(accept_language: str | None) -> str:
    """The supported language the browser prefers most in an Accept-Language header (by q, then
    by order; q=0 means "not this one")."""
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")):
        tag, *params = part.split(";")
        base = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params:
            name, _sep, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if base in SUPPORTED_LANGUAGES and q > 0:
            ranked.append((-q, order, base))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def _active() -> _gettext.NullTranslations:
    return _current.get() or translations_for(DEFAULT_LANGUAGE)


# A period that ends an abbreviation ends the sentence too: never two ("a las 10:05 p.m.",
# not "p.m.."; RAE, "abreviatura"). Spanish times end in "a.m."/"p.m.", and a sentence whose
# last word is a time would otherwise print both periods.
_DOUBLED_PERIOD = re.compile(r"(\b[ap]\.\s?m\.)\.")


def typeset(text: str) -> str:
    """A filled-in message as it should read (see _DOUBLED_PERIOD)."""
    return _DOUBLED_PERIOD.sub(r"\1", text)


def translated(message: str) -> str:
    """The message in the active language, not filled in."""
    return _active().gettext(message)


def translated_plural(singular: str, plural: str, n: int) -> str:
    return _active().ngettext(singular, plural, n)


def gettext(message: str, **params: object) -> str:
    text = translated(message)
    return typeset(text % params) if params else text


def translated_in(context: str, message: str) -> str:
    """The message in the active language, as it reads in `context`, not filled in."""
    return _active().pgettext(context, message)


def pgettext(context: str, message: str, **params: object) -> str:
    """A message whose words depend on where it stands: one English word, several Spanish ones
    ("Open" as a button is "Abrir", open alerts are "Abiertas"; a session "Taken" is "Tomada").
    """
    text = translated_in(context, message)
    return typeset(text % params) if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translated_plural(singular, plural, n)
    return typeset(text % {"num": n, **params})


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; translated later, where it is shown
    (`gettext(TEXT)`), in the reader's language."""
    return message


_ = gettext
