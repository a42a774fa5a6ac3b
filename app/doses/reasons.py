"""Why a safety check held or a dose was refused, in words.

A gate stores its reasons as codes and parameters (`stored`), never as the sentence the patient
read, so each reader gets them in their own language: the Spanish-speaking patient in Spanish,
their English-speaking prescriber in English, an export in its reader's language. `text` puts a
stored reason into words when it is shown; `shown` gives the list with a `message` for the JSON
answers and the pages. Rows written before the parameters were kept carry only the message they
were written with, and keep showing it.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from app.doses import rules
from app.doses.rules import ReasonCode
from app.i18n import gettext as _
from app.web.formats import format_datetime, format_number

# Parameters that are instants (stored as ISO 8601 text) and amounts (stored as decimal text).
_INSTANTS = frozenset({"next_allowed_at", "conflicting_at", "at", "until"})
_AMOUNTS = frozenset({"hours", "limit_mg", "total_mg"})


def checklist_reasons() -> dict[str, str]:
    """The checklist's items in the form's order, each with what the safety check says when it
    is required and not ticked: a whole sentence, what is wrong and what to do, matching the
    item's own words on the form (templates/doses/_gate_form.html). The hours are the plan's
    and are not kept with the reason, so the sentence says "as long as your plan asks"."""
    return {
        "fasted": _("You have not confirmed that you have gone without food for as long as "
                    "your plan asks. Wait until you have, then check again."),
        "no_sedatives": _("You have not confirmed that you have had no alcohol, "
                          "benzodiazepines or other sedatives for as long as your plan asks. "
                          "Wait until you have gone that long without them, then check again."),
        "no_driving": _("You have not confirmed that you will not drive or use machinery until "
                        "tomorrow. Make plans so you do not have to, then check again."),
        "safe_place": _("You have not confirmed that you are somewhere safe to sit or lie down. "
                        "Go somewhere safe, then check again."),
        "sitter_present": _("You have not confirmed that your sitter is here with you. Wait for "
                            "them to arrive, then check again."),
    }


def checklist_reasons_about_patient() -> dict[str, str]:
    """The same items as `checklist_reasons`, as the record says them to a clinician reading
    it (the prescriber's timeline, the FHIR export): what was not confirmed, in the third
    person, without telling anyone what to do."""
    return {
        "fasted": _("Not confirmed: no food for as long as the plan asks."),
        "no_sedatives": _("Not confirmed: no alcohol, benzodiazepines or other sedatives for as "
                          "long as the plan asks."),
        "no_driving": _("Not confirmed: no driving or machinery until tomorrow."),
        "safe_place": _("Not confirmed: somewhere safe to sit or lie down."),
        "sitter_present": _("Not confirmed: the sitter is present."),
    }


# The dose pages know the checklist by this name: its keys are the form's checkboxes, and its
# words those of the phone's offline verdict (templates/doses/_gate_start.html).
checklist_labels = checklist_reasons


def _mg(value: object) -> str:
    """Read in the viewer's locale (app/web/formats.py): 12.5, 1,200."""
    return format_number(value)


def _sentence(code: ReasonCode, v: Callable[[str], str], about_patient: bool = False) -> str:
    """A reason's sentence in the active language, each number, time or list filled by `v`
    from the parameter of that name (one place for the words, online and offline). As the
    patient is told it ("your hold limit"), or, `about_patient`, as the record reads to a
    clinician ("the hold limit"); the sentences without a "you" serve both."""
    if about_patient:
        clinical = _about_patient(code, v)
        if clinical is not None:
            return clinical
    if code == ReasonCode.TOO_SOON:
        return _(
            "Too soon: doses must be at least %(hours)s hours apart. Next allowed: %(when)s.",
            hours=v("hours"), when=v("next_allowed_at"),
        )
    if code == ReasonCode.OVER_24H_MAX:
        return _("Over the 24-hour maximum of %(limit)s mg (this would make %(total)s mg).",
                 limit=v("limit_mg"), total=v("total_mg"))
    if code == ReasonCode.OVER_7D_MAX:
        return _("Over the 7-day maximum of %(limit)s mg (this would make %(total)s mg).",
                 limit=v("limit_mg"), total=v("total_mg"))
    if code == ReasonCode.BP_EMERGENCY:
        return _("Blood pressure %(s)s/%(d)s is at a dangerous level (180/120 or above).",
                 s=v("systolic"), d=v("diastolic"))
    if code == ReasonCode.BP_HOLD:
        return _("Blood pressure %(s)s/%(d)s is at or above your hold limit of %(hs)s/%(hd)s.",
                 s=v("systolic"), d=v("diastolic"), hs=v("hold_systolic"),
                 hd=v("hold_diastolic"))
    if code == ReasonCode.SITTER_REQUIRED:
        return _("Your sitter must be with you for this session.")
    if code == ReasonCode.CHECKLIST_FAILED:
        # Each item not ticked in its own sentence (checklist_reasons), one after another.
        return v("items")
    if code == ReasonCode.PULSE_HOLD:
        return _("Pulse %(hr)s is outside your limits of %(low)s to %(high)s.",
                 hr=v("heart_rate"), low=v("low"), high=v("high"))
    if code == ReasonCode.SAFETY_REVIEW:
        return _("Your care team must review your recent answers before your next dose.")
    if code == ReasonCode.SCREENER_PENDING:
        # Today says above why the questions are asked; the hold does not repeat it.
        return _("Your safety questions are not finished. Answer them before your next dose.")
    if code == ReasonCode.RECENT_EMERGENCY:
        return _("Your blood pressure reached a dangerous level recently. Dosing is on hold "
                 "until %(when)s, whatever later readings show.", when=v("until"))
    return str(code)


def _about_patient(code: ReasonCode, v: Callable[[str], str]) -> str | None:
    """The third-person sentence of a reason the patient is told in the second person; None
    for the others, whose one sentence serves every reader."""
    if code == ReasonCode.BP_HOLD:
        return _("Blood pressure %(s)s/%(d)s is at or above the hold limit of %(hs)s/%(hd)s.",
                 s=v("systolic"), d=v("diastolic"), hs=v("hold_systolic"),
                 hd=v("hold_diastolic"))
    if code == ReasonCode.SITTER_REQUIRED:
        return _("A sitter must be present for this session, and none was confirmed.")
    if code == ReasonCode.PULSE_HOLD:
        return _("Pulse %(hr)s is outside the limits of %(low)s to %(high)s.",
                 hr=v("heart_rate"), low=v("low"), high=v("high"))
    if code == ReasonCode.SAFETY_REVIEW:
        return _("A care-team review of recent answers is pending.")
    if code == ReasonCode.SCREENER_PENDING:
        return _("PHQ-9 item 9 was answered above 0 and the C-SSRS screener that follows it is "
                 "not answered yet.")
    if code == ReasonCode.RECENT_EMERGENCY:
        return _("Blood pressure reached a dangerous level recently: dosing is on hold until "
                 "%(when)s, whatever later readings show.", when=v("until"))
    return None


# Parameters a reason may lack: its sentence shows a blank (a time) or a dash (a pulse limit).
_OPTIONAL = frozenset({"hours", "next_allowed_at", "items", "low", "high"})


def reason_message(reason: rules.Reason, tz: str, about_patient: bool = False) -> str:
    """One reason in the active language, its times in the zone `tz` (the patient's): as the
    patient is told it, or, `about_patient`, as a clinician reads the record."""
    p = reason.params

    def v(name: str) -> str:
        value = p.get(name) if name in _OPTIONAL else p[name]
        if name in _INSTANTS:
            return format_datetime(value.astimezone(ZoneInfo(tz)), "datetime") if value else ""
        if name == "items":
            words = checklist_reasons_about_patient() if about_patient else checklist_reasons()
            return " ".join(words.get(item, item) for item in value or ())
        if name in _AMOUNTS:
            return _mg(value or 0)
        return "—" if value is None else str(value)

    return _sentence(reason.code, v, about_patient)


def sentences() -> dict[str, str]:
    """Each reason's sentence in the active language with `{parameter}` slots, for the phone to
    fill offline from the reasons its own copy of the rules gives (app/static/offline.js)."""
    return {code.value: _sentence(code, lambda name: "{" + name + "}") for code in ReasonCode}


# --- stored as data --------------------------------------------------------------------------


def _to_json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _from_json(key: str, value: object) -> object:
    if isinstance(value, list):
        return tuple(_from_json(key, v) for v in value)
    if key in _INSTANTS and isinstance(value, str):
        return datetime.fromisoformat(value)
    if key in _AMOUNTS and isinstance(value, str | int | float):
        return Decimal(str(value))
    return value


def stored(reasons: Iterable[rules.Reason]) -> list[dict]:
    """The reasons as the record keeps them: `{"code", "params"}`, JSON-safe."""
    return [{"code": r.code.value, "params": {k: _to_json(v) for k, v in r.params.items()}}
            for r in reasons]


def text(reason: Mapping, tz: str) -> str:
    """A stored reason in the active language, as the patient was told it. A reason written
    before parameters were kept, or with a code this version does not know, shows the words it
    was stored with."""
    return _text(reason, tz, about_patient=False)


def text_about_patient(reason: Mapping, tz: str) -> str:
    """A stored reason as a clinician reads the record (the prescriber's timeline, the FHIR
    export): "the hold limit", not "your hold limit"."""
    return _text(reason, tz, about_patient=True)


def _text(reason: Mapping, tz: str, about_patient: bool) -> str:
    params = reason.get("params")
    if isinstance(params, Mapping):
        try:  # an unknown code is a ValueError from rules.Reason
            decoded = {k: _from_json(k, v) for k, v in params.items()}
            return reason_message(rules.Reason(reason.get("code"), decoded), tz, about_patient)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            pass  # a damaged row still shows what it has, below
    return str(reason.get("message") or reason.get("code") or "")


def shown(reasons: Iterable[Mapping], tz: str) -> list[dict]:
    """Stored reasons with their words in the active language, for a JSON answer or a page."""
    return [{**r, "message": text(r, tz)} for r in reasons if isinstance(r, Mapping)]


def in_words(reasons: Iterable[rules.Reason], tz: str) -> list[dict]:
    """Reasons the rules just gave, as `shown` gives stored ones."""
    return shown(stored(reasons), tz)


def dose_account(dose) -> list[str]:
    """A dose's own reasons, in the one set of sentences History, the chart, the timeline, the
    PDF and the FHIR bundle all read (they were worded four ways). A dose recorded through "I
    have already taken a dose" was written down afterwards, so its reason is the patient's
    account of what happened, never a reason given before dosing; a reason to dose despite a
    hold is said as that, never a bare "Override" a reader could take for permission given."""
    said = []
    if dose.already_taken:
        said.append(_("Logged after it was taken. What happened: %(r)s", r=dose.override_reason)
                    if dose.override_reason else _("Logged after it was taken."))
    elif dose.override_reason:
        said.append(_("Reason given for dosing despite a hold: %(r)s", r=dose.override_reason))
    if dose.no_gate_reason:
        said.append(_("No safety check because: %(r)s", r=dose.no_gate_reason))
    return said
