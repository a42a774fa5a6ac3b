"""One patient's record as a FHIR R4 Bundle (type "collection"), as plain JSON-able dicts.

Shapes what `records.gather` found; never queries. What goes in:

- the Patient (id and name only: the minimum a receiving system needs to file it);
- a MedicationAdministration per dose: "completed", or "entered-in-error" for a dose struck
  from the record; a dose taken against a hold stays "completed" and says so in its notes;
- a MedicationAdministration "not-done" per held gate (verdict hold or emergency) on which no
  dose was taken, with each stored reason as a statusReason (our code, the stored message);
- vital signs: a blood pressure panel per reading (gates and check-ins, the sitter's
  included) and a heart rate per pulse;
- per questionnaire, a QuestionnaireResponse (answers with their words) and Observations: the
  PHQ-9 and GAD-7 totals, the PHQ-9's item 9, and the C-SSRS screener's items and risk level;
- a DetectedIssue per safety event (a positive screen, a PHQ-9 item 9 answer, a crisis
  reading, a dose against a hold, …): what it was in words, its severity, the resource it came
  from (`implicated`, when that is in the bundle) and the prescriber's review as its
  `mitigation` (when, by whom, the note), and its alert's acknowledgement when that was apart
  from the review. A receiving system sees what was raised and what was done, as the PDF and
  the CSV say;
- a DetectedIssue per alert that no safety event in the bundle carries (a blood-pressure
  hold's, raised on its check): the alert in words, the check it was about (`implicated`) and
  who acknowledged it (`mitigation`); final once acknowledged;
- a DetectedIssue per review of a flag on the patient list (an override, a held check, a count
  that did not match, missed sessions, …): final, the flag's code and words, the occurrence
  the review names when the bundle holds it, and the review as its `mitigation`.

Resource ids are the rows' own UUIDs; a resource derived from a row (a gate's blood pressure,
its "not-done" administration) gets a UUID5 of that row's id, so an export of the same record
twice has the same ids. Every reference is the target's `urn:uuid:` fullUrl.

LOINC codes of instruments and vital-sign measures come from app/checkins/instruments.py; the
codes that live nowhere else are the enums below.
"""

import contextlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from app.alerts.models import Alert
from app.alerts.service import kind_label as alert_kind_label
from app.checkins.instruments import (
    CSSRS,
    MEASURES,
    PHQ9,
    SLOTS,
    Instrument,
    instrument_for,
    risk_loinc,
)
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent, severity
from app.checkins.words import _screener_version
from app.clinic.flags import code_label
from app.clinic.models import FlagReview
from app.doses import reasons as dose_reasons
from app.doses.models import Dose, DoseStatus, GateCheck
from app.doses.rules import Verdict
from app.exports.records import PatientRecords
from app.exports.revisions import revision_words
from app.i18n import N_, ngettext
from app.i18n import gettext as _
from app.protocols.models import ProtocolVersion, Route
from app.templating import flag_label, safety_event_words, shown_flags

Json = dict[str, Any]


class System(StrEnum):
    LOINC = "http://loinc.org"
    SNOMED = "http://snomed.info/sct"
    UCUM = "http://unitsofmeasure.org"
    OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
    # TrocheLog's own codes (the gate's reason codes, app/doses/rules.py ReasonCode; the dose's
    # flags, app/doses/service.py).
    GATE_REASON = "https://trochelog.example/fhir/CodeSystem/gate-reason"
    DOSE_FLAG = "https://trochelog.example/fhir/CodeSystem/dose-flag"
    ANSWER = "https://trochelog.example/fhir/CodeSystem/answer"
    SAFETY_EVENT = "https://trochelog.example/fhir/CodeSystem/safety-event"
    # An alert's kind (app/alerts/service.py) and a patient-list flag's code
    # (app/clinic/flags.py).
    ALERT = "https://trochelog.example/fhir/CodeSystem/alert"
    LIST_FLAG = "https://trochelog.example/fhir/CodeSystem/list-flag"


class Loinc(StrEnum):
    """LOINC codes not in the instrument catalogue (which holds the instruments' and the
    measures' own codes)."""

    BP_PANEL = "85354-9"  # Blood pressure panel with all children optional


# The measures' codes, from the catalogue (checked against the published codes in the tests).
SYSTOLIC = MEASURES["systolic"].loinc
DIASTOLIC = MEASURES["diastolic"].loinc
HEART_RATE = MEASURES["heart_rate"].loinc
PHQ9_ITEM9 = next(i for i in PHQ9.items if i.key == "q9")
RISK_LEVEL = CSSRS.loinc_total  # 93374-7 Suicide risk level


class Snomed(StrEnum):
    SUBLINGUAL = "37839007"
    BUCCAL = "54471007"


# route → (SNOMED CT code, its display, the words shown; translated when rendered)
ROUTE_CODES: dict[str, tuple[Snomed, str, str]] = {
    Route.SUBLINGUAL: (Snomed.SUBLINGUAL, "Sublingual route", N_("Under the tongue")),
    Route.BUCCAL: (Snomed.BUCCAL, "Buccal route", N_("Between cheek and gum")),
}


class Category(StrEnum):
    VITAL_SIGNS = "vital-signs"
    SURVEY = "survey"


class Ucum(StrEnum):
    MG = "mg"
    MM_HG = "mm[Hg]"
    PER_MIN = "/min"


# Official LOINC short displays, for people reading the raw JSON.
LOINC_DISPLAY: dict[str, str] = {
    Loinc.BP_PANEL: "Blood pressure panel with all children optional",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "8867-4": "Heart rate",
    "44261-6": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    "70274-6": "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
    "44260-8": "Thoughts that you would be better off dead, or of hurting yourself in some way",
    "93374-7": "Suicide risk level",
}

HELD = frozenset({Verdict.HOLD, Verdict.EMERGENCY})


def bundle(records: PatientRecords, *, generated_at: datetime) -> Json:
    """The records as a FHIR R4 Bundle of type collection, timestamped `generated_at`."""
    return _Builder(records).build(generated_at)


def _derived(source: uuid.UUID, kind: str) -> uuid.UUID:
    return uuid.uuid5(source, kind)


def _url(resource_id: uuid.UUID) -> str:
    return f"urn:uuid:{resource_id}"


def _number(value: Decimal | int | float) -> int | float:
    """A JSON number: exact integers as int (150, not 150.00)."""
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def _loinc(code: str, text: str | None = None) -> Json:
    coding: Json = {"system": System.LOINC.value, "code": code}
    if code in LOINC_DISPLAY:
        coding["display"] = LOINC_DISPLAY[code]
    concept: Json = {"coding": [coding]}
    if text:
        concept["text"] = text
    return concept


def _category(code: Category, display: str) -> list[Json]:
    return [{"coding": [{"system": System.OBSERVATION_CATEGORY.value, "code": code.value,
                         "display": display}]}]


def _quantity(value: Decimal | int | float, unit: Ucum, shown: str | None = None) -> Json:
    return {"value": _number(value), "unit": shown or unit.value, "system": System.UCUM.value,
            "code": unit.value}


def _instrument(q: QuestionnaireResponse) -> Instrument | None:
    """The form these answers were given on (as app/checkins/words.py decides it)."""
    if q.version:
        return instrument_for(q.instrument, q.version)
    if q.instrument == "cssrs":
        return _screener_version(q.answers)
    return instrument_for(q.instrument)


class _Builder:
    def __init__(self, records: PatientRecords) -> None:
        self.records = records
        self.tz = ZoneInfo(records.patient.timezone)
        self.patient_ref = {"reference": _url(records.patient.id)}
        self.versions: dict[uuid.UUID, ProtocolVersion] = {v.id: v for v in records.protocols}
        self.entries: list[tuple[datetime, int, Json]] = []
        self.added: set[str] = set()  # ids of the resources in the bundle, for `implicate`
        self.told: set[uuid.UUID] = set()  # alerts a safety event's DetectedIssue carries

    # --- plumbing ---------------------------------------------------------------------------

    def when(self, at: datetime) -> str:
        """An instant as ISO 8601 in the patient's zone, with its offset."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(self.tz).isoformat(timespec="seconds")

    def add(self, at: datetime, resource: Json) -> Json:
        self.entries.append((at, len(self.entries), resource))
        self.added.add(resource["id"])
        return resource

    def build(self, generated_at: datetime) -> Json:
        r = self.records
        for dose in r.doses:
            self.administration(dose)
        taken_on = {d.gate_id for d in r.doses
                    if d.gate_id is not None and d.status == DoseStatus.RECORDED}
        for gate in r.gates:
            bp = self.vitals(gate.id, gate.checked_at, gate.systolic, gate.diastolic,
                             gate.heart_rate, self.gate_note(gate), performer=None)
            if gate.verdict in HELD and gate.id not in taken_on:
                self.not_done(gate, bp)
        for checkin in r.checkins:
            self.checkin(checkin)
        for response in r.questionnaires:
            self.questionnaire(response)
        for event in r.safety_events:
            self.detected_issue(event)
        for alert in r.alerts:
            if alert.id not in self.told:
                self.alert_issue(alert)
        for review in r.flag_reviews:
            self.flag_review(review)
        if generated_at.tzinfo is None:
            generated_at = generated_at.replace(tzinfo=UTC)
        ordered = [resource for _at, _n, resource in
                   sorted(self.entries, key=lambda e: (e[0], e[1]))]
        resources = [self.patient(), *ordered]
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(r.patient.id, f"{r.start}/{r.end}/{generated_at.isoformat()}")),
            "type": "collection",
            "timestamp": generated_at.isoformat(timespec="seconds"),
            "entry": [{"fullUrl": _url(uuid.UUID(res["id"])), "resource": res}
                      for res in resources],
        }

    def patient(self) -> Json:
        p = self.records.patient
        return {"resourceType": "Patient", "id": str(p.id), "name": [{"text": p.display_name}]}

    # --- medication ---------------------------------------------------------------------------

    def product(self, version_id: uuid.UUID) -> Json:
        version = self.versions.get(version_id)
        if version is None:
            return {"text": _("Ketamine HCl troche (compounded)")}
        return {"text": _("Ketamine HCl %(route)s troche (compounded), %(mg)s mg",
                          route=_(str(version.route)), mg=_number(version.strength_mg))}

    def route(self, route: str) -> Json:
        if route not in ROUTE_CODES:
            return {"text": route or _("Route not recorded")}
        code, display, words = ROUTE_CODES[route]
        return {"coding": [{"system": System.SNOMED.value, "code": code.value,
                            "display": display}], "text": _(words)}

    def administration(self, dose: Dose) -> None:
        notes: list[str] = []
        if dose.status == DoseStatus.ENTERED_IN_ERROR:
            notes.append(_("Entered in error: %(reason)s", reason=dose.status_reason or ""))
        if dose.flags:
            notes.append(_("Flags: %(flags)s",
                           flags=", ".join(flag_label(f) for f in shown_flags(dose.flags))))
        notes += dose_reasons.dose_account(dose)  # as the pages and the PDF say them
        for revision in self.records.revisions.get(dose.id, []):
            if "status" in revision.after:
                continue  # the entered-in-error mark, said above
            # What changed, before and after, as the PDF and the CSV carry it: a reader of
            # the bundle alone could not tell 150 mg from 100 mg.
            notes.append(_("Corrected %(at)s: %(reason)s", at=self.when(revision.at),
                           reason=revision.reason) + " (" + revision_words(revision, self.when)
                         + ")")
        if dose.lot:
            notes.append(_("Lot %(lot)s", lot=dose.lot))
        count = _number(dose.troches)
        text = [ngettext("%(num)s troche", "%(num)s troches", 1 if count == 1 else 2, num=count)]
        if dose.hold_minutes:
            text.append(_("held %(n)s minutes", n=dose.hold_minutes))
        if dose.swallowed is not None:
            text.append(_("saliva swallowed") if dose.swallowed else _("saliva spat out"))
        resource: Json = {
            "resourceType": "MedicationAdministration",
            "id": str(dose.id),
            "status": ("entered-in-error" if dose.status == DoseStatus.ENTERED_IN_ERROR
                       else "completed"),
            "medicationCodeableConcept": self.product(dose.protocol_version_id),
            "subject": self.patient_ref,
            "effectiveDateTime": self.when(dose.taken_at),
            "dosage": {"text": ", ".join(text), "route": self.route(dose.route),
                       "dose": _quantity(dose.dose_mg, Ucum.MG)},
        }
        if dose.gate_id is not None and any(g.id == dose.gate_id for g in self.records.gates):
            resource["supportingInformation"] = [
                {"reference": _url(_derived(dose.gate_id, "blood-pressure"))}]
        if notes:
            resource["note"] = [{"text": n} for n in notes]
        self.add(dose.taken_at, resource)

    def not_done(self, gate: GateCheck, reading: Json) -> None:
        version = self.versions.get(gate.protocol_version_id)
        route = str(version.route) if version else ""
        reasons = [{"coding": [{"system": System.GATE_REASON.value, "code": r["code"],
                                "display": flag_label(r["code"])}],
                    "text": dose_reasons.text_about_patient(r, self.records.patient.timezone)
                    or flag_label(r["code"])}
                   for r in gate.reasons]
        resource: Json = {
            "resourceType": "MedicationAdministration",
            "id": str(_derived(gate.id, "held")),
            "status": "not-done",
            "statusReason": reasons or [{"text": _("Dosing was on hold.")}],
            "medicationCodeableConcept": self.product(gate.protocol_version_id),
            "subject": self.patient_ref,
            "effectiveDateTime": self.when(gate.checked_at),
            "dosage": {"text": _("Proposed dose, not taken"), "route": self.route(route),
                       "dose": _quantity(gate.proposed_mg, Ucum.MG)},
        }
        if reading:
            resource["supportingInformation"] = [{"reference": _url(uuid.UUID(reading["id"]))}]
        self.add(gate.checked_at, resource)

    # --- vital signs --------------------------------------------------------------------------

    def gate_note(self, gate: GateCheck) -> str:
        verdict = {Verdict.OK: _("ok"), Verdict.HOLD: _("hold"),
                   Verdict.EMERGENCY: _("emergency")}.get(Verdict(gate.verdict), gate.verdict)
        text = _("Pre-dose safety check: %(verdict)s", verdict=verdict)
        if gate.reasons:
            text += " (" + ", ".join(flag_label(r["code"]) for r in gate.reasons) + ")"
        return text

    def vitals(self, source: uuid.UUID, at: datetime, systolic: object, diastolic: object,
               heart_rate: object, note: str, performer: Json | None) -> Json:
        """A blood pressure panel (when both numbers are there) and a heart rate (when it is);
        returns the panel, or the heart rate when there is no panel."""
        common: Json = {
            "status": "final",
            "category": _category(Category.VITAL_SIGNS, "Vital Signs"),
            "subject": self.patient_ref,
            "effectiveDateTime": self.when(at),
            "performer": [performer or self.patient_ref],
            "note": [{"text": note}],
        }
        found: list[Json] = []
        if _is_int(systolic) and _is_int(diastolic):
            found.append(self.add(at, {
                "resourceType": "Observation", "id": str(_derived(source, "blood-pressure")),
                **common, "code": _loinc(Loinc.BP_PANEL, _("Blood pressure")),
                "component": [
                    {"code": _loinc(SYSTOLIC), "valueQuantity": _quantity(systolic, Ucum.MM_HG)},
                    {"code": _loinc(DIASTOLIC),
                     "valueQuantity": _quantity(diastolic, Ucum.MM_HG)},
                ],
            }))
        if _is_int(heart_rate):
            found.append(self.add(at, {
                "resourceType": "Observation", "id": str(_derived(source, "heart-rate")),
                **common, "code": _loinc(HEART_RATE, _("Pulse")),
                "valueQuantity": _quantity(heart_rate, Ucum.PER_MIN, "beats/minute"),
            }))
        return found[0] if found else {}

    def checkin(self, checkin: CheckIn) -> None:
        values = checkin.values or {}
        slot = SLOTS.get(checkin.slot)
        note = _("Check-in: %(slot)s", slot=_(slot.title) if slot else checkin.slot)
        performer = None
        if checkin.author_id != self.records.patient.id:
            name = self.records.authors.get(checkin.author_id, "")
            performer = {"display": name or _("Caregiver")}
            note += " — " + _("recorded by %(name)s", name=performer["display"])
        self.vitals(checkin.id, checkin.recorded_at, values.get("systolic"),
                    values.get("diastolic"), values.get("heart_rate"), note, performer)

    # --- safety events, alerts and list flags ----------------------------------------------

    def detected_issue(self, event: SafetyEvent) -> None:
        words = safety_event_words(event.kind, event.level, event.details)
        # Final once a prescriber reviewed it; until then, what the record raised.
        resource = self.issue(
            event.id, event.reviewed_at is not None, System.SAFETY_EVENT, event.kind, words,
            words + ("; " + _("dosing was on hold until a prescriber reviewed it")
                     if event.holds_dosing else ""), event.occurred_at)
        # A PHQ-9 item 9 answer's level is whether it was screened; its screener's risk is
        # its severity (its words said "risk high" beside no severity: a tester).
        if found := severity(event.level, (event.details or {}).get("screened_risk")):
            resource["severity"] = found
        self.implicate(resource, event.source_id)
        if event.reviewed_at:
            resource["mitigation"] = [self.review(event.reviewed_at, event.reviewed_by_id,
                                                  event.review_note)]
        # Its alert's acknowledgement, when someone answered it apart from the review (a
        # review acknowledges the alert itself, with the same note: not said twice).
        for alert in self.records.alerts:
            ours = alert.source_id == event.id or (
                alert.kind == "screener_unanswered" and event.kind == "phq9_item9"
                and alert.source_id == event.source_id)
            if not ours:
                continue
            self.told.add(alert.id)
            if alert.acknowledged_at is None or (
                    alert.acknowledged_at == event.reviewed_at
                    and alert.acknowledged_by_id == event.reviewed_by_id):
                continue
            resource.setdefault("mitigation", []).append(self.acknowledgement(alert))
        self.add(event.occurred_at, resource)

    def alert_issue(self, alert: Alert) -> None:
        """An alert no safety event in the bundle carries (a blood-pressure hold's, raised on
        its check; one whose event falls outside the range): what the care team was told, the
        check or reading it was about, and who answered it. The bundle had the held check but
        not the alert or its acknowledgement, which the PDF and the CSV both list."""
        words = alert_kind_label(alert.kind)
        # Final once someone acknowledged it; until then, what was raised.
        resource = self.issue(alert.id, alert.acknowledged_at is not None, System.ALERT,
                              alert.kind, words,
                              _("Alert to the care team: %(what)s", what=words), alert.raised_at)
        self.implicate(resource, alert.source_id)
        if alert.acknowledged_at:
            resource["mitigation"] = [self.acknowledgement(alert)]
        self.add(alert.raised_at, resource)

    def flag_review(self, review: FlagReview) -> None:
        """A prescriber's review of a flag on the patient list (an override, a held check, a
        count that did not match, missed sessions, …), as the PDF's "Flags reviewed" and
        flag_reviews.csv have it: the flag, the occurrence it names when that is in the
        bundle, and the review. A safety event's flag is reviewed on the event itself (its
        DetectedIssue's mitigation), so it is not here twice."""
        words = code_label(review.code)
        # When the flag was first raised is not stored (the list derives it), so no date.
        resource = self.issue(review.id, True, System.LIST_FLAG, review.code, words,
                              _("Flag on the patient list: %(flag)s", flag=words))
        with contextlib.suppress(ValueError):  # a day (missed sessions) is not a record
            self.implicate(resource, uuid.UUID(review.key))
        resource["mitigation"] = [self.review(review.reviewed_at, review.reviewed_by_id,
                                              review.note)]
        self.add(review.reviewed_at, resource)

    def issue(self, resource_id: uuid.UUID, final: bool, system: System, code: str,
              words: str, detail: str, identified: datetime | None = None) -> Json:
        resource: Json = {
            "resourceType": "DetectedIssue",
            "id": str(resource_id),
            "status": "final" if final else "preliminary",
            "code": {"coding": [{"system": system.value, "code": code}], "text": words},
            "patient": self.patient_ref,
        }
        if identified is not None:
            resource["identifiedDateTime"] = self.when(identified)
        resource["detail"] = detail
        return resource

    def implicate(self, resource: Json, source_id: uuid.UUID) -> None:
        """Point at the resource(s) `source_id` became, when the bundle holds them: a dose, a
        questionnaire, a check's or a check-in's reading, or the dose a held check did not
        lead to."""
        implicated = [ref for ref in (str(source_id),
                                      str(_derived(source_id, "blood-pressure")),
                                      str(_derived(source_id, "held")))
                      if ref in self.added]
        if implicated:
            resource["implicated"] = [{"reference": _url(uuid.UUID(ref))} for ref in implicated]

    def review(self, at: datetime, by_id: uuid.UUID | None, note: str | None) -> Json:
        return self.mitigation(_("Reviewed by the prescriber"), at, by_id, note)

    def acknowledgement(self, alert: Alert) -> Json:
        return self.mitigation(_("Alert acknowledged"), alert.acknowledged_at,
                               alert.acknowledged_by_id, alert.acknowledgement_note)

    def mitigation(self, action: str, at: datetime, by_id: uuid.UUID | None,
                   note: str | None) -> Json:
        """What was done about an issue: the action (with the person's note), when, by whom."""
        done: Json = {"action": {"text": action + (": " + note if note else "")},
                      "date": self.when(at)}
        if who := self.records.authors.get(by_id) if by_id else None:
            done["author"] = {"display": who}
        return done

    # --- questionnaires ------------------------------------------------------------------------

    def questionnaire(self, q: QuestionnaireResponse) -> None:
        instrument = _instrument(q)
        qr_ref = {"reference": _url(q.id)}
        title = instrument.title if instrument else q.instrument
        self.add(q.completed_at, self.response(q, instrument))
        base: Json = {
            "status": "final",
            "category": _category(Category.SURVEY, "Survey"),
            "subject": self.patient_ref,
            "effectiveDateTime": self.when(q.completed_at),
            "derivedFrom": [qr_ref],
        }
        if instrument is None:
            return
        if instrument.loinc_total and q.score is not None:
            total: Json = {"resourceType": "Observation", "id": str(_derived(q.id, "total")),
                           **base,
                           "code": _loinc(instrument.loinc_total,
                                          _("%(title)s total score", title=title)),
                           "valueInteger": q.score}
            band = next((b for b in instrument.bands if b.key == q.band), None)
            if band is not None:
                total["interpretation"] = [{"text": _(band.label)}]
            self.add(q.completed_at, total)
        if instrument.key == PHQ9.key and isinstance(q.answers.get(PHQ9_ITEM9.key), int):
            self.add(q.completed_at, {
                "resourceType": "Observation", "id": str(_derived(q.id, PHQ9_ITEM9.key)), **base,
                "code": _loinc(PHQ9_ITEM9.loinc or "", _(PHQ9_ITEM9.text)),
                "valueInteger": q.answers[PHQ9_ITEM9.key]})
        if instrument.scoring == "cssrs_screener":
            self.screener(q, instrument, base)

    def screener(self, q: QuestionnaireResponse, instrument: Instrument, base: Json) -> None:
        items: list[Json] = []
        for item in instrument.items:
            answer = q.answers.get(item.key)
            if not isinstance(answer, bool):
                continue  # not asked, or left blank
            code: Json = (_loinc(item.loinc, _(item.text)) if item.loinc
                          else {"text": _(item.text)})
            items.append(self.add(q.completed_at, {
                "resourceType": "Observation", "id": str(_derived(q.id, item.key)), **base,
                "code": code,
                "valueBoolean": answer}))
        coded = risk_loinc(q.risk)
        if coded is not None:
            value: Json = {"coding": [{"system": System.LOINC.value, "code": coded[0],
                                       "display": coded[1]}], "text": _(coded[1])}
        else:  # LOINC's answer list has no "no risk": said in words only
            value = {"text": _("No risk identified") if q.risk == "none" else (q.risk or "")}
        self.add(q.completed_at, {
            "resourceType": "Observation", "id": str(_derived(q.id, "risk")), **base,
            "code": _loinc(RISK_LEVEL or "", _("C-SSRS screener risk level")),
            "valueCodeableConcept": value,
            "derivedFrom": [*base["derivedFrom"],
                            *({"reference": _url(uuid.UUID(i["id"]))} for i in items)],
        })

    def response(self, q: QuestionnaireResponse, instrument: Instrument | None) -> Json:
        items: list[Json] = []
        known = {i.key: i for i in instrument.items} if instrument else {}
        for key, value in (q.answers or {}).items():
            if value is None:
                continue  # not asked, or left blank
            item = known.get(key)
            entry: Json = {"linkId": key}
            if item is not None:
                entry["text"] = _(item.text)
            entry["answer"] = [self.answer(instrument, item, value)]
            items.append(entry)
        resource: Json = {
            "resourceType": "QuestionnaireResponse",
            "id": str(q.id),
            "status": "completed",
            "subject": self.patient_ref,
            "authored": self.when(q.completed_at),
            "author": self.patient_ref,
            "item": items,
        }
        return resource

    def answer(self, instrument: Instrument | None, item: Any, value: object) -> Json:
        if isinstance(value, bool):
            return {"valueBoolean": value}
        label = None
        if instrument is not None and item is not None:
            label = next((o.label for o in instrument.options_for(item)
                          if o.value == value and type(o.value) is type(value)), None)
        if label is not None:  # the option's value as the code, its label as the display
            return {"valueCoding": {"system": System.ANSWER.value, "code": str(value),
                                    "display": _(label)}}
        if isinstance(value, int):
            return {"valueInteger": value}
        return {"valueString": str(value)}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
