"""The FHIR R4 export: a valid Bundle, the right codes, holds and errors said the FHIR way.

Golden files: tests/exports/golden/fhir_*.json hold the demo patients' last 14 days with UUIDs
replaced by placeholders in order of appearance. After an intended change, regenerate them with
    UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/exports/test_fhir.py
and read the diff before keeping it.
"""

import json
import os
import re
import uuid
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlmodel import select

from app.checkins.instruments import CSSRS, GAD7, PHQ9
from app.doses import corrections
from app.doses.models import Dose, GateCheck
from app.exports import fhir, records
from tests.exports.demo import GENERATED, NOW, gathered

GOLDEN = Path(__file__).parent / "golden"


def valid_bundle(found: records.PatientRecords) -> dict:
    """The Bundle, after checking it the way a receiving system would."""
    out = fhir.bundle(found, generated_at=GENERATED)
    json.dumps(out)  # plain JSON, nothing left for a custom encoder
    Bundle.model_validate(out)
    for entry in out["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    urls = [e["fullUrl"] for e in out["entry"]]
    assert len(urls) == len(set(urls)), "two entries share a fullUrl"
    for ref in re.findall(r'"reference": "([^"]+)"', json.dumps(out)):
        assert ref in urls, f"{ref} points outside the bundle"
    return out


def of_type(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def coded(resources: list[dict], code: str) -> list[dict]:
    return [r for r in resources if any(c["code"] == code for c in r["code"].get("coding", []))]


def by_url(bundle: dict, url: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == url)


def test_codes_are_the_published_ones():
    assert fhir.Snomed.SUBLINGUAL == "37839007" and fhir.Snomed.BUCCAL == "54471007"
    assert fhir.Loinc.BP_PANEL == "85354-9"
    assert (fhir.SYSTOLIC, fhir.DIASTOLIC, fhir.HEART_RATE) == ("8480-6", "8462-4", "8867-4")
    assert fhir.Ucum.MG == "mg" and fhir.Ucum.MM_HG == "mm[Hg]" and fhir.Ucum.PER_MIN == "/min"
    assert (PHQ9.loinc_total, GAD7.loinc_total) == ("44261-6", "70274-6")
    assert fhir.PHQ9_ITEM9.loinc == "44260-8" and fhir.RISK_LEVEL == "93374-7"
    assert [i.loinc for i in CSSRS.items] == ["93246-7", "93247-5", "93248-3", "93249-1",
                                              "93250-9", "93267-3", "93269-9"]
    assert fhir.System.LOINC == "http://loinc.org"
    assert fhir.System.SNOMED == "http://snomed.info/sct"
    assert fhir.System.UCUM == "http://unitsofmeasure.org"


def test_whole_demo_history_is_a_valid_r4_collection(db, demo):
    for email in ("patient@demo.test", "patient2@demo.test"):
        patient = demo[email]
        out = valid_bundle(gathered(db, patient, days=60))
        assert out["type"] == "collection"
        assert out["timestamp"] == "2026-11-24T20:35:00+00:00"
        first = out["entry"][0]["resource"]
        assert first == {"resourceType": "Patient", "id": str(patient.id),
                         "name": [{"text": patient.display_name}]}
        doses = db.exec(select(Dose).where(Dose.patient_id == patient.id)).all()
        given = [m for m in of_type(out, "MedicationAdministration") if m["status"] != "not-done"]
        assert sorted(m["id"] for m in given) == sorted(str(d.id) for d in doses)
        # Every resource points at this patient and no other.
        subjects = {(r.get("subject") or r["patient"])["reference"]  # DetectedIssue: patient
                    for r in (e["resource"] for e in out["entry"][1:])}
        assert subjects == {f"urn:uuid:{patient.id}"}
        # The same records give the same Bundle (ids included): an export can be compared.
        assert fhir.bundle(gathered(db, patient, days=60), generated_at=GENERATED) == out


def test_a_dose_in_fhir_terms(db, demo):
    out = valid_bundle(gathered(db, demo["patient@demo.test"]))
    given = [m for m in of_type(out, "MedicationAdministration") if m["status"] == "completed"]
    assert given
    dose = given[-1]
    assert dose["medicationCodeableConcept"]["text"] == (
        "Ketamine HCl sublingual troche (compounded), 100 mg")
    assert dose["dosage"]["route"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "37839007", "display": "Sublingual route"}]
    assert dose["dosage"]["dose"] == {"value": 150, "unit": "mg",
                                      "system": "http://unitsofmeasure.org", "code": "mg"}
    assert dose["dosage"]["text"].startswith("1.5 troches")
    assert dose["effectiveDateTime"].endswith("-05:00")  # New York in November, with offset
    # It points at the safety check's reading it was taken on.
    (support,) = dose["supportingInformation"]
    assert by_url(out, support["reference"])["code"]["coding"][0]["code"] == "85354-9"

    other = valid_bundle(gathered(db, demo["patient2@demo.test"]))
    buccal = of_type(other, "MedicationAdministration")[0]
    assert buccal["medicationCodeableConcept"]["text"] == (
        "Ketamine HCl buccal troche (compounded), 50 mg")
    assert buccal["dosage"]["route"]["coding"][0]["code"] == "54471007"
    assert buccal["effectiveDateTime"].endswith("-06:00")  # Chicago


def test_a_held_gate_is_not_done_with_its_stored_reasons(db, demo):
    patient = demo["patient@demo.test"]
    found = gathered(db, patient)
    held = [g for g in found.gates if g.verdict == "hold"]
    assert held, "the seed's latest session starts with a blood pressure hold"
    gate = held[-1]
    out = valid_bundle(found)
    not_done = [m for m in of_type(out, "MedicationAdministration") if m["status"] == "not-done"]
    assert len(not_done) == len(held)
    skipped = not_done[-1]
    (reason,) = skipped["statusReason"]
    assert reason["coding"] == [{
        "system": "https://trochelog.example/fhir/CodeSystem/gate-reason", "code": "bp_hold",
        "display": "Blood pressure hold"}]
    # Worded from the stored code and readings, in the export's language.
    assert gate.reasons[0]["code"] == "bp_hold" and "message" not in gate.reasons[0]
    assert reason["text"] == "Blood pressure 166/98 is at or above the hold limit of 160/100."
    assert skipped["dosage"]["dose"]["value"] == 150
    reading = by_url(out, skipped["supportingInformation"][0]["reference"])
    assert [c["valueQuantity"]["value"] for c in reading["component"]] == [166, 98]
    assert reading["category"][0]["coding"][0]["code"] == "vital-signs"
    assert "hold" in reading["note"][0]["text"]


def test_a_dose_taken_against_a_hold_is_completed_and_says_so(db, demo):
    patient = demo["patient@demo.test"]
    found = gathered(db, patient, days=60)
    overridden = next(d for d in found.doses if d.override_reason)
    gate = db.get(GateCheck, overridden.gate_id)
    assert gate.verdict == "hold"  # the sitter was late
    out = valid_bundle(found)
    dose = next(m for m in of_type(out, "MedicationAdministration")
                if m["id"] == str(overridden.id))
    assert dose["status"] == "completed"
    notes = " | ".join(n["text"] for n in dose["note"])
    assert "No sitter" in notes and overridden.override_reason in notes
    # The hold it was taken through is not also reported as a dose not given.
    held_ids = {m["supportingInformation"][0]["reference"]
                for m in of_type(out, "MedicationAdministration") if m["status"] == "not-done"}
    assert dose["supportingInformation"][0]["reference"] not in held_ids


def test_an_entered_in_error_dose_stays_marked(db, demo):
    patient = demo["patient@demo.test"]
    found = gathered(db, patient)
    not_done = [m for m in of_type(valid_bundle(found), "MedicationAdministration")
                if m["status"] == "not-done"]
    dose = found.doses[-1]
    corrections.mark_entered_in_error(
        db, patient=patient, author=patient, dose_id=dose.id, revision_id=uuid.uuid4(),
        reason="Logged twice from two phones.", now=NOW)
    db.flush()
    out = valid_bundle(gathered(db, patient))
    marked = next(m for m in of_type(out, "MedicationAdministration") if m["id"] == str(dose.id))
    assert marked["status"] == "entered-in-error"
    notes = [n["text"] for n in marked["note"]]
    assert notes[0] == "Entered in error: Logged twice from two phones."
    assert not any(n.startswith("Corrected") for n in notes)
    # The gate it was taken on was fine, so no "not given" appears in its place.
    assert [m for m in of_type(out, "MedicationAdministration")
            if m["status"] == "not-done"] == not_done


def test_a_correction_is_in_the_notes(db, demo):
    found = gathered(db, demo["patient@demo.test"], days=60)
    corrected = next(d for d in found.doses if found.revisions.get(d.id))
    out = valid_bundle(found)
    dose = next(m for m in of_type(out, "MedicationAdministration")
                if m["id"] == str(corrected.id))
    assert dose["dosage"]["dose"]["value"] == 100  # the corrected amount
    assert any(n["text"].startswith("Corrected ") and "crumbled" in n["text"]
               for n in dose["note"])
    # What changed, before and after: the bundle alone said only that it was corrected.
    assert any("(Amount: 150 mg → 100 mg)" in n["text"] for n in dose["note"])


def test_vital_signs_from_gates_and_check_ins_the_sitters_included(db, demo):
    found = gathered(db, demo["patient@demo.test"])
    out = valid_bundle(found)
    observations = of_type(out, "Observation")
    panels = coded(observations, "85354-9")
    with_bp = [c for c in found.checkins if "systolic" in c.values and "diastolic" in c.values]
    assert len(panels) == len(found.gates) + len(with_bp)
    for panel in panels:
        systolic, diastolic = panel["component"]
        assert systolic["code"]["coding"][0]["code"] == "8480-6"
        assert diastolic["code"]["coding"][0]["code"] == "8462-4"
        assert systolic["valueQuantity"]["code"] == "mm[Hg]"
        assert systolic["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    pulses = coded(observations, "8867-4")
    assert len(pulses) == len(found.gates) + sum("heart_rate" in c.values for c in found.checkins)
    assert {p["valueQuantity"]["code"] for p in pulses} == {"/min"}
    by_sitter = [p for p in panels if p["performer"] == [{"display": "Alex Reyes"}]]
    assert by_sitter and all("Alex Reyes" in p["note"][0]["text"] for p in by_sitter)


def test_questionnaires_scores_item_9_and_screener_risk(db, demo):
    # Jordan: weekly PHQ-9 and GAD-7, one PHQ-9 with item 9 = 1 and a low-risk screener.
    found = gathered(db, demo["patient@demo.test"], days=60)
    out = valid_bundle(found)
    observations = of_type(out, "Observation")
    surveys = [o for o in observations if o["category"][0]["coding"][0]["code"] == "survey"]
    phq = [q for q in found.questionnaires if q.instrument == "phq9"]
    totals = coded(surveys, "44261-6")
    assert [t["valueInteger"] for t in totals] == [q.score for q in phq] == [19, 17, 16, 13,
                                                                            11, 9]
    assert totals[0]["interpretation"] == [{"text": "Moderately severe"}]
    assert [o["valueInteger"] for o in coded(surveys, "44260-8")] == [0, 0, 1, 0, 0, 0]
    assert [o["valueInteger"] for o in coded(surveys, "70274-6")] == [14, 13, 11, 10, 8, 6]
    (low,) = coded(surveys, "93374-7")
    assert low["valueCodeableConcept"]["coding"] == [
        {"system": "http://loinc.org", "code": "LA9194-7", "display": "Low"}]
    responses = of_type(out, "QuestionnaireResponse")
    assert len(responses) == len(found.questionnaires)
    # Each Observation says which response it came from.
    assert all(by_url(out, o["derivedFrom"][0]["reference"])["resourceType"]
               == "QuestionnaireResponse" for o in surveys)

    # Sam: a high-risk screener (intent), each answered item under its own LOINC code.
    other = valid_bundle(gathered(db, demo["patient2@demo.test"]))
    surveys = of_type(other, "Observation")
    (high,) = coded(surveys, "93374-7")
    assert high["valueCodeableConcept"]["coding"][0]["code"] == "LA9193-9"
    answered = {c["code"]: o["valueBoolean"] for o in surveys if "valueBoolean" in o
                for c in o["code"]["coding"]}
    assert answered == {"93246-7": True, "93247-5": True, "93248-3": False, "93249-1": True,
                        "93250-9": False, "93267-3": False}
    assert len(high["derivedFrom"]) == 1 + len(answered)
    screener = next(r for r in of_type(other, "QuestionnaireResponse")
                    if r["id"] == high["derivedFrom"][0]["reference"].removeprefix("urn:uuid:"))
    first = screener["item"][0]
    assert first["linkId"] == "q1" and first["answer"] == [{"valueBoolean": True}]
    assert first["text"].startswith("Have you wished you were dead")
    phq = next(r for r in of_type(other, "QuestionnaireResponse")
               if r["item"][0]["linkId"] == "q1" and "valueCoding" in r["item"][0]["answer"][0])
    assert phq["item"][0]["answer"][0]["valueCoding"]["display"] == "More than half the days"


def _normalised(out: dict) -> str:
    """The Bundle as text, each UUID replaced by a placeholder in order of appearance."""
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    seen: dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        return seen.setdefault(match.group(0), f"uuid-{len(seen) + 1:04d}")

    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", placeholder,
                  text)


@pytest.mark.parametrize("email", ["patient@demo.test", "patient2@demo.test"])
def test_golden_bundle_of_the_demos_last_14_days(db, demo, email):
    """Set UPDATE_GOLDEN=1 to rewrite the file from the current output (then read the diff)."""
    text = _normalised(valid_bundle(gathered(db, demo[email])))
    path = GOLDEN / f"fhir_{email.split('@')[0]}_14d.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert len(text.encode()) < 100_000
    assert text == path.read_text(), f"{path.name} differs: UPDATE_GOLDEN=1 to regenerate"


def test_safety_events_are_detected_issues_with_their_review(db, demo):
    """FHIR carried no safety event: a receiving system got the high-risk screen's answers but
    not that it was raised, held dosing, and was reviewed (by whom, when, what was decided),
    which the PDF and the CSV both say. Each event is now a DetectedIssue."""
    from app.checkins.models import SafetyEvent

    lucia = demo["paciente@demo.test"]
    out = valid_bundle(gathered(db, lucia, days=14))
    [against] = [i for i in of_type(out, "DetectedIssue")
                 if i["code"]["coding"][0]["code"] == "dose_against_hold"]
    event = db.exec(select(SafetyEvent).where(SafetyEvent.patient_id == lucia.id,
                                              SafetyEvent.kind == "dose_against_hold")).one()
    assert against["id"] == str(event.id) and against["status"] == "final"
    assert against["severity"] == "high" and against["patient"]["reference"] == (
        f"urn:uuid:{lucia.id}")
    # The dose it was about, struck since: the administration says entered-in-error.
    [dose] = [m for m in of_type(out, "MedicationAdministration")
              if f"urn:uuid:{m['id']}" == against["implicated"][0]["reference"]]
    assert dose["status"] == "entered-in-error"
    [review] = against["mitigation"]
    assert review["author"] == {"display": "Dr. Amara Okafor"}
    assert review["action"]["text"].startswith("Reviewed by the prescriber: Called Lucía")
    assert review["date"] == fhir._Builder(gathered(db, lucia)).when(event.reviewed_at)

    sam = demo["patient2@demo.test"]
    issues = of_type(valid_bundle(gathered(db, sam, days=14)), "DetectedIssue")
    [screen] = [i for i in issues if i["code"]["coding"][0]["code"] == "positive_screen"]
    assert screen["detail"].endswith("dosing was on hold until a prescriber reviewed it")
    # An event not reviewed yet is preliminary, with no mitigation.
    [item9] = [i for i in issues if i["code"]["coding"][0]["code"] == "phq9_item9"]
    assert item9["status"] == "preliminary" and "mitigation" not in item9
    # Its screener found high risk: that is its severity, as its words say.
    assert item9["code"]["text"].endswith("risk high") and item9["severity"] == "high"


def test_an_alert_acknowledged_apart_from_a_review_is_a_mitigation(db, demo):
    """The bundle said who reviewed an event, not who answered its alert: Riley's unanswered
    screener, acknowledged by the prescriber who called him, before any review."""
    from app.alerts import service as alerts
    from app.db import utcnow

    riley, prescriber = demo["patient3@demo.test"], demo["prescriber@demo.test"]
    [alert] = alerts.open_for_patient(db, riley.id)
    alerts.acknowledge(db, user=prescriber, alert_id=alert.id,
                       note="Called Riley; he will answer the questions tonight.", now=utcnow())
    db.commit()
    issues = of_type(valid_bundle(gathered(db, riley, days=14)), "DetectedIssue")
    [item9] = [i for i in issues if i["code"]["coding"][0]["code"] == "phq9_item9"]
    assert item9["status"] == "preliminary"  # acknowledged is not reviewed
    [answered] = item9["mitigation"]
    assert answered["action"]["text"] == (
        "Alert acknowledged: Called Riley; he will answer the questions tonight.")
    assert answered["author"] == {"display": "Dr. Amara Okafor"}

    # Sam's screen: its alert was acknowledged by the review itself, said once.
    sam_issues = of_type(valid_bundle(gathered(db, demo["patient2@demo.test"], days=14)),
                         "DetectedIssue")
    [screen] = [i for i in sam_issues if i["code"]["coding"][0]["code"] == "positive_screen"]
    assert [m["action"]["text"].split(":")[0] for m in screen["mitigation"]] == [
        "Reviewed by the prescriber"]



def test_a_held_checks_alert_and_a_list_flags_review_are_detected_issues(db, demo):
    """The bundle had Jordan's held checks but not the alert each sent to Alex, nor that Alex
    answered the first, nor Dr. Okafor's review of its flag on the patient list: the PDF and
    the CSV list all three. Each is now a DetectedIssue pointing at the check."""
    jordan = demo["patient@demo.test"]
    out = valid_bundle(gathered(db, jordan, days=60))
    issues = of_type(out, "DetectedIssue")
    alert_system = "https://trochelog.example/fhir/CodeSystem/alert"
    flag_system = "https://trochelog.example/fhir/CodeSystem/list-flag"
    held = [i for i in issues if i["code"]["coding"][0]["system"] == alert_system]
    assert [(i["code"]["coding"][0]["code"], i["status"]) for i in held] == [
        ("bp_hold", "final"), ("bp_hold", "preliminary")]  # the latest is still open
    first, latest = held
    assert first["code"]["text"] == "Blood pressure hold before a dose"
    [answered] = first["mitigation"]
    assert answered["action"]["text"] == (
        "Alert acknowledged: Called Jordan: rested, rechecked at 132/84 and went ahead.")
    assert answered["author"] == {"display": "Alex Reyes"}
    assert "mitigation" not in latest
    # Each points at its check: the reading and the dose it did not lead to.
    for issue in held:
        pointed = [by_url(out, ref["reference"]) for ref in issue["implicated"]]
        assert [(r["resourceType"], r.get("status")) for r in pointed] == [
            ("Observation", "final"), ("MedicationAdministration", "not-done")]

    [review] = [i for i in issues if i["code"]["coding"][0]["system"] == flag_system]
    assert review["status"] == "final" and review["code"]["coding"][0]["code"] == "bp_hold"
    assert review["implicated"] == first["implicated"]  # the first hold, reviewed
    [reviewed] = review["mitigation"]
    assert reviewed["author"] == {"display": "Dr. Amara Okafor"}
    assert reviewed["action"]["text"].startswith("Reviewed by the prescriber: Alex rechecked")

    # An alert a safety event carries is on that event's issue, not an issue of its own.
    sam = valid_bundle(gathered(db, demo["patient2@demo.test"], days=60))
    assert not [i for i in of_type(sam, "DetectedIssue")
                if i["code"]["coding"][0]["system"] == alert_system]


def test_a_reviewed_flag_that_names_a_day_points_at_nothing(db, demo):
    """Missed sessions are keyed by a day, not a record: the review is in the bundle with no
    `implicated` (and the bundle stays valid)."""
    from app.clinic.models import FlagReview
    from tests.exports.demo import NOW

    sam, prescriber = demo["patient2@demo.test"], demo["prescriber@demo.test"]
    reviewed = FlagReview(patient_id=sam.id, code="missed_sessions", key="2026-11-20",
                          reviewed_at=NOW, reviewed_by_id=prescriber.id,
                          note="Sam was travelling; he is back on schedule.")
    db.add(reviewed)
    db.flush()
    [review] = [i for i in of_type(valid_bundle(gathered(db, sam)), "DetectedIssue")
                if i["id"] == str(reviewed.id)]
    assert review["code"]["text"] == "Missed sessions" and "implicated" not in review
    assert review["mitigation"][0]["action"]["text"] == (
        "Reviewed by the prescriber: Sam was travelling; he is back on schedule.")
