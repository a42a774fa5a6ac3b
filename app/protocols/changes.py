"""What a protocol version changed from the one before it, in words.

A version is never edited: a change saves a new one with who, when and why (models.py). The
prescriber's history and the PDF say what each version changed, setting by setting, so nobody
has to compare two versions field by field to find that the interval went from 48 to 72 hours.
Pure: versions in, worded changes out.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from app.i18n import gettext as _
from app.protocols.models import ProtocolVersion
from app.protocols.schedule import PHASE_NAMES
from app.web.formats import format_datetime, format_number

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


def route_words(route: str) -> str:
    return {"sublingual": _("sublingual"), "buccal": _("buccal")}.get(str(route), str(route))


def schedule_words(version: ProtocolVersion, *, readable: bool = False) -> list[str]:
    """Each phase of the version's timeline: "Induction from 2026-10-05: Mon, Thu at 10:00,
    4 weeks", as records write it (the PDF, a version's changes). `readable`: as the app's
    pages write days and times, "Induction from Oct 5, 2026: Mon, Thu at 10:00 AM, …"."""
    lines = []
    for entry in version.timeline:
        cadence, length = _template_words(version.phases.get(entry["phase"]) or {},
                                          readable=readable)
        day = str(entry["starts_on"])
        if readable:
            day = format_datetime(date.fromisoformat(day), "date_year")
        lines.append(_("%(phase)s from %(day)s: %(cadence)s, %(length)s",
                       phase=_(str(entry["phase"]).capitalize()), day=day,
                       cadence=cadence, length=length))
    return lines


def _template_words(template: dict, *, readable: bool = False) -> tuple[str, str]:
    """A phase's template: its cadence ("Mon, Thu at 10:00") and length ("4 weeks")."""
    at = str(template.get("at", ""))[:5]
    if readable and at:
        at = format_datetime(time.fromisoformat(at), "time")
    if template.get("cadence") == "interval":
        cadence = _("every %(n)s days at %(at)s", n=template.get("every_n_days"), at=at)
    else:
        days = ", ".join(_(WEEKDAYS[d]) for d in sorted(template.get("weekdays") or ()))
        cadence = _("%(days)s at %(at)s", days=days, at=at)
    weeks = template.get("weeks")
    return cadence, (_("%(n)s weeks", n=weeks) if weeks else _("open-ended"))


def _unscheduled_template_changes(before: ProtocolVersion,
                                  after: ProtocolVersion) -> list[Change]:
    """Templates of phases on neither version's timeline yet (a taper set up ahead, the
    maintenance after an open-ended induction): the schedule's words do not show them."""
    scheduled = {e["phase"] for e in before.timeline} | {e["phase"] for e in after.timeline}
    found = []
    for phase in PHASE_NAMES:
        old, new = before.phases.get(phase), after.phases.get(phase)
        if phase in scheduled or old == new:
            continue
        found.append(Change(_(phase.capitalize()),
                            ", ".join(_template_words(old)) if old else "—",
                            ", ".join(_template_words(new)) if new else "—"))
    return found


def _number(value: Any) -> str:
    return "—" if value is None else format_number(value)


def _yes_no(value: Any) -> str:
    return _("Yes") if value else _("No")


def _items(words: dict[str, str]) -> Callable[[Any], str]:
    def worded(value: Any) -> str:
        chosen = [words.get(item, str(item)) for item in (value or [])]
        return ", ".join(chosen) if chosen else _("none")
    return worded


def _settings() -> list[tuple[str, str, Callable[[Any], str]]]:
    """(field, label, words) in the form's order, with the form's own labels."""
    checklist = _items({"fasted": _("Fasted"), "no_sedatives": _("No alcohol or sedatives"),
                        "no_driving": _("No driving until tomorrow"),
                        "safe_place": _("Safe place")})
    holds = _items({"bp_hold": _("Blood-pressure hold"), "pulse_hold": _("Pulse hold"),
                    "sitter_required": _("Sitter not present"),
                    "checklist_failed": _("Checklist not complete")})
    return [
        ("strength_mg", _("Troche strength (mg)"), _number),
        ("dose_mg", _("Dose per session (mg)"), _number),
        ("halving_allowed", _("Troches may be halved"), _yes_no),
        ("route", _("Route"), route_words),
        ("hold_minutes", _("Hold time (minutes)"), _number),
        ("min_hours_between_doses", _("Minimum hours between doses"), _number),
        ("max_mg_per_24h", _("Maximum mg in any 24 hours"), _number),
        ("max_mg_per_7d", _("Maximum mg in any 7 days"), _number),
        ("bp_hold_systolic", _("Hold at systolic ≥"), _number),
        ("bp_hold_diastolic", _("Hold at diastolic ≥"), _number),
        ("pulse_hold_low", _("Hold when pulse is below"), _number),
        ("pulse_hold_high", _("Hold when pulse is above"), _number),
        ("sitter_required", _("A sitter must be present"), _yes_no),
        ("required_checklist", _("Pre-dose checklist items that must be ticked"), checklist),
        ("fasting_hours", _("Fast for (hours)"), _number),
        ("sedative_free_hours", _("No sedatives for (hours)"), _number),
        ("gate_valid_minutes", _("A safety check stays valid for (minutes)"), _number),
        ("observation_minutes", _("Observation period (minutes)"), _number),
        ("emergency_lockout_hours", _("Dosing locked after an emergency reading (hours)"),
         _number),
        ("overridable_holds", _("Holds the patient may override before dosing, with a stated "
                                "reason"), holds),
        ("grace_hours", _("A session is missed after (hours)"), _number),
        ("early_refill_days", _("Flag a refill while supply lasts more than (days)"), _number),
    ]


def changes(before: ProtocolVersion | None, after: ProtocolVersion) -> list[Change]:
    """Every setting `after` changed from `before`, in the form's order, then the schedule;
    empty for a first version (nothing came before it) or a save that changed nothing."""
    if before is None:
        return []
    found = []
    for field, label, words in _settings():
        old, new = getattr(before, field), getattr(after, field)
        if field in ("required_checklist", "overridable_holds"):
            old, new = sorted(old or []), sorted(new or [])
        if old != new:
            found.append(Change(label, words(old), words(new)))
    old_plan, new_plan = schedule_words(before), schedule_words(after)
    if old_plan != new_plan:
        found.append(Change(_("Schedule"), "; ".join(old_plan) or "—",
                            "; ".join(new_plan) or "—"))
    return found + _unscheduled_template_changes(before, after)


def history(versions: list[ProtocolVersion]) -> list[tuple[ProtocolVersion, list[Change]]]:
    """Each version (newest first, as given or not) with what it changed from the one before."""
    ordered = sorted(versions, key=lambda v: v.version)
    paired = [(v, changes(ordered[i - 1] if i else None, v)) for i, v in enumerate(ordered)]
    return list(reversed(paired))
