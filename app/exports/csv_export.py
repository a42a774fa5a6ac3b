"""CSV: one file per record type, in a zip with a README that documents every column.

Shapes what app/exports/records.py gathered; never queries. The same files serve one patient
and the whole panel (`patient_id` on every row), so a study can stack exports.

Conventions (also in the README):
- UTF-8 with a byte-order mark (so spreadsheet programs read accents), comma separated, one
  header row.
- Every time twice: `*_utc` (ISO 8601, Z) and `*_local` (ISO 8601 with the offset, in the
  patient's zone), with the zone's name in `timezone`.
- Codes next to labels: `route` and `route_label`, `verdict` and `verdict_label`, reason codes
  beside their messages. Codes are stable; labels are in the exporter's language.
- Lists are joined with "; ". Free text that a spreadsheet would run as a formula (starting
  with = + - @) is prefixed with an apostrophe.
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app import i18n
from app.alerts.service import kind_label as alert_kind_label
from app.checkins.instruments import (
    MEASURES,
    SLOTS,
    instrument_for,
    risk_loinc,
)
from app.checkins.words import answers_in_words, values_in_words
from app.clinic.flags import code_label
from app.doses import reasons as dose_reasons
from app.exports.records import PatientRecords
from app.exports.stream import zip_bytes
from app.i18n import gettext as _
from app.templating import flag_label, shown_flags

_TIMES = "ISO 8601"


def _time_columns(name: str, what: str) -> dict[str, str]:
    return {f"{name}_utc": f"{what}, UTC ({_TIMES}, Z)",
            f"{name}_local": f"{what}, the patient's local time ({_TIMES} with offset)"}


_PATIENT = {"patient_id": "The patient's TrocheLog id (the same in every file)",
            "timezone": "The patient's time zone (IANA name) used for every *_local column"}

# file name → {column: description}, in column order. The README in every zip lists these.
COLUMNS: dict[str, dict[str, str]] = {
    # Whose record it is: the other files carry only the id (the zip's name carries nothing).
    "patients.csv": {
        **_PATIENT,
        "name": "The patient's name, as their care team sees it in TrocheLog",
    },
    "doses.csv": {
        **_PATIENT,
        "dose_id": "The dose's id",
        **_time_columns("taken_at", "When the dose was taken"),
        **_time_columns("recorded_at", "When it was entered on the phone"),
        "received_at_utc": "When the server received it, UTC",
        "dose_mg": "Dose in mg (current value, after corrections)",
        "troches": "Troches taken",
        "route": "Route code: sublingual or buccal",
        "route_label": "Route in words",
        "hold_minutes": "Minutes held in the mouth",
        "swallowed": "Saliva swallowed after the hold: yes / no / blank (not recorded)",
        "lot": "Lot number",
        "rx_number": "Prescription number",
        "protocol_version": "The protocol version in force (see the app for its rules)",
        "gate_id": "The safety check (gates.csv) this dose was taken after; blank: none",
        "flags": "Flag codes: override, against_hold, no_gate, late_entry, extra, …",
        "flag_labels": "The flags in words, as the app shows them: a dose against a hold "
                       "(against_hold) leads, and is not also called an override (its stored "
                       "codes keep override), so this list may be one shorter than flags",
        "override_reason": "Why a guard was overridden, in the patient's words",
        "no_gate_reason": "Why no safety check was done, in the patient's words",
        "status": "recorded or entered_in_error (kept, never deleted)",
        "status_label": "The status in words",
        "status_reason": "Why it was marked entered in error",
        "revision": "1 + the number of corrections (dose_revisions.csv)",
        "already_taken": "yes: logged after it was taken (“I have already taken a dose”), its "
                         "override_reason the patient's account of what happened; no: logged "
                         "at the time",
    },
    "dose_revisions.csv": {
        **_PATIENT,
        "dose_id": "The corrected dose (doses.csv)",
        "revision": "The revision number this correction made",
        **_time_columns("revised_at", "When it was corrected"),
        "revised_by_id": "Who corrected it (id)",
        "revised_by_name": "Who corrected it",
        "reason": "Why",
        "field": "The field changed (one row per field)",
        "before": "Its value before",
        "after": "Its value after",
    },
    "gates.csv": {
        **_PATIENT,
        "gate_id": "The safety check's id",
        **_time_columns("checked_at", "When the pre-dose safety check was done"),
        "received_at_utc": "When the server received it, UTC",
        "systolic": f"Systolic blood pressure, mmHg (LOINC {MEASURES['systolic'].loinc})",
        "diastolic": f"Diastolic blood pressure, mmHg (LOINC {MEASURES['diastolic'].loinc})",
        "heart_rate": f"Pulse, /min (LOINC {MEASURES['heart_rate'].loinc})",
        "proposed_mg": "The dose it was checked for, mg",
        "verdict": "ok, hold or emergency",
        "verdict_label": "The verdict in words",
        "reason_codes": "Why (codes): too_soon, bp_hold, bp_emergency, …",
        "reason_messages": "Why, as the patient was told",
        "checklist": "The pre-dose checklist: item=yes/no",
        "sitter_check_id": "The sitter's co-signed checklist (checkins.csv), if any",
        "protocol_version": "The protocol version it was checked against",
    },
    "checkins.csv": {
        **_PATIENT,
        "checkin_id": "The check-in's id",
        "slot": "Slot code: pre, plus40, end, sitter_check, observe, next_morning, daily",
        "slot_label": "The slot in words",
        **_time_columns("recorded_at", "When it was recorded"),
        "received_at_utc": "When the server received it, UTC",
        "author_id": "Who recorded it (the patient, or a sitter from their own account)",
        "author_name": "Who recorded it",
        "author_is_patient": "yes when the patient recorded it, no for a sitter",
        "dose_id": "The dose (session) it belongs to, if any",
        "flags": "Flag codes: severe_side_effect, hard_to_rouse, breathing_concern",
        "flag_labels": "The flags in words",
        **{f"value_{key}": f"{m.label} (code{', ' + m.unit if m.unit else ''}"
                           f"{', LOINC ' + m.loinc if m.loinc else ''})"
           for key, m in MEASURES.items()},
        "values_in_words": "Every value in words",
    },
    "questionnaires.csv": {
        **_PATIENT,
        "response_id": "The response's id",
        "instrument": "Instrument code: phq9, gad7, cssrs",
        "instrument_title": "Instrument name",
        "version": "The wording answered, where there is more than one (C-SSRS)",
        **_time_columns("completed_at", "When it was completed"),
        "received_at_utc": "When the server received it, UTC",
        "score": "Total score (PHQ-9 0-27, GAD-7 0-21; blank for the C-SSRS)",
        "score_loinc": "LOINC code of the total (PHQ-9 44261-6, GAD-7 70274-6) or risk level",
        "band": "Severity band code",
        "band_label": "Severity band in words",
        "risk": "C-SSRS risk code: none, low, moderate, high",
        "risk_loinc_answer": "LOINC answer code of the risk level (93374-7)",
        "risk_label": "Risk in words",
        "follow_up": "The instrument asked next (cssrs after PHQ-9 item 9 above 0)",
        "follows_id": "The response that led to this one",
        "answers": "Answers as codes: item=value",
        "answers_in_words": "Each question with its answer in words",
    },
    "ledger.csv": {
        **_PATIENT,
        "entry_id": "The ledger entry's id",
        "kind": "fill (troches added) or count (troches counted)",
        "kind_label": "The kind in words",
        **_time_columns("occurred_at", "When (a fill: its day at local noon)"),
        "received_at_utc": "When the server received it, UTC",
        "count": "Troches filled or counted",
        "filled_on": "The fill's day (YYYY-MM-DD)",
        "strength_mg": "Troche strength, mg",
        "rx_number": "Prescription number",
        "pharmacy": "Pharmacy",
        "lot": "Lot number",
        "expected_balance": "At a count: what the record expected",
        "flags": "Flag codes: early_refill, discrepancy",
        "flag_labels": "The flags in words",
    },
    "safety_events.csv": {
        **_PATIENT,
        "event_id": "The event's id",
        "kind": "Code: positive_screen, phq9_item9, bp_emergency, dose_against_hold, …",
        "kind_label": "The event in words",
        "level": "low, moderate, high; for a PHQ-9 item 9 answer, screened or unscreened",
        **_time_columns("occurred_at", "When it happened"),
        "source_id": "The questionnaire response, check-in, gate or dose it came from",
        "holds_dosing": "yes when it held dosing until a prescriber reviewed it. A PHQ-9 item 9 "
                        "answer above 0 (phq9_item9) also holds dosing until the C-SSRS "
                        "screener is answered, and that hold is not in this column: the "
                        "screener is the questionnaires.csv row whose follows_id is this "
                        "event's source_id",
        "shared_with_caregiver": "The patient's consent to tell their caregiver, at the time",
        **_time_columns("reviewed_at", "When a prescriber reviewed it"),
        "reviewed_by_id": "Who reviewed it (id)",
        "reviewed_by_name": "Who reviewed it",
        "review_note": "The review note",
        "details": "The event's details (JSON)",
    },
    # The alerts the events raised, and who answered them: the pages show both.
    "alerts.csv": {
        **_PATIENT,
        "alert_id": "The alert's id",
        "kind": "Code: cssrs_high, screener_unanswered, bp_emergency, dose_against_hold, "
                "bp_hold, …",
        "kind_label": "The alert in words",
        "source_id": "What raised it: the safety event (safety_events.csv event_id), or for "
                     "screener_unanswered the PHQ-9 (questionnaires.csv), or for bp_hold the "
                     "safety check (gates.csv)",
        **_time_columns("raised_at", "When it was raised"),
        "notified_count": "How many notifications were sent, one contact after another, "
                          "until it was acknowledged",
        **_time_columns("acknowledged_at", "When it was acknowledged (blank: still open)"),
        "acknowledged_by_id": "Who acknowledged it (id)",
        "acknowledged_by_name": "Who acknowledged it (a prescriber, or a sitter the patient "
                                "shares alerts with)",
        "acknowledgement_note": "Their note",
    },
    # The prescriber's reviews of the patient list's flags (the PDF lists them too); a safety
    # event's review is on its row in safety_events.csv.
    "flag_reviews.csv": {
        **_PATIENT,
        "review_id": "The review's id",
        "code": "Flag code: missed_sessions, bp_hold, override, struck_flagged, supply, …",
        "code_label": "The flag in words",
        "key": "The occurrence the review names (a dose, check, count or event id, or a day); "
               "it clears that one and earlier ones of the same code",
        **_time_columns("reviewed_at", "When it was reviewed"),
        "reviewed_by_id": "Who reviewed it (id)",
        "reviewed_by_name": "Who reviewed it",
        "note": "The review note",
    },
}
FILES = tuple(COLUMNS)


def _labels() -> dict[str, dict[str, str]]:
    return {
        "route": {"sublingual": _("Sublingual"), "buccal": _("Buccal")},
        "status": {"recorded": _("Recorded"), "entered_in_error": _("Entered in error")},
        "verdict": {"ok": _("OK to dose"), "hold": _("Hold"),
                    "emergency": _("Emergency: do not dose")},
        "ledger_kind": {"fill": _("Fill"), "count": _("Count")},
        "risk": {"none": _("None"), "low": _("Low"), "moderate": _("Moderate"),
                 "high": _("High")},
        "safety": {
            "positive_screen": _("Positive suicidality screen"),
            "phq9_item9": _("PHQ-9 item 9 answered above 0"),
            "bp_emergency": _("Blood pressure at or above 180/120"),
            "dose_against_hold": _("Dose taken against a hold"),
            "offline_gate_disagreed": _("The phone's offline safety check disagreed"),
            "severe_side_effect": _("Severe side effect"),
            "hard_to_rouse": _("Hard to rouse during a session"),
            "breathing_concern": _("Breathing concern"),
        },
    }


# --- cells ----------------------------------------------------------------------------------

def _utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _local(value: datetime | None, records: PatientRecords) -> str:
    return value.astimezone(records.zone).isoformat(timespec="seconds") if value else ""


def _times(name: str, value: datetime | None, records: PatientRecords) -> dict[str, str]:
    return {f"{name}_utc": _utc(value), f"{name}_local": _local(value, records)}


def _num(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _yes(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _text(value: Any) -> str:
    """Free text, safe to open in a spreadsheet (no formula runs from a patient's note)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _join(values: Iterable[Any]) -> str:
    return "; ".join(str(v) for v in values)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return _yes(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _text(json.dumps(value, sort_keys=True, default=str))
    return _text(value)


def _pid(records: PatientRecords) -> dict[str, str]:
    return {"patient_id": str(records.patient.id), "timezone": records.patient.timezone}


def _versions(records: PatientRecords) -> dict:
    return {p.id: p.version for p in records.protocols}


# --- rows, one builder per file -------------------------------------------------------------

def _doses(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    versions = _versions(records)
    for d in sorted(records.doses, key=lambda d: (d.taken_at, str(d.id))):
        yield {**_pid(records), "dose_id": str(d.id), **_times("taken_at", d.taken_at, records),
               **_times("recorded_at", d.recorded_at, records),
               "received_at_utc": _utc(d.received_at), "dose_mg": _num(d.dose_mg),
               "troches": _num(d.troches), "route": str(d.route),
               "route_label": labels["route"].get(str(d.route), str(d.route)),
               "hold_minutes": _num(d.hold_minutes), "swallowed": _yes(d.swallowed),
               "lot": _text(d.lot), "rx_number": _text(d.rx_number),
               "protocol_version": _num(versions.get(d.protocol_version_id)),
               "gate_id": str(d.gate_id or ""), "flags": _join(d.flags),
               "flag_labels": _join(flag_label(f) for f in shown_flags(d.flags)),
               "override_reason": _text(d.override_reason),
               "no_gate_reason": _text(d.no_gate_reason), "status": str(d.status),
               "status_label": labels["status"].get(str(d.status), str(d.status)),
               "status_reason": _text(d.status_reason), "revision": _num(d.revision),
               "already_taken": _yes(d.already_taken)}


def _dose_revisions(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for d in sorted(records.doses, key=lambda d: (d.taken_at, str(d.id))):
        for r in records.revisions.get(d.id, []):
            for name, change in r.changes.items():
                yield {**_pid(records), "dose_id": str(d.id), "revision": _num(r.revision),
                       **_times("revised_at", r.at, records),
                       "revised_by_id": str(r.by_id or ""), "revised_by_name": _text(r.by_name),
                       "reason": _text(r.reason), "field": name,
                       "before": _changed(name, change["before"]),
                       "after": _changed(name, change["after"])}


def _changed(name: str, value: Any) -> str:
    """A corrected field's value. An amount is stored as the record held it ("150.00") or as
    typed ("100"): written as doses.csv writes amounts, so one column has one format."""
    if name == "dose_mg" and value is not None:
        try:
            return _num(Decimal(str(value)))
        except ArithmeticError:
            pass
    return _value(value)


def _gates(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    versions = _versions(records)
    for g in sorted(records.gates, key=lambda g: (g.checked_at, str(g.id))):
        reasons = [r for r in g.reasons if isinstance(r, dict)]
        # Put into words again as the patient was told them: their language, their zone.
        with i18n.using(i18n.language_for(records.patient)):
            told = [dose_reasons.text(r, records.patient.timezone) for r in reasons]
        yield {**_pid(records), "gate_id": str(g.id), **_times("checked_at", g.checked_at, records),
               "received_at_utc": _utc(g.received_at), "systolic": _num(g.systolic),
               "diastolic": _num(g.diastolic), "heart_rate": _num(g.heart_rate),
               "proposed_mg": _num(g.proposed_mg), "verdict": g.verdict,
               "verdict_label": labels["verdict"].get(g.verdict, g.verdict),
               "reason_codes": _join(r.get("code", "") for r in reasons),
               "reason_messages": _text(_join(told)),
               "checklist": _join(f"{k}={_yes(v) if isinstance(v, bool) else v}"
                                  for k, v in sorted(g.checklist.items())),
               "sitter_check_id": str(g.sitter_check_id or ""),
               "protocol_version": _num(versions.get(g.protocol_version_id))}


def _words(worded) -> str:
    return _text(_join(f"{w.text}: {w.answer}" for w in worded))


def _checkins(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for c in sorted(records.checkins, key=lambda c: (c.recorded_at, str(c.id))):
        slot = SLOTS.get(c.slot)
        yield {**_pid(records), "checkin_id": str(c.id), "slot": c.slot,
               "slot_label": _(slot.title) if slot else c.slot,
               **_times("recorded_at", c.recorded_at, records),
               "received_at_utc": _utc(c.received_at), "author_id": str(c.author_id),
               "author_name": _text(records.authors.get(c.author_id, "")),
               "author_is_patient": _yes(c.author_id == records.patient.id),
               "dose_id": str(c.dose_id or ""), "flags": _join(c.flags),
               "flag_labels": _join(flag_label(f) for f in c.flags),
               **{f"value_{key}": _value(c.values.get(key)) for key in MEASURES},
               "values_in_words": _words(values_in_words(c.values))}


def _questionnaires(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for q in sorted(records.questionnaires, key=lambda q: (q.completed_at, str(q.id))):
        instrument = instrument_for(q.instrument)
        band = next((b for b in instrument.bands if b.key == q.band), None) if instrument else None
        coded = risk_loinc(q.risk)
        yield {**_pid(records), "response_id": str(q.id), "instrument": q.instrument,
               "instrument_title": instrument.title if instrument else q.instrument,
               "version": q.version or "", **_times("completed_at", q.completed_at, records),
               "received_at_utc": _utc(q.received_at), "score": _num(q.score),
               "score_loinc": (instrument.loinc_total or "") if instrument else "",
               "band": q.band or "", "band_label": _(band.label) if band else "",
               "risk": q.risk or "", "risk_loinc_answer": coded[0] if coded else "",
               "risk_label": labels["risk"].get(q.risk or "", q.risk or ""),
               "follow_up": q.follow_up or "", "follows_id": str(q.follows_id or ""),
               "answers": _join(f"{k}={_value(v)}" for k, v in q.answers.items()),
               "answers_in_words": _words(answers_in_words(q.instrument, q.answers,
                                                           q.version))}


def _ledger(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for e in sorted(records.ledger, key=lambda e: (e.occurred_at, str(e.id))):
        yield {**_pid(records), "entry_id": str(e.id), "kind": str(e.kind),
               "kind_label": labels["ledger_kind"].get(str(e.kind), str(e.kind)),
               **_times("occurred_at", e.occurred_at, records),
               "received_at_utc": _utc(e.received_at), "count": _num(e.count),
               "filled_on": e.filled_on.isoformat() if e.filled_on else "",
               "strength_mg": _num(e.strength_mg), "rx_number": _text(e.rx_number),
               "pharmacy": _text(e.pharmacy), "lot": _text(e.lot),
               "expected_balance": _num(e.expected_balance), "flags": _join(e.flags),
               "flag_labels": _join(flag_label(f) for f in e.flags)}


def _safety_events(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for e in sorted(records.safety_events, key=lambda e: (e.occurred_at, str(e.id))):
        yield {**_pid(records), "event_id": str(e.id), "kind": e.kind,
               "kind_label": labels["safety"].get(e.kind, e.kind.replace("_", " ")),
               "level": e.level, **_times("occurred_at", e.occurred_at, records),
               "source_id": str(e.source_id), "holds_dosing": _yes(e.holds_dosing),
               "shared_with_caregiver": _yes(e.share_with_caregiver),
               **_times("reviewed_at", e.reviewed_at, records),
               "reviewed_by_id": str(e.reviewed_by_id or ""),
               "reviewed_by_name": _text(records.authors.get(e.reviewed_by_id, ""))
               if e.reviewed_by_id else "",
               "review_note": _text(e.review_note), "details": _value(e.details)}


def _flag_reviews(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for r in sorted(records.flag_reviews, key=lambda r: (r.reviewed_at, str(r.id))):
        yield {**_pid(records), "review_id": str(r.id), "code": r.code,
               "code_label": code_label(r.code), "key": _text(r.key),
               **_times("reviewed_at", r.reviewed_at, records),
               "reviewed_by_id": str(r.reviewed_by_id),
               "reviewed_by_name": _text(records.authors.get(r.reviewed_by_id, "")),
               "note": _text(r.note)}


def _alerts(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    for a in sorted(records.alerts, key=lambda a: (a.raised_at, str(a.id))):
        yield {**_pid(records), "alert_id": str(a.id), "kind": a.kind,
               "kind_label": alert_kind_label(a.kind), "source_id": str(a.source_id),
               **_times("raised_at", a.raised_at, records),
               "notified_count": str(a.notified_count),
               **_times("acknowledged_at", a.acknowledged_at, records),
               "acknowledged_by_id": str(a.acknowledged_by_id or ""),
               "acknowledged_by_name": _text(records.authors.get(a.acknowledged_by_id, ""))
               if a.acknowledged_by_id else "",
               "acknowledgement_note": _text(a.acknowledgement_note)}


def _patients(records: PatientRecords, labels) -> Iterator[dict[str, str]]:
    yield {**_pid(records), "name": _text(records.patient.display_name)}


ROWS: dict[str, Callable[[PatientRecords, dict], Iterator[dict[str, str]]]] = {
    "patients.csv": _patients,
    "doses.csv": _doses,
    "dose_revisions.csv": _dose_revisions,
    "gates.csv": _gates,
    "checkins.csv": _checkins,
    "questionnaires.csv": _questionnaires,
    "ledger.csv": _ledger,
    "safety_events.csv": _safety_events,
    "alerts.csv": _alerts,
    "flag_reviews.csv": _flag_reviews,
}
# What each file needs gathered (the panel gathers one record type at a time).
NEEDS: dict[str, str] = {
    "patients.csv": "patients",  # nothing beyond the patient
    "doses.csv": "doses", "dose_revisions.csv": "doses", "gates.csv": "gates",
    "checkins.csv": "checkins", "questionnaires.csv": "questionnaires", "ledger.csv": "ledger",
    "safety_events.csv": "safety_events", "flag_reviews.csv": "flag_reviews",
    "alerts.csv": "alerts",
}


class Counter:
    """Rows written, by file (for the audit and the tests)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = dict.fromkeys(FILES, 0)

    @property
    def records(self) -> int:
        """The records exported, counted as PatientRecords.rows() counts them (for the audit):
        revisions are part of their dose, and neither the patients' list, the reviews of
        the list's flags nor the alerts (notices of what is exported) is a record."""
        return sum(n for name, n in self.rows.items()
                   if name not in ("dose_revisions.csv", "patients.csv", "flag_reviews.csv",
                                   "alerts.csv"))


def csv_chunks(name: str, batches: Iterable[PatientRecords],
               counter: Counter | None = None) -> Iterator[bytes]:
    """One file: the header, then each patient's rows as one chunk of UTF-8 bytes."""
    columns = list(COLUMNS[name])
    labels = _labels()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writeheader()
    for records in batches:
        for row in ROWS[name](records, labels):
            writer.writerow(row)
            if counter is not None:
                counter.rows[name] += 1
        if buffer.tell() >= 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def readme(*, start, end, generated_at: datetime, patients: str) -> bytes:
    lines = [
        "TrocheLog export",
        "",
        f"Records of {patients}, for the days {start.isoformat()} to {end.isoformat()} "
        "(inclusive, each patient's own local days). patients.csv says whose they are.",
        f"Generated at {_utc(generated_at)}.",
        "",
        "Files are UTF-8 CSV (with a byte-order mark), comma separated, one header row.",
        "Every time is given twice: *_utc (UTC, ISO 8601 ending in Z) and *_local (the",
        "patient's local time, ISO 8601 with its offset); `timezone` names the zone.",
        "Codes sit next to labels (e.g. route and route_label); codes are stable, labels",
        "are in the exporter's language. Lists are joined with '; '. Free text that a",
        "spreadsheet would treat as a formula (starting with = + - @) is prefixed with '.",
        "Doses marked entered_in_error are kept, never deleted; corrections are in",
        "dose_revisions.csv, one row per changed field.",
        "",
    ]
    for name, columns in COLUMNS.items():
        lines += [name, "-" * len(name)]
        lines += [f"  {column}: {text}" for column, text in columns.items()]
        lines.append("")
    return "\r\n".join(lines).encode()


def patient_zip(records: PatientRecords, *, generated_at: datetime,
                counter: Counter | None = None) -> bytes:
    """One patient's export: README.txt and one CSV per record type, zipped."""
    files = [("README.txt", [readme(start=records.start, end=records.end,
                                    generated_at=generated_at, patients="one patient")])]
    files += [(name, csv_chunks(name, [records], counter)) for name in FILES]
    return zip_bytes(files, modified=generated_at)
