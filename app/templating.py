"""The one Jinja environment and `render`: a whole page, or one named block for htmx."""

import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from app import i18n
from app.accounts.devices import in_words as _device_words
from app.accounts.service import csrf_token_for
from app.alerts import service as alerts
from app.checkins.instruments import band_label as instrument_band_label
from app.checkins.words import answers_in_words, severity_words, values_in_words
from app.config import settings
from app.db import SessionDep
from app.doses import reasons as dose_reasons
from app.i18n import N_
from app.i18n import gettext as _
from app.protocols.changes import schedule_words
from app.web import cookies, csrf, formats, language
from app.web.assets import INLINE_SCRIPT, static_url
from app.web.nav import menu as nav_menu
from app.web.nav import section_of
from app.web.timezones import timezone_label, timezone_place

TEMPLATES_DIR = Path(__file__).parent / "templates"
HTMX_FILE = "htmx-4.0.1.min.js"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    # Outside development a template never changes under a running process: no stat() of each
    # template and include on every render.
    auto_reload=settings.app_env == "development",
)
templates = Jinja2Templates(env=env)


# pass_eval_context, not pass_context: Jinja copies the whole context into a new one for each
# call of a pass_context function inside a loop (so it sees the loop's variables); `_()` needs
# only the autoescape setting, and a list of 50 patients called it some 250 times.
@jinja2.pass_eval_context
def _template_gettext(eval_ctx, message: str, **variables) -> str:
    """`_()` and `gettext()` in templates, as Jinja's "newstyle" gettext behaves (the message is
    always a format string, filled with escaped values when autoescaping), typeset as
    i18n.gettext typesets (no doubled period after "p.m."). One function instead of Jinja's
    stack of wrappers around ours: a page calls it a hundred times (issue 14's profile)."""
    return _filled(eval_ctx, i18n.translated(message), variables)


@jinja2.pass_eval_context
def _template_pgettext(eval_ctx, context: str, message: str, **variables) -> str:
    """`pgettext(context, message)` in templates, as `_()` behaves (i18n.pgettext)."""
    return _filled(eval_ctx, i18n.translated_in(context, message), variables)


@jinja2.pass_eval_context
def _template_ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return _filled(eval_ctx, i18n.translated_plural(singular, plural, num), variables)


def _filled(eval_ctx, text: str, variables: dict) -> str:
    """A translated message filled in: always as a format string, with escaped values when
    autoescaping, and typeset when values went in."""
    if eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - our own catalogue; the values are escaped by %
    return _typeset(text % variables) if variables else text % variables


def _typeset(text: str) -> str:
    if isinstance(text, Markup):  # escaped already; dropping a period keeps it safe
        return Markup(i18n.typeset(str(text)))  # noqa: S704
    return i18n.typeset(text)


# Newstyle: `{% trans %}` compiles to calls of these globals with the values as keywords, as
# `_()` passes them (what install_gettext_callables(newstyle=True) would set, minus its wrappers).
env.newstyle_gettext = True  # type: ignore[attr-defined]
env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext,
                   pgettext=_template_pgettext)
env.globals["HTMX_FILE"] = HTMX_FILE
# Hashed, year-long static addresses (app/web/assets.py): every page names files through it.
env.globals["static_url"] = static_url
# Our own file, trusted as markup (not escaped, so its hash in the CSP matches what is sent).
env.globals["inline_script"] = Markup(INLINE_SCRIPT)  # noqa: S704
# The main menu (app/web/nav.py): each role's places and the current section of an address.
env.globals.update(nav_menu=nav_menu, section_of=section_of)


def _shown(value: datetime | date, fmt: str) -> str:
    """A named format from app/web/formats.py ("time", "datetime", ...); a raw strftime
    pattern (with "%") still works for a template not yet moved to the names."""
    return value.strftime(fmt) if "%" in fmt else formats.format_datetime(value, fmt)


def local_time(value: datetime | None, tz: str | None = None, fmt: str = "datetime") -> str:
    """A UTC instant as the viewer's wall-clock time, in a named format (app/web/formats.py)."""
    if value is None:
        return ""
    return _shown(value.astimezone(ZoneInfo(tz or settings.default_timezone)), fmt)


env.filters["local_time"] = local_time


def format_date(value: date | None, fmt: str = "weekday_date") -> str:
    """A calendar day (no zone to convert) in a named format: "Tue Dec 1"."""
    return "" if value is None else _shown(value, fmt)


env.filters["format_date"] = format_date
# The hint beside a native date/time picker, e.g. "For example 08:00 PM".
env.globals["picker_example"] = formats.example
env.filters["full_stop"] = formats.full_stop


# The server's clock for the phone to write times with (app/static/app.js TrocheClock), as the
# JSON of the page's data-clock. It depends on the reader's zone and language alone: made once
# for each pair, not on every signed-in page (some 25 µs each, most of it the JSON).
@lru_cache(maxsize=512)
def _phone_clock_json(zone: str, language: str) -> Markup:
    return htmlsafe_json_dumps(formats.phone_clock(zone, language))


def phone_clock_json(zone: str) -> Markup:
    return _phone_clock_json(zone, i18n.current_language())


env.globals["phone_clock_json"] = phone_clock_json


# Named formats that show a day without a clock time (app/web/formats.py).
_DATE_ONLY = frozenset({"date", "weekday_date", "date_year", "long_date_year"})


@jinja2.pass_context
def patient_time(context, value: datetime | None, tz: str, fmt: str = "datetime") -> str:
    """A time in the patient's zone, saying which zone, with the viewer's own time beside it
    when their clocks differ at that moment: "Tue Dec 1, 10:05 AM EST (3:05 PM GMT your time)"."""
    if value is None:
        return ""
    theirs = value.astimezone(ZoneInfo(tz))
    viewer = context.get("user")
    if fmt in _DATE_ONLY:
        # A day has no zone to name; the viewer's day beside it only when it is another one.
        text = _shown(theirs, fmt)
        if viewer is not None and getattr(viewer, "timezone", tz) != tz:
            mine = value.astimezone(ZoneInfo(viewer.timezone))
            if mine.date() != theirs.date():
                text += " " + i18n.gettext("(%(time)s your time)", time=_shown(mine, fmt))
        return text
    text = f"{_shown(theirs, fmt)} {theirs.strftime('%Z')}"
    if viewer is not None and getattr(viewer, "timezone", tz) != tz:
        mine = value.astimezone(ZoneInfo(viewer.timezone))
        if mine.utcoffset() != theirs.utcoffset():
            same_day = mine.date() == theirs.date()
            shown = formats.format_datetime(mine, "time" if same_day else "weekday_time")
            text += " " + i18n.gettext("(%(time)s your time)",
                                       time=f"{shown} {mine.strftime('%Z')}")
    return text


env.filters["patient_time"] = patient_time


@jinja2.pass_context
def zoned_time(context, value: datetime | None, zone: str | None) -> str:
    """On a page about one patient for someone else (`zone`: the patient's), the patient's
    time as `patient_time` gives it; elsewhere the viewer's own. Shared partials (alerts, a
    dose's corrections) serve both kinds of page."""
    if zone:
        return patient_time(context, value, zone)
    viewer = context.get("user")
    return local_time(value, getattr(viewer, "timezone", None))


env.filters["zoned_time"] = zoned_time


def local_input(value: datetime | None, tz: str | None = None) -> str:
    """A UTC instant as the value of a datetime-local input in the viewer's zone (ISO, as HTML
    requires; the picker shows it in the phone's own convention)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz or settings.default_timezone)).strftime("%Y-%m-%dT%H:%M")


env.filters["local_input"] = local_input


# The same text as an instant, for patient_time or zoned_time.
env.filters["iso_datetime"] = lambda value: datetime.fromisoformat(value) if value else None
# A safety check's stored reason in the reader's language, its times in the patient's zone.
env.filters["reason_text"] = dose_reasons.text
env.filters["reason_text_about_patient"] = dose_reasons.text_about_patient
env.globals["reason_sentences"] = dose_reasons.sentences
env.globals["dose_account"] = dose_reasons.dose_account
# A protocol version's phases in words ("Induction from 2026-10-05: Mon, Thu at 10:00, …").
env.globals["schedule_words"] = schedule_words
# A device's stored label ("Chrome on Android") in the reader's language.
env.filters["device_words"] = _device_words


def errors_in(errors: dict | None, fields) -> bool:
    """Whether any of `fields` has an error: a folded form with one opens to show it."""
    return bool(errors) and any(name in errors for name in fields)


env.globals["errors_in"] = errors_in
# A zone in words in the time zone select ("New York (Eastern)", not "America/New York").
env.filters["timezone_label"] = timezone_label
env.filters["timezone_place"] = timezone_place


# Marked here, translated when shown (N_): building the whole table in the reader's language on
# each call cost some twenty catalogue lookups per badge, and a prescriber's two weeks of
# timeline show hundreds of badges (issue 14's profile).
_FLAG_LABELS = {
    "override": N_("Override"),
    "against_hold": N_("Taken against a hold"),
    "no_gate": N_("No safety check"),
    "late_entry": N_("Entered later"),
    "extra": N_("Extra dose"),
    "corrected_over_limit": N_("Correction breaks a limit"),
    # Worded as the patient list's flag of the same name (app/clinic/flags.py code_label).
    "cleared_by_correction": N_("Limits met only after a correction"),
    "off_protocol_amount": N_("Not the prescribed amount"),
    "possible_duplicate": N_("Possibly entered twice"),
    "too_soon": N_("Too soon"),
    "over_24h_max": N_("Over 24-hour maximum"),
    "over_7d_max": N_("Over 7-day maximum"),
    "bp_hold": N_("Blood pressure hold"),
    "bp_emergency": N_("Blood pressure emergency"),
    "pulse_hold": N_("Pulse hold"),
    "sitter_required": N_("No sitter"),
    "checklist_failed": N_("Checklist not complete"),
    "safety_review": N_("Safety review pending"),
    "screener_pending": N_("Safety questions not answered"),
    "recent_emergency": N_("Recent emergency reading"),
    "severe_side_effect": N_("Severe side effect"),
    "hard_to_rouse": N_("Hard to rouse"),
    "breathing_concern": N_("Breathing concern"),
    "positive_screen": N_("Positive suicidality screen"),
    "phq9_item9": N_("PHQ-9 item 9 above 0"),
    "dose_against_hold": N_("Dose taken against a hold"),
    "offline_gate_disagreed": N_("Offline safety check disagreed"),
    # Every code a patient or caregiver can meet reads as words.
    "no_sedation": N_("No sedation check yet"),
    "sedated": N_("Still drowsy"),
    "no_bp": N_("No blood pressure reading yet"),
    "bp_at_hold": N_("Blood pressure at the hold level"),
    "pulse_hold_low": N_("Pulse too low"),
    "pulse_hold_high": N_("Pulse too high"),
    "discrepancy": N_("Count does not match"),
    "early_refill": N_("Early refill"),
    "strength_mismatch": N_("Different strength"),
}


def flag_label(code: str) -> str:
    """A dose flag or hold reason code in words, for badges the prescriber reads."""
    label = _FLAG_LABELS.get(code)
    return _(label) if label else code.replace("_", " ")


env.filters["flag_label"] = flag_label


def shown_flags(flags) -> list[str]:
    """A dose's flags in the order its reader should meet them. A dose taken against a hold
    that may not be overridden is stored with "override" first (app/doses/service.py
    record_dose); shown that way it read as if overriding were allowed. So "Taken against a
    hold" leads and "Override" is left out beside it; the stored codes are unchanged."""
    flags = list(flags or ())
    if "against_hold" not in flags:
        return flags
    return ["against_hold", *(f for f in flags if f not in ("against_hold", "override"))]


env.filters["shown_flags"] = shown_flags


# A C-SSRS risk level, or a PHQ-9 item 9's screening, in words (the timeline, the summary,
# the PDF); "riesgo moderado": the level qualifies the risk, masculine in Spanish.
_RISK_LABELS = {
    "none": N_("none"),
    "low": N_("low"),
    "moderate": N_("moderate"),
    "high": N_("high"),
    "screened": N_("screened"),
    "unscreened": N_("not screened"),
}


def risk_label(level: str | None) -> str:
    label = _RISK_LABELS.get(level or "")
    return _(label) if label else (level or "—")


def band_words(band: str | None, instrument: str) -> str:
    """A stored score band in the reader's words, as the check-in's result page names it."""
    label = instrument_band_label(instrument, band)
    return _(label) if label else (band or "").replace("_", " ")


env.filters["risk_label"] = risk_label
env.filters["band_words"] = band_words


def verdict_words(verdict: object) -> str:
    """A safety check's verdict code in words ("ok" is "OK"; "hold", "Hold"), as the PDF's table
    and an offline disagreement say it; anything else as given."""
    return {"ok": _("OK"), "hold": _("Hold"), "emergency": _("Emergency")}.get(
        str(verdict), str(verdict))


def safety_event_words(kind: str, level: str | None, details: dict | None = None) -> str:
    """What a safety event was, in words: the one wording of the patient's page (its event
    list, the `safety_event_words` global) and of the prescriber's list flag for it
    (app/clinic/flags.py event_words). `details` is the event's stored details; what is read of
    them: a screen's instrument, a PHQ-9 item 9's screened risk, an offline disagreement's two
    verdicts. An offline disagreement without its verdicts (the list flag carries none) reads
    as its label. An unknown kind reads as its code."""
    details = details or {}
    if kind == "positive_screen":
        return _("Positive suicidality screen (%(instrument)s), risk %(level)s",
                 instrument=str(details.get("instrument") or "").upper(),
                 level=risk_label(level))
    if kind == "phq9_item9":
        if level == "unscreened":
            return _("PHQ-9 item 9 answered above 0: the C-SSRS screener was not completed")
        return _("PHQ-9 item 9 answered above 0: screener done, risk %(level)s",
                 level=risk_label(details.get("screened_risk")))
    if kind == "bp_emergency":
        return _("Blood pressure at or above 180/120")
    if kind == "dose_against_hold":
        return _("Dose taken against a hold")
    if kind == "offline_gate_disagreed":
        if "offline" not in details and "server" not in details:
            return flag_label(kind)
        return _("The phone's offline safety check said %(offline)s; the server said %(server)s",
                 offline=verdict_words(details.get("offline")),
                 server=verdict_words(details.get("server")))
    if kind == "severe_side_effect":
        return _("Severe side effect")
    if kind == "hard_to_rouse":
        return _("Hard to rouse during a session")
    if kind == "breathing_concern":
        return _("Breathing concern during a session")
    return kind


env.globals["safety_event_words"] = safety_event_words


def phase_label(phase: str) -> str:
    """A protocol phase in words, for its badge and the phase picker."""
    labels = {"induction": _("Induction"), "maintenance": _("Maintenance"), "taper": _("Taper")}
    return labels.get(phase, phase)


env.filters["phase_label"] = phase_label
# Answers and check-in values in words (item text and answer labels), on any page.
env.globals.update(answers_in_words=answers_in_words, values_in_words=values_in_words)
env.filters["severity_words"] = severity_words


def mg(value: object) -> str:
    """An amount to read, without trailing zeros, in the viewer's locale: 100, 12.5, 1,200."""
    if value is None:
        return ""
    return formats.format_number(value)


def mg_value(value: object) -> str:
    """An amount as a machine reads it (an input's value, a data- attribute): 1200, 12.5."""
    if value is None:
        return ""
    return f"{Decimal(str(value)).normalize():f}"


env.filters["mg"] = mg
env.filters["mg_value"] = mg_value


def language_choices() -> list[tuple[str, str, str | None]]:
    """The account page's language options: (value, label, the label's own language)."""
    return [("", _("Follow my phone"), None),
            *((code, name, code) for code, name in i18n.LANGUAGE_NAMES.items())]


env.globals["language_choices"] = language_choices
# Where a value (not a text) differs by language: the crisis lines' Spanish keyword.
env.globals["current_language"] = i18n.current_language


def _plural_n(value: object) -> tuple[Decimal, int]:
    amount = Decimal(str(value if value is not None else 0))
    n = int(amount) if amount == amount.to_integral_value() else 2  # a fraction reads plural
    return amount, abs(n)


def troches(value: object) -> str:
    """A count of troches with its noun, plural through ngettext: "1 troche", "1.5 troches"."""
    amount, n = _plural_n(value)
    return i18n.ngettext("%(count)s troche", "%(count)s troches", n, count=mg(amount))


def troche_noun(value: object) -> str:
    """The noun alone, for a number shown apart: "troche" for 1, "troches" otherwise."""
    return i18n.ngettext("troche", "troches", _plural_n(value)[1])


env.filters["troches"] = troches
env.filters["troche_noun"] = troche_noun


def csrf_token(request: Request) -> str:
    """The token for forms on this page; an anonymous visitor gets a random cookie to bind it to."""
    signed_in = getattr(request.state, "signed_in", None)
    if signed_in is not None:
        return csrf.mask(csrf_token_for(f"session:{signed_in.auth.id}"))
    anon = cookies.read_anon(request) or getattr(request.state, "new_anon", None)
    if anon is None:
        anon = secrets.token_urlsafe(24)
        request.state.new_anon = anon
    # Masked afresh per response: compressed pages must not leak it (app/web/csrf.py).
    return csrf.mask(csrf_token_for(f"anon:{anon}"))


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def keep_request_session(request: Request, session: SessionDep) -> AsyncIterator[None]:
    """Lends the request's own session to `render` (the menu's alert count) while the route
    runs; error pages rendered after the transaction ended go without the count. Async: it only
    sets an attribute, and a sync one would cost every request two trips to the thread pool."""
    request.state.db = session
    try:
        yield
    finally:
        request.state.db = None


def _open_alerts(request: Request, user) -> int | None:
    """The menu's count of open alerts for the care team: one COUNT, once per page."""
    db = getattr(request.state, "db", None)
    if db is None or user is None or user.role not in ("prescriber", "caregiver"):
        return None
    return alerts.open_count(db, user)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    """Render a page. With `block`, an htmx request gets just that block of the same template."""
    signed_in = getattr(request.state, "signed_in", None)
    ctx = {
        # <html lang> and the page wrapper's lang (a boosted swap replaces only the body).
        "lang": language.apply(request),
        "request": request,
        # While the app lock is due, pages (help, the lock screen) show nobody's menu or name.
        "user": signed_in.user if signed_in and not signed_in.auth.locked else None,
        "csrf_token": csrf_token(request),
        **(context or {}),
    }
    if block and is_htmx(request):
        tmpl = env.get_template(template)
        html = "".join(tmpl.blocks[block](tmpl.new_context(ctx)))
        response = HTMLResponse(html, status_code=status_code)
    else:
        if "alerts_open" not in ctx:
            ctx["alerts_open"] = _open_alerts(request, ctx["user"])
        response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    # One URL, two representations: caches (the service worker's too) must keep them apart.
    # The language too follows the Cookie (the person's setting) or Accept-Language.
    response.headers["Vary"] = "HX-Request, Cookie, Accept-Language"
    new_anon = getattr(request.state, "new_anon", None)
    if new_anon and not cookies.read_anon(request):
        cookies.set_anon(request, response, new_anon)
    return response
