"""Answers and check-in values in words, for people reading them (the prescriber's screens):
each item's text with the answer's label, each measure's label with its value, never keys.

Pure functions over what was stored; the templates show the result
(templates/checkins/_answers.html).
"""

from dataclasses import dataclass
from typing import Any

from app.checkins.instruments import (
    CSSRS_SINCE_LAST_CONTACT,
    CSSRS_SIX_ITEMS,
    MEASURES,
    Q6_FOLLOW_UP,
    Instrument,
    instrument_for,
)
from app.i18n import gettext as _
from app.i18n import pgettext


def severity_words(level: object) -> str:
    """A side effect's severity in words: "moderada" in Spanish, for la náusea, la ansiedad
    (the risk levels, el riesgo, are masculine: a context of their own)."""
    words = {"none": pgettext("severity", "none"), "mild": pgettext("severity", "mild"),
             "moderate": pgettext("severity", "moderate"),
             "severe": pgettext("severity", "severe")}
    return words.get(str(level), str(level))


@dataclass(frozen=True)
class Worded:
    text: str  # the question or the measure's label
    answer: str  # the answer's label or the value with its unit


def _label(instrument: Instrument | None, item_key: str, value: Any) -> str:
    if instrument is not None:
        item = next((i for i in instrument.items if i.key == item_key), None)
        if item is not None:
            for option in instrument.options_for(item):
                if option.value == value and type(option.value) is type(value):
                    return _(option.label)
    return str(value)


def _screener_version(answers: dict[str, Any]) -> Instrument:
    """Which C-SSRS form these answers came from, when the record does not say."""
    if Q6_FOLLOW_UP not in answers:
        return CSSRS_SIX_ITEMS  # stored before the 3-month follow-up existed
    if answers.get("q6") is True and answers.get(Q6_FOLLOW_UP) is None:
        return CSSRS_SINCE_LAST_CONTACT  # the only version with no follow-up after a yes
    return instrument_for("cssrs")  # type: ignore[return-value]


def answers_in_words(instrument_key: str, answers: dict[str, Any],
                     version: str | None = None) -> list[Worded]:
    """Each answered item, in item order, as (its text, the answer's label). Items that were
    not asked or left blank are left out. Since-last-contact questions say so, because their
    wording alone does not."""
    instrument = instrument_for(instrument_key, version) if version else None
    if instrument is None and instrument_key == "cssrs":
        instrument = _screener_version(answers)
    instrument = instrument or instrument_for(instrument_key)
    if instrument is None:
        return [Worded(key, str(value)) for key, value in answers.items() if value is not None]
    prefix = (_("Since last contact:") + " "
              if instrument.version == "since_last_contact" else "")
    texts = {item.key: prefix + _(item.text) for item in instrument.items}
    return [Worded(texts.get(key, key), _label(instrument, key, value))
            for key, value in answers.items() if value is not None]


def values_in_words(values: dict[str, Any]) -> list[Worded]:
    """Check-in values in the catalogue's order as (measure, value in words): option labels,
    "6/10" for scales, one "184/100 mmHg" for a blood pressure reading."""
    words: list[Worded] = []
    both = "systolic" in values and "diastolic" in values
    for key, measure in MEASURES.items():
        if key not in values:
            continue
        value = values[key]
        label = _(measure.short_label or measure.label)
        if key == "diastolic" and both:
            continue
        if key == "systolic" and both:
            words.append(Worded(_("Blood pressure"),
                                f"{value}/{values['diastolic']} {measure.unit}"))
        elif measure.kind == "scale":
            words.append(Worded(label, f"{value}/{measure.high}"))
        elif measure.kind == "choice":
            option = next((o for o in measure.options if o.value == value), None)
            words.append(Worded(label, _(option.label) if option else str(value)))
        elif measure.kind == "bool":
            words.append(Worded(label, _("Yes") if value is True else _("No")))
        elif measure.kind == "severity":
            words.append(Worded(label, severity_words(value)))
        elif measure.unit:
            unit = measure.unit if measure.unit.startswith("/") else f" {measure.unit}"
            words.append(Worded(label, f"{value}{unit}"))
        else:
            words.append(Worded(label, str(value)))
    words.extend(Worded(key, str(value)) for key, value in values.items()
                 if key not in MEASURES)
    return words
